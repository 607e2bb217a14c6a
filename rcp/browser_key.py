"""A random key per browser, set before sign-in, that binds a sign-in hand-off to it.

Login CSRF: a hand-off code (``/auth/complete?h=…``) used to open a session in whichever
browser opened the link, so another site could sign a doctor's browser in as someone else.
Every page load of a browser without the ``rcp_browser`` cookie gets one (random, HttpOnly,
SameSite=Lax); the sign-in page reads it from the websocket's cookies when the second factor
passes and the hand-off code is bound to it (``rcp.auth.verify_sign_in_code``). The cookie
route accepts the code only with the same cookie, and never from a cross-site navigation.
"""

from __future__ import annotations

import secrets
from typing import Any

from rcp.asgi_scope import cookie

COOKIE = "rcp_browser"
MAX_AGE = 400 * 24 * 3600  # the most browsers keep a cookie


def _cookie(scope: dict[str, Any]) -> str | None:
    return cookie(scope, COOKIE)


class BrowserKeyMiddleware:
    """Pure ASGI middleware: give every browser loading a page a ``rcp_browser`` cookie."""

    def __init__(self, app: Any, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") != "GET"
            or scope.get("path", "").startswith(("/_stcore/", "/static/", "/media/", "/component/"))
            or _cookie(scope)
        ):
            await self.app(scope, receive, send)
            return
        value = (
            f"{COOKIE}={secrets.token_urlsafe(32)}; Path=/; Max-Age={MAX_AGE}; HttpOnly; "
            "SameSite=Lax" + ("; Secure" if self.secure else "")
        ).encode()

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", value)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
