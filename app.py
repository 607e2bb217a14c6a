"""ASGI entry that `streamlit run app.py` starts: Streamlit plus our HTTP routes and headers."""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rcp import startup, warmup, web
from rcp.ui import failsafe, server_stats

# Uvicorn imports this module once its socket is bound: the address and port are final.
startup.announce(st.config.get_option("server.address"), st.config.get_option("server.port"))
# rcp_app.py builds the menu with st.navigation. Until a first st.navigation call, Streamlit
# treats a pages/ folder beside the script as an old-style multipage app: the first page
# load after a start then resolved the URL against file names and opened its English "Page
# not found" dialog for /acces-cas, /mes-cas or any unknown address.
PagesManager.uses_pages_directory = False
server_stats.install()  # sessions, held uploads and rooms in /metrics
warmup.start()  # PDF fonts and plotting, before the first "Valider l'avis"

app = st.App(
    "rcp_app.py",
    routes=web.routes(),
    middleware=web.middleware(),
    on_script_error=failsafe.on_script_error,
    lifespan=web.lifespan,
)
