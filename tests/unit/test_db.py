"""Schema by Alembic migrations, SQLite tuning, settings and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from rcp import config
from rcp.db import current_revision, make_engine, upgrade
from rcp.models import User

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert current_revision(engine) is not None


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_settings_refuse_the_placeholder_secret_outside_demo_mode(monkeypatch) -> None:
    monkeypatch.setenv("RCP_SECRET_KEY", "changethis")
    monkeypatch.delenv("RCP_DEMO_MODE", raising=False)
    config.reset_settings_cache()
    with pytest.raises(ValueError, match="RCP_SECRET_KEY"):
        config.get_settings()
    monkeypatch.setenv("RCP_DEMO_MODE", "1")
    config.reset_settings_cache()
    assert config.get_settings().demo_mode


def test_settings_read_the_secrets_file_and_environment_wins(tmp_path: Path, monkeypatch) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[rcp]\nplatform_name = "RCP Test"\nsmtp_host = "smtp.example.org"\n'
        'support_contacts = [{ name = "Support", email = "support@example.org" }]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RCP_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("RCP_SMTP_HOST", "relay.example.org")
    config.reset_settings_cache()
    settings = config.get_settings()
    assert settings.platform_name == "RCP Test"
    assert settings.smtp_host == "relay.example.org"
    assert settings.support_contacts[0].email == "support@example.org"


def _cli(*args: str, env_extra: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "rcp", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_init_create_admin_seed_and_outbox(tmp_path: Path) -> None:
    env = {"RCP_DATA_DIR": str(tmp_path), "RCP_DEMO_MODE": "1"}
    assert _cli("init", env_extra=env).returncode == 0
    result = _cli(
        "create-admin",
        "--email",
        "chef@plateforme.example",
        "--phone",
        "+33612345678",
        "--password-stdin",
        env_extra=env,
        stdin="Une-Phrase-Assez-Longue-1\n",
    )
    assert result.returncode == 0, result.stderr
    assert _cli("seed-demo", env_extra=env).returncode == 0
    assert _cli("seed-demo", env_extra=env).returncode == 0  # idempotent
    engine = make_engine(f"sqlite:///{tmp_path / 'rcp.db'}")
    with Session(engine) as session:
        emails = [u.email for u in session.exec(select(User).where(User.is_admin)).all()]
        assert sorted(emails) == ["admin@orkid.example", "chef@plateforme.example"]
        chef = session.exec(select(User).where(User.email == "chef@plateforme.example")).one()
        assert chef.profession == "other"  # no --profession physician: addressed by name
        count = session.exec(sa.select(sa.func.count()).select_from(User)).scalar_one()
        assert count == 7
    out = _cli("outbox", "--json", env_extra=env)
    assert out.returncode == 0 and json.loads(out.stdout) == []


def test_cli_create_admin_refuses_a_weak_password(tmp_path: Path) -> None:
    env = {"RCP_DATA_DIR": str(tmp_path), "RCP_DEMO_MODE": "1"}
    _cli("init", env_extra=env)
    result = _cli(
        "create-admin",
        "--email",
        "chef@plateforme.example",
        "--phone",
        "+33612345678",
        "--password-stdin",
        env_extra=env,
        stdin="court\n",
    )
    assert result.returncode == 2 and "12 caractères" in result.stderr
