"""Assemble the printed sheet (rcp.sheets.SheetData) of one opinion version from the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from rcp import dicom, i18n, labs, roles
from rcp.config import get_settings
from rcp.dates import PARIS
from rcp.directory import trail
from rcp.errors import InvalidInput, NotFound
from rcp.files import FileStore
from rcp.i18n import _
from rcp.labs import LabValue, trend_plot_cached, validate_lab_value
from rcp.models import Attachment, AttachmentKind, Case, Meeting, Opinion, User
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
    lab_rows,
)

# Lab values were checked when the case was submitted; re-reading them must not fail because
# the server's clock is a day behind the doctor's, so the "not in the future" bound is lifted.
_NO_FUTURE_BOUND = date(9999, 12, 31)


def file_store() -> FileStore:
    """The platform's content-addressed store (settings.files_dir)."""
    return FileStore(get_settings().files_dir)


def attachment_source(store: FileStore, attachment: Attachment) -> Path:
    """Where the bytes of ``attachment`` are: by content hash, else by its recorded path."""
    by_hash = store.path(attachment.sha256)
    if by_hash.is_file():
        return by_hash
    return store.root / attachment.stored_path


def key_image_caption(attachment: Attachment, frame_index: int) -> str:
    """'Imagerie CT — Abdomen, 12/06/2026 — coupe 3/40 (scanner.dcm)'; never the patient."""
    summary: Mapping[str, Any] = attachment.dicom_summary or {}
    parts: list[str] = []
    modality = summary.get("modality")
    description = summary.get("series_description") or summary.get("study_description")
    head = _("Imagerie {modality}").format(modality=modality) if modality else _("Imagerie")
    if description:
        head += f" — {description}"
    study_date = summary.get("study_date")
    if study_date:
        try:
            head += f", {date.fromisoformat(str(study_date)).strftime('%d/%m/%Y')}"
        except ValueError:
            pass
    parts.append(head)
    frames = int(summary.get("frames") or 1)
    if frames > 1:
        parts.append(_("image {number}/{frames}").format(number=frame_index + 1, frames=frames))
    parts.append(_("fichier « {name} »").format(name=attachment.original_name))
    return " — ".join(parts)


def render_key_image(store: FileStore, attachment: Attachment, frame_index: int) -> bytes:
    """The chosen frame of a DICOM attachment as PNG (the file's or an automatic window).

    Raises
    ------
    InvalidInput
        When the attachment is not a DICOM image, the frame does not exist, or decoding fails.
    """
    if attachment.kind != AttachmentKind.dicom:
        raise InvalidInput(
            _("L'image clé doit être une image DICOM du dossier."), field="key_image"
        )
    source = attachment_source(store, attachment)
    volume = dicom.load_volume([attachment.sha256], lambda _key: source)
    if not 0 <= frame_index < len(volume):
        raise InvalidInput(
            _("Cette image n'existe pas dans le fichier (1 à {count}).").format(count=len(volume)),
            field="key_image",
        )
    return dicom.render_slice(volume, frame_index, compress_level=6)


def key_image_differences(case: Case, attachment: Attachment) -> list[dicom.IdentityDifference]:
    """How the key image's DICOM header contradicts the case's identity (empty if it does not)."""
    return dicom.identity_differences(
        attachment.dicom_summary or {},
        last_name=case.patient_last_name,
        first_name=case.patient_first_name,
        birth_date=case.patient_birth_date,
        sex=case.patient_sex if case.patient_sex in ("F", "M") else None,
    )


def key_image_attachment(session: Session, case: Case) -> Attachment | None:
    """The attachment of the key image the coordinator picked, or None."""
    if case.key_attachment_id is None:
        return None
    attachment = session.get(Attachment, case.key_attachment_id)
    if attachment is None or attachment.case_id != case.id:
        return None
    return attachment


def key_image(
    session: Session,
    case: Case,
    store: FileStore | None = None,
    *,
    identity_confirmed_by: str | None = None,
) -> KeyImage | None:
    """The key image the coordinator picked for ``case``, or None when none is chosen.

    When its header names another patient, the sheet says which fields differ and whether
    the validator confirmed the image (``identity_confirmed_by``) or not yet (a preview).
    """
    attachment = key_image_attachment(session, case)
    if attachment is None:
        return None
    frame = case.key_frame_index or 0
    png = render_key_image(store or file_store(), attachment, frame)
    warning = ""
    differences = key_image_differences(case, attachment)
    if differences:
        warning = (
            _(
                "L'en-tête DICOM de cette image ne correspond pas à "
                "l'identité du patient : {differences}. "
            ).format(differences=dicom.describe_differences(differences))
        ) + (
            (
                _(
                    "Image conservée sur confirmation explicite de {name} lors de la validation."
                ).format(name=identity_confirmed_by)
            )
            if identity_confirmed_by
            else _("Confirmation requise lors de la validation.")
        )
    return KeyImage(png=png, caption=key_image_caption(attachment, frame), identity_warning=warning)


def lab_values(case: Case) -> list[LabValue]:
    """The case's stored lab values (JSON rows) as validated LabValue objects."""
    return [
        validate_lab_value(
            str(row.get("code", "")),
            row.get("value", ""),  # type: ignore[arg-type]
            row.get("taken_on", ""),
            today=_NO_FUTURE_BOUND,
        )
        for row in case.labs or []
    ]


def _trend_plot(values: tuple[LabValue, ...]) -> bytes | None:
    # matplotlib takes a few hundred milliseconds; a case's labs are fixed once it is
    # submitted, and its sheet is drawn several times (preview, validation, corrections).
    return trend_plot_cached(values)


def prepare(case: Case) -> None:
    """Start drawing what the case's sheet will need (its lab plot) in the background: the
    opinion page calls it, so that "Valider l'avis" does not wait for matplotlib."""
    labs.warm_trend_plot(lab_values(case))


def _clinical(case: Case) -> ClinicalFile:
    # The sheet has no field of its own for "other results": they follow the summary.
    summary = case.summary
    if case.results.strip():
        summary = (summary.rstrip() + "\n\n" if summary.strip() else "") + (
            _("Autres résultats : {results}").format(results=case.results.strip())
        )
    return ClinicalFile(
        question=case.question,
        summary=summary,
        history=case.history,
        treatments=case.treatments,
        histology=case.histology,
        genetics=case.genetics,
    )


def sheet_language(session: Session, case: Case) -> str:
    """The language a case's sheet is printed in: its recipient's, the doctor who submitted
    the case (their own choice, else the RCP's working language)."""
    submitter = session.get(User, case.submitter_id)
    meeting = session.get(Meeting, case.meeting_id)
    rcp = trail(session, meeting.rcp_id).rcp if meeting is not None else None
    return i18n.recipient_language(submitter, rcp=rcp)


def attendees_of(snapshot: Sequence[Mapping[str, Any]] | None) -> tuple[Attendee, ...]:
    return tuple(
        Attendee(name=str(row.get("name", "")), specialty=str(row.get("specialty", "")))
        for row in snapshot or []
    )


def build_sheet_data(
    session: Session,
    *,
    case: Case,
    opinion: Opinion,
    validator: User | None,
    validated_at: datetime | None,
    quorum_met: bool,
    quorum_reason: str | None,
    attendees: Sequence[Mapping[str, Any]] | None,
    replaces: datetime | None = None,
    store: FileStore | None = None,
    key_image_confirmed: bool = False,
) -> SheetData:
    """Everything printed on the sheet of ``opinion``, read from the database.

    The validation facts are passed in rather than read from ``opinion`` because the sheet
    is built before they are written (the PDF's fingerprint is stored in the same commit).
    ``replaces`` is the validation time of the previous version (required from version 2).
    ``key_image_confirmed``: the validator confirms a key image whose header names another
    patient (also read from a validated ``opinion``); the sheet says who confirmed it.
    The sheet's creation date is the validation time, so rebuilding gives the same bytes.
    Its text is in the current language: the caller opens ``i18n.using(sheet_language(…))``.
    """
    meeting = session.get(Meeting, case.meeting_id)
    if meeting is None:
        raise NotFound(_("Séance introuvable."))
    where = trail(session, meeting.rcp_id)
    submitter = session.get(User, case.submitter_id)
    if submitter is None:
        raise NotFound(_("Médecin demandeur introuvable."))
    values = lab_values(case)
    network = where.network
    return SheetData(
        meeting=MeetingInfo(
            network=_("Filière {code} — {name}").format(code=network.code, name=network.name),
            rcp_name=where.rcp.name,
            starts_at=meeting.starts_at,
        ),
        patient=PatientIdentity(
            last_name=case.patient_last_name,
            first_name=case.patient_first_name,
            birth_date=case.patient_birth_date,
            sex=str(case.patient_sex),
        ),
        submitter=DoctorInfo(
            name=submitter.display_name,
            specialty=roles.stored_specialty(submitter),
            institution=submitter.institution,
        ),
        clinical=_clinical(case),
        opinion=OpinionInfo(
            proposal=opinion.proposal,
            rationale=opinion.rationale,
            references=opinion.references,
            clinical_trial=opinion.clinical_trial,
            follow_up_doctor=opinion.follow_up_doctor,
            # A draft not answered yet is not flagged on its preview.
            follows_guidelines=opinion.follows_guidelines is not False,
        ),
        quorum=Quorum(met=quorum_met, reason=quorum_reason or ""),
        attendees=attendees_of(attendees),
        labs=lab_rows(values),
        lab_plot_png=_trend_plot(tuple(values)),
        key_image=key_image(
            session,
            case,
            store,
            identity_confirmed_by=(
                validator.display_name
                if validator is not None
                and (key_image_confirmed or opinion.key_image_identity_warning)
                else None
            ),
        ),
        validation=(
            Validation(validator=validator.display_name, validated_at=validated_at)
            if validator is not None and validated_at is not None
            else None
        ),
        version=opinion.version,
        replaces_date=replaces.astimezone(PARIS).date() if replaces is not None else None,
        generated_at=validated_at or opinion.updated_at,
        language=i18n.current(),
    )
