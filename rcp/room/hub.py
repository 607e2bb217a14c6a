"""Every WebRTC connection of this server process: room seats, shared screens, equipment checks.

The browser's component (``rcp/ui/room_client``) sends one complete SDP offer (ICE candidates
included) to an HTTP route of the ``st.App`` (:mod:`rcp.rtc_web`), which checks the session
and the permission, then awaits :meth:`MediaHub.join_room` (or :meth:`share_screen`,
:meth:`start_check`) for the answer. No Streamlit script rerun sits between the click and the
answer, and the browser creates exactly one RTCPeerConnection per attempt: the join race of
streamlit-webrtc 0.79's frontend (start re-entered while it awaited a dynamic import, three
connections per click, the answer applied to the wrong one, a ~15.6 s ICE failure before the
library's restart) cannot happen here.

The hub is process memory owned by the app (created once, bound to the server's event loop by
the ``st.App`` lifespan), never a ``st.cache_resource``: a browser that sends ``clear_cache``
on the websocket wipes Streamlit's caches, not the rooms.

Threads: every aiortc object lives on the server's event loop. Script threads (pages) call the
synchronous methods (:meth:`leave`, :meth:`kick`, :meth:`stop_screen`, :meth:`check_probe`,
…), which schedule the loop's part with ``run_coroutine_threadsafe``. Attendance is written by
the caller's :class:`AttendanceSink` on one worker thread, in order (a leave never overtakes
its join), never on the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from rcp.errors import Conflict, InvalidInput
from rcp.i18n import N_, _
from rcp.room.core import NotInRoom, Room, RoomEvent, RoomRegistry
from rcp.room.screen import RoomScreenTrack, ScreenReceiver, SharedScreen
from rcp.room.tracks import consume_track, vp8_only

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The room hands aiortc packets it encoded itself: no connection may negotiate another codec.
vp8_only()

#: A seat whose browser sent neither media nor a ping for this long has gone (tab closed,
#: browser killed, laptop asleep, network down): out of everyone's picture, leave recorded.
IDLE_S = 6.0
#: A connection that has not connected this long after its answer is given up (the browser
#: retries by itself long before: see the component's watchdog).
CONNECT_TIMEOUT_S = 20.0
#: Attendance's ``last_seen_at`` is touched this often while a seat is connected
#: (attendance.HEARTBEAT_SECONDS is the promise: at most 30 s).
HEARTBEAT_S = 20.0
#: How often the hub looks for idle seats, late connections and expired checks.
WATCH_S = 1.0
#: Equipment checks: how many at once in this process, how many without a session, per
#: client address without a session, and for how long each.
MAX_CHECKS = 12
MAX_ANONYMOUS_CHECKS = 4
MAX_ANONYMOUS_CHECKS_PER_CLIENT = 2  # a hospital's doctors may share one address
CHECK_MAX_S = 600.0
#: An SDP offer from a browser is a few kB; anything much larger is refused before parsing.
MAX_SDP_BYTES = 64_000

#: What the browser is told when its seat ends for a reason it did not choose.
REPLACED_MESSAGE = N_(
    "Vous avez rejoint la salle depuis un autre onglet ou appareil : vous y êtes toujours. "
    "Cliquez sur « Reprendre ici » pour revenir dans cet onglet."
)


class AttendanceSink(Protocol):
    """Where the hub reports seats: written by the caller (database), on a worker thread."""

    def joined(self, meeting_id: int, user_id: int) -> None: ...

    def alive(self, meeting_id: int, user_id: int) -> None: ...

    def left(self, meeting_id: int, user_id: int) -> None: ...


class _NoAttendance:
    def joined(self, meeting_id: int, user_id: int) -> None:
        pass

    def alive(self, meeting_id: int, user_id: int) -> None:
        pass

    def left(self, meeting_id: int, user_id: int) -> None:
        pass


@dataclass(eq=False)
class Seat:
    """One browser tab's connection to a meeting's room (a reconnection is a new seat)."""

    meeting_id: int
    user_id: int
    seat: str  # the browser's name for this attempt
    room_seat: str  # unique in this process: the room's seat (rcp.room.core.Room.join)
    pc: RTCPeerConnection
    created_at: float
    channel: RTCDataChannel | None = None
    connected_at: float | None = None
    last_ping_at: float = 0.0
    last_beat_at: float = 0.0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    screen_track: RoomScreenTrack | None = None
    screen_sent: object = False  # the screen state last told to this seat (False: nothing yet)
    closed: bool = False


@dataclass(eq=False)
class Check:
    """One equipment check ("Tester mon matériel"): the camera echoed back, the mic measured."""

    check_id: str
    pc: RTCPeerConnection
    probe: Any  # rcp.media_check.MediaProbe (imported lazily: it imports this package)
    client: str
    anonymous: bool
    created_at: float
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def validate_offer(sdp: object) -> str:
    """The offer's SDP text, or InvalidInput (in the current language) when it cannot be one."""
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_BYTES:
        raise InvalidInput(
            _("La demande de connexion du navigateur est invalide. Rechargez la page.")
        )
    return sdp


class MediaHub:
    """The rooms and WebRTC connections of this process (one per process: :func:`get_hub`)."""

    def __init__(
        self,
        *,
        ice_servers: Callable[[], Sequence[Mapping[str, Any]]] = lambda: (),
        attendance: AttendanceSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ice_servers = ice_servers
        self.attendance: AttendanceSink = attendance or _NoAttendance()
        self._clock = clock
        self.rooms = RoomRegistry(on_leave=self._room_left)
        self._lock = threading.Lock()
        self._seats: dict[tuple[int, int], Seat] = {}
        self._screens: dict[tuple[int, int], ScreenReceiver] = {}
        self._shared_screens: dict[int, SharedScreen] = {}
        self._checks: dict[str, Check] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rcp-attendance")
        self._seat_numbers = itertools.count(1)

    # ------------------------------------------------------------------ loop and threads

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Adopt the running event loop (the server's) for every connection; start watching."""
        loop = loop or asyncio.get_running_loop()
        if self._loop is loop and self._watcher is not None and not self._watcher.done():
            return
        self._loop = loop
        self._watcher = loop.create_task(self._watch(), name="rcp-media-hub-watch")

    def _ensure_bound(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.bind(loop)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T | None:
        """Run a coroutine on the hub's loop from a script thread; None when there is no loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(coro)
            return None
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def _write(self, action: Callable[[int, int], None], meeting_id: int, user_id: int) -> None:
        def run() -> None:
            try:
                action(meeting_id, user_id)
            except Exception:  # noqa: BLE001 - logged; stays close by staleness anyway
                logger.exception("attendance write for user %s failed", user_id)

        self._writer.submit(run)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the attendance writes queued so far are done (tests, shutdown)."""
        self._writer.submit(lambda: None).result(timeout)

    def _config(self) -> RTCConfiguration:
        servers = [RTCIceServer(**dict(s)) for s in self._ice_servers()]
        # MAX_BUNDLE: every m-line on the first one's transport. With aiortc's default
        # (BALANCED) a second video m-line (the shared screen) kept a transport that BUNDLE had
        # discarded, and its sender never started (aiortc 1.16).
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    # ------------------------------------------------------------------ room seats

    async def join_room(
        self,
        *,
        meeting_id: int,
        user_id: int,
        name: str,
        seat: str,
        offer_sdp: str,
        camera: bool,
        muted: bool = False,
    ) -> str:
        """Take (or retake) ``user_id``'s seat in the meeting's room; returns the answer SDP.

        A user has one seat per room: a new seat (another tab, or this tab reconnecting)
        replaces the old one, whose connection is told why and closed. Permission is the
        caller's business (``rcp.attendance.room_info``).
        """
        self._ensure_bound()
        offer_sdp = validate_offer(offer_sdp)
        # Every connection gets its own room seat (fresh outgoing tracks, a keyframe first),
        # even when a browser sends the same seat name twice.
        room_seat = f"{seat}#{next(self._seat_numbers)}"
        room = self.rooms.join(
            meeting_id, user_id, name, muted=muted, camera_off=not camera, seat=room_seat
        )
        pc = RTCPeerConnection(self._config())
        now = self._clock()
        entry = Seat(meeting_id, user_id, seat, room_seat, pc, created_at=now, last_ping_at=now)
        with self._lock:
            old = self._seats.get((meeting_id, user_id))
            self._seats[(meeting_id, user_id)] = entry
        if old is not None:
            # Another tab (or device) takes the place: that one is told, and stops.
            other_tab = old.seat.split(":", 1)[0] != seat.split(":", 1)[0]
            await self._end_seat(
                old,
                reason="replaced" if other_tab else "retry",
                message=_(REPLACED_MESSAGE) if other_tab else "",
                leave=False,
            )

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":

                def ingest(frame: object) -> None:
                    room.push_video(user_id, frame, seat=room_seat)  # type: ignore[arg-type]
            else:

                def ingest(frame: object) -> None:
                    room.push_audio(user_id, frame, seat=room_seat)  # type: ignore[arg-type]

            entry.tasks.append(asyncio.ensure_future(consume_track(track, ingest)))

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            entry.channel = channel

            @channel.on("message")
            def on_message(message: object) -> None:
                self._on_control(entry, room, message)

            self._tell_screen(entry, room)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            state = pc.connectionState
            if state == "connected" and entry.connected_at is None and not entry.closed:
                entry.connected_at = entry.last_beat_at = self._clock()
                entry.last_ping_at = self._clock()
                self._write(self.attendance.joined, meeting_id, user_id)
            elif state in ("failed", "closed"):
                await self._end_seat(entry, reason="lost", leave=True)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            video_out, audio_out = room.outgoing_tracks(user_id)
            pc.addTrack(audio_out)
            pc.addTrack(video_out)  # the first video transceiver: the participants' picture
            if sum(t.kind == "video" for t in pc.getTransceivers()) >= 2:
                # The second one, if the browser offered it: the shared screen, full size.
                entry.screen_track = RoomScreenTrack(self._shared_screen(room))
                pc.addTrack(entry.screen_track)
            await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers ICE here
        except Exception as error:
            await self._end_seat(entry, reason="error", leave=True)
            if isinstance(error, NotInRoom):
                raise Conflict(_("La salle a été fermée pendant votre arrivée.")) from error
            raise InvalidInput(
                _(
                    "La connexion à la salle n'a pas pu être établie (proposition du navigateur "
                    "refusée). Rechargez la page."
                )
            ) from error
        return pc.localDescription.sdp

    def _on_control(self, entry: Seat, room: Room, message: object) -> None:
        """A message of the seat's data channel: a ping, or the participant's own toggles."""
        entry.last_ping_at = self._clock()
        if not isinstance(message, str) or len(message) > 2_000:
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict) or data.get("type") != "flags":
            return
        try:
            if isinstance(data.get("muted"), bool):
                room.set_muted(entry.user_id, data["muted"])
            if isinstance(data.get("camera_off"), bool):
                room.set_camera_off(entry.user_id, data["camera_off"])
        except NotInRoom:
            pass

    def _send(self, entry: Seat, payload: Mapping[str, Any]) -> None:
        channel = entry.channel
        if channel is not None and channel.readyState == "open":
            try:
                channel.send(json.dumps(payload))
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                logger.debug("could not tell seat %s", entry.seat, exc_info=True)

    async def _end_seat(self, entry: Seat, *, reason: str, message: str = "", leave: bool) -> None:
        """Close a seat's connection; with ``leave``, take its user out of the room too
        (only if this seat still holds the user's place)."""
        if entry.closed:
            return
        entry.closed = True
        with self._lock:
            key = (entry.meeting_id, entry.user_id)
            if self._seats.get(key) is entry:
                del self._seats[key]
        if message or reason != "lost":
            self._send(entry, {"type": "bye", "reason": reason, "message": message})
            await asyncio.sleep(0.05)  # let the message leave before the transport closes
        for task in entry.tasks:
            task.cancel()
        if entry.screen_track is not None:
            entry.screen_track.stop()
        if leave:
            self.rooms.leave(entry.meeting_id, entry.user_id, seat=entry.room_seat)
            await self._stop_screen(entry.meeting_id, entry.user_id)
        try:
            await entry.pc.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            logger.debug("closing seat %s failed", entry.seat, exc_info=True)

    def _shared_screen(self, room: Room) -> SharedScreen:
        with self._lock:
            shared = self._shared_screens.get(int(room.meeting_id))
            if shared is None or shared.room is not room:
                shared = self._shared_screens[int(room.meeting_id)] = SharedScreen(room)
            return shared

    def _tell_screen(self, entry: Seat, room: Room | None) -> None:
        """Tell a seat who shares a screen (or that nobody does), once per change."""
        shared = None if room is None else room.screen()
        state = None if shared is None else shared[0]
        if entry.screen_sent is not False and entry.screen_sent == state:
            return
        channel = entry.channel
        if channel is not None and channel.readyState == "open":
            self._send(entry, {"type": "screen", "by": state})
            entry.screen_sent = state

    def _room_left(self, event: RoomEvent) -> None:
        """Room callback (any thread): a participant left the room for good."""
        meeting_id, user_id = int(event.meeting_id), int(event.participant.key)
        self._write(self.attendance.left, meeting_id, user_id)

    async def _leave(self, meeting_id: int, user_id: int, seat: str | None, message: str) -> bool:
        with self._lock:
            entry = self._seats.get((meeting_id, user_id))
        if entry is not None and (seat is None or entry.seat == seat):
            await self._end_seat(entry, reason="ended", message=message, leave=True)
            return True
        if seat is not None:
            return False  # that tab's seat is gone already (or was taken by another tab)
        # No connection (never connected, or already gone): the room seat alone.
        info = self.rooms.leave(meeting_id, user_id)
        await self._stop_screen(meeting_id, user_id)
        return info is not None

    async def leave_async(self, meeting_id: int, user_id: int, seat: str | None = None) -> bool:
        """The browser says goodbye (beacon on page hide, "Quitter"); True if a seat ended."""
        return await self._leave(meeting_id, user_id, seat, "")

    def leave(self, meeting_id: int, user_id: int, seat: str | None = None) -> None:
        """From a script thread: out of the room (only ``seat`` when given), leave recorded."""
        if self._loop is None:  # no connection can exist (no request reached this process)
            if seat is None:
                self.rooms.leave(meeting_id, user_id)
            return
        self._call(self._leave(meeting_id, user_id, seat, ""))

    def kick(self, meeting_id: int, user_id: int, message: str) -> None:
        """From a script thread: end the user's seat with a French reason shown to them
        (meeting closed, rights withdrawn)."""
        if self._loop is None:
            self.rooms.leave(meeting_id, user_id)
            return
        self._call(self._leave(meeting_id, user_id, None, message))

    def seat_of(self, meeting_id: int, user_id: int) -> str | None:
        """The browser's name of the seat holding ``user_id``'s place in the room, if any."""
        with self._lock:
            entry = self._seats.get((meeting_id, user_id))
        return None if entry is None else entry.seat

    def connected(self, meeting_id: int, user_id: int) -> bool:
        """True when the user's current seat has a connected media connection."""
        with self._lock:
            entry = self._seats.get((meeting_id, user_id))
        return entry is not None and entry.connected_at is not None and not entry.closed

    # ------------------------------------------------------------------ screen sharing

    async def share_screen(self, *, meeting_id: int, user_id: int, offer_sdp: str) -> str:
        """Answer a presenter's screen offer (its own send-only connection).

        The presenter must be in the room; whether they may share is the caller's business
        (``rcp.attendance.may_share_screen``).
        """
        self._ensure_bound()
        offer_sdp = validate_offer(offer_sdp)
        room = self.rooms.get(meeting_id)
        if room is None or user_id not in room:
            raise Conflict(_("Rejoignez la salle avant de partager votre écran."))
        with self._lock:
            receiver = self._screens.get((meeting_id, user_id))
            if receiver is None or receiver.room is not room:
                receiver = ScreenReceiver(room, user_id, ice_servers=list(self._ice_servers()))
                self._screens[(meeting_id, user_id)] = receiver
        return await receiver.accept(offer_sdp)

    async def _stop_screen(self, meeting_id: int, user_id: int) -> None:
        with self._lock:
            receiver = self._screens.pop((meeting_id, user_id), None)
        if receiver is not None:
            await receiver.close()

    async def end_screen(self, meeting_id: int, user_id: int) -> None:
        """The presenter stopped sharing (on the loop)."""
        await self._stop_screen(meeting_id, user_id)

    def stop_screen(self, meeting_id: int, user_id: int) -> None:
        """From a script thread: close a presenter's screen (the room goes back to the grid)."""
        self._call(self._stop_screen(meeting_id, user_id))

    def presenters(self, meeting_id: int) -> list[int]:
        """Who is sending a screen to this meeting's room right now."""
        with self._lock:
            return [k for (m, k), r in self._screens.items() if m == meeting_id and r.active]

    # ------------------------------------------------------------------ equipment checks

    async def start_check(
        self, *, check_id: str, offer_sdp: str, anonymous: bool, client: str
    ) -> str:
        """Answer an equipment check's offer: the camera comes back mirrored with the mic level.

        Refused (Conflict, French) beyond :data:`MAX_CHECKS` at once, or
        :data:`MAX_ANONYMOUS_CHECKS` without a session (one per client address).
        """
        from rcp.media_check import MediaProbe, preview_track  # imports rcp.room

        self._ensure_bound()
        offer_sdp = validate_offer(offer_sdp)
        if not check_id or len(check_id) > 64:
            raise InvalidInput(_("Rechargez la page pour refaire le test."))
        await self._stop_check(check_id)
        with self._lock:
            checks = list(self._checks.values())
            anonymous_checks = [c for c in checks if c.anonymous]
            busy = len(checks) >= MAX_CHECKS or (
                anonymous
                and (
                    len(anonymous_checks) >= MAX_ANONYMOUS_CHECKS
                    or sum(c.client == client for c in anonymous_checks)
                    >= MAX_ANONYMOUS_CHECKS_PER_CLIENT
                )
            )
            if busy:
                raise Conflict(
                    _("Trop de tests de matériel sont en cours : réessayez dans quelques minutes")
                    + ("" if not anonymous else _(", ou connectez-vous d'abord"))
                    + "."
                )
            pc = RTCPeerConnection(self._config())
            check = Check(check_id, pc, MediaProbe.new(), client, anonymous, self._clock())
            self._checks[check_id] = check

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                check.tasks.append(
                    asyncio.ensure_future(consume_track(track, check.probe.push_audio))
                )
            else:
                pc.addTrack(preview_track(track, check.probe))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._stop_check(check_id, check)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as error:
            await self._stop_check(check_id, check)
            raise InvalidInput(
                _(
                    "Le test n'a pas pu démarrer (proposition du navigateur refusée). Rechargez la "
                    "page."
                )
            ) from error
        return pc.localDescription.sdp

    async def _stop_check(self, check_id: str, only: Check | None = None) -> None:
        with self._lock:
            check = self._checks.get(check_id)
            if check is None or (only is not None and check is not only):
                return
            del self._checks[check_id]
        for task in check.tasks:
            task.cancel()
        await check.pc.close()

    async def end_check(self, check_id: str) -> None:
        """The browser stopped its test (on the loop)."""
        await self._stop_check(check_id)

    def stop_check(self, check_id: str) -> None:
        """From a script thread: end an equipment check."""
        self._call(self._stop_check(check_id))

    def check_probe(self, check_id: str) -> Any | None:
        """The running check's measurements (rcp.media_check.MediaProbe), if any."""
        with self._lock:
            check = self._checks.get(check_id)
        return None if check is None else check.probe

    def check_count(self) -> tuple[int, int]:
        """(checks running, of which without a session)."""
        with self._lock:
            checks = list(self._checks.values())
        return len(checks), sum(c.anonymous for c in checks)

    # ------------------------------------------------------------------ upkeep

    async def _watch(self) -> None:
        """Once a second: idle seats out, late connections given up, heartbeats, old checks."""
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watcher must keep running
                logger.exception("media hub upkeep failed")
            await asyncio.sleep(WATCH_S)

    async def _tick(self) -> None:
        now = self._clock()
        with self._lock:
            seats = list(self._seats.values())
            checks = list(self._checks.values())
        for entry in seats:
            room = self.rooms.get(entry.meeting_id)
            self._tell_screen(entry, room)
            if entry.connected_at is None:
                if now - entry.created_at > CONNECT_TIMEOUT_S:
                    await self._end_seat(entry, reason="timeout", leave=True)
                continue
            media_age = None if room is None else room.media_age(entry.user_id)
            last_sign = max(entry.last_ping_at, now - (media_age or 0.0))
            if media_age is None or now - last_sign > IDLE_S:
                await self._end_seat(entry, reason="lost", leave=True)
            elif now - entry.last_beat_at >= HEARTBEAT_S:
                entry.last_beat_at = now
                self._write(self.attendance.alive, entry.meeting_id, entry.user_id)
        for check in checks:
            if now - check.created_at > CHECK_MAX_S:
                await self._stop_check(check.check_id, check)

    async def close(self) -> None:
        """Shut every connection (server shutdown)."""
        if self._watcher is not None:
            self._watcher.cancel()
        with self._lock:
            seats = list(self._seats.values())
            checks = list(self._checks)
            screens = list(self._screens)
        for entry in seats:
            await self._end_seat(entry, reason="shutdown", leave=True)
        for check_id in checks:
            await self._stop_check(check_id)
        for meeting_id, user_id in screens:
            await self._stop_screen(meeting_id, user_id)
        await asyncio.to_thread(self.flush)

    def snapshot(self) -> dict[str, int]:
        """Counts for monitoring: rooms, participants, connected seats, screens, checks."""
        with self._lock:
            seats = list(self._seats.values())
            screens = sum(r.active for r in self._screens.values())
            checks = len(self._checks)
        participants = 0
        rooms = 0
        for meeting_id in self.rooms.meeting_ids():
            room = self.rooms.get(meeting_id)
            if room is not None and len(room):
                rooms += 1
                participants += len(room)
        return {
            "rooms": rooms,
            "participants": participants,
            "connected_seats": sum(s.connected_at is not None for s in seats),
            "screens": screens,
            "checks": checks,
        }


_hub: MediaHub | None = None
_hub_lock = threading.Lock()


def get_hub() -> MediaHub:
    """This process's hub, created on first use (the app's lifespan binds it to the loop)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            from rcp.config import get_settings

            _hub = MediaHub(ice_servers=lambda: get_settings().ice_servers)
        return _hub
