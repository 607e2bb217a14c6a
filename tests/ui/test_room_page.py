"""The video room page (pages/salle.py) through AppTest, with the room component replaced."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import attendance, meetings
from rcp.models import Attendance, Meeting, utcnow
from rcp.room import hub as hub_module
from rcp.room.hub import MediaHub
from rcp.ui import keys, room_client
from tests.factories import (
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
)
from tests.ui.conftest import ROOT, texts


class FakeRoomClient:
    """Stands in for ``room_client.room`` (AppTest cannot run custom components)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, key: str, **kwargs: Any) -> None:
        self.calls.append({"key": key, **kwargs})


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, app_engine) -> MediaHub:
    """A fresh media hub for the test (the app's hub is process memory)."""
    fresh = MediaHub()
    monkeypatch.setattr(hub_module, "_hub", fresh)
    yield fresh
    fresh.flush()


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, hub) -> SimpleNamespace:
    client = FakeRoomClient()
    monkeypatch.setattr(room_client, "room", client)
    return SimpleNamespace(client=client, hub=hub)


@pytest.fixture
def setup(db: Session) -> SimpleNamespace:
    """A meeting that started five minutes ago, its coordinator and a confirmed doctor."""
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(71), first_name="Anne")
    doctor = make_member(db, rcp, coordinator, phone=mobile(72), first_name="Paul")
    meeting = make_meeting(db, rcp, coordinator)
    meetings.invite(db, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    meetings.respond(db, actor=doctor, meeting_id=meeting.id, accept=True)
    _starts_in(db, meeting, dt.timedelta(minutes=-5))
    return SimpleNamespace(meeting=meeting, coordinator=coordinator, doctor=doctor)


def _starts_in(db: Session, meeting: Meeting, delta: dt.timedelta) -> None:
    meeting.starts_at = utcnow() + delta
    meeting.ends_at = meeting.starts_at + dt.timedelta(hours=2)
    meeting.case_deadline = meeting.starts_at
    db.add(meeting)
    db.commit()


def _room(db: Session, user, meeting_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, user)
    db.commit()
    at.run()
    at.query_params["id"] = str(meeting_id)
    return at.switch_page("pages/salle.py").run()


def _in_room(db: Session, hub: MediaHub, meeting_id: int, user) -> None:
    """The user's browser joined: what a connected seat does (room seat, attendance row)."""
    hub.rooms.join(meeting_id, user.id, user.display_name, seat=f"seat-{user.id}")
    attendance.record_join(db, actor=user, meeting_id=meeting_id)


def _calls_of(fakes: SimpleNamespace, at: AppTest) -> list[dict[str, Any]]:
    return [c for c in fakes.client.calls if c["tab"] == at.session_state[keys.SALLE_TAB]]


def _fresh(db: Session) -> None:
    """See what the app committed: end the read transaction (WAL keeps its snapshot) and
    forget the loaded objects."""
    db.rollback()
    db.expire_all()


def _rows(db: Session) -> list[Attendance]:
    _fresh(db)
    return list(db.exec(select(Attendance)).all())


def test_stranger_is_refused_and_gets_no_room(fakes, db, setup) -> None:
    stranger = make_user(db, phone=mobile(73))
    at = _room(db, stranger, setup.meeting.id)
    assert not at.exception
    assert "Seuls les participants confirmés et les coordinateurs" in texts(at)
    assert fakes.client.calls == []


def test_room_before_opening_time_says_when_it_opens(fakes, db, setup) -> None:
    _starts_in(db, setup.meeting, dt.timedelta(hours=1))
    at = _room(db, setup.doctor, setup.meeting.id)
    assert "pas encore ouverte" in texts(at)
    assert fakes.client.calls == []


def test_missing_meeting_id_is_explained(fakes, db, setup) -> None:
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, setup.doctor)
    db.commit()
    at.run()
    at = at.switch_page("pages/salle.py").run()
    assert "Aucune séance indiquée" in texts(at)
    assert fakes.client.calls == []


def test_opening_the_room_joins_at_once_through_the_component(fakes, db, setup) -> None:
    """One click from the meeting page: the room tab renders the component active, on this
    meeting's signalling routes, with this tab's name; nobody may share a screen yet."""
    at = _room(db, setup.doctor, setup.meeting.id)
    assert not at.exception
    (call,) = fakes.client.calls
    assert call["key"] == "salle_room"
    assert call["meeting_id"] == setup.meeting.id
    assert call["may_share"] is False
    assert call.get("active", True) is True
    assert call["tab"] == at.session_state[keys.SALLE_TAB]
    assert "Ne partagez pas votre écran si l'assistant ne vous y invite pas." in texts(at)
    assert "Personne n'est encore dans la salle." in texts(at)
    # A rerun keeps the same tab name (the component's seats stay this tab's).
    at.run()
    assert fakes.client.calls[-1]["tab"] == call["tab"]


def test_participant_list_shows_who_is_in_the_room_with_their_flags(fakes, db, setup) -> None:
    at = _room(db, setup.doctor, setup.meeting.id)
    _in_room(db, fakes.hub, setup.meeting.id, setup.doctor)
    _in_room(db, fakes.hub, setup.meeting.id, setup.coordinator)
    room = fakes.hub.rooms.get(setup.meeting.id)
    room.set_muted(setup.coordinator.id, True)
    room.set_camera_off(setup.coordinator.id, True)
    at.run()
    assert "Participants (2)" in texts(at)
    assert "micro coupé, sans caméra" in texts(at)
    assert "vous" in texts(at)


def test_coordinator_grants_the_screen_and_only_the_presenter_may_share(fakes, db, setup) -> None:
    doctor_at = _room(db, setup.doctor, setup.meeting.id)
    coord_at = _room(db, setup.coordinator, setup.meeting.id)
    _in_room(db, fakes.hub, setup.meeting.id, setup.doctor)
    _in_room(db, fakes.hub, setup.meeting.id, setup.coordinator)
    coord_at.run()
    doctor_at.run()
    grant = f"salle_grant_{setup.doctor.id}"
    assert {b.key for b in coord_at.button} >= {grant, f"salle_grant_{setup.coordinator.id}"}
    assert not [b for b in doctor_at.button if b.key.startswith("salle_grant")]
    coord_at.button(key=grant).click().run()
    assert not coord_at.exception
    _fresh(db)
    assert db.get(Meeting, setup.meeting.id).presenter_id == setup.doctor.id
    assert [b.label for b in coord_at.button if b.key == f"salle_withdraw_{setup.doctor.id}"] == [
        "Retirer"
    ]
    doctor_at.run()
    doctor_calls = [
        c for c in fakes.client.calls if c["tab"] == doctor_at.session_state[keys.SALLE_TAB]
    ]
    assert doctor_calls[-1]["may_share"] is True
    assert "vous invite à partager votre écran" in texts(doctor_at)
    coord_at.button(key=f"salle_withdraw_{setup.doctor.id}").click().run()
    _fresh(db)
    assert db.get(Meeting, setup.meeting.id).presenter_id is None
    doctor_at.run()
    doctor_calls = [
        c for c in fakes.client.calls if c["tab"] == doctor_at.session_state[keys.SALLE_TAB]
    ]
    assert doctor_calls[-1]["may_share"] is False  # the share button goes


def test_a_share_that_is_no_longer_granted_is_taken_off_the_picture(fakes, db, setup) -> None:
    """The picture shows only the presenter the coordinator chose: a share left over from a
    withdrawn grant is ended on the next refresh of any room page."""
    at = _room(db, setup.doctor, setup.meeting.id)
    _in_room(db, fakes.hub, setup.meeting.id, setup.doctor)
    room = fakes.hub.rooms.get(setup.meeting.id)
    room.grant_screen(setup.doctor.id)
    assert room.screen_owner == setup.doctor.id
    at.run()
    assert room.screen_owner is None


def test_participant_cannot_grant_the_screen(fakes, db, setup) -> None:
    at = _room(db, setup.doctor, setup.meeting.id)
    _in_room(db, fakes.hub, setup.meeting.id, setup.doctor)
    at.run()
    assert not [b for b in at.button if b.key.startswith(("salle_grant", "salle_withdraw"))]


def test_meeting_closed_while_in_the_room_sends_the_participant_out(fakes, db, setup) -> None:
    at = _room(db, setup.doctor, setup.meeting.id)
    _in_room(db, fakes.hub, setup.meeting.id, setup.doctor)
    meeting = db.get(Meeting, setup.meeting.id)
    meeting.status = "closed"
    meeting.closed_at = utcnow()
    db.add(meeting)
    db.commit()
    at.run()
    assert not at.exception
    assert "la salle de visioconférence est fermée" in texts(at)
    assert setup.doctor.id not in fakes.hub.rooms.get(setup.meeting.id)
    fakes.hub.flush()
    (row,) = _rows(db)
    assert row.left_at is not None
