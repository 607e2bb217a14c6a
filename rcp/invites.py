"""Invitations to register, sent by admins and RCP coordinators to colleagues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rcp import audit, notify
from rcp.config import get_settings
from rcp.errors import AuthFailed, Conflict, NotFound, PermissionDenied
from rcp.i18n import N_, _
from rcp.models import (
    COORDINATOR_ROLES,
    MembershipStatus,
    RcpMember,
    RegistrationInvite,
    User,
    utcnow,
)
from rcp.permissions import is_active, is_admin, require_active, require_admin
from rcp.security import new_token, token_hash
from rcp.validation import clean_text, normalize_email

INVALID_LINK = N_(
    "Ce lien d'invitation n'est plus valable (expiré, révoqué ou déjà utilisé). Vous "
    "pouvez vous inscrire sans invitation, ou demander un nouveau lien."
)


class InviteState(StrEnum):
    """Where an invitation stands; derived from its dates, never stored."""

    pending = "pending"
    used = "used"
    expired = "expired"
    revoked = "revoked"


@dataclass(frozen=True)
class InviteRow:
    """An invitation with what a page shows beside it."""

    invite: RegistrationInvite
    state: InviteState
    inviter_name: str


def state_of(invite: RegistrationInvite, now: datetime | None = None) -> InviteState:
    if invite.used_at is not None:
        return InviteState.used
    if invite.revoked_at is not None:
        return InviteState.revoked
    if invite.expires_at <= (now or utcnow()):
        return InviteState.expired
    return InviteState.pending


def is_any_coordinator(session: Session, user: User) -> bool:
    return (
        session.exec(
            select(RcpMember.id).where(
                RcpMember.user_id == user.id,
                col(RcpMember.role).in_([str(r) for r in COORDINATOR_ROLES]),
                RcpMember.status == MembershipStatus.active,
            )
        ).first()
        is not None
    )


def may_invite(session: Session, user: User | None) -> bool:
    """Admins and active coordinators of any RCP may invite colleagues to register."""
    return is_admin(user) or (is_active(user) and is_any_coordinator(session, user))  # type: ignore[arg-type]


def _require_inviter(session: Session, actor: User | None) -> User:
    require_active(actor)
    assert actor is not None
    if not (is_admin(actor) or is_any_coordinator(session, actor)):
        raise PermissionDenied(
            _("Seuls les administrateurs et les coordinateurs de RCP peuvent inviter un confrère.")
        )
    return actor


def _email_taken(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(User.email == email)).first() is not None


def _send(session: Session, invite: RegistrationInvite, token: str, inviter: User) -> None:
    # Only the inviter's name, their own message and the link: no RCP, meeting or patient
    # detail ever goes to an address that has no account yet.
    settings = get_settings()
    link = f"{settings.base_url.rstrip('/')}/inscription?invitation={token}"
    # The colleague has no account, hence no language of their own yet: the email is in the
    # current language (the inviter's page's), the one the inviter writes their message in.
    note = (
        _("\nSon message : « {message} »\n").format(message=invite.message)
        if invite.message
        else ""
    )
    notify.send_email(
        session,
        to=invite.email,
        subject=_("{platform} : invitation à vous inscrire").format(
            platform=settings.platform_name
        ),
        body=_(
            "Bonjour,\n\n"
            "{inviter} vous invite à rejoindre la plateforme "
            "{platform}, où se tiennent les réunions de concertation "
            "pluridisciplinaire de la filière.\n{note}\n"
            "Pour vous inscrire, cliquez sur ce lien (valable "
            "{days} jours, utilisable une seule fois) :\n\n{link}\n\n"
            "Votre inscription sera ensuite validée par un administrateur.\n"
        ).format(
            inviter=inviter.display_name,
            platform=settings.platform_name,
            note=note,
            days=settings.invite_ttl_days,
            link=link,
        ),
    )


def create_invite(
    session: Session, *, actor: User, email: str, message: str = ""
) -> RegistrationInvite:
    inviter = _require_inviter(session, actor)
    email = normalize_email(email)
    message = clean_text(
        message, label=_("Message"), field="message", max_length=1000, multiline=True
    )
    if _email_taken(session, email):
        raise Conflict(_("Un compte existe déjà avec cette adresse e-mail."))
    now = utcnow()
    # One live link per inviter and address: a second one would only confuse the colleague.
    same = session.exec(
        select(RegistrationInvite).where(
            RegistrationInvite.email == email,
            RegistrationInvite.invited_by_id == inviter.id,
            col(RegistrationInvite.used_at).is_(None),
            col(RegistrationInvite.revoked_at).is_(None),
        )
    ).all()
    if any(state_of(i, now) == InviteState.pending for i in same):
        raise Conflict(
            _(
                "Vous avez déjà invité cette adresse et le lien est encore valable. Utilisez "
                "« Renvoyer » dans la liste de vos invitations."
            )
        )
    token = new_token()
    invite = RegistrationInvite(
        email=email,
        token_hash=token_hash(token),
        invited_by_id=inviter.id,  # type: ignore[arg-type]
        message=message,
        created_at=now,
        expires_at=now + timedelta(days=get_settings().invite_ttl_days),
    )
    session.add(invite)
    session.flush()
    _send(session, invite, token, inviter)
    audit.record(
        session,
        "invite.created",
        actor_id=inviter.id,
        target_type="invite",
        target_id=invite.id,
        email=email,
    )
    session.commit()
    return invite


def find_valid(session: Session, *, token: str) -> RegistrationInvite:
    """The unused, unexpired, unrevoked invitation behind ``token``; AuthFailed otherwise."""
    invite = session.exec(
        select(RegistrationInvite).where(RegistrationInvite.token_hash == token_hash(token or ""))
    ).first()
    if invite is None or state_of(invite) != InviteState.pending:
        raise AuthFailed(_(INVALID_LINK))
    return invite


def mark_used(session: Session, *, invite: RegistrationInvite) -> None:
    """Spend the invitation within the caller's transaction (registration).

    The update is conditional so that two registrations racing on one link cannot both
    succeed: the second one updates no row and gets the "no longer valid" message.
    """
    now = utcnow()
    result = session.execute(
        sa.update(RegistrationInvite)
        .where(
            col(RegistrationInvite.id) == invite.id,
            col(RegistrationInvite.used_at).is_(None),
            col(RegistrationInvite.revoked_at).is_(None),
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AuthFailed(_(INVALID_LINK))
    invite.used_at = now


def inviter_name(session: Session, invite: RegistrationInvite) -> str:
    """The inviter's display name (the invited colleague already read it in the email)."""
    inviter = session.get(User, invite.invited_by_id)
    return inviter.display_name if inviter else _("un administrateur")


def _rows(session: Session, invites: list[RegistrationInvite]) -> list[InviteRow]:
    now = utcnow()
    ids = sorted({i.invited_by_id for i in invites})
    names = {
        u.id: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids))).all()
    }
    return [
        InviteRow(invite=i, state=state_of(i, now), inviter_name=names.get(i.invited_by_id, "—"))
        for i in invites
    ]


def list_invites(session: Session, *, actor: User) -> list[RegistrationInvite]:
    """Admins see every invitation; coordinators the ones they sent. Newest first."""
    inviter = _require_inviter(session, actor)
    query = select(RegistrationInvite)
    if not is_admin(inviter):
        query = query.where(RegistrationInvite.invited_by_id == inviter.id)
    return list(session.exec(query.order_by(col(RegistrationInvite.id).desc())).all())


def list_invite_rows(session: Session, *, actor: User) -> list[InviteRow]:
    """``list_invites`` with each invitation's state and inviter, for the invitations page."""
    return _rows(session, list_invites(session, actor=actor))


def _own_invite(session: Session, actor: User, invite_id: int) -> RegistrationInvite:
    inviter = _require_inviter(session, actor)
    invite = session.get(RegistrationInvite, invite_id)
    if invite is None or (not is_admin(inviter) and invite.invited_by_id != inviter.id):
        raise NotFound(_("Invitation introuvable."))
    return invite


def resend_invite(session: Session, *, actor: User, invite_id: int) -> RegistrationInvite:
    """Send a fresh link (the old one stops working) valid for another full period."""
    invite = _own_invite(session, actor, invite_id)
    if invite.used_at is not None:
        raise Conflict(_("Cette invitation a déjà servi à une inscription."))
    if invite.revoked_at is not None:
        raise Conflict(_("Cette invitation a été révoquée."))
    if _email_taken(session, invite.email):
        raise Conflict(_("Un compte existe déjà avec cette adresse e-mail."))
    token = new_token()
    invite.token_hash = token_hash(token)
    invite.expires_at = utcnow() + timedelta(days=get_settings().invite_ttl_days)
    invite.send_count += 1
    session.add(invite)
    _send(session, invite, token, actor)
    audit.record(
        session, "invite.resent", actor_id=actor.id, target_type="invite", target_id=invite.id
    )
    session.commit()
    return invite


def revoke_invite(session: Session, *, actor: User, invite_id: int) -> RegistrationInvite:
    invite = _own_invite(session, actor, invite_id)
    if invite.used_at is not None:
        raise Conflict(_("Cette invitation a déjà servi à une inscription."))
    if invite.revoked_at is not None:
        raise Conflict(_("Cette invitation est déjà révoquée."))
    invite.revoked_at = utcnow()
    session.add(invite)
    audit.record(
        session, "invite.revoked", actor_id=actor.id, target_type="invite", target_id=invite.id
    )
    session.commit()
    return invite


def invite_for_user(session: Session, *, actor: User, user: User) -> RegistrationInvite | None:
    """The invitation a pending registration came with (context for the admin)."""
    require_admin(actor)
    if user.registration_invite_id is None:
        return None
    return session.get(RegistrationInvite, user.registration_invite_id)


def invite_context(session: Session, *, actor: User, user: User) -> InviteRow | None:
    """``invite_for_user`` with the inviter's name, for the validation queue."""
    invite = invite_for_user(session, actor=actor, user=user)
    return _rows(session, [invite])[0] if invite is not None else None


def invite_contexts(session: Session, *, actor: User, users: list[User]) -> dict[int, InviteRow]:
    """``invite_context`` for several registrations at once (two queries, not two per user).

    Keyed by user id; users who registered without an invitation are left out.
    """
    require_admin(actor)
    wanted = {u.registration_invite_id: u.id for u in users if u.registration_invite_id}
    if not wanted:
        return {}
    found = session.exec(
        select(RegistrationInvite).where(col(RegistrationInvite.id).in_(list(wanted)))
    ).all()
    return {wanted[row.invite.id]: row for row in _rows(session, list(found))}  # type: ignore[index]
