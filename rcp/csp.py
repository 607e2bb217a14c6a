"""The Content-Security-Policy the app sends: Streamlit's own code only, images from here.

User text is escaped where it is shown; the policy is the second wall. The main document may
run only the platform's scripts (Streamlit's bundle, and the one inline line of its
``index.html``, allowed by its hash), load images only from the platform (and ``data:``/
``blob:`` URLs Streamlit makes itself), and talk only to its own origin: a remote image or
link typed into a free-text field fetches nothing. Streamlit components (the video room, the
screen share) are documents of their own in same-origin frames, served from ``/component/``;
their static pages carry inline scripts, so their policy allows those, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

COMPONENT_PREFIXES = ("/component/", "/_stcore/bidi-components/")

_COMMON = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",  # Streamlit styles its elements at run time
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",  # the websocket, uploads, the routes: same origin only
    "media-src 'self' blob: mediastream:",
    "frame-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
)


@lru_cache(maxsize=1)
def _inline_script_hashes() -> tuple[str, ...]:
    """Hashes of the inline scripts of Streamlit's index.html (they change with Streamlit)."""
    # Found without importing Streamlit (rcp/ outside rcp/ui/ does not use it).
    spec = importlib.util.find_spec("streamlit")
    if spec is None or spec.origin is None:
        return ()
    index = Path(spec.origin).parent / "static" / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, re.S)
    )


@lru_cache(maxsize=2)
def policy(component: bool) -> bytes:
    """The header value for a component frame, or for everything else."""
    if component:
        scripts = "script-src 'self' 'unsafe-inline'"
    else:
        scripts = " ".join(("script-src 'self'", *_inline_script_hashes()))
    return "; ".join((*_COMMON, scripts)).encode()


def for_path(path: str) -> bytes:
    return policy(path.startswith(COMPONENT_PREFIXES))
