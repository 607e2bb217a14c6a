"""ASGI entry that `streamlit run app.py` starts: Streamlit plus our HTTP routes and headers."""

import streamlit as st

from rcp import web
from rcp.ui import failsafe

app = st.App(
    "rcp_app.py",
    routes=web.routes(),
    middleware=web.middleware(),
    on_script_error=failsafe.on_script_error,
)
