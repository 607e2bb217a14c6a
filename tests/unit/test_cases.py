"""Case submission: mandatory fields, the informed box, drafts, deadline, late cases, access."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from rcp import cases, meetings
from rcp.dates import today_paris
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.models import AuditEvent, Case, CaseStatus, User
from tests.factories import (
    case_form,
    make_admin,
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    move_to_past,
    pass_deadline,
)


@pytest.fixture
def setting(session: Session):
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(1))
    member = make_member(session, rcp, coordinator, phone=mobile(2))
    meeting = make_meeting(session, rcp, coordinator)
    return rcp, coordinator, member, meeting


def test_only_identity_sex_and_informed_box_are_needed(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    case = cases.save_draft(session, actor=member, meeting_id=meeting.id, form=case_form())
    assert case.status == CaseStatus.draft
    assert (case.patient_last_name, case.patient_first_name) == ("EXEMPLE", "Patient")
    assert case.question == "" and case.labs == []


def test_unticked_informed_box_stores_nothing_and_cites_the_law(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    with pytest.raises(InvalidInput, match="La loi impose que le patient soit informé") as exc:
        cases.save_draft(
            session, actor=member, meeting_id=meeting.id, form=case_form(patient_informed=False)
        )
    assert exc.value.field == "patient_informed"
    assert session.exec(select(Case)).all() == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"last_name": ""}, "Nom du patient"),
        ({"first_name": "  "}, "Prénom du patient"),
        ({"last_name": "N" * 500}, "trop long"),
        ({"last_name": "<b>Dupont</b>"}, "lettres"),
        ({"birth_date": None}, "date de naissance est obligatoire"),
        ({"birth_date": "tomorrow"}, "futur"),
        ({"birth_date": dt.date(1899, 12, 31)}, "1900"),
        ({"sex": ""}, "sexe"),
        ({"question": "x" * 5001}, "trop long"),
        ({"labs": [{"code": "creatinine", "value": "-3", "taken_on": "2026-01-05"}]}, "négative"),
        (
            {"labs": [{"code": "egfr", "value": "abc", "taken_on": "2026-01-05"}]},
            "doit être un nombre",
        ),
    ],
    ids=[
        "no_last_name",
        "no_first_name",
        "name_500",
        "markup_name",
        "no_birth_date",
        "future_birth",
        "before_1900",
        "no_sex",
        "long_question",
        "negative_lab",
        "text_lab",
    ],
)
def test_bad_input_is_refused_in_french_and_nothing_stored(
    session, setting, overrides, fragment
) -> None:
    _rcp, _c, member, meeting = setting
    if overrides.get("birth_date") == "tomorrow":  # the users' (Paris) day, when the test runs
        overrides = {"birth_date": today_paris() + dt.timedelta(days=1)}
    with pytest.raises(InvalidInput, match=fragment):
        cases.save_draft(session, actor=member, meeting_id=meeting.id, form=case_form(**overrides))
    assert session.exec(select(Case)).all() == []


def test_markup_in_clinical_text_is_kept_as_text(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    case = cases.save_draft(
        session,
        actor=member,
        meeting_id=meeting.id,
        form=case_form(summary="<script>alert(1)</script> **gras**"),
    )
    assert case.summary == "<script>alert(1)</script> **gras**"


def test_labs_are_validated_normalised_and_sorted(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    case = cases.save_draft(
        session,
        actor=member,
        meeting_id=meeting.id,
        form=case_form(
            labs=[
                {"code": "creatinine", "value": "142,5", "taken_on": "2026-03-01"},
                {"code": "egfr", "value": 48, "taken_on": "2026-01-10"},
                {"code": "", "value": "", "taken_on": ""},
            ]
        ),
    )
    assert case.labs == [
        {"code": "egfr", "value": 48.0, "taken_on": "2026-01-10"},
        {"code": "creatinine", "value": 142.5, "taken_on": "2026-03-01"},
    ]


def test_draft_then_submit_then_edit_until_the_deadline(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    case = cases.save_draft(session, actor=member, meeting_id=meeting.id, form=case_form())
    case = cases.submit(session, actor=member, case_id=case.id)
    assert case.status == CaseStatus.submitted and not case.is_late
    with pytest.raises(Conflict, match="déjà soumis"):
        cases.submit(session, actor=member, case_id=case.id)
    cases.save_draft(
        session,
        actor=member,
        meeting_id=meeting.id,
        case_id=case.id,
        form=case_form(question="Faut-il un traitement immunosuppresseur ?"),
    )
    pass_deadline(session, meeting)
    with pytest.raises(Conflict, match="date limite"):
        cases.save_draft(
            session,
            actor=member,
            meeting_id=meeting.id,
            case_id=case.id,
            form=case_form(question="Trop tard"),
        )
    assert session.get(Case, case.id).question == "Faut-il un traitement immunosuppresseur ?"


def test_after_the_deadline_members_are_refused_and_coordinators_add_late_cases(
    session, setting
) -> None:
    _rcp, coordinator, member, meeting = setting
    pass_deadline(session, meeting)
    with pytest.raises(Conflict, match="date limite de dépôt"):
        make_case(session, meeting, member)
    late = make_case(session, meeting, coordinator)
    assert late.is_late and late.status == CaseStatus.submitted


def test_withdrawn_case_leaves_the_meeting_list(session, setting) -> None:
    _rcp, coordinator, member, meeting = setting
    case = make_case(session, meeting, member)
    cases.withdraw(session, actor=member, case_id=case.id)
    assert cases.list_meeting_cases(session, actor=coordinator, meeting_id=meeting.id) == []


def test_non_members_cannot_submit(session, setting) -> None:
    _rcp, _c, _m, meeting = setting
    stranger = make_user(session, phone=mobile(3))
    with pytest.raises(PermissionDenied, match="membres de la RCP"):
        make_case(session, meeting, stranger)
    other_rcp = make_rcp(session, name="SHU atypique et MAT")
    other = make_coordinator(session, other_rcp, phone=mobile(4))
    with pytest.raises(PermissionDenied):
        make_case(session, meeting, other)


def test_no_case_on_past_or_cancelled_meetings(session, setting) -> None:
    rcp, coordinator, member, meeting = setting
    cancelled = make_meeting(session, rcp, coordinator, days_ahead=20)
    meetings.cancel_meeting(session, actor=coordinator, meeting_id=cancelled.id)
    with pytest.raises(Conflict, match="annulée"):
        make_case(session, cancelled, member)
    move_to_past(session, meeting)
    with pytest.raises(Conflict, match="terminée"):
        make_case(session, meeting, coordinator)


def test_who_sees_a_case(session, setting) -> None:
    rcp, coordinator, member, meeting = setting
    case = make_case(session, meeting, member)
    confirmed = make_user(session, phone=mobile(5))
    invited = make_user(session, phone=mobile(6))
    stranger = make_user(session, phone=mobile(7))
    other_coordinator = make_coordinator(
        session, make_rcp(session, name="Autre RCP"), phone=mobile(8)
    )
    admin = make_admin(session)
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=confirmed.id)
    meetings.respond(session, actor=confirmed, meeting_id=meeting.id, accept=True)
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=invited.id)
    for allowed in (member, coordinator, confirmed):
        assert cases.get_case(session, actor=allowed, case_id=case.id).id == case.id
    for refused in (invited, stranger, other_coordinator, admin):
        with pytest.raises(NotFound):
            cases.get_case(session, actor=refused, case_id=case.id)
        assert cases.list_meeting_cases(session, actor=refused, meeting_id=meeting.id) == []


def test_drafts_are_seen_by_their_author_only(session, setting) -> None:
    _rcp, coordinator, member, meeting = setting
    draft = make_case(session, meeting, member, submit=False)
    with pytest.raises(NotFound):
        cases.get_case(session, actor=coordinator, case_id=draft.id)
    assert cases.get_case(session, actor=member, case_id=draft.id)


def test_submitter_sees_only_own_cases_in_the_meeting_list(session, setting) -> None:
    rcp, coordinator, member, meeting = setting
    mine = make_case(session, meeting, member)
    colleague = make_member(session, rcp, coordinator, phone=mobile(9))
    make_case(session, meeting, colleague, last_name="Autre")
    listed = cases.list_meeting_cases(session, actor=member, meeting_id=meeting.id)
    assert [s.case.id for s in listed] == [mine.id]
    assert len(cases.list_meeting_cases(session, actor=coordinator, meeting_id=meeting.id)) == 2
    assert listed[0].status_label == "à discuter"


def test_only_the_submitter_edits(session, setting) -> None:
    rcp, coordinator, member, meeting = setting
    case = make_case(session, meeting, member)
    confirmed = make_member(session, rcp, coordinator, phone=mobile(10))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=confirmed.id)
    meetings.respond(session, actor=confirmed, meeting_id=meeting.id, accept=True)
    with pytest.raises(PermissionDenied):
        cases.withdraw(session, actor=confirmed, case_id=case.id)


def test_reads_and_changes_are_audited(session, setting) -> None:
    _rcp, coordinator, member, meeting = setting
    case = make_case(session, meeting, member)
    cases.get_case(session, actor=coordinator, case_id=case.id)
    events = [(e.action, e.actor_id) for e in session.exec(select(AuditEvent)).all()]
    assert ("case.created", member.id) in events
    assert ("case.submitted", member.id) in events
    assert ("case.viewed", coordinator.id) in events


def test_my_cases_lists_meeting_and_status(session, setting) -> None:
    _rcp, _c, member, meeting = setting
    make_case(session, meeting, member)
    make_case(session, meeting, member, submit=False, last_name="Brouillon")
    rows = cases.my_cases(session, actor=member)
    assert sorted(r.status_label for r in rows) == ["brouillon", "à discuter"]
    assert all(r.meeting_title.startswith("RCP GEM et SNI") for r in rows)


def test_pending_account_cannot_submit(session, setting) -> None:
    _rcp, _c, _m, meeting = setting
    pending: User = make_user(session, active=False, phone=mobile(11))
    with pytest.raises(PermissionDenied):
        make_case(session, meeting, pending)
