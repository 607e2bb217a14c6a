"""Figures for Prometheus (`/metrics`): request and page times, sessions, rooms, held uploads.

One registry per process (each replica is scraped on its own address). Request times are
measured by :class:`RequestTimer` (ASGI middleware), page times by :func:`page_run` around the
Streamlit script's page; figures only the Streamlit side can read (browser sessions, held
uploads, video rooms) come from sources registered with :func:`add_source` (rcp.ui.server_stats,
installed by app.py); the rest is read from the database and the disk at each scrape.

Who may read them: :func:`may_read` (a token, or a direct request from an allowed address).
"""

from __future__ import annotations

import hmac
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from rcp.config import Settings
from rcp.models import LoginSession, utcnow

log = logging.getLogger(__name__)

# Figures a source may give, with their help text. A source returns None for a figure it
# cannot read right now: the figure is left out of the scrape rather than reported as 0.
LIVE_FIGURES: dict[str, str] = {
    "rcp_browser_sessions": "Browser sessions (Streamlit websockets) connected to this process.",
    "rcp_upload_bytes_held": "Bytes of uploaded files held in this process's memory.",
    "rcp_rooms": "Video rooms open in this process.",
    "rcp_room_participants": "Participants in the video rooms of this process.",
}
Source = Callable[[], Mapping[str, float | None]]

# Headers a reverse proxy adds: a request carrying one came through the proxy, from anywhere.
FORWARDED_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, cpu seconds, open fds

REQUEST_SECONDS = Histogram(
    "rcp_http_request_duration_seconds",
    "HTTP requests answered by this process, from arrival to the last byte sent.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
PAGE_SECONDS = Histogram(
    "rcp_page_run_duration_seconds",
    "Streamlit script runs (a page drawn or redrawn after a click), by page.",
    ["page"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30),
    registry=REGISTRY,
)

# Streamlit's own paths, one label each; everything else that is not ours is a page load.
_FIXED_ROUTES = ("/auth/complete", "/auth/logout", "/healthz", "/metrics")
_PREFIX_ROUTES = (
    ("/files/", "/files/{id}"),
    ("/_stcore/upload_file/", "/_stcore/upload_file"),
    ("/_stcore/", "/_stcore/{other}"),
    ("/media/", "/media"),
    ("/static/", "/static"),
    ("/component/", "/component"),
)


def route_label(path: str) -> str:
    """A bounded label for a request path (ids and file names never become labels)."""
    if path in _FIXED_ROUTES:
        return path
    if path in ("/_stcore/health", "/_stcore/host-config", "/_stcore/metrics"):
        return path
    for prefix, label in _PREFIX_ROUTES:
        if path.startswith(prefix):
            return label
    return "page"


class RequestTimer:
    """Pure ASGI middleware timing every HTTP request (websockets are not requests)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            REQUEST_SECONDS.labels(
                route_label(scope.get("path", "")), scope.get("method", ""), f"{status // 100}xx"
            ).observe(time.perf_counter() - started)


@contextmanager
def page_run(page: str) -> Iterator[None]:
    """Time one run of a page's script (also when it ends by st.rerun, st.stop or an error)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PAGE_SECONDS.labels(page or "accueil").observe(time.perf_counter() - started)


# --- live figures -------------------------------------------------------------------------------

_sources: list[Source] = []
_sources_lock = threading.Lock()


def add_source(source: Source) -> None:
    """Report the figures of ``source`` (keys of LIVE_FIGURES) at every scrape (once each)."""
    with _sources_lock:
        if source not in _sources:
            _sources.append(source)


def remove_source(source: Source) -> None:
    with _sources_lock:
        if source in _sources:
            _sources.remove(source)


def live_figures() -> dict[str, float]:
    """The figures every source can read now (a failing source is logged and skipped)."""
    figures: dict[str, float] = {}
    with _sources_lock:
        sources = list(_sources)
    for source in sources:
        try:
            values = source()
        except Exception:  # noqa: BLE001 - one broken reading must not hide the others
            log.exception("metrics source %r failed", source)
            continue
        for name, value in values.items():
            if name in LIVE_FIGURES and value is not None:
                figures[name] = figures.get(name, 0.0) + float(value)
    return figures


def signed_in_sessions(engine: Engine, settings: Settings) -> int:
    """Sign-in sessions alive now, on the whole platform (every replica shares the database)."""
    now = utcnow()
    idle_since = now - timedelta(minutes=settings.session_idle_minutes)
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(LoginSession)
            .where(
                col(LoginSession.revoked_at).is_(None),
                LoginSession.expires_at > now,
                LoginSession.last_seen_at > idle_since,
            )
        ).one()


class _StateCollector(Collector):
    """Reads the live figures, the database and the data folder when Prometheus scrapes."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.settings: Settings | None = None

    def collect(self) -> Iterable[Metric]:
        for name, value in live_figures().items():
            yield GaugeMetricFamily(name, LIVE_FIGURES[name], value=value)
        if self.engine is None or self.settings is None:
            return
        try:
            count = signed_in_sessions(self.engine, self.settings)
        except Exception:  # noqa: BLE001 - /healthz reports the database; metrics go on
            log.exception("metrics: counting sign-in sessions failed")
        else:
            yield GaugeMetricFamily(
                "rcp_signed_in_sessions",
                "Sign-in sessions alive (not ended, not expired) on the whole platform.",
                value=count,
            )
        data_dir = Path(self.settings.data_dir)
        if data_dir.is_dir():
            yield GaugeMetricFamily(
                "rcp_data_free_bytes",
                "Free bytes on the disk of the data folder (database and stored files).",
                value=shutil.disk_usage(data_dir).free,
            )


_STATE = _StateCollector()
REGISTRY.register(_STATE)


def exposition(engine: Engine, settings: Settings) -> bytes:
    """The text Prometheus reads (format 0.0.4)."""
    _STATE.engine, _STATE.settings = engine, settings
    return generate_latest(REGISTRY)


# --- who may read them --------------------------------------------------------------------------


def may_read(*, client_host: str, headers: Mapping[str, str], settings: Settings) -> bool:
    """A request carrying ``Authorization: Bearer <metrics_token>``, or one made directly
    (no proxy header) from an address of ``metrics_allow_from`` (default: loopback).

    Requests that came through the reverse proxy carry its forwarding headers: they need the
    token, whatever address the proxy connects from.
    """
    token = settings.metrics_token
    given = headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if any(name in headers for name in FORWARDED_HEADERS):
        return False
    return client_host in settings.metrics_allow_from
