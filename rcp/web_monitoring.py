"""Monitoring routes served beside Streamlit: /healthz, /metrics, and the guard that keeps
Streamlit's own /_stcore/metrics as private as ours (listed in rcp.web's routes/middleware)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from rcp import health, metrics
from rcp.config import get_settings
from rcp.db import make_engine

# i18n: exempt (operator: metrics endpoint)
REFUSED = "Accès refusé : les mesures se lisent avec le jeton ou depuis une adresse autorisée."
GUARDED_PATHS = ("/_stcore/metrics",)


@lru_cache(maxsize=1)
def _read_engine() -> Engine:
    # Deferred transactions: a probe must not take SQLite's write lock (nor wait for it).
    return make_engine(immediate=False)


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


def healthz(_request: Request) -> Response:
    """200 when the database and the file store work, 503 otherwise; one line per check."""
    checks = health.run_checks(_read_engine(), get_settings().files_dir)
    ok = all(check.ok for check in checks)
    body = ("ok" if ok else "ERREUR") + "\n" + "".join(c.line() + "\n" for c in checks)
    return _no_store(PlainTextResponse(body, status_code=200 if ok else 503))


def _allowed(client_host: str, headers: Headers) -> bool:
    return metrics.may_read(client_host=client_host, headers=headers, settings=get_settings())


def metrics_endpoint(request: Request) -> Response:
    """Prometheus text for this process, to the token holder or a direct allowed address."""
    client = request.client.host if request.client else ""
    if not _allowed(client, request.headers):
        return _no_store(PlainTextResponse(REFUSED, status_code=403))
    body = metrics.exposition(_read_engine(), get_settings())
    return _no_store(Response(body, media_type=CONTENT_TYPE_LATEST))


class StreamlitMetricsGuard:
    """Pure ASGI middleware: Streamlit's /_stcore/metrics answers only whom /metrics would."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") in GUARDED_PATHS:
            client = (scope.get("client") or ("", 0))[0]
            if not _allowed(client, Headers(scope=scope)):
                await _no_store(PlainTextResponse(REFUSED, status_code=403))(scope, receive, send)
                return
        await self.app(scope, receive, send)
