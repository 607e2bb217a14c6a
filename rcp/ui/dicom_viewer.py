"""The case's DICOM viewer: a Streamlit custom component running Cornerstone3D in the browser.

The frontend (``rcp/ui/viewer_client``: sources, ``package-lock.json``, ``build.mjs``) is built
by ``scripts/setup.sh`` into ``viewer_client/dist``, which Streamlit serves as the component.
Python only hands it the list of the case's series (attachment ids and frame counts, in slice
order); the browser fetches each file from ``/files/<id>?view=1`` (session cookie, permission
check, audit once per file, login session and day) and decodes it at native resolution and
bit depth. Nothing of a patient goes through ``/media``, and the server decodes nothing to
show a series.

Tests replace :func:`component` (AppTest cannot run custom components).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
import streamlit.components.v1 as components

from rcp import attachments
from rcp.i18n import N_, _

DIST = Path(__file__).resolve().parent / "viewer_client" / "dist"
NOT_BUILT = N_(
    "Le visualiseur d'images n'est pas installé sur ce serveur (paquet du navigateur absent). "
    "Prévenez l'administrateur : `bash scripts/setup.sh` l'installe."
)

_component = None


def _declared() -> Any:
    global _component
    if _component is None:
        _component = components.declare_component("rcp_dicom_viewer", path=str(DIST))
    return _component


def is_built() -> bool:
    return (DIST / "index.html").is_file() and (DIST / "viewer.js").is_file()


def series_args(series_list: list[attachments.SeriesView]) -> list[dict[str, Any]]:
    """What the browser needs of each series: ids and frame counts in slice order, a label."""
    return [
        {
            "uid": s.uid,
            "label": s.label,
            "modality": s.first_summary.get("modality") or "",
            "description": s.first_summary.get("series_description") or "",
            "images": [[attachment_id, frames] for attachment_id, frames in s.files],
        }
        for s in series_list
    ]


def component(
    *,
    series: list[dict[str, Any]],
    key: str,
    sync: dict[str, str] | None = None,
    margin: int = 150,
) -> Any:
    """Mount the viewer; ``sync`` = ``{"mode": "present"|"follow", "url": ...}`` shares it."""
    return _declared()(series=series, sync=sync, margin=margin, key=key, default=None)


def render(
    series_list: list[attachments.SeriesView],
    *,
    case_id: int,
    key_prefix: str,
    sync: dict[str, str] | None = None,
) -> None:
    """Show the case's series in the browser viewer (nothing when the case has none)."""
    if not series_list:
        return
    if not is_built():
        st.error(_(NOT_BUILT), icon=":material/error:")
    else:
        component(series=series_args(series_list), key=f"{key_prefix}_viewer", sync=sync)
    downloads(case_id, series_list, key_prefix=key_prefix)


def download_url(case_id: int, series_uid: str, *, deidentified: bool) -> str:
    query = {"uid": series_uid, **({"deid": "1"} if deidentified else {})}
    return f"/cases/{int(case_id)}/series.zip?{urlencode(query)}"


def downloads(case_id: int, series_list: list[attachments.SeriesView], *, key_prefix: str) -> None:
    """Links to the authenticated, audited zip route: as stored, or de-identified."""
    with st.expander(_("Télécharger une série DICOM"), icon=":material/download:"):
        index = 0
        if len(series_list) > 1:
            labels = {i: s.label for i, s in enumerate(series_list)}
            index = st.selectbox(
                _("Série"), list(labels), format_func=labels.get, key=f"{key_prefix}_download"
            )
        uid = series_list[index].uid
        left, right = st.columns(2)
        left.link_button(
            _("Telle quelle (.zip)"),
            download_url(case_id, uid, deidentified=False),
            icon=":material/download:",
            width="stretch",
        )
        right.link_button(
            _("Anonymisée (.zip)"),
            download_url(case_id, uid, deidentified=True),
            icon=":material/visibility_off:",
            width="stretch",
        )
        st.caption(
            _(
                "Chaque téléchargement est inscrit au journal d'audit. L'anonymisation suit le "
                "profil de base de la norme DICOM (PS3.15) : noms, identifiants, dates, textes "
                "libres et UID de l'en-tête sont retirés ou remplacés. Le texte incrusté dans "
                "l'image elle-même (échographie, capture d'écran) n'est pas effacé."
            )
        )
