"""Breadcrumbs and links between the directory levels (each level has its own page and URL)."""

from __future__ import annotations

import streamlit as st

from rcp.dates import format_time
from rcp.directory import Trail
from rcp.i18n import _

DIRECTORY_PAGE = "pages/rcp.py"
NETWORK_PAGE = "pages/filiere.py"
FAMILY_PAGE = "pages/famille.py"
RCP_PAGE = "pages/fiche_rcp.py"
MEETING_PAGE = "pages/seance.py"


def breadcrumbs(trail: Trail | None = None, *, network=None, family=None, here: str = "") -> None:
    """'RCP › ORKID › famille › RCP › here', every level but the last a link."""
    if trail is not None:
        network, family = trail.network, trail.family
    if trail is not None and here and family is not None and family.name == trail.rcp.name:
        family = None  # "famille X › RCP X": the RCP's link alone, not the same name twice
    with st.container(horizontal=True, gap="small", key="breadcrumbs"):
        st.page_link(DIRECTORY_PAGE, label=_("RCP"), icon=":material/account_tree:")
        if network is not None:
            st.markdown("›")
            st.page_link(NETWORK_PAGE, label=network.code, query_params={"id": network.id})
        if family is not None:
            st.markdown("›")
            st.page_link(FAMILY_PAGE, label=family.name, query_params={"id": family.id})
        if trail is not None and here:
            st.markdown("›")
            st.page_link(RCP_PAGE, label=trail.rcp.name, query_params={"id": trail.rcp.id})
        if here:
            st.markdown(f"› **{here}**")


def meeting_label(title: str, starts_at) -> str:
    """'RCP X du 2 décembre 2026 à 14:00': a meeting in a list, with its time."""
    return _("{title} à {time}").format(title=title, time=format_time(starts_at))


def meeting_link(meeting_id: int, label: str, *, icon: str = ":material/event:") -> None:
    st.page_link(MEETING_PAGE, label=label, icon=icon, query_params={"id": meeting_id})


def query_int(name: str) -> int | None:
    """An integer query parameter, or None when absent or not a number."""
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None
