"""HTTP routes and middleware served beside Streamlit by app.py (cookie, headers, health)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import anyio
from sqlalchemy.engine import Engine
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from rcp import attachments, audit, auth, browser_key, csp, metrics, uploads, web_monitoring
from rcp.config import get_settings
from rcp.db import make_engine, session_scope
from rcp.errors import AuthFailed, RcpError
from rcp.i18n import _

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    # Streamlit's components live in same-origin iframes; other sites may not frame us.
    b"x-frame-options": b"SAMEORIGIN",
    # b"content-security-policy": per path, see rcp/csp.py (added by the middleware).
    # The sign-in hand-off code and reset tokens travel in URLs: never leak them as Referer.
    b"referrer-policy": b"same-origin",
    b"permissions-policy": b"camera=(self), microphone=(self), display-capture=(self)",
    b"cross-origin-opener-policy": b"same-origin",
}


@lru_cache(maxsize=1)
def engine() -> Engine:
    """The routes' database engine (one per process)."""
    return make_engine()


_engine = engine


def safe_next(target: str | None) -> str:
    """Only same-origin paths are accepted as a place to return to (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ch in target for ch in "\r\n"):
        return "/"
    return target


def _cookie_secure() -> bool:
    return get_settings().base_url.startswith("https://")


def complete_sign_in(request: Request) -> Response:
    """Exchange the single-use hand-off code for a session cookie, then go where asked."""
    settings = get_settings()
    handoff = request.query_params.get("h", "")
    target = safe_next(request.query_params.get("next"))
    client = request.client.host if request.client else ""
    browser = request.cookies.get(browser_key.COOKIE, "")
    if not browser or request.headers.get("sec-fetch-site") == "cross-site":
        # Another site sent this browser here, or it is not the browser that passed the
        # second factor: no session (login CSRF).
        return RedirectResponse("/?auth=expired", status_code=303)
    try:
        with session_scope(_engine()) as session:
            _login, token = auth.complete_sign_in(
                session,
                handoff=handoff,
                browser_key=browser,
                user_agent=request.headers.get("user-agent", ""),
                ip_address=client,
            )
    except AuthFailed:
        return RedirectResponse("/?auth=expired", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=_cookie_secure(),
        samesite="lax",
        path="/",
    )
    response.headers["cache-control"] = "no-store"
    return response


def sign_out(request: Request) -> Response:
    """Clear the cookie of a session that is over; revoke a live one only on a same-origin POST.

    "Se déconnecter" ends the session in the page (rcp.ui.chrome), then sends the browser
    here by GET to drop the cookie. A GET never ends a live session: a link or an image on
    another site pointing here must not sign the user out.
    """
    settings = get_settings()
    token = request.cookies.get(settings.cookie_name)
    if token:
        with session_scope(_engine()) as session:
            live = auth.authenticate(session, token=token, touch=False) is not None
            same_origin = request.method == "POST" and request.headers.get(
                "sec-fetch-site", "same-origin"
            ) in ("same-origin", "none")
            if live and not same_origin:
                return RedirectResponse("/", status_code=303, headers={"cache-control": "no-store"})
            auth.sign_out(session, token=token)
    response = RedirectResponse("/?signed_out=1", status_code=303)
    response.delete_cookie(
        settings.cookie_name, path="/", httponly=True, samesite="lax", secure=_cookie_secure()
    )
    response.headers["cache-control"] = "no-store"
    return response


INLINE_TYPES = {"image": None, "pdf": "application/pdf"}


def download_file(request: Request) -> Response:
    """A case attachment, for a signed-in user allowed to see the case (audited).

    Images and PDFs that pypdf reads open in the browser unless ``?download=1``; anything
    else is always a download, never rendered by the browser.
    """
    if request.query_params.get("view") == "1":
        from rcp import web_files

        return web_files.dicom_file(request)  # the viewer: audited as a view, once a day
    settings = get_settings()
    token = request.cookies.get(settings.cookie_name)
    attachment_id = request.path_params["attachment_id"]
    with session_scope(_engine()) as session:
        user = auth.authenticate(session, token=token)
        if user is None:
            return PlainTextResponse(
                _("Connectez-vous pour accéder à ce fichier."),
                status_code=401,
                headers={"cache-control": "no-store"},
            )
        try:
            row, path = attachments.open_attachment(
                session, actor=user, attachment_id=attachment_id
            )
        except RcpError:
            # One answer for "does not exist" and "not yours".
            return PlainTextResponse(
                _(attachments.FILE_NOT_FOUND),
                status_code=404,
                headers={"cache-control": "no-store"},
            )
    inline = (
        row.kind in INLINE_TYPES
        and request.query_params.get("download") != "1"
        and attachments.safe_to_show(row)
    )
    media_type = INLINE_TYPES.get(row.kind) or None
    if row.kind == "image":
        with path.open("rb") as fh:
            media_type = "image/png" if fh.read(4) == b"\x89PNG" else "image/jpeg"
    response = FileResponse(
        path,
        media_type=media_type or "application/octet-stream",
        filename=row.original_name,
        content_disposition_type="inline" if inline else "attachment",
    )
    response.headers["cache-control"] = "no-store"  # patient data: never kept by a cache
    return response


class ClientAddressMiddleware:
    """Pure ASGI middleware: audit events of a request carry its client address.

    ``scope["client"]`` is the browser's address: uvicorn replaced the proxy's by the one in
    X-Forwarded-For, which it trusts only from FORWARDED_ALLOW_IPS (docs/deployment.md).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        client = scope.get("client") if scope["type"] in ("http", "websocket") else None
        if not client:
            await self.app(scope, receive, send)
            return
        token = audit.set_client_address(str(client[0]))
        try:
            await self.app(scope, receive, send)
        finally:
            audit.reset_client_address(token)


class SecurityHeadersMiddleware:
    """Pure ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in SECURITY_HEADERS and k.lower() != b"content-security-policy"
                ]
                headers.extend(SECURITY_HEADERS.items())
                headers.append((b"content-security-policy", csp.for_path(scope.get("path", ""))))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def routes() -> list[Route]:
    # rtc: the WebRTC signalling of the room and the check; live_web: meeting pages' events;
    # web_i18n: Streamlit's own words in the page's language.
    from rcp import live_web, rtc, web_admin, web_files, web_i18n

    return [
        *rtc.routes(),
        *web_i18n.routes(),
        *live_web.routes(),
        Route("/auth/complete", complete_sign_in, methods=["GET"]),
        Route("/auth/logout", sign_out, methods=["GET", "POST"]),
        Route("/healthz", web_monitoring.healthz, methods=["GET"]),
        Route("/metrics", web_monitoring.metrics_endpoint, methods=["GET"]),
        Route("/files/{attachment_id:int}", download_file, methods=["GET"]),
        *web_files.routes(),
        *web_admin.routes(),
    ]


async def _upload_user(token: str | None) -> int | None:
    """The active user behind a session cookie, for the upload guard (off the event loop)."""
    if not token:
        return None

    def check() -> int | None:
        with session_scope(_engine()) as session:
            user = auth.authenticate(session, token=token)
            return user.id if user is not None else None

    return await anyio.to_thread.run_sync(check)


@asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[None]:
    """What runs beside the app for its whole life: the media hub bound to the server's loop,
    (on PostgreSQL) the listener of meeting changes, and the outbox's delivery rounds."""
    from rcp import live_web, outbox_worker, rtc

    async with rtc.lifespan(app), live_web.lifespan(app), outbox_worker.lifespan(_engine):
        yield None


def middleware() -> list[Middleware]:
    from rcp.ui.websocket_guard import BackMsgFilter  # Streamlit's protobuf: the UI side
    from rcp.web_i18n import DocumentLanguageMiddleware

    settings = get_settings()
    return [
        Middleware(metrics.RequestTimer),
        Middleware(web_monitoring.StreamlitMetricsGuard),
        Middleware(ClientAddressMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(DocumentLanguageMiddleware),  # <html lang>, Streamlit's words translated
        Middleware(browser_key.BrowserKeyMiddleware, secure=_cookie_secure()),
        Middleware(BackMsgFilter),
        Middleware(
            uploads.UploadGuardMiddleware,
            authenticate=_upload_user,
            cookie_name=settings.cookie_name,
            # The largest upload (a zip of a whole case) plus its multipart framing.
            max_request_bytes=settings.max_case_mb * uploads.MB + 64 * 1024,
        ),
    ]
