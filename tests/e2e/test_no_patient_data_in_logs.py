"""No patient data in the real server's log, nor in the outbox, at DEBUG log level.

A `streamlit run app.py` runs with Streamlit's ``logger.level`` at debug and the app's own
loggers at DEBUG, its stdout and stderr in a file. In Chromium, a doctor submits a case with
a DICOM series and a PDF for a patient with unusual made-up names; once the meeting runs, its
coordinator mentions the patient in the chat, writes the opinion and validates it (PDF sheet,
e-mail to the submitter). Then neither the log nor any message of the outbox holds a name,
the question, the chat text or the proposal, while the database shows that all of it was
processed.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from fpdf import FPDF
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlmodel import Session

from rcp.db import make_engine
from rcp.models import Meeting
from tests.e2e.conftest import Server, sign_in, wait_idle
from tests.e2e.streamlit_server import make_server, start, stop
from tests.factories import (
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    mobile,
    start_now,
)
from tests.ports import free_port

pytestmark = pytest.mark.e2e

LAST, FIRST = "Zorglubienne", "Quetzalie"
QUESTION = "Faut-il traiter la xylophagite glomérulaire par plasmaphérèse ?"
CHAT = f"Pour Mme {LAST}, je propose de regarder la biopsie en premier."
PROPOSAL = "Plasmaphérèse hebdomadaire ; contrôle de la créatinine à un mois (Vrillonnette)."
DICOM_NAME = "ZORGLUBIENNE^QUETZALIE"
# Words that appear nowhere in the app's own text: finding one means patient data leaked.
SECRETS = ("zorglub", "quetzal", "xylophagite", "vrillonnette")
LIVE_TIMEOUT = 15_000


@dataclass
class Platform:
    server: Server
    log: Path
    meeting_id: int
    submitter: tuple[str, str]  # email, phone
    coordinator: tuple[str, str]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("logs")
    server = make_server(base / "data", free_port())
    (base / "data").mkdir()
    server.cli("init")
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as s:
        rcp = make_rcp(s)
        coordinator = make_coordinator(s, rcp, phone=mobile(80))
        submitter = make_member(s, rcp, coordinator, phone=mobile(81))
        meeting = make_meeting(s, rcp, coordinator, days_ahead=10)
        make_confirmed(s, meeting, coordinator, phone=mobile(82))
        result = Platform(
            server,
            base / "streamlit.log",
            meeting.id,
            (submitter.email, mobile(81)),
            (coordinator.email, mobile(80)),
        )
    engine.dispose()
    proc = start(server, result.log, log_level="debug")
    try:
        yield result
    finally:
        stop(proc)


def _files(folder: Path) -> list[Path]:
    """Three DICOM slices naming the patient in their header, and a PDF report."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    uid, paths = generate_uid(), []
    for i in range(3):
        ds = copy.deepcopy(base)
        ds.PatientName, ds.PatientID = DICOM_NAME, "ZORG-0042"
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = uid, generate_uid(), i + 1
        ds.ImagePositionPatient = [0, 0, 5.0 * i]
        path = folder / f"IM{i:04d}.dcm"
        ds.save_as(path)
        paths.append(path)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text=f"Compte rendu de {LAST} {FIRST} (fictif)")
    report = folder / f"compte_rendu_{LAST}.pdf"  # the file name names the patient too
    pdf.output(str(report))
    return [*paths, report]


def _submit_case(browser, platform: Platform, folder: Path) -> int:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    try:
        sign_in(page, platform.server, *platform.submitter)
        page.goto(f"{platform.server.url}/soumettre-cas?meeting={platform.meeting_id}")
        wait_idle(page)
        page.get_by_label("Nom *", exact=True).fill(LAST)
        page.get_by_label("Prénom *", exact=True).fill(FIRST)
        page.locator("[data-testid='stDateInput'] input[type=date]").first.fill("1969-07-21")
        page.get_by_text("Féminin").click()
        page.get_by_label("Question posée à la RCP").fill(QUESTION)
        page.get_by_role("checkbox", name=re.compile("Le patient est informé")).check(force=True)
        page.get_by_role("button", name="Enregistrer le brouillon").click()
        page.get_by_text("Brouillon enregistré").wait_for()
        wait_idle(page)
        files = _files(folder)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            [str(p) for p in files]
        )
        page.get_by_role("button", name="Ajouter les fichiers").click()
        page.get_by_text(f"{len(files)} fichier(s) ajouté(s)").wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_role("button", name="Soumettre le cas").click()
        page.get_by_text("Cas soumis à la RCP").wait_for()
        wait_idle(page)
        href = page.get_by_role("link", name="Voir le cas").get_attribute("href")
        page.goto(f"{platform.server.url}/cas?id={href.rsplit('=', 1)[1]}")  # read it back
        wait_idle(page)
        page.get_by_text("3 fichier(s) DICOM en 1 série(s)").wait_for()
        return int(href.rsplit("=", 1)[1])
    finally:
        context.close()


def _start_meeting(platform: Platform) -> None:
    engine = make_engine(f"sqlite:///{platform.server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as s:
        start_now(s, s.get(Meeting, platform.meeting_id))
    engine.dispose()


def _chat_and_validate(browser, platform: Platform, case_id: int) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    try:
        sign_in(page, platform.server, *platform.coordinator)
        page.goto(f"{platform.server.url}/seance?id={platform.meeting_id}")
        page.get_by_text("Messagerie instantanée").wait_for()
        wait_idle(page)
        box = page.get_by_placeholder("Écrire un message aux participants")
        box.fill(CHAT)
        box.press("Enter")
        page.locator(".st-key-seance_chat_messages").get_by_text(CHAT).wait_for(
            timeout=LIVE_TIMEOUT
        )
        page.goto(f"{platform.server.url}/avis?case={case_id}")
        wait_idle(page)
        page.get_by_label("Proposition de la RCP").fill(PROPOSAL)
        page.get_by_label("Motif de validation sans quorum").fill("Urgence thérapeutique.")
        page.get_by_text("Oui", exact=True).click()  # the guidelines question has no default
        page.get_by_role("button", name="Valider l'avis").click()
        page.get_by_text(re.compile(r"Avis validé le ")).wait_for(timeout=60_000)
        wait_idle(page)
    finally:
        context.close()


def _processed(platform: Platform, case_id: int) -> dict[str, object]:
    """What the database holds of the flow, read-only (proof the data went through)."""
    with sqlite3.connect(f"file:{platform.server.data_dir / 'rcp.db'}?mode=ro", uri=True) as db:
        last = db.execute('SELECT patient_last_name FROM "case" WHERE id = ?', (case_id,))
        return {
            "last_name": (last.fetchone() or [None])[0],
            "chat": db.execute("SELECT body FROM chatmessage").fetchall(),
            "sheets": db.execute(
                "SELECT count(*) FROM opinion WHERE case_id = ? AND validated_at IS NOT NULL",
                (case_id,),
            ).fetchone()[0],
            "outbox": db.execute(
                'SELECT "to", subject, body, attachments FROM outboxmessage'
            ).fetchall(),
        }


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [word for word in SECRETS if word in low]


def test_no_patient_data_reaches_the_server_log_or_the_outbox(
    platform: Platform, browser, tmp_path: Path
) -> None:
    case_id = _submit_case(browser, platform, tmp_path)
    _start_meeting(platform)
    _chat_and_validate(browser, platform, case_id)

    done = _processed(platform, case_id)
    assert done["last_name"] == LAST.upper()
    assert [CHAT] == [body for (body,) in done["chat"]]
    assert done["sheets"] == 1
    assert len(done["outbox"]) >= 3  # codes, the submission to coordinators, the opinion

    log = platform.log.read_text(encoding="utf-8", errors="replace")
    # The log really is at debug level and saw the traffic, so an absence means something.
    assert " DEBUG streamlit." in log and "Running script" in log
    assert _leaks(log) == [], [line for line in log.splitlines() if _leaks(line)][:5]

    messages = json.loads(platform.server.cli("outbox", "--json", "--limit", "1000"))
    assert len(messages) == len(done["outbox"])
    assert _leaks(json.dumps(messages, ensure_ascii=False)) == []
    assert _leaks(repr(done["outbox"])) == []
