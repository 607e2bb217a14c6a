"""Drafts and withdrawn cases are their submitter's alone on every page (issue 14.4)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from rcp.models import CaseStatus
from tests.factories import make_case_team, sign_in
from tests.ui.conftest import texts
from tests.ui.test_avis_page import page


@pytest.mark.parametrize("status", [CaseStatus.draft, CaseStatus.withdrawn])
@pytest.mark.parametrize("who", ["assistant", "referent", "nephrologist"])
def test_opinion_page_hides_a_draft_or_withdrawn_case_from_everyone_but_its_submitter(
    db: Session, status: CaseStatus, who: str
) -> None:
    team = make_case_team(db)
    team.case.status = status
    db.add(team.case)
    db.commit()
    at = page(sign_in(db, getattr(team, who)), case=str(team.case.id))
    shown = texts(at)
    assert "Cas introuvable, ou vous n'avez pas accès à ce cas." in shown
    assert team.case.patient_last_name.upper() not in shown
    assert team.case.patient_first_name not in shown


def test_submitter_still_opens_the_opinion_page_of_their_withdrawn_case(db: Session) -> None:
    team = make_case_team(db)
    team.case.status = CaseStatus.withdrawn
    db.add(team.case)
    db.commit()
    at = page(sign_in(db, team.submitter), case=str(team.case.id))
    assert f"— {team.case.patient_last_name.upper()} {team.case.patient_first_name}" in texts(at)
