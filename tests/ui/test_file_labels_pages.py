"""A case's files are listed by kind in words and size in the reader's units (issue "Every
word in French (and English)": no internal code such as "pdf", no "39.2KB")."""

from __future__ import annotations

from sqlmodel import Session

from tests.factories import make_case_team, sign_in
from tests.ui.conftest import texts
from tests.ui.test_directory_pages import page
from tests.unit.test_opinions import add_attachment

REPORT = b"%PDF-1.4\n" + b"0" * (40_141 - 9)  # 39.2 KiB


def _case_with_a_report(db: Session, *, language: str | None = None):  # type: ignore[no-untyped-def]
    team = make_case_team(db)
    add_attachment(db, team.case, REPORT, "compte_rendu.pdf", "pdf")
    if language:
        team.pathologist.language = language
        db.add(team.pathologist)
        db.commit()
    return team


def test_the_case_page_lists_a_pdf_as_a_report_with_its_size_in_ko(db: Session) -> None:
    team = _case_with_a_report(db)
    at = page("cas", sign_in(db, team.pathologist), id=str(team.case.id))
    assert not at.exception
    assert "compte\\_rendu\\.pdf · Compte rendu PDF · 39,2 Ko" in texts(at)
    assert "· pdf ·" not in texts(at)


def test_the_case_page_lists_a_pdf_as_a_report_in_english(db: Session) -> None:
    team = _case_with_a_report(db, language="en")
    at = page("cas", sign_in(db, team.pathologist), id=str(team.case.id))
    assert not at.exception
    assert "compte\\_rendu\\.pdf · PDF report · 39.2 kB" in texts(at)
