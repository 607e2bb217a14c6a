"""The RCP opinion: who writes, validates, corrects and downloads; quorum; versions; locks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from pypdf import PdfReader
from sqlmodel import Session, col, select

from rcp import cases, dicom, directory, opinions
from rcp.config import get_settings
from rcp.dates import PARIS
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StorageError
from rcp.files import FileStore
from rcp.models import (
    Attachment,
    AttachmentKind,
    AuditEvent,
    Case,
    CaseStatus,
    Opinion,
    OutboxMessage,
)
from rcp.sheets import fingerprint
from tests.factories import CaseTeam, attend, case_form, make_case_team

OPINION = {
    "proposal": "Débuter l'éculizumab après vaccination antiméningococcique ; contrôle à 3 mois.",
    "rationale": "Progression rapide malgré un blocage optimal du système rénine-angiotensine.",
    "references": "Recommandations KDIGO 2021, chapitre « Glomérulopathie à C3 ».",
    "clinical_trial": "Essai APPARENT-C3 (NCT0000000).",
    "follow_up_doctor": "Dr Zoé Lefèvre-Cœur",
    "follows_guidelines": False,
}
WRITERS = ("assistant", "referent")
NOT_WRITERS = (
    "other_coordinator",
    "nephrologist",
    "invited",
    "submitter",
    "stranger",
    "admin",
)
READERS = ("assistant", "referent", "nephrologist", "pathologist", "submitter")
NOT_READERS = ("invited", "stranger", "admin", "other_coordinator")


@pytest.fixture
def team(session: Session) -> CaseTeam:
    return make_case_team(session)


def full_quorum(session: Session, team: CaseTeam) -> None:
    """Néphrologie, anatomopathologie and génétique in the room."""
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)


def draft(session: Session, team: CaseTeam, **changes: object) -> Opinion:
    values = {**OPINION, **changes}
    return opinions.save_draft(session, actor=team.assistant, case_id=team.case.id, **values)


def validated(session: Session, team: CaseTeam, **changes: object) -> Opinion:
    full_quorum(session, team)
    draft(session, team, **changes)
    return opinions.validate(session, actor=team.assistant, case_id=team.case.id)


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        ).all()
    )


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", WRITERS)
def test_coordinator_saves_a_draft_and_updates_it_in_place(
    session: Session, team: CaseTeam, who: str
) -> None:
    actor = getattr(team, who)
    first = opinions.save_draft(session, actor=actor, case_id=team.case.id, proposal="Brouillon")
    second = opinions.save_draft(session, actor=actor, case_id=team.case.id, **OPINION)
    assert first.id == second.id and second.version == 1
    assert second.proposal == OPINION["proposal"] and second.follows_guidelines is False
    assert second.validated_at is None
    assert [e.action for e in events(session, "opinion.draft_created")] == ["opinion.draft_created"]
    assert len(events(session, "opinion.draft_saved")) == 1


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_only_coordinators_of_the_case_rcp_may_write_the_opinion(
    session: Session, team: CaseTeam, who: str
) -> None:
    with pytest.raises(PermissionDenied):
        opinions.save_draft(session, actor=getattr(team, who), case_id=team.case.id, proposal="Non")
    assert session.exec(select(Opinion)).first() is None


def test_participant_cannot_edit_an_existing_draft(session: Session, team: CaseTeam) -> None:
    draft(session, team)
    with pytest.raises(PermissionDenied):
        opinions.save_draft(
            session, actor=team.nephrologist, case_id=team.case.id, proposal="Autre chose"
        )
    session.expire_all()
    assert session.exec(select(Opinion)).one().proposal == OPINION["proposal"]


def test_draft_on_a_withdrawn_case_is_refused(session: Session, team: CaseTeam) -> None:
    team.case.status = CaseStatus.withdrawn
    session.add(team.case)
    session.commit()
    # A withdrawn case is its submitter's alone: answered like an unknown id.
    with pytest.raises(NotFound):
        draft(session, team)


def test_unknown_case_is_not_found(session: Session, team: CaseTeam) -> None:
    with pytest.raises(NotFound):
        opinions.save_draft(session, actor=team.assistant, case_id=9999, proposal="x")


# --- quorum ----------------------------------------------------------------------------------


def test_quorum_lists_real_attendees_with_their_specialties(
    session: Session, team: CaseTeam
) -> None:
    attend(session, team.meeting, team.assistant, team.pathologist)
    view = opinions.quorum(session, actor=team.assistant, case_id=team.case.id)
    # Confirmed participants who never joined the room are not attendees.
    assert {a.name for a in view.attendees} == {
        "Dr Hélène Dubœuf",
        "Dr Jérôme Çelik",
    }
    assert set(view.specialties) == {"Néphrologie", "Anatomopathologie"}
    assert view.required == 3 and not view.met and view.missing == 1


def test_same_specialty_spelled_differently_counts_once(session: Session, team: CaseTeam) -> None:
    team.nephrologist.specialty = "NEPHROLOGIE "
    session.add(team.nephrologist)
    session.commit()
    attend(session, team.meeting, team.assistant, team.nephrologist, team.pathologist)
    view = opinions.quorum(session, actor=team.assistant, case_id=team.case.id)
    assert len(view.attendees) == 3
    assert len(view.specialties) == 2 and not view.met


def test_a_user_who_joined_twice_is_one_attendee(session: Session, team: CaseTeam) -> None:
    from rcp import attendance

    attend(session, team.meeting, team.pathologist)
    attendance.record_leave(session, actor=team.pathologist, meeting_id=team.meeting.id)
    attend(session, team.meeting, team.pathologist)
    view = opinions.quorum(session, actor=team.assistant, case_id=team.case.id)
    assert [a.name for a in view.attendees] == ["Dr Jérôme Çelik"]


def test_three_distinct_specialties_meet_the_default_quorum(
    session: Session, team: CaseTeam
) -> None:
    full_quorum(session, team)
    assert opinions.quorum(session, actor=team.assistant, case_id=team.case.id).met


def test_quorum_rule_is_the_rcp_setting(session: Session, team: CaseTeam) -> None:
    attend(session, team.meeting, team.assistant, team.pathologist)
    assert not opinions.quorum(session, actor=team.assistant, case_id=team.case.id).met
    rcp = team.rcp
    directory.update_rcp(
        session,
        actor=team.admin,
        rcp_id=rcp.id,
        name=rcp.name,
        description=rcp.description,
        min_specialties=2,
        min_participants=rcp.min_participants,
    )
    view = opinions.quorum(session, actor=team.assistant, case_id=team.case.id)
    assert view.required == 2 and view.met


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_quorum_panel_is_for_coordinators(session: Session, team: CaseTeam, who: str) -> None:
    with pytest.raises(PermissionDenied):
        opinions.quorum(session, actor=getattr(team, who), case_id=team.case.id)


# --- validation ------------------------------------------------------------------------------


def test_validation_locks_the_opinion_and_the_case(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    assert opinion.validated_at is not None and opinion.validator_id == team.assistant.id
    assert opinion.quorum_met is True and opinion.quorum_reason is None
    session.expire_all()
    case = session.get(Case, team.case.id)
    assert case is not None and case.status == CaseStatus.validated
    with pytest.raises(Conflict):
        draft(session, team, proposal="Changer après coup")
    with pytest.raises(Conflict):
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    with pytest.raises(Conflict):
        opinions.choose_key_image(
            session, actor=team.assistant, case_id=team.case.id, attachment_id=None
        )
    # The case service refuses edits of a validated case too.
    with pytest.raises(Conflict):
        cases.save_draft(
            session,
            actor=team.submitter,
            meeting_id=team.meeting.id,
            case_id=team.case.id,
            form=case_form(last_name="Autre"),
        )


def test_validation_snapshots_the_attendees(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    assert sorted(row["name"] for row in opinion.attendees or []) == [
        "Dr Anaïs Bérénice",
        "Dr Hélène Dubœuf",
        "Dr Jérôme Çelik",
    ]
    # People joining after the validation do not change the recorded list.
    attend(session, team.meeting, team.nephrologist)
    session.expire_all()
    stored = session.get(Opinion, opinion.id)
    assert stored is not None and len(stored.attendees or []) == 3


def test_validation_stores_the_pdf_and_its_fingerprint(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    store = FileStore(get_settings().files_dir)
    assert opinion.sheet_sha256 and opinion.sheet_path
    data = (store.root / opinion.sheet_path).read_bytes()
    assert data.startswith(b"%PDF") and fingerprint(data) == opinion.sheet_sha256
    event = events(session, "opinion.validated")[-1]
    assert event.details["sheet_sha256"] == opinion.sheet_sha256


def test_validation_without_quorum_needs_a_reason(session: Session, team: CaseTeam) -> None:
    attend(session, team.meeting, team.assistant)
    draft(session, team)
    with pytest.raises(InvalidInput) as refused:
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    assert refused.value.field == "quorum_reason"
    with pytest.raises(InvalidInput):
        opinions.validate(session, actor=team.assistant, case_id=team.case.id, quorum_reason="   ")
    assert session.exec(select(Opinion)).one().validated_at is None
    reason = "Généticien excusé, avis demandé par écrit ; urgence thérapeutique."
    opinion = opinions.validate(
        session, actor=team.assistant, case_id=team.case.id, quorum_reason=reason
    )
    assert opinion.quorum_met is False and opinion.quorum_reason == reason
    data = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)[1]
    text = pdf_text(data)
    assert "Quorum non atteint" in text and reason in text


def test_reason_is_not_recorded_when_the_quorum_is_met(session: Session, team: CaseTeam) -> None:
    full_quorum(session, team)
    draft(session, team)
    opinion = opinions.validate(
        session, actor=team.assistant, case_id=team.case.id, quorum_reason="Inutile"
    )
    assert opinion.quorum_met is True and opinion.quorum_reason is None


def test_validation_needs_a_proposal(session: Session, team: CaseTeam) -> None:
    full_quorum(session, team)
    draft(session, team, proposal="  ")
    with pytest.raises(InvalidInput) as refused:
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    assert refused.value.field == "proposal"


def test_validation_without_a_draft_is_refused(session: Session, team: CaseTeam) -> None:
    with pytest.raises(Conflict):
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)


def test_validation_before_the_meeting_starts_is_refused(session: Session) -> None:
    from tests.factories import make_case, make_coordinator, make_meeting, make_rcp

    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    meeting = make_meeting(session, rcp, coordinator)
    case = make_case(session, meeting, coordinator)
    opinions.save_draft(session, actor=coordinator, case_id=case.id, proposal="Prévu")
    with pytest.raises(Conflict, match="début de la séance"):
        opinions.validate(session, actor=coordinator, case_id=case.id, quorum_reason="x")


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_only_coordinators_may_validate(session: Session, team: CaseTeam, who: str) -> None:
    full_quorum(session, team)
    draft(session, team)
    with pytest.raises(PermissionDenied):
        opinions.validate(session, actor=getattr(team, who), case_id=team.case.id)
    assert session.exec(select(Opinion)).one().validated_at is None


def test_validation_refused_when_the_draft_changed_while_the_sheet_was_built(
    session: Session, team: CaseTeam, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_quorum(session, team)
    opinion = draft(session, team)
    real_build = opinions.build_sheet_pdf

    def build_while_someone_saves(data):  # another coordinator saves during the build
        opinions.save_draft(
            session, actor=team.referent, case_id=team.case.id, proposal="Nouvelle proposition"
        )
        return real_build(data)

    monkeypatch.setattr(opinions, "build_sheet_pdf", build_while_someone_saves)
    with pytest.raises(Conflict):
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    session.expire_all()
    stored = session.get(Opinion, opinion.id)
    assert stored is not None and stored.validated_at is None
    assert stored.proposal == "Nouvelle proposition"
    assert session.get(Case, team.case.id).status == CaseStatus.submitted  # type: ignore[union-attr]


def test_submitter_is_emailed_a_link_without_patient_data(session: Session, team: CaseTeam) -> None:
    validated(session, team)
    mails = session.exec(
        select(OutboxMessage).where(OutboxMessage.to == team.submitter.email)
    ).all()
    mail = [m for m in mails if "Avis de la RCP" in m.subject][-1]
    content = f"{mail.subject}\n{mail.body}"
    assert f"/cas?id={team.case.id}" in content
    for secret in (
        "Lœvenbruck",
        "LŒVENBRUCK",
        "Éloïse",
        "1980",
        "17/05",
        "éculizumab",
        "œdèmes",
        "C3",
    ):
        assert secret not in content
    assert mail.attachments == []


# --- corrections and versions ----------------------------------------------------------------


def test_correction_creates_version_2_and_keeps_version_1(session: Session, team: CaseTeam) -> None:
    first = validated(session, team)
    v1_name, v1_bytes = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)
    second = opinions.correct(
        session,
        actor=team.referent,
        case_id=team.case.id,
        proposal="Éculizumab, puis relais par ravulizumab à six mois.",
    )
    assert second.version == 2 and second.validated_at is None
    assert second.rationale == OPINION["rationale"]  # starts from the validated text
    # While v2 is a draft, readers still get version 1.
    assert opinions.get_sheet(session, actor=team.nephrologist, case_id=team.case.id) == (
        v1_name,
        v1_bytes,
    )
    opinions.save_draft(
        session,
        actor=team.referent,
        case_id=team.case.id,
        **{**OPINION, "proposal": "Éculizumab puis ravulizumab."},
    )
    final = opinions.validate(session, actor=team.referent, case_id=team.case.id)
    assert final.id == second.id and final.version == 2
    name, data = opinions.get_sheet(session, actor=team.nephrologist, case_id=team.case.id)
    assert name.endswith("-v2.pdf") and fingerprint(data) == final.sheet_sha256
    day = first.validated_at.astimezone(PARIS)  # type: ignore[union-attr]
    assert f"Version 2, remplace la version 1 du {day:%d/%m/%Y}" in pdf_text(data)
    assert "Éculizumab puis ravulizumab." in pdf_text(data)
    # Version 1 stays readable, byte for byte.
    assert opinions.get_sheet(
        session, actor=team.nephrologist, case_id=team.case.id, version=1
    ) == (v1_name, v1_bytes)
    session.expire_all()
    assert session.get(Opinion, first.id).proposal == OPINION["proposal"]  # type: ignore[union-attr]


def test_correction_of_an_unvalidated_opinion_is_refused(session: Session, team: CaseTeam) -> None:
    draft(session, team)
    with pytest.raises(Conflict):
        opinions.correct(session, actor=team.assistant, case_id=team.case.id)


def test_second_correction_while_one_is_open_is_refused(session: Session, team: CaseTeam) -> None:
    validated(session, team)
    opinions.correct(session, actor=team.assistant, case_id=team.case.id)
    with pytest.raises(Conflict):
        opinions.correct(session, actor=team.assistant, case_id=team.case.id)


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_only_coordinators_may_correct(session: Session, team: CaseTeam, who: str) -> None:
    validated(session, team)
    with pytest.raises(PermissionDenied):
        opinions.correct(session, actor=getattr(team, who), case_id=team.case.id)
    assert len(session.exec(select(Opinion)).all()) == 1


def test_history_shows_drafts_to_coordinators_only(session: Session, team: CaseTeam) -> None:
    validated(session, team)
    opinions.correct(session, actor=team.assistant, case_id=team.case.id)
    as_coordinator = opinions.history(session, actor=team.referent, case_id=team.case.id)
    as_participant = opinions.history(session, actor=team.pathologist, case_id=team.case.id)
    assert [(r.opinion.version, r.validated) for r in as_coordinator] == [(1, True), (2, False)]
    assert [(r.opinion.version, r.validated) for r in as_participant] == [(1, True)]
    assert "validée le" in as_participant[0].label and "Dr Hélène Dubœuf" in as_participant[0].label


@pytest.mark.parametrize("who", NOT_READERS)
def test_history_is_refused_to_non_readers(session: Session, team: CaseTeam, who: str) -> None:
    validated(session, team)
    with pytest.raises(PermissionDenied):
        opinions.history(session, actor=getattr(team, who), case_id=team.case.id)


# --- downloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", READERS)
def test_readers_download_the_validated_sheet(session: Session, team: CaseTeam, who: str) -> None:
    opinion = validated(session, team)
    name, data = opinions.get_sheet(session, actor=getattr(team, who), case_id=team.case.id)
    assert name == f"fiche-rcp-cas-{team.case.id}-v1.pdf"
    assert fingerprint(data) == opinion.sheet_sha256


@pytest.mark.parametrize("who", NOT_READERS)
def test_others_cannot_download_the_sheet(session: Session, team: CaseTeam, who: str) -> None:
    validated(session, team)
    with pytest.raises(PermissionDenied, match="participants confirmés"):
        opinions.get_sheet(session, actor=getattr(team, who), case_id=team.case.id)
    assert events(session, "opinion.sheet_downloaded") == []


def test_every_download_is_audited(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    opinions.get_sheet(session, actor=team.nephrologist, case_id=team.case.id)
    opinions.get_sheet(session, actor=team.nephrologist, case_id=team.case.id)
    opinions.get_sheet(session, actor=team.submitter, case_id=team.case.id, version=1)
    downloads = events(session, "opinion.sheet_downloaded")
    assert [(e.actor_id, e.target_id, e.details["version"]) for e in downloads] == [
        (team.nephrologist.id, opinion.id, 1),
        (team.nephrologist.id, opinion.id, 1),
        (team.submitter.id, opinion.id, 1),
    ]


def test_no_sheet_before_validation(session: Session, team: CaseTeam) -> None:
    draft(session, team)
    with pytest.raises(NotFound):
        opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)
    with pytest.raises(NotFound):
        opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id, version=1)


def test_altered_stored_sheet_is_refused(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    path = Path(get_settings().files_dir) / (opinion.sheet_path or "")
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"Version 1", b"Version 9", 1) + b" ")
    with pytest.raises(StorageError):
        opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)


# --- key image -------------------------------------------------------------------------------


def add_attachment(session: Session, case: Case, data: bytes, name: str, kind: str) -> Attachment:
    """Store a file and attach it to the case (rows written directly: no upload here)."""
    blob = FileStore(get_settings().files_dir).put(data)
    attachment = Attachment(
        case_id=case.id,  # type: ignore[arg-type]
        uploaded_by_id=case.submitter_id,
        original_name=name,
        kind=AttachmentKind(kind),
        stored_path=blob.relpath,
        sha256=blob.sha256,
        size=blob.size,
        dicom_summary=dicom.summarize(data) if kind == "dicom" else None,
    )
    session.add(attachment)
    session.commit()
    return attachment


def ct_small(patient_name: str = "ANONYMOUS") -> bytes:
    """CT_small, its header's patient anonymised (as exported for an RCP) unless named."""
    import io

    import pydicom

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    ds.PatientName = patient_name
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def test_a_key_image_of_another_patient_is_validated_only_with_a_recorded_confirmation(
    session: Session,
) -> None:
    team = make_case_team(session)
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(session, actor=team.assistant, case_id=team.case.id, **OPINION)
    attachment = add_attachment(session, team.case, ct_small("MARTIN^Paul"), "x.dcm", "dicom")
    (series,) = opinions.key_image_candidates(session, actor=team.assistant, case_id=team.case.id)
    assert series.identity_warning.startswith("nom (en-tête « MARTIN »")
    opinions.choose_key_image(
        session, actor=team.assistant, case_id=team.case.id, attachment_id=attachment.id
    )
    with pytest.raises(InvalidInput, match="l'identité d'un autre patient") as caught:
        opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    assert caught.value.field == "key_image_identity"
    opinion = opinions.validate(
        session, actor=team.assistant, case_id=team.case.id, confirm_key_image_identity=True
    )
    assert opinion.key_image_identity_warning == (
        "nom (en-tête « MARTIN », dossier « LŒVENBRUCK »), prénom (en-tête « Paul », dossier "
        "« Éloïse »)"
    )
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "opinion.validated")).one()
    assert event.details["key_image_identity_confirmed"] is True


def test_coordinator_picks_a_dicom_key_image_printed_on_the_sheet(
    session: Session, team: CaseTeam
) -> None:
    attachment = add_attachment(session, team.case, ct_small(), "scanner abdominal.dcm", "dicom")
    candidates = opinions.key_image_candidates(session, actor=team.assistant, case_id=team.case.id)
    assert len(candidates) == 1 and candidates[0].slices[0].attachment_id == attachment.id
    preview = opinions.key_image_preview(
        session, actor=team.assistant, case_id=team.case.id, attachment_id=attachment.id
    )
    assert preview.startswith(b"\x89PNG")
    opinions.choose_key_image(
        session, actor=team.assistant, case_id=team.case.id, attachment_id=attachment.id
    )
    opinion = validated(session, team)
    data = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)[1]
    text = pdf_text(data)
    assert "Annexe : imagerie".upper() in text and "scanner abdominal.dcm" in text
    images = sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)
    assert images == 2  # the lab plot and the key image
    assert fingerprint(data) == opinion.sheet_sha256


def test_no_key_image_chosen_prints_none(session: Session, team: CaseTeam) -> None:
    add_attachment(session, team.case, ct_small(), "scanner.dcm", "dicom")
    validated(session, team)
    data = opinions.get_sheet(session, actor=team.assistant, case_id=team.case.id)[1]
    assert "IMAGERIE" not in pdf_text(data)
    assert sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages) == 1


def test_key_image_must_be_a_frame_of_a_dicom_of_this_case(
    session: Session, team: CaseTeam
) -> None:
    dcm = add_attachment(session, team.case, ct_small(), "scanner.dcm", "dicom")
    pdf = add_attachment(session, team.case, b"%PDF-1.4 compte rendu", "cr.pdf", "pdf")
    with pytest.raises(InvalidInput):
        opinions.choose_key_image(
            session, actor=team.assistant, case_id=team.case.id, attachment_id=pdf.id
        )
    with pytest.raises(InvalidInput):
        opinions.choose_key_image(
            session,
            actor=team.assistant,
            case_id=team.case.id,
            attachment_id=dcm.id,
            frame_index=5,
        )
    with pytest.raises(NotFound):
        opinions.choose_key_image(
            session, actor=team.assistant, case_id=team.case.id, attachment_id=9999
        )
    session.expire_all()
    assert session.get(Case, team.case.id).key_attachment_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_only_coordinators_pick_the_key_image(session: Session, team: CaseTeam, who: str) -> None:
    dcm = add_attachment(session, team.case, ct_small(), "scanner.dcm", "dicom")
    with pytest.raises(PermissionDenied):
        opinions.choose_key_image(
            session, actor=getattr(team, who), case_id=team.case.id, attachment_id=dcm.id
        )


# --- the page's view -------------------------------------------------------------------------


def test_page_view_hides_the_draft_from_participants(session: Session, team: CaseTeam) -> None:
    draft(session, team)
    as_coordinator = opinions.opinion_page(session, actor=team.assistant, case_id=team.case.id)
    as_participant = opinions.opinion_page(session, actor=team.nephrologist, case_id=team.case.id)
    assert as_coordinator.draft is not None and as_coordinator.is_coordinator
    assert as_participant.draft is None and as_participant.versions == []
    assert as_participant.validated is None


@pytest.mark.parametrize("who", NOT_READERS)
def test_page_view_is_refused_to_non_readers(session: Session, team: CaseTeam, who: str) -> None:
    with pytest.raises(PermissionDenied):
        opinions.opinion_page(session, actor=getattr(team, who), case_id=team.case.id)


def test_validation_line_names_the_validator(session: Session, team: CaseTeam) -> None:
    opinion = validated(session, team)
    line = opinions.validation_line(session, opinion)
    assert line.startswith("Avis validé le ") and line.endswith("par Dr Hélène Dubœuf")
    assert opinions.latest_validated(session, team.case.id).id == opinion.id  # type: ignore[union-attr]
