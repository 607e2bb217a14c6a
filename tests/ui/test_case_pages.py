"""Case form, case page and "Mes cas" through AppTest."""

from __future__ import annotations

import datetime as dt
import json

from pydicom.data import get_testdata_file
from sqlmodel import Session, select

from rcp.models import Attachment, Case
from tests.factories import (
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    pass_deadline,
    sign_in,
)
from tests.ui.conftest import texts
from tests.ui.test_directory_pages import page

CT = get_testdata_file("CT_small.dcm", download=False)


def _setting(db: Session):
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(1))
    member = make_member(db, rcp, coordinator, phone=mobile(2))
    meeting = make_meeting(db, rcp, coordinator)
    return coordinator, member, meeting


def _submit(at, label: str):
    for button in at.button:
        if button.proto.form_id == "soumettre_form" and button.label == label:
            return button.click().run()
    raise AssertionError(f"no button {label}")


def _fill_identity(at) -> None:
    at.text_input(key="soumettre_last_name").input("Durand")
    at.text_input(key="soumettre_first_name").input("Léa")
    at.date_input(key="soumettre_birth_date").set_value(dt.date(1975, 3, 2))
    at.radio(key="soumettre_sex").set_value("F")


def test_form_refuses_an_uninformed_patient_with_the_legal_reason(db: Session) -> None:
    _c, member, meeting = _setting(db)
    at = page("soumettre_cas", sign_in(db, member), meeting=str(meeting.id))
    _fill_identity(at)
    at = _submit(at, "Soumettre le cas")
    assert "La loi impose que le patient soit informé" in texts(at)
    db.commit()
    assert db.exec(select(Case)).all() == []


def test_form_submits_a_case_with_only_mandatory_fields(db: Session) -> None:
    _c, member, meeting = _setting(db)
    at = page("soumettre_cas", sign_in(db, member), meeting=str(meeting.id))
    _fill_identity(at)
    at.checkbox(key="soumettre_informed").check()
    at = _submit(at, "Soumettre le cas")
    assert not at.exception
    db.commit()
    case = db.exec(select(Case)).one()
    assert (case.patient_last_name, case.status) == ("DURAND", "submitted")


def test_files_are_uploaded_to_a_saved_case(db: Session) -> None:
    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, submit=False)
    at = page("soumettre_cas", sign_in(db, member), case=str(case.id))
    uploader = at.get("file_uploader")[0]
    uploader.upload("scanner.dcm", open(CT, "rb").read(), "application/dicom")
    at.run()
    at.button(key="soumettre_add_files").click().run()
    assert not at.exception
    db.commit()
    (row,) = db.exec(select(Attachment)).all()
    assert row.kind == "dicom" and row.case_id == case.id


def test_a_corrupt_dicom_upload_says_why_and_to_call_the_assistant(db: Session) -> None:
    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, submit=False)
    at = page("soumettre_cas", sign_in(db, member), case=str(case.id))
    at.get("file_uploader")[0].upload(
        "casse.dcm", open(CT, "rb").read()[:3000], "application/dicom"
    )
    at.run()
    at.button(key="soumettre_add_files").click().run()
    assert "assistant" in texts(at)
    db.commit()
    assert db.exec(select(Attachment)).all() == []


def _upload(at, name: str, data: bytes, mime: str = "application/zip"):
    at.get("file_uploader")[0].upload(name, data, mime)
    at.run()
    return at.button(key="soumettre_add_files").click().run()


def test_a_cd_with_one_bad_file_is_stored_but_that_file_and_the_doubles_are_listed(
    db: Session,
) -> None:
    from tests.unit.test_attachments import _series_zip
    from tests.unit.test_files import dicom_with_syntax

    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, submit=False)
    at = page("soumettre_cas", sign_in(db, member), case=str(case.id))
    cd = _series_zip(2, extra={"serie/GE0001": dicom_with_syntax("1.2.840.113619.5.2")})
    at = _upload(at, "cd.zip", cd)
    assert not at.exception
    shown = texts(at).replace("\\", "")  # names and reasons are shown as typed (escaped)
    assert "2 fichier(s) ajouté(s) au cas." in shown
    assert "1 fichier(s) des archives n'ont pas été ajoutés" in shown
    assert "serie/GE0001" in shown and "1.2.840.113619.5.2" in shown
    db.commit()
    assert len(db.exec(select(Attachment)).all()) == 2
    # The same CD again: nothing doubles, and the page says why.
    at = _upload(at, "cd.zip", cd)
    assert not at.exception
    assert "2 image(s) DICOM déjà présente(s) dans le cas" in texts(at)
    db.commit()
    assert len(db.exec(select(Attachment)).all()) == 2


def test_a_dicom_in_an_unknown_transfer_syntax_is_refused_in_french(db: Session) -> None:
    from tests.unit.test_files import dicom_with_syntax

    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, submit=False)
    at = page("soumettre_cas", sign_in(db, member), case=str(case.id))
    at = _upload(at, "ge.dcm", dicom_with_syntax("1.2.840.113619.5.2"), "application/dicom")
    assert not at.exception
    assert "syntaxe de transfert que la plateforme ne sait pas lire" in texts(at)
    db.commit()
    assert db.exec(select(Attachment)).all() == []


def test_after_the_deadline_the_form_is_closed_for_members(db: Session) -> None:
    _c, member, meeting = _setting(db)
    pass_deadline(db, meeting)
    at = page("soumettre_cas", sign_in(db, member), meeting=str(meeting.id))
    assert "Le dépôt des cas pour cette séance est clos" in texts(at)
    assert not [b for b in at.button if b.proto.form_id == "soumettre_form"]


def test_case_page_shows_the_dicom_viewer(db: Session, monkeypatch) -> None:
    from rcp import attachments
    from rcp.ui import dicom_viewer

    # AppTest draws the component's arguments only: the browser bundle need not be built.
    monkeypatch.setattr(dicom_viewer, "is_built", lambda: True)

    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, question="Faut-il biopsier ? <b>urgent</b>")
    attachments.add_upload(
        db, actor=member, case_id=case.id, name="ct.dcm", data=open(CT, "rb").read()
    )
    at = page("cas", sign_in(db, member), id=str(case.id))
    assert not at.exception
    shown = texts(at)
    assert "Question posée à la RCP" in shown and "\\<b\\>urgent\\</b\\>" in shown
    # The browser viewer gets ids only; it reads the file from the authenticated route,
    # never bytes under /media.
    assert not at.get("imgs") and not at.get("image")
    (attachment,) = attachments.list_attachments(db, actor=member, case_id=case.id)
    (viewer,) = at.get("component_instance")
    assert viewer.proto.component_name.endswith("rcp_dicom_viewer")
    args = json.loads(viewer.proto.json_args)
    (series,) = args["series"]
    assert series["images"] == [[attachment.id, 1]]
    assert series["modality"] == "CT"
    assert case.patient_last_name.upper() not in json.dumps(args).upper()  # no identity
    # The series downloads go through the authenticated, audited zip route.
    links = [b.proto.url for b in at.get("link_button")]
    assert f"/cases/{case.id}/series.zip?uid={series['uid']}" in links
    assert f"/cases/{case.id}/series.zip?uid={series['uid']}&deid=1" in links


def test_case_page_refuses_someone_elses_case_by_id(db: Session) -> None:
    _c, member, meeting = _setting(db)
    case = make_case(db, meeting, member, last_name="Secret")
    stranger = make_user(db, phone=mobile(3))
    at = page("cas", sign_in(db, stranger), id=str(case.id))
    shown = texts(at)
    assert "Cas introuvable" in shown and "SECRET" not in shown


def test_mes_cas_lists_my_cases(db: Session) -> None:
    _c, member, meeting = _setting(db)
    make_case(db, meeting, member, last_name="Premier")
    at = page("mes_cas", sign_in(db, member))
    assert "PREMIER" in texts(at) and "à discuter" in texts(at)


def test_validated_case_page_shows_who_validated_and_the_fingerprint(db: Session) -> None:
    from rcp import opinions
    from tests.factories import attend, make_case_team

    team = make_case_team(db)
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(
        db,
        actor=team.assistant,
        case_id=team.case.id,
        proposal="Traitement par rituximab.",
        rationale="",
        references="",
        clinical_trial="",
        follow_up_doctor="",
        follows_guidelines=True,
    )
    opinion = opinions.validate(db, actor=team.assistant, case_id=team.case.id)
    at = page("cas", sign_in(db, team.pathologist), id=str(team.case.id))
    shown = texts(at)
    assert "Avis validé le " in shown and "par Dr Hélène Dubœuf (version 1)" in shown
    assert opinion.sheet_sha256 in shown


def test_the_submitter_reads_the_validated_proposal_and_downloads_the_sheet_from_the_case(
    db: Session,
) -> None:
    from rcp import opinions
    from tests.factories import attend, make_case_team

    team = make_case_team(db)
    attend(db, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(
        db,
        actor=team.assistant,
        case_id=team.case.id,
        proposal="Traitement par rituximab, contrôle à 3 mois.",
        follows_guidelines=False,
    )
    opinions.validate(db, actor=team.assistant, case_id=team.case.id)
    at = page("cas", sign_in(db, team.submitter), id=str(team.case.id))
    assert not at.exception
    assert "Traitement par rituximab, contrôle à 3 mois." in [str(t.value) for t in at.text]
    assert "Proposition hors recommandations" in texts(at)
    (link,) = [b for b in at.get("link_button") if b.proto.label == "Télécharger la fiche"]
    assert link.proto.url == f"/cases/{team.case.id}/sheet.pdf"


def test_the_case_form_shows_every_mistake_at_once_each_by_its_field(db: Session) -> None:
    _c, member, meeting = _setting(db)
    at = page("soumettre_cas", sign_in(db, member), meeting=str(meeting.id))
    at = _submit(at, "Soumettre le cas")
    assert not at.exception
    shown = [e.value for e in at.error]
    assert len(shown) >= 5, shown  # name, first name, birth date, sex, "patient informé"
    assert any("Nom du patient" in m for m in shown)
    assert any("Prénom du patient" in m for m in shown)
    assert any("sexe" in m for m in shown)
    assert any("La loi impose que le patient soit informé" in m for m in shown)
    db.commit()
    assert db.exec(select(Case)).all() == []


def test_the_form_gives_the_real_deadline_and_no_draft_button_once_submitted(
    db: Session,
) -> None:
    from rcp.dates import format_datetime

    _c, member, meeting = _setting(db)
    at = page("soumettre_cas", sign_in(db, member), meeting=str(meeting.id))
    assert f"avant le {format_datetime(meeting.case_deadline)}" in texts(at)
    assert "Enregistrer le brouillon" in [b.label for b in at.button]
    case = make_case(db, meeting, member)  # submitted
    at = page("soumettre_cas", sign_in(db, member), case=str(case.id))
    labels = [b.label for b in at.button]
    assert "Enregistrer les modifications" in labels
    assert "Enregistrer le brouillon" not in labels
