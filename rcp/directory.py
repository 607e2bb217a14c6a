"""Networks, RCP families, RCPs and their members (coordinators and doctors)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from rcp import audit, i18n, notify, roles
from rcp.config import get_settings
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.i18n import _
from rcp.models import (
    COORDINATOR_ROLES,
    MemberRole,
    MembershipStatus,
    Network,
    Rcp,
    RcpFamily,
    RcpMember,
    User,
    UserStatus,
    utcnow,
)
from rcp.permissions import (
    is_admin,
    is_coordinator,
    membership,
    require_active,
    require_admin,
    require_coordinator,
)
from rcp.validation import clean_text


@dataclass(frozen=True)
class Trail:
    """Where an RCP sits: for breadcrumbs and titles."""

    network: Network
    family: RcpFamily
    rcp: Rcp


@dataclass(frozen=True)
class MemberRow:
    member: RcpMember
    user: User


# --- reading ---------------------------------------------------------------------------------


def list_networks(session: Session, *, actor: User) -> list[Network]:
    require_active(actor)
    return list(session.exec(select(Network).order_by(col(Network.name))).all())


def get_network(session: Session, *, actor: User, network_id: int) -> Network:
    require_active(actor)
    network = session.get(Network, network_id)
    if network is None:
        raise NotFound(_("Filière introuvable."))
    return network


def list_families(session: Session, *, actor: User, network_id: int) -> list[RcpFamily]:
    get_network(session, actor=actor, network_id=network_id)
    return list(
        session.exec(
            select(RcpFamily)
            .where(RcpFamily.network_id == network_id)
            .order_by(col(RcpFamily.name))
        ).all()
    )


def get_family(session: Session, *, actor: User, family_id: int) -> tuple[Network, RcpFamily]:
    require_active(actor)
    family = session.get(RcpFamily, family_id)
    if family is None:
        raise NotFound(_("Famille de RCP introuvable."))
    network = session.get(Network, family.network_id)
    assert network is not None
    return network, family


def list_rcps(session: Session, *, actor: User, family_id: int) -> list[Rcp]:
    get_family(session, actor=actor, family_id=family_id)
    return list(
        session.exec(select(Rcp).where(Rcp.family_id == family_id).order_by(col(Rcp.name))).all()
    )


def trail(session: Session, rcp_id: int) -> Trail:
    """Network, family and RCP of ``rcp_id`` (no permission: callers check)."""
    rcp = session.get(Rcp, rcp_id)
    if rcp is None:
        raise NotFound(_("RCP introuvable."))
    family = session.get(RcpFamily, rcp.family_id)
    assert family is not None
    network = session.get(Network, family.network_id)
    assert network is not None
    return Trail(network=network, family=family, rcp=rcp)


def get_rcp(session: Session, *, actor: User, rcp_id: int) -> Trail:
    require_active(actor)
    return trail(session, rcp_id)


def list_members(
    session: Session, *, actor: User, rcp_id: int, status: MembershipStatus | None = None
) -> list[MemberRow]:
    """Members of an RCP (any active user may see who belongs to an RCP)."""
    require_active(actor)
    trail(session, rcp_id)
    query = (
        select(RcpMember, User)
        .join(User, col(User.id) == RcpMember.user_id)
        .where(RcpMember.rcp_id == rcp_id)
    )
    if status is not None:
        query = query.where(RcpMember.status == status)
    rows = session.exec(query.order_by(col(User.last_name), col(User.first_name))).all()
    return [MemberRow(member=m, user=u) for m, u in rows]


def coordinators(session: Session, rcp_id: int) -> list[MemberRow]:
    rows = session.exec(
        select(RcpMember, User)
        .join(User, col(User.id) == RcpMember.user_id)
        .where(
            RcpMember.rcp_id == rcp_id,
            RcpMember.status == MembershipStatus.active,
            col(RcpMember.role).in_([str(r) for r in COORDINATOR_ROLES]),
        )
        .order_by(col(RcpMember.role), col(User.last_name))
    ).all()
    return [MemberRow(member=m, user=u) for m, u in rows]


def coordinators_by_rcp(session: Session, rcp_ids: list[int]) -> dict[int, list[MemberRow]]:
    """``coordinators`` of several RCPs in one query, keyed by RCP id (every id present)."""
    result: dict[int, list[MemberRow]] = {rcp_id: [] for rcp_id in rcp_ids}
    if not rcp_ids:
        return result
    rows = session.exec(
        select(RcpMember, User)
        .join(User, col(User.id) == RcpMember.user_id)
        .where(
            col(RcpMember.rcp_id).in_(rcp_ids),
            RcpMember.status == MembershipStatus.active,
            col(RcpMember.role).in_([str(r) for r in COORDINATOR_ROLES]),
        )
        .order_by(col(RcpMember.role), col(User.last_name))
    ).all()
    for member, user in rows:
        result[member.rcp_id].append(MemberRow(member=member, user=user))
    return result


def my_membership(session: Session, *, actor: User, rcp_id: int) -> RcpMember | None:
    """The actor's membership row of any status (to show 'demande envoyée' etc.)."""
    require_active(actor)
    return session.exec(
        select(RcpMember).where(RcpMember.rcp_id == rcp_id, RcpMember.user_id == actor.id)
    ).first()


def coordinated_rcp_ids(session: Session, user: User) -> list[int]:
    return list(
        session.exec(
            select(RcpMember.rcp_id).where(
                RcpMember.user_id == user.id,
                RcpMember.status == MembershipStatus.active,
                col(RcpMember.role).in_([str(r) for r in COORDINATOR_ROLES]),
            )
        ).all()
    )


def search_active_doctors(
    session: Session, *, actor: User, search: str = "", limit: int = 50
) -> list[User]:
    """Active accounts a coordinator may invite or add (by name or email)."""
    require_active(actor)
    if not (is_admin(actor) or coordinated_rcp_ids(session, actor)):
        raise PermissionDenied(_("Réservé aux coordinateurs de RCP et aux administrateurs."))
    query = select(User).where(User.status == UserStatus.active)
    term = search.strip().lower()
    if term:
        like = f"%{term}%"
        query = query.where(
            func.lower(User.last_name).like(like)
            | func.lower(User.first_name).like(like)
            | col(User.email).like(like)
        )
    return list(
        session.exec(query.order_by(col(User.last_name), col(User.first_name)).limit(limit)).all()
    )


# --- admin: the tree -------------------------------------------------------------------------


def _name(value: str, label: str) -> str:
    return clean_text(value, label=label, field="name", max_length=200, required=True)


def _description(value: str) -> str:
    return clean_text(
        value, label=_("Description"), field="description", max_length=2000, multiline=True
    )


def create_network(
    session: Session, *, actor: User, code: str, name: str, description: str = ""
) -> Network:
    require_admin(actor)
    code = clean_text(code, label=_("Sigle"), field="code", max_length=30, required=True).upper()
    if session.exec(select(Network).where(Network.code == code)).first():
        raise InvalidInput(
            _("Une filière porte déjà le sigle {code}.").format(code=code), field="code"
        )
    network = Network(
        code=code, name=_name(name, _("Nom de la filière")), description=_description(description)
    )
    session.add(network)
    session.flush()
    audit.record(
        session,
        "directory.network_created",
        actor_id=actor.id,
        target_type="network",
        target_id=network.id,
    )
    session.commit()
    return network


def create_family(
    session: Session, *, actor: User, network_id: int, name: str, description: str = ""
) -> RcpFamily:
    require_admin(actor)
    if session.get(Network, network_id) is None:
        raise NotFound(_("Filière introuvable."))
    family = RcpFamily(
        network_id=network_id,
        name=_name(name, _("Nom de la famille")),
        description=_description(description),
    )
    session.add(family)
    session.flush()
    audit.record(
        session,
        "directory.family_created",
        actor_id=actor.id,
        target_type="family",
        target_id=family.id,
    )
    session.commit()
    return family


def _check_rules(min_specialties: int, min_participants: int) -> None:
    if not 1 <= min_specialties <= 10:
        raise InvalidInput(
            _("Le quorum de spécialités doit être compris entre 1 et 10."), field="min_specialties"
        )
    if not 1 <= min_participants <= 100:
        raise InvalidInput(
            _("Le nombre minimal de participants doit être compris entre 1 et 100."),
            field="min_participants",
        )


def create_rcp(
    session: Session,
    *,
    actor: User,
    family_id: int,
    name: str,
    description: str = "",
    min_specialties: int = 3,
    min_participants: int = 3,
) -> Rcp:
    require_admin(actor)
    if session.get(RcpFamily, family_id) is None:
        raise NotFound(_("Famille de RCP introuvable."))
    _check_rules(min_specialties, min_participants)
    rcp = Rcp(
        family_id=family_id,
        name=_name(name, _("Nom de la RCP")),
        description=_description(description),
        min_specialties=min_specialties,
        min_participants=min_participants,
    )
    session.add(rcp)
    session.flush()
    audit.record(
        session, "directory.rcp_created", actor_id=actor.id, target_type="rcp", target_id=rcp.id
    )
    session.commit()
    return rcp


def update_rcp(
    session: Session,
    *,
    actor: User,
    rcp_id: int,
    name: str,
    description: str,
    min_specialties: int,
    min_participants: int,
) -> Rcp:
    require_admin(actor)
    rcp = trail(session, rcp_id).rcp
    _check_rules(min_specialties, min_participants)
    rcp.name = _name(name, _("Nom de la RCP"))
    rcp.description = _description(description)
    rcp.min_specialties = min_specialties
    rcp.min_participants = min_participants
    session.add(rcp)
    audit.record(
        session, "directory.rcp_updated", actor_id=actor.id, target_type="rcp", target_id=rcp.id
    )
    session.commit()
    return rcp


def _active_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.status != UserStatus.active:
        raise NotFound(_("Compte introuvable ou inactif."))
    return user


def set_role(
    session: Session, *, actor: User, rcp_id: int, user_id: int, role: MemberRole
) -> RcpMember:
    """Admins name coordinators (assistant, referent) or set anyone's role on an RCP."""
    require_admin(actor)
    trail(session, rcp_id)
    user = _active_user(session, user_id)
    role = MemberRole(role)
    member = session.exec(
        select(RcpMember).where(RcpMember.rcp_id == rcp_id, RcpMember.user_id == user.id)
    ).first()
    if member is None:
        member = RcpMember(rcp_id=rcp_id, user_id=user.id)  # type: ignore[arg-type]
    member.role = role
    member.status = MembershipStatus.active
    member.decided_at = utcnow()
    member.decided_by_id = actor.id
    session.add(member)
    session.flush()
    audit.record(
        session,
        "directory.role_set",
        actor_id=actor.id,
        target_type="rcpmember",
        target_id=member.id,
        rcp_id=rcp_id,
        user_id=user.id,
        role=str(role),
    )
    session.commit()
    return member


# --- coordinators: members -------------------------------------------------------------------


def add_member(session: Session, *, actor: User, rcp_id: int, user_id: int) -> RcpMember:
    """A coordinator makes an active doctor a member (who may then submit cases).

    Members are the RCP's coordinators' business: they add and remove them
    (``remove_member``). Admins name coordinators with ``set_role`` and do not add doctors.
    """
    require_coordinator(session, actor, rcp_id)
    user = _active_user(session, user_id)
    member = session.exec(
        select(RcpMember).where(RcpMember.rcp_id == rcp_id, RcpMember.user_id == user.id)
    ).first()
    if member is not None and member.status == MembershipStatus.active:
        raise Conflict(_("{name} est déjà membre de cette RCP.").format(name=user.display_name))
    if member is None:
        member = RcpMember(rcp_id=rcp_id, user_id=user.id, role=MemberRole.doctor)  # type: ignore[arg-type]
    member.status = MembershipStatus.active
    member.decided_at = utcnow()
    member.decided_by_id = actor.id
    session.add(member)
    session.flush()
    audit.record(
        session,
        "directory.member_added",
        actor_id=actor.id,
        target_type="rcpmember",
        target_id=member.id,
        rcp_id=rcp_id,
        user_id=user.id,
    )
    session.commit()
    return member


def remove_member(session: Session, *, actor: User, member_id: int) -> None:
    """The RCP's coordinators remove its doctors, as they add them (``add_member``); only
    admins, who name coordinators (``set_role``), remove a coordinator."""
    member = session.get(RcpMember, member_id)
    if member is None:
        raise NotFound(_("Membre introuvable."))
    if member.role in COORDINATOR_ROLES:
        require_admin(actor)
    else:
        require_coordinator(session, actor, member.rcp_id)
    audit.record(
        session,
        "directory.member_removed",
        actor_id=actor.id,
        target_type="rcpmember",
        target_id=member.id,
        rcp_id=member.rcp_id,
        user_id=member.user_id,
    )
    session.delete(member)
    session.commit()


def request_membership(session: Session, *, actor: User, rcp_id: int) -> RcpMember:
    """A doctor asks to become a member of an RCP; its coordinators are told by email."""
    require_active(actor)
    t = trail(session, rcp_id)
    existing = session.exec(
        select(RcpMember).where(RcpMember.rcp_id == rcp_id, RcpMember.user_id == actor.id)
    ).first()
    if existing is not None:
        if existing.status == MembershipStatus.active:
            raise Conflict(_("Vous êtes déjà membre de cette RCP."))
        if existing.status == MembershipStatus.requested:
            raise Conflict(_("Votre demande est déjà envoyée ; les coordinateurs vont y répondre."))
        existing.status = MembershipStatus.requested
        existing.created_at = utcnow()
        member = existing
    else:
        member = RcpMember(
            rcp_id=rcp_id,
            user_id=actor.id,
            role=MemberRole.doctor,  # type: ignore[arg-type]
            status=MembershipStatus.requested,
        )
    session.add(member)
    session.flush()
    settings = get_settings()
    link = f"{settings.base_url.rstrip('/')}/fiche-rcp?id={rcp_id}"  # i18n: exempt (a URL)
    for row in coordinators(session, rcp_id):
        with i18n.using(i18n.recipient_language(row.user, rcp=t.rcp)):
            notify.send_email(
                session,
                to=row.user.email,
                subject=_("Demande d'adhésion à la RCP {name}").format(name=t.rcp.name),
                body=_(
                    "Bonjour {name},\n\n{requester} ({specialty}, {institution}) demande à "
                    "devenir membre de la RCP {rcp}.\n\nPour accepter ou refuser : {link}\n"
                ).format(
                    name=row.user.display_name,
                    requester=actor.display_name,
                    specialty=roles.qualification(actor),
                    institution=actor.institution,
                    rcp=t.rcp.name,
                    link=link,
                ),
            )
    audit.record(
        session,
        "directory.membership_requested",
        actor_id=actor.id,
        target_type="rcpmember",
        target_id=member.id,
        rcp_id=rcp_id,
    )
    session.commit()
    return member


def decide_membership(session: Session, *, actor: User, member_id: int, accept: bool) -> RcpMember:
    member = session.get(RcpMember, member_id)
    if member is None:
        raise NotFound(_("Demande introuvable."))
    require_coordinator(session, actor, member.rcp_id)
    if member.status != MembershipStatus.requested:
        raise Conflict(_("Cette demande a déjà reçu une réponse."))
    member.status = MembershipStatus.active if accept else MembershipStatus.refused
    member.decided_at = utcnow()
    member.decided_by_id = actor.id
    session.add(member)
    user = session.get(User, member.user_id)
    assert user is not None
    t = trail(session, member.rcp_id)
    with i18n.using(i18n.recipient_language(user, rcp=t.rcp)):
        verdict = (
            _("acceptée : vous pouvez désormais soumettre des cas") if accept else _("refusée")
        )
        notify.send_email(
            session,
            to=user.email,
            subject=_("Votre demande d'adhésion à la RCP {name}").format(name=t.rcp.name),
            body=_(
                "Bonjour {name},\n\nVotre demande d'adhésion à la RCP {rcp} a été {verdict}.\n"
            ).format(name=user.display_name, rcp=t.rcp.name, verdict=verdict),
        )
    audit.record(
        session,
        "directory.membership_" + ("accepted" if accept else "refused"),
        actor_id=actor.id,
        target_type="rcpmember",
        target_id=member.id,
        rcp_id=member.rcp_id,
        user_id=member.user_id,
    )
    session.commit()
    return member


def can_manage(session: Session, *, actor: User, rcp_id: int) -> bool:
    return is_coordinator(session, actor, rcp_id)


def is_rcp_member(session: Session, *, actor: User, rcp_id: int) -> bool:
    return membership(session, actor, rcp_id) is not None
