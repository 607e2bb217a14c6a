"""The "Journal d'audit" admin page and the coordinators' "Accès aux cas" page, via AppTest."""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath

import pytest
from sqlmodel import Session, select
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import app_test

from rcp import audit, cases
from rcp.models import AuditEvent
from rcp.ui.text import escape_markdown
from tests.factories import (
    make_admin,
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
)
from tests.ui.conftest import texts
from tests.ui.test_directory_pages import page


def _table(at) -> list[dict]:
    (frame,) = at.dataframe
    return frame.value.to_dict("records")


def test_admin_filters_the_journal_and_gets_an_export_button(db: Session) -> None:
    admin = make_admin(db)
    doctor = make_user(db, last_name="Journalisé", phone=mobile(30))
    audit.record(db, "case.viewed", actor_id=doctor.id, target_type="case", target_id=41)
    audit.record(db, "file.downloaded", actor_id=admin.id, target_type="attachment", target_id=5)
    db.commit()
    at = page("admin_journal", sign_in(db, admin))
    assert not at.exception
    assert "case.viewed" in {row["action"] for row in _table(at)}
    assert [b.label for b in at.get("download_button")] == ["Exporter en CSV"]

    at.text_input(key="journal_action").input("case.")
    at.text_input(key="journal_user").input("journalisé")
    at = at.button(key="FormSubmitter:journal_filters-Filtrer").click().run()
    (row,) = _table(at)
    assert (row["action"], row["cible"]) == ("case.viewed", "case 41")
    assert doctor.email in row["acteur"]
    assert "1** événement(s)" in texts(at)


class _KeptMediaFiles(MediaFileManager):
    """AppTest makes one media file manager per run and drops it; keep them to click."""

    made: list[MediaFileManager] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made.append(self)


def _download(at, manager: MediaFileManager) -> bytes:
    """What the browser gets when it clicks the (deferred) download button of the last run."""
    (button,) = at.get("download_button")
    assert button.proto.deferred_file_id  # built on click, not at each rerun
    url = manager.execute_deferred(button.proto.deferred_file_id)
    stored = manager.read_file(PurePosixPath(url).stem)
    assert stored is not None and stored.mimetype == "text/csv"
    return stored.content


def test_the_csv_export_holds_exactly_the_filtered_events(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_KeptMediaFiles, "made", [])
    monkeypatch.setattr(app_test, "MediaFileManager", _KeptMediaFiles)
    admin = make_admin(db)
    doctor = make_user(db, last_name="Journalisé", phone=mobile(36))
    other = make_user(db, last_name="Autre", phone=mobile(37))
    wanted = [
        audit.record(db, "case.viewed", actor_id=doctor.id, target_type="case", target_id=41),
        audit.record(
            db, "case.opinion_read", actor_id=doctor.id, target_type="case", target_id=42, v=2
        ),
    ]
    audit.record(db, "case.viewed", actor_id=other.id, target_type="case", target_id=41)
    audit.record(db, "file.downloaded", actor_id=doctor.id, target_type="attachment", target_id=5)
    db.commit()
    at = page("admin_journal", sign_in(db, admin))
    at.text_input(key="journal_action").input("case.")
    at.text_input(key="journal_user").input("journalisé")
    at = at.button(key="FormSubmitter:journal_filters-Filtrer").click().run()
    assert not at.exception
    exports = select(AuditEvent).where(AuditEvent.action == "audit.exported")
    assert db.exec(exports).all() == []  # showing the page exported nothing

    data = _download(at, _KeptMediaFiles.made[-1])
    assert data.startswith("\ufeff".encode())  # BOM: French spreadsheets read it as UTF-8
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
    header, *rows = list(reader)
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
    assert {r["acteur_id"] for r in records} == {str(doctor.id)}
    assert all(doctor.email in r["acteur"] for r in records)
    assert records[0]["details"] == "v=2"
    db.rollback()  # end the test's read snapshot: see what the click wrote
    (export,) = db.exec(exports).all()  # the click is audited, with the filter and the count
    assert export.actor_id == admin.id and export.details["rows"] == 2
    assert export.details["filter"] == {"action": "case.", "user": "journalisé"}


def test_coordinator_sees_who_opened_a_case_of_the_rcp(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(32))
    member = make_member(db, rcp, coordinator, phone=mobile(33), last_name="Lecteur")
    case = make_case(db, make_meeting(db, rcp, coordinator), member, last_name="Patiente")
    cases.get_case(db, actor=member, case_id=case.id)
    at = page("acces_cas", sign_in(db, coordinator))
    assert not at.exception
    (expander,) = at.expander
    assert "PATIENTE" in expander.label and "1 lecteur(s)" in expander.label
    # The readers table (markdown): the reader, 1 opening, 0 downloads.
    assert f"| {escape_markdown(member.display_name)} | 1 | 0 |" in texts(at)


def test_access_page_is_refused_to_doctors_who_coordinate_nothing(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(34))
    member = make_member(db, rcp, coordinator, phone=mobile(35))
    make_case(db, make_meeting(db, rcp, coordinator), member, last_name="Secret")
    for user in (member, make_admin(db)):
        at = page("acces_cas", sign_in(db, user))
        assert "réservée à l'assistant(e)" in texts(at)
        assert "SECRET" not in texts(at) and not at.expander
