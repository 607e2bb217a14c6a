"""Pages that read an id from the URL refuse ids that are not the visitor's (AppTest).

A case id typed into /cas, /avis or /soumettre-cas, a meeting id into /seance or /salle, an
RCP id into /fiche-rcp: whoever is not allowed sees a French refusal and no patient data.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from rcp import auth, directory
from rcp.ui import keys, room_client
from tests.factories import CaseTeam, make_case_team, make_user, mobile, sign_in
from tests.ui.conftest import ROOT, texts
from tests.ui.test_directory_pages import page

PATIENT = ("LŒVENBRUCK", "Lœvenbruck", "Éloïse")
OUTSIDERS = ("stranger", "admin", "other_coordinator", "invited")


def everything(at: AppTest) -> str:
    """Texts, labels and table cells the page shows."""
    parts = [texts(at)]
    for kind in ("expandable", "page_link", "button", "tab", "text_input", "text_area"):
        for element in at.get(kind):
            parts.append(str(getattr(element.proto, "label", "")))
            parts.append(str(getattr(element.proto, "value", "")))
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)


def assert_no_patient_data(at: AppTest) -> None:
    shown = everything(at)
    assert not any(name in shown for name in PATIENT), shown


@pytest.fixture
def team(db: Session) -> CaseTeam:
    return make_case_team(db)


@pytest.fixture
def no_webrtc(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace the room component (it cannot run in AppTest); record its calls."""
    calls: list = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return None

    monkeypatch.setattr(room_client, "room", fake)
    return calls


def test_the_case_team_sees_the_case_pages(db: Session, team: CaseTeam) -> None:
    """The control: the same URLs do show the case to its submitter and coordinator."""
    for who in ("submitter", "assistant", "nephrologist"):
        token = sign_in(db, getattr(team, who))
        at = page("cas", token, id=str(team.case.id))
        assert not at.exception and "LŒVENBRUCK" in everything(at), who
    at = page("avis", sign_in(db, team.assistant), case=str(team.case.id))
    assert "LŒVENBRUCK" in everything(at)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_case_page_refuses_a_case_id_that_is_not_the_visitors(
    db: Session, team: CaseTeam, who: str
) -> None:
    at = page("cas", sign_in(db, getattr(team, who)), id=str(team.case.id))
    assert not at.exception
    assert "Cas introuvable, ou vous n'avez pas accès à ce cas" in texts(at)
    assert_no_patient_data(at)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_opinion_page_refuses_a_case_id_that_is_not_the_visitors(
    db: Session, team: CaseTeam, who: str
) -> None:
    at = page("avis", sign_in(db, getattr(team, who)), case=str(team.case.id))
    assert not at.exception
    assert "Seuls les participants confirmés" in texts(at)
    assert_no_patient_data(at)


@pytest.mark.parametrize("who", [*OUTSIDERS, "nephrologist"])
def test_case_form_refuses_to_edit_a_case_that_is_not_the_visitors(
    db: Session, team: CaseTeam, who: str
) -> None:
    at = page("soumettre_cas", sign_in(db, getattr(team, who)), case=str(team.case.id))
    assert not at.exception
    shown = texts(at)
    assert "Cas introuvable" in shown or "ne peut plus être modifié" in shown
    assert not at.text_input  # no form
    assert_no_patient_data(at)


def test_case_form_refuses_a_meeting_of_an_rcp_the_visitor_is_not_member_of(
    db: Session, team: CaseTeam
) -> None:
    at = page("soumettre_cas", sign_in(db, team.stranger), meeting=str(team.meeting.id))
    assert "Seuls les membres de la RCP" in texts(at)
    assert not at.text_input


@pytest.mark.parametrize("who", OUTSIDERS)
def test_meeting_page_shows_no_case_to_outsiders(db: Session, team: CaseTeam, who: str) -> None:
    at = page("seance", sign_in(db, getattr(team, who)), id=str(team.meeting.id))
    assert not at.exception
    assert_no_patient_data(at)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_video_room_refuses_a_meeting_id_that_is_not_the_visitors(
    db: Session, team: CaseTeam, who: str, no_webrtc: list
) -> None:
    at = page("salle", sign_in(db, getattr(team, who)), id=str(team.meeting.id))
    assert not at.exception
    assert "Seuls les participants confirmés et les coordinateurs" in texts(at)
    assert no_webrtc == []  # no media connection is even offered
    assert_no_patient_data(at)


def test_rcp_page_gives_management_only_to_its_coordinators(db: Session, team: CaseTeam) -> None:
    requester = make_user(db, phone=mobile(70), last_name="Demandeur")
    directory.request_membership(db, actor=requester, rcp_id=team.rcp.id)
    coordinator = page("fiche_rcp", sign_in(db, team.assistant), id=str(team.rcp.id))
    assert "DEMANDEUR" in everything(coordinator).upper()
    assert coordinator.date_input(key="rcp_schedule_day")
    for who in ("other_coordinator", "stranger", "admin"):
        at = page("fiche_rcp", sign_in(db, getattr(team, who)), id=str(team.rcp.id))
        assert not at.exception
        assert not [d for d in at.date_input if d.key == "rcp_schedule_day"], who
        assert not [b for b in at.button if b.key and "accept" in b.key], who


@pytest.mark.parametrize(
    ("name", "param"), [("filiere", "network"), ("famille", "family"), ("fiche_rcp", "rcp")]
)
def test_directory_pages_refuse_a_signed_out_token(
    db: Session, team: CaseTeam, name: str, param: str
) -> None:
    """The page script alone (menu bypassed), with a token that was signed out."""
    ids = {
        "network": directory.trail(db, team.rcp.id).network.id,
        "family": team.rcp.family_id,
        "rcp": team.rcp.id,
    }
    token = sign_in(db, team.stranger)
    auth.sign_out(db, token=token)
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = token
    at.query_params["id"] = str(ids[param])
    at.run()
    assert "pas connecté" in texts(at)
    assert team.rcp.name not in everything(at)
