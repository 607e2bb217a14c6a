// Shared viewing transport: the presenter publishes its view, followers receive it.
//
// Today: HTTP on the same origin (the session cookie goes with it). publish() POSTs the
// newest view (at most one request in flight, the latest state wins); subscribe() long-polls
// GET ?after=<version>, which the server answers as soon as a newer view exists. A push
// channel (websocket) can replace this class without touching the viewer: same three methods.

export class SyncChannel {
  constructor(url, caseId) {
    this.url = url;
    this.caseId = caseId;
    this.pending = null;
    this.sending = false;
    this.version = 0;
    this.listening = false;
    this.closed = false;
  }

  publish(state) {
    if (this.closed) return;
    this.pending = state;
    if (!this.sending) this.flush();
  }

  async flush() {
    this.sending = true;
    while (this.pending && !this.closed) {
      const body = JSON.stringify({ case_id: this.caseId, state: this.pending, sent_at: Date.now() });
      this.pending = null;
      try {
        const response = await fetch(this.url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "content-type": "application/json" },
          body,
        });
        if (!response.ok) window.__rcpViewer.syncError = response.status;
      } catch (_) {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.sending = false;
  }

  subscribe(onState) {
    this.listening = true;
    this.onState = onState;
    this.version = 0; // the current view first, then every change
    if (!this.loop) this.loop = this.poll();
  }

  unsubscribe() {
    this.listening = false;
  }

  close() {
    this.closed = true;
    this.listening = false;
    if (this.controller) this.controller.abort();
  }

  async poll() {
    while (!this.closed) {
      if (!this.listening) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.controller = new AbortController();
      try {
        const response = await fetch(`${this.url}?after=${this.version}`, {
          credentials: "same-origin",
          signal: this.controller.signal,
        });
        if (response.status === 200) {
          const data = await response.json();
          this.version = data.version;
          if (this.listening && data.state) {
            await this.onState(data.state);
            window.__rcpViewer.lastLatencyMs = Date.now() - (data.sent_at || Date.now());
          }
        } else if (response.status !== 204) {
          await new Promise((r) => setTimeout(r, 2000));
        }
      } catch (_) {
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.loop = null;
  }
}
