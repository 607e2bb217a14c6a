"""Video room attendance: who may join and when, join/heartbeat/leave times, screen-share grants.

The room's window and who may enter come from :mod:`rcp.meeting_live` (one rule for the meeting
page and the room): confirmed participants and the RCP's coordinators, from
``room_open_minutes_before`` (setting, default 15) minutes before the start until a coordinator
closes the meeting, or ``meeting_live.OVERRUN_GRACE`` (2 hours) after its planned end.

An :class:`~rcp.models.Attendance` row is one stay in the room: ``joined_at`` when the user's
stream started playing, ``last_seen_at`` refreshed by the room page at most every 30 seconds
while the tab is open, ``left_at`` when the stream stopped. A row left open by a crash or a
closed laptop counts as left at its ``last_seen_at`` once it is older than
``meeting_live.PRESENCE_TIMEOUT``. The RCP sheet's attendee list and quorum come from
:func:`attendees`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from rcp import audit, directory, meeting_live, meetings, roles
from rcp.config import get_settings
from rcp.dates import format_datetime
from rcp.errors import Conflict, NotFound, PermissionDenied
from rcp.i18n import _
from rcp.models import Attendance, Meeting, User, utcnow
from rcp.permissions import is_coordinator, require_active

HEARTBEAT_SECONDS = 30  # the room page touches last_seen_at at most this often


def _stale(row: Attendance, now: datetime) -> bool:
    return row.last_seen_at < now - meeting_live.PRESENCE_TIMEOUT


def _open_rows(session: Session, meeting_id: int, user_id: int) -> list[Attendance]:
    return list(
        session.exec(
            select(Attendance)
            .where(
                Attendance.meeting_id == meeting_id,
                Attendance.user_id == user_id,
                col(Attendance.left_at).is_(None),
            )
            .order_by(col(Attendance.joined_at))
        ).all()
    )


def check_can_join(session: Session, *, actor: User, meeting_id: int) -> Meeting:
    """The meeting, if the actor may enter its video room now; a French RcpError otherwise.

    Raises PermissionDenied for anyone who is neither a confirmed participant nor a
    coordinator of the RCP (also when the room's URL is typed), NotFound for an unknown
    meeting, and Conflict (with the opening time) before the room opens, after it closed, or
    when the meeting is cancelled.
    """
    room = meeting_live.access(session, actor=actor, meeting_id=meeting_id)
    meeting = room.meeting
    current = meeting_live.phase(meeting)
    if current == meeting_live.Phase.before:
        raise Conflict(
            _(
                "La salle de visioconférence n'est pas encore ouverte : elle "
                "ouvrira le {when} (heure de Paris), "
                "{minutes} minutes avant le début de la "
                "séance."
            ).format(
                when=format_datetime(meeting_live.opens_at(meeting)),
                minutes=get_settings().room_open_minutes_before,
            )
        )
    if current == meeting_live.Phase.closed:
        raise Conflict(_("Cette séance est terminée : la salle de visioconférence est fermée."))
    meeting_live.require_live(meeting)  # cancelled
    return meeting


@dataclass(frozen=True)
class RoomInfo:
    """What the room page needs once the actor is let in (plain values)."""

    meeting_id: int
    title: str
    is_coordinator: bool
    presenter_id: int | None


def room_info(session: Session, *, actor: User, meeting_id: int) -> RoomInfo:
    """:func:`check_can_join`, plus the meeting's title and the actor's role in it."""
    meeting = check_can_join(session, actor=actor, meeting_id=meeting_id)
    rcp = directory.trail(session, meeting.rcp_id).rcp
    return RoomInfo(
        meeting_id=meeting_id,
        title=meetings.meeting_title(rcp, meeting),
        is_coordinator=is_coordinator(session, actor, meeting.rcp_id),
        presenter_id=meeting.presenter_id,
    )


def record_join(session: Session, *, actor: User, meeting_id: int) -> Attendance:
    """The actor's stream started playing in the room: open an attendance row.

    Idempotent for a live stay (a rerun, a second tab of the same user): the open row seen in
    the last ``PRESENCE_TIMEOUT`` is touched and returned. Older open rows are closed at their
    last sign of life first.
    """
    meeting = check_can_join(session, actor=actor, meeting_id=meeting_id)
    now = utcnow()
    current: Attendance | None = None
    for row in _open_rows(session, meeting.id, actor.id):  # type: ignore[arg-type]
        if _stale(row, now):
            row.left_at = row.last_seen_at
            session.add(row)
        elif current is None:
            current = row
    if current is not None:
        current.last_seen_at = now
        session.add(current)
        session.commit()
        return current
    row = Attendance(meeting_id=meeting.id, user_id=actor.id, joined_at=now, last_seen_at=now)  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    audit.record(
        session,
        "room.joined",
        actor_id=actor.id,
        target_type="attendance",
        target_id=row.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return row


def heartbeat(session: Session, *, actor: User, meeting_id: int) -> Attendance | None:
    """The room tab is still open: refresh ``last_seen_at`` of the actor's open stay.

    Returns None when the actor has no open stay (never joined, or already left); the page
    then records a join again. Not audited: a liveness touch, like a session's last_seen_at
    (the join and the leave are).
    """
    meeting_live.access(session, actor=actor, meeting_id=meeting_id)
    now = utcnow()
    rows = [r for r in _open_rows(session, meeting_id, actor.id) if not _stale(r, now)]  # type: ignore[arg-type]
    if not rows:
        return None
    row = rows[0]
    row.last_seen_at = now
    session.add(row)
    session.commit()
    return row


def record_leave(
    session: Session, *, actor: User, meeting_id: int, at: datetime | None = None
) -> list[Attendance]:
    """The actor's stream stopped: close their open stays (``left_at``); returns them.

    Leaving also ends the actor's screen-share grant, so that a coordinator grants it again to
    someone actually present. Without an open stay nothing changes (a second leave signal).
    """
    require_active(actor)
    at = at or utcnow()
    rows = _open_rows(session, meeting_id, actor.id)  # type: ignore[arg-type]
    if not rows:
        # Nothing to close: only people who may be in the room get a quiet no-op. (Someone
        # who lost access mid-meeting still closes their own open stay above.)
        meeting_live.access(session, actor=actor, meeting_id=meeting_id)
        return []
    for row in rows:
        row.left_at = max(at, row.joined_at) if not _stale(row, at) else row.last_seen_at
        row.last_seen_at = max(row.last_seen_at, row.left_at)
        session.add(row)
    meeting = session.get(Meeting, meeting_id)
    presenter_cleared = meeting is not None and meeting.presenter_id == actor.id
    if presenter_cleared:
        assert meeting is not None
        meeting.presenter_id = None
        session.add(meeting)
    audit.record(
        session,
        "room.left",
        actor_id=actor.id,
        target_type="attendance",
        target_id=rows[-1].id,
        meeting_id=meeting_id,
        presenter_cleared=presenter_cleared,
    )
    session.commit()
    return rows


# --- who attended ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendee:
    """One user who was in the room, over all their stays (for the sheet and the quorum)."""

    user_id: int
    name: str
    specialty: str
    institution: str
    first_joined_at: datetime
    last_left_at: datetime | None  # None while present
    stays: int
    # Only physicians' specialties make the quorum (rcp.opinions); others attend as well.
    physician: bool = True

    @property
    def present(self) -> bool:
        return self.last_left_at is None


def attendees(session: Session, meeting_id: int) -> list[Attendee]:
    """Distinct users who attended the meeting's room, by name, with first join / last leave.

    A stay left open past ``PRESENCE_TIMEOUT`` counts as left at its last sign of life. No
    permission check: callers (the sheet, the meeting page) have checked access already.
    """
    now = utcnow()
    rows = session.exec(
        select(Attendance, User)
        .join(User, col(User.id) == Attendance.user_id)
        .where(Attendance.meeting_id == meeting_id)
        .order_by(col(Attendance.joined_at))
    ).all()
    firsts: dict[int, tuple[User, datetime]] = {}
    lefts: dict[int, datetime | None] = {}
    stays: dict[int, int] = {}
    for row, user in rows:
        uid = user.id
        assert uid is not None
        firsts.setdefault(uid, (user, row.joined_at))
        stays[uid] = stays.get(uid, 0) + 1
        left = row.left_at or (row.last_seen_at if _stale(row, now) else None)
        if uid not in lefts:
            lefts[uid] = left
        else:
            before = lefts[uid]
            lefts[uid] = None if before is None or left is None else max(before, left)
    result = [
        Attendee(
            user_id=uid,
            name=user.display_name,
            specialty=roles.stored_specialty(user),
            institution=user.institution,
            first_joined_at=first,
            last_left_at=lefts[uid],
            stays=stays[uid],
            physician=roles.is_physician(user),
        )
        for uid, (user, first) in firsts.items()
    ]
    return sorted(result, key=lambda a: (a.name.split()[-1].lower(), a.name.lower()))


def _present_ids(session: Session, meeting_id: int) -> set[int]:
    now = utcnow()
    rows = session.exec(
        select(Attendance).where(
            Attendance.meeting_id == meeting_id,
            col(Attendance.left_at).is_(None),
            Attendance.last_seen_at >= now - meeting_live.PRESENCE_TIMEOUT,
        )
    ).all()
    return {row.user_id for row in rows}


# --- screen sharing ----------------------------------------------------------------------------


def _coordinated_live(session: Session, actor: User, meeting_id: int) -> Meeting:
    room = meeting_live.access(session, actor=actor, meeting_id=meeting_id)
    if not room.is_coordinator:
        raise PermissionDenied(
            _(
                "Seuls l'assistant(e) et les médecins référents de la RCP décident du partage "
                "d'écran."
            )
        )
    meeting_live.require_live(room.meeting)
    return room.meeting


def grant_screen(session: Session, *, actor: User, meeting_id: int, user_id: int) -> Meeting:
    """A coordinator lets one participant present in the room (``Meeting.presenter_id``).

    Only someone present in the room now may be chosen; granting replaces the previous grant.
    """
    meeting = _coordinated_live(session, actor, meeting_id)
    if user_id not in _present_ids(session, meeting.id):  # type: ignore[arg-type]
        raise Conflict(
            _(
                "Ce médecin n'est pas dans la salle de visioconférence : le partage d'écran ne "
                "peut être donné qu'à un participant présent."
            )
        )
    previous = meeting.presenter_id
    if previous == user_id:
        return meeting
    meeting.presenter_id = user_id
    session.add(meeting)
    audit.record(
        session,
        "room.screen_granted",
        actor_id=actor.id,
        target_type="meeting",
        target_id=meeting.id,
        user_id=user_id,
        previous_user_id=previous,
    )
    session.commit()
    return meeting


def withdraw_screen(session: Session, *, actor: User, meeting_id: int) -> Meeting:
    """A coordinator takes the screen share back ("Retirer"); nobody may share afterwards."""
    meeting = _coordinated_live(session, actor, meeting_id)
    previous = meeting.presenter_id
    if previous is None:
        return meeting
    meeting.presenter_id = None
    session.add(meeting)
    audit.record(
        session,
        "room.screen_withdrawn",
        actor_id=actor.id,
        target_type="meeting",
        target_id=meeting.id,
        user_id=previous,
    )
    session.commit()
    return meeting


def may_share_screen(session: Session, *, actor: User | None, meeting_id: int) -> bool:
    """True when a coordinator granted the screen share to the actor and the room is open."""
    meeting = session.get(Meeting, meeting_id)
    if actor is None or meeting is None or meeting.presenter_id != actor.id:
        return False
    try:
        check_can_join(session, actor=actor, meeting_id=meeting_id)
    except (PermissionDenied, NotFound, Conflict):
        return False
    return True
