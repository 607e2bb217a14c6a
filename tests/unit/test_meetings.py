"""Scheduling, invitations with .ics, participation requests, past/cancelled meetings, home."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar
from sqlmodel import Session, select

from rcp import meeting_live, meetings
from rcp.dates import PARIS
from rcp.errors import Conflict, InvalidInput, PermissionDenied
from rcp.models import AuditEvent, OutboxMessage, ParticipationStatus, User
from tests.factories import (
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    move_to_past,
    start_now,
)


@pytest.fixture
def rcp(session: Session):
    return make_rcp(session)


@pytest.fixture
def coordinator(session: Session, rcp) -> User:
    return make_coordinator(session, rcp, phone=mobile(50))


def _mails(session: Session, user: User) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.to == user.email)).all())


def _ics(message: OutboxMessage) -> Calendar:
    (attachment,) = message.attachments
    return Calendar.from_ical(attachment["content"])


def _day(days: int) -> dt.date:
    return (dt.datetime.now(PARIS) + dt.timedelta(days=days)).date()


def test_schedule_in_paris_time_with_deadline_defaulting_to_start(
    session, rcp, coordinator
) -> None:
    day = dt.date(dt.date.today().year + 1, 7, 15)  # summer time: UTC+2
    meeting = meetings.schedule_meeting(
        session,
        actor=coordinator,
        rcp_id=rcp.id,
        day=day,
        start=dt.time(14, 0),
        end=dt.time(16, 30),
    )
    assert meeting.starts_at == dt.datetime(day.year, 7, 15, 12, 0, tzinfo=dt.UTC)
    assert meeting.ends_at.astimezone(PARIS).time() == dt.time(16, 30)
    assert meeting.case_deadline == meeting.starts_at
    view = meetings.meeting_view(session, actor=coordinator, meeting_id=meeting.id)
    assert view.title == f"RCP GEM et SNI (SNLGM, HSF) adulte du 15 juillet {day.year}"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"day": dt.date(2020, 1, 6)}, "dans le passé"),
        ({"start": dt.time(16, 0), "end": dt.time(15, 0)}, "fin doit être après"),
        ({"start": dt.time(6, 0), "end": dt.time(19, 0)}, "12 heures"),
        ({"deadline_delta": dt.timedelta(hours=1)}, "après le début"),
        ({"deadline_abs": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "déjà passée"),
    ],
    ids=["past", "end_before_start", "too_long", "deadline_after_start", "deadline_past"],
)
def test_bad_dates_are_refused_in_french(session, rcp, coordinator, kwargs, fragment) -> None:
    day = kwargs.pop("day", _day(20))
    start = kwargs.pop("start", dt.time(14, 0))
    end = kwargs.pop("end", dt.time(16, 0))
    deadline = None
    if "deadline_delta" in kwargs:
        deadline = dt.datetime.combine(day, start, tzinfo=PARIS) + kwargs.pop("deadline_delta")
    if "deadline_abs" in kwargs:
        deadline = kwargs.pop("deadline_abs")
    with pytest.raises(InvalidInput, match=fragment):
        meetings.schedule_meeting(
            session,
            actor=coordinator,
            rcp_id=rcp.id,
            day=day,
            start=start,
            end=end,
            deadline=deadline,
        )


def test_time_skipped_by_daylight_saving_is_refused(session, rcp, coordinator) -> None:
    year = dt.date.today().year + 1
    last_sunday_march = max(
        dt.date(year, 3, d) for d in range(25, 32) if dt.date(year, 3, d).weekday() == 6
    )
    with pytest.raises(InvalidInput, match="heure d'été"):
        meetings.schedule_meeting(
            session,
            actor=coordinator,
            rcp_id=rcp.id,
            day=last_sunday_march,
            start=dt.time(2, 30),
            end=dt.time(4, 0),
        )


def test_earlier_deadline_is_accepted(session, rcp, coordinator) -> None:
    day = _day(20)
    deadline = dt.datetime.combine(day - dt.timedelta(days=2), dt.time(18, 0), tzinfo=PARIS)
    meeting = meetings.schedule_meeting(
        session,
        actor=coordinator,
        rcp_id=rcp.id,
        day=day,
        start=dt.time(14, 0),
        end=dt.time(16, 0),
        deadline=deadline,
    )
    assert meeting.case_deadline == deadline


def test_scheduling_is_forbidden_to_members_and_other_coordinators(
    session, rcp, coordinator
) -> None:
    member = make_member(session, rcp, coordinator, phone=mobile(51))
    other = make_coordinator(
        session, make_rcp(session, name="SHU atypique et MAT"), phone=mobile(52)
    )
    for actor in (member, other):
        with pytest.raises(PermissionDenied):
            make_meeting(session, rcp, actor)


def test_invitation_email_has_link_and_a_request_ics_in_paris_time(
    session, rcp, coordinator
) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(53))
    row = meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    assert row.status == ParticipationStatus.invited
    (mail,) = [m for m in _mails(session, doctor) if m.subject.startswith("Invitation")]
    assert f"/seance?id={meeting.id}" in mail.body
    cal = _ics(mail)
    assert str(cal["method"]) == "REQUEST"
    (event,) = cal.walk("VEVENT")
    assert event["dtstart"].dt == meeting.starts_at
    assert str(event["dtstart"].params["TZID"]) == "Europe/Paris"
    assert cal.walk("VTIMEZONE")[0]["tzid"] == "Europe/Paris"
    assert str(event["attendee"]) == f"mailto:{doctor.email}"
    assert int(event["sequence"]) == 0


def test_update_resends_ics_with_same_uid_and_higher_sequence(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(54))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    first = _ics([m for m in _mails(session, doctor) if m.subject.startswith("Invitation")][0])
    meetings.update_meeting(
        session,
        actor=coordinator,
        meeting_id=meeting.id,
        day=_day(11),
        start=dt.time(9, 0),
        end=dt.time(11, 0),
    )
    (update,) = [m for m in _mails(session, doctor) if m.subject.startswith("Modification")]
    second = _ics(update)
    e1, e2 = first.walk("VEVENT")[0], second.walk("VEVENT")[0]
    assert str(e1["uid"]) == str(e2["uid"])
    assert int(e2["sequence"]) == int(e1["sequence"]) + 1
    assert e2["dtstart"].dt.astimezone(PARIS).time() == dt.time(9, 0)


def test_cancel_sends_a_cancel_ics_and_freezes_the_meeting(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    invited = make_user(session, phone=mobile(55))
    requester = make_user(session, phone=mobile(56))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    meetings.request_participation(session, actor=requester, meeting_id=meeting.id)
    meetings.cancel_meeting(session, actor=coordinator, meeting_id=meeting.id, reason="Congrès")
    for user in (invited, requester):
        (mail,) = [m for m in _mails(session, user) if m.subject.startswith("Annulation")]
        assert "Congrès" in mail.body
        cal = _ics(mail)
        assert str(cal["method"]) == "CANCEL"
        assert str(cal.walk("VEVENT")[0]["status"]) == "CANCELLED"
    with pytest.raises(Conflict, match="annulée"):
        meetings.respond(session, actor=invited, meeting_id=meeting.id, accept=True)
    with pytest.raises(Conflict, match="annulée"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=requester.id)


def test_invitee_confirms_or_declines(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    a = make_user(session, phone=mobile(57))
    b = make_user(session, phone=mobile(58))
    for user in (a, b):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=user.id)
    assert (
        meetings.respond(session, actor=a, meeting_id=meeting.id, accept=True).status == "confirmed"
    )
    assert (
        meetings.respond(session, actor=b, meeting_id=meeting.id, accept=False).status == "declined"
    )
    with pytest.raises(Conflict, match="déjà confirmée"):
        meetings.respond(session, actor=a, meeting_id=meeting.id, accept=True)
    # A confirmed participant may still withdraw.
    assert (
        meetings.respond(session, actor=a, meeting_id=meeting.id, accept=False).status == "declined"
    )


def test_responding_without_invitation_is_refused(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    stranger = make_user(session, phone=mobile(59))
    with pytest.raises(Conflict, match="pas d'invitation"):
        meetings.respond(session, actor=stranger, meeting_id=meeting.id, accept=True)


def test_double_invitation_is_refused(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(60))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    with pytest.raises(Conflict, match="déjà invité"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)


def test_request_is_accepted_by_a_coordinator_and_the_doctor_is_told(
    session, rcp, coordinator
) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(61))
    row = meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)
    assert any(
        m.subject.startswith("Demande de participation") for m in _mails(session, coordinator)
    )
    with pytest.raises(PermissionDenied):
        meetings.decide_request(session, actor=doctor, participation_id=row.id, accept=True)
    meetings.decide_request(session, actor=coordinator, participation_id=row.id, accept=True)
    (mail,) = [m for m in _mails(session, doctor) if m.subject.startswith("Participation acceptée")]
    assert str(_ics(mail)["method"]) == "REQUEST"
    with pytest.raises(Conflict, match="déjà confirmée"):
        meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)
    with pytest.raises(Conflict, match="déjà reçu une réponse"):
        meetings.decide_request(session, actor=coordinator, participation_id=row.id, accept=False)


def test_refused_request_tells_the_doctor_and_cannot_be_repeated(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(62))
    row = meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)
    meetings.decide_request(session, actor=coordinator, participation_id=row.id, accept=False)
    assert any(m.subject.startswith("Participation refusée") for m in _mails(session, doctor))
    with pytest.raises(Conflict, match="refusée"):
        meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)


def test_request_when_invited_says_to_confirm(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(63))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    with pytest.raises(Conflict, match="validez votre participation"):
        meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)


def test_inviting_a_requester_confirms_them(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(64))
    meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)
    row = meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    assert row.status == ParticipationStatus.confirmed


def test_past_meetings_are_read_only(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(65))
    move_to_past(session, meeting)
    with pytest.raises(Conflict, match="passée"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    with pytest.raises(Conflict, match="passée"):
        meetings.request_participation(session, actor=doctor, meeting_id=meeting.id)
    with pytest.raises(Conflict, match="passée"):
        meetings.update_meeting(
            session,
            actor=coordinator,
            meeting_id=meeting.id,
            day=_day(3),
            start=dt.time(9, 0),
            end=dt.time(10, 0),
        )
    view = meetings.meeting_view(session, actor=coordinator, meeting_id=meeting.id)
    assert view.is_past and view.actions == set()


def test_meeting_view_offers_only_the_actions_this_user_may_take(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    member = make_member(session, rcp, coordinator, phone=mobile(66))
    stranger = make_user(session, phone=mobile(67))
    invited = make_user(session, phone=mobile(68))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    view = lambda u: meetings.meeting_view(session, actor=u, meeting_id=meeting.id).actions  # noqa: E731
    assert view(stranger) == {"participate"}
    assert view(member) == {"participate", "submit_case"}
    assert view(invited) == {"confirm", "decline"}
    assert view(coordinator) == {"manage", "invite", "submit_case"}


def test_lists_split_upcoming_and_past(session, rcp, coordinator) -> None:
    soon = make_meeting(session, rcp, coordinator, days_ahead=5)
    later = make_meeting(session, rcp, coordinator, days_ahead=35)
    old = make_meeting(session, rcp, coordinator, days_ahead=3)
    move_to_past(session, old)
    doctor = make_user(session, phone=mobile(69))
    assert [
        m.id for m in meetings.list_meetings(session, actor=doctor, rcp_id=rcp.id, upcoming=True)
    ] == [soon.id, later.id]
    assert [
        m.id for m in meetings.list_meetings(session, actor=doctor, rcp_id=rcp.id, upcoming=False)
    ] == [old.id]


def test_home_shows_invitations_upcoming_and_the_coordinators_todo(
    session, rcp, coordinator
) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    invited = make_user(session, phone=mobile(70))
    requester = make_user(session, phone=mobile(71))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    meetings.request_participation(session, actor=requester, meeting_id=meeting.id)
    home = meetings.home(session, actor=invited)
    assert [ln.meeting.id for ln in home.invitations] == [meeting.id]
    assert home.upcoming == [] and home.requests == []
    meetings.respond(session, actor=invited, meeting_id=meeting.id, accept=True)
    assert [ln.meeting.id for ln in meetings.home(session, actor=invited).upcoming] == [meeting.id]
    todo = meetings.home(session, actor=coordinator)
    assert [(ln.meeting.id, row.user.id) for ln, row in todo.requests] == [
        (meeting.id, requester.id)
    ]
    assert [(ln.meeting.id, n, minimum) for ln, n, minimum in todo.understaffed] == [
        (meeting.id, 1, 3)
    ]
    assert [ln.meeting.id for ln in todo.upcoming] == [meeting.id]


def test_a_closed_meeting_is_no_longer_upcoming_nor_managed(session, rcp, coordinator) -> None:
    """Closed early (before its planned end): out of the home page, the to-do and the RCP's
    upcoming list; no invitation, edit, cancellation or request any more."""
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(73))
    other = make_user(session, phone=mobile(74))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    meetings.respond(session, actor=doctor, meeting_id=meeting.id, accept=True)
    meetings.request_participation(session, actor=other, meeting_id=meeting.id)
    start_now(session, meeting)
    meeting_live.close_meeting(session, actor=coordinator, meeting_id=meeting.id)
    assert meetings.home(session, actor=doctor).upcoming == []
    todo = meetings.home(session, actor=coordinator)
    assert (todo.upcoming, todo.requests, todo.understaffed) == ([], [], [])
    listed = meetings.list_meetings(session, actor=doctor, rcp_id=rcp.id, upcoming=True)
    assert meeting.id not in [m.id for m in listed]
    past = meetings.list_meetings(session, actor=doctor, rcp_id=rcp.id, upcoming=False)
    assert [m.id for m in past] == [meeting.id]
    view = meetings.meeting_view(session, actor=coordinator, meeting_id=meeting.id)
    assert view.actions == set()
    with pytest.raises(Conflict, match="close"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=other.id)
    with pytest.raises(Conflict, match="close"):
        meetings.cancel_meeting(session, actor=coordinator, meeting_id=meeting.id)
    with pytest.raises(Conflict, match="close"):
        meetings.request_participation(
            session, actor=make_user(session, phone=mobile(75)), meeting_id=meeting.id
        )


def test_every_state_change_is_audited(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(72))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    meetings.respond(session, actor=doctor, meeting_id=meeting.id, accept=True)
    meetings.cancel_meeting(session, actor=coordinator, meeting_id=meeting.id)
    actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    for expected in (
        "meeting.scheduled",
        "meeting.invited",
        "meeting.invitation_confirmed",
        "meeting.cancelled",
    ):
        assert expected in actions


def test_no_meeting_email_carries_anything_but_logistics(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator, description="Séance ordinaire")
    doctor = make_user(session, phone=mobile(73))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    mail = [m for m in _mails(session, doctor) if m.subject.startswith("Invitation")][0]
    assert "Séance ordinaire" not in mail.body  # descriptions stay on the platform
    assert "Séance ordinaire" not in mail.attachments[0]["content"]
