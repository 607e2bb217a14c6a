"""A failure in one part of a page shows a French message with a reference, never Streamlit's
exception box, and the rest of the page (the meeting page above all) keeps working."""

from __future__ import annotations

import logging
import re

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from rcp import attachments, cases, meeting_live
from rcp.ui import chat_panel
from tests.factories import (
    make_case,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_rcp,
    mobile,
    sign_in,
    start_now,
)
from tests.ui.conftest import ROOT, texts
from tests.ui.test_meeting_page import Running, page

REFERENCE = re.compile(r"INC-[0-9A-F]{8}")


@pytest.fixture
def running(db: Session) -> Running:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(60), last_name="Lefort")
    meeting = make_meeting(db, rcp, coordinator)
    participant = make_confirmed(db, meeting, coordinator, phone=mobile(61), last_name="Marchal")
    case = make_case(db, meeting, coordinator, last_name="Durandal", first_name="Lucie")
    second = make_case(db, meeting, coordinator, last_name="Bernard", first_name="Paul")
    start_now(db, meeting)
    meeting_live.set_current_case(db, actor=coordinator, meeting_id=meeting.id, case_id=case.id)
    return Running(
        meeting=meeting,
        coordinator=coordinator,
        participant=participant,
        case=case,
        second=second,
        coordinator_token=sign_in(db, coordinator),
        participant_token=sign_in(db, participant),
    )


def boom(*_args, **_kwargs):
    raise RuntimeError("disque illisible")


def errors(at: AppTest) -> str:
    return "\n".join(str(el.value) for el in at.error)


def assert_french_incident(at: AppTest, caplog: pytest.LogCaptureFixture) -> str:
    """No Streamlit exception box; a French message whose reference is in the server log."""
    assert not at.exception
    shown = errors(at)
    assert "à la suite d'une erreur du serveur" in shown
    match = REFERENCE.search(shown)
    assert match, shown
    logged = [r for r in caplog.records if r.name == "rcp.incidents"]
    assert any(match.group(0) in r.getMessage() and r.exc_info for r in logged)
    return match.group(0)


def test_a_current_case_that_fails_leaves_chat_hands_and_closing_working(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rcp.incidents")
    monkeypatch.setattr(attachments, "list_attachments", boom)
    at = page(running.participant_token, running.meeting.id)
    assert_french_incident(at, caplog)
    assert "Le cas en cours n'a pas pu s'afficher" in errors(at)
    # The rest of the meeting page is there and usable.
    assert at.chat_input(key="seance_chat_input")
    assert at.button(key="seance_hand").label == "Lever la main"
    at = at.chat_input(key="seance_chat_input").set_value("Je ne vois pas le cas").run()
    assert not at.exception
    assert "Je ne vois pas le cas" in texts(at)
    coordinator = page(running.coordinator_token, running.meeting.id)
    assert_french_incident(coordinator, caplog)
    assert coordinator.button(key="seance_close")
    assert "DURANDAL Lucie" in texts(coordinator)  # the case list still shows


def test_a_failing_live_panel_leaves_the_case_and_its_list(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rcp.incidents")
    monkeypatch.setattr(chat_panel, "render", boom)
    at = page(running.participant_token, running.meeting.id)
    assert_french_incident(at, caplog)
    assert "Le panneau de la séance" in errors(at)
    assert "### DURANDAL Lucie" in texts(at)


def test_a_failing_dicom_viewer_leaves_the_rest_of_the_case_page(
    db: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pydicom.data import get_testdata_file

    caplog.set_level(logging.ERROR, logger="rcp.incidents")
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(62))
    meeting = make_meeting(db, rcp, coordinator)
    case = make_case(db, meeting, coordinator, last_name="Bernard", first_name="Paul")
    with open(get_testdata_file("CT_small.dcm", download=False), "rb") as handle:
        attachments.add_upload(
            db, actor=coordinator, case_id=case.id, name="ct.dcm", data=handle.read()
        )
    from rcp.ui import dicom_viewer

    # The viewer itself (whether or not its browser bundle is built on this machine).
    monkeypatch.setattr(dicom_viewer, "render", boom)
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state["auth_test_token"] = sign_in(db, coordinator)
    at.run()
    at.query_params["id"] = str(case.id)
    at = at.switch_page("pages/cas.py").run()
    assert_french_incident(at, caplog)
    assert "Le visualiseur d'images DICOM n'a pas pu s'afficher" in errors(at)
    assert "### BERNARD Paul" in texts(at)
    assert "Page de la séance" in [el.proto.label for el in at.get("page_link")]


def test_a_page_that_fails_shows_a_french_message_not_streamlits_box(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rcp.incidents")
    monkeypatch.setattr(cases, "my_cases", boom)
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state["auth_test_token"] = running.participant_token
    at.run()
    at = at.switch_page("pages/mes_cas.py").run()
    assert_french_incident(at, caplog)
    assert "Cette page n'a pas pu s'afficher" in errors(at)
