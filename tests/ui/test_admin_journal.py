"""The "Journal d'audit" admin page and the coordinators' "Accès aux cas" page, via AppTest."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from sqlmodel import Session, select

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
from tests.ui.conftest import link_buttons, texts
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
    # The action and its target by name; the code beside them (what the filter searches).
    assert ("Cas consulté", "case.viewed") in {(row["action"], row["code"]) for row in _table(at)}
    assert "Fichier 5" in {row["cible"] for row in _table(at)}
    assert list(link_buttons(at)) == ["Exporter en CSV"]

    at.text_input(key="journal_action").input("case.")
    at.text_input(key="journal_user").input("journalisé")
    at = at.button(key="FormSubmitter:journal_filters-Filtrer").click().run()
    (row,) = _table(at)
    assert (row["action"], row["code"], row["cible"]) == ("Cas consulté", "case.viewed", "Cas 41")
    assert doctor.email in row["acteur"]
    assert "1** événement(s)" in texts(at)


def test_the_journal_names_actions_and_targets_in_english(db: Session) -> None:
    admin = make_admin(db)
    admin.language = "en"
    db.add(admin)
    audit.record(db, "auth.sign_in", actor_id=admin.id, target_type="loginsession", target_id=7)
    db.commit()
    at = page("admin_journal", sign_in(db, admin))
    assert not at.exception
    rows = {row["code"]: row for row in _table(at)}
    assert rows["auth.sign_in"]["action"] == "Sign in"
    assert rows["auth.sign_in"]["target"] == "Session 7"
    assert at.selectbox(key="journal_target_type").value == ""
    options = at.selectbox(key="journal_target_type").options
    assert "Case" in options and "case" not in options
    at.selectbox(key="journal_target_type").select_index(options.index("Case"))
    at = at.button(key="FormSubmitter:journal_filters-Filter").click().run()
    assert not at.exception and _table(at) == []


def test_the_export_is_a_link_to_the_authenticated_route_with_the_page_s_filter(
    db: Session,
) -> None:
    """Not a download button: its bytes would be served from /media to anyone holding the
    URL. The route (tests/unit/test_web_admin.py) checks the session and audits."""
    admin = make_admin(db)
    make_user(db, last_name="Journalisé", phone=mobile(36))
    at = page("admin_journal", sign_in(db, admin))
    assert link_buttons(at)["Exporter en CSV"] == "/admin/journal.csv"
    at.text_input(key="journal_action").input("case.")
    at.text_input(key="journal_user").input("journalisé")
    at.date_input(key="journal_since").set_value(dt.date(2026, 11, 2))
    at = at.button(key="FormSubmitter:journal_filters-Filtrer").click().run()
    assert not at.exception
    url = urlsplit(link_buttons(at)["Exporter en CSV"])
    assert url.path == "/admin/journal.csv"
    assert parse_qs(url.query) == {
        "action": ["case."],
        "user": ["journalisé"],
        "since": ["2026-11-02"],
    }
    assert at.get("download_button") == []
    exports = select(AuditEvent).where(AuditEvent.action == "audit.exported")
    assert db.exec(exports).all() == []  # showing the page exported nothing


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
