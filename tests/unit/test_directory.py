"""Networks, families, RCPs, coordinators and members."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp import directory
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.models import AuditEvent, MembershipStatus, OutboxMessage
from tests.factories import make_admin, make_coordinator, make_member, make_rcp, make_user, mobile


def test_admin_builds_the_tree_and_doctors_browse_it(session: Session) -> None:
    rcp = make_rcp(session)
    doctor = make_user(session)
    networks = directory.list_networks(session, actor=doctor)
    assert [n.code for n in networks] == ["ORKID"]
    families = directory.list_families(session, actor=doctor, network_id=networks[0].id)
    assert [f.name for f in families] == ["GEM et SNI (SNLGM, HSF) adulte"]
    assert [r.id for r in directory.list_rcps(session, actor=doctor, family_id=families[0].id)] == [
        rcp.id
    ]
    t = directory.get_rcp(session, actor=doctor, rcp_id=rcp.id)
    assert (t.network.code, t.family.name) == ("ORKID", "GEM et SNI (SNLGM, HSF) adulte")


@pytest.mark.parametrize(
    "call",
    [
        lambda s, a, r: directory.create_network(s, actor=a, code="X", name="X"),
        lambda s, a, r: directory.create_family(s, actor=a, network_id=1, name="F"),
        lambda s, a, r: directory.create_rcp(s, actor=a, family_id=1, name="R"),
        lambda s, a, r: directory.update_rcp(
            s, actor=a, rcp_id=r.id, name="R", description="", min_specialties=3, min_participants=3
        ),
        lambda s, a, r: directory.set_role(s, actor=a, rcp_id=r.id, user_id=a.id, role="assistant"),
    ],
    ids=["create_network", "create_family", "create_rcp", "update_rcp", "set_role"],
)
def test_tree_management_is_forbidden_to_coordinators(session: Session, call) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    with pytest.raises(PermissionDenied):
        call(session, coordinator, rcp)


def test_browsing_is_forbidden_to_pending_accounts(session: Session) -> None:
    make_rcp(session)
    pending = make_user(session, active=False)
    with pytest.raises(PermissionDenied):
        directory.list_networks(session, actor=pending)


def test_unknown_ids_are_not_found(session: Session) -> None:
    doctor = make_user(session)
    with pytest.raises(NotFound):
        directory.list_families(session, actor=doctor, network_id=999)
    with pytest.raises(NotFound):
        directory.get_rcp(session, actor=doctor, rcp_id=999)


def test_network_code_is_unique(session: Session) -> None:
    make_rcp(session)
    with pytest.raises(InvalidInput, match="sigle"):
        directory.create_network(session, actor=make_admin(session), code="orkid", name="Autre")


def test_quorum_rule_is_checked(session: Session) -> None:
    rcp = make_rcp(session)
    with pytest.raises(InvalidInput, match="quorum"):
        directory.update_rcp(
            session,
            actor=make_admin(session),
            rcp_id=rcp.id,
            name=rcp.name,
            description="",
            min_specialties=0,
            min_participants=3,
        )


def test_admin_names_coordinators(session: Session) -> None:
    rcp = make_rcp(session)
    assistant = make_coordinator(session, rcp, role="assistant")
    referent = make_coordinator(session, rcp, role="referent", phone=mobile(31))
    names = {row.user.id: row.member.role for row in directory.coordinators(session, rcp.id)}
    assert names == {assistant.id: "assistant", referent.id: "referent"}


def test_coordinator_adds_and_removes_members(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    doctor = make_member(session, rcp, coordinator, phone=mobile(32))
    assert directory.is_rcp_member(session, actor=doctor, rcp_id=rcp.id)
    with pytest.raises(Conflict, match="déjà membre"):
        directory.add_member(session, actor=coordinator, rcp_id=rcp.id, user_id=doctor.id)
    member = directory.my_membership(session, actor=doctor, rcp_id=rcp.id)
    directory.remove_member(session, actor=coordinator, member_id=member.id)
    assert not directory.is_rcp_member(session, actor=doctor, rcp_id=rcp.id)


def test_member_management_is_forbidden_to_doctors_and_other_coordinators(session: Session) -> None:
    rcp = make_rcp(session)
    other_rcp = make_rcp(session, name="Néphropathie à IgA et vascularites")
    other_coordinator = make_coordinator(session, other_rcp, phone=mobile(33))
    coordinator = make_coordinator(session, rcp, phone=mobile(34))
    doctor = make_member(session, rcp, coordinator, phone=mobile(35))
    outsider = make_user(session, phone=mobile(36))
    for actor in (doctor, other_coordinator):
        with pytest.raises(PermissionDenied):
            directory.add_member(session, actor=actor, rcp_id=rcp.id, user_id=outsider.id)
    member = directory.my_membership(session, actor=doctor, rcp_id=rcp.id)
    with pytest.raises(PermissionDenied):
        directory.remove_member(session, actor=other_coordinator, member_id=member.id)


def test_only_admins_remove_a_coordinator(session: Session) -> None:
    rcp = make_rcp(session)
    first = make_coordinator(session, rcp, phone=mobile(37))
    second = make_coordinator(session, rcp, role="referent", phone=mobile(38))
    row = directory.my_membership(session, actor=second, rcp_id=rcp.id)
    with pytest.raises(PermissionDenied):
        directory.remove_member(session, actor=first, member_id=row.id)
    directory.remove_member(session, actor=make_admin(session), member_id=row.id)


def test_membership_request_notifies_coordinators_and_is_decided(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    doctor = make_user(session, phone=mobile(39))
    member = directory.request_membership(session, actor=doctor, rcp_id=rcp.id)
    assert member.status == MembershipStatus.requested
    assert not directory.is_rcp_member(session, actor=doctor, rcp_id=rcp.id)
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.to == coordinator.email)).all()
    assert any("Demande d'adhésion" in m.subject for m in mail)
    with pytest.raises(Conflict, match="déjà envoyée"):
        directory.request_membership(session, actor=doctor, rcp_id=rcp.id)
    with pytest.raises(PermissionDenied):
        directory.decide_membership(session, actor=doctor, member_id=member.id, accept=True)
    directory.decide_membership(session, actor=coordinator, member_id=member.id, accept=True)
    assert directory.is_rcp_member(session, actor=doctor, rcp_id=rcp.id)
    with pytest.raises(Conflict):
        directory.decide_membership(session, actor=coordinator, member_id=member.id, accept=False)
    answer = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.to == doctor.email, OutboxMessage.subject.contains("adhésion")
        )
    ).one()
    assert "acceptée" in answer.body
    actions = {e.action for e in session.exec(select(AuditEvent)).all()}
    assert {"directory.membership_requested", "directory.membership_accepted"} <= actions


def test_refused_member_may_ask_again(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    doctor = make_user(session, phone=mobile(40))
    member = directory.request_membership(session, actor=doctor, rcp_id=rcp.id)
    directory.decide_membership(session, actor=coordinator, member_id=member.id, accept=False)
    again = directory.request_membership(session, actor=doctor, rcp_id=rcp.id)
    assert again.status == MembershipStatus.requested


def test_search_active_doctors_is_for_coordinators(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    make_user(session, last_name="Zorro", phone=mobile(41))
    make_user(session, last_name="Zorrino", active=False, phone=mobile(42))
    assert [
        u.last_name
        for u in directory.search_active_doctors(session, actor=coordinator, search="zorr")
    ] == ["Zorro"]
    with pytest.raises(PermissionDenied):
        directory.search_active_doctors(session, actor=make_user(session, phone=mobile(43)))
