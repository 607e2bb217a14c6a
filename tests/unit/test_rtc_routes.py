"""The WebRTC signalling routes (rcp/rtc.py), attacked as an outsider would: no session, the
wrong session, another site, oversized bodies, the wrong meeting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack
from sqlmodel import Session, SQLModel
from starlette.applications import Starlette
from starlette.testclient import TestClient

from rcp import config, meetings, rtc
from rcp.db import make_engine
from rcp.room import hub as hub_module
from rcp.room.hub import MediaHub
from tests.factories import (
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
    start_now,
)

BASE = "http://rcp.test"
ORIGIN = {"origin": BASE}


def _offer(*, audio: bool = True, video: bool = True) -> str:
    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if audio:
            pc.addTransceiver("audio", direction="sendrecv")
        if video:
            pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A running meeting (coordinator, confirmed doctor), a stranger, and the routes served."""
    monkeypatch.setenv("RCP_DATABASE_URL", f"sqlite:///{tmp_path / 'rtc.db'}")
    config.reset_settings_cache()
    engine = make_engine()
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(81))
        doctor = make_member(session, rcp, coordinator, phone=mobile(82))
        stranger = make_user(session, phone=mobile(83))
        meeting = make_meeting(session, rcp, coordinator)
        later = make_meeting(session, rcp, coordinator, days_ahead=20)
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
        meetings.respond(session, actor=doctor, meeting_id=meeting.id, accept=True)
        start_now(session, meeting, started_minutes_ago=5)
        tokens = {
            "coordinator": sign_in(session, coordinator),
            "doctor": sign_in(session, doctor),
            "stranger": sign_in(session, stranger),
        }
    hub = MediaHub()
    monkeypatch.setattr(hub_module, "_hub", hub)
    app = Starlette(routes=rtc.routes())
    with TestClient(app, base_url=BASE) as client:
        yield SimpleNamespace(
            client=client,
            hub=hub,
            meeting_id=meeting.id,
            later_id=later.id,
            doctor=doctor,
            tokens=tokens,
        )
    hub.flush()
    engine.dispose()


def _post(world, path: str, body: object, *, who: str | None = None, headers=None):
    cookies = {"rcp_session": world.tokens[who]} if who else {}
    world.client.cookies.clear()
    return world.client.post(
        path,
        json=body,
        headers=ORIGIN if headers is None else headers,
        cookies=cookies,
    )


def _join(world, who: str = "doctor", meeting_id: int | None = None, **body):
    meeting_id = meeting_id or world.meeting_id
    payload = {"sdp": _offer(), "seat": "tab1:abc:1", "camera": True, **body}
    return _post(world, f"/rtc/room/{meeting_id}/join", payload, who=who)


def test_a_confirmed_doctor_gets_an_answer_and_a_seat(world) -> None:
    response = _join(world)
    assert response.status_code == 200, response.text
    assert response.json()["sdp"].startswith("v=0")
    assert response.headers["cache-control"] == "no-store"
    assert world.hub.seat_of(world.meeting_id, world.doctor.id) == "tab1:abc:1"


def test_without_a_session_the_room_answers_401_in_french(world) -> None:
    response = _join(world, who=None)
    assert response.status_code == 401
    assert "reconnectez-vous" in response.json()["error"]
    assert world.hub.rooms.get(world.meeting_id) is None


def test_another_site_cannot_join_even_with_the_cookie(world) -> None:
    for headers in ({}, {"origin": "https://evil.example"}):
        response = _post(
            world,
            f"/rtc/room/{world.meeting_id}/join",
            {"sdp": _offer(), "seat": "t:a:1", "camera": True},
            who="doctor",
            headers=headers,
        )
        assert response.status_code == 403
        assert "ne vient pas d'une page de la plateforme" in response.json()["error"]
    assert world.hub.rooms.get(world.meeting_id) is None


def test_a_stranger_is_refused_with_the_rooms_rule(world) -> None:
    response = _join(world, who="stranger")
    assert response.status_code == 403
    assert "Seuls les participants confirmés et les coordinateurs" in response.json()["error"]


def test_a_meeting_whose_room_is_not_open_is_refused_with_its_opening_time(world) -> None:
    response = _join(world, who="coordinator", meeting_id=world.later_id)
    assert response.status_code == 409
    assert "pas encore ouverte" in response.json()["error"]


def test_malformed_requests_are_refused_before_anything_is_created(world) -> None:
    path = f"/rtc/room/{world.meeting_id}/join"
    cases = [
        {"sdp": _offer(), "seat": "../../etc", "camera": True},
        {"sdp": "hello", "seat": "t:a:1", "camera": True},
        {"sdp": None, "seat": "t:a:1"},
        ["not", "an", "object"],
    ]
    for body in cases:
        response = _post(world, path, body, who="doctor")
        assert response.status_code == 400, body
        assert response.json()["error"]
    big = _post(world, path, {"sdp": "v=0" + "a" * 200_000, "seat": "t:a:1"}, who="doctor")
    assert big.status_code == 400 and "volumineuse" in big.json()["error"]
    room = world.hub.rooms.get(world.meeting_id)
    assert room is None or world.doctor.id not in room


def test_leave_takes_only_the_named_seat_out(world) -> None:
    assert _join(world).status_code == 200
    stale = _post(
        world, f"/rtc/room/{world.meeting_id}/leave", {"seat": "tab0:old:3"}, who="doctor"
    )
    assert stale.status_code == 200 and stale.json() == {"left": False}
    assert world.doctor.id in world.hub.rooms.get(world.meeting_id)
    left = _post(world, f"/rtc/room/{world.meeting_id}/leave", {"seat": "tab1:abc:1"}, who="doctor")
    assert left.json() == {"left": True}
    assert world.doctor.id not in world.hub.rooms.get(world.meeting_id)


def test_a_leave_beacon_in_plain_text_is_understood(world) -> None:
    """navigator.sendBeacon posts text/plain: the body is read as JSON all the same."""
    assert _join(world).status_code == 200
    world.client.cookies.clear()
    response = world.client.post(
        f"/rtc/room/{world.meeting_id}/leave",
        content=b'{"seat": "tab1:abc:1"}',
        headers={**ORIGIN, "content-type": "text/plain;charset=UTF-8"},
        cookies={"rcp_session": world.tokens["doctor"]},
    )
    assert response.json() == {"left": True}


def test_screen_sharing_needs_the_coordinators_grant(world) -> None:
    assert _join(world).status_code == 200
    response = _post(
        world,
        f"/rtc/room/{world.meeting_id}/screen",
        {"sdp": _offer(audio=False)},
        who="doctor",
    )
    assert response.status_code == 403
    assert "l'assistant(e) vous y invite" in response.json()["error"]


def test_the_equipment_check_works_without_a_session_within_a_cap_per_address(world) -> None:
    first = _post(world, "/rtc/check", {"sdp": _offer(), "check": "check-aaaa-0001"})
    assert first.status_code == 200, first.text
    assert first.json()["sdp"].startswith("v=0")
    for i in range(2, hub_module.MAX_ANONYMOUS_CHECKS_PER_CLIENT + 1):
        more = _post(world, "/rtc/check", {"sdp": _offer(), "check": f"check-aaaa-000{i}"})
        assert more.status_code == 200
    over = _post(world, "/rtc/check", {"sdp": _offer(), "check": "check-aaaa-0009"})
    assert over.status_code == 409
    assert "Trop de tests de matériel" in over.json()["error"]
    signed_in = _post(
        world, "/rtc/check", {"sdp": _offer(), "check": "check-aaaa-0003"}, who="doctor"
    )
    assert signed_in.status_code == 200
    stop = _post(world, "/rtc/check/stop", {"check": "check-aaaa-0001"})
    assert stop.json() == {"stopped": True}
    assert world.hub.check_probe("check-aaaa-0001") is None
