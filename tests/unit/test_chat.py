"""The meeting's chat: who may post and read, when, what is stored, and no message lost."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, func, select

from rcp import chat, meeting_live, meetings
from rcp import db as rcp_db
from rcp.db import make_engine
from rcp.errors import Conflict, InvalidInput, PermissionDenied
from rcp.models import AuditEvent, ChatMessage, MeetingStatus, Rcp, User
from tests.conftest import set_settings
from tests.factories import (
    make_admin,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_rcp,
    make_user,
    mobile,
    start_now,
)


@pytest.fixture
def room(session: Session) -> dict:
    """A running meeting and one actor of each kind."""
    rcp = make_rcp(session)
    other_rcp = make_rcp(session, name="Néphropathie à IgA")
    coordinator = make_coordinator(session, rcp, phone=mobile(11))
    meeting = make_meeting(session, rcp, coordinator)
    participant = make_confirmed(session, meeting, coordinator, phone=mobile(12))
    invited = make_user(session, phone=mobile(13))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    requester = make_user(session, phone=mobile(14))
    meetings.request_participation(session, actor=requester, meeting_id=meeting.id)
    start_now(session, meeting)
    return {
        "meeting": meeting,
        "coordinator": coordinator,
        "participant": participant,
        "invited": invited,
        "requester": requester,
        "stranger": make_user(session, phone=mobile(15)),
        "other_coordinator": make_coordinator(session, other_rcp, phone=mobile(16)),
        "admin": make_admin(session),
        "pending": make_user(session, active=False, phone=mobile(17)),
    }


OUTSIDERS = ["invited", "requester", "stranger", "other_coordinator", "admin", "pending"]


def _post(session: Session, room: dict, who: str, body: str) -> ChatMessage:
    return chat.post_message(session, actor=room[who], meeting_id=room["meeting"].id, body=body)


def test_participant_and_coordinator_post_and_read_each_other(session: Session, room) -> None:
    _post(session, room, "participant", "Bonjour à tous")
    _post(session, room, "coordinator", "Bienvenue, nous commençons")
    lines = chat.list_messages(session, actor=room["participant"], meeting_id=room["meeting"].id)
    assert [(line.author_id, line.body) for line in lines] == [
        (room["participant"].id, "Bonjour à tous"),
        (room["coordinator"].id, "Bienvenue, nous commençons"),
    ]
    assert lines[0].author_name == room["participant"].display_name
    assert lines[0].created_at.tzinfo is not None


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_can_neither_post_nor_read(session: Session, room, who: str) -> None:
    _post(session, room, "participant", "Confidentiel")
    with pytest.raises(PermissionDenied):
        _post(session, room, who, "Je m'invite")
    with pytest.raises(PermissionDenied):
        chat.list_messages(session, actor=room[who], meeting_id=room["meeting"].id)
    assert session.exec(select(func.count()).select_from(ChatMessage)).one() == 1


def test_posting_is_refused_before_the_room_opens(session: Session, room) -> None:
    meeting = room["meeting"]
    meeting.starts_at = meeting.starts_at + dt.timedelta(hours=1)
    meeting.ends_at = meeting.starts_at + dt.timedelta(hours=2)
    session.add(meeting)
    session.commit()
    with pytest.raises(Conflict, match="pas encore ouverte"):
        _post(session, room, "participant", "Trop tôt")


def test_posting_opens_fifteen_minutes_before_the_start(session: Session, room) -> None:
    meeting = room["meeting"]
    meeting.starts_at = meeting_live.utcnow() + dt.timedelta(minutes=14)
    meeting.ends_at = meeting.starts_at + dt.timedelta(hours=2)
    session.add(meeting)
    session.commit()
    assert _post(session, room, "participant", "Je suis en avance").id


def test_after_the_close_posting_is_refused_but_history_stays_readable(
    session: Session, room
) -> None:
    _post(session, room, "participant", "Merci pour la discussion")
    meeting_live.close_meeting(session, actor=room["coordinator"], meeting_id=room["meeting"].id)
    with pytest.raises(Conflict, match="terminée"):
        _post(session, room, "participant", "Encore un mot")
    lines = chat.list_messages(session, actor=room["participant"], meeting_id=room["meeting"].id)
    assert [line.body for line in lines] == ["Merci pour la discussion"]


def test_posting_is_refused_in_a_cancelled_meeting(session: Session, room) -> None:
    room["meeting"].status = MeetingStatus.cancelled
    session.add(room["meeting"])
    session.commit()
    with pytest.raises(Conflict, match="annulée"):
        _post(session, room, "coordinator", "Bonjour")


def test_body_is_cleaned_and_keeps_its_lines(session: Session, room) -> None:
    message = _post(session, room, "participant", "  Ligne 1\x07\r\nLigne 2\u202e  \n\n ")
    assert message.body == "Ligne 1\nLigne 2"


@pytest.mark.parametrize("body", ["", "   ", "\n\n\t", "\x00\x07"])
def test_empty_message_is_refused(session: Session, room, body: str) -> None:
    with pytest.raises(InvalidInput, match="vide"):
        _post(session, room, "participant", body)


def test_message_longer_than_2000_characters_is_refused(session: Session, room) -> None:
    assert len(_post(session, room, "participant", "a" * 2000).body) == 2000
    with pytest.raises(InvalidInput, match="trop long"):
        _post(session, room, "participant", "a" * 2001)


def test_markup_is_stored_as_typed(session: Session, room) -> None:
    body = "<script>alert(1)</script> [lien](javascript:alert(2)) **gras**"
    assert _post(session, room, "participant", body).body == body


def test_audit_records_the_post_but_never_its_text(session: Session, room) -> None:
    message = _post(session, room, "participant", "Patiente Dupont, créatinine 250")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "chat.posted")).one()
    assert event.target_id == message.id and event.actor_id == room["participant"].id
    assert event.details == {"meeting_id": room["meeting"].id, "length": len(message.body)}
    assert "Dupont" not in str(event.details)


def test_after_id_returns_only_newer_messages_in_order(session: Session, room) -> None:
    ids = [_post(session, room, "participant", f"m{i}").id for i in range(5)]
    lines = chat.list_messages(
        session, actor=room["coordinator"], meeting_id=room["meeting"].id, after_id=ids[1]
    )
    assert [line.body for line in lines] == ["m2", "m3", "m4"]
    again = chat.list_messages(
        session, actor=room["coordinator"], meeting_id=room["meeting"].id, after_id=ids[-1]
    )
    assert again == []


def test_without_after_id_the_latest_messages_come_oldest_first(session: Session, room) -> None:
    for i in range(7):
        _post(session, room, "participant", f"m{i}")
    lines = chat.list_messages(
        session, actor=room["participant"], meeting_id=room["meeting"].id, limit=3
    )
    assert [line.body for line in lines] == ["m4", "m5", "m6"]


def test_messages_of_another_meeting_are_not_listed(session: Session, room) -> None:
    rcp = session.get(Rcp, room["meeting"].rcp_id)
    other = make_meeting(session, rcp, room["coordinator"], days_ahead=20)
    session.add(ChatMessage(meeting_id=other.id, author_id=room["coordinator"].id, body="ailleurs"))
    session.commit()
    _post(session, room, "participant", "ici")
    lines = chat.list_messages(session, actor=room["participant"], meeting_id=room["meeting"].id)
    assert [line.body for line in lines] == ["ici"]


def test_ten_concurrent_writers_on_a_sqlite_file_lose_no_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10 threads × 100 posts, each through its own database session, on a WAL SQLite file."""
    set_settings(monkeypatch, chat_max_per_minute=1000)  # a storage test, not a rate test
    # A storage test, not a timing one: SQLite's busy handler is no queue, and on a loaded
    # machine one of ten threads posting without pause waited past the 10 s production
    # timeout ("database is locked", twice in a day of parallel runs at load 8). What is
    # checked is that no message is lost or misordered once every writer got its turn.
    monkeypatch.setattr(rcp_db, "SQLITE_BUSY_TIMEOUT_MS", 300_000)
    engine = make_engine(f"sqlite:///{tmp_path / 'chat.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(20))
        meeting = make_meeting(session, rcp, coordinator)
        writers = [
            make_confirmed(session, meeting, coordinator, phone=mobile(21 + i)) for i in range(10)
        ]
        start_now(session, meeting)
        writer_ids = [w.id for w in writers]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(writer_ids))

    def write(user_id: int) -> None:
        try:
            barrier.wait()
            for n in range(100):
                with Session(engine, expire_on_commit=False) as s:
                    actor = s.get(User, user_id)
                    chat.post_message(s, actor=actor, meeting_id=meeting.id, body=f"{user_id}:{n}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(uid,)) for uid in writer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        bodies = session.exec(select(ChatMessage.body)).all()
        reader = session.get(User, writer_ids[0])
        listed: list[str] = []
        after = 0
        while batch := chat.list_messages(
            session, actor=reader, meeting_id=meeting.id, after_id=after, limit=300
        ):
            listed += [line.body for line in batch]
            after = batch[-1].id
    assert len(bodies) == 1000
    assert set(bodies) == {f"{uid}:{n}" for uid in writer_ids for n in range(100)}
    # Paging with after_id sees every message once, each writer's in the order it wrote them.
    assert sorted(listed) == sorted(bodies)
    for uid in writer_ids:
        mine = [int(b.split(":")[1]) for b in listed if b.startswith(f"{uid}:")]
        assert mine == list(range(100))
    engine.dispose()
