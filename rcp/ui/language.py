"""The language of a Streamlit page: the user's choice ("Mon compte"), else the browser's.

``rcp_app.py`` calls :func:`activate` at the start of every run; the choice is kept in the
session state so that widget callbacks, which Streamlit runs before the script, speak it too.
Strings are then translated wherever they are produced (``rcp.i18n``), pages and services
alike, through the provider registered below.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rcp import i18n
from rcp.models import User
from rcp.ui import keys


def browser_language() -> str:
    """The language the browser asks for (``Accept-Language`` of the page's connection)."""
    try:
        header = st.context.headers.get("Accept-Language", "")
    except Exception:  # noqa: BLE001 - no browser context (bare script run, AppTest)
        header = ""
    return i18n.negotiate(header if isinstance(header, str) else "")


def page_language(user: User | None) -> str:
    """The user's own choice, or the browser's language."""
    return i18n.normalize(user.language if user is not None else None) or browser_language()


def activate(user: User | None) -> str:
    """Make ``user``'s language the language of this run (and of the callbacks of the next)."""
    language = page_language(user)
    st.session_state[keys.LANGUAGE] = language
    return language


def _session_language() -> str | None:
    if get_script_run_ctx() is None:
        return None
    try:
        return st.session_state.get(keys.LANGUAGE)
    except Exception:  # noqa: BLE001 - outside a session (bare script run)
        return None


i18n.set_language_provider(_session_language)
