"""A queued email whose hand-over to SMTP was interrupted is sent later or given up, visibly.

Issue 14 follow-up: a worker killed between claiming a queued email ("sending") and writing
the outcome left it "sending" forever; nothing ever looked at it again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, select

from rcp import notify, outbox_worker
from rcp.db import make_engine
from rcp.models import OutboxChannel, OutboxMessage, OutboxStatus, utcnow
from tests.conftest import set_settings
from tests.unit.test_notify import smtp_server  # noqa: F401 - the fixture


def _smtp(monkeypatch: pytest.MonkeyPatch, port: int, cert: Path) -> None:
    set_settings(
        monkeypatch,
        smtp_host="localhost",
        smtp_port=port,
        smtp_starttls="true",
        smtp_ca_file=str(cert),
    )


def _interrupted(session: Session, *, minutes_ago: int, attempts: int, to: str) -> int:
    """A row as a worker killed mid-send leaves it: claimed, "sending", body still there."""
    row = OutboxMessage(
        channel=OutboxChannel.email,
        to=to,
        subject="Réinitialisation de votre mot de passe",
        body="Bonjour, voici votre lien.",
        status=OutboxStatus.sending,
        claimed_at=utcnow() - timedelta(minutes=minutes_ago),
        attempts=attempts,
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def _engine(tmp_path: Path):  # noqa: ANN202
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    SQLModel.metadata.create_all(engine)
    return engine


def test_an_interrupted_email_is_sent_again_and_a_fresh_claim_is_left_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server,  # noqa: F811
) -> None:
    inbox, port, cert = smtp_server
    _smtp(monkeypatch, port, cert)
    engine = _engine(tmp_path)
    with Session(engine) as session:
        stuck = _interrupted(session, minutes_ago=11, attempts=1, to="dr.a@chu.example")
        # Claimed a minute ago: another process may be sending it right now.
        busy = _interrupted(session, minutes_ago=1, attempts=1, to="dr.b@chu.example")
    assert notify.deliver_queued(engine) == 1
    with Session(engine) as session:
        sent = session.get(OutboxMessage, stuck)
        assert sent.status == OutboxStatus.sent and sent.attempts == 2 and sent.body is None
        assert session.get(OutboxMessage, busy).status == OutboxStatus.sending
    assert [m[1] for m in inbox.messages] == [["dr.a@chu.example"]]


def test_an_email_interrupted_at_every_attempt_is_marked_failed_with_a_french_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server,  # noqa: F811
) -> None:
    inbox, port, cert = smtp_server
    _smtp(monkeypatch, port, cert)
    engine = _engine(tmp_path)
    with Session(engine) as session:
        given_up = _interrupted(session, minutes_ago=30, attempts=3, to="dr.c@chu.example")
    assert notify.deliver_queued(engine) == 0
    with Session(engine) as session:
        row = session.get(OutboxMessage, given_up)
        assert row.status == OutboxStatus.failed
        assert row.error and "interrompu 3 fois" in row.error and "non remis" in row.error
        assert row.body is None
    assert inbox.messages == []


def test_the_server_takes_up_interrupted_emails_at_start_without_any_new_email(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server,  # noqa: F811
) -> None:
    """Nothing else queued: the delivery rounds of the server's lifespan find it."""
    inbox, port, cert = smtp_server
    _smtp(monkeypatch, port, cert)
    engine = _engine(tmp_path)
    with Session(engine) as session:
        stuck = _interrupted(session, minutes_ago=20, attempts=1, to="dr.d@chu.example")

    async def serve_until_sent() -> str:
        async with outbox_worker.lifespan(lambda: engine):
            for _ in range(600):  # up to 60 s on a busy machine; usually the first round
                with Session(engine) as session:
                    status = session.get(OutboxMessage, stuck).status
                if status != OutboxStatus.sending:
                    return status
                await asyncio.sleep(0.1)
        return "sending"

    assert asyncio.run(serve_until_sent()) == OutboxStatus.sent
    assert [m[1] for m in inbox.messages] == [["dr.d@chu.example"]]


def test_without_smtp_no_delivery_round_runs(session: Session) -> None:
    async def run() -> int:
        before = len(asyncio.all_tasks())
        async with outbox_worker.lifespan(lambda: session.get_bind()):
            return len(asyncio.all_tasks()) - before

    assert asyncio.run(run()) == 0
    assert session.exec(select(OutboxMessage)).all() == []
