"""Fictitious demo data (`python -m rcp seed-demo`): idempotent, no real person in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, func, select

from rcp.dates import PARIS
from rcp.models import (
    Meeting,
    MeetingStatus,
    MemberRole,
    MembershipStatus,
    Network,
    Participation,
    ParticipationStatus,
    Rcp,
    RcpFamily,
    RcpMember,
    User,
    UserStatus,
    utcnow,
)
from rcp.security import hash_password

DEMO_PASSWORD = "Demo-RCP-2026!"
DEMO_DOMAIN = "orkid.example"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    last_name: str
    first_name: str
    specialty: str
    institution: str
    # ARCEP's range reserved for fiction (06 39 98 xx xx): never a subscriber's number.
    phone: str
    is_admin: bool = False


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "admin",
        "Administrateur",
        "Démo",
        "Autre",
        "Plateforme RCP (démonstration)",
        "+33639980001",
        is_admin=True,
    ),
    DemoPerson(
        "assistante", "Lefort", "Nadia", "Néphrologie", "CHU Démo-Nord, néphrologie", "+33639980002"
    ),
    DemoPerson(
        "referent",
        "Vasseur",
        "Étienne",
        "Néphrologie",
        "CHU Démo-Nord, néphrologie",
        "+33639980003",
    ),
    DemoPerson(
        "medecin1",
        "Marchal",
        "Inès",
        "Néphrologie pédiatrique",
        "CHU Démo-Sud, pédiatrie",
        "+33639980004",
    ),
    DemoPerson(
        "medecin2",
        "Boyer",
        "Julien",
        "Anatomopathologie",
        "CHU Démo-Est, anatomie pathologique",
        "+33639980005",
    ),
    DemoPerson(
        "medecin3", "Renaud", "Sophie", "Génétique", "CHU Démo-Ouest, génétique", "+33639980006"
    ),
)


def demo_email(key: str) -> str:
    return f"{key}@{DEMO_DOMAIN}"


def seed_accounts(session: Session) -> dict[str, User]:
    """Create the demo accounts if missing; never touches accounts that already exist."""
    users: dict[str, User] = {}
    now = utcnow()
    password_hash = None
    for person in PEOPLE:
        email = demo_email(person.key)
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            user = User(
                email=email,
                password_hash=password_hash,
                last_name=person.last_name,
                first_name=person.first_name,
                phone=person.phone,
                specialty=person.specialty,
                institution=person.institution,
                status=UserStatus.active,
                is_admin=person.is_admin,
                terms_accepted_at=now,
                validated_at=now,
                password_changed_at=now,
            )
            session.add(user)
            session.flush()
        users[person.key] = user
    session.commit()
    return users


FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "GEM et SNI (SNLGM, HSF) adulte",
        "Glomérulopathies extramembraneuses et syndromes néphrotiques idiopathiques de "
        "l'adulte (lésions glomérulaires minimes, hyalinose segmentaire et focale).",
        ("GEM et SNI (SNLGM, HSF) adulte",),
    ),
    (
        "Syndrome néphrotique de l'enfant",
        "Syndromes néphrotiques idiopathiques et génétiques de l'enfant.",
        ("Syndrome néphrotique idiopathique pédiatrique",),
    ),
    (
        "Néphropathie à IgA et vascularites",
        "Néphropathie à IgA, purpura rhumatoïde et vascularites à ANCA.",
        ("Néphropathie à IgA", "Vascularites à ANCA"),
    ),
    (
        "SHU atypique et microangiopathies thrombotiques",
        "Syndrome hémolytique et urémique atypique et autres MAT.",
        ("SHU atypique et MAT",),
    ),
    (
        "Maladies rénales génétiques",
        "Néphropathies héréditaires, ciliopathies, polykystoses.",
        ("Néphropathies héréditaires de l'adulte", "Ciliopathies et PKD de l'enfant"),
    ),
)


def seed_directory(session: Session, users: dict[str, User]) -> None:
    """The ORKID network with its families, RCPs, coordinators, members and meetings."""
    network = session.exec(select(Network).where(Network.code == "ORKID")).first()
    if network is not None:
        return
    now = utcnow()
    network = Network(
        code="ORKID",
        name="Filière de santé maladies rénales rares",
        description="Réseau national (démonstration, données fictives).",
    )
    session.add(network)
    session.flush()
    rcps: list[Rcp] = []
    for family_name, description, rcp_names in FAMILIES:
        family = RcpFamily(network_id=network.id, name=family_name, description=description)
        session.add(family)
        session.flush()
        for rcp_name in rcp_names:
            rcp = Rcp(
                family_id=family.id,
                name=rcp_name,
                description=f"RCP nationale « {rcp_name} » de la filière ORKID.",
            )
            session.add(rcp)
            session.flush()
            rcps.append(rcp)
    gem, pediatric, iga, _vasc, shu, *_genetic = rcps
    roles = [
        (gem, "assistante", MemberRole.assistant),
        (gem, "referent", MemberRole.referent),
        (shu, "referent", MemberRole.referent),
        (pediatric, "assistante", MemberRole.assistant),
        (iga, "referent", MemberRole.referent),
        (gem, "medecin1", MemberRole.doctor),
        (gem, "medecin2", MemberRole.doctor),
        (pediatric, "medecin1", MemberRole.doctor),
        (shu, "medecin3", MemberRole.doctor),
    ]
    for rcp, key, role in roles:
        session.add(RcpMember(rcp_id=rcp.id, user_id=users[key].id, role=role, decided_at=now))
    # A membership request waiting for the coordinators.
    session.add(
        RcpMember(
            rcp_id=gem.id,
            user_id=users["medecin3"].id,
            role=MemberRole.doctor,
            status=MembershipStatus.requested,
        )
    )
    # Monthly meetings on Wednesdays, 14:00-16:00 Paris: six past, three upcoming.
    today = now.astimezone(PARIS).date()
    next_wednesday = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    for rcp in rcps:
        for offset in range(-6, 3):
            day = next_wednesday + timedelta(weeks=4 * offset)
            start = datetime.combine(day, time(14, 0), tzinfo=PARIS)
            session.add(
                Meeting(
                    rcp_id=rcp.id,
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    case_deadline=start - timedelta(days=2),
                    status=MeetingStatus.closed if offset < 0 else MeetingStatus.scheduled,
                    created_by_id=users["assistante"].id,
                )
            )
    session.flush()
    gem_meetings = session.exec(
        select(Meeting).where(Meeting.rcp_id == gem.id).order_by(col(Meeting.starts_at))
    ).all()
    past, upcoming = gem_meetings[:6], gem_meetings[6:]
    states = [
        (upcoming[0], "medecin1", ParticipationStatus.confirmed),
        (upcoming[0], "medecin2", ParticipationStatus.invited),
        (upcoming[0], "medecin3", ParticipationStatus.requested),
        (upcoming[1], "medecin1", ParticipationStatus.invited),
        (upcoming[1], "medecin2", ParticipationStatus.declined),
        (upcoming[1], "medecin3", ParticipationStatus.refused),
    ]
    for meeting in past:
        states += [
            (meeting, "medecin1", ParticipationStatus.confirmed),
            (meeting, "medecin2", ParticipationStatus.confirmed),
        ]
    for meeting, key, status in states:
        session.add(
            Participation(
                meeting_id=meeting.id,
                user_id=users[key].id,
                status=status,
                invited_by_id=users["assistante"].id,
            )
        )
    session.commit()


def seed_demo(session: Session) -> dict[str, int]:
    """Everything the demo needs; returns counts of what exists afterwards."""
    users = seed_accounts(session)
    seed_directory(session, users)
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    return {
        "comptes": count(User),
        "RCP": count(Rcp),
        "séances": count(Meeting),
        "participations": count(Participation),
    }
