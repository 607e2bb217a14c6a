"""Invitations to register: who may send them, the single-use link, resend and revoke."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from rcp import accounts, invites
from rcp.errors import AuthFailed, Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.models import (
    AuditEvent,
    Case,
    Meeting,
    MembershipStatus,
    OutboxMessage,
    RcpMember,
    RegistrationInvite,
    Sex,
    User,
    UserStatus,
    utcnow,
)
from tests.conftest import set_settings
from tests.factories import make_admin, make_coordinator_direct, make_user, registration

GUEST = "invite.confrere@chu.example"


def _mails(session: Session, to: str) -> list[OutboxMessage]:
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.to == to, OutboxMessage.channel == "email")
            .order_by(col(OutboxMessage.id))
        ).all()
    )


def _link_token(session: Session, to: str = GUEST) -> str:
    """The token of the last invitation link emailed to ``to``."""
    body = _mails(session, to)[-1].body
    match = re.search(r"/inscription\?invitation=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


def _expire(session: Session, invite: RegistrationInvite) -> None:
    invite.expires_at = utcnow() - timedelta(minutes=1)
    session.add(invite)
    session.commit()


# --- who may invite ---------------------------------------------------------------------------


def test_admin_invitation_email_carries_the_link_and_the_message(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(
        session, actor=admin, email=" Invite.Confrere@CHU.example ", message="Bienvenue !"
    )
    assert invite.email == GUEST
    mail = _mails(session, GUEST)[-1]
    assert mail.subject == "RCP ORKID : invitation à vous inscrire"
    assert "http://localhost:8501/inscription?invitation=" in mail.body
    assert "« Bienvenue ! »" in mail.body
    assert admin.display_name in mail.body
    assert "14 jours" in mail.body
    assert invites.find_valid(session, token=_link_token(session)).id == invite.id
    # Only the hash is stored, never the token itself.
    assert _link_token(session) not in invite.token_hash


def test_invitation_email_holds_no_patient_or_rcp_data(session: Session) -> None:
    coordinator = make_coordinator_direct(session)
    member = session.exec(select(RcpMember).where(RcpMember.user_id == coordinator.id)).one()
    start = utcnow() + timedelta(days=7)
    meeting = Meeting(
        rcp_id=member.rcp_id,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        case_deadline=start - timedelta(days=2),
    )
    session.add(meeting)
    session.flush()
    session.add(
        Case(
            meeting_id=meeting.id,  # type: ignore[arg-type]
            submitter_id=coordinator.id,  # type: ignore[arg-type]
            patient_last_name="Zéphyrin",
            patient_first_name="Apolline",
            patient_birth_date=date(2012, 3, 4),
            patient_sex=Sex.female,
            summary="Syndrome néphrotique cortico-résistant",
        )
    )
    session.commit()
    invites.create_invite(session, actor=coordinator, email=GUEST)
    body = _mails(session, GUEST)[-1].body
    for secret in ("Zéphyrin", "Apolline", "2012", "néphrotique", "RCP test", coordinator.phone):
        assert secret not in body


@pytest.mark.parametrize("role", ["assistant", "referent"])
def test_rcp_coordinator_may_invite(session: Session, role: str) -> None:
    coordinator = make_coordinator_direct(session, role=role)
    invite = invites.create_invite(session, actor=coordinator, email=GUEST)
    assert invite.invited_by_id == coordinator.id
    assert invites.may_invite(session, coordinator)


def test_plain_doctor_may_not_invite(session: Session) -> None:
    doctor = make_user(session)
    with pytest.raises(PermissionDenied, match="coordinateurs"):
        invites.create_invite(session, actor=doctor, email=GUEST)
    assert not invites.may_invite(session, doctor)
    assert session.exec(select(RegistrationInvite)).all() == []


def test_doctor_member_of_an_rcp_may_not_invite(session: Session) -> None:
    doctor = make_coordinator_direct(session, role="doctor")
    with pytest.raises(PermissionDenied):
        invites.create_invite(session, actor=doctor, email=GUEST)


def test_coordinator_whose_membership_is_only_requested_may_not_invite(session: Session) -> None:
    coordinator = make_coordinator_direct(session)
    member = session.exec(select(RcpMember).where(RcpMember.user_id == coordinator.id)).one()
    member.status = MembershipStatus.requested
    session.add(member)
    session.commit()
    with pytest.raises(PermissionDenied):
        invites.create_invite(session, actor=coordinator, email=GUEST)
    assert not invites.may_invite(session, coordinator)


def test_pending_account_may_not_invite_even_as_coordinator(session: Session) -> None:
    pending = make_user(session, active=False)
    make_coordinator_direct(session, user=pending)
    with pytest.raises(PermissionDenied, match="pas actif"):
        invites.create_invite(session, actor=pending, email=GUEST)
    with pytest.raises(PermissionDenied):
        invites.list_invites(session, actor=pending)
    assert not invites.may_invite(session, pending)


def test_nobody_signed_in_may_not_invite(session: Session) -> None:
    with pytest.raises(PermissionDenied):
        invites.create_invite(session, actor=None, email=GUEST)  # type: ignore[arg-type]
    assert not invites.may_invite(session, None)


def test_invitation_for_an_email_that_has_an_account_is_refused(session: Session) -> None:
    admin = make_admin(session)
    doctor = make_user(session, active=False)
    with pytest.raises(Conflict, match="existe déjà"):
        invites.create_invite(session, actor=admin, email=doctor.email.upper())
    assert _mails(session, doctor.email)[-1].subject != "RCP ORKID : invitation à vous inscrire"


def test_invalid_email_or_too_long_message_is_refused(session: Session) -> None:
    admin = make_admin(session)
    with pytest.raises(InvalidInput, match="n'est pas valide"):
        invites.create_invite(session, actor=admin, email="pas-une-adresse")
    with pytest.raises(InvalidInput) as excinfo:
        invites.create_invite(session, actor=admin, email=GUEST, message="x" * 1001)
    assert excinfo.value.field == "message"


def test_second_live_invitation_from_the_same_inviter_is_refused(session: Session) -> None:
    admin = make_admin(session)
    first = invites.create_invite(session, actor=admin, email=GUEST)
    with pytest.raises(Conflict, match="Renvoyer"):
        invites.create_invite(session, actor=admin, email=GUEST)
    invites.revoke_invite(session, actor=admin, invite_id=first.id)
    again = invites.create_invite(session, actor=admin, email=GUEST)
    assert again.id != first.id


def test_validity_follows_the_invite_ttl_days_setting(session: Session, monkeypatch) -> None:
    set_settings(monkeypatch, invite_ttl_days=3)
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    assert (
        timedelta(days=3) - timedelta(minutes=1) < invite.expires_at - utcnow() <= timedelta(days=3)
    )
    assert "3 jours" in _mails(session, GUEST)[-1].body


# --- the link ----------------------------------------------------------------------------------


def test_registration_through_the_link_takes_the_invited_address(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    user = accounts.register(
        session,
        form=registration(email="autre.adresse@ailleurs.example"),
        invite_token=_link_token(session),
    )
    assert user.email == GUEST
    assert user.status == UserStatus.pending
    assert user.registration_invite_id == invite.id
    session.refresh(invite)
    assert invite.used_at is not None
    assert invites.state_of(invite) == invites.InviteState.used
    assert (
        session.exec(select(User).where(User.email == "autre.adresse@ailleurs.example")).first()
        is None
    )


def test_link_is_single_use(session: Session) -> None:
    admin = make_admin(session)
    invites.create_invite(session, actor=admin, email=GUEST)
    token = _link_token(session)
    accounts.register(session, form=registration(), invite_token=token)
    with pytest.raises(AuthFailed, match="n'est plus valable"):
        accounts.register(session, form=registration(), invite_token=token)
    assert len(session.exec(select(User).where(User.status == UserStatus.pending)).all()) == 1


def test_spending_an_already_spent_invitation_fails(session: Session) -> None:
    """The conditional update refuses a second use even with a stale object in hand."""
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    invites.mark_used(session, invite=invite)
    session.commit()
    # As another request that read the row before the first use would hold it.
    session.expunge(invite)
    invite.used_at = None
    with pytest.raises(AuthFailed):
        invites.mark_used(session, invite=invite)


def test_expired_link_is_refused(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    token = _link_token(session)
    _expire(session, invite)
    with pytest.raises(AuthFailed, match="expiré"):
        invites.find_valid(session, token=token)
    with pytest.raises(AuthFailed):
        accounts.register(session, form=registration(), invite_token=token)
    assert invites.state_of(invite) == invites.InviteState.expired
    assert session.exec(select(User).where(User.status == UserStatus.pending)).all() == []


def test_revoked_link_is_refused(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    token = _link_token(session)
    invites.revoke_invite(session, actor=admin, invite_id=invite.id)
    with pytest.raises(AuthFailed, match="révoqué"):
        accounts.register(session, form=registration(), invite_token=token)
    assert invites.state_of(invite) == invites.InviteState.revoked
    with pytest.raises(Conflict, match="déjà révoquée"):
        invites.revoke_invite(session, actor=admin, invite_id=invite.id)


def test_unknown_or_empty_token_is_refused(session: Session) -> None:
    for token in ("", "pas-un-jeton"):
        with pytest.raises(AuthFailed):
            invites.find_valid(session, token=token)


def test_resend_invalidates_the_old_link_and_extends_validity(session: Session) -> None:
    coordinator = make_coordinator_direct(session)
    invite = invites.create_invite(session, actor=coordinator, email=GUEST)
    old_token = _link_token(session)
    invite.expires_at = utcnow() + timedelta(days=1)
    session.add(invite)
    session.commit()
    invites.resend_invite(session, actor=coordinator, invite_id=invite.id)
    new_token = _link_token(session)
    assert new_token != old_token
    assert invite.send_count == 2
    assert invite.expires_at - utcnow() > timedelta(days=13)
    with pytest.raises(AuthFailed):
        invites.find_valid(session, token=old_token)
    assert invites.find_valid(session, token=new_token).id == invite.id
    assert len(_mails(session, GUEST)) == 2


def test_resend_revives_an_expired_invitation(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    _expire(session, invite)
    invites.resend_invite(session, actor=admin, invite_id=invite.id)
    assert invites.state_of(invite) == invites.InviteState.pending


def test_resend_is_refused_once_used_or_revoked_or_account_exists(session: Session) -> None:
    admin = make_admin(session)
    used = invites.create_invite(session, actor=admin, email=GUEST)
    accounts.register(session, form=registration(), invite_token=_link_token(session))
    with pytest.raises(Conflict, match="déjà servi"):
        invites.resend_invite(session, actor=admin, invite_id=used.id)
    with pytest.raises(Conflict, match="déjà servi"):
        invites.revoke_invite(session, actor=admin, invite_id=used.id)

    revoked = invites.create_invite(session, actor=admin, email="autre@chu.example")
    invites.revoke_invite(session, actor=admin, invite_id=revoked.id)
    with pytest.raises(Conflict, match="révoquée"):
        invites.resend_invite(session, actor=admin, invite_id=revoked.id)

    # The colleague registered without the link meanwhile: resending is pointless.
    late = invites.create_invite(session, actor=admin, email="tardif@chu.example")
    accounts.register(session, form=registration(email="tardif@chu.example"))
    with pytest.raises(Conflict, match="existe déjà"):
        invites.resend_invite(session, actor=admin, invite_id=late.id)


# --- lists and ownership -----------------------------------------------------------------------


def test_coordinators_see_only_their_own_invitations(session: Session) -> None:
    alice = make_coordinator_direct(session)
    bob = make_coordinator_direct(session, role="referent")
    mine = invites.create_invite(session, actor=alice, email="a@chu.example")
    invites.create_invite(session, actor=bob, email="b@chu.example")
    assert [i.id for i in invites.list_invites(session, actor=alice)] == [mine.id]
    rows = invites.list_invite_rows(session, actor=alice)
    assert [(r.invite.id, r.state, r.inviter_name) for r in rows] == [
        (mine.id, invites.InviteState.pending, alice.display_name)
    ]


def test_admin_sees_every_invitation_newest_first(session: Session) -> None:
    admin = make_admin(session)
    alice = make_coordinator_direct(session)
    first = invites.create_invite(session, actor=alice, email="a@chu.example")
    second = invites.create_invite(session, actor=admin, email="b@chu.example")
    rows = invites.list_invite_rows(session, actor=admin)
    assert [(r.invite.id, r.inviter_name) for r in rows] == [
        (second.id, admin.display_name),
        (first.id, alice.display_name),
    ]


def test_plain_doctor_may_not_list_invitations(session: Session) -> None:
    with pytest.raises(PermissionDenied):
        invites.list_invites(session, actor=make_user(session))


def test_coordinator_may_not_resend_or_revoke_another_ones_invitation(session: Session) -> None:
    alice = make_coordinator_direct(session)
    bob = make_coordinator_direct(session)
    theirs = invites.create_invite(session, actor=bob, email=GUEST)
    with pytest.raises(NotFound):
        invites.revoke_invite(session, actor=alice, invite_id=theirs.id)
    with pytest.raises(NotFound):
        invites.resend_invite(session, actor=alice, invite_id=theirs.id)
    session.refresh(theirs)
    assert theirs.revoked_at is None and theirs.send_count == 1


def test_admin_may_revoke_a_coordinators_invitation(session: Session) -> None:
    admin = make_admin(session)
    theirs = invites.create_invite(session, actor=make_coordinator_direct(session), email=GUEST)
    invites.revoke_invite(session, actor=admin, invite_id=theirs.id)
    assert theirs.revoked_at is not None


def test_invitation_actions_are_audited(session: Session) -> None:
    admin = make_admin(session)
    invite = invites.create_invite(session, actor=admin, email=GUEST)
    invites.resend_invite(session, actor=admin, invite_id=invite.id)
    invites.revoke_invite(session, actor=admin, invite_id=invite.id)
    actions = session.exec(
        select(AuditEvent.action).where(AuditEvent.target_type == "invite")
    ).all()
    assert actions == ["invite.created", "invite.resent", "invite.revoked"]


# --- context for the validation queue ----------------------------------------------------------


def test_admin_gets_the_invitation_a_registration_came_with(session: Session) -> None:
    admin = make_admin(session)
    coordinator = make_coordinator_direct(session)
    invite = invites.create_invite(session, actor=coordinator, email=GUEST, message="Néphro péd.")
    user = accounts.register(session, form=registration(), invite_token=_link_token(session))
    plain = accounts.register(session, form=registration())
    context = invites.invite_context(session, actor=admin, user=user)
    assert context is not None
    assert context.invite.id == invite.id
    assert context.inviter_name == coordinator.display_name
    assert context.invite.message == "Néphro péd."
    assert invites.invite_context(session, actor=admin, user=plain) is None


def test_only_admins_get_the_invitation_context(session: Session) -> None:
    coordinator = make_coordinator_direct(session)
    invites.create_invite(session, actor=coordinator, email=GUEST)
    user = accounts.register(session, form=registration(), invite_token=_link_token(session))
    with pytest.raises(PermissionDenied):
        invites.invite_for_user(session, actor=coordinator, user=user)
