"""The meeting chat is rate-limited per participant and its polls are bounded (issue 14.10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from rcp import chat
from rcp.errors import RateLimited
from rcp.models import ChatMessage, utcnow
from rcp.ui.chat_panel import visible_lines
from tests.unit.test_chat import room  # noqa: F401 - the fixture

LONG = "Compte rendu détaillé de la biopsie, " * 50  # ~1.9 kB, the review's messages


def test_a_participant_is_stopped_after_twenty_messages_a_minute(
    session: Session,
    room: dict,  # noqa: F811
) -> None:
    meeting, participant = room["meeting"], room["participant"]
    for n in range(20):
        chat.post_message(session, actor=participant, meeting_id=meeting.id, body=f"Message {n}")
    with pytest.raises(RateLimited) as refused:
        chat.post_message(session, actor=participant, meeting_id=meeting.id, body="Encore un")
    assert "20 messages en une minute" in str(refused.value)
    # The others still speak.
    chat.post_message(session, actor=room["coordinator"], meeting_id=meeting.id, body="Merci.")
    # A minute later (the messages are older), the participant speaks again.
    for message in session.exec(
        select(ChatMessage).where(ChatMessage.author_id == participant.id)
    ).all():
        message.created_at = utcnow() - timedelta(seconds=61)
        session.add(message)
    session.commit()
    chat.post_message(session, actor=participant, meeting_id=meeting.id, body="Me revoilà.")


def test_a_poll_returns_at_most_its_budget_and_the_rest_comes_at_the_next(
    session: Session,
    room: dict,  # noqa: F811
) -> None:
    meeting = room["meeting"]
    for author in ("participant", "coordinator"):
        for n in range(15):
            chat.post_message(
                session, actor=room[author], meeting_id=meeting.id, body=f"{n} {LONG}"
            )
    got, after = [], 0
    for _ in range(10):
        page = chat.list_messages(
            session, actor=room["participant"], meeting_id=meeting.id, after_id=after
        )
        if not page:
            break
        assert sum(len(line.body) for line in page) <= chat.POLL_MAX_CHARS
        got += page
        after = page[-1].id
    assert [line.id for line in got] == sorted(line.id for line in got) and len(got) == 30
    latest = chat.list_messages(session, actor=room["participant"], meeting_id=meeting.id)
    assert sum(len(line.body) for line in latest) <= chat.POLL_MAX_CHARS
    assert latest[-1].id == got[-1].id  # the first load shows the newest


def test_the_page_sends_only_the_newest_messages_within_its_budget(
    session: Session,
    room: dict,  # noqa: F811
) -> None:
    meeting = room["meeting"]
    for _ in range(20):
        chat.post_message(session, actor=room["participant"], meeting_id=meeting.id, body=LONG)
    lines = chat.list_messages(
        session, actor=room["participant"], meeting_id=meeting.id, max_chars=10**9
    )
    shown = visible_lines(lines, max_chars=10_000)
    assert shown == lines[-len(shown) :] and 1 <= len(shown) < len(lines)
    assert sum(len(line.body) for line in shown) <= 10_000
