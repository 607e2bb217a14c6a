"""The meeting's instant messaging ("Messagerie instantanée"), stored in the database.

Who: confirmed participants and the RCP's coordinators (see :mod:`rcp.meeting_live`).
When: posting only while the room is open (from ``room_open_minutes_before`` before the start
until the meeting is closed, see :func:`rcp.meeting_live.phase`); reading at any time, so that
what was said stays available after the meeting. Messages live in ``ChatMessage`` and never in
process memory: several app replicas share them. The audit trail records that a message was
posted and its length, never its text (it may hold patient data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from rcp import audit
from rcp.config import get_settings
from rcp.errors import InvalidInput, RateLimited
from rcp.i18n import _
from rcp.meeting_live import access, require_live
from rcp.models import ChatMessage, User, utcnow
from rcp.validation import clean_text

MAX_LENGTH = 2000
DEFAULT_LIMIT = 200
POLL_MAX_CHARS = 64_000
"""Most message text one poll (``list_messages`` with ``after_id``) returns: a poller that
fell behind gets the rest at its next polls, in order."""
RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class ChatLine:
    """One message as the page shows it (plain values, safe to keep in session_state)."""

    id: int
    author_id: int
    author_name: str
    body: str
    created_at: datetime


def post_message(session: Session, *, actor: User, meeting_id: int, body: str) -> ChatMessage:
    """Post a message in the meeting's chat while its room is open."""
    room = access(session, actor=actor, meeting_id=meeting_id)
    require_live(room.meeting)
    text = clean_text(body, label=_("Message"), field="body", max_length=MAX_LENGTH, multiline=True)
    if not text:
        raise InvalidInput(_("Le message est vide."), field="body")
    limit = get_settings().chat_max_per_minute
    # The author's limit-th latest message in this meeting: within the last minute, too many.
    # (Newest first, stopping after `limit` of them: cheap however long the chat.)
    oldest_of_recent = session.exec(
        select(ChatMessage.created_at)
        .where(ChatMessage.meeting_id == room.meeting.id, ChatMessage.author_id == actor.id)
        .order_by(col(ChatMessage.id).desc())
        .offset(limit - 1)
        .limit(1)
    ).first()
    if oldest_of_recent is not None and oldest_of_recent >= utcnow() - RATE_WINDOW:
        raise RateLimited(
            _(
                "Vous avez envoyé {limit} messages en une minute : attendez "
                "quelques secondes avant d'en envoyer un autre."
            ).format(limit=limit)
        )
    message = ChatMessage(meeting_id=room.meeting.id, author_id=actor.id, body=text)  # type: ignore[arg-type]
    session.add(message)
    session.flush()
    audit.record(
        session,
        "chat.posted",
        actor_id=actor.id,
        target_type="chatmessage",
        target_id=message.id,
        meeting_id=room.meeting.id,
        length=len(text),
    )
    session.commit()
    return message


def list_messages(
    session: Session,
    *,
    actor: User,
    meeting_id: int,
    after_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
    max_chars: int = POLL_MAX_CHARS,
) -> list[ChatLine]:
    """Messages oldest first: the latest ``limit`` ones, or those after ``after_id``.

    With ``after_id`` the oldest ``limit`` messages after it come back, at most ``max_chars``
    of text (and at least one message), so a poller that fell behind catches up in order by
    calling again with the last id it got; without it, the latest ones within ``max_chars``.
    """
    room = access(session, actor=actor, meeting_id=meeting_id)
    limit = max(1, min(limit, 1000))
    query = (
        select(ChatMessage, User)
        .join(User, col(User.id) == ChatMessage.author_id)
        .where(ChatMessage.meeting_id == room.meeting.id)
    )
    if after_id is not None:
        query = query.where(col(ChatMessage.id) > after_id).order_by(col(ChatMessage.id))
        rows = list(session.exec(query.limit(limit)).all())
    else:
        query = query.order_by(col(ChatMessage.id).desc())
        rows = list(reversed(session.exec(query.limit(limit)).all()))
    kept: list[tuple[ChatMessage, User]] = []
    total = 0
    # The budget keeps the oldest of a catch-up (in order), or the newest of a first load.
    for m, u in rows if after_id is not None else reversed(rows):
        if kept and total + len(m.body) > max_chars:
            break
        kept.append((m, u))
        total += len(m.body)
    if after_id is None:
        kept.reverse()
    return [
        ChatLine(
            id=m.id,  # type: ignore[arg-type]
            author_id=m.author_id,
            author_name=u.display_name,
            body=m.body,
            created_at=m.created_at,
        )
        for m, u in kept
    ]
