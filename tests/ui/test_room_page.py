"""The video room page (pages/salle.py) through AppTest, with the streamlit-webrtc edge replaced."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import meetings
from rcp.models import Attendance, Meeting, utcnow
from rcp.ui import keys, room_page, screen_share, webrtc
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

STREAM_KEY = "salle_stream"


class FakeStreamer:
    """Stands in for ``webrtc.streamer``: records calls, reports a chosen state and, like the
    library, calls ``on_change`` in the run where the state it reports changed."""

    def __init__(self) -> None:
        self.playing = False
        self.signalling = False  # True: the offer went out and no answer came back yet
        self.calls: list[dict[str, Any]] = []

    def __call__(self, key: str, **kwargs: Any) -> SimpleNamespace:
        import streamlit as st

        self.calls.append({"key": key, **kwargs})
        playing = self.playing and bool(kwargs.get("desired_playing_state"))
        signalling = self.signalling and bool(kwargs.get("desired_playing_state"))
        old = st.session_state.get(key)
        context = SimpleNamespace(state=SimpleNamespace(playing=playing, signalling=signalling))
        st.session_state[key] = context
        if old is not None and old.state.playing != playing and kwargs.get("on_change"):
            kwargs["on_change"]()
        return context


class FakeScreenShare:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, key: str, **kwargs: Any) -> None:
        self.calls.append({"key": key, **kwargs})


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, app_engine) -> SimpleNamespace:
    streamer, screen = FakeStreamer(), FakeScreenShare()
    monkeypatch.setattr(webrtc, "streamer", streamer)
    monkeypatch.setattr(screen_share, "component", screen)
    room_page.registry.clear()
    room_page.receivers.clear()
    yield SimpleNamespace(streamer=streamer, screen=screen)
    room_page.registry.clear()


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


def _enter(at: AppTest, *, no_camera: bool = False) -> AppTest:
    if no_camera:
        at.toggle(key="salle_no_camera").set_value(True).run()
    return at.button(key="salle_enter").click().run()


def _fresh(db: Session) -> None:
    """See what the app committed: end the read transaction (WAL keeps its snapshot) and
    forget the loaded objects."""
    db.rollback()
    db.expire_all()


def _rows(db: Session) -> list[Attendance]:
    _fresh(db)
    return list(db.exec(select(Attendance)).all())


def test_stranger_is_refused_and_gets_no_stream(fakes, db, setup) -> None:
    stranger = make_user(db, phone=mobile(73))
    at = _room(db, stranger, setup.meeting.id)
    assert not at.exception
    assert "Seuls les participants confirmés et les coordinateurs" in texts(at)
    assert not [b for b in at.button if b.key == "salle_enter"]
    assert fakes.streamer.calls == []


def test_room_before_opening_time_says_when_it_opens(fakes, db, setup) -> None:
    _starts_in(db, setup.meeting, dt.timedelta(hours=1))
    at = _room(db, setup.doctor, setup.meeting.id)
    assert "pas encore ouverte" in texts(at)
    assert fakes.streamer.calls == []


def test_missing_meeting_id_is_explained(fakes, db, setup) -> None:
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, setup.doctor)
    db.commit()
    at.run()
    at = at.switch_page("pages/salle.py").run()
    assert "Aucune séance indiquée" in texts(at)


def test_lobby_waits_for_the_user_before_starting_the_camera(fakes, db, setup) -> None:
    at = _room(db, setup.doctor, setup.meeting.id)
    assert not at.exception
    assert [b.label for b in at.button if b.key == "salle_enter"] == ["Rejoindre la salle"]
    assert fakes.streamer.calls == []
    assert room_page.registry().get(setup.meeting.id) is None


def test_entering_opens_one_sendrecv_stream_with_the_rooms_tracks(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    assert not at.exception
    call = fakes.streamer.calls[-1]
    assert call["key"] == STREAM_KEY and call["desired_playing_state"] is True
    assert call["media_stream_constraints"]["audio"] is True
    assert call["media_stream_constraints"]["video"]
    assert callable(call["video_sink"]) and callable(call["audio_sink"])
    assert callable(call["on_sink_ended"])
    room = room_page.registry().get(setup.meeting.id)
    video, audio = room.outgoing_tracks(setup.doctor.id)
    assert call["source_video_track"] is video and call["source_audio_track"] is audio
    assert [p.name for p in room.participants()] == [setup.doctor.display_name]
    assert "Participants (1)" in texts(at)


def test_without_camera_only_the_microphone_is_asked_for(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id), no_camera=True)
    call = fakes.streamer.calls[-1]
    assert call["media_stream_constraints"] == {"video": False, "audio": True}
    assert call["video_sink"] is None and callable(call["audio_sink"])
    (person,) = room_page.registry().get(setup.meeting.id).participants()
    assert person.camera_off
    assert at.toggle(key="salle_camera_off").disabled


def test_no_camera_clicked_just_before_joining_is_honoured(fakes, db, setup) -> None:
    """ "Participer sans caméra" then "Rejoindre la salle" at once, before the toggle's own rerun
    ended (seen on a loaded machine): both values come in one rerun, and the button still
    carries what was drawn with the camera on. The camera must stay off all the same."""
    at = _room(db, setup.doctor, setup.meeting.id)
    at.toggle(key="salle_no_camera").set_value(True)
    at.button(key="salle_enter").click().run()
    assert not at.exception
    assert fakes.streamer.calls[-1]["media_stream_constraints"] == {"video": False, "audio": True}
    (person,) = room_page.registry().get(setup.meeting.id).participants()
    assert person.camera_off


def test_playing_stream_records_the_join_and_quitting_the_leave(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    assert _rows(db) == []  # not before the stream plays
    fakes.streamer.playing = True
    at.run()
    (row,) = _rows(db)
    assert row.user_id == setup.doctor.id and row.left_at is None
    at.button(key="salle_leave").click().run()
    assert not at.exception
    (row,) = _rows(db)
    assert row.left_at is not None
    assert "Vous avez quitté la salle." in texts(at)
    assert setup.doctor.id not in room_page.registry().get(setup.meeting.id)
    assert fakes.streamer.calls[-1]["desired_playing_state"] is False  # the stream is stopped


def test_stream_that_stops_by_itself_records_the_leave(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    fakes.streamer.playing = True
    at.run()
    fakes.streamer.playing = False
    at.run()  # the library calls on_change before the run; the fake, during it: one more run
    at.run()
    (row,) = _rows(db)
    assert row.left_at is not None
    assert "La connexion à la salle s'est interrompue" in texts(at)


def test_mute_and_camera_toggles_set_the_rooms_flags(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    at.toggle(key="salle_mute").set_value(True).run()
    at.toggle(key="salle_camera_off").set_value(True).run()
    (person,) = room_page.registry().get(setup.meeting.id).participants()
    assert person.muted and person.camera_off
    at.toggle(key="salle_mute").set_value(False).run()
    (person,) = room_page.registry().get(setup.meeting.id).participants()
    assert not person.muted and person.camera_off
    assert "micro coupé" not in texts(at) and "sans caméra" in texts(at)


def test_coordinator_grants_the_screen_and_only_the_presenter_gets_the_control(
    fakes, db, setup
) -> None:
    doctor_at = _enter(_room(db, setup.doctor, setup.meeting.id))
    fakes.streamer.playing = True
    doctor_at.run()  # the doctor's join is recorded: present
    assert fakes.screen.calls == []
    assert "Ne partagez pas votre écran si l'assistant ne vous y invite pas." in texts(doctor_at)
    coord_at = _enter(_room(db, setup.coordinator, setup.meeting.id))
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
    assert fakes.screen.calls and fakes.screen.calls[-1]["key"] == "salle_screen"
    assert "vous invite à partager votre écran" in texts(doctor_at)
    coord_at.button(key=f"salle_withdraw_{setup.doctor.id}").click().run()
    _fresh(db)
    assert db.get(Meeting, setup.meeting.id).presenter_id is None
    calls = len(fakes.screen.calls)
    doctor_at.run()
    assert len(fakes.screen.calls) == calls  # the control is gone


def test_participant_cannot_grant_the_screen(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    assert not [b for b in at.button if b.key.startswith(("salle_grant", "salle_withdraw"))]


def test_meeting_closed_while_in_the_room_sends_everyone_out(fakes, db, setup) -> None:
    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    fakes.streamer.playing = True
    at.run()
    meeting = db.get(Meeting, setup.meeting.id)
    meeting.status = "closed"
    meeting.closed_at = utcnow()
    db.add(meeting)
    db.commit()
    at.run()
    assert "la salle de visioconférence est fermée" in texts(at)
    (row,) = _rows(db)
    assert row.left_at is not None
    assert setup.doctor.id not in room_page.registry().get(setup.meeting.id)


def test_page_renders_with_the_real_streamlit_webrtc_call(app_engine, db, setup, monkeypatch):
    """The real edge and webrtc_streamer accept the room's arguments (source tracks, sinks with
    on_ended, desired playing state); no browser, so not playing."""
    import streamlit_webrtc.component
    import streamlit_webrtc.shutdown

    for module in (streamlit_webrtc.component, streamlit_webrtc.shutdown):
        monkeypatch.setattr(module, "get_this_session_info", lambda: None)
    room_page.registry.clear()
    try:
        at = _enter(_room(db, setup.doctor, setup.meeting.id))
        assert not at.exception
        assert type(at.session_state[STREAM_KEY]).__name__ == "WebRtcStreamerContext"
        at.button(key="salle_leave").click().run()
        assert not at.exception
        assert "Vous avez quitté la salle." in texts(at)
    finally:
        room_page.registry.clear()


def test_a_second_tab_takes_the_seat_and_the_first_steps_back_without_leaving(
    fakes, db, setup
) -> None:
    import av

    first = _enter(_room(db, setup.doctor, setup.meeting.id))
    fakes.streamer.playing = True
    first.run()
    first_call = fakes.streamer.calls[-1]
    second = _enter(_room(db, setup.doctor, setup.meeting.id))
    assert not second.exception
    room = room_page.registry().get(setup.meeting.id)
    assert [p.key for p in room.participants()] == [setup.doctor.id]
    assert first_call["source_video_track"].readyState == "ended"  # the old tab's picture stops
    assert fakes.streamer.calls[-1]["source_video_track"].readyState == "live"
    # The first tab's camera no longer feeds the tile; its next run sends it to the lobby.
    first_call["video_sink"](av.VideoFrame(64, 48, "yuv420p"))
    assert not room.participants()[0].has_video
    first.run()
    assert not first.exception
    assert "depuis un autre onglet" in texts(first)
    assert [b.key for b in first.button if b.key == "salle_enter"] == ["salle_enter"]
    assert setup.doctor.id in room  # still in the room, through the second tab
    (stay,) = _rows(db)
    assert stay.left_at is None
    # Leaving from the second tab is a real leave.
    second.button(key="salle_leave").click().run()
    assert setup.doctor.id not in room
    (stay,) = _rows(db)
    assert stay.left_at is not None


def test_a_connection_stuck_negotiating_is_retried_on_a_new_stream_and_seat(
    fakes, db, setup
) -> None:
    import time

    at = _enter(_room(db, setup.doctor, setup.meeting.id))
    room = room_page.registry().get(setup.meeting.id)
    first_seat = room.seat_of(setup.doctor.id)
    first_video = fakes.streamer.calls[-1]["source_video_track"]
    # Waiting for the camera permission is not a stall: nothing happens, however long.
    at.session_state[keys.SALLE_STALLED_SINCE] = time.monotonic() - 100
    at.run()
    assert fakes.streamer.calls[-1]["key"] == STREAM_KEY
    # Offer sent, no answer: the first fragment run notes the time, a later one retries.
    fakes.streamer.signalling = True
    at.run()
    assert fakes.streamer.calls[-1]["key"] == STREAM_KEY
    at.session_state[keys.SALLE_STALLED_SINCE] = time.monotonic() - 100
    at.run()
    assert not at.exception
    assert fakes.streamer.calls[-1]["key"] == f"{STREAM_KEY}_1"
    assert room.seat_of(setup.doctor.id) not in (None, first_seat)
    assert first_video.readyState == "ended"  # a late answer to the stuck one feeds nothing
    assert [p.key for p in room.participants()] == [setup.doctor.id]
    # After the last attempt the page says what to do instead of retrying for ever.
    at.session_state[keys.SALLE_ATTEMPT] = 2
    at.session_state[keys.SALLE_STALLED_SINCE] = time.monotonic() - 100
    at.run()
    assert fakes.streamer.calls[-1]["key"] == f"{STREAM_KEY}_2"
    assert any("La connexion à la salle n'aboutit pas" in w.value for w in at.warning)
    # Once it plays, the join is recorded as usual.
    fakes.streamer.signalling, fakes.streamer.playing = False, True
    at.run()
    (stay,) = _rows(db)
    assert stay.user_id == setup.doctor.id and stay.left_at is None
