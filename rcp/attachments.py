"""A case's files ("fichiers complémentaires"): upload, storage, reading, DICOM series."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from sqlmodel import Session, col, func, select

from rcp import audit, dicom, i18n
from rcp.cases import editable_case, visible_case
from rcp.config import get_settings
from rcp.dates import format_size
from rcp.errors import InvalidInput, NotFound
from rcp.files import FileStore, Refusal, expand_upload, format_megabytes
from rcp.i18n import N_, _, ngettext
from rcp.models import Attachment, AttachmentKind, Case, User

MB = 1024 * 1024
# What a file is, in words (never the internal kind "pdf", "dicom").
KIND_LABELS: dict[str, str] = {
    AttachmentKind.pdf: N_("Compte rendu PDF"),
    AttachmentKind.dicom: N_("Image DICOM"),
    AttachmentKind.image: N_("Image"),
    AttachmentKind.other: N_("Document"),
}


def kind_label(kind: str) -> str:
    """ "Compte rendu PDF" / "PDF report", "Image DICOM" / "DICOM image", "Image"."""
    return i18n.label(KIND_LABELS, str(kind), default=_("Document"))


def describe(item: Any, *, name: str | None = None) -> str:
    """A file as a list shows it: "cr.pdf · Compte rendu PDF · 39,2 Ko" / "cr.pdf · PDF
    report · 39.2 kB" (``name``: the name as the caller shows it, escaped for markdown)."""
    return _("{name} · {kind} · {size}").format(
        name=item.original_name if name is None else name,
        kind=kind_label(item.kind),
        size=format_size(item.size),
    )


FILE_NOT_FOUND = N_("Fichier introuvable, ou vous n'avez pas accès à ce fichier.")


def store() -> FileStore:
    return FileStore(get_settings().files_dir)


class UploadResult(list[Attachment]):
    """The rows stored by one upload (a list), and what was not stored, for the doctor:

    ``refused``: entries of an archive left out, with their reason (``files.Refusal``);
    ``duplicates``: names of DICOM files whose SOP Instance UID the case already holds (or
    that came twice in this upload), not stored again.
    """

    def __init__(
        self,
        rows: Sequence[Attachment] = (),
        *,
        refused: Sequence[Refusal] = (),
        duplicates: Sequence[str] = (),
    ) -> None:
        super().__init__(rows)
        self.refused: list[Refusal] = list(refused)
        self.duplicates: list[str] = list(duplicates)


def _known_instances(session: Session, case_id: int) -> set[str]:
    """SOP Instance UIDs of the case's DICOM files (one image is stored once per case)."""
    summaries = session.exec(
        select(Attachment.dicom_summary).where(
            Attachment.case_id == case_id, Attachment.kind == AttachmentKind.dicom
        )
    ).all()
    return {str(s["sop_instance_uid"]) for s in summaries if s and s.get("sop_instance_uid")}


def add_upload(
    session: Session, *, actor: User, case_id: int, name: str, data: bytes
) -> UploadResult:
    """Validate and store one uploaded file, or the readable files of a zip / DICOM CD.

    A single file is stored whole or refused (``InvalidInput``); in an archive, unreadable
    or invalid entries are left out and listed in ``refused``. A DICOM image the case
    already holds (same SOP Instance UID: the same series sent twice) is not stored again
    and is listed in ``duplicates``, so a series never doubles its slices.

    Files are written (content-addressed, atomically) before the rows are committed: a
    crash in between leaves only unreferenced files, which ``python -m rcp fsck`` removes.
    """
    case, _meeting = editable_case(session, actor, case_id)
    settings = get_settings()
    expansion = expand_upload(
        name,
        data,
        max_file_bytes=settings.max_file_mb * MB,
        max_total_bytes=settings.max_case_mb * MB,
    )
    known = _known_instances(session, case.id)  # type: ignore[arg-type]
    items, duplicates = [], []
    for item in expansion:
        uid = (item.summary or {}).get("sop_instance_uid") if item.kind == "dicom" else None
        if uid and uid in known:
            duplicates.append(item.name)
            continue
        if uid:
            known.add(uid)
        items.append(item)
    if not items:
        return UploadResult(refused=expansion.refused, duplicates=duplicates)
    used = session.exec(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(Attachment.case_id == case.id)
    ).one()
    added = sum(item.size for item in items)
    if used + added > settings.max_case_mb * MB:
        raise InvalidInput(
            _(
                "Ce fichier dépasserait la taille totale autorisée pour un "
                "cas ({limit} ; déjà utilisés : {used})."
            ).format(
                limit=format_megabytes(settings.max_case_mb * MB),
                used=format_megabytes(used),
            )
        )
    blobs = store().put_many([item.data for item in items])
    rows = []
    for item, blob in zip(items, blobs, strict=True):
        row = Attachment(
            case_id=case.id,  # type: ignore[arg-type]
            uploaded_by_id=actor.id,  # type: ignore[arg-type]
            original_name=item.name,
            kind=AttachmentKind(item.kind)
            if item.kind in AttachmentKind.__members__
            else AttachmentKind.other,
            stored_path=blob.relpath,
            sha256=blob.sha256,
            size=blob.size,
            dicom_summary=item.summary,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    audit.record(
        session,
        "file.uploaded",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        files=len(rows),
        bytes=added,
        refused=len(expansion.refused),
        duplicates=len(duplicates),
    )
    session.commit()
    return UploadResult(rows, refused=expansion.refused, duplicates=duplicates)


def list_attachments(session: Session, *, actor: User, case_id: int) -> list[Attachment]:
    case = visible_case(session, actor, case_id)
    return list(
        session.exec(
            select(Attachment).where(Attachment.case_id == case.id).order_by(col(Attachment.id))
        ).all()
    )


def _attachment(session: Session, actor: User, attachment_id: int) -> tuple[Attachment, Case]:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(_(FILE_NOT_FOUND))
    try:
        case = visible_case(session, actor, row.case_id)
    except NotFound:
        # The same answer for "does not exist" and "not yours": ids reveal nothing.
        raise NotFound(_(FILE_NOT_FOUND)) from None
    return row, case


def open_attachment(
    session: Session, *, actor: User, attachment_id: int
) -> tuple[Attachment, Path]:
    """The file to send to this actor; every download is audited."""
    row, case = _attachment(session, actor, attachment_id)
    path = store().path(row.sha256)
    if not path.is_file():
        raise NotFound(
            _("Le fichier n'est plus disponible sur le serveur. Prévenez l'assistant(e).")
        )
    audit.record(
        session,
        "file.downloaded",
        actor_id=actor.id,
        target_type="attachment",
        target_id=row.id,
        case_id=case.id,
    )
    session.commit()
    return row, path


@lru_cache(maxsize=1024)
def _sound_pdf(sha256: str) -> bool:
    """Whether the stored PDF ``sha256`` really is one (pypdf reads its pages)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(store().path(sha256), strict=False)
            return len(reader.pages) >= 1
    except Exception:  # noqa: BLE001 - any failure to parse means "not verified"
        return False


def safe_to_show(row: Attachment) -> bool:
    """Whether the browser may display the file itself rather than download it.

    Images were decoded by Pillow at upload. A PDF is shown only if pypdf reads it: a file
    that merely starts with ``%PDF-`` and ends with ``%%EOF`` around HTML is downloaded.
    Anything else is always a download.
    """
    if row.kind == AttachmentKind.image:
        return True
    if row.kind == AttachmentKind.pdf:
        return _sound_pdf(row.sha256)
    return False


def read_bytes(session: Session, *, actor: User, attachment_id: int) -> tuple[Attachment, bytes]:
    row, path = open_attachment(session, actor=actor, attachment_id=attachment_id)
    return row, path.read_bytes()


def remove(session: Session, *, actor: User, attachment_id: int) -> None:
    """Detach a file from a case (the stored blob goes when nothing references it)."""
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(_("Fichier introuvable."))
    editable_case(session, actor, row.case_id)
    case_id = row.case_id
    session.delete(row)
    audit.record(
        session,
        "file.removed",
        actor_id=actor.id,
        target_type="case",
        target_id=case_id,
        attachment_id=attachment_id,
    )
    session.commit()


# --- viewing: images and DICOM frames through the authenticated routes ----------------------

VIEW_ACTION = "file.viewed"


def _audit_view_once(
    session: Session, actor: User, row: Attachment, case: Case, viewer: str
) -> None:
    """A viewer moving the slider asks for many frames of one file: logged once a day."""
    audit.record_once_a_day(
        session,
        VIEW_ACTION,
        actor_id=actor.id,  # type: ignore[arg-type]
        target_type="attachment",
        target_id=row.id,  # type: ignore[arg-type]
        viewer=viewer,
        case_id=case.id,
    )


def view_image(
    session: Session, *, actor: User, attachment_id: int, viewer: str
) -> tuple[Attachment, Path]:
    """A PNG/JPEG attachment shown in a page (audited once per viewer and day)."""
    row, case = _attachment(session, actor, attachment_id)
    if row.kind != AttachmentKind.image:
        raise NotFound(_(FILE_NOT_FOUND))
    path = store().path(row.sha256)
    if not path.is_file():
        raise NotFound(_(FILE_NOT_FOUND))
    _audit_view_once(session, actor, row, case, viewer)
    return row, path


def view_dicom(
    session: Session, *, actor: User, attachment_id: int, viewer: str
) -> tuple[Attachment, Path]:
    """A DICOM file for the browser viewer (audited once per file, viewer and day).

    The viewer fetches every slice of a series: one audit row per slice and opening would
    drown the log, so a view is recorded like an image shown on a page.
    """
    row, case = _attachment(session, actor, attachment_id)
    if row.kind != AttachmentKind.dicom:
        raise NotFound(_(FILE_NOT_FOUND))
    path = store().path(row.sha256)
    if not path.is_file():
        raise NotFound(_(FILE_NOT_FOUND))
    _audit_view_once(session, actor, row, case, viewer)
    return row, path


def configure_viewer_cache() -> None:
    """Apply the setting RCP_VIEWER_CACHE_MB to rcp.dicom's frame cache."""
    dicom.configure(frame_cache_bytes=get_settings().viewer_cache_mb * MB)


@dataclass(frozen=True)
class SeriesView:
    """A DICOM series of a case, ready for the viewer."""

    uid: str
    label: str
    keys: tuple[str, ...]  # sha256 of the files, in slice order
    frame_count: int
    first_summary: dict[str, Any]
    attachment_ids: tuple[int, ...] = ()  # the attachment of each key
    frames: tuple[int, ...] = ()  # the number of frames of each key

    def attachment_of(self, key: str) -> int:
        return self.attachment_ids[self.keys.index(key)]

    @property
    def files(self) -> list[tuple[int, int]]:
        """(attachment id, frame count) of each file, in slice order (the browser viewer)."""
        counts = self.frames or (1,) * len(self.attachment_ids)
        return list(zip(self.attachment_ids, counts, strict=True))


def dicom_series(session: Session, *, actor: User, case_id: int) -> list[SeriesView]:
    """The case's DICOM attachments grouped into series and ordered along the slice normal."""
    rows = [
        a
        for a in list_attachments(session, actor=actor, case_id=case_id)
        if a.kind == AttachmentKind.dicom and a.dicom_summary
    ]
    summaries = {a.sha256: a.dicom_summary for a in rows}
    ids = {a.sha256: a.id for a in rows}
    series = dicom.group_series((a.sha256, a.dicom_summary) for a in rows)
    views = []
    for s in series:
        if not s.keys:
            continue
        first = summaries[s.keys[0]] or {}
        label = " · ".join(p for p in (s.modality, s.description, f"{s.frame_count} image(s)") if p)
        views.append(
            SeriesView(
                uid=s.uid,
                label=label,
                keys=tuple(s.keys),
                frame_count=s.frame_count,
                first_summary=dict(first),
                attachment_ids=tuple(ids[key] for key in s.keys),  # type: ignore[misc]
                frames=tuple(max(1, int(summaries[key].get("frames") or 1)) for key in s.keys),
            )
        )
    return views


def load_series(series: SeriesView) -> dicom.Volume:
    """The series' headers and window (frames are decoded one by one when shown)."""
    configure_viewer_cache()
    return dicom.load_volume(series.keys, store().path)


@dataclass(frozen=True)
class IdentityWarning:
    """DICOM files whose header names another patient than the case, and on which fields.

    Files with the same differences (the slices of one series) make one warning: the first
    file is named and the others counted.
    """

    names: tuple[str, ...]
    attachment_ids: tuple[int, ...]
    differences: tuple[dicom.IdentityDifference, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(d.field for d in self.differences)

    def text(self) -> str:
        """« scanner.dcm » (et 11 autres fichiers) : nom (en-tête « X », dossier « Y »), …"""
        others = len(self.names) - 1
        who = f"« {self.names[0]} »" + (
            ngettext(
                " (et {count} autre fichier de même en-tête)",
                " (et {count} autres fichiers de même en-tête)",
                others,
            ).format(count=others)
            if others
            else ""
        )
        return _("{files} : {differences}.").format(
            files=who, differences=dicom.describe_differences(self.differences)
        )


def identity_differences(case: Case, summary: dict[str, Any] | None) -> list:
    """How one DICOM header contradicts the case's identity (empty when it does not)."""
    if not summary:
        return []
    return dicom.identity_differences(
        summary,
        last_name=case.patient_last_name,
        first_name=case.patient_first_name,
        birth_date=case.patient_birth_date,
        sex=case.patient_sex if case.patient_sex in ("F", "M") else None,
    )


def patient_warnings(case: Case, attachments: list[Attachment]) -> list[IdentityWarning]:
    """Wrong-patient check: one warning per file (or group of files with the same header)
    whose DICOM header contradicts the case's identity, listing every differing field."""
    groups: dict[tuple, list[Attachment]] = {}
    for row in attachments:
        if row.kind != AttachmentKind.dicom:
            continue
        differences = tuple(identity_differences(case, row.dicom_summary))
        if differences:
            groups.setdefault(differences, []).append(row)
    return [
        IdentityWarning(
            names=tuple(r.original_name for r in rows),
            attachment_ids=tuple(r.id for r in rows),  # type: ignore[misc]
            differences=differences,
        )
        for differences, rows in groups.items()
    ]
