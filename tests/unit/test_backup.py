"""Backups: a consistent copy of database and files, made while writers run, restored whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydicom.data import get_testdata_file
from sqlmodel import Session, SQLModel, select

from rcp import attachments, backup, chat, opinions
from rcp.config import get_settings
from rcp.db import make_engine
from rcp.files import FileStore
from rcp.models import Attachment, Case, ChatMessage, Opinion, User
from tests.conftest import PG_URL
from tests.databases import throwaway_postgres
from tests.factories import (
    attend,
    make_case,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    mobile,
    start_now,
)

ROOT = Path(__file__).resolve().parents[2]
CT = get_testdata_file("CT_small.dcm", download=False)
MR = get_testdata_file("MR_small.dcm", download=False)
PATIENTS = (
    ("Lœvenbruck", "Éloïse", "1974-03-09"),
    ("Garnier-Dupré", "Anatole", "1961-11-23"),
)


def pdf_bytes(text: str = "Compte rendu de biopsie") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


@dataclass
class Platform:
    """Ids of what ``populate`` built (plain values: usable across sessions)."""

    meeting_id: int
    case_ids: list[int]
    coordinator_id: int
    participant_ids: list[int]
    submitter_id: int
    patients: tuple[tuple[str, str, str], ...] = PATIENTS


def populate(session: Session, *, phone_base: int = 40) -> Platform:
    """Accounts, an RCP, a meeting, two cases with DICOM and PDF files, a chat, and a validated
    opinion with its PDF sheet — all through the services."""
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(phone_base))
    submitter = make_member(
        session, rcp, coordinator, phone=mobile(phone_base + 1), last_name="Soumet"
    )
    meeting = make_meeting(session, rcp, coordinator)
    case_ids = []
    for (last, first, born), scan in zip(PATIENTS, (CT, MR), strict=True):
        case = make_case(
            session,
            meeting,
            submitter,
            last_name=last,
            first_name=first,
            birth_date=date.fromisoformat(born),
            summary=f"Syndrome néphrotique chez {first} {last}.",
        )
        attachments.add_upload(
            session,
            actor=submitter,
            case_id=case.id,
            name="scanner.dcm",
            data=open(scan, "rb").read(),
        )
        attachments.add_upload(
            session,
            actor=submitter,
            case_id=case.id,
            name="cr.pdf",
            data=pdf_bytes(f"CR {len(case_ids)}"),
        )
        case_ids.append(case.id)
    make_case(session, meeting, submitter, submit=False, last_name="Brouillon")
    pathologist = make_confirmed(
        session, meeting, coordinator, phone=mobile(phone_base + 2), specialty="Anatomopathologie"
    )
    geneticist = make_confirmed(
        session, meeting, coordinator, phone=mobile(phone_base + 3), specialty="Génétique"
    )
    start_now(session, meeting)
    attend(session, meeting, coordinator, pathologist, geneticist)
    chat.post_message(
        session, actor=pathologist, meeting_id=meeting.id, body="Biopsie relue <b>ce matin</b>."
    )
    chat.post_message(session, actor=coordinator, meeting_id=meeting.id, body="Merci, cas suivant.")
    opinions.save_draft(
        session, actor=coordinator, case_id=case_ids[0], proposal="Éculizumab, contrôle à 3 mois."
    )
    opinions.validate(session, actor=coordinator, case_id=case_ids[0])
    return Platform(
        meeting_id=meeting.id,
        case_ids=case_ids,
        coordinator_id=coordinator.id,
        participant_ids=[pathologist.id, geneticist.id],
        submitter_id=submitter.id,
    )


def dump_tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, all columns, ordered by primary key."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows = conn.execute(sa.select(table).order_by(*order)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def file_hashes(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (recomputed)."""
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def file_engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _empty_sqlite(path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


# --- round trips -----------------------------------------------------------------------------


def test_sqlite_round_trip_gives_back_every_row_and_every_file(file_engine, tmp_path) -> None:
    with Session(file_engine, expire_on_commit=False) as session:
        platform = populate(session)
    source_files = get_settings().files_dir
    before = dump_tables(file_engine)
    manifest = backup.backup(tmp_path / "bk", engine=file_engine, files_dir=source_files)

    assert manifest.backend == "sqlite"
    assert manifest.tables == {name: len(rows) for name, rows in before.items()}
    assert manifest.tables["attachment"] == 4 and manifest.tables["chatmessage"] == 2
    saved = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert set(saved) >= {"created_at", "schema_revision", "tables", "files", "referenced"}

    target = _empty_sqlite(tmp_path / "restored.db")
    restored_files = tmp_path / "restored-files"
    backup.restore(tmp_path / "bk", engine=target, files_dir=restored_files)

    assert dump_tables(target) == before
    assert file_hashes(restored_files) == file_hashes(source_files)
    with Session(target) as session:
        store = FileStore(restored_files)
        referenced = [a.sha256 for a in session.exec(select(Attachment)).all()]
        referenced += [
            o.sheet_sha256 for o in session.exec(select(Opinion)).all() if o.sheet_sha256
        ]
        assert len(referenced) == 5 and all(store.verify(sha) for sha in referenced)
        case = session.get(Case, platform.case_ids[0])
        assert case.patient_last_name == "LŒVENBRUCK"
    target.dispose()


@pytest.mark.pg
@pytest.mark.skipif(not PG_URL, reason="RCP_TEST_DATABASE_URL is not set")
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_postgresql_round_trip_gives_back_every_row_and_every_file(engine, tmp_path) -> None:
    assert engine.dialect.name == "postgresql"
    with Session(engine, expire_on_commit=False) as session:
        populate(session)
    before = dump_tables(engine)
    source_files = get_settings().files_dir
    manifest = backup.backup(tmp_path / "bk", engine=engine, files_dir=source_files)
    assert manifest.backend == "postgresql" and (tmp_path / "bk" / "database.dump").is_file()

    with throwaway_postgres(PG_URL, "rcp_restore") as target_url:
        target = make_engine(target_url)
        try:
            backup.restore(tmp_path / "bk", engine=target, files_dir=tmp_path / "restored-files")
            assert dump_tables(target) == before
            assert file_hashes(tmp_path / "restored-files") == file_hashes(source_files)
        finally:
            target.dispose()


def test_backup_taken_while_files_are_uploaded_restores_with_no_file_missing(
    file_engine, tmp_path
) -> None:
    """An uploader thread adds files (file first, row second) during the backup."""
    with Session(file_engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(60))
        member = make_member(session, rcp, coordinator, phone=mobile(61))
        meeting = make_meeting(session, rcp, coordinator)
        case = make_case(session, meeting, member)
        member_id, case_id = member.id, case.id
    stop = threading.Event()
    errors: list[BaseException] = []
    uploaded: list[int] = []

    def uploader() -> None:
        n = 0
        try:
            while not stop.is_set() and n < 200:
                n += 1
                with Session(file_engine, expire_on_commit=False) as s:
                    actor = s.get(User, member_id)
                    attachments.add_upload(
                        s, actor=actor, case_id=case_id, name=f"cr{n}.pdf", data=pdf_bytes(str(n))
                    )
                uploaded.append(n)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    thread = threading.Thread(target=uploader)
    thread.start()
    try:
        while len(uploaded) < 3:  # the backup starts while uploads are under way
            thread.join(0.01)
            assert thread.is_alive() or errors == [], errors
        manifest = backup.backup(tmp_path / "bk", engine=file_engine)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert manifest.tables["attachment"] >= 3
    target = _empty_sqlite(tmp_path / "restored.db")
    backup.restore(tmp_path / "bk", engine=target, files_dir=tmp_path / "restored-files")
    store = FileStore(tmp_path / "restored-files")
    with Session(target) as session:
        rows = session.exec(select(Attachment)).all()
        assert len(rows) == manifest.tables["attachment"]
        assert all(store.verify(row.sha256) for row in rows)
    target.dispose()


# --- refusals --------------------------------------------------------------------------------


def _small_backup(file_engine, tmp_path: Path) -> Path:
    with Session(file_engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(70))
        member = make_member(session, rcp, coordinator, phone=mobile(71))
        case = make_case(session, make_meeting(session, rcp, coordinator), member)
        attachments.add_upload(
            session, actor=member, case_id=case.id, name="cr.pdf", data=pdf_bytes()
        )
    backup.backup(tmp_path / "bk", engine=file_engine)
    return tmp_path / "bk"


def test_restore_refuses_a_non_empty_target_unless_forced(file_engine, tmp_path) -> None:
    src = _small_backup(file_engine, tmp_path)
    with Session(file_engine) as session:
        users_before = len(session.exec(select(User)).all())
    # Restoring onto the live platform itself: it holds rows and files.
    with pytest.raises(backup.BackupError, match="n'est pas vide"):
        backup.restore(src, engine=file_engine)
    with Session(file_engine, expire_on_commit=False) as session:
        make_coordinator(session, make_rcp(session, name="Autre RCP"), phone=mobile(72))
    backup.restore(src, engine=file_engine, force=True)
    with Session(file_engine) as session:
        assert len(session.exec(select(User)).all()) == users_before


def test_restore_refuses_a_backup_whose_file_was_altered(file_engine, tmp_path) -> None:
    src = _small_backup(file_engine, tmp_path)
    manifest = backup.Manifest.load(src)
    (sha,) = manifest.files
    blob = FileStore(src / "files").path(sha)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    target = _empty_sqlite(tmp_path / "restored.db")
    with pytest.raises(backup.BackupError, match="altéré"):
        backup.restore(src, engine=target, files_dir=tmp_path / "restored-files")
    with Session(target) as session:
        assert session.exec(select(User)).all() == []  # nothing restored half-way
    assert not (tmp_path / "restored-files").exists()
    target.dispose()


def test_restore_refuses_a_backup_whose_database_copy_was_altered(file_engine, tmp_path) -> None:
    src = _small_backup(file_engine, tmp_path)
    with open(src / "database.sqlite3", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(backup.BackupError, match="copie de la base est altérée"):
        backup.verify(src)


def test_backup_refuses_a_destination_that_is_not_empty(file_engine, tmp_path) -> None:
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "old.txt").write_text("x")
    with pytest.raises(backup.BackupError, match="n'est pas vide"):
        backup.backup(tmp_path / "bk", engine=file_engine)


def test_backup_refuses_when_a_referenced_file_is_missing(file_engine, tmp_path) -> None:
    with Session(file_engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(73))
        member = make_member(session, rcp, coordinator, phone=mobile(74))
        case = make_case(session, make_meeting(session, rcp, coordinator), member)
        (row,) = attachments.add_upload(
            session, actor=member, case_id=case.id, name="cr.pdf", data=pdf_bytes()
        )
    attachments.store().path(row.sha256).unlink()
    with pytest.raises(backup.BackupError, match="manquent"):
        backup.backup(tmp_path / "bk", engine=file_engine)


def test_postgresql_backup_without_pg_dump_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(backup.shutil, "which", lambda _name: None)
    engine = sa.create_engine("postgresql+psycopg://rcp@127.0.0.1:1/rcp")  # never connected
    with pytest.raises(backup.BackupError, match="postgresql-client"):
        backup.backup(tmp_path / "bk", engine=engine, files_dir=tmp_path / "files")


# --- command line ------------------------------------------------------------------------------


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RCP_")},
        "RCP_DATA_DIR": str(data_dir),
        "RCP_SECRET_KEY": "cli-secret-key-0123456789-abcdefghijkl",
        "RCP_SECRETS_FILE": "/nonexistent/secrets.toml",
        "RCP_PASSWORD_HASH_TIME_COST": "1",
        "RCP_PASSWORD_HASH_MEMORY_KIB": "1024",
    }
    return subprocess.run(
        [sys.executable, "-m", "rcp", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_backup_then_restore_into_a_new_data_folder(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    assert _cli("init", data_dir=source).returncode == 0
    engine = make_engine(f"sqlite:///{source / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(75))
        member = make_member(session, rcp, coordinator, phone=mobile(76))
        case = make_case(session, make_meeting(session, rcp, coordinator), member)
        store = FileStore(source / "files")  # the CLI's data folder, not the test's
        blob = store.put(pdf_bytes())
        session.add(
            Attachment(
                case_id=case.id,
                uploaded_by_id=member.id,
                original_name="cr.pdf",
                kind="pdf",
                stored_path=blob.relpath,
                sha256=blob.sha256,
                size=blob.size,
            )
        )
        session.commit()
    before = dump_tables(engine)
    engine.dispose()

    done = _cli("backup", str(tmp_path / "bk"), data_dir=source)
    assert done.returncode == 0, done.stderr
    assert "1 fichier(s)" in done.stdout
    restored = _cli("restore", str(tmp_path / "bk"), data_dir=target)
    assert restored.returncode == 0, restored.stderr
    engine = make_engine(f"sqlite:///{target / 'rcp.db'}")
    assert dump_tables(engine) == before
    engine.dispose()
    assert file_hashes(target / "files") == file_hashes(source / "files")
    refused = _cli("restore", str(tmp_path / "bk"), data_dir=target)
    assert refused.returncode == 2 and "--force" in refused.stderr
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["schema_revision"]  # the Alembic revision of an `init`ed database
    assert manifest["tables"]["user"] == len(before["user"]) and len(manifest["files"]) == 1
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None


def test_chat_messages_survive_the_round_trip_as_typed(file_engine, tmp_path) -> None:
    with Session(file_engine, expire_on_commit=False) as session:
        populate(session, phone_base=80)
    backup.backup(tmp_path / "bk", engine=file_engine)
    target = _empty_sqlite(tmp_path / "restored.db")
    backup.restore(tmp_path / "bk", engine=target, files_dir=tmp_path / "rf")
    with Session(target) as session:
        bodies = session.exec(select(ChatMessage.body).order_by(ChatMessage.id)).all()
    assert bodies == ["Biopsie relue <b>ce matin</b>.", "Merci, cas suivant."]
    target.dispose()
