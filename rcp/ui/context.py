"""Engine cache, database sessions, the signed-in user and page guards for Streamlit pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rcp import audit, auth
from rcp.browser_key import COOKIE as BROWSER_COOKIE
from rcp.config import get_settings
from rcp.db import make_engine, session_scope
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.models import User
from rcp.permissions import is_admin
from rcp.ui import keys


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    return _engine(get_settings().effective_database_url)


@contextmanager
def db() -> Iterator[Session]:
    """A database session for one page action; closed at the end."""
    with session_scope(engine()) as session:
        yield session


def session_token() -> str | None:
    """The opaque token from the HttpOnly cookie set by app.py's route (or a test's)."""
    if keys.TEST_TOKEN in st.session_state:
        return st.session_state[keys.TEST_TOKEN]
    try:
        value = st.context.cookies.get(get_settings().cookie_name)
    except Exception:  # noqa: BLE001 - no browser context (bare script run)
        return None
    # AppTest hands out mock objects for browser context: only a real string is a token.
    return value if isinstance(value, str) else None


def browser_key() -> str:
    """This browser's ``rcp_browser`` cookie (rcp.browser_key), or "" when it has none."""
    try:
        value = st.context.cookies.get(BROWSER_COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (bare script run)
        return ""
    return value if isinstance(value, str) else ""


def current_user(*, touch: bool = True) -> User | None:
    """The signed-in active user, or None; checked against the database on every call."""
    token = session_token()
    if not token:
        return None
    with db() as session:
        return auth.authenticate(session, token=token, touch=touch)


def client_ip() -> str:
    """The browser's address (behind the proxy: from its X-Forwarded-For, see rcp.audit)."""
    try:
        value = st.context.ip_address
    except Exception:  # noqa: BLE001
        return ""
    if isinstance(value, str):
        return value
    # Streamlit answers None for a browser on this very machine (127.0.0.1 or ::1).
    return "127.0.0.1" if value is None and get_script_run_ctx() is not None else ""


def _script_address() -> str:
    return client_ip() if get_script_run_ctx() is not None else ""


# Every audit event recorded during a script run carries the browser's address.
audit.set_address_provider(_script_address)


def user_agent() -> str:
    try:
        value = st.context.headers.get("User-Agent", "")
    except Exception:  # noqa: BLE001
        return ""
    return value if isinstance(value, str) else ""


def requested_path() -> str:
    """Path and query of the URL the browser opened (for the after-sign-in redirect)."""
    try:
        url = st.context.url
    except Exception:  # noqa: BLE001
        return "/"
    if not isinstance(url, str):
        return "/"
    path = urlsplit(url).path or "/"
    # The frontend reports the URL without its query string; Streamlit keeps it apart.
    query = urlencode(st.query_params.to_dict())
    return path + (f"?{query}" if query else "")


def require_user() -> User:
    """Every protected page starts with this: a page hidden from the menu is still a URL."""
    user = current_user()
    if user is None:
        st.warning(
            _("Votre session a expiré ou vous n'êtes pas connecté. Connectez-vous à nouveau.")
        )
        st.page_link("pages/connexion.py", label=_("Se connecter"), icon=":material/login:")
        st.stop()
    return user


def require_admin_page() -> User:
    user = require_user()
    if not is_admin(user):
        st.error(_("Cette page est réservée aux administrateurs de la plateforme."))
        st.stop()
    return user


def show_error(error: RcpError) -> None:
    st.error(str(error), icon=":material/error:")


def flash(message: str) -> None:
    """A success message shown once, after the next rerun."""
    st.session_state[keys.FLASH] = message


def show_flash() -> None:
    message = st.session_state.pop(keys.FLASH, None)
    if message:
        st.success(message, icon=":material/check_circle:")
