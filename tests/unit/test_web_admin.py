"""The audit log's CSV export leaves through an authenticated, audited route, never /media.

It names staff, their addresses and what each read: without a session 401, for anyone but an
admin the same 404 as a missing document, never cached; the admin gets exactly the events of
the page's filter, and the export is itself recorded with that filter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from rcp import audit, web
from rcp.models import AuditEvent
from tests.factories import make_admin, make_user, mobile, sign_in

URL = "/admin/journal.csv"


@pytest.fixture
def client(web_db: Session) -> TestClient:
    return TestClient(Starlette(routes=web.routes()), base_url="http://127.0.0.1")


def _exports(db: Session) -> list[AuditEvent]:
    db.rollback()  # end the test's read snapshot: see what the route wrote
    return db.exec(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()


def test_without_a_session_or_as_a_doctor_the_journal_is_refused(
    client: TestClient, web_db: Session
) -> None:
    doctor = make_user(web_db, phone=mobile(40))
    audit.record(web_db, "case.viewed", actor_id=doctor.id, target_type="case", target_id=1)
    web_db.commit()
    anonymous = client.get(URL)
    assert anonymous.status_code == 401 and "Connectez-vous" in anonymous.text
    assert anonymous.headers["cache-control"] == "no-store"
    client.cookies.set("rcp_session", sign_in(web_db, doctor))
    refused = client.get(URL)
    assert refused.status_code == 404 and "introuvable" in refused.text
    assert doctor.email not in refused.text
    assert _exports(web_db) == []


def test_the_admin_gets_exactly_the_filtered_events_and_the_export_is_audited(
    client: TestClient, web_db: Session
) -> None:
    admin = make_admin(web_db)
    doctor = make_user(web_db, last_name="Journalisé", phone=mobile(36))
    other = make_user(web_db, last_name="Autre", phone=mobile(37))
    wanted = [
        audit.record(web_db, "case.viewed", actor_id=doctor.id, target_type="case", target_id=41),
        audit.record(
            web_db, "case.opinion_read", actor_id=doctor.id, target_type="case", target_id=42, v=2
        ),
    ]
    audit.record(web_db, "case.viewed", actor_id=other.id, target_type="case", target_id=41)
    audit.record(
        web_db, "file.downloaded", actor_id=doctor.id, target_type="attachment", target_id=5
    )
    web_db.commit()
    client.cookies.set("rcp_session", sign_in(web_db, admin))
    spec = audit.AuditFilter(action="case.", user="journalisé")
    response = client.get(URL, params=spec.to_query())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith('attachment; filename="journal-')
    data = response.content
    assert data.startswith("\ufeff".encode())  # BOM: French spreadsheets read it as UTF-8
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert header == [
        "id",
        "date (UTC)",
        "date (Paris)",
        "action",
        "acteur_id",
        "acteur",
        "cible_type",
        "cible_id",
        "details",
        "ip",
    ]
    records = [dict(zip(header, row, strict=True)) for row in rows]
    # Exactly the two events of the filter, newest first, each with its own columns.
    assert [r["id"] for r in records] == [str(e.id) for e in reversed(wanted)]
    assert [(r["action"], r["cible_type"], r["cible_id"]) for r in records] == [
        ("case.opinion_read", "case", "42"),
        ("case.viewed", "case", "41"),
    ]
    assert all(doctor.email in r["acteur"] for r in records)
    assert records[0]["details"] == "v=2"
    (export,) = _exports(web_db)  # the download is audited, with the filter and the count
    assert export.actor_id == admin.id and export.details["rows"] == 2
    assert export.details["filter"] == {"action": "case.", "user": "journalisé"}


def test_the_filter_travels_in_the_link_and_a_malformed_one_is_refused_in_french(
    client: TestClient, web_db: Session
) -> None:
    spec = audit.AuditFilter(
        action="auth.",
        user="dupont",
        since=dt.date(2026, 11, 1),
        until=dt.date(2026, 11, 30),
        target_type="case",
        target_id=7,
    )
    assert audit.AuditFilter.from_query(spec.to_query()) == spec
    assert audit.AuditFilter().to_query() == {}
    client.cookies.set("rcp_session", sign_in(web_db, make_admin(web_db)))
    bad_day = client.get(URL, params={"since": "31/11/2026"})
    assert bad_day.status_code == 422 and "Date de filtre illisible" in bad_day.text
    bad_target = client.get(URL, params={"target_id": "7; drop"})
    assert bad_target.status_code == 422 and "N° de cible illisible" in bad_target.text
    assert _exports(web_db) == []
