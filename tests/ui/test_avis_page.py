"""The "Avis RCP" page through AppTest: editor, quorum, validation, readers, refusals."""

from __future__ import annotations

import io
from pathlib import Path

from pydicom.data import get_testdata_file
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import opinions
from rcp.models import Case, CaseStatus, Opinion
from rcp.ui import keys
from tests.factories import CaseTeam, attend, make_case_team, sign_in
from tests.ui.conftest import ROOT, html_bodies, link_buttons, texts
from tests.unit.test_opinions import OPINION, add_attachment


def page(token: str, **params: str) -> AppTest:
    """Open pages/avis.py through the app's navigation, signed in, with query parameters."""
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=60)
    at.session_state[keys.TEST_TOKEN] = token
    at.run()
    for key, value in params.items():
        at.query_params[key] = value
    return at.switch_page("pages/avis.py").run()


def avis(db: Session, team: CaseTeam, who: str) -> AppTest:
    return page(sign_in(db, getattr(team, who)), case=str(team.case.id))


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return matches[0]


def fresh(db: Session) -> None:
    """End the test's read transaction: the next query sees what the app committed."""
    db.rollback()
    db.expire_all()


def validate_by_service(db: Session, team: CaseTeam) -> Opinion:
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(db, actor=team.assistant, case_id=team.case.id, **OPINION)
    return opinions.validate(db, actor=team.assistant, case_id=team.case.id)


def test_coordinator_writes_a_draft_then_validates_it(db: Session) -> None:
    team = make_case_team(db)
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    at = avis(db, team, "assistant")
    assert "Quorum atteint : 3 participant(s), 3 spécialité(s)" in texts(at)
    at.text_area(key="avis_proposal").input(OPINION["proposal"])
    at.text_area(key="avis_rationale").input(OPINION["rationale"])
    at.text_input(key="avis_follow_up").input(OPINION["follow_up_doctor"])
    at.radio(key="avis_follows").set_value(False)
    at = button(at, "Enregistrer le brouillon").click().run()
    assert "Brouillon enregistré." in texts(at)
    fresh(db)
    stored = db.exec(select(Opinion)).one()
    assert stored.proposal == OPINION["proposal"] and stored.follows_guidelines is False
    assert stored.validated_at is None

    at.text_area(key="avis_references").input(OPINION["references"])
    at = button(at, "Valider l'avis").click().run()
    shown = texts(at)
    assert "Avis validé : la fiche est prête" in shown
    assert "Avis validé le " in shown and "par Dr Hélène Dubœuf (version 1)" in shown
    fresh(db)
    stored = db.exec(select(Opinion)).one()
    assert stored.references == OPINION["references"]  # the unsaved edit was validated too
    # The fingerprint is inline code: a code block (st.code) loads the browser's syntax
    # highlighter, which held the validated page back by up to 0.7 s (bench/validate_click.py).
    assert f"`{stored.sheet_sha256}`" in shown and not at.code
    assert link_buttons(at)["Télécharger la fiche"] == f"/cases/{team.case.id}/sheet.pdf"
    assert db.get(Case, team.case.id).status == CaseStatus.validated  # type: ignore[union-attr]
    # Locked: the editor is gone, a correction is offered instead.
    assert not [t for t in at.text_area if t.key == "avis_proposal"]
    assert "Corriger l'avis (nouvelle version)" in [b.label for b in at.button]


def test_without_quorum_validation_asks_for_a_recorded_reason(db: Session) -> None:
    team = make_case_team(db)
    attend(db, team.meeting, team.assistant)
    opinions.save_draft(db, actor=team.assistant, case_id=team.case.id, **OPINION)
    at = avis(db, team, "assistant")
    assert "Quorum non atteint : 1 participant(s), 1 spécialité(s)" in texts(at)
    at = button(at, "Valider l'avis").click().run()
    assert "indiquez le motif" in " ".join(e.value for e in at.error)
    fresh(db)
    assert db.exec(select(Opinion)).one().validated_at is None
    at.text_area(key="avis_quorum_reason").input("Anatomopathologiste excusé, avis écrit joint.")
    at = button(at, "Valider l'avis").click().run()
    # Free text is shown escaped (markdown characters as text): the same words for the reader.
    assert "Motif consigné : Anatomopathologiste excusé, avis écrit joint\\." in texts(at)
    fresh(db)
    assert db.exec(select(Opinion)).one().quorum_met is False


def test_participant_sees_the_validated_opinion_and_the_download_only(db: Session) -> None:
    team = make_case_team(db)
    opinion = validate_by_service(db, team)
    at = avis(db, team, "nephrologist")
    shown = texts(at)
    assert "Avis validé le " in shown and "par Dr Hélène Dubœuf" in shown
    assert "Proposition hors recommandations" in shown
    assert OPINION["proposal"] in [t.value for t in at.text]
    assert f"`{opinion.sheet_sha256}`" in shown and not at.code
    assert link_buttons(at)["Télécharger la fiche"] == f"/cases/{team.case.id}/sheet.pdf"
    assert len(at.text_area) == 0
    assert "Valider l'avis" not in [b.label for b in at.button]
    assert "Corriger l'avis (nouvelle version)" not in [b.label for b in at.button]


def test_participant_waits_for_validation_and_never_sees_the_draft(db: Session) -> None:
    team = make_case_team(db)
    opinions.save_draft(db, actor=team.assistant, case_id=team.case.id, **OPINION)
    at = avis(db, team, "pathologist")
    shown = texts(at)
    assert "pas encore validé" in shown
    assert OPINION["proposal"] not in shown + str([t.value for t in at.text])
    assert "Télécharger la fiche" not in link_buttons(at) and len(at.text_area) == 0


def test_people_outside_the_meeting_are_refused(db: Session) -> None:
    team = make_case_team(db)
    validate_by_service(db, team)
    for who in ("stranger", "admin", "invited", "other_coordinator"):
        at = avis(db, team, who)
        assert "Seuls les participants confirmés" in " ".join(e.value for e in at.error), who
        assert "Télécharger la fiche" not in link_buttons(at)
        assert "Lœvenbruck".upper() not in texts(at)


def test_coordinator_opens_a_correction_and_sees_version_2(db: Session) -> None:
    team = make_case_team(db)
    validate_by_service(db, team)
    at = avis(db, team, "referent")
    at = button(at, "Corriger l'avis (nouvelle version)").click().run()
    shown = texts(at)
    assert "Correction ouverte" in shown
    assert "Rédaction de l'avis — version 2 (correction)" in shown
    assert at.text_area(key="avis_proposal").value == OPINION["proposal"]
    assert "Version 1 — validée le" in shown and "Version 2 — brouillon" in shown
    # Version 1 stays downloadable while version 2 is written.
    assert "Télécharger la fiche" in link_buttons(at)


def test_coordinator_picks_the_key_image_with_a_preview(db: Session) -> None:
    team = make_case_team(db)
    data = Path(get_testdata_file("CT_small.dcm", download=False)).read_bytes()  # type: ignore[arg-type]
    attachment = add_attachment(db, team.case, data, "scanner.dcm", "dicom")
    at = avis(db, team, "assistant")
    assert "Aucune image clé choisie." in texts(at)
    # Drawn by the authenticated route, never st.image bytes (served from /media).
    assert not at.get("image") and not at.get("imgs")
    assert [h for h in html_bodies(at) if "key-image.png" in h] == [
        f'<img class="rcp-protected" src="/cases/{team.case.id}/key-image.png?attachment='
        f'{attachment.id}&amp;frame=0" alt="Aperçu de l&#x27;image clé" '
        'style="max-width:100%;height:auto;display:block;width:320px;">'
    ]
    assert "Aperçu tel qu'imprimé sur la fiche" in texts(at)
    at = button(at, "Choisir cette image").click().run()
    assert "Image clé choisie." in texts(at)
    fresh(db)
    case = db.get(Case, team.case.id)
    assert case is not None and case.key_attachment_id == attachment.id
    assert case.key_frame_index == 0


def test_link_without_a_case_says_so(db: Session) -> None:
    team = make_case_team(db)
    at = page(sign_in(db, team.assistant))
    assert "Lien incomplet" in " ".join(e.value for e in at.error)


def _other_patient_ct() -> bytes:
    """CT_small whose header names another patient than any test case (three fields differ)."""
    import io

    import pydicom

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientName = "MARTIN^Paul"
    ds.PatientBirthDate = "19451102"
    ds.PatientSex = "M"
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def test_a_key_image_of_another_patient_is_flagged_and_needs_a_recorded_confirmation(
    db: Session,
) -> None:
    from pypdf import PdfReader

    team = make_case_team(db)
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(db, actor=team.assistant, case_id=team.case.id, **OPINION)
    add_attachment(db, team.case, _other_patient_ct(), "autre.dcm", "dicom")
    at = avis(db, team, "assistant")
    # The picker says it before the image is chosen, with every field that differs.
    picker = " ".join(e.value for e in at.error).replace("\\", "")  # escaped markdown
    assert "Attention, images d'un autre patient ?" in picker
    assert "nom (en-tête « MARTIN »" in picker and "date de naissance" in picker
    assert at.selectbox(key="avis_key_series").options[0].endswith("⚠ autre patient ?")
    at = button(at, "Choisir cette image").click().run()
    # Validation without the explicit confirmation is refused and nothing is validated.
    at = button(at, "Valider l'avis").click().run()
    assert "porte dans son en-tête DICOM l'identité d'un autre patient" in " ".join(
        e.value for e in at.error
    )
    fresh(db)
    assert db.exec(select(Opinion)).one().validated_at is None
    at.checkbox(key="avis_confirm_identity").check()
    at = button(at, "Valider l'avis").click().run()
    assert "Avis validé : la fiche est prête" in texts(at)
    fresh(db)
    stored = db.exec(select(Opinion)).one()
    assert stored.validated_at is not None
    assert stored.key_image_identity_warning.startswith("nom (en-tête « MARTIN »")
    _name, pdf = opinions.get_sheet(db, actor=team.assistant, case_id=team.case.id)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = " ".join(text.split())
    assert "IDENTITÉ À VÉRIFIER" in text
    assert "confirmation explicite de Dr Hélène Dubœuf" in text


def test_the_case_page_gives_one_warning_per_file_listing_the_fields(db: Session) -> None:
    team = make_case_team(db)
    add_attachment(db, team.case, _other_patient_ct(), "autre.dcm", "dicom")
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=60)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, team.assistant)
    at.run()
    at.query_params["id"] = str(team.case.id)
    at = at.switch_page("pages/cas.py").run()
    warnings = [e.value.replace("\\", "") for e in at.error if "autre patient" in e.value]
    assert len(warnings) == 1
    (warning,) = warnings
    for field in ("nom (", "prénom (", "date de naissance (", "sexe ("):
        assert field in warning


def test_a_new_opinion_shows_the_case_beside_it_and_asks_about_guidelines(db: Session) -> None:
    from tests.factories import CASE_TEAM_TEXT

    team = make_case_team(db)
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    at = avis(db, team, "assistant")
    shown = " ".join(str(t.value) for t in at.text)
    assert CASE_TEAM_TEXT["question"] in shown and CASE_TEAM_TEXT["summary"] in shown
    assert at.radio(key="avis_follows").value is None  # nothing answered for the coordinator
    at.text_area(key="avis_proposal").input(OPINION["proposal"])
    at = button(at, "Valider l'avis").click().run()
    assert "Indiquez si la proposition suit les recommandations" in " ".join(
        e.value for e in at.error
    )
    fresh(db)
    assert db.exec(select(Opinion)).one().validated_at is None
    at.radio(key="avis_follows").set_value(True)
    at = button(at, "Valider l'avis").click().run()
    assert "Avis validé : la fiche est prête" in texts(at)
    fresh(db)
    assert db.exec(select(Opinion)).one().follows_guidelines is True


def test_the_reason_to_validate_without_quorum_is_kept_by_saving_the_draft(db: Session) -> None:
    team = make_case_team(db)
    attend(db, team.meeting, team.assistant)
    at = avis(db, team, "assistant")
    at.text_area(key="avis_proposal").input(OPINION["proposal"])
    at.radio(key="avis_follows").set_value(True)
    at.text_area(key="avis_quorum_reason").input("Avis écrit de l'anatomopathologiste joint.")
    at = button(at, "Enregistrer le brouillon").click().run()
    assert "Brouillon enregistré." in texts(at)
    fresh(db)
    assert db.exec(select(Opinion)).one().quorum_reason == (
        "Avis écrit de l'anatomopathologiste joint."
    )
    again = avis(db, team, "assistant")  # another visit: the reason is still there
    assert again.text_area(key="avis_quorum_reason").value == (
        "Avis écrit de l'anatomopathologiste joint."
    )
    again = button(again, "Valider l'avis").click().run()
    # The reason is shown escaped (markdown characters as text): the same words for the reader.
    shown = texts(again).replace("\\", "")
    assert "Motif consigné : Avis écrit de l'anatomopathologiste joint." in shown
