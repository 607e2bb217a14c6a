"""The Streamlit script: page config, the sign-in gate and the menu built from the user's roles."""

from pathlib import Path

import streamlit as st

from rcp import metrics
from rcp.config import get_settings
from rcp.i18n import N_
from rcp.ui import chrome, failsafe, keys, language, navigation
from rcp.ui.context import current_user, requested_path

settings = get_settings()
FAVICON = str(Path(__file__).parent / "rcp" / "ui" / "assets" / "favicon.png")
# A local icon: ":material/…" icons make the browser fetch the favicon from a Google font
# server (a request leaving the platform, refused by its Content-Security-Policy).
st.set_page_config(page_title=settings.platform_name, page_icon=FAVICON, layout="wide")

chrome.finish_sign_out()
user = current_user()
language.activate(user)  # every string of this run, pages and services, in this language

path = requested_path()
if user is None:
    if path.split("?", 1)[0] not in navigation.PUBLIC_PATHS:
        # Remembered so that a link from an email opens the right page after sign-in.
        st.session_state[keys.NEXT_URL] = path
    nav = st.navigation(navigation.build(None, path)[""], position="hidden")
    chrome.public_header()
else:
    nav = st.navigation(navigation.build(user, path), position="top")
    chrome.signed_in_header(user)

# A failure anywhere in the page shows a message with a reference after what was drawn.
with metrics.page_run(nav.url_path), failsafe.section(N_("Cette page"), replace=False):
    nav.run()
