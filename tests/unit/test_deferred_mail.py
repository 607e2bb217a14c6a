"""'Mot de passe oublié' answers without waiting for the mail server (issue 14, low): the
email to a known address is handed to SMTP after the request, so known and unknown
addresses get the same answer in the same time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, select

from rcp import auth
from rcp.db import make_engine
from rcp.models import OutboxMessage
from tests.conftest import set_settings
from tests.factories import make_user
from tests.unit.test_notify import smtp_server  # noqa: F401 - the fixture


def test_a_reset_request_returns_while_the_mail_server_is_still_busy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server,  # noqa: F811
) -> None:
    inbox, port, cert = smtp_server
    release = threading.Event()
    real_handle = type(inbox).handle_DATA

    async def slow_handle(self, server, session, envelope):  # type: ignore[no-untyped-def]
        while not release.is_set():  # the mail server holds the message until told
            import asyncio

            await asyncio.sleep(0.05)
        return await real_handle(self, server, session, envelope)

    monkeypatch.setattr(type(inbox), "handle_DATA", slow_handle)
    engine = make_engine(f"sqlite:///{tmp_path / 'mail.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        doctor = make_user(session)  # its own emails go to the outbox: no SMTP yet
        session.commit()  # end the read transaction: the request below writes
        set_settings(
            monkeypatch,
            smtp_host="localhost",
            smtp_port=port,
            smtp_starttls="true",
            smtp_ca_file=str(cert),
            smtp_timeout_seconds="120",  # a synchronous send would wait for the server
        )
        done = threading.Event()

        def ask() -> None:
            with Session(engine) as s:
                auth.request_password_reset(s, email=doctor.email)
            done.set()

        worker = threading.Thread(target=ask)
        worker.start()
        # The request is over although the mail server has not taken the message yet.
        assert done.wait(timeout=60), "the request waited for the mail server"
        assert inbox.messages == []
        release.set()
        # Read with a deferred (non-locking) engine: the mail thread needs the write lock.
        reader = make_engine(f"sqlite:///{tmp_path / 'mail.db'}", immediate=False)
        row = None
        for _ in range(600):
            with Session(reader) as look:
                row = look.exec(
                    select(OutboxMessage)
                    .where(OutboxMessage.to == doctor.email)
                    .order_by(OutboxMessage.id.desc())  # type: ignore[union-attr]
                ).first()
            if row is not None and row.status == "sent":
                break
            threading.Event().wait(0.1)
        reader.dispose()
        assert row is not None and row.status == "sent" and row.body is None
        assert len(inbox.messages) >= 1
        worker.join()
    engine.dispose()
