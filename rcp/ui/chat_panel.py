"""The meeting page's "Messagerie instantanée": a buffer of lines kept up to date by polling.

Call :func:`render` from inside a ``st.fragment(run_every=...)``: each run asks the database for
the messages after the last *settled* id. Ids are not always committed in order on PostgreSQL
(two concurrent inserts may commit in the reverse order of their sequence numbers), so lines
younger than ``SETTLE`` are asked for again until they are old enough for every earlier id to
be committed; a set of seen ids keeps them from being shown twice. Every markdown character of
what users typed is escaped, so a message shows as typed: no link, emphasis, HTML or entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import streamlit as st

from rcp import chat
from rcp.dates import to_paris
from rcp.errors import RcpError
from rcp.i18n import _, ngettext
from rcp.models import User, utcnow
from rcp.ui import keys
from rcp.ui.context import db, show_error
from rcp.ui.text import escape_markdown

SETTLE = timedelta(seconds=15)
KEEP = 500  # lines kept in the browser session; older ones stay in the database
DISPLAY_MAX_CHARS = 40_000  # message text re-sent to the browser at each poll, at most


@dataclass
class ChatBuffer:
    """The lines this browser session has shown for one meeting (plain values)."""

    meeting_id: int
    lines: list[chat.ChatLine] = field(default_factory=list)
    watermark: int | None = None  # every message with an id <= watermark is in `lines`

    def merge(self, new: list[chat.ChatLine]) -> int:
        """Add unseen lines, move the watermark past settled ones; returns how many were new."""
        seen = {line.id for line in self.lines}
        added = [line for line in new if line.id not in seen]
        self.lines = sorted(self.lines + added, key=lambda line: line.id)[-KEEP:]
        settled_before = utcnow() - SETTLE
        settled = [line.id for line in self.lines if line.created_at <= settled_before]
        if settled:
            self.watermark = max(settled + [self.watermark or 0])
        elif self.watermark is None:
            # First load, nothing old enough yet: ask again for everything we got.
            self.watermark = (self.lines[0].id - 1) if self.lines else 0
        return len(added)


def _buffer(meeting_id: int) -> ChatBuffer:
    buffer = st.session_state.get(keys.SEANCE_CHAT)
    if not isinstance(buffer, ChatBuffer) or buffer.meeting_id != meeting_id:
        buffer = st.session_state[keys.SEANCE_CHAT] = ChatBuffer(meeting_id=meeting_id)
    return buffer


def refresh(user: User, meeting_id: int, *, last_id: int | None = None) -> ChatBuffer:
    """Fetch what is new since the last poll (the latest messages on the first call).

    ``last_id`` is the meeting's newest message id (0: none) if the caller already knows it
    (from ``LiveState``): when every message up to it is settled in the buffer, no query.
    """
    buffer = _buffer(meeting_id)
    if last_id is not None and buffer.watermark is not None and buffer.watermark >= last_id:
        return buffer
    with db() as session:
        new = chat.list_messages(
            session, actor=user, meeting_id=meeting_id, after_id=buffer.watermark
        )
    buffer.merge(new)
    return buffer


def _literal(text: str) -> str:
    """Markdown that displays ``text`` exactly as typed (no link, emphasis, HTML or entity)."""
    return escape_markdown(text).replace("&", "\\&")


def _line(line: chat.ChatLine, me: int | None) -> None:
    # One element per message: every element is re-sent on each poll, so fewer is cheaper.
    author = _("Vous") if line.author_id == me else line.author_name
    st.markdown(  # i18n: exempt (markup around a name, a time and a message)
        f"**{_literal(author)}** :gray[· {to_paris(line.created_at):%H:%M}]  \n"
        f"{_literal(line.body)}"
    )


def render(
    user: User, meeting_id: int, *, can_post: bool, last_id: int | None = None, height: int = 420
) -> None:
    """The message list (newest at the bottom) and, while the room is open, the input below."""
    messages = st.container(height=height, autoscroll=True, key="seance_chat_messages")
    body = None
    if can_post:
        body = st.chat_input(
            _("Écrire un message aux participants"), key="seance_chat_input", max_chars=2000
        )
        if body:
            try:
                with db() as session:
                    chat.post_message(
                        session, actor=session.merge(user), meeting_id=meeting_id, body=body
                    )
            except RcpError as error:
                show_error(error)
    buffer = refresh(user, meeting_id, last_id=None if body else last_id)
    shown = visible_lines(buffer.lines)
    with messages:
        if not buffer.lines:
            st.caption(_("Aucun message pour l'instant."))
        elif len(shown) < len(buffer.lines):
            hidden = len(buffer.lines) - len(shown)
            st.caption(
                ngettext(
                    "{count} message(s) plus ancien(s) non affiché(s) ici ; ils restent "
                    "enregistrés avec la séance.",
                    "{count} message(s) plus ancien(s) non affiché(s) ici ; ils restent "
                    "enregistrés avec la séance.",
                    hidden,
                ).format(count=hidden)
            )
        for line in shown:
            _line(line, user.id)


def visible_lines(
    lines: list[chat.ChatLine], *, max_chars: int = DISPLAY_MAX_CHARS
) -> list[chat.ChatLine]:
    """The newest lines whose text fits in ``max_chars`` (at least one): what the page sends
    to the browser at every poll stays bounded however long the meeting's chat."""
    kept: list[chat.ChatLine] = []
    total = 0
    for line in reversed(lines):
        if kept and total + len(line.body) > max_chars:
            break
        kept.append(line)
        total += len(line.body)
    kept.reverse()
    return kept
