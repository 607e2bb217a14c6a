"""A running meeting: access and window, current case, hands, closing, presence, live state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from rcp import cases, meeting_live, meetings, opinions
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.meeting_live import Phase
from rcp.models import (
    Attendance,
    AuditEvent,
    Case,
    CaseStatus,
    ChatMessage,
    Meeting,
    MeetingStatus,
    OutboxMessage,
    User,
    utcnow,
)
from tests.conftest import set_settings
from tests.factories import (
    make_admin,
    make_case,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_rcp,
    make_user,
    mobile,
    start_now,
)


@dataclass
class World:
    meeting: Meeting
    other_meeting: Meeting
    coordinator: User
    participant: User
    second: User
    invited: User
    requester: User
    stranger: User
    other_coordinator: User
    admin: User
    pending: User
    case_a: Case
    case_b: Case
    draft: Case
    foreign_case: Case


@pytest.fixture
def world(session: Session) -> World:
    rcp = make_rcp(session)
    other_rcp = make_rcp(session, name="Néphropathie à IgA")
    coordinator = make_coordinator(session, rcp, phone=mobile(1), last_name="Lefort")
    other_coordinator = make_coordinator(session, other_rcp, phone=mobile(2))
    meeting = make_meeting(session, rcp, coordinator)
    other_meeting = make_meeting(session, rcp, coordinator, days_ahead=20)
    participant = make_confirmed(session, meeting, coordinator, phone=mobile(3), last_name="Alpha")
    second = make_confirmed(session, meeting, coordinator, phone=mobile(4), last_name="Beta")
    invited = make_user(session, phone=mobile(5))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    requester = make_user(session, phone=mobile(6))
    meetings.request_participation(session, actor=requester, meeting_id=meeting.id)
    case_a = make_case(session, meeting, coordinator, last_name="Premier")
    case_b = make_case(session, meeting, coordinator, last_name="Second")
    draft = make_case(session, meeting, coordinator, last_name="Brouillon", submit=False)
    foreign_case = make_case(session, other_meeting, coordinator, last_name="Ailleurs")
    start_now(session, meeting)
    return World(
        meeting=meeting,
        other_meeting=other_meeting,
        coordinator=coordinator,
        participant=participant,
        second=second,
        invited=invited,
        requester=requester,
        stranger=make_user(session, phone=mobile(7)),
        other_coordinator=other_coordinator,
        admin=make_admin(session),
        pending=make_user(session, active=False, phone=mobile(8)),
        case_a=case_a,
        case_b=case_b,
        draft=draft,
        foreign_case=foreign_case,
    )


OUTSIDERS = ["invited", "requester", "stranger", "other_coordinator", "admin", "pending"]


# --- access and window ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["participant", "coordinator"])
def test_confirmed_participants_and_coordinators_may_enter(
    session: Session, world: World, who: str
) -> None:
    room = meeting_live.access(session, actor=getattr(world, who), meeting_id=world.meeting.id)
    assert room.is_coordinator == (who == "coordinator")


@pytest.mark.parametrize("who", OUTSIDERS)
def test_everyone_else_is_refused_with_a_french_message(
    session: Session, world: World, who: str
) -> None:
    with pytest.raises(PermissionDenied) as error:
        meeting_live.access(session, actor=getattr(world, who), meeting_id=world.meeting.id)
    assert "Seuls les participants confirmés" in str(error.value) or who == "pending"
    assert not meeting_live.may_enter(
        session, actor=getattr(world, who), meeting_id=world.meeting.id
    )


def test_participant_who_withdrew_is_refused(session: Session, world: World) -> None:
    meetings.respond(session, actor=world.second, meeting_id=world.meeting.id, accept=False)
    with pytest.raises(PermissionDenied):
        meeting_live.access(session, actor=world.second, meeting_id=world.meeting.id)


def test_unknown_meeting_is_not_found(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        meeting_live.access(session, actor=world.coordinator, meeting_id=9999)


def test_room_opens_the_set_number_of_minutes_before_the_start(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting = world.meeting
    start = meeting.starts_at
    assert meeting_live.phase(meeting, start - dt.timedelta(minutes=16)) == Phase.before
    assert meeting_live.phase(meeting, start - dt.timedelta(minutes=15)) == Phase.live
    set_settings(monkeypatch, room_open_minutes_before=30)
    assert meeting_live.phase(meeting, start - dt.timedelta(minutes=29)) == Phase.live
    assert meeting_live.phase(meeting, start - dt.timedelta(minutes=31)) == Phase.before


def test_room_closes_after_the_overrun_grace_when_nobody_closed_it(world: World) -> None:
    end = world.meeting.ends_at
    assert meeting_live.phase(world.meeting, end + dt.timedelta(minutes=30)) == Phase.live
    assert meeting_live.phase(world.meeting, end + meeting_live.OVERRUN_GRACE) == Phase.closed


def test_cancelled_meeting_never_opens(session: Session, world: World) -> None:
    world.meeting.status = MeetingStatus.cancelled
    assert meeting_live.phase(world.meeting) == Phase.cancelled
    with pytest.raises(Conflict, match="annulée"):
        meeting_live.require_live(world.meeting)


# --- current case --------------------------------------------------------------------------


def test_coordinator_sets_the_current_case_and_the_meeting_opens(
    session: Session, world: World
) -> None:
    meeting = meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_a.id
    )
    assert meeting.current_case_id == world.case_a.id
    assert meeting.status == MeetingStatus.open
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "meeting.current_case_set")
    ).one()
    assert event.details["case_id"] == world.case_a.id


def test_switching_the_current_case_does_not_mark_the_previous_one_discussed(
    session: Session, world: World
) -> None:
    """A case is "discuté" only when someone says so, not because it was on screen."""
    for case_id in (world.case_a.id, world.case_b.id):
        meeting_live.set_current_case(
            session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=case_id
        )
    session.refresh(world.case_a)
    session.refresh(world.case_b)
    assert world.case_a.status == CaseStatus.submitted
    assert world.case_b.status == CaseStatus.submitted


def test_a_coordinator_marks_a_case_discussed(session: Session, world: World) -> None:
    case = meeting_live.mark_discussed(session, actor=world.coordinator, case_id=world.case_a.id)
    assert case.status == CaseStatus.discussed
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.discussed")).one()
    assert event.target_id == world.case_a.id
    with pytest.raises(PermissionDenied):
        meeting_live.mark_discussed(session, actor=world.participant, case_id=world.case_b.id)
    with pytest.raises(Conflict, match="séance ouverte"):
        meeting_live.mark_discussed(session, actor=world.coordinator, case_id=world.foreign_case.id)


def _mails_to(session: Session, user: User) -> list[OutboxMessage]:
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.to == user.email)).all())


def test_a_case_postponed_moves_to_the_next_meeting_and_its_submitter_is_told(
    session: Session, world: World
) -> None:
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_a.id
    )
    before = len(_mails_to(session, world.coordinator))
    case = meeting_live.postpone_case(session, actor=world.coordinator, case_id=world.case_a.id)
    assert (case.meeting_id, case.status) == (world.other_meeting.id, CaseStatus.submitted)
    assert case.postponed_from_meeting_id == world.meeting.id and case.postponed_at is not None
    assert case.position == 2  # after the case already on the next meeting's list
    session.refresh(world.meeting)
    assert world.meeting.current_case_id is None
    assert cases.postponed_from(session, case).id == world.meeting.id
    (mail,) = _mails_to(session, world.coordinator)[before:]  # the coordinator submitted it
    assert f"cas n° {case.id}" in mail.subject and f"/cas?id={case.id}" in mail.body
    assert "PREMIER" not in mail.body.upper()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.postponed")).one()
    assert event.details == {
        "from_meeting_id": world.meeting.id,
        "to_meeting_id": world.other_meeting.id,
    }
    # It is now on the next meeting's agenda and no longer on this one's.
    listed = cases.list_meeting_cases(
        session, actor=world.coordinator, meeting_id=world.other_meeting.id
    )
    assert case.id in [s.case.id for s in listed]


def test_postponing_needs_a_next_meeting(session: Session, world: World) -> None:
    meetings.cancel_meeting(session, actor=world.coordinator, meeting_id=world.other_meeting.id)
    with pytest.raises(Conflict, match="Aucune séance suivante"):
        meeting_live.postpone_case(session, actor=world.coordinator, case_id=world.case_a.id)


def test_a_case_closed_without_opinion_keeps_its_reason_and_leaves_the_agenda(
    session: Session, world: World
) -> None:
    with pytest.raises(InvalidInput, match="pourquoi"):
        meeting_live.close_case_without_opinion(
            session, actor=world.coordinator, case_id=world.case_b.id, reason="  "
        )
    case = meeting_live.close_case_without_opinion(
        session,
        actor=world.coordinator,
        case_id=world.case_b.id,
        reason="Examens complémentaires à réaliser avant avis.",
    )
    assert case.status == CaseStatus.closed and case.closed_at is not None
    assert case.closed_reason == "Examens complémentaires à réaliser avant avis."
    mail = _mails_to(session, world.coordinator)[-1]
    assert "clos sans avis" in mail.body and "Examens" not in mail.body
    with pytest.raises(Conflict, match="clos sans avis"):
        meeting_live.postpone_case(session, actor=world.coordinator, case_id=world.case_b.id)
    with pytest.raises(Conflict, match="clos sans avis"):
        opinions.save_draft(
            session, actor=world.coordinator, case_id=world.case_b.id, proposal="Avis."
        )
    with pytest.raises(PermissionDenied):
        meeting_live.close_case_without_opinion(
            session, actor=world.participant, case_id=world.case_a.id, reason="Non."
        )


def test_validated_previous_case_stays_validated(session: Session, world: World) -> None:
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_a.id
    )
    world.case_a.status = CaseStatus.validated
    session.add(world.case_a)
    session.commit()
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=None
    )
    session.refresh(world.case_a)
    assert world.case_a.status == CaseStatus.validated


def test_discussed_case_may_be_shown_again(session: Session, world: World) -> None:
    for case_id in (world.case_a.id, world.case_b.id, world.case_a.id):
        meeting = meeting_live.set_current_case(
            session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=case_id
        )
    assert meeting.current_case_id == world.case_a.id


def test_case_of_another_meeting_is_refused(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        meeting_live.set_current_case(
            session,
            actor=world.coordinator,
            meeting_id=world.meeting.id,
            case_id=world.foreign_case.id,
        )


def test_draft_or_withdrawn_case_cannot_be_current(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput):
        meeting_live.set_current_case(
            session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.draft.id
        )
    world.case_b.status = CaseStatus.withdrawn
    session.add(world.case_b)
    session.commit()
    with pytest.raises(InvalidInput):
        meeting_live.set_current_case(
            session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_b.id
        )


@pytest.mark.parametrize("who", ["participant", *OUTSIDERS])
def test_only_a_coordinator_sets_the_current_case(session: Session, world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        meeting_live.set_current_case(
            session, actor=getattr(world, who), meeting_id=world.meeting.id, case_id=world.case_a.id
        )
    session.refresh(world.meeting)
    assert world.meeting.current_case_id is None


def test_current_case_cannot_be_set_before_the_room_opens(session: Session, world: World) -> None:
    with pytest.raises(Conflict, match="pas encore ouverte"):
        meeting_live.set_current_case(
            session,
            actor=world.coordinator,
            meeting_id=world.other_meeting.id,
            case_id=world.foreign_case.id,
        )


# --- hands ---------------------------------------------------------------------------------


def test_raised_hands_are_listed_in_order_and_the_coordinator_clears_one(
    session: Session, world: World
) -> None:
    meeting_live.raise_hand(session, actor=world.second, meeting_id=world.meeting.id)
    meeting_live.raise_hand(session, actor=world.participant, meeting_id=world.meeting.id)
    state = meeting_live.live_state(session, actor=world.coordinator, meeting_id=world.meeting.id)
    assert [h.user_id for h in state.hands] == [world.second.id, world.participant.id]
    meeting_live.clear_hand(
        session, actor=world.coordinator, meeting_id=world.meeting.id, user_id=world.second.id
    )
    state = meeting_live.live_state(session, actor=world.coordinator, meeting_id=world.meeting.id)
    assert [h.user_id for h in state.hands] == [world.participant.id]
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "meeting.hand_cleared")).one()


def test_raising_twice_keeps_the_first_time(session: Session, world: World) -> None:
    first = meeting_live.raise_hand(
        session, actor=world.participant, meeting_id=world.meeting.id
    ).hand_raised_at
    again = meeting_live.raise_hand(session, actor=world.participant, meeting_id=world.meeting.id)
    assert again.hand_raised_at == first


def test_participant_lowers_own_hand(session: Session, world: World) -> None:
    meeting_live.raise_hand(session, actor=world.participant, meeting_id=world.meeting.id)
    row = meeting_live.lower_hand(session, actor=world.participant, meeting_id=world.meeting.id)
    assert row.hand_raised_at is None
    state = meeting_live.live_state(session, actor=world.participant, meeting_id=world.meeting.id)
    assert not state.my_hand_raised and not state.hands


def test_a_participant_cannot_clear_someone_elses_hand(session: Session, world: World) -> None:
    meeting_live.raise_hand(session, actor=world.second, meeting_id=world.meeting.id)
    with pytest.raises(PermissionDenied):
        meeting_live.clear_hand(
            session, actor=world.participant, meeting_id=world.meeting.id, user_id=world.second.id
        )


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_cannot_raise_a_hand(session: Session, world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        meeting_live.raise_hand(session, actor=getattr(world, who), meeting_id=world.meeting.id)


def test_coordinator_has_no_hand_to_raise(session: Session, world: World) -> None:
    with pytest.raises(Conflict):
        meeting_live.raise_hand(session, actor=world.coordinator, meeting_id=world.meeting.id)


def test_hand_cannot_be_raised_before_the_room_opens(session: Session, world: World) -> None:
    coordinator = world.coordinator
    later = make_confirmed(session, world.other_meeting, coordinator, phone=mobile(9))
    with pytest.raises(Conflict, match="pas encore ouverte"):
        meeting_live.raise_hand(session, actor=later, meeting_id=world.other_meeting.id)


# --- closing -------------------------------------------------------------------------------


def test_closing_ends_the_room_leaves_cases_as_they_are_and_lowers_hands(
    session: Session, world: World
) -> None:
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_a.id
    )
    meeting_live.raise_hand(session, actor=world.participant, meeting_id=world.meeting.id)
    meeting = meeting_live.close_meeting(
        session, actor=world.coordinator, meeting_id=world.meeting.id
    )
    assert meeting.status == MeetingStatus.closed and meeting.closed_at is not None
    assert meeting.current_case_id is None
    assert meeting_live.phase(meeting) == Phase.closed
    session.refresh(world.case_a)
    assert world.case_a.status == CaseStatus.submitted  # no opinion: not "discuté"
    state = meeting_live.live_state(session, actor=world.participant, meeting_id=meeting.id)
    assert state.hands == () and state.phase == Phase.closed
    with pytest.raises(Conflict, match="terminée"):
        meeting_live.raise_hand(session, actor=world.participant, meeting_id=meeting.id)
    with pytest.raises(Conflict, match="terminée"):
        meeting_live.close_meeting(session, actor=world.coordinator, meeting_id=meeting.id)


@pytest.mark.parametrize("who", ["participant", *OUTSIDERS])
def test_only_a_coordinator_closes_the_meeting(session: Session, world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        meeting_live.close_meeting(session, actor=getattr(world, who), meeting_id=world.meeting.id)


def test_a_meeting_closed_by_mistake_can_be_reopened(session: Session, world: World) -> None:
    meeting_live.close_meeting(session, actor=world.coordinator, meeting_id=world.meeting.id)
    with pytest.raises(PermissionDenied):
        meeting_live.reopen_meeting(session, actor=world.participant, meeting_id=world.meeting.id)
    meeting = meeting_live.reopen_meeting(
        session, actor=world.coordinator, meeting_id=world.meeting.id
    )
    assert meeting.status == MeetingStatus.open and meeting.closed_at is None
    assert meeting_live.phase(meeting) == Phase.live


def test_a_long_finished_meeting_cannot_be_reopened(session: Session, world: World) -> None:
    meeting_live.close_meeting(session, actor=world.coordinator, meeting_id=world.meeting.id)
    world.meeting.ends_at = utcnow() - meeting_live.OVERRUN_GRACE - dt.timedelta(minutes=1)
    session.add(world.meeting)
    session.commit()
    with pytest.raises(Conflict, match="trop longtemps"):
        meeting_live.reopen_meeting(session, actor=world.coordinator, meeting_id=world.meeting.id)


# --- presence and live state -----------------------------------------------------------------


def _attend(session: Session, meeting: Meeting, user: User, **values) -> None:
    now = utcnow()
    row = Attendance(meeting_id=meeting.id, user_id=user.id, joined_at=now, last_seen_at=now)
    for key, value in values.items():
        setattr(row, key, value)
    session.add(row)
    session.commit()


def test_present_lists_open_attendances_seen_in_the_last_minute(
    session: Session, world: World
) -> None:
    now = utcnow()
    meeting = world.meeting
    _attend(session, meeting, world.participant)
    _attend(session, meeting, world.participant)  # a second tab: listed once
    _attend(session, meeting, world.coordinator, last_seen_at=now - dt.timedelta(seconds=20))
    _attend(session, meeting, world.second, left_at=now)  # left
    _attend(session, meeting, world.invited, last_seen_at=now - dt.timedelta(seconds=90))  # gone
    people = meeting_live.present(session, actor=world.second, meeting_id=meeting.id)
    assert sorted(p.user_id for p in people) == sorted([world.participant.id, world.coordinator.id])
    alpha = next(p for p in people if p.user_id == world.participant.id)
    assert alpha.name == world.participant.display_name
    assert alpha.specialty == "Néphrologie"


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_do_not_see_who_is_present(session: Session, world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        meeting_live.present(session, actor=getattr(world, who), meeting_id=world.meeting.id)


def test_live_state_reports_current_case_cases_presence_and_last_message(
    session: Session, world: World
) -> None:
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_b.id
    )
    _attend(session, world.meeting, world.second)
    session.add(ChatMessage(meeting_id=world.meeting.id, author_id=world.second.id, body="x"))
    session.commit()
    state = meeting_live.live_state(session, actor=world.participant, meeting_id=world.meeting.id)
    assert state.current_case_id == world.case_b.id
    assert state.status == MeetingStatus.open and state.phase == Phase.live
    assert [p.user_id for p in state.present] == [world.second.id]
    assert dict(state.cases) == {world.case_a.id: "submitted", world.case_b.id: "submitted"}
    assert state.last_message_id is not None
    assert not state.is_coordinator


def test_page_signature_changes_with_the_current_case(session: Session, world: World) -> None:
    before = meeting_live.live_state(
        session, actor=world.participant, meeting_id=world.meeting.id
    ).page_signature
    meeting_live.set_current_case(
        session, actor=world.coordinator, meeting_id=world.meeting.id, case_id=world.case_a.id
    )
    after = meeting_live.live_state(
        session, actor=world.participant, meeting_id=world.meeting.id
    ).page_signature
    assert before != after


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_get_no_live_state(session: Session, world: World, who: str) -> None:
    with pytest.raises(PermissionDenied):
        meeting_live.live_state(session, actor=getattr(world, who), meeting_id=world.meeting.id)


def test_the_postponement_email_is_in_the_submitter_s_language(
    session: Session, world: World
) -> None:
    world.coordinator.language = "en"  # the coordinator submitted the case
    session.add(world.coordinator)
    session.commit()
    before = len(_mails_to(session, world.coordinator))
    case = meeting_live.postpone_case(session, actor=world.coordinator, case_id=world.case_a.id)
    (mail,) = _mails_to(session, world.coordinator)[before:]
    assert mail.subject == f"Case postponed to the next meeting: case no. {case.id}"
    assert mail.body.startswith("Dear ") and "(Paris time) of the same MDT" in mail.body
