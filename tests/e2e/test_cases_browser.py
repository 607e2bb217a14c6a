"""Submitting a case with a DICOM series and a PDF, then reading it, in a real browser."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fpdf import FPDF
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from tests.e2e.conftest import shot, sign_in, wait_idle

PHONES = {p.key: p.phone for p in PEOPLE}


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _series(folder: Path, count: int = 12) -> list[Path]:
    """A CT series of the case's patient, a bright blob growing slice after slice."""
    base = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    uid = generate_uid()
    paths = []
    for i in range(count):
        ds = copy.deepcopy(base)
        ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "ESSAI^Zoe", "19800517", "F"
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = uid, generate_uid(), i + 1
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 5.0 * i], [1, 0, 0, 0, 1, 0]
        pixels = ds.pixel_array.astype(np.int16)
        yy, xx = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
        blob = 400 * np.exp(-((xx - 64) ** 2 + (yy - 64) ** 2) / (2 * (4 + 2 * i) ** 2))
        pixels = pixels + blob
        ds.PixelData = pixels.astype(np.int16).tobytes()
        path = folder / f"IM{count - i:04d}.dcm"  # names in reverse order: sorting is ours
        ds.save_as(path)
        paths.append(path)
    return paths


def _pdf(folder: Path) -> Path:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="Compte rendu de biopsie renale (fictif)")
    path = folder / "compte_rendu.pdf"
    pdf.output(str(path))
    return path


def test_member_submits_a_case_with_a_series_and_a_report(demo, browser, tmp_path) -> None:
    """Form (informed box enforced), draft, DICOM series + PDF upload, submission, then the
    case page with the viewer; the slider changes the slice shown."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = ctx.new_page()
    sign_in(page, demo, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)
    page.get_by_role("link", name=re.compile(r"RCP GEM et SNI .* du ")).first.click()
    page.wait_for_url(re.compile(r"/seance\?id=\d+"))
    meeting_id = page.url.rsplit("=", 1)[1]
    page.goto(f"{demo.url}/soumettre-cas?meeting={meeting_id}")
    wait_idle(page)
    page.get_by_label("Nom *", exact=True).fill("Essai")
    page.get_by_label("Prénom *", exact=True).fill("Zoé")
    page.locator("[data-testid='stDateInput'] input[type=date]").first.fill("1980-05-17")
    page.get_by_text("Féminin").click()
    page.get_by_label("Question posée à la RCP").fill("Faut-il un traitement par rituximab ?")
    # Streamlit's own words in French, the uploader's button too (written through markdown).
    dropzone = page.locator("[data-testid='stFileUploaderDropzone']")
    assert dropzone.locator("button").inner_text().strip().endswith("Choisir des fichiers")
    assert "Upload" not in dropzone.inner_text()
    # The files are chosen in the form itself, before any save (issue 20.14).
    files = [*_series(tmp_path), _pdf(tmp_path)]
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        [str(p) for p in files]
    )
    page.get_by_text("compte_rendu.pdf").wait_for()
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.get_by_text("La loi impose que le patient soit informé").wait_for()
    wait_idle(page)
    # A mistake loses nothing: the chosen files are still there.
    page.get_by_text("compte_rendu.pdf").wait_for()
    shot(page, "cases_01_informed_required")
    page.get_by_role("checkbox", name=re.compile("Le patient est informé")).check(force=True)
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.get_by_text(
        re.compile(rf"Brouillon enregistré avec {len(files)} fichier\(s\) ajouté\(s\) au cas")
    ).wait_for(timeout=60_000)
    wait_idle(page)
    assert (
        page.get_by_text("compte_rendu.pdf · Compte rendu PDF").count() == 1
    )  # listed once, stored
    shot(page, "cases_02_files_added")
    page.get_by_role("button", name="Soumettre le cas").click()
    page.get_by_text("Cas soumis à la RCP").wait_for()
    page.get_by_role("link", name="Voir le cas").click()
    page.wait_for_url(re.compile(r"/cas\?id=\d+"))
    wait_idle(page)
    page.get_by_text("12 fichier(s) DICOM en 1 série(s)").wait_for()
    # The browser viewer reads the slices from the authenticated route and shows them in order.
    frame = page.frame_locator("iframe[title*='rcp_dicom_viewer']")
    frame.locator("[data-overlay=bl]").get_by_text("Image 6 / 12").wait_for(timeout=30_000)
    shot(page, "cases_03_viewer")
    # The PDF opens through the permission-checked route.
    response = page.request.get(
        f"{demo.url}/files/"
        + page.get_by_role("link", name="Ouvrir").get_attribute("href").rsplit("/", 1)[1]
    )
    assert response.status == 200 and response.body().startswith(b"%PDF")
    case_url = page.url
    ctx.close()
    # Another doctor typing the case's URL sees nothing of it.
    other_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    other = other_ctx.new_page()
    sign_in(other, demo, demo_email("medecin3"), PHONES["medecin3"], DEMO_PASSWORD)
    other.goto(case_url)
    wait_idle(other)
    other.get_by_text("Cas introuvable, ou vous n'avez pas accès à ce cas.").wait_for()
    assert other.get_by_text("ESSAI").count() == 0
    shot(other, "cases_05_foreign_id_refused")
    other_ctx.close()
    anonymous = browser.new_context()
    assert anonymous.request.get(f"{demo.url}/files/1").status == 401
    anonymous.close()
