"""Backups and restores of the database and the file store, and the store's consistency check.

A backup is a folder::

    manifest.json        what is inside, with hashes (checked by ``restore``)
    database.sqlite3     SQLite: a consistent copy made with SQLite's online backup API
    database.dump        PostgreSQL: ``pg_dump --format=custom`` of one exported snapshot
    files/ab/cd/<sha256> every stored file, copied and re-hashed

The database is copied first, then the files. Files are content-addressed and never modified,
and the services write a file before committing the row that references it, so every file the
database copy references is already on disk when the files are copied: the backup is
consistent while the application keeps running. Row counts and the referenced file hashes in
the manifest come from the same snapshot as the database copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from rcp import audit
from rcp.config import get_settings
from rcp.db import current_revision, make_engine
from rcp.errors import RcpError
from rcp.files import FileStore
from rcp.models import Attachment, Opinion, utcnow

FORMAT = "rcp-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
FILES = "files"
_CHUNK = 1024 * 1024
_TEMP_PREFIX = ".tmp-"


class BackupError(RcpError):
    """Raised when a backup cannot be made or restored; the message says why, in French."""

    # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
    default_message = "La sauvegarde n'a pas pu être effectuée."


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_verified(source: Path, target: Path, expected_sha256: str) -> None:
    """Copy ``source`` to ``target`` atomically, refusing content that is not ``expected``.

    The copy goes to a temporary file beside the target, is hashed while written, fsynced,
    then renamed: a crash leaves at worst a ``.tmp-*`` file, never a partial file under a
    final name.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_sha256:
            raise BackupError(
                # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
                f"Le fichier {expected_sha256[:12]}… est altéré (empreinte différente) : "
                "copie refusée."
            )
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _tables() -> list[sa.Table]:
    return list(SQLModel.metadata.sorted_tables)


def _row_counts(conn: sa.Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    existing = set(sa.inspect(conn).get_table_names())
    for table in _tables():
        if table.name in existing:
            counts[table.name] = conn.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
    return counts


def referenced_hashes(conn: sa.Connection) -> set[str]:
    """Every file hash a database row points to (attachments and validated sheets)."""
    found = set(conn.execute(sa.select(Attachment.__table__.c.sha256)).scalars())
    sheets = Opinion.__table__.c.sheet_sha256
    found |= set(conn.execute(sa.select(sheets).where(sheets.is_not(None))).scalars())
    return {h for h in found if h}


def _pg_cli_env(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore (password passed in the environment, not argv)."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return url.render_as_string(hide_password=False), env


def _require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"La commande « {name} » est introuvable : installez le client PostgreSQL "
            f"(paquet Debian postgresql-client, même version majeure que le serveur)."
        )
    return path


def _engine_or_default(engine: Engine | None) -> Engine:
    return engine if engine is not None else make_engine()


def _revision(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except sa.exc.SQLAlchemyError:
        return None


# --------------------------------------------------------------------------------------------
# backup
# --------------------------------------------------------------------------------------------


@dataclass
class Manifest:
    """What a backup holds (written as ``manifest.json``)."""

    created_at: str
    backend: str
    database_file: str
    database_sha256: str
    schema_revision: str | None
    tables: dict[str, int]
    files: dict[str, int]  # sha256 -> size of every copied file
    referenced: list[str]  # hashes the database copy points to
    format: str = FORMAT
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True, ensure_ascii=False)

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BackupError(
                # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
                f"Aucun manifeste dans {folder} : ce n'est pas une sauvegarde."
            ) from exc
        except (OSError, ValueError) as exc:
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            raise BackupError(f"Le manifeste de {folder} est illisible.") from exc
        if data.get("format") != FORMAT:
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            raise BackupError(f"Format de sauvegarde inconnu : {data.get('format')!r}.")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _prepare_dest(dest: Path) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"La destination {dest} existe et n'est pas vide : choisissez un nouveau dossier."
        )
    dest.mkdir(parents=True, exist_ok=True)


def _backup_sqlite(engine: Engine, dest: Path) -> tuple[dict[str, int], set[str]]:
    target = dest / SQLITE_FILE
    with engine.connect() as conn:
        source = conn.connection.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(target)
        try:
            # One step: a consistent snapshot (in WAL mode writers go on meanwhile).
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            copy.commit()
        finally:
            copy.close()
    copy_engine = sa.create_engine(f"sqlite:///{target}")
    try:
        with copy_engine.connect() as conn:
            return _row_counts(conn), referenced_hashes(conn)
    finally:
        copy_engine.dispose()


def _backup_postgresql(engine: Engine, dest: Path) -> tuple[dict[str, int], set[str]]:
    pg_dump = _require_binary("pg_dump")
    url, env = _pg_cli_env(engine)
    target = dest / PG_FILE
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # pg_dump reads the very snapshot our counts and references come from.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = _row_counts(conn)
            referenced = referenced_hashes(conn)
            result = subprocess.run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file", str(target), url],
                env=env,
                capture_output=True,
                text=True,
            )
    if result.returncode != 0:
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError(f"pg_dump a échoué : {result.stderr.strip()[:500]}")
    return counts, referenced


def backup(dest: Path, *, engine: Engine | None = None, files_dir: Path | None = None) -> Manifest:
    """Copy the database and the files into the new folder ``dest``; return the manifest.

    Safe while the application runs. Raises BackupError when ``dest`` is not a new or empty
    folder, when pg_dump is missing or fails, or when a file the database references is
    missing or altered in the store (the backup would not restore a whole platform).
    """
    engine = _engine_or_default(engine)
    files_dir = files_dir or get_settings().files_dir
    dest = Path(dest)
    _prepare_dest(dest)
    backend = engine.dialect.name
    if backend == "sqlite":
        counts, referenced = _backup_sqlite(engine, dest)
        database_file = SQLITE_FILE
    elif backend == "postgresql":
        counts, referenced = _backup_postgresql(engine, dest)
        database_file = PG_FILE
    else:
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError(f"Base de données non prise en charge pour la sauvegarde : {backend}.")

    store = FileStore(files_dir)
    target = FileStore(dest / FILES)
    files: dict[str, int] = {}
    warnings: list[str] = []
    for sha in store.iter_blobs():
        try:
            _copy_verified(store.path(sha), target.path(sha), sha)
        except BackupError:
            if sha in referenced:
                raise
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            warnings.append(f"fichier non référencé altéré ignoré : {sha}")
            continue
        except FileNotFoundError:
            continue  # an unreferenced file removed meanwhile by the consistency check
        files[sha] = target.path(sha).stat().st_size
    missing = sorted(referenced - set(files))
    if missing:
        raise BackupError(
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"{len(missing)} fichier(s) référencé(s) par la base manquent dans le stockage "
            f"(ex. {missing[0][:12]}…) : lancez « python -m rcp fsck » avant de sauvegarder."
        )
    manifest = Manifest(
        created_at=utcnow().isoformat(),
        backend=backend,
        database_file=database_file,
        database_sha256=_sha256_file(dest / database_file),
        schema_revision=_revision(engine),
        tables=counts,
        files=files,
        referenced=sorted(referenced),
        warnings=warnings,
    )
    (dest / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


# --------------------------------------------------------------------------------------------
# restore
# --------------------------------------------------------------------------------------------


def verify(src: Path) -> Manifest:
    """Check a backup folder against its manifest (database and every file hash)."""
    src = Path(src)
    manifest = Manifest.load(src)
    database = src / manifest.database_file
    if not database.is_file():
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError(f"La copie de la base ({manifest.database_file}) manque.")
    if _sha256_file(database) != manifest.database_sha256:
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError("La copie de la base est altérée (empreinte différente du manifeste).")
    store = FileStore(src / FILES)
    for sha in manifest.files:
        if not store.exists(sha):
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            raise BackupError(f"Le fichier {sha[:12]}… manque dans la sauvegarde.")
        if not store.verify(sha):
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            raise BackupError(f"Le fichier {sha[:12]}… de la sauvegarde est altéré.")
    missing = set(manifest.referenced) - set(manifest.files)
    if missing:
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError("La sauvegarde ne contient pas tous les fichiers référencés.")
    return manifest


def _database_is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        counts = _row_counts(conn)
    return not any(counts.values())


def _restore_sqlite(src: Path, engine: Engine) -> None:
    with engine.connect() as conn:
        target = conn.connection.driver_connection
        assert isinstance(target, sqlite3.Connection)
        copy = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            copy.backup(target)  # replaces every page of the target database
        finally:
            copy.close()
        target.execute("PRAGMA journal_mode=WAL")


def _restore_postgresql(src: Path, engine: Engine) -> None:
    pg_restore = _require_binary("pg_restore")
    url, env = _pg_cli_env(engine)
    result = subprocess.run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            url,
            str(src),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        raise BackupError(f"pg_restore a échoué : {result.stderr.strip()[:500]}")


def restore(
    src: Path, *, engine: Engine | None = None, files_dir: Path | None = None, force: bool = False
) -> Manifest:
    """Bring a backup back into the configured database and file store.

    The backup is verified first (manifest, database and file hashes). A target that already
    holds rows or files is refused unless ``force``: then its database is replaced and the
    backup's files are added (files already there and intact are kept). Raises BackupError.
    """
    engine = _engine_or_default(engine)
    files_dir = files_dir or get_settings().files_dir
    src = Path(src)
    manifest = verify(src)
    if manifest.backend != engine.dialect.name:
        raise BackupError(
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Cette sauvegarde vient d'une base {manifest.backend} : elle ne peut pas être "
            f"restaurée dans une base {engine.dialect.name}."
        )
    store = FileStore(files_dir)
    if not force:
        has_files = next(store.iter_blobs(), None) is not None
        if has_files or not _database_is_empty(engine):
            raise BackupError(
                # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
                "La base ou le dossier de fichiers cible n'est pas vide : relancez avec "
                "--force pour le remplacer."
            )
    if manifest.backend == "sqlite":
        _restore_sqlite(src / manifest.database_file, engine)
    else:
        _restore_postgresql(src / manifest.database_file, engine)
    backup_store = FileStore(src / FILES)
    for sha in manifest.files:
        if store.exists(sha) and store.verify(sha):
            continue
        _copy_verified(backup_store.path(sha), store.path(sha), sha)
    engine.dispose()  # connections opened before the restore may cache the old schema
    with engine.connect() as conn:
        counts = _row_counts(conn)
    if counts != manifest.tables:
        raise BackupError(
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            "Après restauration, le nombre de lignes ne correspond pas au manifeste : "
            f"{counts} au lieu de {manifest.tables}."
        )
    return manifest


# --------------------------------------------------------------------------------------------
# consistency check (fsck)
# --------------------------------------------------------------------------------------------

ORPHAN_MIN_AGE_SECONDS = 3600.0
"""Unreferenced files younger than this are left alone: an upload may be about to commit."""


@dataclass
class FsckReport:
    """What ``fsck`` found in the file store compared with the database."""

    blobs: int = 0
    referenced: int = 0
    orphans: list[str] = field(default_factory=list)  # stored, referenced by no row
    young_orphans: list[str] = field(default_factory=list)  # orphans too recent to remove
    missing: list[str] = field(default_factory=list)  # referenced, not stored
    corrupted: list[str] = field(default_factory=list)  # stored, content != name
    stale_temp: list[str] = field(default_factory=list)  # relative paths of old .tmp-* files
    removed_orphans: int = 0
    removed_temp: int = 0

    @property
    def ok(self) -> bool:
        return not (self.orphans or self.missing or self.corrupted or self.stale_temp)

    def lines(self) -> list[str]:
        out = [
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Fichiers stockés : {self.blobs} ; référencés par la base : {self.referenced}",
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Orphelins (non référencés) : {len(self.orphans)}",
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Manquants (référencés, absents) : {len(self.missing)}",
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Altérés (empreinte différente) : {len(self.corrupted)}",
            # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
            f"Fichiers temporaires abandonnés : {len(self.stale_temp)}",
        ]
        out += [f"  orphelin {sha}" for sha in self.orphans]
        out += [f"  manquant {sha}" for sha in self.missing]
        # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
        out += [f"  altéré {sha}" for sha in self.corrupted]
        out += [f"  temporaire {path}" for path in self.stale_temp]
        if self.young_orphans:
            out.append(
                # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
                f"Orphelins récents laissés en place (envoi peut-être en cours) : "
                f"{len(self.young_orphans)}"
            )
        if self.removed_orphans or self.removed_temp:
            out.append(
                # i18n: exempt (operator console: python -m rcp backup/restore/fsck)
                f"Supprimés : {self.removed_orphans} orphelin(s), "
                f"{self.removed_temp} fichier(s) temporaire(s)"
            )
        return out


def _temp_files(root: Path, older_than: float) -> Iterator[Path]:
    if not root.is_dir():
        return
    limit = time.time() - older_than
    for path in sorted(root.rglob(f"{_TEMP_PREFIX}*")):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_mtime <= limit:
                yield path


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def fsck(
    *,
    engine: Engine | None = None,
    files_dir: Path | None = None,
    repair: bool = False,
    min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS,
    check_hashes: bool = True,
) -> FsckReport:
    """Compare the file store with the database; with ``repair``, remove what is safe to remove.

    Reports orphans (stored files no Attachment or Opinion sheet references), missing files
    (referenced, absent), corrupted files (content no longer matches the name) and temporary
    files left by interrupted writes. ``repair`` removes only orphans and temporary files
    older than ``min_age_seconds`` (an upload writes its files just before committing its
    rows); missing and corrupted files need a restore and are never touched. The removal runs
    inside a database write transaction that re-reads the references, so no upload can commit
    a reference to a file while it is being removed (SQLite takes the write lock at BEGIN).
    """
    engine = _engine_or_default(engine)
    store = FileStore(files_dir or get_settings().files_dir)
    report = FsckReport()
    with engine.connect() as conn:
        referenced = referenced_hashes(conn)
    blobs = set(store.iter_blobs())
    report.blobs = len(blobs)
    report.referenced = len(referenced)
    report.missing = sorted(referenced - blobs)
    if check_hashes:
        report.corrupted = sorted(sha for sha in blobs & referenced if not store.verify(sha))
    orphans = sorted(blobs - referenced)
    report.orphans = [sha for sha in orphans if _age(store.path(sha)) >= min_age_seconds]
    report.young_orphans = [sha for sha in orphans if sha not in set(report.orphans)]
    report.stale_temp = [
        str(p.relative_to(store.root)) for p in _temp_files(store.root, min_age_seconds)
    ]
    if not repair:
        return report
    with Session(engine) as session:
        # The first statement begins the transaction (BEGIN IMMEDIATE on SQLite: uploads
        # wait until the removal is over, and then rewrite any file they need).
        still_referenced = referenced_hashes(session.connection())
        for sha in report.orphans:
            if sha not in still_referenced and store.delete(sha):
                report.removed_orphans += 1
        for relpath in report.stale_temp:
            with contextlib.suppress(FileNotFoundError):
                (store.root / relpath).unlink()
                report.removed_temp += 1
        if report.removed_orphans or report.removed_temp:
            audit.record(
                session,
                "system.fsck_repaired",
                actor_id=None,
                orphans_removed=report.removed_orphans,
                temp_removed=report.removed_temp,
            )
        session.commit()
    return report
