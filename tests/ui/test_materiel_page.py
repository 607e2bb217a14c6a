"""The "Tester mon matériel" page through AppTest, with the streamlit-webrtc edge replaced."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sqlmodel import Session

from rcp import config, media_check
from rcp.ui import keys, prerequisites, webrtc
from tests.factories import make_user, sign_in
from tests.ui.conftest import new_app, texts

IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
STREAM_KEY = "materiel_preview"


class FakeStreamer:
    """Stands in for ``webrtc.streamer``: records each call and reports a chosen state."""

    def __init__(self, *, playing: bool = False) -> None:
        self.playing = playing
        self.calls: list[dict[str, Any]] = []

    def __call__(self, key: str, **kwargs: Any) -> SimpleNamespace:
        import streamlit as st

        self.calls.append({"key": key, **kwargs})
        context = SimpleNamespace(state=SimpleNamespace(playing=self.playing, signalling=False))
        st.session_state[key] = context
        return context


@pytest.fixture
def fake_streamer(monkeypatch: pytest.MonkeyPatch, app_engine) -> FakeStreamer:
    fake = FakeStreamer()
    monkeypatch.setattr(webrtc, "streamer", fake)
    return fake


def _open(token: str | None = None, *, runs: int = 1):
    at = new_app(token).run()
    at.switch_page("pages/materiel.py").run()
    for _ in range(runs - 1):
        at.run()
    return at


def _loud_block() -> np.ndarray:
    t = np.arange(960) / 48000
    return np.round(0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_anonymous_visitor_opens_the_page_and_gets_a_sendrecv_preview(fake_streamer) -> None:
    at = _open()
    assert not at.exception
    shown = texts(at)
    assert "Tester mon matériel" in shown
    assert "Démarrez le test pour mesurer le niveau" in shown
    assert "Aucun contact de support" in shown
    [call] = fake_streamer.calls
    assert call["key"] == STREAM_KEY
    assert call["media_stream_constraints"]["audio"] is True
    assert call["media_stream_constraints"]["video"]  # camera asked for by default
    assert callable(call["video_frame_callback"]) and callable(call["audio_sink"])
    assert call["sendback_video"] is True and call["sendback_audio"] is False
    assert [link.value for link in at.page_link] == ["Retour à la connexion"]


def test_sign_in_page_links_to_the_equipment_check(fake_streamer) -> None:
    at = new_app().run()
    assert "Tester mon matériel" in [link.value for link in at.page_link]


def test_signed_in_doctor_reaches_it_from_accueil_and_goes_back_there(
    fake_streamer, db: Session
) -> None:
    user = make_user(db)
    token = sign_in(db, user)
    db.commit()
    home = new_app(token).run()
    assert any("Tester mon matériel" in link.value for link in home.page_link)
    at = _open(token)
    assert not at.exception
    assert "Tester mon matériel" in texts(at)
    assert "Retour à l'accueil" in [link.value for link in at.page_link]
    assert len(fake_streamer.calls) == 1


def test_audio_only_asks_for_no_camera_and_sends_no_video_back(fake_streamer) -> None:
    at = _open()
    at.toggle(key="materiel_audio_only").set_value(True).run()
    assert not at.exception
    call = fake_streamer.calls[-1]
    assert call["media_stream_constraints"] == {"video": False, "audio": True}
    assert call["video_frame_callback"] is None
    assert call["sendback_video"] is False
    assert callable(call["audio_sink"])


def test_while_playing_the_camera_choice_is_locked_and_the_meter_waits_for_sound(
    fake_streamer,
) -> None:
    fake_streamer.playing = True
    at = _open(runs=2)  # the first run creates the (fake) context, the second reads its state
    assert at.toggle(key="materiel_audio_only").disabled
    assert "En attente du son de votre micro" in texts(at)


def test_meter_says_the_server_hears_the_microphone_once_sound_arrives(fake_streamer) -> None:
    fake_streamer.playing = True
    at = _open(runs=2)
    probe: media_check.MediaProbe = at.session_state[keys.MATERIEL_PROBE]
    probe.level.push(_loud_block())
    at.run()
    shown = texts(at)
    assert "le serveur vous entend" in shown
    assert 'aria-valuenow="0"' not in shown  # the bar moved


def test_silent_microphone_gets_advice(fake_streamer) -> None:
    fake_streamer.playing = True
    at = _open(runs=2)
    at.session_state[keys.MATERIEL_PROBE].level.push(np.zeros(960, dtype=np.int16))
    at.run()
    assert "Parlez : la barre doit monter" in texts(at)


def test_internet_explorer_gets_the_procedure_warning(fake_streamer, monkeypatch) -> None:
    monkeypatch.setattr(prerequisites, "user_agent", lambda: IE11)
    at = _open()
    assert any("N'utilisez pas Internet Explorer" in e.value for e in at.error)
    sign_in_page = new_app().run()
    assert any("N'utilisez pas Internet Explorer" in e.value for e in sign_in_page.error)


def test_a_recent_chrome_is_confirmed_on_the_page_only(fake_streamer, monkeypatch) -> None:
    monkeypatch.setattr(prerequisites, "user_agent", lambda: CHROME)
    at = _open()
    assert any("Navigateur compatible : Google Chrome 131" in s.value for s in at.success)
    assert not at.error
    assert not new_app().run().success  # the sign-in page stays quiet about good browsers


def test_support_contacts_from_settings_are_shown(fake_streamer, monkeypatch) -> None:
    monkeypatch.setenv(
        "RCP_SUPPORT_CONTACTS",
        '[{"name": "Équipe support", "email": "support@filiere.example", "phone": "01 02"}]',
    )
    config.reset_settings_cache()
    at = _open()
    assert "support@filiere.example" in texts(at)


def test_page_renders_with_the_real_streamlit_webrtc_call(app_engine, monkeypatch) -> None:
    """The real edge and webrtc_streamer accept the page's arguments (no browser: not playing)."""
    import streamlit_webrtc.component
    import streamlit_webrtc.shutdown

    # FIELD-NOTES: with no session info the component renders, not playing. The sink tracks'
    # shutdown observer looks the session up too.
    for module in (streamlit_webrtc.component, streamlit_webrtc.shutdown):
        monkeypatch.setattr(module, "get_this_session_info", lambda: None)
    at = _open()
    assert not at.exception
    assert type(at.session_state[STREAM_KEY]).__name__ == "WebRtcStreamerContext"
    at.toggle(key="materiel_audio_only").set_value(True).run()
    assert not at.exception


# --- the edge module -------------------------------------------------------------------------


def test_rtc_configuration_has_an_empty_ice_list_not_an_empty_dict(monkeypatch) -> None:
    monkeypatch.delenv("RCP_ICE_SERVERS", raising=False)
    config.reset_settings_cache()
    assert webrtc.rtc_configuration() == {"iceServers": []}


def test_rtc_configuration_takes_the_turn_servers_from_settings(monkeypatch) -> None:
    turn = {"urls": ["turn:turn.example:3478"], "username": "rcp", "credential": "s3cret"}
    monkeypatch.setenv("RCP_ICE_SERVERS", json.dumps([turn]))
    config.reset_settings_cache()
    try:
        assert webrtc.rtc_configuration() == {"iceServers": [turn]}
    finally:
        monkeypatch.delenv("RCP_ICE_SERVERS")
        config.reset_settings_cache()
