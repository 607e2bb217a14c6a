"""Attachments of a case: upload validation, dedupe, limits, access, DICOM series, wrong patient."""

from __future__ import annotations

import io
import zipfile

import pytest
from pydicom.data import get_testdata_file
from sqlmodel import Session, select

from rcp import attachments, cases, meetings
from rcp.errors import InvalidInput, NotFound
from rcp.models import Attachment, AuditEvent
from tests.conftest import set_settings
from tests.factories import (
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
)

CT = get_testdata_file("CT_small.dcm", download=False)


def _png(width: int = 8, height: int = 8) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Compte rendu de biopsie")
    return bytes(pdf.output())


@pytest.fixture
def setting(session: Session):
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(1))
    member = make_member(session, rcp, coordinator, phone=mobile(2))
    meeting = make_meeting(session, rcp, coordinator)
    case = make_case(session, meeting, member, last_name="Exemple", first_name="Patient")
    return coordinator, member, meeting, case


def test_dicom_image_and_pdf_are_typed_by_content(session, setting) -> None:
    _c, member, _m, case = setting
    data = open(CT, "rb").read()
    (dcm,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="scanner.bin", data=data
    )
    (png,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="photo.jpg", data=_png()
    )
    (pdf,) = attachments.add_upload(session, actor=member, case_id=case.id, name="cr", data=_pdf())
    assert (dcm.kind, png.kind, pdf.kind) == ("dicom", "image", "pdf")
    assert dcm.dicom_summary["modality"] == "CT"
    stored = attachments.store().path(dcm.sha256)
    assert stored.read_bytes() == data and str(stored).startswith(str(attachments.store().root))


def test_identical_files_are_stored_once(session, setting) -> None:
    _c, member, _m, case = setting
    data = _png()
    a = attachments.add_upload(session, actor=member, case_id=case.id, name="a.png", data=data)[0]
    b = attachments.add_upload(session, actor=member, case_id=case.id, name="b.png", data=data)[0]
    assert a.sha256 == b.sha256 and a.id != b.id
    assert list(attachments.store().iter_blobs()) == [a.sha256]


def test_zip_of_a_series_becomes_one_row_per_file(session, setting) -> None:
    _c, member, _m, case = setting
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(CT, "serie/IM0001")
        archive.writestr("serie/notes.txt", "ignore me")
    rows = attachments.add_upload(
        session, actor=member, case_id=case.id, name="serie.zip", data=buffer.getvalue()
    )
    assert [r.kind for r in rows] == ["dicom"]
    series = attachments.dicom_series(session, actor=member, case_id=case.id)
    assert len(series) == 1 and series[0].frame_count == 1


def _series_zip(count: int = 3, *, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of ``count`` slices of one series (CT_small with distinct instance UIDs)."""
    import pydicom

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            ds = pydicom.dcmread(CT)
            ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{i + 1}"
            ds.InstanceNumber = i + 1
            ds.ImagePositionPatient = [0.0, 0.0, float(i)]
            slice_ = io.BytesIO()
            ds.save_as(slice_, enforce_file_format=True)
            archive.writestr(f"serie/IM{i:04d}", slice_.getvalue())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_same_series_uploaded_twice_does_not_double_its_slices(session, setting) -> None:
    _c, member, _m, case = setting
    first = attachments.add_upload(
        session, actor=member, case_id=case.id, name="serie.zip", data=_series_zip()
    )
    again = attachments.add_upload(
        session, actor=member, case_id=case.id, name="serie-bis.zip", data=_series_zip()
    )
    assert len(first) == 3 and first.duplicates == []
    assert len(again) == 0 and again.duplicates == ["IM0000", "IM0001", "IM0002"]
    (series,) = attachments.dicom_series(session, actor=member, case_id=case.id)
    assert series.frame_count == 3
    # A single file already held is skipped too, and the same file twice in one zip once.
    single = attachments.add_upload(
        session, actor=member, case_id=case.id, name="ct.dcm", data=open(CT, "rb").read()
    )
    twice = attachments.add_upload(
        session, actor=member, case_id=case.id, name="x.zip", data=_series_zip(4)
    )
    assert len(single) == 1 and [r.original_name for r in twice] == ["IM0003"]


def test_an_unreadable_file_of_a_cd_is_listed_and_the_rest_stored(session, setting) -> None:
    _c, member, _m, case = setting
    data = _series_zip(2, extra={"serie/IM9999": open(CT, "rb").read()[:3000]})
    rows = attachments.add_upload(session, actor=member, case_id=case.id, name="cd.zip", data=data)
    assert [r.original_name for r in rows] == ["IM0000", "IM0001"]
    assert [(r.name, "tronqué" in r.reason) for r in rows.refused] == [("serie/IM9999", True)]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "file.uploaded")).one()
    assert (event.details["files"], event.details["refused"]) == (2, 1)


@pytest.mark.parametrize(
    ("name", "make", "fragment"),
    [
        ("vide.dcm", lambda: b"", "vide"),
        ("faux.dcm", lambda: b"not a dicom file at all" * 10, "DICOM"),
        ("tronque.dcm", lambda: open(CT, "rb").read()[:2000], "assistant"),
        ("evil.zip", None, ".."),
    ],
    ids=["empty", "not_dicom", "truncated", "path_traversal"],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    session, setting, name, make, fragment
) -> None:
    _c, member, _m, case = setting
    if make is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("../../etc/passwd", "x")
        data = buffer.getvalue()
    else:
        data = make()
    with pytest.raises(InvalidInput, match=fragment):
        attachments.add_upload(session, actor=member, case_id=case.id, name=name, data=data)
    assert session.exec(select(Attachment)).all() == []
    assert list(attachments.store().iter_blobs()) == []


def test_size_limits_are_settings(session, setting, monkeypatch) -> None:
    _c, member, _m, case = setting
    set_settings(monkeypatch, max_file_mb=1, max_case_mb=1)
    with pytest.raises(InvalidInput, match="taille maximale"):
        attachments.add_upload(
            session,
            actor=member,
            case_id=case.id,
            name="gros.pdf",
            data=b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10) + b"\n%%EOF\n",
        )


def test_only_people_who_see_the_case_read_its_files(session, setting) -> None:
    coordinator, member, meeting, case = setting
    (row,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="p.png", data=_png()
    )
    stranger = make_user(session, phone=mobile(3))
    with pytest.raises(NotFound):
        attachments.open_attachment(session, actor=stranger, attachment_id=row.id)
    _row, path = attachments.open_attachment(session, actor=coordinator, attachment_id=row.id)
    assert path.read_bytes() == _png()
    downloads = session.exec(select(AuditEvent).where(AuditEvent.action == "file.downloaded")).all()
    assert [(e.actor_id, e.target_id) for e in downloads] == [(coordinator.id, row.id)]


def test_only_the_submitter_adds_files(session, setting) -> None:
    coordinator, member, meeting, case = setting
    confirmed = make_user(session, phone=mobile(4))
    meetings.invite(session, actor=coordinator, meeting_id=meeting.id, user_id=confirmed.id)
    meetings.respond(session, actor=confirmed, meeting_id=meeting.id, accept=True)
    from rcp.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        attachments.add_upload(session, actor=confirmed, case_id=case.id, name="p.png", data=_png())


def _ct_for(last: str, first: str, birth: str) -> bytes:
    import pydicom

    ds = pydicom.dcmread(CT)
    ds.PatientName = f"{last}^{first}"
    ds.PatientBirthDate = birth
    ds.SOPInstanceUID = pydicom.uid.generate_uid()  # another image (same UID: a duplicate)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def test_wrong_patient_images_are_flagged(session, setting) -> None:
    _c, member, meeting, case = setting
    attachments.add_upload(
        session,
        actor=member,
        case_id=case.id,
        name="bon.dcm",
        data=_ct_for("EXEMPLE", "Patient", "19800517"),
    )
    rows = attachments.list_attachments(session, actor=member, case_id=case.id)
    assert attachments.patient_warnings(case, rows) == []
    attachments.add_upload(
        session,
        actor=member,
        case_id=case.id,
        name="autre.dcm",
        data=_ct_for("MARTIN", "Paul", "19451102"),
    )
    rows = attachments.list_attachments(session, actor=member, case_id=case.id)
    warnings = attachments.patient_warnings(
        cases.get_case(session, actor=member, case_id=case.id), rows
    )
    (warning,) = warnings  # one warning for the file, listing every field that differs
    assert warning.names == ("autre.dcm",)
    assert warning.fields == ("nom", "prénom", "date de naissance")
    assert warning.text() == (
        "« autre.dcm » : nom (en-tête « MARTIN », dossier « EXEMPLE »), prénom (en-tête "
        "« Paul », dossier « Patient »), date de naissance (en-tête « 02/11/1945 », dossier "
        "« 17/05/1980 »)."
    )


def test_a_wrong_patient_series_gives_one_warning_naming_one_file_and_counting_the_rest(
    session, setting
) -> None:
    _c, member, _m, case = setting
    attachments.add_upload(
        session, actor=member, case_id=case.id, name="serie.zip", data=_series_zip(3)
    )
    rows = attachments.list_attachments(session, actor=member, case_id=case.id)
    (warning,) = attachments.patient_warnings(case, rows)
    assert len(warning.attachment_ids) == 3
    assert warning.text().startswith("« IM0000 » (et 2 autres fichiers de même en-tête) : nom")
