"""Shared fixtures: settings for tests, a database per test (SQLite, or PostgreSQL if asked)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

# Before anything reads the settings: a real secret, cheap password hashing, no transports.
os.environ.setdefault("RCP_SECRET_KEY", "test-secret-key-not-a-placeholder-0123456789")
os.environ["RCP_PASSWORD_HASH_TIME_COST"] = "1"
os.environ["RCP_PASSWORD_HASH_MEMORY_KIB"] = "1024"
os.environ.setdefault("RCP_SECRETS_FILE", "/nonexistent/secrets.toml")
for _name in ("RCP_SMTP_HOST", "RCP_SMS_GATEWAY_URL", "RCP_DATABASE_URL", "RCP_DEMO_MODE"):
    os.environ.pop(_name, None)

from rcp import audit, config  # noqa: E402
from rcp.db import make_engine  # noqa: E402


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist, each test process gets its own database next to the given one
    (``<name>_gw0``, created if missing; the tests empty it): they truncate tables per test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


if os.environ.get("RCP_TEST_DATABASE_URL"):
    # Before the test modules read it (they are imported after this file).
    os.environ["RCP_TEST_DATABASE_URL"] = _database_of_this_worker(
        os.environ["RCP_TEST_DATABASE_URL"]
    )
PG_URL = os.environ.get("RCP_TEST_DATABASE_URL", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-only",
        action="store_true",
        help="run only the tests that meet the database of the `engine` fixture (or are marked "
        "`pg`): the second pass of scripts/test.sh on RCP_TEST_DATABASE_URL",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --database-only, leave out what runs the same whatever the database (1,400 cells of
    the permission matrix on their own SQLite file, DICOM decoding, the room's pictures...)."""
    if not config.getoption("--database-only"):
        return
    keep, drop = [], []
    for item in items:
        meets_database = "engine" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
            "pg"
        )
        (keep if meets_database else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from default settings with its own data folder."""
    monkeypatch.setenv("RCP_DATA_DIR", str(tmp_path / "data"))
    config.reset_settings_cache()
    audit.forget_recorded_views()  # a new database: the once-a-day reads start again
    yield
    config.reset_settings_cache()


def set_settings(monkeypatch: pytest.MonkeyPatch, **values: object) -> config.Settings:
    """Override settings for one test (through the environment, as a deployment would)."""
    for key, value in values.items():
        monkeypatch.setenv(f"RCP_{key.upper()}", str(value))
    config.reset_settings_cache()
    return config.get_settings()


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[sa.Engine | None]:
    if not PG_URL:
        yield None
        return
    engine = make_engine(PG_URL)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def engine(_pg_engine: sa.Engine | None) -> Iterator[sa.Engine]:
    """An empty database: in-memory SQLite, or the PostgreSQL of RCP_TEST_DATABASE_URL."""
    if _pg_engine is not None:
        with _pg_engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        yield _pg_engine
        return
    engine = make_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
