"""Start-up: emailed links use the server's own address, demo mode says where it listens."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from rcp import config, invites, startup
from rcp.models import OutboxMessage
from tests.conftest import set_settings
from tests.factories import make_admin


@pytest.fixture(autouse=True)
def _no_server_address(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test tells the settings its own listening address (as app.py does)."""
    monkeypatch.setattr(config, "_server_address", None)
    yield
    config.reset_settings_cache()


def _invitation_body(session: Session) -> str:
    invites.create_invite(session, actor=make_admin(session), email="confrere@chu.example")
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.to == "confrere@chu.example"))
    return mail.one().body


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("127.0.0.1", 8641, "http://localhost:8641"),
        ("localhost", 8501, "http://localhost:8501"),
        ("::1", 8502, "http://localhost:8502"),
        ("10.1.2.3", 8501, "http://10.1.2.3:8501"),
        ("rcp.chu.example", 80, "http://rcp.chu.example:80"),
        ("fd00::5", 8501, "http://[fd00::5]:8501"),
    ],
)
def test_derived_base_url_is_the_address_users_reach(address, port, expected) -> None:
    assert config.derived_base_url(address, port) == expected


def test_listening_on_every_interface_derives_the_machine_name(monkeypatch) -> None:
    monkeypatch.setattr(config.socket, "getfqdn", lambda: "serveur-rcp.chu.example")
    assert config.derived_base_url("0.0.0.0", 8641) == "http://serveur-rcp.chu.example:8641"
    assert config.derived_base_url("", 8641) == "http://serveur-rcp.chu.example:8641"


def test_invitation_link_uses_the_port_the_server_listens_on(session: Session) -> None:
    """PORT=8641 without RCP_BASE_URL: the emailed link points to 8641, not 8501."""
    config.use_server_address("127.0.0.1", 8641)
    settings = config.get_settings()
    assert settings.base_url == "http://localhost:8641" and settings.base_url_derived
    assert "http://localhost:8641/inscription?invitation=" in _invitation_body(session)


def test_configured_base_url_wins_over_the_listening_address(session: Session, monkeypatch):
    set_settings(monkeypatch, base_url="https://rcp.chu.example")
    config.use_server_address("127.0.0.1", 8641)
    assert not config.get_settings().base_url_derived
    assert "https://rcp.chu.example/inscription?invitation=" in _invitation_body(session)


def test_start_warns_when_base_url_is_unset_outside_demo_mode() -> None:
    out = io.StringIO()
    lines = startup.announce("127.0.0.1", 8641, out=out)
    assert len(lines) == 1 and out.getvalue() == lines[0] + "\n"
    assert "RCP_BASE_URL n'est pas réglé" in lines[0]
    assert "http://localhost:8641" in lines[0]


def test_start_is_silent_about_links_when_base_url_is_set(monkeypatch) -> None:
    set_settings(monkeypatch, base_url="https://rcp.chu.example")
    assert startup.start_messages("127.0.0.1", 8501) == []


def test_demo_start_says_it_listens_on_loopback_only(monkeypatch) -> None:
    set_settings(monkeypatch, demo_mode="true")
    (line,) = startup.start_messages("127.0.0.1", 8501)
    assert "Mode démonstration" in line and "n'écoute que sur 127.0.0.1" in line
    assert "http://localhost:8501" in line
    assert "RCP_BASE_URL" not in line  # the demo needs no public address


def test_demo_start_open_to_the_network_is_a_warning(monkeypatch) -> None:
    set_settings(monkeypatch, demo_mode="true")
    (line,) = startup.start_messages("0.0.0.0", 8501)
    assert line.startswith("ATTENTION : mode démonstration ouvert au réseau")
    assert "mots de passe connus" in line


def test_demo_mode_shows_fictitious_support_contacts(monkeypatch) -> None:
    settings = set_settings(monkeypatch, demo_mode="true")
    assert settings.support_contacts == list(config.DEMO_SUPPORT_CONTACTS)
    for contact in settings.support_contacts:
        assert contact.email.endswith("@orkid.example")
        assert contact.phone.startswith("+3363998")  # ARCEP range reserved for fiction


def test_configured_support_contacts_replace_the_demo_ones(monkeypatch) -> None:
    settings = set_settings(
        monkeypatch,
        demo_mode="true",
        support_contacts='[{"name": "Support CHU", "email": "support@chu.example"}]',
    )
    assert [c.name for c in settings.support_contacts] == ["Support CHU"]


def test_production_has_no_demo_support_contacts() -> None:
    assert config.get_settings().support_contacts == []
