"""ASGI entry that `streamlit run app.py` starts: Streamlit plus our HTTP routes and headers."""

import streamlit as st

from rcp import rtc, startup, warmup, web
from rcp.ui import failsafe, server_stats

# Uvicorn imports this module once its socket is bound: the address and port are final.
startup.announce(st.config.get_option("server.address"), st.config.get_option("server.port"))
server_stats.install()  # sessions, held uploads and rooms in /metrics
warmup.start()  # PDF fonts and plotting, before the first "Valider l'avis"

app = st.App(
    "rcp_app.py",
    routes=web.routes(),
    middleware=web.middleware(),
    on_script_error=failsafe.on_script_error,
    lifespan=rtc.lifespan,
)
