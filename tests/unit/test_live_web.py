"""The meeting pages' event stream (/events/meeting/<id>), attacked and listened to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import Session, SQLModel
from starlette.applications import Starlette
from starlette.testclient import TestClient

from rcp import auth, chat, config, live_web
from rcp.db import make_engine
from tests.factories import make_case_team, sign_in

BASE = "http://rcp.test"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("RCP_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    config.reset_settings_cache()
    engine = make_engine()
    SQLModel.metadata.create_all(engine)
    session = Session(engine, expire_on_commit=False)
    team = make_case_team(session)
    tokens = {
        who: sign_in(session, getattr(team, who))
        for who in ("assistant", "nephrologist", "stranger")
    }
    with TestClient(Starlette(routes=live_web.routes()), base_url=BASE) as client:
        yield SimpleNamespace(client=client, session=session, team=team, tokens=tokens)
    session.close()
    engine.dispose()


def _url(world) -> str:
    return f"/events/meeting/{world.team.meeting.id}"


def _events(lines: Iterator[str], count: int) -> list[str]:
    """The names of the next ``count`` events (comments skipped)."""
    names = []
    for line in lines:
        if line.startswith("event: "):
            names.append(line.removeprefix("event: "))
            if len(names) == count:
                return names
    return names


def test_without_a_session_nothing_is_streamed(world) -> None:
    response = world.client.get(_url(world))
    assert response.status_code == 401
    assert "Connectez-vous" in response.text


def test_a_doctor_who_is_not_in_the_meeting_is_refused(world) -> None:
    response = world.client.get(_url(world), cookies={"rcp_session": world.tokens["stranger"]})
    assert response.status_code == 403
    assert "Seuls les participants confirmés et les coordinateurs" in response.text


def test_a_participant_hears_each_change_as_it_is_committed(world) -> None:
    cookies = {"rcp_session": world.tokens["nephrologist"]}
    with world.client.stream("GET", _url(world), cookies=cookies) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        lines = response.iter_lines()
        assert _events(lines, 1) == ["ready"]
        chat.post_message(
            world.session,
            actor=world.team.assistant,
            meeting_id=world.team.meeting.id,
            body="Le cas suivant, s'il vous plaît.",
        )
        assert _events(lines, 1) == ["change"]


def test_the_stream_ends_once_the_session_is_signed_out(world, monkeypatch) -> None:
    monkeypatch.setattr(live_web, "KEEPALIVE_S", 0.1)
    monkeypatch.setattr(live_web, "RECHECK_S", 0.1)
    cookies = {"rcp_session": world.tokens["nephrologist"]}
    with world.client.stream("GET", _url(world), cookies=cookies) as response:
        lines = response.iter_lines()
        assert _events(lines, 1) == ["ready"]
        auth.sign_out(world.session, token=world.tokens["nephrologist"])
        assert _events(lines, 1) == ["end"]
