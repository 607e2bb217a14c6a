"""Meetings (RCP sessions): scheduling, invitations, participation requests, the home to-do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from rcp import audit, directory, i18n, notify, roles
from rcp.config import get_settings
from rcp.dates import PARIS, format_date, format_date_long, format_datetime, format_time
from rcp.errors import Conflict, InvalidInput, NotFound
from rcp.i18n import N_, _
from rcp.ics import meeting_ics
from rcp.models import (
    Meeting,
    MeetingStatus,
    MembershipStatus,
    Participation,
    ParticipationStatus,
    Rcp,
    RcpMember,
    User,
    UserStatus,
    utcnow,
)
from rcp.permissions import is_coordinator, membership, require_active, require_coordinator
from rcp.validation import clean_text

STATUS_LABELS = {
    ParticipationStatus.invited: N_("invité"),
    ParticipationStatus.requested: N_("demande en attente"),
    ParticipationStatus.confirmed: N_("participation confirmée"),
    ParticipationStatus.declined: N_("a décliné"),
    ParticipationStatus.refused: N_("demande refusée"),
}
MAX_DURATION = timedelta(hours=12)


def participation_label(status: ParticipationStatus | str, user: User | None) -> str:
    """A participation's status, in the person's form ("invitée", "invité")."""
    status = ParticipationStatus(status)
    if status == ParticipationStatus.invited:
        return roles.by_form(user, _("invitée"), _("invité"))
    return _(STATUS_LABELS[status])


# --- time ------------------------------------------------------------------------------------


def paris_datetime(day: date, at: time, *, field_name: str) -> datetime:
    """A Paris wall-clock time as an aware datetime; refuses times skipped by DST."""
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=PARIS)
    back = local.astimezone(UTC).astimezone(PARIS)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput(
            _(
                "Cette heure n'existe pas ce jour-là à Paris (passage à l'heure d'été). "
                "Choisissez une autre heure."
            ),
            field=field_name,
        )
    return local


def meeting_title(rcp: Rcp, meeting: Meeting) -> str:
    """'RCP GEM et SNI (SNLGM, HSF) adulte du 7 avril 2021' (the procedure's wording)."""
    name = rcp.name if rcp.name.upper().startswith("RCP") else _("RCP {name}").format(name=rcp.name)
    return _("{name} du {date}").format(name=name, date=format_date_long(meeting.starts_at))


def is_past(meeting: Meeting, now: datetime | None = None) -> bool:
    return meeting.ends_at <= (now or utcnow())


# Meetings that are over whatever the clock says: closed by a coordinator, or cancelled.
ENDED = (MeetingStatus.closed, MeetingStatus.cancelled)


def is_finished(meeting: Meeting, now: datetime | None = None) -> bool:
    """Past its end, or closed by a coordinator before it: nothing is offered any more."""
    return meeting.status == MeetingStatus.closed or is_past(meeting, now)


def _check_times(starts_at: datetime, ends_at: datetime, deadline: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise InvalidInput(_("La séance ne peut pas être programmée dans le passé."), field="day")
    if ends_at <= starts_at:
        raise InvalidInput(_("L'heure de fin doit être après l'heure de début."), field="end")
    if ends_at - starts_at > MAX_DURATION:
        raise InvalidInput(_("Une séance ne peut pas durer plus de 12 heures."), field="end")
    if deadline > starts_at:
        raise InvalidInput(
            _("La date limite de dépôt des cas ne peut pas être après le début de la séance."),
            field="deadline",
        )
    if deadline <= now:
        raise InvalidInput(
            _("La date limite de dépôt des cas est déjà passée : choisissez-en une plus tardive."),
            field="deadline",
        )


# --- reading ---------------------------------------------------------------------------------


def _meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_("Séance introuvable."))
    return meeting


def list_meetings(
    session: Session, *, actor: User, rcp_id: int, upcoming: bool, limit: int = 50
) -> list[Meeting]:
    """Upcoming meetings soonest first, or past ones latest first."""
    require_active(actor)
    directory.trail(session, rcp_id)
    now = utcnow()
    query = select(Meeting).where(Meeting.rcp_id == rcp_id)
    closed = Meeting.status == MeetingStatus.closed
    if upcoming:
        query = query.where(Meeting.ends_at > now, ~closed).order_by(col(Meeting.starts_at))
    else:
        query = query.where(or_(Meeting.ends_at <= now, closed)).order_by(
            col(Meeting.starts_at).desc()
        )
    return list(session.exec(query.limit(limit)).all())


@dataclass(frozen=True)
class ParticipantRow:
    participation: Participation
    user: User

    @property
    def label(self) -> str:
        return participation_label(self.participation.status, self.user)


@dataclass
class MeetingView:
    """Everything the meeting page shows, and what this user may do now."""

    meeting: Meeting
    trail: directory.Trail
    title: str
    coordinators: list[directory.MemberRow]
    participants: list[ParticipantRow]
    mine: Participation | None
    is_coordinator: bool
    is_member: bool
    is_past: bool
    actions: set[str] = field(default_factory=set)

    def count(self, status: ParticipationStatus) -> int:
        return sum(1 for p in self.participants if p.participation.status == status)


def meeting_view(session: Session, *, actor: User, meeting_id: int) -> MeetingView:
    require_active(actor)
    meeting = _meeting(session, meeting_id)
    t = directory.trail(session, meeting.rcp_id)
    now = utcnow()
    rows = session.exec(
        select(Participation, User)
        .join(User, col(User.id) == Participation.user_id)
        .where(Participation.meeting_id == meeting.id)
        .order_by(col(User.last_name), col(User.first_name))
    ).all()
    participants = [ParticipantRow(participation=p, user=u) for p, u in rows]
    mine = next((r.participation for r in participants if r.user.id == actor.id), None)
    coordinator = is_coordinator(session, actor, meeting.rcp_id)
    member = membership(session, actor, meeting.rcp_id) is not None
    past = is_finished(meeting, now)
    view = MeetingView(
        meeting=meeting,
        trail=t,
        title=meeting_title(t.rcp, meeting),
        coordinators=directory.coordinators(session, meeting.rcp_id),
        participants=participants,
        mine=mine,
        is_coordinator=coordinator,
        is_member=member,
        is_past=past,
    )
    if meeting.status == MeetingStatus.cancelled or past:
        return view
    status = mine.status if mine else None
    if not coordinator:
        if status in (None, ParticipationStatus.declined):
            view.actions.add("participate")
        if status == ParticipationStatus.invited:
            view.actions.update({"confirm", "decline"})
        if status == ParticipationStatus.confirmed:
            view.actions.add("withdraw")
    else:
        view.actions.update({"manage", "invite"})
    if (member or coordinator) and now < meeting.case_deadline:
        view.actions.add("submit_case")
    return view


# --- coordinators: scheduling ----------------------------------------------------------------


def _meeting_link(meeting: Meeting) -> str:
    return f"{get_settings().base_url.rstrip('/')}/seance?id={meeting.id}"


def _ics_for(session: Session, meeting: Meeting, user: User, method: str) -> notify.MailAttachment:
    t = directory.trail(session, meeting.rcp_id)
    content = meeting_ics(
        meeting,
        title=meeting_title(t.rcp, meeting),
        # Only logistics: whatever a coordinator typed stays on the platform.
        description=_("{title} — filière {network}.\nPage de la séance : {link}").format(
            title=meeting_title(t.rcp, meeting), network=t.network.code, link=_meeting_link(meeting)
        ),
        url=_meeting_link(meeting),
        attendee_email=user.email,
        attendee_name=user.display_name,
        method=method,
    )
    filename = _("annulation.ics") if method == "CANCEL" else _("invitation.ics")
    return notify.MailAttachment(filename, content, f"text/calendar; method={method}")


def _when(meeting: Meeting) -> str:
    return _("le {date} de {start} à {end} (heure de Paris)").format(
        date=format_date(meeting.starts_at),
        start=format_time(meeting.starts_at),
        end=format_time(meeting.ends_at),
    )


def _concerned(session: Session, meeting: Meeting) -> list[User]:
    """People whose calendars hold the meeting: invited, requested or confirmed."""
    return list(
        session.exec(
            select(User)
            .join(Participation, col(Participation.user_id) == User.id)
            .where(
                Participation.meeting_id == meeting.id,
                col(Participation.status).in_(
                    [
                        ParticipationStatus.invited,
                        ParticipationStatus.requested,
                        ParticipationStatus.confirmed,
                    ]
                ),
            )
        ).all()
    )


def schedule_meeting(
    session: Session,
    *,
    actor: User,
    rcp_id: int,
    day: date,
    start: time,
    end: time,
    deadline: datetime | None = None,
    description: str = "",
) -> Meeting:
    """Schedule a meeting; times are Paris wall-clock times; the deadline defaults to the start."""
    require_coordinator(session, actor, rcp_id)
    now = utcnow()
    starts_at, ends_at, case_deadline = _meeting_times(day, start, end, deadline, now)
    meeting = Meeting(
        rcp_id=rcp_id,
        starts_at=starts_at,
        ends_at=ends_at,
        case_deadline=case_deadline,
        description=clean_text(
            description,
            label=_("Description"),
            field="description",
            max_length=2000,
            multiline=True,
        ),
        created_by_id=actor.id,
    )
    session.add(meeting)
    session.flush()
    audit.record(
        session,
        "meeting.scheduled",
        actor_id=actor.id,
        target_type="meeting",
        target_id=meeting.id,
        rcp_id=rcp_id,
    )
    session.commit()
    return meeting


def _meeting_times(
    day: date, start: time, end: time, deadline: datetime | None, now: datetime
) -> tuple[datetime, datetime, datetime]:
    """Start, end and case deadline from the form's Paris times, checked."""
    starts_at = paris_datetime(day, start, field_name="start")
    ends_at = paris_datetime(day, end, field_name="end")
    case_deadline = starts_at if deadline is None else _aware(deadline)
    _check_times(starts_at, ends_at, case_deadline, now)
    return starts_at, ends_at, case_deadline


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def _editable(session: Session, actor: User, meeting_id: int) -> Meeting:
    meeting = _meeting(session, meeting_id)
    require_coordinator(session, actor, meeting.rcp_id)
    if meeting.status == MeetingStatus.cancelled:
        raise Conflict(_("Cette séance est annulée."))
    if meeting.status == MeetingStatus.closed:
        raise Conflict(_("Cette séance est close : elle ne peut plus être modifiée."))
    if is_past(meeting):
        raise Conflict(_("Cette séance est passée : elle ne peut plus être modifiée."))
    return meeting


def update_meeting(
    session: Session,
    *,
    actor: User,
    meeting_id: int,
    day: date,
    start: time,
    end: time,
    deadline: datetime | None = None,
    description: str = "",
) -> Meeting:
    """Change date, times, deadline or description; invitees get an updated .ics."""
    meeting = _editable(session, actor, meeting_id)
    starts_at, ends_at, case_deadline = _meeting_times(day, start, end, deadline, utcnow())
    moved = (starts_at, ends_at) != (meeting.starts_at, meeting.ends_at)
    meeting.starts_at, meeting.ends_at, meeting.case_deadline = starts_at, ends_at, case_deadline
    meeting.description = clean_text(
        description, label=_("Description"), field="description", max_length=2000, multiline=True
    )
    if moved:
        meeting.ics_sequence += 1
    session.add(meeting)
    if moved:
        t = directory.trail(session, meeting.rcp_id)
        for user in _concerned(session, meeting):
            with i18n.using(i18n.recipient_language(user, rcp=t.rcp)):
                notify.send_email(
                    session,
                    to=user.email,
                    subject=_("Modification : {title}").format(title=meeting_title(t.rcp, meeting)),
                    body=_(
                        "Bonjour {name},\n\nLa séance a changé d'horaire : elle aura lieu "
                        "{when}.\n\nPage de la séance : {link}\n"
                        "L'invitation de calendrier jointe remplace la précédente.\n"
                    ).format(
                        name=user.display_name, when=_when(meeting), link=_meeting_link(meeting)
                    ),
                    attachments=(_ics_for(session, meeting, user, "REQUEST"),),
                )
    audit.record(
        session,
        "meeting.updated",
        actor_id=actor.id,
        target_type="meeting",
        target_id=meeting.id,
        moved=moved,
    )
    session.commit()
    return meeting


def cancel_meeting(session: Session, *, actor: User, meeting_id: int, reason: str = "") -> Meeting:
    """Cancel; everyone invited, requesting or confirmed gets an email with a CANCEL .ics."""
    meeting = _editable(session, actor, meeting_id)
    reason = clean_text(reason, label=_("Motif"), field="reason", max_length=1000, multiline=True)
    meeting.status = MeetingStatus.cancelled
    meeting.cancelled_at = utcnow()
    meeting.ics_sequence += 1
    session.add(meeting)
    t = directory.trail(session, meeting.rcp_id)
    for user in _concerned(session, meeting):
        with i18n.using(i18n.recipient_language(user, rcp=t.rcp)):
            body = _("Bonjour {name},\n\nLa séance prévue {when} est annulée.").format(
                name=user.display_name, when=_when(meeting)
            )
            if reason:
                body += _("\n\nMotif : {reason}").format(reason=reason)
            notify.send_email(
                session,
                to=user.email,
                subject=_("Annulation : {title}").format(title=meeting_title(t.rcp, meeting)),
                body=body + "\n",
                attachments=(_ics_for(session, meeting, user, "CANCEL"),),
            )
    audit.record(
        session, "meeting.cancelled", actor_id=actor.id, target_type="meeting", target_id=meeting.id
    )
    session.commit()
    return meeting


# --- invitations and requests ----------------------------------------------------------------


def _participation(session: Session, meeting_id: int, user_id: int) -> Participation | None:
    return session.exec(
        select(Participation).where(
            Participation.meeting_id == meeting_id, Participation.user_id == user_id
        )
    ).first()


def invite(session: Session, *, actor: User, meeting_id: int, user_id: int) -> Participation:
    """Invite a member or any active doctor; they get an email with a link and a .ics."""
    meeting = _editable(session, actor, meeting_id)
    user = session.get(User, user_id)
    if user is None or user.status != UserStatus.active:
        raise NotFound(_("Compte introuvable ou inactif."))
    row = _participation(session, meeting.id, user.id)  # type: ignore[arg-type]
    now = utcnow()
    if row is not None and row.status == ParticipationStatus.invited:
        raise Conflict(
            roles.by_form(
                user,
                _("{name} est déjà invitée à cette séance."),
                _("{name} est déjà invité à cette séance."),
            ).format(name=user.display_name)
        )
    if row is not None and row.status == ParticipationStatus.confirmed:
        raise Conflict(_("{name} participe déjà à cette séance.").format(name=user.display_name))
    if row is None:
        row = Participation(
            meeting_id=meeting.id,
            user_id=user.id,  # type: ignore[arg-type]
            status=ParticipationStatus.invited,
        )
    # Inviting someone who asked to take part answers the request.
    row.status = (
        ParticipationStatus.confirmed
        if row.status == ParticipationStatus.requested
        else ParticipationStatus.invited
    )
    row.invited_by_id = actor.id
    row.decided_by_id = actor.id
    row.updated_at = now
    session.add(row)
    session.flush()
    t = directory.trail(session, meeting.rcp_id)
    with i18n.using(i18n.recipient_language(user, rcp=t.rcp)):
        title = meeting_title(t.rcp, meeting)
        notify.send_email(
            session,
            to=user.email,
            subject=_("Invitation : {title}").format(title=title),
            body=_(
                "Bonjour {name},\n\n{inviter} vous invite à la {title}, {when}.\n\n"
                "Pour valider votre participation (connexion avec mot de passe et code SMS) : "
                "{link}\n\nLes cas peuvent être soumis jusqu'au {deadline}.\n"
            ).format(
                name=user.display_name,
                inviter=actor.display_name,
                title=title,
                when=_when(meeting),
                link=_meeting_link(meeting),
                deadline=format_datetime(meeting.case_deadline),
            ),
            attachments=(_ics_for(session, meeting, user, "REQUEST"),),
        )
    audit.record(
        session,
        "meeting.invited",
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
        user_id=user.id,
    )
    session.commit()
    return row


def _open_for_participants(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.cancelled:
        raise Conflict(_("Cette séance est annulée."))
    if meeting.status == MeetingStatus.closed:
        raise Conflict(_("Cette séance est close."))
    if is_past(meeting):
        raise Conflict(_("Cette séance est passée."))


def respond(session: Session, *, actor: User, meeting_id: int, accept: bool) -> Participation:
    """The invitee confirms ("Valider ma participation") or declines; a confirmed
    participant may also withdraw (decline later)."""
    require_active(actor)
    meeting = _meeting(session, meeting_id)
    _open_for_participants(meeting)
    row = _participation(session, meeting.id, actor.id)  # type: ignore[arg-type]
    if row is None or row.status not in (
        ParticipationStatus.invited,
        ParticipationStatus.confirmed,
    ):
        raise Conflict(_("Vous n'avez pas d'invitation en attente pour cette séance."))
    if accept and row.status == ParticipationStatus.confirmed:
        raise Conflict(_("Votre participation est déjà confirmée."))
    row.status = ParticipationStatus.confirmed if accept else ParticipationStatus.declined
    row.updated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        "meeting.invitation_" + ("confirmed" if accept else "declined"),
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return row


def request_participation(session: Session, *, actor: User, meeting_id: int) -> Participation:
    """ "Participer": a doctor who is not invited asks; coordinators are told by email."""
    require_active(actor)
    meeting = _meeting(session, meeting_id)
    _open_for_participants(meeting)
    if is_coordinator(session, actor, meeting.rcp_id):
        raise Conflict(_("Vous coordonnez cette RCP : vous participez d'office."))
    row = _participation(session, meeting.id, actor.id)  # type: ignore[arg-type]
    messages = {
        ParticipationStatus.invited: roles.by_form(
            actor,
            _("Vous êtes déjà invitée : validez votre participation."),
            _("Vous êtes déjà invité : validez votre participation."),
        ),
        ParticipationStatus.requested: _("Votre demande est déjà envoyée."),
        ParticipationStatus.confirmed: _("Votre participation est déjà confirmée."),
        ParticipationStatus.refused: _(
            "Votre demande a été refusée par les coordinateurs de la RCP. Contactez-les si besoin."
        ),
    }
    if row is not None and row.status in messages:
        raise Conflict(messages[ParticipationStatus(row.status)])
    if row is None:
        row = Participation(
            meeting_id=meeting.id,
            user_id=actor.id,  # type: ignore[arg-type]
            status=ParticipationStatus.requested,
        )
    row.status = ParticipationStatus.requested
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    t = directory.trail(session, meeting.rcp_id)
    for coordinator in directory.coordinators(session, meeting.rcp_id):
        with i18n.using(i18n.recipient_language(coordinator.user, rcp=t.rcp)):
            title = meeting_title(t.rcp, meeting)
            notify.send_email(
                session,
                to=coordinator.user.email,
                subject=_("Demande de participation : {title}").format(title=title),
                body=_(
                    "Bonjour {name},\n\n{requester} ({specialty}, {institution}) demande à "
                    "participer à la {title}.\n\nPour accepter ou refuser : {link}\n"
                ).format(
                    name=coordinator.user.display_name,
                    requester=actor.display_name,
                    specialty=roles.qualification(actor),
                    institution=actor.institution,
                    title=title,
                    link=_meeting_link(meeting),
                ),
            )
    audit.record(
        session,
        "meeting.participation_requested",
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return row


def decide_request(
    session: Session, *, actor: User, participation_id: int, accept: bool
) -> Participation:
    row = session.get(Participation, participation_id)
    if row is None:
        raise NotFound(_("Demande introuvable."))
    meeting = _editable(session, actor, row.meeting_id)
    if row.status != ParticipationStatus.requested:
        raise Conflict(_("Cette demande a déjà reçu une réponse."))
    row.status = ParticipationStatus.confirmed if accept else ParticipationStatus.refused
    row.decided_by_id = actor.id
    row.updated_at = utcnow()
    session.add(row)
    user = session.get(User, row.user_id)
    assert user is not None
    t = directory.trail(session, meeting.rcp_id)
    with i18n.using(i18n.recipient_language(user, rcp=t.rcp)):
        title = meeting_title(t.rcp, meeting)
        if accept:
            notify.send_email(
                session,
                to=user.email,
                subject=_("Participation acceptée : {title}").format(title=title),
                body=_(
                    "Bonjour {name},\n\nVotre demande de participation à la {title} est "
                    "acceptée. La séance a lieu {when}.\n\nPage de la séance : {link}\n"
                ).format(
                    name=user.display_name,
                    title=title,
                    when=_when(meeting),
                    link=_meeting_link(meeting),
                ),
                attachments=(_ics_for(session, meeting, user, "REQUEST"),),
            )
        else:
            notify.send_email(
                session,
                to=user.email,
                subject=_("Participation refusée : {title}").format(title=title),
                body=_(
                    "Bonjour {name},\n\nVotre demande de participation à la {title} n'a pas "
                    "été acceptée par les coordinateurs de la RCP.\n"
                ).format(name=user.display_name, title=title),
            )
    audit.record(
        session,
        "meeting.request_" + ("accepted" if accept else "refused"),
        actor_id=actor.id,
        target_type="participation",
        target_id=row.id,
        meeting_id=meeting.id,
        user_id=row.user_id,
    )
    session.commit()
    return row


# --- home ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingLine:
    meeting: Meeting
    title: str
    status: str | None = None  # the actor's participation status, if any


@dataclass
class Home:
    upcoming: list[MeetingLine]
    invitations: list[MeetingLine]
    requests: list[tuple[MeetingLine, ParticipantRow]]
    membership_requests: list[tuple[directory.Trail, directory.MemberRow]]
    understaffed: list[tuple[MeetingLine, int, int]]  # line, confirmed, minimum


def home(session: Session, *, actor: User, horizon_days: int = 120) -> Home:
    """Accueil: my upcoming meetings, my invitations, and a coordinator's to-do."""
    require_active(actor)
    now = utcnow()
    horizon = now + timedelta(days=horizon_days)
    rcps = {r.id: r for r in session.exec(select(Rcp)).all()}

    def line(meeting: Meeting, status: str | None = None) -> MeetingLine:
        return MeetingLine(
            meeting=meeting, title=meeting_title(rcps[meeting.rcp_id], meeting), status=status
        )

    mine = session.exec(
        select(Meeting, Participation)
        .join(Participation, col(Participation.meeting_id) == Meeting.id)
        .where(
            Participation.user_id == actor.id,
            Meeting.ends_at > now,
            col(Meeting.status).not_in(ENDED),
            col(Participation.status).in_(
                [
                    ParticipationStatus.confirmed,
                    ParticipationStatus.invited,
                    ParticipationStatus.requested,
                ]
            ),
        )
        .order_by(col(Meeting.starts_at))
    ).all()
    coordinated = directory.coordinated_rcp_ids(session, actor)
    upcoming = [line(m, p.status) for m, p in mine if p.status != ParticipationStatus.invited]
    invitations = [line(m, p.status) for m, p in mine if p.status == ParticipationStatus.invited]
    requests: list[tuple[MeetingLine, ParticipantRow]] = []
    membership_requests: list[tuple[directory.Trail, directory.MemberRow]] = []
    understaffed: list[tuple[MeetingLine, int, int]] = []
    if coordinated:
        own = session.exec(
            select(Meeting)
            .where(
                col(Meeting.rcp_id).in_(coordinated),
                Meeting.ends_at > now,
                Meeting.starts_at < horizon,
                col(Meeting.status).not_in(ENDED),
            )
            .order_by(col(Meeting.starts_at))
        ).all()
        seen = {ln.meeting.id for ln in upcoming}
        upcoming.extend(line(m, "coordinator") for m in own if m.id not in seen)
        upcoming.sort(key=lambda ln: ln.meeting.starts_at)
        ids = [m.id for m in own]
        confirmed_counts = (
            dict(
                session.exec(
                    select(Participation.meeting_id, func.count())
                    .where(
                        col(Participation.meeting_id).in_(ids),
                        Participation.status == ParticipationStatus.confirmed,
                    )
                    .group_by(Participation.meeting_id)
                ).all()
            )
            if ids
            else {}
        )
        for m in own:
            minimum = rcps[m.rcp_id].min_participants
            confirmed = confirmed_counts.get(m.id, 0)
            if confirmed < minimum:
                understaffed.append((line(m), confirmed, minimum))
        pending = session.exec(
            select(Participation, User, Meeting)
            .join(User, col(User.id) == Participation.user_id)
            .join(Meeting, col(Meeting.id) == Participation.meeting_id)
            .where(
                col(Meeting.rcp_id).in_(coordinated),
                Meeting.ends_at > now,
                col(Meeting.status).not_in(ENDED),
                Participation.status == ParticipationStatus.requested,
            )
            .order_by(col(Participation.updated_at))
        ).all()
        requests = [(line(m), ParticipantRow(participation=p, user=u)) for p, u, m in pending]
        asked = session.exec(
            select(RcpMember, User)
            .join(User, col(User.id) == RcpMember.user_id)
            .where(
                col(RcpMember.rcp_id).in_(coordinated),
                RcpMember.status == MembershipStatus.requested,
            )
        ).all()
        membership_requests = [
            (directory.trail(session, m.rcp_id), directory.MemberRow(member=m, user=u))
            for m, u in asked
        ]
    return Home(
        upcoming=upcoming,
        invitations=invitations,
        requests=requests,
        membership_requests=membership_requests,
        understaffed=understaffed,
    )
