"""Headers and cookies of a raw ASGI request scope, for the pure ASGI middlewares of rcp.web."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def cookie(scope: dict[str, Any], name: str) -> str | None:
    """The value of cookie ``name``, or None when absent, empty or unreadable."""
    raw = header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None
