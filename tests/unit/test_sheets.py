"""The RCP sheet PDF: every field printed, accents, paging, flags, literal markup, determinism."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from rcp.errors import InvalidInput
from rcp.labs import trend_plot_png, validate_lab_value
from rcp.sheets import (
    Attendee,
    ClinicalFile,
    DoctorInfo,
    KeyImage,
    MeetingInfo,
    OpinionInfo,
    PatientIdentity,
    Quorum,
    SheetData,
    Validation,
    build_sheet_pdf,
    fingerprint,
    lab_rows,
    printable_text,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TODAY = date(2026, 11, 25)
LAB_INPUT = {
    "creatinine": [
        ("2026-03-02", "142"),
        ("2026-06-10", "168"),
        ("2026-09-21", "195"),
        ("2026-11-05", "231"),
    ],
    "egfr": [
        ("2026-03-02", "44"),
        ("2026-06-10", "36"),
        ("2026-09-21", "30"),
        ("2026-11-05", "24"),
    ],
    "proteinuria": [("2026-03-02", "3,2"), ("2026-06-10", "4,1"), ("2026-11-05", "2,4")],
    "albumin": [("2026-03-02", "31"), ("2026-06-10", "27,5"), ("2026-11-05", "33")],
}


def make_key_image_png() -> bytes:
    """A CT-like slice: a bright body disc with two darker kidneys, as a grey PNG."""
    yy, xx = np.mgrid[0:256, 0:256]
    body = ((xx - 128) ** 2 / 110**2 + (yy - 128) ** 2 / 85**2) <= 1
    image = np.where(body, 120, 8).astype(np.uint8)
    for cx in (85, 171):
        kidney = ((xx - cx) ** 2 / 20**2 + (yy - 140) ** 2 / 32**2) <= 1
        image[kidney] = 200
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def make_sheet_data(**changes: object) -> SheetData:
    """A full sheet, version 2, every field filled with French text."""
    values = [
        validate_lab_value(code, value, taken_on, today=TODAY)
        for code, rows in LAB_INPUT.items()
        for taken_on, value in rows
    ]
    data = SheetData(
        meeting=MeetingInfo(
            network="Filière ORKiD",
            rcp_name="RCP nationale des maladies rénales rares de l'adulte",
            starts_at=datetime(2026, 12, 1, 14, 0),
        ),
        patient=PatientIdentity(
            last_name="Lœvenbruck",
            first_name="Éloïse",
            birth_date=date(1978, 4, 9),
            sex="F",
        ),
        submitter=DoctorInfo(
            name="Dr François Garçon",
            specialty="Néphrologie",
            institution="CHU de Besançon, service de néphrologie",
        ),
        clinical=ClinicalFile(
            question="Faut-il introduire un traitement par éculizumab « en première intention » ?",
            summary="Patiente de 48 ans, syndrome néphrotique impur avec œdèmes des membres "
            "inférieurs depuis mars 2026.",
            history="Hypertension artérielle depuis 2015 ; césarienne en 2009.",
            treatments="Ramipril 10 mg/j, furosémide 40 mg/j, atorvastatine 20 mg/j.",
            histology="PBR du 12/06/2026 : glomérulopathie à dépôts de C3, 18 glomérules.",
            genetics="Variant hétérozygote du gène CFH, classe 4 (probablement pathogène).",
        ),
        labs=lab_rows(values),
        lab_plot_png=trend_plot_png(values),
        key_image=KeyImage(
            png=make_key_image_png(),
            caption="Scanner abdominal, coupe axiale : reins de taille normale, sans obstacle.",
        ),
        opinion=OpinionInfo(
            proposal="Débuter l'éculizumab après vaccination antiméningococcique ; contrôle à "
            "trois mois.",
            rationale="Progression rapide malgré un blocage optimal du système "
            "rénine-angiotensine.",
            references="Recommandations KDIGO 2021, chapitre « Glomérulopathie à C3 ».",
            clinical_trial="Essai APPARENT-C3 (NCT0000000), centre coordonnateur : Hôpital Necker.",
            follow_up_doctor="Dr Zoé Lefèvre-Cœur",
            follows_guidelines=False,
        ),
        attendees=(
            Attendee("Pr Hélène Dubœuf", "Néphrologie"),
            Attendee("Dr Jérôme Çelik", "Anatomopathologie"),
            Attendee("Dr Anaïs Bérénice", "Génétique médicale"),
        ),
        quorum=Quorum(met=True, reason="Trois spécialités représentées, dont la néphrologie."),
        validation=Validation(
            validator="Pr Hélène Dubœuf", validated_at=datetime(2026, 12, 1, 16, 12)
        ),
        version=2,
        replaces_date=date(2026, 11, 17),
        generated_at=datetime(2026, 12, 1, 16, 30),
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def pdf_text(pdf: bytes) -> list[str]:
    """The text of each page, whitespace collapsed so that wrapped lines read as one."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def all_text(pdf: bytes) -> str:
    return " ".join(pdf_text(pdf))


def test_sheet_prints_every_field_and_french_accents() -> None:
    data = make_sheet_data()
    text = all_text(build_sheet_pdf(data))
    expected = [
        data.meeting.network,
        data.meeting.rcp_name,
        "séance du mardi 1er décembre 2026 à 14:00",
        "LŒVENBRUCK",
        "Éloïse",
        "09/04/1978",
        "Féminin",
        data.submitter.name,
        data.submitter.specialty,
        data.submitter.institution,
        *dataclasses.astuple(data.clinical),
        "Créatininémie (µmol/L)",
        "DFGe (CKD-EPI) (mL/min/1,73 m²)",
        "Protéinurie (RPCU) (g/g créatinine)",
        "02/03/2026",
        "05/11/2026",
        "231",
        "3,20",
        "27,5",
        data.key_image.caption if data.key_image else "",
        data.opinion.proposal,
        data.opinion.rationale,
        data.opinion.references,
        data.opinion.clinical_trial,
        data.opinion.follow_up_doctor,
        *(a.name for a in data.attendees),
        *(a.specialty for a in data.attendees),
        "Quorum atteint",
        data.quorum.reason,
        "Avis validé par Pr Hélène Dubœuf le 01/12/2026 à 16:12",
        "Version 2, remplace la version 1 du 17/11/2026",
        "générée le 01/12/2026 à 16:30",
    ]
    missing = [value for value in expected if " ".join(value.split()) not in text]
    assert missing == []
    for char in ("œ", "Œ", "É", "ç", "«", "»", "ï", "µ", "²"):
        assert char in text


def test_every_page_has_the_header_and_page_x_of_y() -> None:
    pages = pdf_text(build_sheet_pdf(make_sheet_data()))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "Filière ORKiD" in text
        assert "LŒVENBRUCK Éloïse · né(e) le 09/04/1978" in text
        assert f"Page {number}/{len(pages)}" in text


def test_out_of_guidelines_box_appears_only_when_the_proposal_departs_from_them() -> None:
    flagged = all_text(build_sheet_pdf(make_sheet_data()))
    opinion = dataclasses.replace(make_sheet_data().opinion, follows_guidelines=True)
    plain = all_text(build_sheet_pdf(make_sheet_data(opinion=opinion)))
    assert "PROPOSITION HORS RECOMMANDATIONS" in flagged
    assert "HORS RECOMMANDATIONS" not in plain.upper()


def test_markup_and_page_aliases_in_user_text_are_printed_literally() -> None:
    summary = "<script>alert('x')</script> **gras** <b>b</b> --barré-- {nb} &amp;"
    clinical = dataclasses.replace(make_sheet_data().clinical, summary=summary)
    text = all_text(build_sheet_pdf(make_sheet_data(clinical=clinical)))
    assert summary in text


def test_control_characters_are_stripped() -> None:
    clinical = dataclasses.replace(
        make_sheet_data().clinical, history="HTA\x00 depuis\x07 2015\u202e ;\ttabac"
    )
    text = all_text(build_sheet_pdf(make_sheet_data(clinical=clinical)))
    assert "HTA depuis 2015 ; tabac" in text
    assert "\x00" not in text and "\u202e" not in text


def test_glyphs_missing_from_the_font_become_question_marks() -> None:
    assert printable_text("rein腎 droit\x1b") == "rein? droit"
    assert printable_text("ligne 1\nligne 2", single_line=True) == "ligne 1 ligne 2"


def test_same_data_gives_the_same_bytes_and_fingerprint() -> None:
    first = build_sheet_pdf(make_sheet_data())
    second = build_sheet_pdf(make_sheet_data())
    other = build_sheet_pdf(make_sheet_data(generated_at=datetime(2026, 12, 2, 9, 0)))
    assert first == second
    assert fingerprint(first) == fingerprint(second)
    assert len(fingerprint(first)) == 64
    assert fingerprint(other) != fingerprint(first)


def test_font_cache_gives_the_same_bytes_as_fresh_fonts() -> None:
    data = make_sheet_data()
    assert build_sheet_pdf(data) == build_sheet_pdf(data, _cache_fonts=False)


def test_sheets_built_in_parallel_threads_match_sequential_ones() -> None:
    datas = [make_sheet_data(), make_sheet_data(version=3, replaces_date=date(2026, 11, 30))]
    sequential = [build_sheet_pdf(d) for d in datas]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(build_sheet_pdf, datas))
    assert parallel == sequential


def test_long_summary_flows_onto_further_pages() -> None:
    sentences = [
        f"Phrase numéro {i} du résumé clinique, avec œdème et protéinurie." for i in range(260)
    ]
    clinical = dataclasses.replace(make_sheet_data().clinical, summary=" ".join(sentences))
    pages = pdf_text(build_sheet_pdf(make_sheet_data(clinical=clinical)))
    assert len(pages) >= 4
    text = " ".join(pages)
    assert "Phrase numéro 0 du résumé" in text
    assert "Phrase numéro 259 du résumé" in text
    assert all(f"Page {i}/{len(pages)}" in page for i, page in enumerate(pages, start=1))


def test_minimal_sheet_without_labs_image_or_validation_is_a_marked_draft() -> None:
    data = make_sheet_data(
        labs=(),
        lab_plot_png=None,
        key_image=None,
        validation=None,
        version=1,
        replaces_date=None,
        attendees=(),
        quorum=Quorum(met=False, reason="Pas de pathologiste."),
        clinical=ClinicalFile(question="Conduite à tenir ?"),
    )
    text = all_text(build_sheet_pdf(data))
    assert "Aucun résultat biologique transmis." in text
    assert "IMAGERIE" not in text
    assert "Avis non validé" in text
    assert "Quorum non atteint" in text and "Pas de pathologiste." in text
    assert "remplace la version" not in text


def test_version_two_without_the_replaced_date_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        build_sheet_pdf(make_sheet_data(replaces_date=None))
    assert error.value.field == "replaces_date"


def test_unreadable_key_image_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        build_sheet_pdf(make_sheet_data(key_image=KeyImage(png=b"<html>", caption="x")))
    assert error.value.field == "key_image"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_first_page_renders_to_a_non_blank_png() -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pdf_path = ARTIFACTS / "fiche_rcp.pdf"
    pdf_path.write_bytes(build_sheet_pdf(make_sheet_data()))
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf_path),
            str(ARTIFACTS / "fiche_rcp_page1"),
        ],
        check=True,
        timeout=60,
    )
    png = ARTIFACTS / "fiche_rcp_page1.png"
    assert png.stat().st_size > 20_000
    with Image.open(png) as image:
        assert image.size == (827, 1170)  # A4 at 100 dpi
        grey = np.asarray(image.convert("L"))
    inked = (grey < 200).mean()
    assert 0.02 < inked < 0.5
    assert grey.std() > 20


def test_the_sheet_fonts_are_cut_to_what_a_sheet_prints() -> None:
    """fpdf2 re-reads every face of every document: the faces are cut once (fewer glyphs,
    faster sheets) and still print French, Greek, Cyrillic and the sheet's symbols."""
    from fontTools import ttLib

    from rcp import sheets

    for name in sheets._FONT_FILES.values():
        full = ttLib.TTFont(sheets._FONT_DIR / name, lazy=True)
        cut = ttLib.TTFont(sheets._font_dir() / name, lazy=True)
        assert len(cut.getGlyphOrder()) < len(full.getGlyphOrder()) / 2
        full.close()
        cut.close()
    printable = sheets._printable_codepoints()
    for text in ("Lœvenbruck Éloïse à ç ÿ Ş ø", "µg α β ≥ ≤ ± →", "Иванова", "⚠ ✓ « » – …"):
        assert all(ord(ch) in printable for ch in text if not ch.isspace()), text
