"""Glue for the video room page: the process-wide room registry, screen receivers, leaving.

All participants of a meeting must be served by this process (sticky sessions by meeting):
the registry is process memory (rcp.room). Attendance lives in the database (rcp.attendance).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import streamlit as st
from sqlalchemy.engine import Engine

from rcp import attendance
from rcp.config import get_settings
from rcp.db import session_scope
from rcp.models import User
from rcp.room import ParticipantKey, Room, RoomRegistry, ScreenReceiver
from rcp.ui import webrtc

logger = logging.getLogger(__name__)

# A participant who sent no media for this long is taken out of the room (closed tab, dead
# network); it matches the presence timeout of the meeting page (meeting_live).
PRUNE_IDLE_S = 60.0


@dataclass
class ScreenReceivers:
    """The screen-share receivers of this process, one per (meeting, presenter)."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _by_key: dict[tuple[int, ParticipantKey], ScreenReceiver] = field(default_factory=dict)

    def get(self, meeting_id: int, key: ParticipantKey) -> ScreenReceiver | None:
        with self._lock:
            return self._by_key.get((meeting_id, key))

    def for_presenter(self, meeting_id: int, key: ParticipantKey, room: Room) -> ScreenReceiver:
        with self._lock:
            receiver = self._by_key.get((meeting_id, key))
            if receiver is None or receiver.room is not room:
                receiver = ScreenReceiver(room, key, ice_servers=get_settings().ice_servers)
                self._by_key[(meeting_id, key)] = receiver
            return receiver

    def pop(self, meeting_id: int, key: ParticipantKey) -> ScreenReceiver | None:
        with self._lock:
            return self._by_key.pop((meeting_id, key), None)

    def presenters(self, meeting_id: int) -> list[ParticipantKey]:
        with self._lock:
            return [k for (m, k), r in self._by_key.items() if m == meeting_id and r.active]


@st.cache_resource(show_spinner=False)
def registry() -> RoomRegistry:
    """The rooms of this server process (shared by every browser session)."""
    return RoomRegistry()


@st.cache_resource(show_spinner=False)
def receivers() -> ScreenReceivers:
    return ScreenReceivers()


def stop_screen(meeting_id: int, key: ParticipantKey) -> None:
    """Close a presenter's screen receiver, if any (the room goes back to the grid)."""
    receiver = receivers().pop(meeting_id, key)
    if receiver is not None and receiver.active:
        try:
            webrtc.run_on_media_loop(receiver.close(), timeout=10)
        except Exception:  # noqa: BLE001 - a dead loop must not keep the user in the room
            logger.exception("closing the screen receiver of %s failed", key)


def record_leave(engine: Engine, meeting_id: int, user_id: int) -> None:
    """Write the leave (and end a screen grant) in one short session."""
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        if user is not None:
            attendance.record_leave(session, actor=user, meeting_id=meeting_id)


def seat_elsewhere(rooms: RoomRegistry, meeting_id: int, user_id: int, seat: str | None) -> bool:
    """True when another tab of this user holds their seat in the room."""
    room = rooms.get(meeting_id)
    held_by = None if room is None else room.seat_of(user_id)
    return seat is not None and held_by is not None and held_by != seat


def leave(engine: Engine, meeting_id: int, user_id: int, seat: str | None = None) -> None:
    """From a script thread: out of the room (tracks stopped), screen closed, leave recorded.

    Nothing happens when the user's seat moved to another tab: they are still in the room.
    """
    rooms = registry()
    if seat_elsewhere(rooms, meeting_id, user_id, seat):
        return
    rooms.leave(meeting_id, user_id, seat=seat)
    stop_screen(meeting_id, user_id)
    record_leave(engine, meeting_id, user_id)


def leave_from_media_loop(
    rooms: RoomRegistry,
    screens: ScreenReceivers,
    engine: Engine,
    meeting_id: int,
    user_id: int,
    seat: str | None = None,
) -> None:
    """From aiortc's event loop (a sink's on_ended): in-memory leave now, DB write in a thread.

    The loop is Streamlit's server loop: a database write there (SQLite waits up to 10 s for
    the write lock) would stall every session. Nothing happens when the seat moved away.
    """
    if seat_elsewhere(rooms, meeting_id, user_id, seat):
        return
    rooms.leave(meeting_id, user_id, seat=seat)
    receiver = screens.pop(meeting_id, user_id)
    if receiver is not None and receiver.active:
        asyncio.get_running_loop().create_task(receiver.close())

    def write() -> None:
        try:
            record_leave(engine, meeting_id, user_id)
        except Exception:  # noqa: BLE001 - logged; the stay closes by staleness anyway
            logger.exception("recording the leave of user %s failed", user_id)

    threading.Thread(target=write, name=f"room-leave-{user_id}", daemon=True).start()
