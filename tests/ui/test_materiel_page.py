"""The "Tester mon matériel" page through AppTest, with the check component replaced."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sqlmodel import Session

from rcp import config, media_check
from rcp.room import hub as hub_module
from rcp.room.hub import MediaHub
from rcp.ui import keys, prerequisites, room_client
from tests.factories import make_user, sign_in
from tests.ui.conftest import new_app, texts

IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class FakeCheck:
    """Stands in for ``room_client.check``: records each call and returns a chosen state
    (what the browser reports once it started or stopped the test)."""

    def __init__(self) -> None:
        self.value: dict[str, Any] | None = None
        self.calls: list[dict[str, Any]] = []

    def __call__(self, key: str, **kwargs: Any) -> dict[str, Any] | None:
        self.calls.append({"key": key, **kwargs})
        return self.value


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> MediaHub:
    fresh = MediaHub()
    monkeypatch.setattr(hub_module, "_hub", fresh)
    return fresh


@pytest.fixture
def fake_check(monkeypatch: pytest.MonkeyPatch, app_engine, hub) -> FakeCheck:
    fake = FakeCheck()
    monkeypatch.setattr(room_client, "check", fake)
    return fake


def _running(hub: MediaHub, at) -> media_check.MediaProbe:
    """The page's check as the server holds it once the browser's offer arrived."""
    check_id = at.session_state[keys.MATERIEL_CHECK]
    probe = media_check.MediaProbe.new()
    hub._checks[check_id] = SimpleNamespace(probe=probe, anonymous=True, client="")
    return probe


def _open(token: str | None = None, *, runs: int = 1):
    at = new_app(token).run()
    at.switch_page("pages/materiel.py").run()
    for _ in range(runs - 1):
        at.run()
    return at


def _loud_block() -> np.ndarray:
    t = np.arange(960) / 48000
    return np.round(0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_anonymous_visitor_opens_the_page_and_gets_the_check(fake_check) -> None:
    at = _open()
    assert not at.exception
    shown = texts(at)
    assert "Tester mon matériel" in shown
    assert "Démarrez le test pour mesurer le niveau" in shown
    assert "Aucun contact de support" in shown
    [call] = fake_check.calls
    assert call["key"] == "materiel_check"
    assert call["tab"] == at.session_state[keys.MATERIEL_CHECK]  # the server's name of it
    assert [link.value for link in at.page_link] == ["Retour à la connexion"]


def test_sign_in_page_links_to_the_equipment_check(fake_check) -> None:
    at = new_app().run()
    assert "Tester mon matériel" in [link.value for link in at.page_link]


def test_signed_in_doctor_reaches_it_from_accueil_and_goes_back_there(
    fake_check, db: Session
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
    assert len(fake_check.calls) == 1


def test_while_running_the_meter_waits_for_sound(fake_check, hub) -> None:
    at = _open()
    _running(hub, at)
    fake_check.value = {"state": "connected", "check": at.session_state[keys.MATERIEL_CHECK]}
    at.run()
    assert "En attente du son de votre micro" in texts(at)


def test_meter_says_the_server_hears_the_microphone_once_sound_arrives(fake_check, hub) -> None:
    at = _open()
    probe = _running(hub, at)
    fake_check.value = {"state": "connected", "check": at.session_state[keys.MATERIEL_CHECK]}
    probe.level.push(_loud_block())
    at.run()
    shown = texts(at)
    assert "le serveur vous entend" in shown
    assert 'aria-valuenow="0"' not in shown  # the bar moved


def test_silent_microphone_gets_advice(fake_check, hub) -> None:
    at = _open()
    probe = _running(hub, at)
    fake_check.value = {"state": "connected", "check": at.session_state[keys.MATERIEL_CHECK]}
    probe.level.push(np.zeros(960, dtype=np.int16))
    at.run()
    assert "Parlez : la barre doit monter" in texts(at)


def test_a_stopped_test_asks_to_start_again(fake_check, hub) -> None:
    at = _open()
    _running(hub, at).level.push(_loud_block())
    fake_check.value = {"state": "left", "check": at.session_state[keys.MATERIEL_CHECK]}
    at.run()
    assert "Démarrez le test pour mesurer le niveau" in texts(at)


def test_internet_explorer_gets_the_procedure_warning(fake_check, monkeypatch) -> None:
    monkeypatch.setattr(prerequisites, "user_agent", lambda: IE11)
    at = _open()
    assert any("N'utilisez pas Internet Explorer" in e.value for e in at.error)
    sign_in_page = new_app().run()
    assert any("N'utilisez pas Internet Explorer" in e.value for e in sign_in_page.error)


def test_a_recent_chrome_is_confirmed_on_the_page_only(fake_check, monkeypatch) -> None:
    monkeypatch.setattr(prerequisites, "user_agent", lambda: CHROME)
    at = _open()
    assert any("Navigateur compatible : Google Chrome 131" in s.value for s in at.success)
    assert not at.error
    assert not new_app().run().success  # the sign-in page stays quiet about good browsers


def test_support_contacts_from_settings_are_shown(fake_check, monkeypatch) -> None:
    monkeypatch.setenv(
        "RCP_SUPPORT_CONTACTS",
        '[{"name": "Équipe support", "email": "support@filiere.example", "phone": "01 02"}]',
    )
    config.reset_settings_cache()
    at = _open()
    assert "support@filiere.example" in texts(at)


def test_page_renders_with_the_real_component(app_engine, hub) -> None:
    """The real component declaration accepts the page's arguments (AppTest shows nothing)."""
    at = _open()
    assert not at.exception


# --- the edge module -------------------------------------------------------------------------


def test_rtc_configuration_has_an_empty_ice_list_not_an_empty_dict(monkeypatch) -> None:
    monkeypatch.delenv("RCP_ICE_SERVERS", raising=False)
    config.reset_settings_cache()
    assert room_client.rtc_configuration() == {"iceServers": []}


def test_rtc_configuration_takes_the_turn_servers_from_settings(monkeypatch) -> None:
    turn = {"urls": ["turn:turn.example:3478"], "username": "rcp", "credential": "s3cret"}
    monkeypatch.setenv("RCP_ICE_SERVERS", json.dumps([turn]))
    config.reset_settings_cache()
    try:
        assert room_client.rtc_configuration() == {"iceServers": [turn]}
    finally:
        monkeypatch.delenv("RCP_ICE_SERVERS")
        config.reset_settings_cache()
