"""The services' messages in English: what a member of a European panel reads.

French stays the reference (the other tests assert it); here the same errors and documents
are produced inside ``i18n.using("en")`` (the page's or the recipient's language).
"""

from __future__ import annotations

from datetime import date

import pytest
from icalendar import Calendar
from sqlmodel import Session, select

from rcp import auth, cases, i18n, meetings, opinions
from rcp.errors import AuthFailed, Conflict, InvalidInput, NotFound
from rcp.models import OutboxMessage
from rcp.sheets import build_sheet_pdf
from rcp.validation import check_birth_date, check_password_strength, clean_text, normalize_email
from tests.factories import (
    PASSWORD,
    CaseTeam,
    attend,
    case_form,
    make_case_team,
    make_coordinator,
    make_meeting,
    make_rcp,
    make_user,
    mobile,
)


def test_a_default_error_message_comes_out_in_the_current_language() -> None:
    assert str(NotFound()) == "Élément introuvable."
    with i18n.using("en"):
        assert str(NotFound()) == "Item not found."
        assert str(Conflict()) == "This action is no longer possible in the current state."


def test_validation_messages_in_english() -> None:
    with i18n.using("en"):
        with pytest.raises(InvalidInput) as required:
            clean_text("  ", label="Title", field="title", max_length=10, required=True)
        with pytest.raises(InvalidInput) as too_long:
            clean_text("x" * 12, label="Title", field="title", max_length=10)
        with pytest.raises(InvalidInput) as email:
            normalize_email("not-an-address")
        with pytest.raises(InvalidInput) as password:
            check_password_strength("short")
        with pytest.raises(InvalidInput) as future:
            check_birth_date(date(2100, 1, 1), today=date(2026, 12, 1))
    assert str(required.value) == "The field “Title” is required."
    assert str(too_long.value) == "The field “Title” is too long (12 characters, 10 at most)."
    assert str(email.value).startswith("The email address is not valid")
    assert str(password.value).startswith("The password must be at least 12 characters long")
    assert str(future.value) == "The date of birth cannot be in the future."


# --- cases and opinions ----------------------------------------------------------------------


@pytest.fixture
def team(session: Session) -> CaseTeam:
    return make_case_team(session)


def _validate(session: Session, team: CaseTeam) -> None:
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(
        session, actor=team.assistant, case_id=team.case.id, proposal="Débuter le traitement."
    )
    opinions.validate(session, actor=team.assistant, case_id=team.case.id)


def test_a_refused_case_submission_is_explained_in_english(session: Session, team: CaseTeam):
    with i18n.using("en"), pytest.raises(InvalidInput) as refused:
        cases.save_draft(
            session,
            actor=team.submitter,
            meeting_id=team.meeting.id,
            form=case_form(patient_informed=False),
        )
    assert str(refused.value).startswith(
        "The law requires the patient to be informed before their file is discussed"
    )
    with i18n.using("en"), pytest.raises(InvalidInput) as refused:
        cases.save_draft(
            session, actor=team.submitter, meeting_id=team.meeting.id, form=case_form(last_name="")
        )
    assert str(refused.value) == "The field “Patient's surname” is required."


def test_validation_refusals_in_english(session: Session, team: CaseTeam) -> None:
    attend(session, team.meeting, team.assistant)
    opinions.save_draft(
        session, actor=team.assistant, case_id=team.case.id, proposal="Débuter le traitement."
    )
    with i18n.using("en"), pytest.raises(InvalidInput) as no_quorum:
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    assert str(no_quorum.value).startswith("Quorum not reached (1 participant(s), 1 distinct")
    _validate(session, team)
    with i18n.using("en"), pytest.raises(Conflict) as again:
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    assert str(again.value) == "This opinion has already been validated."


def test_the_submitter_who_chose_english_is_emailed_in_english(
    session: Session, team: CaseTeam
) -> None:
    team.submitter.language = "en"
    session.add(team.submitter)
    session.commit()
    _validate(session, team)  # by a coordinator whose page is in French
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.to == team.submitter.email)
    ).all()[-1]
    assert mail.subject == f"MDT opinion validated: case no. {team.case.id}"
    assert mail.body.startswith("Dear ") and "Avis" not in mail.body


# --- meetings --------------------------------------------------------------------------------


def test_an_invitation_to_a_doctor_who_chose_english_is_in_english_ics_included(
    session: Session,
) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(60))
    meeting = make_meeting(session, rcp, coordinator)
    doctor = make_user(session, phone=mobile(61))
    doctor.language = "en"
    session.add(doctor)
    session.commit()
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.email)).all()
    (mail,) = [m for m in mails if m.attachments]
    assert mail.subject.startswith("Invitation: MDT ") and " meeting of " in mail.subject
    assert mail.body.startswith(f"Dear {doctor.display_name},")
    assert "(Paris time)" in mail.body and "Cases can be submitted until" in mail.body
    (attachment,) = mail.attachments
    event = Calendar.from_ical(attachment["content"]).walk("VEVENT")[0]
    assert str(event["location"]).startswith("Video conference on the platform: ")
    assert "Meeting page: " in str(event["description"])


# --- accounts and sign-in --------------------------------------------------------------------


def test_sign_in_code_and_password_reset_reach_a_doctor_who_chose_english_in_english(
    session: Session,
) -> None:
    doctor = make_user(session, phone=mobile(62))
    doctor.language = "en"
    session.add(doctor)
    session.commit()
    auth.begin_sign_in(session, email=doctor.email, password=PASSWORD)
    sms = session.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.phone)).all()[-1]
    assert " is your " in sms.body and "sign-in code" in sms.body
    auth.request_password_reset(session, email=doctor.email)
    session.commit()
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.email)).all()
    (reset,) = [m for m in mails if "password" in m.subject]
    assert reset.subject.endswith(": resetting your password")
    assert reset.body.startswith(f"Dear {doctor.display_name},")


def test_a_wrong_password_is_refused_in_the_page_s_language(session: Session) -> None:
    doctor = make_user(session, phone=mobile(63))
    with i18n.using("en"), pytest.raises(AuthFailed) as refused:
        auth.begin_sign_in(session, email=doctor.email, password="not-the-password-at-all")
    assert str(refused.value) == "Incorrect email address or password."


# --- the PDF sheet ---------------------------------------------------------------------------


def test_a_sheet_in_english_has_english_section_titles_and_labels() -> None:
    from tests.unit.test_sheets import all_text, make_sheet_data

    text = all_text(build_sheet_pdf(make_sheet_data(language="en")))
    for title in (
        "MDT sheet",
        "QUESTION FOR THE MDT",
        "CLINICAL FILE",
        "OPINION OF THE MDT",
        "PARTICIPANTS AND QUORUM",
        "Quorum reached",
        "RECOMMENDATION OUTSIDE GUIDELINES",
        "REFERRING DOCTOR",
        "replaces version 1 of 17/11/2026",
        "Confidential medical document",
    ):
        assert title in text, title
    for french in ("Dossier clinique", "Avis validé", "Quorum atteint", "Médecin demandeur"):
        assert french.upper() not in text and french not in text
    # The patient's data stays as written.
    assert "Lœvenbruck".upper() in text.upper() and "éculizumab" in text


def test_the_validated_sheet_is_in_the_language_of_the_doctor_who_submitted_the_case(
    session: Session, team: CaseTeam
) -> None:
    from tests.unit.test_sheets import all_text

    team.submitter.language = "en"
    session.add(team.submitter)
    session.commit()
    _validate(session, team)  # by a coordinator whose page is in French
    name, pdf = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)
    text = all_text(pdf)
    assert "OPINION OF THE MDT" in text and "AVIS DE LA RCP" not in text
    assert name == f"fiche-rcp-cas-{team.case.id}-v1.pdf"  # the reader's language: French
