"""The admin's "Filières et RCP" page: admins name coordinators and remove them (AppTest)."""

from __future__ import annotations

from sqlmodel import Session, select

from rcp.models import RcpMember
from tests.factories import make_admin, make_coordinator, make_member, make_rcp, mobile, sign_in
from tests.ui.conftest import texts
from tests.ui.test_directory_pages import page


def test_admin_removes_a_coordinator_but_is_offered_no_removal_of_doctors(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(40), last_name="Coordinatrice")
    doctor = make_member(db, rcp, coordinator, phone=mobile(41), last_name="Membre")
    row = db.exec(select(RcpMember).where(RcpMember.user_id == coordinator.id)).one()
    at = page("admin_annuaire", sign_in(db, make_admin(db)))
    assert not at.exception
    labels = [b.label for b in at.button]
    # Only coordinators have a removal button here; doctors are the coordinators' business.
    assert f"Retirer {coordinator.display_name} de la RCP" in labels
    assert not any(doctor.display_name in label for label in labels)

    at = at.button(key=f"annuaire_rm_{row.id}").click().run()
    assert not at.exception
    assert f"{coordinator.display_name} ne fait plus partie de la RCP." in texts(at)
    db.rollback()  # end the test's read snapshot: see what the click wrote
    remaining = db.exec(select(RcpMember.user_id).where(RcpMember.rcp_id == rcp.id)).all()
    assert remaining == [doctor.id]
    assert "aucun coordinateur" in texts(at)
