"""Download a case's DICOM series as a zip: as stored, or de-identified (DICOM PS3.15).

De-identification follows the Basic Application Level Confidentiality Profile (PS3.15
Annex E, table E.1-1) as implemented by the ``dicom-anonymizer`` package on pydicom: names,
identifiers, dates and free text removed, emptied or replaced, UIDs replaced (consistently
within one archive, so that the slices stay one series of one study), private tags removed;
then ``PatientIdentityRemoved`` = YES and ``DeidentificationMethod`` name the profile. Pixels
are not touched: text burned into an image (ultrasound, screenshots) stays, and the page says
so. Each download is audited (who, case, series, mode, number of files).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pydicom
from dicomanonymizer import simpledicomanonymizer
from pydicom.dataset import Dataset
from sqlmodel import Session

from rcp import attachments, audit
from rcp.config import get_settings
from rcp.errors import NotFound
from rcp.i18n import N_, _
from rcp.models import User

METHOD = "DICOM PS3.15 Basic Profile (dicom-anonymizer 2.1.0)"  # LO: at most 64 characters
NO_SERIES = N_("Série introuvable, ou vous n'avez pas accès à ce cas.")
# dicom-anonymizer keeps its old → new UID map in a module global: one archive at a time.
_UIDS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Archive:
    filename: str
    path: Path  # a temporary file: the caller deletes it once sent
    count: int


def deidentify(data: bytes) -> bytes:
    """One DICOM file with the Basic Profile applied (UIDs per the current archive's map)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    simpledicomanonymizer.anonymize_dataset(ds, delete_private_tags=True)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "113100", "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = [code]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def series_archive(
    session: Session, *, actor: User, case_id: int, series_uid: str, deidentified: bool
) -> Archive:
    """A zip of one series of the case for this actor (who may see the case); audited."""
    series = next(
        (
            s
            for s in attachments.dicom_series(session, actor=actor, case_id=case_id)
            if s.uid == series_uid
        ),
        None,
    )
    if series is None:
        raise NotFound(_(NO_SERIES))
    store = attachments.store()
    audit.record(
        session,
        "file.series_downloaded",
        actor_id=actor.id,
        target_type="case",
        target_id=case_id,
        series=series_uid,
        files=len(series.keys),
        mode="anonymisee" if deidentified else "telle_quelle",
    )
    session.commit()
    number = series.first_summary.get("series_number")
    stem = _("cas-{case}-serie-{number}").format(
        case=case_id, number=number if number is not None else "x"
    )
    filename = _("{stem}-anonymisee.zip").format(stem=stem) if deidentified else f"{stem}.zip"
    folder = get_settings().files_dir
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".tmp-download-", suffix=".zip", dir=folder)
    os.close(fd)
    path = Path(name)
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            if deidentified:
                with _UIDS_LOCK:
                    simpledicomanonymizer.dictionary.clear()
                    for index, key in enumerate(series.keys, start=1):
                        zf.writestr(f"IM{index:04d}.dcm", deidentify(store.path(key).read_bytes()))
                    simpledicomanonymizer.dictionary.clear()
            else:
                for index, key in enumerate(series.keys, start=1):
                    zf.write(store.path(key), f"IM{index:04d}.dcm")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Archive(filename=filename, path=path, count=len(series.keys))
