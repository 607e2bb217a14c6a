"""The catalogue: every user-facing string through gettext (Babel), in French or English.

French is the reference language: the message ids in the code are the French text, so a
French reader sees them as written, and ``rcp/locale/en/LC_MESSAGES/messages.po`` holds the
English of each (``scripts/i18n.sh`` extracts, updates and compiles; ``tests/unit/
test_catalogue.py`` fails on a string that bypasses the catalogue or lacks its English).

Which language a string comes out in is decided where it is produced, not by the caller:

- in a Streamlit page, the page's language (the user's choice on "Mon compte", otherwise the
  browser's ``Accept-Language``), registered by ``rcp.ui.language`` as the *provider*;
- for something addressed to a person (an email, an SMS, a calendar file, the PDF sheet, a CSV
  export), the code that builds it wraps the building in ``with using(recipient_language(…))``;
- in an HTTP route, the request's language (set by ``rcp.web_i18n``'s middleware);
- otherwise French.

Module-level constants are marked with ``N_`` (extracted, not translated) and translated where
they are shown, with ``_(constant)``.
"""

from __future__ import annotations

import gettext as _gettext
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale

log = logging.getLogger(__name__)

FRENCH = "fr"
ENGLISH = "en"
LANGUAGES: tuple[str, ...] = (FRENCH, ENGLISH)
DEFAULT = FRENCH  # the reference language: message ids are French
# Each language named in itself (what a language menu shows).
NAMES: dict[str, str] = {FRENCH: "Français", ENGLISH: "English"}  # i18n: exempt (own names)
# The locale of dates and numbers: French of France; British English ("1 December 2026",
# 24-hour clock) for the European panels.
FORMAT_LOCALES: dict[str, str] = {FRENCH: "fr_FR", ENGLISH: "en_GB"}

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

_override: ContextVar[str | None] = ContextVar("rcp_language", default=None)
_provider: Callable[[], str | None] | None = None


def normalize(language: str | None) -> str | None:
    """``"en-GB"``, ``"EN"``, ``"en_US"`` → ``"en"``; None for anything not supported."""
    if not language:
        return None
    primary = re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()
    return primary if primary in LANGUAGES else None


_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?")


def negotiate(accept_language: str | None) -> str:
    """The language for a browser's ``Accept-Language`` header (RFC 9110 quality values).

    The first supported language by preference wins; a browser that asks only for other
    languages (a German or Italian member of a European panel) gets English, the panels'
    common language; no header at all gets French.
    """
    if not accept_language or not accept_language.strip():
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        match = _RANGE.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranked.append((-quality, position, match.group(1)))
    for _quality, _position, tag in sorted(ranked):
        if tag == "*":
            return DEFAULT
        found = normalize(tag)
        if found:
            return found
    return ENGLISH if ranked else DEFAULT


def set_language_provider(provider: Callable[[], str | None] | None) -> None:
    """Register where the current language comes from when no ``using`` block is open
    (``rcp.ui.language``: the Streamlit page's language)."""
    global _provider
    _provider = provider


def current() -> str:
    """The language strings are produced in right now."""
    language = _override.get()
    if language:
        return language
    if _provider is not None:
        try:
            provided = normalize(_provider())
        except Exception:  # noqa: BLE001 - a failing provider must not break a message
            provided = None
        if provided:
            return provided
    return DEFAULT


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Produce strings in ``language`` inside the block (unsupported or None: French)."""
    chosen = normalize(language) or DEFAULT
    token = _override.set(chosen)
    try:
        yield chosen
    finally:
        _override.reset(token)


def set_request_language(language: str | None) -> Any:
    """For a middleware: the language of the current request; returns a token for reset."""
    return _override.set(normalize(language) or DEFAULT)


def reset_request_language(token: Any) -> None:
    _override.reset(token)


def recipient_language(person: Any, *, rcp: Any = None) -> str:
    """The language to write to ``person`` in: their own choice ("Mon compte"); if they made
    none, the language of the RCP the message is about (a panel that works in English writes
    to its members in English), else the current one (their own browser's, when they asked
    for the message themselves: a sign-in code, a password reset)."""
    own = normalize(getattr(person, "language", None)) if person is not None else None
    if own:
        return own
    panel = normalize(getattr(rcp, "language", None)) if rcp is not None else None
    return panel or current()


# --- catalogues -------------------------------------------------------------------------------


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``language`` (French: none, the ids are French).

    ``scripts/setup.sh`` compiles the ``.mo`` files (``scripts/i18n.sh compile``); one that is
    missing or older than its ``.po`` (a checkout without the install step) is compiled in
    memory from the ``.po`` instead, so that a server never speaks an outdated catalogue.
    """
    if language == DEFAULT:
        return _gettext.NullTranslations()
    po, mo = po_path(language), mo_path(language)
    if not po.exists():
        log.error("No catalogue for language %s (%s): French is shown", language, po)
        return _gettext.NullTranslations()
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return _gettext.GNUTranslations(fh)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    log.warning("%s is missing or older than its .po: compiled in memory", mo.name)
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str) -> str:
    """``message`` (its French text) in the current language."""
    language = current()
    if language == DEFAULT:
        return message
    return translations(language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (French: 0 and 1 take
    the singular, "0 inscription en attente"); the caller formats ``n`` into it."""
    language = current()
    if language == DEFAULT:
        return singular if Locale.parse(FORMAT_LOCALES[DEFAULT]).plural_form(n) == "one" else plural
    return translations(language).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in a context (the same French word translated two ways)."""
    language = current()
    if language == DEFAULT:
        return message
    return translations(language).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark a constant for extraction; translate it where it is shown, with ``_(constant)``."""
    return message


_ = gettext


def label(labels: dict[Any, str], key: Any, default: str | None = None) -> str:
    """The translated label of ``key`` in a table of ``N_``-marked labels (an internal code
    is never shown raw: an unknown key gives ``default``, or the key itself)."""
    text = labels.get(key)
    if text is None:
        return default if default is not None else str(key)
    return gettext(text)
