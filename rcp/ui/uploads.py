"""File uploaders that arm the upload gate, and the release of consumed files (rcp.uploads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

from rcp import uploads
from rcp.models import User


class StreamlitProbe:
    """What rcp.uploads needs to know of the running Streamlit server."""

    @staticmethod
    def _manager() -> Any | None:
        if not Runtime.exists():
            return None
        return Runtime.instance().uploaded_file_mgr

    def held_bytes(self) -> Mapping[str, int]:
        manager = self._manager()
        # MemoryUploadedFileManager keeps {session id: {file id: UploadedFileRec}}.
        storage = getattr(manager, "file_storage", None) or {}
        return {
            session_id: sum(len(rec.data) for rec in list(files.values()))
            for session_id, files in list(storage.items())
        }

    def is_active(self, session_id: str) -> bool:
        return Runtime.exists() and Runtime.instance().is_active_session(session_id)

    def drop(self, session_id: str) -> None:
        manager = self._manager()
        if manager is not None:
            manager.remove_session_files(session_id)


def ensure_sweeper() -> None:
    """Start the sweep of closed sessions (uploads, DICOM frames) once the server runs."""
    if uploads.gate().probe is None and Runtime.exists():
        uploads.install_probe(StreamlitProbe())


def file_uploader(user: User, label: str, **kwargs: Any) -> Any:
    """``st.file_uploader`` for a user the page has checked may add files.

    Only pages that may offer uploads call this: it lets the browser of this Streamlit
    session, signed in as ``user``, send files (rcp.uploads.UploadGuardMiddleware refuses any
    other upload).
    """
    ctx = get_script_run_ctx()
    if ctx is not None and user.id is not None:
        ensure_sweeper()
        uploads.gate().allow(ctx.session_id, user.id)
    return st.file_uploader(label, **kwargs)


def release(upload: UploadedFile) -> None:
    """Forget a file the page has consumed (stored, or refused with a message)."""
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    remove = getattr(ctx.uploaded_file_mgr, "remove_file", None)
    if remove is not None:
        remove(session_id=ctx.session_id, file_id=upload.file_id)
