"""The file store's consistency check (`python -m rcp fsck [--repair]`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from rcp import attachments, backup
from rcp.files import FileStore
from rcp.models import AuditEvent
from tests.factories import make_case, make_coordinator, make_meeting, make_member, make_rcp, mobile
from tests.unit.test_backup import _cli, pdf_bytes, populate


@pytest.fixture
def store() -> FileStore:
    return attachments.store()


@pytest.fixture
def uploaded(session: Session):
    """One case with one PDF file; returns the attachment row."""
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(1))
    member = make_member(session, rcp, coordinator, phone=mobile(2))
    case = make_case(session, make_meeting(session, rcp, coordinator), member)
    (row,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="cr.pdf", data=pdf_bytes()
    )
    return row


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_clean_store_reports_nothing(engine, uploaded) -> None:
    report = backup.fsck(engine=engine)
    assert report.ok and (report.blobs, report.referenced) == (1, 1)


def test_validated_sheets_and_attachments_are_not_orphans(engine, session: Session) -> None:
    populate(session)
    report = backup.fsck(engine=engine, min_age_seconds=0)
    assert report.ok, report.lines()
    assert report.referenced == 5  # 2 DICOM + 2 PDF + 1 sheet


def test_orphan_is_reported_and_removed_only_with_repair(engine, uploaded, store) -> None:
    orphan = store.put(b"written before a crash, never committed").sha256
    _age(store.path(orphan), 7200)
    report = backup.fsck(engine=engine)
    assert report.orphans == [orphan] and store.exists(orphan)
    repaired = backup.fsck(engine=engine, repair=True)
    assert repaired.removed_orphans == 1 and not store.exists(orphan)
    assert store.exists(uploaded.sha256)
    assert backup.fsck(engine=engine).ok


def test_recent_orphan_is_left_alone_because_an_upload_may_be_committing(
    engine, uploaded, store
) -> None:
    orphan = store.put(b"an upload in progress").sha256
    report = backup.fsck(engine=engine, repair=True)
    assert report.orphans == [] and report.young_orphans == [orphan]
    assert store.exists(orphan)


def test_missing_file_is_reported_and_never_touched_by_repair(engine, uploaded, store) -> None:
    store.path(uploaded.sha256).unlink()
    report = backup.fsck(engine=engine, repair=True, min_age_seconds=0)
    assert report.missing == [uploaded.sha256] and not report.ok
    assert report.removed_orphans == 0


def test_corrupted_file_is_reported_and_kept(engine, uploaded, store) -> None:
    path = store.path(uploaded.sha256)
    path.write_bytes(b"%PDF-1.4 overwritten by a disk fault %%EOF")
    report = backup.fsck(engine=engine, repair=True, min_age_seconds=0)
    assert report.corrupted == [uploaded.sha256] and path.exists()


def test_stale_temporary_files_are_reported_and_removed(engine, uploaded, store) -> None:
    folder = store.path(uploaded.sha256).parent
    stale = folder / ".tmp-abandoned"
    stale.write_bytes(b"half a file")
    _age(stale, 7200)
    fresh = folder / ".tmp-in-progress"
    fresh.write_bytes(b"being written")
    report = backup.fsck(engine=engine)
    assert [Path(p).name for p in report.stale_temp] == [".tmp-abandoned"]
    repaired = backup.fsck(engine=engine, repair=True)
    assert repaired.removed_temp == 1 and not stale.exists() and fresh.exists()


def test_repair_is_audited(engine, session: Session, uploaded, store) -> None:
    _age(store.path(store.put(b"orphan").sha256), 7200)
    backup.fsck(engine=engine, repair=True)
    session.expire_all()
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "system.fsck_repaired")
    ).one()
    assert event.details == {"orphans_removed": 1, "temp_removed": 0}


def test_cli_fsck_reports_then_repairs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _cli("init", data_dir=data).returncode == 0
    store = FileStore(data / "files")
    orphan = store.put(b"orphan").sha256
    report = _cli("fsck", data_dir=data)
    assert report.returncode == 0 and "Orphelins (non référencés) : 0" in report.stdout
    assert "Orphelins récents laissés en place" in report.stdout
    repaired = _cli("fsck", "--repair", "--min-age", "0", data_dir=data)
    assert repaired.returncode == 0, repaired.stderr
    assert (
        f"orphelin {orphan}" in repaired.stdout and "Supprimés : 1 orphelin(s)" in repaired.stdout
    )
    assert not store.exists(orphan)
