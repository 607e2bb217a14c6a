"""Monitoring: /healthz checks the database and the file store; /metrics is Prometheus text
for the token holder or a direct request from an allowed address, and so is Streamlit's own
/_stcore/metrics. The routes run in a bare Starlette app (the same functions app.py serves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rcp import config, health, metrics, uploads, web, web_monitoring
from rcp.db import alembic_config, create_all, make_engine
from rcp.models import LoginSession, utcnow
from rcp.ui import server_stats
from tests.conftest import set_settings
from tests.factories import make_user

LOOPBACK = ("127.0.0.1", 40000)
ELSEWHERE = ("192.0.2.10", 40000)  # TEST-NET-1: a documentation address, never contacted


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return Path(config.get_settings().data_dir)


@pytest.fixture
def migrated(data_dir: Path) -> Iterator[None]:
    """The settings' SQLite database at the code's revision and its file store (as after
    init; the tables come from the models, stamped at head, which is quicker than migrating)."""
    engine = make_engine()
    create_all(engine)
    command.stamp(alembic_config(engine), "head")
    engine.dispose()
    config.get_settings().files_dir.mkdir(parents=True, exist_ok=True)
    web_monitoring._read_engine.cache_clear()
    yield
    web_monitoring._read_engine().dispose()
    web_monitoring._read_engine.cache_clear()


def streamlit_metrics(_request):
    return PlainTextResponse("# streamlit's own metrics\n")


def client(peer: tuple[str, int] = LOOPBACK) -> TestClient:
    """Our routes and middleware around a stand-in for Streamlit's /_stcore/metrics."""
    app = Starlette(
        routes=[*web.routes(), Route("/_stcore/metrics", streamlit_metrics)],
        middleware=[Middleware(m.cls, *m.args, **m.kwargs) for m in web.middleware()],
    )
    return TestClient(app, client=peer)


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


# --- /healthz ----------------------------------------------------------------------------------


def test_healthz_is_ok_with_a_migrated_database_and_a_writable_store(migrated) -> None:
    response = client().get("/healthz")
    assert response.status_code == 200
    assert response.text.splitlines()[0] == "ok"
    assert "base de données: ok" in response.text and "fichiers: ok" in response.text
    assert response.headers["cache-control"] == "no-store"
    leftovers = list(config.get_settings().files_dir.iterdir())
    assert leftovers == []  # the write probe is removed


def test_healthz_fails_without_a_schema(data_dir: Path) -> None:
    config.get_settings().files_dir.mkdir(parents=True)
    web_monitoring._read_engine.cache_clear()
    response = client().get("/healthz")
    assert response.status_code == 503
    assert "base de données: ERREUR (schéma absent : lancez python -m rcp init)" in response.text
    assert "fichiers: ok" in response.text
    web_monitoring._read_engine.cache_clear()


def test_healthz_fails_when_the_database_does_not_answer(migrated, monkeypatch) -> None:
    monkeypatch.setattr(
        health, "current_revision", lambda engine: (_ for _ in ()).throw(OSError("disk gone"))
    )
    response = client().get("/healthz")
    assert response.status_code == 503
    assert "base de données: ERREUR (injoignable)" in response.text
    assert "disk gone" not in response.text  # the cause goes to the log, not to the visitor


def test_healthz_fails_on_a_schema_older_than_the_code(migrated, monkeypatch) -> None:
    monkeypatch.setattr(health, "head_revision", lambda: "9999_future")
    response = client().get("/healthz")
    assert response.status_code == 503
    assert "attendu 9999_future : lancez python -m rcp init" in response.text


def test_healthz_fails_when_the_file_store_is_missing(migrated) -> None:
    files_dir = config.get_settings().files_dir
    files_dir.rmdir()
    response = client().get("/healthz")
    assert response.status_code == 503
    assert "fichiers: ERREUR (dossier absent : lancez python -m rcp init)" in response.text


def test_healthz_fails_when_the_file_store_refuses_writes(migrated, monkeypatch) -> None:
    """Root ignores permission bits: a read-only store is simulated where the probe writes."""

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(health.tempfile, "NamedTemporaryFile", refuse)
    response = client().get("/healthz")
    assert response.status_code == 503
    assert "fichiers: ERREUR (écriture impossible)" in response.text


# --- /metrics: who may read -------------------------------------------------------------------


def test_metrics_answer_a_direct_request_from_loopback(migrated) -> None:
    response = client(LOOPBACK).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "rcp_http_request_duration_seconds" in families(response.text)


def test_metrics_refuse_another_address(migrated) -> None:
    response = client(ELSEWHERE).get("/metrics")
    assert response.status_code == 403
    assert "rcp_" not in response.text


def test_metrics_refuse_a_request_forwarded_by_the_proxy(migrated) -> None:
    """nginx on the same machine connects from loopback, for anyone on the Internet."""
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        response = client(LOOPBACK).get("/metrics", headers={header: "198.51.100.7"})
        assert response.status_code == 403, header


def test_metrics_answer_the_token_from_anywhere(migrated, monkeypatch) -> None:
    set_settings(monkeypatch, metrics_token="jeton-de-supervision-assez-long")
    headers = {"Authorization": "Bearer jeton-de-supervision-assez-long"}
    assert client(ELSEWHERE).get("/metrics", headers=headers).status_code == 200
    forwarded = {**headers, "X-Forwarded-For": "198.51.100.7"}
    assert client(LOOPBACK).get("/metrics", headers=forwarded).status_code == 200
    wrong = {"Authorization": "Bearer jeton-faux"}
    assert client(ELSEWHERE).get("/metrics", headers=wrong).status_code == 403


def test_an_empty_token_setting_accepts_no_token(migrated) -> None:
    assert (
        client(ELSEWHERE).get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
    )


def test_allowed_addresses_are_a_setting(migrated, monkeypatch) -> None:
    set_settings(monkeypatch, metrics_allow_from='["192.0.2.10"]')
    assert client(ELSEWHERE).get("/metrics").status_code == 200
    assert client(LOOPBACK).get("/metrics").status_code == 403


def test_streamlit_metrics_follow_the_same_rule(migrated, monkeypatch) -> None:
    assert client(ELSEWHERE).get("/_stcore/metrics").status_code == 403
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    assert client(LOOPBACK).get("/_stcore/metrics", headers=forwarded).status_code == 403
    assert client(LOOPBACK).get("/_stcore/metrics/").status_code == 200
    assert client(LOOPBACK).get("/_stcore/metrics").text == "# streamlit's own metrics\n"


# --- /metrics: what they say ------------------------------------------------------------------


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


def test_request_times_are_counted_by_route_and_status(migrated) -> None:
    web_client = client()
    text = web_client.get("/metrics").text
    try:
        before = _sample(
            text, "rcp_http_request_duration_seconds_count", route="/healthz", status="2xx"
        )
    except AssertionError:
        before = 0.0
    web_client.get("/healthz")
    web_client.get("/healthz")
    web_client.get("/files/12345")  # 401 without a session: an id never becomes a label
    text = web_client.get("/metrics").text
    after = _sample(text, "rcp_http_request_duration_seconds_count", route="/healthz", status="2xx")
    assert after == before + 2
    assert _sample(text, "rcp_http_request_duration_seconds_count", route="/files/{id}") >= 1
    assert "12345" not in text


def test_page_runs_are_timed_by_page_also_when_they_stop_early() -> None:
    def count() -> float:
        text = metrics.generate_latest(metrics.REGISTRY).decode()
        try:
            return _sample(text, "rcp_page_run_duration_seconds_count", page="seance")
        except AssertionError:
            return 0.0

    before = count()
    with metrics.page_run("seance"):
        pass
    with pytest.raises(RuntimeError), metrics.page_run("seance"):
        raise RuntimeError("st.rerun() ends a run with an exception too")
    assert count() == before + 2


def test_signed_in_sessions_count_only_live_ones(migrated, monkeypatch) -> None:
    engine = web_monitoring._read_engine()
    write = make_engine()
    now = utcnow()
    with Session(write) as session:
        user = make_user(session)
        rows = [
            LoginSession(user_id=user.id, token_hash="a" * 64, expires_at=now + timedelta(hours=1)),
            LoginSession(  # revoked
                user_id=user.id,
                token_hash="b" * 64,
                expires_at=now + timedelta(hours=1),
                revoked_at=now,
            ),
            LoginSession(
                user_id=user.id, token_hash="c" * 64, expires_at=now - timedelta(minutes=1)
            ),
            LoginSession(  # idle for longer than the idle timeout
                user_id=user.id,
                token_hash="d" * 64,
                expires_at=now + timedelta(hours=1),
                last_seen_at=now - timedelta(hours=2),
            ),
        ]
        session.add_all(rows)
        session.commit()
    write.dispose()
    text = client().get("/metrics").text
    assert _sample(text, "rcp_signed_in_sessions") == 1
    assert metrics.signed_in_sessions(engine, config.get_settings()) == 1
    assert _sample(text, "rcp_data_free_bytes") > 0
    assert _sample(text, "process_resident_memory_bytes") > 0


def test_live_figures_come_from_the_sources_and_skip_unknown_or_broken_ones(migrated) -> None:
    def source():
        return {"rcp_rooms": 2, "rcp_room_participants": 5, "rcp_upload_bytes_held": None}

    def broken():
        raise RuntimeError("registry moved")

    metrics.add_source(source)
    metrics.add_source(broken)
    try:
        text = client().get("/metrics").text
    finally:
        metrics.remove_source(source)
        metrics.remove_source(broken)
    assert _sample(text, "rcp_rooms") == 2 and _sample(text, "rcp_room_participants") == 5
    assert "rcp_upload_bytes_held" not in families(text)  # unknown now: left out, not 0


# --- the Streamlit side's readings ------------------------------------------------------------


class FakeRoom:
    def __init__(self, people: int, closed: bool = False) -> None:
        self._people, self.closed = people, closed

    def participants(self) -> list[int]:
        return list(range(self._people))


class FakeRegistry:
    def __init__(self, rooms: dict[int, FakeRoom]) -> None:
        self._rooms = rooms

    def meeting_ids(self) -> list[int]:
        return list(self._rooms)

    def get(self, meeting_id: int) -> FakeRoom | None:
        return self._rooms.get(meeting_id)


def test_rooms_snapshot_counts_open_rooms_and_their_participants() -> None:
    registry = FakeRegistry({1: FakeRoom(3), 2: FakeRoom(0), 3: FakeRoom(4, closed=True)})
    snapshot = server_stats.rooms_snapshot(lambda: registry)
    assert snapshot == server_stats.RoomsSnapshot(rooms=2, participants=3)


def test_rooms_snapshot_is_none_without_a_registry() -> None:
    assert server_stats.rooms_snapshot(lambda: None) is None


def test_rooms_snapshot_reads_the_real_room_registry() -> None:
    from rcp.room import RoomRegistry

    registry = RoomRegistry()
    registry.join(7, 1, "Dr Un")
    registry.join(7, 2, "Dr Deux")
    registry.join(8, 3, "Dr Trois")
    assert server_stats.rooms_snapshot(lambda: registry) == server_stats.RoomsSnapshot(2, 3)
    registry.close(8)
    assert server_stats.rooms_snapshot(lambda: registry) == server_stats.RoomsSnapshot(1, 2)


class HeldProbe:
    def held_bytes(self) -> dict[str, int]:
        return {"session-a": 1000, "session-b": 24}

    def is_active(self, session_id: str) -> bool:
        return True

    def drop(self, session_id: str) -> None:
        pass


def test_upload_bytes_held_are_the_upload_gate_count_once_armed() -> None:
    uploads.reset_gate()
    uploads.gate().probe = HeldProbe()
    try:
        assert server_stats.upload_bytes_held() == 1024
    finally:
        uploads.reset_gate()


def test_streamlit_readings_are_none_outside_a_server() -> None:
    uploads.reset_gate()
    assert server_stats.browser_sessions() is None
    assert server_stats.upload_bytes_held() is None
