"""Figures only the Streamlit side of this process can read, for /metrics (rcp.metrics).

Browser sessions come from Streamlit's runtime, held uploads from the upload gate
(rcp.uploads) or Streamlit's stats; rooms and participants from
the video room registry through :func:`rooms_snapshot`, which reads only
``RoomRegistry.meeting_ids()``, ``RoomRegistry.get()``, ``Room.closed`` and
``Room.participants()`` and gives None when no registry can be found (the room code may move
without breaking the metrics: the room figures are then left out of the scrape).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rcp import metrics, uploads

log = logging.getLogger(__name__)

# A registry kept by st.cache_resource, read from /metrics (no script run in that thread),
# makes Streamlit log "missing ScriptRunContext" at every scrape: silenced for that read only.
_reading = threading.local()


class _QuietWhileReading(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_reading, "active", False)


_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


@dataclass(frozen=True)
class RoomsSnapshot:
    rooms: int
    participants: int


def _runtime() -> Any | None:
    from streamlit.runtime import Runtime

    return Runtime.instance() if Runtime.exists() else None


def browser_sessions() -> int | None:
    """Browser sessions (websockets) connected to this process, or None without a runtime."""
    runtime = _runtime()
    manager = getattr(runtime, "_session_mgr", None)
    if manager is None:
        return None
    return int(manager.num_active_sessions())


def upload_bytes_held() -> int | None:
    """Bytes of uploads held in memory: the upload gate's count (files Streamlit keeps plus
    uploads in flight) once a page armed it, else Streamlit's own stats; None without one."""
    gate = uploads.gate()
    if gate.probe is not None:
        return gate.held_total()
    runtime = _runtime()
    manager = getattr(runtime, "uploaded_file_mgr", None)
    if manager is None:
        return None
    stats = manager.get_stats()
    return sum(stat.byte_length for family in stats.values() for stat in family)


def _find_registry() -> Any | None:
    """The process's room registry: the app's media hub (rcp.room.hub) holds it."""
    from rcp.room.hub import get_hub

    return get_hub().rooms


def _is_registry(value: Any) -> bool:
    return callable(getattr(value, "meeting_ids", None)) and callable(getattr(value, "get", None))


def rooms_snapshot(find: Callable[[], Any | None] = _find_registry) -> RoomsSnapshot | None:
    """Open rooms of this process and the participants in them, or None without a registry."""
    _reading.active = True
    try:
        registry = find()
    finally:
        _reading.active = False
    if registry is None:
        return None
    rooms = participants = 0
    for meeting_id in registry.meeting_ids():
        room = registry.get(meeting_id)
        if room is None or getattr(room, "closed", False):
            continue
        rooms += 1
        participants += len(room.participants())
    return RoomsSnapshot(rooms=rooms, participants=participants)


def figures() -> dict[str, float | None]:
    """The live figures of rcp.metrics.LIVE_FIGURES that this side reads."""
    snapshot = rooms_snapshot()
    return {
        "rcp_browser_sessions": browser_sessions(),
        "rcp_upload_bytes_held": upload_bytes_held(),
        "rcp_rooms": None if snapshot is None else snapshot.rooms,
        "rcp_room_participants": None if snapshot is None else snapshot.participants,
    }


def install() -> None:
    """Report these figures at every /metrics scrape (app.py, once per process)."""
    logger = logging.getLogger(_CONTEXT_LOGGER)
    if not any(isinstance(f, _QuietWhileReading) for f in logger.filters):
        logger.addFilter(_QuietWhileReading())
    metrics.add_source(figures)
