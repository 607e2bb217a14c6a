"""The validated sheet assembled from the database: every field printed, fingerprint, rendering."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session

from rcp import opinions, sheet_data
from rcp.config import get_settings
from rcp.dates import PARIS
from rcp.files import FileStore
from rcp.models import Opinion
from rcp.sheets import build_sheet_pdf, fingerprint, format_long_date
from tests.factories import CASE_TEAM_TEXT, CaseTeam, attend, make_case_team
from tests.unit.test_opinions import OPINION, add_attachment, ct_small

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def team(session: Session) -> CaseTeam:
    return make_case_team(session)


def validate_with_key_image(session: Session, team: CaseTeam) -> Opinion:
    dcm = ct_small()
    attachment = add_attachment(session, team.case, dcm, "TDM rénale œdème.dcm", "dicom")
    opinions.choose_key_image(
        session, actor=team.assistant, case_id=team.case.id, attachment_id=attachment.id
    )
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(session, actor=team.assistant, case_id=team.case.id, **OPINION)
    return opinions.validate(session, actor=team.assistant, case_id=team.case.id)


def words(data: bytes) -> str:
    """The PDF's text with whitespace collapsed (wrapped lines read as one)."""
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def test_sheet_holds_every_field_with_accents_intact(session: Session, team: CaseTeam) -> None:
    opinion = validate_with_key_image(session, team)
    _name, data = opinions.get_sheet(session, actor=team.nephrologist, case_id=team.case.id)
    text = words(data)
    validated_at = opinion.validated_at.astimezone(PARIS)  # type: ignore[union-attr]
    meeting_day = team.meeting.starts_at.astimezone(PARIS)
    expected = [
        # network, RCP, meeting date
        "Filière ORKID — Maladies rénales rares",
        "GEM et SNI (SNLGM, HSF) adulte",
        f"séance du {format_long_date(meeting_day.date())} à {meeting_day:%H}:",
        # patient identity
        "LŒVENBRUCK",
        "Éloïse",
        "17/05/1980",
        "Féminin",
        # submitter
        "Dr François Garçon",
        "CHU de Besançon, service de néphrologie",
        # question and clinical file (with the "other results" after the summary)
        str(CASE_TEAM_TEXT["question"]),
        CASE_TEAM_TEXT["summary"],
        "Autres résultats : " + str(CASE_TEAM_TEXT["results"]),
        CASE_TEAM_TEXT["history"],
        CASE_TEAM_TEXT["treatments"],
        CASE_TEAM_TEXT["histology"],
        CASE_TEAM_TEXT["genetics"],
        # labs: table rows and the plot in annex
        "Créatininémie (µmol/L)",
        "Protéinurie (RPCU) (g/g créatinine)",
        "02/03/2026",
        "21/09/2026",
        "3,20",
        "27,5",
        "ANNEXE : ÉVOLUTION BIOLOGIQUE",
        # key image
        "ANNEXE : IMAGERIE",
        "TDM rénale œdème.dcm",
        # the opinion, flagged outside guidelines
        "PROPOSITION HORS RECOMMANDATIONS",
        OPINION["proposal"],
        OPINION["rationale"],
        OPINION["references"],
        OPINION["clinical_trial"],
        "Dr Zoé Lefèvre-Cœur",
        # attendees, specialties, quorum
        "Quorum atteint",
        "Dr Hélène Dubœuf",
        "Dr Jérôme Çelik",
        "Dr Anaïs Bérénice",
        "Anatomopathologie",
        "Génétique",
        # validator and time, version, pages
        f"Avis validé par Dr Hélène Dubœuf le {validated_at:%d/%m/%Y} à {validated_at:%H:%M}",
        "Version 1",
        "Page 1/",
    ]
    # No-break spaces (French typography) read as spaces once whitespace is collapsed.
    missing = [item for item in expected if " ".join(str(item).split()) not in text]
    assert missing == []
    assert "�" not in text and text.count("?") == 1  # the question's own mark only
    assert fingerprint(data) == opinion.sheet_sha256
    assert "Dr Maëlle Rivière" not in text  # confirmed but never in the room


def test_fingerprint_recorded_is_the_sha256_of_the_stored_bytes(
    session: Session, team: CaseTeam
) -> None:
    opinion = validate_with_key_image(session, team)
    store = FileStore(get_settings().files_dir)
    assert store.verify(opinion.sheet_sha256 or "")
    assert fingerprint(store.read(opinion.sheet_sha256 or "")) == opinion.sheet_sha256


def test_rebuilding_the_sheet_from_the_database_gives_the_same_bytes(
    session: Session, team: CaseTeam
) -> None:
    """The printed copy can be checked: the stored facts rebuild the same document."""
    opinion = validate_with_key_image(session, team)
    session.refresh(opinion)
    validator = session.get(type(team.assistant), opinion.validator_id)
    data = sheet_data.build_sheet_data(
        session,
        case=team.case,
        opinion=opinion,
        validator=validator,
        validated_at=opinion.validated_at,
        quorum_met=bool(opinion.quorum_met),
        quorum_reason=opinion.quorum_reason,
        attendees=opinion.attendees,
    )
    assert fingerprint(build_sheet_pdf(data)) == opinion.sheet_sha256


def test_key_image_caption_never_names_the_patient(session: Session, team: CaseTeam) -> None:
    dcm = ct_small()
    attachment = add_attachment(session, team.case, dcm, "scanner.dcm", "dicom")
    caption = sheet_data.key_image_caption(attachment, 0)
    patient = str((attachment.dicom_summary or {}).get("patient_name") or "")
    assert patient and patient not in caption
    assert caption.startswith("Imagerie CT") and "scanner.dcm" in caption


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_first_page_renders_to_png_for_review(session: Session, team: CaseTeam) -> None:
    """Writes artifacts/avis_fiche_page1.png (looked at by a person: layout, print quality)."""
    validate_with_key_image(session, team)
    _name, data = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "avis_fiche.pdf").write_bytes(data)
    prefix = ARTIFACTS / "avis_fiche_page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(ARTIFACTS / "avis_fiche.pdf"), str(prefix)],
        check=True,
        timeout=60,
    )
    pages = sorted(ARTIFACTS.glob("avis_fiche_page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(data)).pages) >= 2
    with Image.open(pages[0]) as first:
        width, height = first.size
        assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
        # Not blank: a real page has ink on it.
        assert first.convert("L").getextrema()[0] < 80
