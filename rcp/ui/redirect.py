"""Sending the browser to one of app.py's HTTP routes (they set or clear the cookie)."""

from __future__ import annotations

import streamlit as st

from rcp.i18n import _


def browser_redirect(url: str) -> None:
    """Navigate the whole tab to ``url`` (a same-origin path).

    Streamlit has no public call for this. ``st.login``/``st.logout`` do it with the
    ``auth_redirect`` forward message, whose frontend handler sets ``window.location``; we
    reuse that message, here and only here. A visible link is shown as well, in case the
    message is not honoured (and for AppTest, which has no frontend).
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if not url.startswith("/") or url.startswith("//"):
        raise ValueError("only same-origin paths may be redirected to")
    ctx = get_script_run_ctx()
    if ctx is not None:
        msg = ForwardMsg()
        msg.auth_redirect.url = url
        ctx.enqueue(msg)
    st.link_button(_("Continuer"), url, type="primary")
