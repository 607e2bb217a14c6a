"""Email through a real SMTP server on loopback (aiosmtpd), SMS through a real HTTP server."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from rcp import auth, notify
from rcp.models import OutboxMessage
from tests.conftest import set_settings
from tests.factories import PASSWORD, make_user
from tests.ports import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[_Inbox, int, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = _Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="localhost", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()


def test_email_goes_through_smtp_with_starttls(session: Session, monkeypatch, smtp_server) -> None:
    inbox, port, cert = smtp_server
    set_settings(
        monkeypatch,
        smtp_host="localhost",
        smtp_port=port,
        smtp_starttls="true",
        smtp_ca_file=str(cert),
        smtp_from="RCP <no-reply@rcp.example>",
    )
    row = notify.send_email(
        session,
        to="dr@chu.example",
        subject="Invitation RCP",
        body="Bonjour, séance à 14 h.",
        attachments=(
            notify.MailAttachment(
                "invitation.ics",
                b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                "text/calendar; method=REQUEST",
            ),
        ),
    )
    session.commit()
    assert row.status == "sent" and row.body is None
    assert len(inbox.messages) == 1
    sender, rcpts, raw = inbox.messages[0]
    assert rcpts == ["dr@chu.example"]
    msg = message_from_bytes(raw)
    assert msg["Subject"] == "Invitation RCP"
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert "séance à 14 h" in parts["text/plain"].get_payload(decode=True).decode()
    assert parts["text/calendar"].get_param("method") == "REQUEST"


def test_smtp_refusing_starttls_certificate_marks_the_message_failed(
    session: Session, monkeypatch, smtp_server
) -> None:
    _inbox, port, _cert = smtp_server
    set_settings(monkeypatch, smtp_host="localhost", smtp_port=port, smtp_starttls="true")
    row = notify.send_email(session, to="dr@chu.example", subject="x", body="y")
    assert row.status == "failed" and "SSL" in (row.error or "")


def test_without_smtp_email_stays_in_the_outbox(session: Session) -> None:
    row = notify.send_email(session, to="dr@chu.example", subject="Objet", body="Corps")
    session.commit()
    assert row.status == "outbox"
    assert notify.list_outbox(session, to="dr@chu.example")[0].body == "Corps"


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict, dict]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        _Gateway.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
        self.send_response(_Gateway.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sms_gateway() -> Iterator[str]:
    _Gateway.received = []
    _Gateway.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/send"
    finally:
        server.shutdown()


def test_sign_in_code_goes_through_the_sms_gateway(
    session: Session, monkeypatch, sms_gateway
) -> None:
    user = make_user(session)
    set_settings(monkeypatch, sms_gateway_url=sms_gateway, sms_gateway_token="jeton-secret")
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    assert len(_Gateway.received) == 1
    headers, payload = _Gateway.received[0]
    assert headers["Authorization"] == "Bearer jeton-secret"
    assert payload["to"] == user.phone
    code = payload["text"][:6]
    assert code.isdigit() and "expire dans 5 minutes" in payload["text"]
    # The code is not kept readable once the gateway has it.
    row = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).one()
    assert row.status == "sent" and row.body is None
    assert auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)


def test_failing_sms_gateway_is_reported_to_the_user(
    session: Session, monkeypatch, sms_gateway
) -> None:
    user = make_user(session)
    set_settings(monkeypatch, sms_gateway_url=sms_gateway)
    _Gateway.status = 503
    with pytest.raises(notify.DeliveryFailed, match="SMS n'a pas pu être envoyé"):
        auth.begin_sign_in(session, email=user.email, password=PASSWORD)


def test_no_email_or_sms_of_the_sign_in_flow_contains_the_password(session: Session) -> None:
    user = make_user(session)
    auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    auth.request_password_reset(session, email=user.email)
    for row in session.exec(select(OutboxMessage)).all():
        assert PASSWORD not in (row.body or "")
