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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, func, select

from rcp import audit, i18n, notify, roles
from rcp.config import get_settings
from rcp.dates import format_date, format_datetime
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.i18n import N_, _
from rcp.models import (
    Attendance,
    Case,
    CaseStatus,
    ChatMessage,
    Meeting,
    MeetingStatus,
    Participation,
    ParticipationStatus,
    Rcp,
    User,
    utcnow,
)
from rcp.permissions import is_coordinator, require_active
from rcp.validation import clean_text

OVERRUN_GRACE = timedelta(hours=2)
PRESENCE_TIMEOUT = timedelta(seconds=60)
# Cases that were put on the agenda: a draft or a withdrawn case cannot be discussed.
DISCUSSABLE = (CaseStatus.submitted, CaseStatus.discussed, CaseStatus.validated)

FORBIDDEN = N_(
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
        raise NotFound(_("Séance introuvable."))
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
        raise PermissionDenied(_(FORBIDDEN))
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
        raise Conflict(_("Cette séance est annulée."))
    if current == Phase.before:
        minutes = get_settings().room_open_minutes_before
        raise Conflict(
            _(
                "La salle de la séance n'est pas encore ouverte : elle ouvre {minutes} minutes "
                "avant le début."
            ).format(minutes=minutes)
        )
    raise Conflict(_("Cette séance est terminée."))


def _require_coordinator_access(session: Session, actor: User, meeting_id: int) -> Access:
    room = access(session, actor=actor, meeting_id=meeting_id)
    if not room.is_coordinator:
        raise PermissionDenied(
            _("Cette action est réservée à l'assistant(e) et aux médecins référents de la RCP.")
        )
    return room


# --- current case ------------------------------------------------------------------------------


def set_current_case(
    session: Session, *, actor: User, meeting_id: int, case_id: int | None
) -> Meeting:
    """The coordinator shows a case to everyone ("cas en cours"), or none.

    The case must belong to the meeting and have been submitted (a discussed or validated case
    may be shown again). Showing a case does not make it "discussed": a coordinator says so
    (``mark_discussed``) or validates its opinion. The first current case marks the meeting
    ``open``.
    """
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    require_live(meeting)
    case = None
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None or case.meeting_id != meeting.id:
            raise NotFound(_("Ce cas n'appartient pas à cette séance."))
        if case.status not in DISCUSSABLE:
            raise InvalidInput(_("Seul un cas soumis peut être présenté en séance."), field="case")
    previous_id = meeting.current_case_id
    if previous_id == case_id:
        return meeting
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


# --- what becomes of each case: discussed, postponed, closed without opinion ------------------

# Cases of a meeting still waiting for an outcome (no validated opinion, not closed).
PENDING = (CaseStatus.submitted, CaseStatus.discussed)


def _coordinated_case(session: Session, actor: User, case_id: int) -> tuple[Case, Meeting]:
    """The case and its meeting, for a coordinator of the case's RCP (NotFound otherwise)."""
    require_active(actor)
    case = session.get(Case, case_id)
    meeting = session.get(Meeting, case.meeting_id) if case is not None else None
    if (
        case is None
        or meeting is None
        or case.status not in (*PENDING, CaseStatus.validated, CaseStatus.closed)
    ):
        raise NotFound(_("Cas introuvable, ou vous n'avez pas accès à ce cas."))
    if not is_coordinator(session, actor, meeting.rcp_id):
        raise PermissionDenied(
            _("Cette action est réservée à l'assistant(e) et aux médecins référents de la RCP.")
        )
    return case, meeting


def _require_pending(case: Case) -> None:
    if case.status == CaseStatus.validated:
        raise Conflict(_("L'avis de ce cas est validé : il n'est plus en attente."))
    if case.status == CaseStatus.closed:
        raise Conflict(_("Ce cas a déjà été clos sans avis."))


def mark_discussed(session: Session, *, actor: User, case_id: int) -> Case:
    """A coordinator says the case was discussed ("Marquer comme discuté")."""
    case, meeting = _coordinated_case(session, actor, case_id)
    _require_pending(case)
    if case.status == CaseStatus.discussed:
        return case
    if phase(meeting) in (Phase.before, Phase.cancelled):
        raise Conflict(_("Un cas ne peut être marqué discuté qu'une fois sa séance ouverte."))
    case.status = CaseStatus.discussed
    case.updated_at = utcnow()
    session.add(case)
    audit.record(
        session,
        "case.discussed",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return case


def next_meeting(session: Session, meeting: Meeting) -> Meeting | None:
    """The next meeting of the same RCP still to come (not cancelled, not closed)."""
    return session.exec(
        select(Meeting)
        .where(
            Meeting.rcp_id == meeting.rcp_id,
            Meeting.id != meeting.id,
            Meeting.starts_at > max(meeting.starts_at, utcnow()),
            col(Meeting.status).in_([MeetingStatus.scheduled, MeetingStatus.open]),
        )
        .order_by(col(Meeting.starts_at))
    ).first()


def _case_link(case_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/cas?id={case_id}"  # i18n: exempt (a URL)


def _tell_submitter(
    session: Session, case: Case, rcp_id: int, compose: Callable[[], tuple[str, str]]
) -> None:
    """An email to the case's submitter: the case number and a link, never patient data.

    ``compose`` gives (subject, news), called in the submitter's language."""
    submitter = session.get(User, case.submitter_id)
    if submitter is None or submitter.status != "active":
        return
    rcp = session.get(Rcp, rcp_id)
    with i18n.using(i18n.recipient_language(submitter, rcp=rcp)):
        subject, news = compose()
        notify.send_email(
            session,
            to=submitter.email,
            subject=_("{subject} : cas n° {case}").format(subject=subject, case=case.id),
            body=_(
                "Bonjour {name},\n\n{news}\n\nPour consulter le cas (connexion avec mot de "
                "passe et code SMS) : {link}\n\nPar confidentialité, ce message ne contient "
                "aucune donnée du patient.\n"
            ).format(name=submitter.display_name, news=news, link=_case_link(case.id)),  # type: ignore[arg-type]
        )


def postpone_case(session: Session, *, actor: User, case_id: int) -> Case:
    """ "Reporter à la séance suivante": the case moves to the RCP's next meeting.

    It is "à discuter" there, at the end of the list; ``postponed_from_meeting_id`` keeps
    where it came from; a draft opinion follows it; the submitter is told by email (case
    number and link only).

    Raises
    ------
    Conflict
        The opinion is validated, the case is closed, or the RCP has no meeting to come.
    """
    case, meeting = _coordinated_case(session, actor, case_id)
    _require_pending(case)
    target = next_meeting(session, meeting)
    if target is None:
        raise Conflict(
            _(
                "Aucune séance suivante n'est programmée pour cette RCP : programmez-la d'abord "
                "depuis la page de la RCP, puis reportez le cas."
            )
        )
    now = utcnow()
    if meeting.current_case_id == case.id:
        meeting.current_case_id = None
        session.add(meeting)
    positions = session.exec(select(Case.position).where(Case.meeting_id == target.id)).all()
    case.meeting_id = target.id  # type: ignore[assignment]
    case.position = max(positions, default=0) + 1
    case.status = CaseStatus.submitted
    case.postponed_from_meeting_id = meeting.id
    case.postponed_at = now
    case.updated_at = now
    session.add(case)
    audit.record(
        session,
        "case.postponed",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        from_meeting_id=meeting.id,
        to_meeting_id=target.id,
    )
    _tell_submitter(
        session,
        case,
        meeting.rcp_id,
        lambda: (
            _("Cas reporté à la séance suivante"),
            _(
                "Le cas n° {case} que vous avez soumis n'a pas reçu d'avis lors de la séance du "
                "{day} : il est reporté à la séance du {when} (heure de Paris) de la même RCP. "
                "Vous pouvez le compléter d'ici là."
            ).format(
                case=case.id,
                day=format_date(meeting.starts_at),
                when=format_datetime(target.starts_at),
            ),
        ),
    )
    session.commit()
    return case


def close_case_without_opinion(session: Session, *, actor: User, case_id: int, reason: str) -> Case:
    """ "Clore sans avis": the case leaves the agenda with a recorded reason (required).

    Raises
    ------
    InvalidInput
        No reason given.
    Conflict
        The opinion is validated, or the case is already closed.
    """
    case, meeting = _coordinated_case(session, actor, case_id)
    _require_pending(case)
    text = clean_text(
        reason,
        label=_("Motif de clôture sans avis"),
        field="reason",
        max_length=2000,
        multiline=True,
    )
    if not text:
        raise InvalidInput(
            _("Indiquez pourquoi le cas est clos sans avis (ce motif est consigné)."),
            field="reason",
        )
    now = utcnow()
    if meeting.current_case_id == case.id:
        meeting.current_case_id = None
        session.add(meeting)
    case.status = CaseStatus.closed
    case.closed_reason = text
    case.closed_at = now
    case.updated_at = now
    session.add(case)
    audit.record(
        session,
        "case.closed_without_opinion",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        meeting_id=meeting.id,
    )
    _tell_submitter(
        session,
        case,
        meeting.rcp_id,
        lambda: (
            _("Cas clos sans avis"),
            _(
                "Le cas n° {case} que vous avez soumis a été clos sans avis par la RCP lors de "
                "la séance du {day}. Le motif est consigné sur la page du cas."
            ).format(case=case.id, day=format_date(meeting.starts_at)),
        ),
    )
    session.commit()
    return case


# --- hands ---------------------------------------------------------------------------------------


def _my_participation(
    session: Session, actor: User, meeting_id: int
) -> tuple[Meeting, Participation]:
    room = access(session, actor=actor, meeting_id=meeting_id)
    if room.participation is None:
        raise Conflict(_("Vous coordonnez la séance : la main levée est pour les participants."))
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
        raise NotFound(_("Ce médecin ne participe pas à cette séance."))
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

    No case changes status (cases without a validated opinion stay "à discuter" or "discuté"
    until a coordinator postpones or closes them); raised hands are lowered;
    stays in the room still open end now (or at their last sign of life, if older than
    ``PRESENCE_TIMEOUT``), so the attendee list is final without waiting for the tabs to go.
    """
    meeting = _require_coordinator_access(session, actor, meeting_id).meeting
    require_live(meeting)
    now = utcnow()
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
        raise Conflict(_("Cette séance n'est pas close."))
    if utcnow() >= meeting.ends_at + OVERRUN_GRACE:
        raise Conflict(_("Cette séance est terminée depuis trop longtemps pour être rouverte."))
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
                specialty=roles.stored_specialty(user),
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
