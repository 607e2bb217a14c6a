"""A running meeting: who may take part and when, the current case, raised hands, presence.

The live window
---------------
The room (video, chat, current case, hands) opens ``room_open_minutes_before`` minutes (setting,
default 15) before ``starts_at``. It closes when a coordinator closes the meeting
(``Meeting.status == closed``), or by itself ``OVERRUN_GRACE`` after ``ends_at`` if nobody did
(meetings overrun; a room must not stay open for ever). A cancelled meeting never opens.
Reading what was said (chat history, case list) stays possible after the close for the people
who had access. Everything here lives in the database, never in process memory, so that several
app replicas see the same meeting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, func, select

from rcp import audit
from rcp.config import get_settings
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.models import (
    Attendance,
    Case,
    CaseStatus,
    ChatMessage,
    Meeting,
    MeetingStatus,
    Participation,
    ParticipationStatus,
    User,
    utcnow,
)
from rcp.permissions import is_coordinator, require_active

OVERRUN_GRACE = timedelta(hours=2)
PRESENCE_TIMEOUT = timedelta(seconds=60)
# Cases that were put on the agenda: a draft or a withdrawn case cannot be discussed.
DISCUSSABLE = (CaseStatus.submitted, CaseStatus.discussed, CaseStatus.validated)

FORBIDDEN = (
    "Seuls les participants confirmés et les coordinateurs de la RCP ont accès à la salle de "
    "cette séance."
)


class Phase(StrEnum):
    """Where a meeting stands in its live window."""

    cancelled = "cancelled"
    before = "before"  # the room is not open yet
    live = "live"  # room open: video, chat, current case, hands
    closed = "closed"  # closed by a coordinator, or overrun grace passed


def opens_at(meeting: Meeting) -> datetime:
    """When the room opens (the setting's minutes before the start)."""
    return meeting.starts_at - timedelta(minutes=get_settings().room_open_minutes_before)


def closes_at(meeting: Meeting) -> datetime:
    """When the room closes: the coordinator's close, or the end plus the overrun grace."""
    if meeting.status == MeetingStatus.closed and meeting.closed_at is not None:
        return meeting.closed_at
    return meeting.ends_at + OVERRUN_GRACE


def phase(meeting: Meeting, now: datetime | None = None) -> Phase:
    now = now or utcnow()
    if meeting.status == MeetingStatus.cancelled:
        return Phase.cancelled
    if meeting.status == MeetingStatus.closed or now >= meeting.ends_at + OVERRUN_GRACE:
        return Phase.closed
    if now < opens_at(meeting):
        return Phase.before
    return Phase.live


# --- access ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Why the actor may enter this meeting's room: coordinator, confirmed participant, or both."""

    meeting: Meeting
    is_coordinator: bool
    participation: Participation | None  # confirmed participation, if any


def _meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("Séance introuvable.")
    return meeting


def _confirmed(session: Session, meeting_id: int, user_id: int | None) -> Participation | None:
    return session.exec(
        select(Participation).where(
            Participation.meeting_id == meeting_id,
            Participation.user_id == user_id,
            Participation.status == ParticipationStatus.confirmed,
        )
    ).first()


def access(session: Session, *, actor: User, meeting_id: int) -> Access:
    """The actor's access to the room, or PermissionDenied (admins are not let in as such)."""
    require_active(actor)
    meeting = _meeting(session, meeting_id)
    coordinator = is_coordinator(session, actor, meeting.rcp_id)
    participation = _confirmed(session, meeting.id, actor.id)  # type: ignore[arg-type]
    if not coordinator and participation is None:
        raise PermissionDenied(FORBIDDEN)
    return Access(meeting=meeting, is_coordinator=coordinator, participation=participation)


def may_enter(session: Session, *, actor: User, meeting_id: int) -> bool:
    """True when the actor is a confirmed participant or a coordinator (whatever the time)."""
    try:
        access(session, actor=actor, meeting_id=meeting_id)
    except (PermissionDenied, NotFound):
        return False
    return True


def require_live(meeting: Meeting, now: datetime | None = None) -> None:
    """Conflict with a French message unless the room is open now."""
    current = phase(meeting, now)
    if current == Phase.live:
        return
    if current == Phase.cancelled:
        raise Conflict("Cette séance est annulée.")
    if current == Phase.before:
        minutes = get_settings().room_open_minutes_before
        raise Conflict(
            f"La salle de la séance n'est pas encore ouverte : elle ouvre {minutes} minutes "
            "avant le début."
        )
    raise Conflict("Cette séance est terminée.")


def _require_coordinator_access(session: Session, actor: User, meeting_id: int) -> Access:
    room = access(session, actor=actor, meeting_id=meeting_id)
    if not room.is_coordinator:
        raise PermissionDenied(
            "Cette action est réservée à l'assistant(e) et aux médecins référents de la RCP."
        )
    return room


# --- current case ------------------------------------------------------------------------------


def set_current_case(
    session: Session, *, actor: User, meeting_id: int, case_id: int | None
) -> Meeting:
    """The coordinator shows a case to everyone ("cas en cours"), or none.

    The case must belong to the meeting and have been submitted (a discussed or validated case
    may be shown again). The case that was current before becomes "discussed", unless its
    opinion is already validated. The first current case marks the meeting ``open``.
    """
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    require_live(meeting)
    case = None
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None or case.meeting_id != meeting.id:
            raise NotFound("Ce cas n'appartient pas à cette séance.")
        if case.status not in DISCUSSABLE:
            raise InvalidInput("Seul un cas soumis peut être présenté en séance.", field="case")
    previous_id = meeting.current_case_id
    if previous_id == case_id:
        return meeting
    _mark_discussed(session, previous_id)
    meeting.current_case_id = case_id
    if meeting.status == MeetingStatus.scheduled:
        meeting.status = MeetingStatus.open
    session.add(meeting)
    audit.record(
        session,
        "meeting.current_case_set",
        actor_id=actor.id,
        target_type="meeting",
        target_id=meeting.id,
        case_id=case_id,
        previous_case_id=previous_id,
    )
    session.commit()
    return meeting


def _mark_discussed(session: Session, case_id: int | None) -> None:
    if case_id is None:
        return
    case = session.get(Case, case_id)
    if case is not None and case.status == CaseStatus.submitted:
        case.status = CaseStatus.discussed
        case.updated_at = utcnow()
        session.add(case)


# --- hands ---------------------------------------------------------------------------------------


def _my_participation(
    session: Session, actor: User, meeting_id: int
) -> tuple[Meeting, Participation]:
    room = access(session, actor=actor, meeting_id=meeting_id)
    if room.participation is None:
        raise Conflict("Vous coordonnez la séance : la main levée est pour les participants.")
    return room.meeting, room.participation


def raise_hand(session: Session, *, actor: User, meeting_id: int) -> Participation:
    """A confirmed participant asks to speak; raising twice keeps the first time (queue order)."""
    meeting, row = _my_participation(session, actor, meeting_id)
    require_live(meeting)
    if row.hand_raised_at is not None:
        return row
    row.hand_raised_at = utcnow()
    session.add(row)
    audit.record(
        session,
        "meeting.hand_raised",
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return row


def lower_hand(session: Session, *, actor: User, meeting_id: int) -> Participation:
    """The participant lowers their own hand (no-op when it is not raised)."""
    meeting, row = _my_participation(session, actor, meeting_id)
    if row.hand_raised_at is None:
        return row
    row.hand_raised_at = None
    session.add(row)
    audit.record(
        session,
        "meeting.hand_lowered",
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return row


def clear_hand(session: Session, *, actor: User, meeting_id: int, user_id: int) -> Participation:
    """A coordinator lowers someone's hand (they have been given the floor)."""
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    row = session.exec(
        select(Participation).where(
            Participation.meeting_id == meeting.id, Participation.user_id == user_id
        )
    ).first()
    if row is None:
        raise NotFound("Ce médecin ne participe pas à cette séance.")
    if row.hand_raised_at is None:
        return row
    row.hand_raised_at = None
    session.add(row)
    audit.record(
        session,
        "meeting.hand_cleared",
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
        user_id=user_id,
    )
    session.commit()
    return row


# --- closing -------------------------------------------------------------------------------------


def close_meeting(session: Session, *, actor: User, meeting_id: int) -> Meeting:
    """The coordinator ends the meeting: the room, the chat and the hands close.

    The current case, if still "submitted", becomes "discussed"; raised hands are lowered;
    stays in the room still open end now (or at their last sign of life, if older than
    ``PRESENCE_TIMEOUT``), so the attendee list is final without waiting for the tabs to go.
    """
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    require_live(meeting)
    now = utcnow()
    _mark_discussed(session, meeting.current_case_id)
    meeting.current_case_id = None
    meeting.presenter_id = None
    meeting.status = MeetingStatus.closed
    meeting.closed_at = now
    session.add(meeting)
    for row in session.exec(
        select(Participation).where(
            Participation.meeting_id == meeting.id, col(Participation.hand_raised_at).is_not(None)
        )
    ).all():
        row.hand_raised_at = None
        session.add(row)
    for stay in session.exec(
        select(Attendance).where(
            Attendance.meeting_id == meeting.id, col(Attendance.left_at).is_(None)
        )
    ).all():
        stale = stay.last_seen_at < now - PRESENCE_TIMEOUT
        stay.left_at = stay.last_seen_at if stale else now
        session.add(stay)
    audit.record(
        session, "meeting.closed", actor_id=actor.id, target_type="meeting", target_id=meeting.id
    )
    session.commit()
    return meeting


def reopen_meeting(session: Session, *, actor: User, meeting_id: int) -> Meeting:
    """Undo a close made by mistake, as long as the overrun grace after the end has not passed."""
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    if meeting.status != MeetingStatus.closed:
        raise Conflict("Cette séance n'est pas close.")
    if utcnow() >= meeting.ends_at + OVERRUN_GRACE:
        raise Conflict("Cette séance est terminée depuis trop longtemps pour être rouverte.")
    meeting.status = MeetingStatus.open
    meeting.closed_at = None
    session.add(meeting)
    audit.record(
        session, "meeting.reopened", actor_id=actor.id, target_type="meeting", target_id=meeting.id
    )
    session.commit()
    return meeting


# --- presence and the live read model ---------------------------------------------------


@dataclass(frozen=True)
class PresentUser:
    user_id: int
    name: str
    specialty: str
    institution: str
    joined_at: datetime


@dataclass(frozen=True)
class RaisedHand:
    user_id: int
    name: str
    raised_at: datetime


@dataclass(frozen=True)
class LiveState:
    """What the meeting page polls every two seconds (plain values, safe for session_state)."""

    meeting_id: int
    status: MeetingStatus
    phase: Phase
    current_case_id: int | None
    presenter_id: int | None
    hands: tuple[RaisedHand, ...]
    present: tuple[PresentUser, ...]
    cases: tuple[tuple[int, str], ...]  # (id, status) of the meeting's submitted cases, by id
    last_message_id: int | None
    is_coordinator: bool
    is_participant: bool  # confirmed participant (may raise a hand)
    my_hand_raised: bool

    @property
    def page_signature(self) -> tuple:
        """What, when it changes, needs the whole page redrawn (not only the live panel)."""
        return (self.status, self.phase, self.current_case_id, self.cases)


def _present(session: Session, meeting_id: int, now: datetime) -> tuple[PresentUser, ...]:
    rows = session.exec(
        select(Attendance, User)
        .join(User, col(User.id) == Attendance.user_id)
        .where(
            Attendance.meeting_id == meeting_id,
            col(Attendance.left_at).is_(None),
            Attendance.last_seen_at >= now - PRESENCE_TIMEOUT,
        )
        .order_by(col(Attendance.joined_at))
    ).all()
    seen: dict[int, PresentUser] = {}
    for attendance, user in rows:  # one user may have the room open in two tabs
        if user.id not in seen:
            seen[user.id] = PresentUser(  # type: ignore[index]
                user_id=user.id,  # type: ignore[arg-type]
                name=user.display_name,
                specialty=user.specialty,
                institution=user.institution,
                joined_at=attendance.joined_at,
            )
    return tuple(sorted(seen.values(), key=lambda p: p.name))


def present(session: Session, *, actor: User, meeting_id: int) -> list[PresentUser]:
    """Who is in the video room now: an open attendance seen in the last 60 seconds."""
    room = access(session, actor=actor, meeting_id=meeting_id)
    return list(_present(session, room.meeting.id, utcnow()))  # type: ignore[arg-type]


def live_state(session: Session, *, actor: User, meeting_id: int) -> LiveState:
    """The meeting's live state in a handful of indexed queries (for a 2-second poll)."""
    room = access(session, actor=actor, meeting_id=meeting_id)
    meeting = room.meeting
    now = utcnow()
    hands = session.exec(
        select(Participation, User)
        .join(User, col(User.id) == Participation.user_id)
        .where(
            Participation.meeting_id == meeting.id,
            Participation.status == ParticipationStatus.confirmed,
            col(Participation.hand_raised_at).is_not(None),
        )
        .order_by(col(Participation.hand_raised_at))
    ).all()
    cases = session.exec(
        select(Case.id, Case.status)
        .where(Case.meeting_id == meeting.id, col(Case.status).in_([str(s) for s in DISCUSSABLE]))
        .order_by(col(Case.id))
    ).all()
    last_message_id = session.exec(
        select(func.max(ChatMessage.id)).where(ChatMessage.meeting_id == meeting.id)
    ).one()
    return LiveState(
        meeting_id=meeting.id,  # type: ignore[arg-type]
        status=MeetingStatus(meeting.status),
        phase=phase(meeting, now),
        current_case_id=meeting.current_case_id,
        presenter_id=meeting.presenter_id,
        hands=tuple(
            RaisedHand(user_id=u.id, name=u.display_name, raised_at=p.hand_raised_at)  # type: ignore[arg-type]
            for p, u in hands
        ),
        present=_present(session, meeting.id, now),  # type: ignore[arg-type]
        cases=tuple((cid, str(status)) for cid, status in cases),  # type: ignore[misc]
        last_message_id=last_message_id,
        is_coordinator=room.is_coordinator,
        is_participant=room.participation is not None,
        my_hand_raised=bool(room.participation and room.participation.hand_raised_at),
    )
