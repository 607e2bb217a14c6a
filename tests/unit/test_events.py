"""Meeting changes are published on commit (broker in-process; NOTIFY on PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from sqlmodel import Session

from rcp import attendance, chat, events, meeting_live
from rcp.models import Attendance
from tests.factories import make_case_team

PG_URL = os.environ.get("RCP_TEST_DATABASE_URL", "")


class Heard:
    """Subscribe to the broker on a loop of its own (as the SSE routes do) and collect."""

    def __init__(self, meeting_id: int) -> None:
        self.meeting_id = meeting_id
        self.numbers: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def collect() -> None:
            self._queue = events.broker().subscribe(self.meeting_id)
            self._ready.set()
            while True:
                self.numbers.append(await self._queue.get())

        self._task = self._loop.create_task(collect())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass

    def count(self, *, settle: float = 0.2) -> int:
        threading.Event().wait(settle)
        return len(self.numbers)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(5)
        events.broker().unsubscribe(self.meeting_id, self._queue)


@pytest.fixture
def team(session: Session):
    return make_case_team(session)


@pytest.fixture
def heard(team):
    listener = Heard(team.meeting.id)
    yield listener
    listener.close()


def _sqlite_only(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("on PostgreSQL the change travels by NOTIFY (test below)")


def test_a_chat_message_is_published_to_its_meeting(session: Session, team, heard) -> None:
    _sqlite_only(session)
    chat.post_message(session, actor=team.assistant, meeting_id=team.meeting.id, body="Bonjour")
    assert heard.count() == 1


def test_hands_current_case_and_room_joins_are_published(session: Session, team, heard) -> None:
    _sqlite_only(session)
    meeting_id = team.meeting.id
    meeting_live.raise_hand(session, actor=team.nephrologist, meeting_id=meeting_id)
    meeting_live.set_current_case(
        session, actor=team.assistant, meeting_id=meeting_id, case_id=team.case.id
    )
    attendance.record_join(session, actor=team.pathologist, meeting_id=meeting_id)
    assert heard.count() == 3


def test_a_room_heartbeat_publishes_nothing_but_a_leave_does(session: Session, team, heard) -> None:
    """Every participant's room touches its stay every 20 s: nobody sees that, so no page
    refreshes; the leave changes who is present, so it is published."""
    _sqlite_only(session)
    meeting_id = team.meeting.id
    attendance.record_join(session, actor=team.pathologist, meeting_id=meeting_id)
    assert heard.count() == 1
    assert attendance.heartbeat(session, actor=team.pathologist, meeting_id=meeting_id)
    assert heard.count() == 1
    attendance.record_leave(session, actor=team.pathologist, meeting_id=meeting_id)
    assert heard.count() == 2


def test_nothing_is_published_for_a_rolled_back_change(session: Session, team, heard) -> None:
    _sqlite_only(session)
    session.add(Attendance(meeting_id=team.meeting.id, user_id=team.pathologist.id))
    session.flush()
    session.rollback()
    assert heard.count() == 0


def test_another_meetings_pages_hear_nothing(session: Session, team) -> None:
    _sqlite_only(session)
    other = Heard(team.meeting.id + 1000)
    try:
        chat.post_message(session, actor=team.assistant, meeting_id=team.meeting.id, body="x")
        assert other.count() == 0
    finally:
        other.close()


@pytest.mark.pg
@pytest.mark.skipif(not PG_URL, reason="RCP_TEST_DATABASE_URL is not set")
def test_on_postgresql_a_change_reaches_every_listening_process(session: Session, team) -> None:
    """The commit NOTIFYs; a LISTEN connection (another replica) hands it to its broker."""
    heard = Heard(team.meeting.id)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    listening = threading.Thread(
        target=lambda: loop.run_until_complete(
            asyncio.wait_for(events.listen_postgres(PG_URL, stop=stop), 30)
        ),
        daemon=True,
    )
    try:
        listening.start()
        threading.Event().wait(1.5)  # LISTEN is set up
        chat.post_message(session, actor=team.assistant, meeting_id=team.meeting.id, body="x")
        for _ in range(50):
            if heard.numbers:
                break
            threading.Event().wait(0.1)
        assert heard.numbers, "the NOTIFY never reached the broker"
    finally:
        loop.call_soon_threadsafe(stop.set)
        listening.join(10)
        heard.close()
