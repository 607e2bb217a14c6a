"""Fixtures shared by the unit tests of the HTTP routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

from rcp import config, web
from rcp.db import make_engine


@pytest.fixture
def web_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A fresh SQLite database that the routes of ``rcp.web`` use too (their engine is cached:
    it is dropped before and after, so that no test reads another's database)."""
    url = f"sqlite:///{tmp_path / 'routes.db'}"
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    config.reset_settings_cache()
    web.engine.cache_clear()
    engine = make_engine(url, immediate=False)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    web.engine.cache_clear()
    engine.dispose()
