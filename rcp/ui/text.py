"""User text shown as text: no markdown, HTML or links from what users typed."""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Escape every markdown/HTML character so that user text renders literally."""
    escaped = _SPECIAL.sub(r"\\\1", text or "")
    # Keep the user's line breaks (markdown needs two spaces before a newline).
    return escaped.replace("\n", "  \n")
