"""Case visibility on the opinion page (issue 14.4) and its reads in the audit log (14.5)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp import audit
from rcp.models import AuditEvent, CaseStatus
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


def test_opening_the_opinion_page_records_a_read_once_per_browser_session(db: Session) -> None:
    """/avis shows the patient's identity and the opinion: the read is in the audit log
    (issue 14.5), once per browser session however often the page reruns."""
    team = make_case_team(db)
    at = page(sign_in(db, team.nephrologist), case=str(team.case.id))
    at.run()
    db.rollback()
    reads = db.exec(
        select(AuditEvent).where(
            AuditEvent.action == "opinion.viewed", AuditEvent.actor_id == team.nephrologist.id
        )
    ).all()
    assert [(e.target_type, e.target_id) for e in reads] == [("case", team.case.id)]
    readers = audit.case_readers(db, actor=team.assistant, case_id=team.case.id)
    assert [(r.user_id, r.views) for r in readers] == [(team.nephrologist.id, 1)]
