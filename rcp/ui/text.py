"""User text shown as text: no markdown, HTML or links from what users typed."""

from __future__ import annotations

import re

from rcp.i18n import _

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


# Streamlit's markdown turns bare web addresses in text into links after parsing (GitHub's
# "autolink literals"): escaping cannot stop it, an invisible word joiner inside the address
# does. Only web addresses are broken this way; e-mail addresses stay (a mailto: link
# fetches nothing).
_WEB_ADDRESS = re.compile(r"(https?)(\\?:)|(www)(\\?\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """Escape every markdown/HTML character so that user text renders literally, and keep a
    web address typed in it from becoming a link (see ``_WEB_ADDRESS``)."""
    escaped = _SPECIAL.sub(r"\\\1", text or "")
    escaped = _WEB_ADDRESS.sub(
        lambda m: (m.group(1) or m.group(3)) + WORD_JOINER + (m.group(2) or m.group(4)), escaped
    )
    # Keep the user's line breaks (markdown needs two spaces before a newline).
    return escaped.replace("\n", "  \n")


def translated(value: str | None) -> str:
    """A stored French label (a specialty) in the page's language; an empty one stays empty
    (``gettext("")`` would be the catalogue's header)."""
    return _(value) if value else ""
