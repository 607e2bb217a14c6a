"""Patient images and documents shown through the authenticated routes (rcp/web_files.py).

``st.image(bytes)`` and ``st.download_button`` put patient bytes under ``/media/…``, served to
anyone holding the URL, unaudited. Pages show an ``<img>`` of a same-origin route instead (the
browser sends the HttpOnly session cookie; the route checks it and audits), and link to the
routes for PDFs.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

import streamlit as st


def image_url(attachment_id: int) -> str:
    return f"/files/{int(attachment_id)}/image"


def frame_url(attachment_id: int, frame: int, *, center: float | None, width: float | None) -> str:
    params = {}
    if center is not None and width is not None:
        params = {"c": f"{float(center):g}", "w": f"{float(width):g}"}
    query = f"?{urlencode(params)}" if params else ""
    return f"/files/{int(attachment_id)}/frames/{int(frame)}.png{query}"


def labs_url(case_id: int) -> str:
    return f"/cases/{int(case_id)}/labs.png"


def sheet_url(case_id: int, version: int | None = None) -> str:
    query = f"?version={int(version)}" if version is not None else ""
    return f"/cases/{int(case_id)}/sheet.pdf{query}"


def sheet_preview_url(case_id: int) -> str:
    return f"/cases/{int(case_id)}/sheet-preview.pdf"


def journal_csv_url(query: dict[str, str]) -> str:
    """The audit log's CSV export (``rcp.web_admin``) for a filter's URL parameters."""
    return "/admin/journal.csv" + (f"?{urlencode(query)}" if query else "")


def key_image_url(case_id: int, attachment_id: int, frame: int) -> str:
    query = urlencode({"attachment": int(attachment_id), "frame": int(frame)})
    return f"/cases/{int(case_id)}/key-image.png?{query}"


def image(
    url: str,
    *,
    alt: str,
    caption: str = "",
    max_width: int | None = None,
    size: tuple[int, int] | None = None,
) -> None:
    """An ``<img>`` of one of our routes (escaped), with an optional caption below it.

    ``size`` (width, height in pixels) reserves the image's place while it loads, so that the
    page does not jump when the next slice replaces this one.
    """
    if not url.startswith("/") or url.startswith("//"):
        raise ValueError("only same-origin routes may be shown")
    style = "max-width:100%;height:auto;display:block;"
    if size is not None and size[0] > 0 and size[1] > 0:
        style += f"aspect-ratio:{int(size[0])}/{int(size[1])};"
    if max_width is not None:
        style += f"width:{int(max_width)}px;"
    else:
        style += "width:100%;"
    st.html(
        f'<img class="rcp-protected" src="{escape(url, quote=True)}" '
        f'alt="{escape(alt, quote=True)}" style="{style}">'
    )
    if caption:
        st.caption(caption)
