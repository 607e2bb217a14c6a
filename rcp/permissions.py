"""Who may do what: small predicates, and require_*() versions that raise PermissionDenied."""

from __future__ import annotations

from sqlmodel import Session, select

from rcp.errors import PermissionDenied
from rcp.i18n import _
from rcp.models import COORDINATOR_ROLES, MembershipStatus, RcpMember, User, UserStatus


def is_active(user: User | None) -> bool:
    return user is not None and user.status == UserStatus.active


def is_admin(user: User | None) -> bool:
    return is_active(user) and bool(user and user.is_admin)


def require_active(user: User | None) -> User:
    """The user, if signed in with an active account; raises PermissionDenied otherwise."""
    if user is None:
        raise PermissionDenied(_("Vous devez être connecté pour effectuer cette action."))
    if user.status != UserStatus.active:
        raise PermissionDenied(_("Votre compte n'est pas actif."))
    return user


def require_admin(user: User | None) -> User:
    require_active(user)
    assert user is not None
    if not user.is_admin:
        raise PermissionDenied(_("Cette action est réservée aux administrateurs."))
    return user


# --- RCP roles (need the database) ----------------------------------------------------------


def membership(session: Session, user: User | None, rcp_id: int) -> RcpMember | None:
    """The user's active membership of an RCP (any role), or None."""
    if user is None or user.id is None:
        return None
    return session.exec(
        select(RcpMember).where(
            RcpMember.rcp_id == rcp_id,
            RcpMember.user_id == user.id,
            RcpMember.status == MembershipStatus.active,
        )
    ).first()


def is_member(session: Session, user: User | None, rcp_id: int) -> bool:
    return is_active(user) and membership(session, user, rcp_id) is not None


def is_coordinator(session: Session, user: User | None, rcp_id: int) -> bool:
    """Assistant or referent doctor of this RCP (admins are not coordinators by default)."""
    if not is_active(user):
        return False
    member = membership(session, user, rcp_id)
    return member is not None and member.role in COORDINATOR_ROLES


def require_coordinator(session: Session, user: User | None, rcp_id: int) -> User:
    require_active(user)
    assert user is not None
    if not is_coordinator(session, user, rcp_id):
        raise PermissionDenied(
            _("Cette action est réservée à l'assistant(e) et aux médecins référents de la RCP.")
        )
    return user
