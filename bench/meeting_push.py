"""Meeting pages pushed, not polled: message latency to 30 participants, cost of an idle page.

Run by hand (it starts its own server, SQLite, and headless Chromium):

    .venv/bin/python bench/meeting_push.py       # 30 listeners, 20 messages, 10 idle pages
    .venv/bin/python bench/meeting_push.py --listeners 5 --messages 3 --idle-pages 2 --idle-s 20

A running meeting with a coordinator and ``--listeners`` confirmed participants (signed in by
the bench, session cookies). Part 1, latency: every participant opens the meeting's event stream
(``/events/meeting/<id>``, what each open meeting page listens to) from an asyncio client in
this process; the coordinator, in a real browser, types ``--messages`` chat messages on the
meeting page; for each message the bench records when every listener got its ``change`` event
(from the click on the chat's send), and when the message text appeared in ``--viewers`` real
participant pages (the fragment rerun included). Part 2, idle cost: ``--idle-pages`` real
meeting pages stay open with nothing happening for ``--idle-s``; the server's CPU time over
that window, per page and minute (issue 21 item 6's goal: ≤ 0.05 CPU-s; polling every 2 s cost
0.74).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.room_load import ENV, Server, _cpu_seconds  # noqa: E402 - same server and data
from tests.e2e.conftest import launch  # noqa: E402

GOAL_P95_S = 1.0
GOAL_IDLE_CPU_S_PER_MIN = 0.05


def _name(i: int) -> str:
    """A last name for participant ``i`` (names take letters only)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return "Participant" + letters[i // 26] + letters[i % 26]


def _prepare(listeners: int) -> tuple[int, str, list[str]]:
    """A live meeting: the coordinator's token and ``listeners`` confirmed doctors' tokens."""
    from sqlmodel import Session

    from rcp.db import make_engine, upgrade
    from tests.factories import (
        make_confirmed,
        make_coordinator,
        make_meeting,
        make_rcp,
        mobile,
        sign_in,
        start_now,
    )

    engine = make_engine()
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(90), last_name="Coord")
        meeting = make_meeting(session, rcp, coordinator)
        doctors = [
            make_confirmed(
                session,
                meeting,
                coordinator,
                phone=mobile(100 + i),
                last_name="Participant" + "abcdefghijklmnopqrstuvwxyzabcdefghij"[i] * 2,
            )
            for i in range(listeners)
        ]
        start_now(session, meeting, started_minutes_ago=5)
        result = meeting.id, sign_in(session, coordinator), [sign_in(session, d) for d in doctors]
    engine.dispose()
    return result


class Listeners:
    """``tokens`` event streams in one asyncio loop (a thread); every change event timestamped."""

    def __init__(self, url: str, meeting_id: int, tokens: list[str]) -> None:
        self.url, self.meeting_id, self.tokens = url, meeting_id, tokens
        self.changes: list[list[float]] = [[] for _ in tokens]
        self.ready = threading.Event()
        self._connected = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),))
        self._thread.daemon = True
        self._thread.start()

    async def _one(self, client, index: int, token: str) -> None:
        path = f"{self.url}/events/meeting/{self.meeting_id}"
        async with client.stream("GET", path, cookies={"rcp_session": token}) as response:
            async for line in response.aiter_lines():
                if line == "event: ready":
                    self._connected += 1
                    if self._connected == len(self.tokens):
                        self.ready.set()
                elif line == "event: change":
                    self.changes[index].append(time.time())

    async def _main(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=None) as client:
            try:
                await asyncio.gather(*(self._one(client, i, t) for i, t in enumerate(self.tokens)))
            except asyncio.CancelledError:
                pass  # stop()

    def stop(self) -> None:
        for task in asyncio.all_tasks(self._loop):
            self._loop.call_soon_threadsafe(task.cancel)


def _page(browser, url: str, token: str, meeting_id: int):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "rcp_session", "value": token, "url": url}])
    page = context.new_page()
    page.goto(f"{url}/seance?id={meeting_id}")
    page.get_by_text("Messagerie instantanée").wait_for(timeout=60_000)
    return context, page


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=30)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=3, help="real pages checking the text")
    parser.add_argument("--idle-pages", type=int, default=10)
    parser.add_argument("--idle-s", type=float, default=120.0)
    parser.add_argument(
        "--baseline-s", type=float, default=30.0, help="server CPU with no page open, first"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    meeting_id, coordinator_token, tokens = _prepare(max(args.listeners, args.idle_pages))
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}")
    print(f"data: {ENV['RCP_DATA_DIR']}")
    server = Server("app.py")
    try:
        time.sleep(5)
        cpu0, t0 = _cpu_seconds(server.proc.pid), time.monotonic()
        time.sleep(args.baseline_s)
        base = (_cpu_seconds(server.proc.pid) - cpu0) / ((time.monotonic() - t0) / 60)
        print(f"server with no page open: {base:.3f} CPU-s per minute")
        with sync_playwright() as pw:
            browser = launch(pw)
            listeners = Listeners(server.url, meeting_id, tokens[: args.listeners])
            assert listeners.ready.wait(60), "the event streams did not all open"
            viewers = [_page(browser, server.url, t, meeting_id) for t in tokens[: args.viewers]]
            _, coordinator = _page(browser, server.url, coordinator_token, meeting_id)
            event_lat: list[float] = []  # per message and listener
            worst: list[float] = []  # per message: the last listener
            shown: list[float] = []  # per message and viewer page: text visible
            box = coordinator.get_by_placeholder("Écrire un message aux participants")
            for i in range(args.messages):
                text = f"Message de mesure numéro {i} {time.time():.0f}"
                before = [len(c) for c in listeners.changes]
                box.fill(text)
                sent = time.time()
                box.press("Enter")
                deadline = time.monotonic() + 15
                pending = list(range(len(viewers)))
                while time.monotonic() < deadline:
                    done = all(len(c) > b for c, b in zip(listeners.changes, before, strict=True))
                    for v in list(pending):
                        if viewers[v][1].get_by_text(text).count():
                            shown.append(time.time() - sent)
                            pending.remove(v)
                    if done and not pending:
                        break
                    time.sleep(0.02)
                lat = [
                    c[b] - sent
                    for c, b in zip(listeners.changes, before, strict=True)
                    if len(c) > b
                ]
                missing = len(before) - len(lat)
                event_lat += lat
                worst.append(max(lat) if lat else float("inf"))
                print(
                    f"message {i + 1}: events to {len(lat)}/{len(before)} listeners, last after "
                    f"{worst[-1]:.2f} s; shown in {len(viewers) - len(pending)}/{len(viewers)} "
                    f"pages" + (f"; {missing} MISSING" if missing else ""),
                    flush=True,
                )
                time.sleep(0.5)
            listeners.stop()
            for context, _ in viewers:
                context.close()
            print(
                f"\nchange event at each of {args.listeners} listeners: median "
                f"{statistics.median(event_lat):.3f} s, p95 {_pct(event_lat, 0.95):.3f} s, max "
                f"{max(event_lat):.3f} s (goal p95 ≤ {GOAL_P95_S} s)"
            )
            if shown:
                print(
                    f"message text visible in {args.viewers} real pages: median "
                    f"{statistics.median(shown):.3f} s, p95 {_pct(shown, 0.95):.3f} s, max "
                    f"{max(shown):.3f} s"
                )
            idle = [_page(browser, server.url, t, meeting_id) for t in tokens[: args.idle_pages]]
            time.sleep(5)  # every page drawn and listening
            cpu0, t0 = _cpu_seconds(server.proc.pid), time.monotonic()
            time.sleep(args.idle_s)
            cpu1, t1 = _cpu_seconds(server.proc.pid), time.monotonic()
            per_page = ((cpu1 - cpu0) / ((t1 - t0) / 60) - base) / (args.idle_pages + 1)
            print(
                f"idle: {args.idle_pages} open meeting pages (and the coordinator's) over "
                f"{t1 - t0:.0f} s: server {(cpu1 - cpu0):.2f} CPU-s; above the empty server, "
                f"{per_page:.3f} CPU-s per page and minute (goal ≤ {GOAL_IDLE_CPU_S_PER_MIN})"
            )
            for context, _ in idle:
                context.close()
            browser.close()
    finally:
        server.stop()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
