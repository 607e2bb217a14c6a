"""The meeting page of a running meeting through AppTest: room link, chat, cases, hands."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import meeting_live, meetings
from rcp.models import Attendance, Case, ChatMessage, Meeting, User, utcnow
from rcp.ui import keys
from tests.factories import (
    make_case,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_rcp,
    make_user,
    mobile,
    sign_in,
    start_now,
)
from tests.ui.conftest import ROOT, texts


def page(token: str, meeting_id: int) -> AppTest:
    """The meeting page, opened through the app's navigation as a signed-in user."""
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = token
    at.run()
    at.query_params["id"] = str(meeting_id)
    return at.switch_page("pages/seance.py").run()


@dataclass
class Running:
    meeting: Meeting
    coordinator: User
    participant: User
    case: Case
    second: Case
    coordinator_token: str
    participant_token: str


@pytest.fixture
def running(db: Session) -> Running:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(40), last_name="Lefort")
    meeting = make_meeting(db, rcp, coordinator)
    participant = make_confirmed(db, meeting, coordinator, phone=mobile(41), last_name="Marchal")
    case = make_case(db, meeting, coordinator, last_name="Durandal", first_name="Lucie")
    second = make_case(db, meeting, coordinator, last_name="Bernard", first_name="Paul")
    start_now(db, meeting)
    return Running(
        meeting=meeting,
        coordinator=coordinator,
        participant=participant,
        case=case,
        second=second,
        coordinator_token=sign_in(db, coordinator),
        participant_token=sign_in(db, participant),
    )


def link_buttons(at: AppTest) -> dict[str, str]:
    return {el.proto.label: el.proto.url for el in at.get("link_button")}


def chat_texts(at: AppTest) -> str:
    """The chat panel's messages as the markdown the page sends (user text escaped)."""
    return "\n".join(str(el.value) for el in at.markdown)


def test_participant_sees_the_room_link_the_cases_and_the_chat(running: Running) -> None:
    at = page(running.participant_token, running.meeting.id)
    assert not at.exception
    assert link_buttons(at)["Rejoindre la visio-conférence"] == f"salle?id={running.meeting.id}"
    assert "Tester mon matériel" in [el.proto.label for el in at.get("page_link")]
    assert "DURANDAL Lucie" in texts(at) and "à discuter" in texts(at)
    assert "Messagerie instantanée" in texts(at)
    assert at.chat_input(key="seance_chat_input")


def test_invited_but_not_confirmed_doctor_gets_no_room_and_no_chat(
    db: Session, running: Running
) -> None:
    invited = make_user(db, phone=mobile(42))
    meetings.invite(
        db, actor=running.coordinator, meeting_id=running.meeting.id, user_id=invited.id
    )
    at = page(sign_in(db, invited), running.meeting.id)
    assert not at.exception
    assert "Rejoindre la visio-conférence" not in link_buttons(at)
    assert not at.chat_input
    assert "Messagerie instantanée" not in texts(at)
    assert "DURANDAL" not in texts(at)


def test_before_the_room_opens_the_page_says_when_and_offers_no_link(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(43))
    meeting = make_meeting(db, rcp, coordinator)
    at = page(sign_in(db, coordinator), meeting.id)
    assert "La salle de visio-conférence ouvrira le" in texts(at)
    assert "Rejoindre la visio-conférence" not in link_buttons(at)
    assert not at.chat_input


def test_chat_message_is_posted_and_shown_to_the_other_participant(
    db: Session, running: Running
) -> None:
    at = page(running.participant_token, running.meeting.id)
    at = at.chat_input(key="seance_chat_input").set_value("Bonjour, je suis connectée").run()
    assert not at.exception
    assert "Bonjour, je suis connectée" in chat_texts(at)
    db.commit()
    assert db.exec(select(ChatMessage.body)).all() == ["Bonjour, je suis connectée"]
    other = page(running.coordinator_token, running.meeting.id)
    assert "Bonjour, je suis connectée" in chat_texts(other)
    assert f"**{running.participant.display_name}**" in texts(other)


def test_markup_in_a_message_is_shown_as_typed(running: Running) -> None:
    body = "**gras** <img src=x onerror=alert(1)> [cliquez](javascript:alert(2)) &lt;"
    at = page(running.participant_token, running.meeting.id)
    at = at.chat_input(key="seance_chat_input").set_value(body).run()
    assert not at.exception
    # Every markdown character is escaped: no bold, image, link or entity can come out of it.
    literal = (
        r"\*\*gras\*\* \<img src=x onerror=alert\(1\)\> \[cliquez\]\(javascript\:alert\(2\)\)"
        r" \&lt;"
    )
    assert literal in chat_texts(at)
    assert "[cliquez](" not in chat_texts(at) and "**gras**" not in chat_texts(at)


def test_coordinator_sets_the_current_case_and_the_participant_page_shows_it(
    db: Session, running: Running
) -> None:
    before = page(running.participant_token, running.meeting.id)
    assert "Aucun cas n'est présenté pour l'instant." in texts(before)
    at = page(running.coordinator_token, running.meeting.id)
    at = at.selectbox(key="seance_current_case_None").set_value(running.case.id).run()
    assert not at.exception
    assert "Cas en cours : 1. DURANDAL Lucie" in texts(at)
    db.commit()
    db.refresh(running.meeting)
    assert running.meeting.current_case_id == running.case.id
    after = page(running.participant_token, running.meeting.id)
    assert "### DURANDAL Lucie" in texts(after)
    assert "en cours" in texts(after)


def test_ne_plus_suivre_hides_the_current_case(db: Session, running: Running) -> None:
    meeting_live.set_current_case(
        db, actor=running.coordinator, meeting_id=running.meeting.id, case_id=running.case.id
    )
    at = page(running.participant_token, running.meeting.id)
    assert "### DURANDAL Lucie" in texts(at)
    at = at.toggle(key="seance_unfollow").set_value(True).run()
    at = at.selectbox(key="seance_browse_case").set_value(running.second.id).run()
    assert not at.exception
    assert "### BERNARD Paul" in texts(at)
    assert "### DURANDAL Lucie" not in texts(at)
    at = at.toggle(key="seance_unfollow").set_value(False).run()
    assert "### DURANDAL Lucie" in texts(at)


def test_participant_raises_a_hand_and_the_coordinator_gives_the_floor(
    db: Session, running: Running
) -> None:
    at = page(running.participant_token, running.meeting.id)
    at = at.button(key="seance_hand").click().run()
    assert not at.exception
    assert "Mains levées (1)" in texts(at)
    assert at.button(key="seance_hand").label == "Baisser la main"
    coordinator = page(running.coordinator_token, running.meeting.id)
    assert running.participant.display_name in texts(coordinator)
    coordinator = coordinator.button(key=f"seance_clear_hand_{running.participant.id}").click()
    coordinator = coordinator.run()
    assert "Mains levées" not in texts(coordinator)
    assert (
        page(running.participant_token, running.meeting.id).button(key="seance_hand").label
        == "Lever la main"
    )


def test_people_in_the_video_room_are_listed_as_present(db: Session, running: Running) -> None:
    now = utcnow()
    db.add(
        Attendance(
            meeting_id=running.meeting.id,
            user_id=running.participant.id,
            joined_at=now,
            last_seen_at=now,
        )
    )
    db.commit()
    at = page(running.coordinator_token, running.meeting.id)
    assert "Présents dans la salle (1)" in texts(at)
    assert f"{running.participant.display_name} — Néphrologie" in texts(at).replace("\\", "")


def test_coordinator_closes_the_meeting_and_the_chat_becomes_read_only(
    db: Session, running: Running
) -> None:
    db.add(
        ChatMessage(
            meeting_id=running.meeting.id, author_id=running.participant.id, body="Au revoir"
        )
    )
    db.commit()
    at = page(running.coordinator_token, running.meeting.id)
    at.checkbox(key="seance_close_confirm").check().run()
    at = at.button(key="seance_close").click().run()
    assert not at.exception
    assert "La séance est close" in texts(at)
    participant = page(running.participant_token, running.meeting.id)
    assert "Au revoir" in chat_texts(participant)
    assert not participant.chat_input
    assert "Rejoindre la visio-conférence" not in link_buttons(participant)


def test_a_closed_meeting_leaves_the_home_page_and_offers_no_invitation_nor_cancellation(
    db: Session, running: Running
) -> None:
    from tests.ui.test_directory_pages import page as open_page

    def expanders(at: AppTest) -> list[str]:
        return [el.label for el in at.expander]

    before = page(running.coordinator_token, running.meeting.id)
    assert {"Inviter des médecins", "Annuler la séance"} <= set(expanders(before))
    meeting_live.close_meeting(db, actor=running.coordinator, meeting_id=running.meeting.id)
    at = page(running.coordinator_token, running.meeting.id)
    assert not at.exception
    assert "Inviter des médecins" not in expanders(at)
    assert "Annuler la séance" not in expanders(at)
    assert "Séance close : consultation seule." in texts(at)
    for token in (running.coordinator_token, running.participant_token):
        home = open_page("accueil", token)
        assert not home.exception
        assert "RCP GEM et SNI" not in texts(home) + str(
            [el.proto.label for el in home.get("page_link")]
        )


def test_closing_lists_cases_without_opinion_to_postpone_or_close_and_marks_none_discussed(
    db: Session, running: Running
) -> None:
    from rcp.models import CaseStatus

    following = make_meeting(db, meeting_rcp(db, running), running.coordinator, days_ahead=20)
    at = page(running.coordinator_token, running.meeting.id)
    at = at.selectbox(key="seance_current_case_None").set_value(running.case.id).run()
    at = at.selectbox(key=f"seance_current_case_{running.case.id}").set_value(running.second.id)
    at = at.run()
    assert not at.exception
    assert "discuté" not in texts(at).replace("sans avis", "")  # showing is not discussing
    shown = texts(at)
    assert "2 cas sans avis validé." in shown
    assert "Séance suivante de la RCP :" in shown
    at = at.button(key=f"seance_postpone_{running.case.id}").click().run()
    assert not at.exception
    assert f"Cas n° {running.case.id} reporté à la séance suivante" in texts(at)
    at.text_area(key=f"seance_close_reason_{running.second.id}").input("Bilan incomplet.")
    at = at.button(key=f"seance_close_case_{running.second.id}").click().run()
    assert not at.exception
    assert f"Cas n° {running.second.id} clos sans avis" in texts(at)
    assert "clos sans avis" in texts(at)
    db.expire_all()
    moved, closed = db.get(Case, running.case.id), db.get(Case, running.second.id)
    assert (moved.meeting_id, moved.status) == (following.id, CaseStatus.submitted)
    assert moved.postponed_from_meeting_id == running.meeting.id
    assert (closed.status, closed.closed_reason) == (CaseStatus.closed, "Bilan incomplet.")
    at.checkbox(key="seance_close_confirm").check().run()
    at = at.button(key="seance_close").click().run()
    assert not at.exception and "La séance est close" in texts(at)
    # The postponed case's page says where it comes from.
    from tests.ui.test_directory_pages import page as open_page

    case_page = open_page("cas", running.coordinator_token, id=str(running.case.id))
    assert "Cas reporté de la séance du" in texts(case_page)
    closed_page = open_page("cas", running.coordinator_token, id=str(running.second.id))
    assert "Cas clos sans avis le" in texts(closed_page) and "Bilan incomplet" in texts(closed_page)


def meeting_rcp(db: Session, running: Running):
    from rcp.models import Rcp

    return db.get(Rcp, running.meeting.rcp_id)


def test_fiche_opens_the_case_in_a_new_tab_and_the_meeting_stays(running: Running) -> None:
    at = page(running.participant_token, running.meeting.id)
    assert link_buttons(at)["Fiche"] in {f"cas?id={running.case.id}", f"cas?id={running.second.id}"}
    assert sorted(b.proto.url for b in at.get("link_button") if b.proto.label == "Fiche") == sorted(
        [f"cas?id={running.case.id}", f"cas?id={running.second.id}"]
    )
    assert "Fiche" not in [el.proto.label for el in at.get("page_link")]  # not in this tab
