"""Test data built through the services, as users would build it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlmodel import Session, col, select

from rcp import accounts, auth
from rcp.models import OutboxMessage, User

PASSWORD = "Correct-Horse-Battery-9"
_seq = itertools.count(1)


def mobile(n: int) -> str:
    """A valid French mobile number built on libphonenumber's own example number."""
    example = phonenumbers.example_number_for_type("FR", phonenumbers.PhoneNumberType.MOBILE)
    base = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    return base[:-2] + f"{n % 100:02d}"


def registration(**overrides: object) -> accounts.Registration:
    n = next(_seq)
    values: dict[str, object] = {
        "last_name": "Testeur",
        "first_name": "Camille",
        "email": f"medecin{n}@hopital.example",
        "phone": mobile(n),
        "specialty": "Néphrologie",
        "institution": "CHU Exemple",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "terms_accepted": True,
        "rpps": "",
    }
    values.update(overrides)
    if "password" in overrides and "password_confirm" not in overrides:
        values["password_confirm"] = overrides["password"]
    return accounts.Registration(**values)  # type: ignore[arg-type]


def make_admin(session: Session, email: str = "admin@plateforme.example") -> User:
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing:
        return existing
    return accounts.create_admin(session, email=email, password=PASSWORD, phone=mobile(99))


def make_user(session: Session, *, active: bool = True, **overrides: object) -> User:
    """A registered doctor, approved by an admin unless ``active`` is False."""
    user = accounts.register(session, form=registration(**overrides))
    if active:
        admin = make_admin(session)
        accounts.approve(session, actor=admin, user_id=user.id)
        session.refresh(user)
    return user


def last_sms_code(session: Session, phone: str) -> str:
    session.commit()  # end any open read transaction: the SMS may come from another process
    row = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.to == phone, OutboxMessage.channel == "sms")
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    assert row is not None and row.body, f"no SMS for {phone}"
    match = re.search(r"\b(\d{6})\b", row.body)
    assert match, row.body
    return match.group(1)


def sign_in(session: Session, user: User, password: str = PASSWORD) -> str:
    """Full sign-in (password, SMS code, hand-off); returns the session token."""
    step = auth.begin_sign_in(session, email=user.email, password=password)
    handoff = auth.verify_sign_in_code(
        session, challenge_id=step.challenge_id, code=last_sms_code(session, user.phone)
    )
    _login, token = auth.complete_sign_in(session, handoff=handoff)
    return token


def make_coordinator_direct(
    session: Session, *, role: str = "assistant", user: User | None = None, **overrides: object
) -> User:
    """An active doctor who coordinates one new RCP (role assistant or referent).

    Network, family, RCP and RcpMember rows are inserted directly, without the directory
    services (for tests that only need someone to be a coordinator).
    """
    from rcp.models import MemberRole, Network, Rcp, RcpFamily, RcpMember

    if user is None:
        user = make_user(session, **overrides)
    n = next(_seq)
    network = Network(code=f"NET{n}", name=f"Filière test {n}")
    session.add(network)
    session.flush()
    family = RcpFamily(network_id=network.id, name=f"Famille test {n}")  # type: ignore[arg-type]
    session.add(family)
    session.flush()
    rcp = Rcp(family_id=family.id, name=f"RCP test {n}")  # type: ignore[arg-type]
    session.add(rcp)
    session.flush()
    session.add(RcpMember(rcp_id=rcp.id, user_id=user.id, role=MemberRole(role)))  # type: ignore[arg-type]
    session.commit()
    return user


# --- directory and meetings (through the services) -------------------------------------------


def make_rcp(session: Session, *, name: str = "GEM et SNI (SNLGM, HSF) adulte"):
    """Network ORKID → family → RCP, made by an admin; returns the RCP."""
    from rcp import directory
    from rcp.models import Network

    admin = make_admin(session)
    network = session.exec(select(Network).where(Network.code == "ORKID")).first()
    if network is None:
        network = directory.create_network(
            session, actor=admin, code="ORKID", name="Maladies rénales rares"
        )
    family = directory.create_family(session, actor=admin, network_id=network.id, name=name)
    return directory.create_rcp(session, actor=admin, family_id=family.id, name=name)


def make_coordinator(session: Session, rcp, *, role: str = "assistant", **overrides) -> User:
    from rcp import directory

    user = make_user(session, **overrides)
    directory.set_role(
        session, actor=make_admin(session), rcp_id=rcp.id, user_id=user.id, role=role
    )
    return user


def make_member(session: Session, rcp, coordinator: User, **overrides) -> User:
    from rcp import directory

    user = make_user(session, **overrides)
    directory.add_member(session, actor=coordinator, rcp_id=rcp.id, user_id=user.id)
    return user


def make_meeting(
    session: Session,
    rcp,
    coordinator: User,
    *,
    days_ahead: int = 10,
    start_hour: int = 14,
    **kwargs,
):
    import datetime as dt

    from rcp import meetings
    from rcp.dates import PARIS

    day = (dt.datetime.now(PARIS) + dt.timedelta(days=days_ahead)).date()
    return meetings.schedule_meeting(
        session,
        actor=coordinator,
        rcp_id=rcp.id,
        day=day,
        start=dt.time(start_hour, 0),
        end=dt.time(start_hour + 2, 0),
        **kwargs,
    )


def case_form(**overrides):
    """A case form with only the mandatory fields, overridable."""
    import datetime as dt

    from rcp.cases import CaseForm

    values = {
        "last_name": "Exemple",
        "first_name": "Patient",
        "birth_date": dt.date(1980, 5, 17),
        "sex": "F",
        "patient_informed": True,
    }
    values.update(overrides)
    return CaseForm(**values)


def make_case(session: Session, meeting, submitter: User, *, submit: bool = True, **overrides):
    """A case saved (and by default submitted) by ``submitter`` through the services."""
    from rcp import cases

    case = cases.save_draft(
        session, actor=submitter, meeting_id=meeting.id, form=case_form(**overrides)
    )
    if submit:
        case = cases.submit(session, actor=submitter, case_id=case.id)
    return case


def pass_deadline(session: Session, meeting) -> None:
    """Let time pass: the case deadline is over but the meeting has not started."""
    import datetime as dt

    from rcp.models import utcnow

    meeting.case_deadline = utcnow() - dt.timedelta(minutes=1)
    session.add(meeting)
    session.commit()


def move_to_past(session: Session, meeting) -> None:
    """Let time pass: the meeting happened yesterday."""
    import datetime as dt

    from rcp.models import utcnow

    meeting.starts_at = utcnow() - dt.timedelta(days=1, hours=2)
    meeting.ends_at = utcnow() - dt.timedelta(days=1)
    meeting.case_deadline = meeting.starts_at
    session.add(meeting)
    session.commit()


# --- a running meeting (room open) -------------------------------------------------------------


def start_now(session: Session, meeting, *, started_minutes_ago: int = 10) -> None:
    """Let time pass: the meeting started a few minutes ago and runs for two hours.

    Submit cases before calling this (the case deadline is the start).
    """
    import datetime as dt

    from rcp.models import utcnow

    meeting.starts_at = utcnow() - dt.timedelta(minutes=started_minutes_ago)
    meeting.ends_at = meeting.starts_at + dt.timedelta(hours=2)
    meeting.case_deadline = min(meeting.case_deadline, meeting.starts_at)
    session.add(meeting)
    session.commit()


@dataclass(frozen=True)
class RunningMeeting:
    """A meeting under way and the (email, phone) of its coordinator and of a participant."""

    id: int
    coordinator: tuple[str, str]
    participant: tuple[str, str]


def seed_running_meeting(database_url: str, *, phones: tuple[int, int]) -> RunningMeeting:
    """A running meeting with two submitted cases ("Durandal", "Bernard"), its coordinator
    Nadia Lefort and a confirmed participant Inès Marchal, written into that database."""
    from rcp.db import make_engine

    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            rcp = make_rcp(session)
            coordinator = make_coordinator(
                session, rcp, phone=mobile(phones[0]), first_name="Nadia", last_name="Lefort"
            )
            meeting = make_meeting(session, rcp, coordinator)
            participant = make_confirmed(
                session,
                meeting,
                coordinator,
                phone=mobile(phones[1]),
                first_name="Inès",
                last_name="Marchal",
            )
            make_case(session, meeting, coordinator, last_name="Durandal", first_name="Lucie")
            make_case(session, meeting, coordinator, last_name="Bernard", first_name="Paul")
            start_now(session, meeting)
            return RunningMeeting(
                id=meeting.id,
                coordinator=(coordinator.email, coordinator.phone),
                participant=(participant.email, participant.phone),
            )
    finally:
        engine.dispose()


def make_confirmed(session: Session, meeting, coordinator: User, **overrides) -> User:
    """A doctor invited by the coordinator who confirmed ("Valider ma participation")."""
    from rcp import meetings

    user = make_user(session, **overrides)
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=user.id)
    meetings.respond(session, actor=user, meeting_id=meeting.id, accept=True)
    return user


def make_running_meeting(session: Session, rcp, coordinator: User, *, started_minutes_ago=10):
    """A meeting whose room is open now (scheduled through the service, then moved in time)."""
    meeting = make_meeting(session, rcp, coordinator)
    start_now(session, meeting, started_minutes_ago=started_minutes_ago)
    return meeting


# --- an opinion to write: a case discussed in a running meeting -------------------------------


@dataclass
class CaseTeam:
    """Everyone around one submitted case, the meeting running (see ``make_case_team``)."""

    rcp: Any
    meeting: Any
    case: Any
    assistant: User  # coordinator (assistant) of the RCP, néphrologie
    referent: User  # coordinator (referent) of the RCP, néphrologie
    nephrologist: User  # confirmed participant, néphrologie
    pathologist: User  # confirmed participant, anatomopathologie
    geneticist: User  # confirmed participant, génétique médicale
    invited: User  # invited, has not confirmed
    submitter: User  # member of the RCP who submitted the case, not a participant
    stranger: User  # active doctor with no link to the RCP
    other_coordinator: User  # assistant of another RCP
    admin: User


CASE_TEAM_TEXT = {
    "last_name": "Lœvenbruck",
    "first_name": "Éloïse",
    "question": "Faut-il introduire l'éculizumab « en première intention » ?",
    "summary": "Syndrome néphrotique impur avec œdèmes des membres inférieurs depuis mars.",
    "history": "Hypertension artérielle depuis 2015 ; césarienne en 2009.",
    "treatments": "Ramipril 10 mg/j, furosémide 40 mg/j.",
    "histology": "PBR du 12/06/2026 : glomérulopathie à dépôts de C3, 18 glomérules.",
    "genetics": "Variant hétérozygote du gène CFH, classe 4 (probablement pathogène).",
    "results": "Complément : C3 effondré, C4 normal ; anticorps anti-facteur H négatifs.",
    "labs": [
        {"code": "creatinine", "value": "142", "taken_on": "2026-03-02"},
        {"code": "creatinine", "value": "195", "taken_on": "2026-09-21"},
        {"code": "proteinuria", "value": "3,2", "taken_on": "2026-03-02"},
        {"code": "proteinuria", "value": "2,4", "taken_on": "2026-09-21"},
        {"code": "albumin", "value": "27,5", "taken_on": "2026-09-21"},
    ],
}


def make_case_team(session: Session, *, rcp_name: str = "GEM et SNI (SNLGM, HSF) adulte"):
    """A submitted case (French text, labs) in a meeting that started ten minutes ago.

    Nobody has joined the room yet: ``attend`` records who did.
    """
    from rcp import meetings

    rcp = make_rcp(session, name=rcp_name)
    assistant = make_coordinator(
        session, rcp, role="assistant", first_name="Hélène", last_name="Dubœuf"
    )
    referent = make_coordinator(
        session, rcp, role="referent", first_name="Noël", last_name="Lefèvre-Cœur"
    )
    meeting = make_meeting(session, rcp, assistant)
    submitter = make_member(
        session,
        rcp,
        assistant,
        first_name="François",
        last_name="Garçon",
        institution="CHU de Besançon, service de néphrologie",
    )
    case = make_case(session, meeting, submitter, **CASE_TEAM_TEXT)
    nephrologist = make_confirmed(
        session, meeting, assistant, first_name="Maëlle", last_name="Rivière"
    )
    pathologist = make_confirmed(
        session,
        meeting,
        assistant,
        first_name="Jérôme",
        last_name="Çelik",
        specialty="Anatomopathologie",
    )
    geneticist = make_confirmed(
        session,
        meeting,
        assistant,
        first_name="Anaïs",
        last_name="Bérénice",
        specialty="Génétique",
    )
    invited = make_user(session, first_name="Inès", last_name="Attente")
    meetings.invite(session, actor=assistant, meeting_id=meeting.id, user_id=invited.id)
    stranger = make_user(session, first_name="Paul", last_name="Étranger")
    other_rcp = make_rcp(session, name="SHU atypique et MAT")
    other_coordinator = make_coordinator(
        session, other_rcp, first_name="Odile", last_name="Ailleurs"
    )
    start_now(session, meeting)
    session.refresh(case)
    return CaseTeam(
        rcp=rcp,
        meeting=meeting,
        case=case,
        assistant=assistant,
        referent=referent,
        nephrologist=nephrologist,
        pathologist=pathologist,
        geneticist=geneticist,
        invited=invited,
        submitter=submitter,
        stranger=stranger,
        other_coordinator=other_coordinator,
        admin=make_admin(session),
    )


def attend(session: Session, meeting, *users: User) -> None:
    """These users joined the meeting's video room (through rcp.attendance)."""
    from rcp import attendance

    for user in users:
        attendance.record_join(session, actor=user, meeting_id=meeting.id)
