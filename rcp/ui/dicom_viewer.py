"""The DICOM viewer widget: series, slice slider, window presets or manual level/width."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from rcp import attachments, dicom
from rcp.errors import RcpError
from rcp.ui import protected
from rcp.ui import uploads as ui_uploads
from rcp.ui.context import show_error

MANUAL = "Manuel"


def render(series_list: list[attachments.SeriesView], *, key_prefix: str) -> None:
    """Show the case's series: headers read once per series, slices drawn by a route."""
    if not series_list:
        return
    labels = {i: s.label for i, s in enumerate(series_list)}
    index = 0
    if len(series_list) > 1:
        index = st.selectbox(
            "Série", list(labels), format_func=labels.get, key=f"{key_prefix}_series"
        )
    series = series_list[index]
    try:
        with st.spinner("Décodage de la série…"):
            volume = attachments.load_series(series)
    except RcpError as error:
        show_error(error)
        return
    count = len(volume)
    image_col, controls_col = st.columns([3, 2], gap="medium")
    with controls_col:
        position = 0
        if count > 1:
            position = (
                st.slider(
                    "Coupe", 1, count, (count + 1) // 2, key=f"{key_prefix}_slice_{series.uid}"
                )
                - 1
            )
        center = width = None
        if not volume.is_color(position):
            presets = dicom.WINDOW_PRESETS
            options = [
                "Fichier" if volume.window_source == "fichier" else "Auto",
                *[p.label for p in presets.values()],
                MANUAL,
            ]
            choice = st.radio(
                "Fenêtre", options, horizontal=True, key=f"{key_prefix}_window_{series.uid}"
            )
            if choice == MANUAL:
                c1, c2 = st.columns(2)
                center = c1.number_input(
                    "Niveau",
                    value=float(volume.default_center or 40),
                    step=10.0,
                    key=f"{key_prefix}_level_{series.uid}",
                )
                width = c2.number_input(
                    "Largeur",
                    value=float(volume.default_width or 400),
                    min_value=1.0,
                    step=10.0,
                    key=f"{key_prefix}_width_{series.uid}",
                )
            else:
                preset = next((p for p in presets.values() if p.label == choice), None)
                if preset is not None:
                    center, width = preset.center, preset.width
        with st.expander("Informations de l'examen", expanded=False):
            rows = dicom.display_metadata(series.first_summary)
            st.table({"": [label for label, _ in rows], "valeur": [value for _, value in rows]})
    if not volume.is_color(position) and (center is None or width is None):
        center, width = volume.default_center, volume.default_width
    key, frame = volume.frame_refs[position]
    hold(series.keys)
    with image_col:
        # The slice is drawn by the authenticated, audited route (never st.image bytes).
        protected.image(
            protected.frame_url(series.attachment_of(key), frame, center=center, width=width),
            alt=f"Coupe {position + 1} sur {count}",
            caption=f"Coupe {position + 1} / {count}",
            size=(
                int(series.first_summary.get("columns") or 0),
                int(series.first_summary.get("rows") or 0),
            ),
        )


def hold(keys: tuple[str, ...]) -> None:
    """This browser session shows these files: their decoded frames may stay in memory
    (within the cache budget) until the session ends or shows another series."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    ui_uploads.ensure_sweeper()
    dicom.hold(ctx.session_id, keys)
