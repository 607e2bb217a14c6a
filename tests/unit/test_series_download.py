"""A case's DICOM series downloaded as a zip, as stored or de-identified (PS3.15), audited."""

from __future__ import annotations

import copy
import io
import zipfile

import pydicom
from pydicom.uid import generate_uid
from sqlmodel import Session, select
from starlette.testclient import TestClient

from rcp import attachments
from rcp.models import AuditEvent
from tests.factories import sign_in
from tests.unit.test_opinions import add_attachment
from tests.unit.test_web_files import CT, World, client, db, world  # noqa: F401 - fixtures


def _series(session: Session, team_world: World, count: int = 3) -> tuple[str, list[bytes]]:
    """Three slices naming the patient, with a private tag, added to the world's case."""
    base = pydicom.dcmread(CT)
    series_uid, study_uid = generate_uid(), generate_uid()
    files = []
    for index in range(count):
        ds = copy.deepcopy(base)
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "DUPONT^Jeanne", "IPP-123", "19700101"
        ds.InstitutionName, ds.ReferringPhysicianName = "CHU Exemple", "MARTIN^Paul"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber, ds.ImagePositionPatient = index + 1, [0, 0, 5.0 * index]
        ds.private_block(0x0011, "RCP TEST", create=True).add_new(0x01, "LO", "DUPONT Jeanne")
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        files.append(out.getvalue())
        add_attachment(session, team_world.team.case, out.getvalue(), f"s{index}.dcm", "dicom")
    (series,) = [
        s
        for s in attachments.dicom_series(
            session, actor=team_world.team.pathologist, case_id=team_world.team.case.id
        )
        if len(s.keys) == count
    ]
    return series.uid, files


def _zip(response) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        return [zf.read(name) for name in sorted(zf.namelist())]


def test_a_reader_downloads_the_series_as_stored_and_it_is_audited(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    uid, files = _series(db, world)
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    response = client.get(f"/cases/{world.team.case.id}/series.zip", params={"uid": uid})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "DUPONT" not in response.headers["content-disposition"]
    assert _zip(response) == files  # byte for byte, in slice order
    db.rollback()
    (event,) = db.exec(
        select(AuditEvent).where(AuditEvent.action == "file.series_downloaded")
    ).all()
    assert event.actor_id == world.team.pathologist.id
    assert event.details["mode"] == "telle_quelle" and event.details["files"] == 3


def test_the_de_identified_series_follows_the_basic_profile(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    uid, files = _series(db, world)
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    response = client.get(
        f"/cases/{world.team.case.id}/series.zip", params={"uid": uid, "deid": "1"}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"].endswith('-anonymisee.zip"')
    out = [pydicom.dcmread(io.BytesIO(data)) for data in _zip(response)]
    originals = [pydicom.dcmread(io.BytesIO(data)) for data in files]
    for ds, original in zip(out, originals, strict=True):
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName"):
            assert str(ds.get(keyword, "") or "") != str(original.get(keyword)), keyword
        assert "DUPONT" not in str(ds) and "IPP-123" not in str(ds) and "MARTIN" not in str(ds)
        assert ds.PatientIdentityRemoved == "YES" and "PS3.15" in ds.DeidentificationMethod
        assert ds.SOPInstanceUID != original.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert not any(element.tag.is_private for element in ds)
        assert (ds.pixel_array == original.pixel_array).all()
    # Still one series of one study: the replaced UIDs agree between slices.
    assert len({ds.SeriesInstanceUID for ds in out}) == 1
    assert len({ds.StudyInstanceUID for ds in out}) == 1
    assert out[0].SeriesInstanceUID != originals[0].SeriesInstanceUID
    db.rollback()
    (event,) = db.exec(
        select(AuditEvent).where(AuditEvent.action == "file.series_downloaded")
    ).all()
    assert event.details["mode"] == "anonymisee"


def test_the_series_download_refuses_strangers_and_visitors_alike(
    client: TestClient,  # noqa: F811
    world: World,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    uid, _files = _series(db, world)
    url = f"/cases/{world.team.case.id}/series.zip"
    assert client.get(url, params={"uid": uid}).status_code == 401
    client.cookies.set("rcp_session", sign_in(db, world.team.stranger))
    assert client.get(url, params={"uid": uid, "deid": "1"}).status_code == 404
    client.cookies.set("rcp_session", sign_in(db, world.team.pathologist))
    assert client.get(url, params={"uid": "1.2.3"}).status_code == 404
    db.rollback()
    assert not db.exec(
        select(AuditEvent).where(AuditEvent.action == "file.series_downloaded")
    ).all()
