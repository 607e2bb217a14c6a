"""A presenter's shared screen arriving over its own aiortc connection."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from rcp.room.constants import ParticipantKey
from rcp.room.core import NotInRoom, Room
from rcp.room.tracks import consume_track

# --------------------------------------------------------------------------- screen share


class ScreenReceiver:
    """One presenter's shared screen arriving over its own aiortc connection.

    The room component (``rcp/ui/room_client``) captures with getDisplayMedia on its own
    send-only connection and posts a complete (non-trickle) SDP offer (``rcp.rtc``).
    :meth:`accept` answers it; every incoming video frame goes to :meth:`Room.push_screen`.
    The room shows the screen large from the first frame (``Room.grant_screen``) and goes
    back to the grid when the track ends or on :meth:`close`.
    Permission (who may share) is the caller's business: ``rcp.attendance.may_share_screen``.
    Run :meth:`accept` and :meth:`close` on the event loop that drives aiortc.
    """

    def __init__(
        self, room: Room, key: ParticipantKey, *, ice_servers: Sequence[Mapping[str, object]] = ()
    ) -> None:
        self.room = room
        self.key = key
        self._ice_servers = [dict(s) for s in ice_servers]
        self._pc: RTCPeerConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames = 0

    async def accept(self, offer_sdp: str) -> str:
        """Answer the browser's offer (its ICE candidates included); returns the answer SDP."""
        await self.close()
        config = RTCConfiguration(iceServers=[RTCIceServer(**s) for s in self._ice_servers])
        pc = RTCPeerConnection(configuration=config)
        self._pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self._task is None:
                self._task = asyncio.ensure_future(self._consume(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and self._pc is pc:
                await self.close()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers ICE here
        return pc.localDescription.sdp

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            await consume_track(track, self._ingest)
        finally:
            self._end_share()

    def _ingest(self, frame: object) -> None:
        if not isinstance(frame, av.VideoFrame):
            return
        if self.frames == 0 or self.room.screen_owner != self.key:
            try:
                self.room.grant_screen(self.key)
            except NotInRoom:
                return  # the presenter left the room: drop the frame
        self.room.push_screen(self.key, frame)
        self.frames += 1

    def _end_share(self) -> None:
        if self.room.screen_owner == self.key:
            self.room.revoke_screen()

    @property
    def active(self) -> bool:
        return self._pc is not None

    async def close(self) -> None:
        """Stop receiving; the room goes back to the grid if this presenter was shown."""
        pc, task = self._pc, self._task
        self._pc, self._task = None, None
        if task is not None:
            task.cancel()
        if pc is not None:
            await pc.close()
        self._end_share()
        self.frames = 0
