"""Low items of the security review (issue 14): sign-out by GET from another site, attachments
that only pretend to be PDFs, sign-in attempts from one address."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from rcp import auth
from rcp.errors import AuthFailed, RateLimited
from rcp.files import expand_upload
from rcp.models import AuditEvent
from tests.factories import PASSWORD, make_case_team, make_user
from tests.factories import sign_in as sign_in_service
from tests.unit.test_backup import pdf_bytes
from tests.unit.test_opinions import add_attachment
from tests.unit.test_web_files import client, db  # noqa: F401 - fixtures

POLYGLOT = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n%%EOF\n"


def test_a_get_to_logout_from_another_site_does_not_end_the_session(
    client: TestClient,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    user = make_user(db)
    token = sign_in_service(db, user)
    client.cookies.set("rcp_session", token)
    answer = client.get("/auth/logout", follow_redirects=False)
    assert answer.headers["location"] == "/"
    assert auth.authenticate(db, token=token) is not None  # still signed in
    # "Se déconnecter" ends the session in the page first; the GET then drops the cookie.
    auth.sign_out(db, token=token)
    answer = client.get("/auth/logout", follow_redirects=False)
    assert answer.headers["location"] == "/?signed_out=1"
    assert 'rcp_session=""' in answer.headers["set-cookie"]
    # A same-origin POST ends a live session itself.
    other = sign_in_service(db, user)
    client.cookies.set("rcp_session", other)
    client.post("/auth/logout", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert auth.authenticate(db, token=other) is None
    third = sign_in_service(db, user)
    client.cookies.set("rcp_session", third)
    client.post("/auth/logout", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert auth.authenticate(db, token=third) is not None


def test_a_file_that_only_pretends_to_be_a_pdf_is_downloaded_not_shown(
    client: TestClient,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    team = make_case_team(db)
    # The upload's check only looks at the signatures: the file is stored as a PDF.
    (item,) = expand_upload("cr.pdf", POLYGLOT, max_file_bytes=10**7, max_total_bytes=10**7)
    assert item.kind == "pdf"
    fake = add_attachment(db, team.case, POLYGLOT, "cr.pdf", "pdf")
    real = add_attachment(db, team.case, pdf_bytes(), "vrai.pdf", "pdf")
    client.cookies.set("rcp_session", sign_in_service(db, team.pathologist))
    shown = client.get(f"/files/{real.id}")
    assert shown.headers["content-disposition"].startswith("inline")
    fake_answer = client.get(f"/files/{fake.id}")
    assert fake_answer.headers["content-disposition"].startswith("attachment")
    assert fake_answer.headers["content-type"] == "application/pdf"


def test_failed_sign_ins_from_one_address_stop_that_address_not_the_accounts(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import set_settings

    set_settings(monkeypatch, sign_in_failures_per_address=6)
    doctors = [make_user(session) for _ in range(3)]
    for doctor in doctors:  # two wrong passwords each: no account is locked
        for _ in range(2):
            with pytest.raises(AuthFailed):
                auth.begin_sign_in(
                    session, email=doctor.email, password="mauvais", ip_address="198.51.100.7"
                )
    calls: list[str] = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda *a: calls.append("hash") or real(*a))
    with pytest.raises(RateLimited) as refused:
        auth.begin_sign_in(
            session, email=doctors[0].email, password=PASSWORD, ip_address="198.51.100.7"
        )
    assert "depuis votre réseau" in str(refused.value)
    assert calls == []  # refused before any password hash is computed
    # The same doctor, from their own address, signs in.
    step = auth.begin_sign_in(
        session, email=doctors[0].email, password=PASSWORD, ip_address="192.0.2.10"
    )
    assert step.challenge_id
    throttled = session.exec(
        select(AuditEvent).where(AuditEvent.action == "auth.address_throttled")
    ).all()
    assert [e.ip_address for e in throttled] == ["198.51.100.7"]
