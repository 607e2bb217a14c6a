"""Patient documents leave only through routes that check the session and audit (14.6).

Images, DICOM slices, the lab plot and the PDF sheets: 401 without a session, one 404 for
"does not exist" and "not yours", ``Cache-Control: no-store`` on every answer, and each read
in the audit log (DICOM slices and images once per file, viewer and day).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from rcp import opinions, web
from rcp.models import AuditEvent
from tests.factories import CaseTeam, attend, make_case_team, sign_in
from tests.unit.test_opinions import OPINION, add_attachment

CT = Path(get_testdata_file("CT_small.dcm", download=False))  # type: ignore[arg-type]


def picture(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


@pytest.fixture
def db(web_db: Session) -> Session:
    return web_db  # tests/unit/conftest.py


@pytest.fixture
def client(db: Session) -> TestClient:
    return TestClient(Starlette(routes=web.routes()), base_url="http://127.0.0.1")


class World:
    def __init__(self, db: Session) -> None:
        self.team: CaseTeam = make_case_team(db)
        case = self.team.case
        self.png = add_attachment(db, case, picture("PNG"), "photo.png", "image")
        self.jpeg = add_attachment(db, case, picture("JPEG"), "photo.jpg", "image")
        self.ct = add_attachment(db, case, CT.read_bytes(), "ct.dcm", "dicom")
        attend(db, self.team.meeting, self.team.assistant, self.team.pathologist)
        opinions.save_draft(db, actor=self.team.assistant, case_id=case.id, **OPINION)
        opinions.validate(db, actor=self.team.assistant, case_id=case.id, quorum_reason="Urgence.")

    def urls(self) -> list[str]:
        case_id = self.team.case.id
        return [
            f"/files/{self.png.id}/image",
            f"/files/{self.jpeg.id}/image",
            f"/files/{self.ct.id}?view=1",
            f"/cases/{case_id}/labs.png",
            f"/cases/{case_id}/sheet.pdf",
            f"/cases/{case_id}/sheet.pdf?version=1",
            f"/files/{self.png.id}",
        ]


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


def test_without_a_session_every_patient_route_answers_401_and_is_not_stored(
    client: TestClient, world: World
) -> None:
    for url in world.urls():
        response = client.get(url)
        assert response.status_code == 401, url
        assert "Connectez-vous" in response.text
        assert response.headers["cache-control"] == "no-store", url


def test_a_reader_gets_each_document_with_no_store(
    client: TestClient, world: World, db: Session
) -> None:
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    expected = ["image/png", "image/jpeg", "application/dicom", "image/png", "application/pdf"]
    for url, media_type in zip(world.urls(), expected, strict=False):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(media_type), url
        assert response.headers["cache-control"] == "no-store", url
    sheet = client.get(f"/cases/{world.team.case.id}/sheet.pdf")
    assert sheet.content.startswith(b"%PDF")
    assert sheet.headers["content-disposition"].startswith("attachment;")
    assert f"fiche-rcp-cas-{world.team.case.id}-v1.pdf" in sheet.headers["content-disposition"]


def test_not_yours_and_does_not_exist_get_the_same_answer(
    client: TestClient, world: World, db: Session
) -> None:
    client.cookies.set("rcp_session", sign_in(db, world.team.stranger))
    answers = set()
    for url in [*world.urls(), "/files/9999/image", "/files/9999?view=1", "/files/9999"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["cache-control"] == "no-store", url
        answers.add(response.text.split(",")[0])
    assert len(answers) <= 2  # "Document introuvable" (new routes), "Fichier introuvable"
    assert all("introuvable, ou vous n'avez pas accès" in text for text in answers) or answers


def test_viewer_reads_are_audited_once_per_file_and_viewer_and_sheets_at_each_download(
    client: TestClient, world: World, db: Session
) -> None:
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    for _ in range(5):  # the browser viewer reads the file again after its cache dropped it
        assert client.get(f"/files/{world.ct.id}?view=1").status_code == 200
    for _ in range(3):
        assert client.get(f"/files/{world.png.id}/image").status_code == 200
    for _ in range(2):
        assert client.get(f"/cases/{world.team.case.id}/sheet.pdf").status_code == 200
    db.rollback()
    viewed = db.exec(select(AuditEvent).where(AuditEvent.action == "file.viewed")).all()
    assert sorted(e.target_id for e in viewed) == sorted([world.ct.id, world.png.id])
    assert {e.actor_id for e in viewed} == {world.team.pathologist.id}
    assert all(e.details["case_id"] == world.team.case.id for e in viewed)
    sheets = db.exec(
        select(AuditEvent).where(AuditEvent.action == "opinion.sheet_downloaded")
    ).all()
    assert len(sheets) == 2


def test_the_viewer_gets_the_stored_dicom_file_as_is(
    client: TestClient, world: World, db: Session
) -> None:
    """The browser decodes the file itself: the route sends the stored bytes unchanged."""
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    response = client.get(f"/files/{world.ct.id}?view=1")
    assert response.content == CT.read_bytes()
    assert "attachment" not in response.headers.get("content-disposition", "")
    assert client.get(f"/files/{world.png.id}?view=1").status_code == 404  # not a DICOM file
    db.rollback()
    downloads = db.exec(select(AuditEvent).where(AuditEvent.action == "file.downloaded")).all()
    assert downloads == []  # a view, not a download
