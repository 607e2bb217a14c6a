"""The meeting page's ear: an invisible component that reruns its fragment on each change.

``frontend/index.html`` opens an ``EventSource`` on ``/events/meeting/<id>`` (rcp.live_web):
the server pushes an event whenever something the page shows changes (rcp.events), and the
component's value changes, which reruns only the fragment that holds it. The page no longer
polls every two seconds; a slow refresh stays as a safety net.

Tests replace :func:`listen` (AppTest cannot run custom components).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

FRONTEND = Path(__file__).resolve().parent / "frontend"
_component = components.declare_component("rcp_live_events", path=str(FRONTEND))


def listen(key: str, *, meeting_id: int) -> Any:
    """Listen to the meeting's changes; returns the last ``{"changes", "reason"}`` value."""
    return _component(key=key, url=f"/events/meeting/{meeting_id}", default=None)
