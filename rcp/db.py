"""Database engine (SQLite by default, any SQLAlchemy URL), sessions and Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from rcp import events, models  # noqa: F401  (every table; meeting changes published on commit)
from rcp.config import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str | None = None, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: the settings' database), SQLite tuned for concurrency.

    SQLite gets WAL (readers never block the writer), foreign keys on, and a busy timeout so
    that concurrent writers wait for each other instead of failing. With ``immediate`` every
    transaction takes the write lock when it begins: a service reads then writes, and a
    deferred transaction that must upgrade to a write lock fails at once ("database is
    locked") when another writer got there first. Keep sessions short: one use case each.
    ``immediate=False`` is for read-only tooling and tests that watch a live database.
    """
    url = url or get_settings().effective_database_url
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, **kwargs)
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        if immediate:
            sa.event.listen(engine, "begin", _sqlite_on_begin)
        else:
            sa.event.listen(engine, "begin", _sqlite_on_begin_deferred)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we emit it ourselves (see below).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Same answers as PostgreSQL: SQLite's lower() only knows ASCII ("É" stays "É", so a
    # search for "éluard" missed "Éluard") and its LIKE ignores ASCII case. Python's lower()
    # and a case-sensitive LIKE (SQLAlchemy's ilike() is lower() LIKE lower() here) match PG.
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
    cur.execute("PRAGMA case_sensitive_like=ON")
    cur.close()


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_on_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy
    # timeout instead of one failing with "database is locked" when upgrading a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_on_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A database session that is closed (and rolled back if uncommitted) at the end."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema with the Alembic migrations."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def create_all(engine: Engine) -> None:
    """Create every table straight from the models (unit tests only; servers use upgrade)."""
    SQLModel.metadata.create_all(engine)
