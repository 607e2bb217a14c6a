"""No page hands bytes to Streamlit's media store: what it serves under ``/media/…`` goes to
anyone holding the URL, without a session check or an audit record (issue 14.6). Patient
images, sheets and the audit log leave through the routes of ``rcp/web_files.py`` and
``rcp/web_admin.py`` instead."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Streamlit calls whose data is stored in the media file manager and served from /media.
MEDIA_CALLS = {"download_button", "image", "audio", "video", "pdf"}
# Receivers of a call of the same name that is not Streamlit's: our own authenticated <img>
# (rcp.ui.protected) and fpdf2's documents.
NOT_STREAMLIT = {"protected", "pdf", "writer"}
# Allowed, with why: the equipment check's generated test tone (no personal data).
ALLOWED = {("pages/materiel.py", "st.audio")}


def _sources() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "rcp_app.py", *sorted((ROOT / "pages").glob("*.py"))]
    files += [p for p in sorted((ROOT / "rcp").rglob("*.py")) if "node_modules" not in p.parts]
    return [p for p in files if p.exists()]


def media_calls(source: str) -> list[str]:
    """``receiver.name`` of every call ``receiver.name(...)`` with ``name`` in MEDIA_CALLS,
    on ``st`` or on a container (a column, a form…)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        name = receiver.id if isinstance(receiver, ast.Name) else "…"
        if node.func.attr in MEDIA_CALLS and name not in NOT_STREAMLIT:
            found.append(f"{name}.{node.func.attr}")
    return found


def test_the_scanner_sees_calls_on_st_and_on_columns() -> None:
    assert media_calls("st.download_button('x', data=b'')") == ["st.download_button"]
    assert media_calls("col.image(b'...')") == ["col.image"]
    assert media_calls("st.columns(2)[0].pdf(b'%PDF')") == ["….pdf"]
    assert media_calls("st.link_button('x', '/cases/1/sheet.pdf')") == []
    assert media_calls("protected.image('/files/1/image', alt='x')") == []


def test_no_page_or_module_serves_bytes_from_media() -> None:
    found = {
        (str(path.relative_to(ROOT)), call)
        for path in _sources()
        for call in media_calls(path.read_text(encoding="utf-8"))
    }
    assert found - ALLOWED == set()
