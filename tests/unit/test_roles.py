"""Forms of address: "Dr" for physicians only; professions and RCP roles in the person's form."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp import accounts, demo, i18n, meetings, roles
from rcp.errors import InvalidInput, PermissionDenied
from rcp.models import AuditEvent, Civility, MemberRole, OutboxMessage, Profession, User
from tests.factories import (
    make_admin,
    make_coordinator,
    make_meeting,
    make_rcp,
    make_user,
    registration,
)


def test_registration_records_the_profession_and_form_of_address(session: Session) -> None:
    user = accounts.register(
        session,
        form=registration(
            first_name="Léa",
            last_name="Petit",
            profession=Profession.rcp_secretary,
            civility=Civility.madame,
        ),
    )
    assert (user.profession, user.civility) == (Profession.rcp_secretary, Civility.madame)
    assert user.display_name == "Léa Petit"  # not "Dr": she is not a physician
    assert roles.profession_label(user) == "secrétaire / assistante de RCP"


def test_registration_defaults_to_a_physician_addressed_as_dr(session: Session) -> None:
    user = accounts.register(session, form=registration(first_name="Paul", last_name="Roux"))
    assert user.profession == Profession.physician and user.civility is None
    assert user.display_name == "Dr Paul Roux"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"profession": "astrologue"}, "profession"), ({"civility": "Mlle"}, "civility")],
)
def test_registration_refuses_an_unknown_profession_or_form(
    session: Session, overrides: dict, field: str
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        accounts.register(session, form=registration(**overrides))
    assert excinfo.value.field == field
    assert session.exec(select(User)).all() == []


@pytest.mark.parametrize(
    ("profession", "civility", "french", "english"),
    [
        (Profession.coordination_nurse, Civility.madame, "infirmière de coordination", None),
        (Profession.coordination_nurse, Civility.monsieur, "infirmier de coordination", None),
        (Profession.coordination_nurse, None, "infirmier de coordination", None),
        (Profession.genetic_counsellor, Civility.madame, "conseillère en génétique", None),
        (Profession.pharmacist, Civility.madame, "pharmacienne", "pharmacist"),
        (Profession.pharmacist, Civility.monsieur, "pharmacien", "pharmacist"),
        (Profession.research_associate, Civility.madame, "attachée de recherche clinique", None),
    ],
)
def test_profession_labels_follow_the_chosen_form_and_english_has_one(
    profession: Profession, civility: Civility | None, french: str, english: str | None
) -> None:
    person = User(profession=profession, civility=civility)  # type: ignore[call-arg]
    with i18n.using("fr"):
        assert roles.profession_label(person) == french
    with i18n.using("en"):
        shown = roles.profession_label(person)
    assert shown == (english or shown) and shown.isascii()


def test_rcp_roles_in_the_persons_form() -> None:
    her = User(civility=Civility.madame)  # type: ignore[call-arg]
    him = User(civility=Civility.monsieur)  # type: ignore[call-arg]
    unsaid = User()  # type: ignore[call-arg]
    with i18n.using("fr"):
        assert roles.role_label(MemberRole.assistant, her) == "assistante RCP"
        assert roles.role_label(MemberRole.assistant, him) == "assistant RCP"
        assert roles.role_label(MemberRole.assistant, unsaid) == "assistant RCP"
        assert roles.role_label(MemberRole.referent, her) == "médecin référente"
    with i18n.using("en"):
        assert roles.role_label(MemberRole.assistant, her) == "MDT coordinator"
        assert roles.role_label(MemberRole.assistant, him) == "MDT coordinator"


def test_qualification_is_the_specialty_of_a_physician_else_the_profession() -> None:
    doctor = User(specialty="Néphrologie")  # type: ignore[call-arg]
    counsellor = User(  # type: ignore[call-arg]
        specialty="Génétique", profession=Profession.genetic_counsellor, civility=Civility.madame
    )
    secretary = User(specialty="Autre", profession=Profession.rcp_secretary)  # type: ignore[call-arg]
    with i18n.using("fr"):
        assert roles.qualification(doctor) == "Néphrologie"
        assert roles.qualification(counsellor) == "Conseillère en génétique, Génétique"
        assert roles.qualification(secretary) == "Secrétaire / assistant de RCP"
    with i18n.using("en"):
        assert roles.qualification(counsellor) == "Genetic counsellor, Genetics"


def test_own_form_of_address_is_changed_on_my_account_and_kept_otherwise(
    session: Session,
) -> None:
    user = make_user(session, profession=Profession.pharmacist)
    accounts.update_profile(
        session, actor=user, specialty="Autre", institution="CHU", civility="mme"
    )
    assert user.civility == Civility.madame
    accounts.update_profile(session, actor=user, specialty="Autre", institution="CHU")
    assert user.civility == Civility.madame
    accounts.update_profile(
        session, actor=user, specialty="Autre", institution="CHU", civility=None
    )
    assert user.civility is None


def test_an_admin_sets_the_profession_and_the_journal_says_so(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session, first_name="Léa", last_name="Petit")
    assert user.display_name == "Dr Léa Petit"
    with pytest.raises(PermissionDenied):
        accounts.set_profession(
            session, actor=user, user_id=user.id, profession=Profession.pharmacist
        )
    accounts.set_profession(
        session, actor=admin, user_id=user.id, profession=Profession.coordination_nurse
    )
    assert user.display_name == "Léa Petit"
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "account.profession_changed")
    ).one()
    assert event.details == {"before": "physician", "after": "coordination_nurse"}
    with pytest.raises(InvalidInput):
        accounts.set_profession(session, actor=admin, user_id=user.id, profession="chaman")


def test_the_platform_admin_is_addressed_by_name(session: Session) -> None:
    assert make_admin(session).display_name == "Plateforme Administrateur"


def test_demo_assistant_is_the_rcp_secretary_not_a_doctor(session: Session) -> None:
    users = demo.seed_accounts(session)
    assistant = users["assistante"]
    assert assistant.profession == Profession.rcp_secretary
    assert assistant.display_name == "Nadia Lefort"
    assert roles.profession_label(assistant) == "secrétaire / assistante de RCP"
    assert users["referent"].display_name.startswith("Dr ")
    assert not users["admin"].display_name.startswith("Dr ")


def test_an_invitation_sent_by_the_secretary_names_her_without_dr(session: Session) -> None:
    rcp = make_rcp(session)
    secretary = make_coordinator(
        session,
        rcp,
        first_name="Nadia",
        last_name="Lefort",
        profession=Profession.rcp_secretary,
        civility=Civility.madame,
    )
    meeting = make_meeting(session, rcp, secretary)
    doctor = make_user(session, first_name="Paul", last_name="Roux")
    meetings.invite(session, actor=secretary, meeting_id=meeting.id, user_id=doctor.id)
    mail = session.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.email)).all()[-1]
    assert "Bonjour Dr Paul Roux" in mail.body
    assert "Nadia Lefort vous invite" in mail.body and "Dr Nadia" not in mail.body


def test_attendees_show_a_non_physician_by_profession_and_the_quorum_counts_physicians(
    session: Session,
) -> None:
    from rcp import opinions
    from tests.factories import attend, make_case_team

    team = make_case_team(session)
    team.geneticist.profession = Profession.genetic_counsellor
    team.geneticist.civility = Civility.madame
    session.add(team.geneticist)
    session.commit()
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    view = opinions.quorum(session, actor=team.assistant, case_id=team.case.id)
    counsellor = next(a for a in view.attendees if a.user_id == team.geneticist.id)
    assert not counsellor.name.startswith("Dr ")
    assert counsellor.specialty == "conseillère en génétique"
    # Néphrologie and anatomopathologie: the counsellor attends but is not a third specialty.
    assert len(view.specialties) == 2 and not view.met


def test_a_membership_request_names_a_pharmacist_by_profession_in_each_language(
    session: Session,
) -> None:
    from rcp import directory

    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, email="coord@chu.example")
    english = make_coordinator(session, rcp, email="coord-en@chu.example")
    english.language = "en"
    session.add(english)
    session.commit()
    pharmacist = make_user(
        session,
        first_name="Anne",
        last_name="Roy",
        specialty="Autre",
        profession=Profession.pharmacist,
        civility=Civility.madame,
    )
    directory.request_membership(session, actor=pharmacist, rcp_id=rcp.id)
    french = session.exec(select(OutboxMessage).where(OutboxMessage.to == coordinator.email)).all()
    assert "Anne Roy (Pharmacienne, CHU Exemple) demande" in french[-1].body
    sent = session.exec(select(OutboxMessage).where(OutboxMessage.to == english.email)).all()
    assert "Anne Roy (Pharmacist, CHU Exemple)" in sent[-1].body
    assert "Dr Anne" not in french[-1].body + sent[-1].body


def test_an_invitation_status_and_conflict_follow_the_persons_form(session: Session) -> None:
    from rcp.errors import Conflict

    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    meeting = make_meeting(session, rcp, coordinator)
    her = make_user(session, first_name="Léa", last_name="Petit", civility=Civility.madame)
    unsaid = make_user(session, first_name="Paul", last_name="Roux")
    for person in (her, unsaid):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=person.id)
    with pytest.raises(Conflict, match="Dr Léa Petit est déjà invitée à cette séance"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=her.id)
    with pytest.raises(Conflict, match="Dr Paul Roux est déjà invité à cette séance"):
        meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=unsaid.id)
    with pytest.raises(Conflict, match="Vous êtes déjà invitée"):
        meetings.request_participation(session, actor=her, meeting_id=meeting.id)
    with i18n.using("fr"):
        assert meetings.participation_label("invited", her) == "invitée"
        assert meetings.participation_label("invited", unsaid) == "invité"
        assert meetings.participation_label("confirmed", her) == "participation confirmée"
    with i18n.using("en"):
        assert meetings.participation_label("invited", her) == "invited"


def test_an_admin_created_as_a_physician_keeps_dr(session: Session) -> None:
    from tests.factories import PASSWORD, mobile

    user = accounts.create_admin(
        session,
        email="chef@chu.example",
        password=PASSWORD,
        phone=mobile(77),
        last_name="Martin",
        first_name="Claire",
        profession=Profession.physician,
    )
    assert user.display_name == "Dr Claire Martin"


def test_a_member_who_is_not_a_physician_is_a_member_not_a_doctor() -> None:
    nurse = User(profession=Profession.coordination_nurse)  # type: ignore[call-arg]
    doctor = User()  # type: ignore[call-arg]
    with i18n.using("fr"):
        assert roles.role_label(MemberRole.doctor, nurse) == "membre"
        assert roles.role_label(MemberRole.doctor, doctor) == "médecin"
    with i18n.using("en"):
        assert roles.role_label(MemberRole.doctor, nurse) == "member"


def test_the_sheet_prints_a_non_physician_attendee_by_profession_in_its_language() -> None:
    import dataclasses

    from rcp.sheets import Attendee, build_sheet_pdf
    from tests.unit.test_sheets import all_text, make_sheet_data

    attendees = (
        Attendee("Dr Jérôme Çelik", "Anatomopathologie"),
        Attendee("Nadia Lefort", "secrétaire / assistante de RCP"),
    )
    french = make_sheet_data(attendees=attendees)
    text = all_text(build_sheet_pdf(french))
    assert "Nadia Lefort" in text and "secrétaire / assistante de RCP" in text
    english = all_text(build_sheet_pdf(dataclasses.replace(french, language="en")))
    assert "MDT secretary / coordinator" in english and "Pathology" in english
