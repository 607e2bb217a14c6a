"""AppTest fixtures: a database file the app script and the test share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel
from streamlit.testing.v1 import AppTest

from rcp import config
from rcp.db import make_engine
from rcp.ui import keys

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("RCP_DATABASE_URL", url)
    config.reset_settings_cache()
    # Deferred transactions: the test's reads must not hold the write lock the app needs.
    engine = make_engine(url, immediate=False)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(app_engine) -> Iterator[Session]:
    with Session(app_engine, expire_on_commit=False) as session:
        yield session


def new_app(token: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    if token:
        at.session_state[keys.TEST_TOKEN] = token
    return at


def texts(at: AppTest) -> str:
    """Everything the page shows as text (markdown, alerts, captions, titles)."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "success",
        "warning",
        "error",
    ):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def link_buttons(at: AppTest) -> dict[str, str]:
    """Label -> URL of every st.link_button on the page."""
    return {b.proto.label: b.proto.url for b in at.get("link_button")}


def html_bodies(at: AppTest) -> list[str]:
    """The HTML of every st.html element (protected images, see rcp.ui.protected)."""
    return [h.proto.body for h in at.get("html")]
