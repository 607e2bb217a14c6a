"""Video room attendance: who may join and when, join/heartbeat/leave, attendees, screen grants."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, col, select

from rcp import attendance, meetings
from rcp.errors import Conflict, NotFound, PermissionDenied
from rcp.models import Attendance, AuditEvent, Meeting, MeetingStatus, User, utcnow
from tests.conftest import set_settings
from tests.factories import make_coordinator, make_meeting, make_member, make_rcp, make_user, mobile


@pytest.fixture
def rcp(session: Session):
    return make_rcp(session)


@pytest.fixture
def coordinator(session: Session, rcp) -> User:
    return make_coordinator(session, rcp, phone=mobile(60))


def _at(session: Session, meeting: Meeting, *, starts_in: dt.timedelta) -> Meeting:
    """Move the meeting so that it starts ``starts_in`` from now (negative: already started)."""
    meeting.starts_at = utcnow() + starts_in
    meeting.ends_at = meeting.starts_at + dt.timedelta(hours=2)
    meeting.case_deadline = meeting.starts_at
    session.add(meeting)
    session.commit()
    return meeting


@pytest.fixture
def live(session: Session, rcp, coordinator) -> Meeting:
    """A meeting that started 10 minutes ago."""
    return _at(
        session, make_meeting(session, rcp, coordinator), starts_in=-dt.timedelta(minutes=10)
    )


def _confirmed(session: Session, meeting: Meeting, coordinator: User, n: int) -> User:
    doctor = make_member(session, meeting_rcp(session, meeting), coordinator, phone=mobile(n))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    meetings.respond(session, actor=doctor, meeting_id=meeting.id, accept=True)
    return doctor


def meeting_rcp(session: Session, meeting: Meeting):
    from rcp.models import Rcp

    return session.get(Rcp, meeting.rcp_id)


def _actions(session: Session, prefix: str) -> list[str]:
    return [
        e.action
        for e in session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith(prefix))
            .order_by(col(AuditEvent.id))
        ).all()
    ]


def _age(session: Session, row: Attendance, seconds: int) -> None:
    """Pretend the stay's last sign of life was ``seconds`` ago."""
    row.last_seen_at = utcnow() - dt.timedelta(seconds=seconds)
    row.joined_at = min(row.joined_at, row.last_seen_at)
    session.add(row)
    session.commit()


# --- who may join, and when ----------------------------------------------------------------


def test_confirmed_participant_and_coordinator_may_join_a_running_meeting(
    session, live, coordinator
) -> None:
    doctor = _confirmed(session, live, coordinator, 61)
    assert attendance.check_can_join(session, actor=doctor, meeting_id=live.id).id == live.id
    assert attendance.check_can_join(session, actor=coordinator, meeting_id=live.id).id == live.id


def test_invited_but_unconfirmed_doctor_is_refused(session, live, coordinator, rcp) -> None:
    doctor = make_member(session, rcp, coordinator, phone=mobile(62))
    meetings.invite(session, actor=coordinator, meeting_id=live.id, user_id=doctor.id)
    with pytest.raises(PermissionDenied, match="participants confirmés"):
        attendance.check_can_join(session, actor=doctor, meeting_id=live.id)


def test_stranger_and_admin_are_refused_even_with_the_url(session, live) -> None:
    from tests.factories import make_admin

    stranger = make_user(session, phone=mobile(63))
    for actor in (stranger, make_admin(session)):
        with pytest.raises(PermissionDenied):
            attendance.check_can_join(session, actor=actor, meeting_id=live.id)


def test_unknown_meeting_is_not_found(session, coordinator) -> None:
    with pytest.raises(NotFound):
        attendance.check_can_join(session, actor=coordinator, meeting_id=9999)


def test_room_opens_fifteen_minutes_before_the_start(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    _at(session, meeting, starts_in=dt.timedelta(minutes=20))
    with pytest.raises(Conflict, match="pas encore ouverte.*15 minutes avant"):
        attendance.check_can_join(session, actor=coordinator, meeting_id=meeting.id)
    _at(session, meeting, starts_in=dt.timedelta(minutes=14))
    assert attendance.check_can_join(session, actor=coordinator, meeting_id=meeting.id)


def test_opening_delay_comes_from_the_setting(session, rcp, coordinator, monkeypatch) -> None:
    set_settings(monkeypatch, room_open_minutes_before=30)
    meeting = _at(
        session, make_meeting(session, rcp, coordinator), starts_in=dt.timedelta(minutes=25)
    )
    assert attendance.check_can_join(session, actor=coordinator, meeting_id=meeting.id)


def test_room_closes_with_the_meeting_or_after_the_overrun_grace(
    session, live, coordinator
) -> None:
    live.status = MeetingStatus.closed
    live.closed_at = utcnow()
    session.add(live)
    session.commit()
    with pytest.raises(Conflict, match="terminée"):
        attendance.check_can_join(session, actor=coordinator, meeting_id=live.id)
    live.status = MeetingStatus.open
    live.closed_at = None
    session.add(live)
    session.commit()
    _at(session, live, starts_in=-dt.timedelta(hours=3))  # ended 1 h ago: within the grace
    assert attendance.check_can_join(session, actor=coordinator, meeting_id=live.id)
    _at(session, live, starts_in=-dt.timedelta(hours=4, minutes=1))  # ended 2 h 01 ago
    with pytest.raises(Conflict, match="terminée"):
        attendance.check_can_join(session, actor=coordinator, meeting_id=live.id)


def test_cancelled_meeting_cannot_be_joined(session, rcp, coordinator) -> None:
    meeting = make_meeting(session, rcp, coordinator)
    meetings.cancel_meeting(session, actor=coordinator, meeting_id=meeting.id)
    _at(session, meeting, starts_in=-dt.timedelta(minutes=5))
    with pytest.raises(Conflict, match="annulée"):
        attendance.check_can_join(session, actor=coordinator, meeting_id=meeting.id)


# --- join, heartbeat, leave ----------------------------------------------------------------


def test_join_opens_a_stay_and_is_audited(session, live, coordinator) -> None:
    doctor = _confirmed(session, live, coordinator, 64)
    row = attendance.record_join(session, actor=doctor, meeting_id=live.id)
    assert row.id is not None and row.left_at is None
    assert row.user_id == doctor.id and row.meeting_id == live.id
    assert _actions(session, "room.") == ["room.joined"]


def test_join_is_refused_to_a_stranger_and_writes_nothing(session, live) -> None:
    stranger = make_user(session, phone=mobile(65))
    with pytest.raises(PermissionDenied):
        attendance.record_join(session, actor=stranger, meeting_id=live.id)
    assert session.exec(select(Attendance)).all() == []


def test_join_twice_while_present_keeps_one_stay(session, live, coordinator) -> None:
    first = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    second = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    assert first.id == second.id
    assert len(session.exec(select(Attendance)).all()) == 1


def test_heartbeat_refreshes_last_seen_and_needs_an_open_stay(session, live, coordinator) -> None:
    assert attendance.heartbeat(session, actor=coordinator, meeting_id=live.id) is None
    row = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    _age(session, row, 20)
    old = row.last_seen_at
    beat = attendance.heartbeat(session, actor=coordinator, meeting_id=live.id)
    assert beat is not None and beat.id == row.id and beat.last_seen_at > old


def test_leave_sets_left_at_and_a_second_leave_changes_nothing(session, live, coordinator) -> None:
    row = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    (left,) = attendance.record_leave(session, actor=coordinator, meeting_id=live.id)
    assert left.id == row.id and left.left_at is not None and left.left_at >= left.joined_at
    assert attendance.record_leave(session, actor=coordinator, meeting_id=live.id) == []
    assert _actions(session, "room.") == ["room.joined", "room.left"]


def test_a_stay_without_heartbeat_counts_as_left_at_its_last_sign_of_life(
    session, live, coordinator
) -> None:
    row = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    _age(session, row, 300)  # the laptop was closed five minutes ago
    assert attendance.heartbeat(session, actor=coordinator, meeting_id=live.id) is None
    (who,) = attendance.attendees(session, live.id)
    assert not who.present and who.last_left_at == row.last_seen_at
    again = attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    assert again.id != row.id
    session.refresh(row)
    assert row.left_at == row.last_seen_at  # closed when the user came back


def test_attendees_lists_each_user_once_with_first_join_and_last_leave(
    session, live, coordinator
) -> None:
    doctor = _confirmed(session, live, coordinator, 66)
    first = attendance.record_join(session, actor=doctor, meeting_id=live.id)
    first.joined_at = utcnow() - dt.timedelta(minutes=30)
    session.add(first)
    session.commit()
    attendance.record_leave(session, actor=doctor, meeting_id=live.id)
    attendance.record_join(session, actor=doctor, meeting_id=live.id)
    (last,) = attendance.record_leave(session, actor=doctor, meeting_id=live.id)
    attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    rows = {a.user_id: a for a in attendance.attendees(session, live.id)}
    assert set(rows) == {doctor.id, coordinator.id}
    assert rows[doctor.id].stays == 2
    assert rows[doctor.id].first_joined_at == first.joined_at
    assert rows[doctor.id].last_left_at == last.left_at
    assert rows[doctor.id].specialty == doctor.specialty
    assert rows[coordinator.id].present


def test_nobody_attended_gives_an_empty_list(session, live) -> None:
    assert attendance.attendees(session, live.id) == []


# --- screen sharing ------------------------------------------------------------------------


def test_coordinator_grants_the_screen_to_a_present_participant_then_withdraws_it(
    session, live, coordinator
) -> None:
    doctor = _confirmed(session, live, coordinator, 67)
    attendance.record_join(session, actor=doctor, meeting_id=live.id)
    assert not attendance.may_share_screen(session, actor=doctor, meeting_id=live.id)
    meeting = attendance.grant_screen(
        session, actor=coordinator, meeting_id=live.id, user_id=doctor.id
    )
    assert meeting.presenter_id == doctor.id
    assert attendance.may_share_screen(session, actor=doctor, meeting_id=live.id)
    assert not attendance.may_share_screen(session, actor=coordinator, meeting_id=live.id)
    attendance.withdraw_screen(session, actor=coordinator, meeting_id=live.id)
    session.refresh(live)
    assert live.presenter_id is None
    assert not attendance.may_share_screen(session, actor=doctor, meeting_id=live.id)
    assert _actions(session, "room.screen") == ["room.screen_granted", "room.screen_withdrawn"]


def test_screen_cannot_be_granted_to_someone_absent(session, live, coordinator) -> None:
    doctor = _confirmed(session, live, coordinator, 68)
    with pytest.raises(Conflict, match="n'est pas dans la salle"):
        attendance.grant_screen(session, actor=coordinator, meeting_id=live.id, user_id=doctor.id)
    session.refresh(live)
    assert live.presenter_id is None


def test_participant_may_not_grant_or_withdraw_the_screen(session, live, coordinator) -> None:
    doctor = _confirmed(session, live, coordinator, 69)
    attendance.record_join(session, actor=doctor, meeting_id=live.id)
    with pytest.raises(PermissionDenied, match="partage d'écran"):
        attendance.grant_screen(session, actor=doctor, meeting_id=live.id, user_id=doctor.id)
    attendance.grant_screen(session, actor=coordinator, meeting_id=live.id, user_id=doctor.id)
    with pytest.raises(PermissionDenied):
        attendance.withdraw_screen(session, actor=doctor, meeting_id=live.id)
    session.refresh(live)
    assert live.presenter_id == doctor.id


def test_leaving_the_room_ends_the_presenters_grant(session, live, coordinator) -> None:
    doctor = _confirmed(session, live, coordinator, 70)
    attendance.record_join(session, actor=doctor, meeting_id=live.id)
    attendance.grant_screen(session, actor=coordinator, meeting_id=live.id, user_id=doctor.id)
    attendance.record_leave(session, actor=doctor, meeting_id=live.id)
    session.refresh(live)
    assert live.presenter_id is None


def test_screen_cannot_be_granted_in_a_closed_meeting(session, live, coordinator) -> None:
    attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    live.status = MeetingStatus.closed
    live.closed_at = utcnow()
    session.add(live)
    session.commit()
    with pytest.raises(Conflict):
        attendance.grant_screen(
            session, actor=coordinator, meeting_id=live.id, user_id=coordinator.id
        )


def test_closing_the_meeting_ends_the_stays_still_open(session, live, coordinator) -> None:
    from rcp import meeting_live

    doctor = _confirmed(session, live, coordinator, 63)
    away = _confirmed(session, live, coordinator, 64)
    attendance.record_join(session, actor=coordinator, meeting_id=live.id)
    attendance.record_join(session, actor=doctor, meeting_id=live.id)
    gone = attendance.record_join(session, actor=away, meeting_id=live.id)
    # The third tab stopped sending heartbeats five minutes ago without saying goodbye.
    gone.joined_at = gone.last_seen_at = utcnow() - dt.timedelta(minutes=5)
    session.add(gone)
    session.commit()
    before = utcnow()
    meeting_live.close_meeting(session, actor=coordinator, meeting_id=live.id)
    stays = {s.user_id: s for s in session.exec(select(Attendance)).all()}
    assert all(s.left_at is not None for s in stays.values())
    assert stays[doctor.id].left_at >= before and stays[coordinator.id].left_at >= before
    assert stays[away.id].left_at == stays[away.id].last_seen_at
    assert {a.user_id for a in attendance.attendees(session, live.id)} == {
        coordinator.id,
        doctor.id,
        away.id,
    }
