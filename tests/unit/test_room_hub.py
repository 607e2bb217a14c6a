"""The media hub with real aiortc peers standing in for browsers (no Streamlit, no browser)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
import numpy as np
import pytest
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from rcp.errors import Conflict, InvalidInput
from rcp.room import hub as hub_module
from rcp.room.constants import AUDIO_TIME_BASE, SAMPLES_PER_FRAME
from rcp.room.hub import MediaHub
from rcp.room.tracks import consume_track

TIMEOUT = 20.0


class SineTrack(MediaStreamTrack):
    """A browser-like microphone: a 440 Hz tone."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        await asyncio.sleep(0.02)
        n = np.arange(self._pts, self._pts + SAMPLES_PER_FRAME)
        tone = (4000 * np.sin(2 * np.pi * 440 * n / 48_000)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, self._pts, AUDIO_TIME_BASE
        self._pts += SAMPLES_PER_FRAME
        return frame


@dataclass
class Recorder:
    """Attendance as the hub reports it, in order."""

    events: list[tuple[str, int, int]] = field(default_factory=list)

    def joined(self, meeting_id: int, user_id: int) -> None:
        self.events.append(("joined", meeting_id, user_id))

    def alive(self, meeting_id: int, user_id: int) -> None:
        self.events.append(("alive", meeting_id, user_id))

    def left(self, meeting_id: int, user_id: int) -> None:
        self.events.append(("left", meeting_id, user_id))


@dataclass
class Browser:
    """What the room component does, in Python: one peer connection, a control channel."""

    pc: RTCPeerConnection
    received: dict[str, list[av.frame.Frame]]
    messages: list[dict]
    channel: object
    tasks: list[asyncio.Future[None]]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def _browser(*, camera: bool = True, audio: bool = True, screen: bool = True) -> Browser:
    # Browsers put every m-line on one transport; aiortc's default policy would not.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    received: dict[str, list[av.frame.Frame]] = {"video": [], "audio": [], "screen": []}
    messages: list[dict] = []
    tasks: list[asyncio.Future[None]] = []
    if audio:
        pc.addTransceiver(SineTrack(), direction="sendrecv")
    if camera:
        pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
    else:
        pc.addTransceiver("video", direction="recvonly")
    screen_transceiver = pc.addTransceiver("video", direction="recvonly") if screen else None
    channel = pc.createDataChannel("control")

    @channel.on("message")
    def on_message(message: str) -> None:
        messages.append(json.loads(message))

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        kind = track.kind
        if screen_transceiver is not None and track is screen_transceiver.receiver.track:
            kind = "screen"
        tasks.append(asyncio.ensure_future(consume_track(track, received[kind].append)))

    await pc.setLocalDescription(await pc.createOffer())
    return Browser(pc, received, messages, channel, tasks)


async def _join(hub: MediaHub, user_id: int, seat: str, **kwargs) -> Browser:
    browser = await _browser(**kwargs.pop("media", {}))
    answer = await hub.join_room(
        meeting_id=1,
        user_id=user_id,
        name=f"Dr Participant {user_id}",
        seat=seat,
        offer_sdp=browser.pc.localDescription.sdp,
        camera=kwargs.pop("camera", True),
        **kwargs,
    )
    await browser.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return browser


async def _until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _run(test: Callable[[MediaHub, Recorder], Awaitable[None]]) -> Recorder:
    recorder = Recorder()

    async def main() -> None:
        hub = MediaHub(attendance=recorder)
        hub.bind()
        try:
            await test(hub, recorder)
        finally:
            await hub.close()

    asyncio.run(main())
    return recorder


def test_a_joining_browser_gets_the_rooms_picture_and_its_join_is_recorded() -> None:
    """One offer, one answer: the browser connects, receives the room's picture and sound, and
    the hub reports the join once connected."""

    async def scenario(hub: MediaHub, recorder: Recorder) -> None:
        browser = await _join(hub, 7, "tab:a:1")
        await _until(lambda: len(browser.received["video"]) >= 5, "the room's picture")
        await _until(lambda: len(browser.received["audio"]) >= 10, "the room's sound")
        await _until(lambda: hub.connected(1, 7), "a connected seat")
        room = hub.rooms.get(1)
        assert [p.key for p in room.participants()] == [7]
        await _until(lambda: room.participants()[0].has_video, "the camera in the room")
        frame = browser.received["video"][-1]
        assert (frame.width, frame.height) == (640, 480)
        hub.flush()
        assert recorder.events == [("joined", 1, 7)]
        assert hub.snapshot()["connected_seats"] == 1
        await browser.close()

    _run(scenario)


def test_a_shared_screen_reaches_everyone_as_its_own_full_size_stream() -> None:
    """Issue 21, item 4: the presenter's screen arrives at its own size (not fitted into the
    participants' picture), and every seat is told who shares, then that the share ended."""

    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        viewer = await _join(hub, 7, "tabA:x:1")
        presenter = await _join(hub, 8, "tabB:y:1")
        await _until(lambda: hub.connected(1, 7) and hub.connected(1, 8), "two seats")
        await _until(lambda: viewer.channel.readyState == "open", "the control channel")
        await _until(lambda: {"type": "screen", "by": None} in viewer.messages, "no share yet")
        assert viewer.received["screen"] == []
        room = hub.rooms.get(1)
        room.grant_screen(8)
        slide = np.full((1080, 1920, 3), 235, dtype=np.uint8)
        slide[500:580, 200:1700] = (20, 20, 20)  # a line of "text"
        room.push_screen(8, av.VideoFrame.from_ndarray(slide, format="rgb24"))
        await _until(lambda: len(viewer.received["screen"]) >= 2, "the shared screen")
        frame = viewer.received["screen"][-1]
        assert (frame.width, frame.height) == (1920, 1080)
        image = frame.to_ndarray(format="rgb24")
        assert image[540, 960].max() < 60 and image[100, 100].min() > 200
        await _until(
            lambda: {"type": "screen", "by": "Dr Participant 8"} in viewer.messages, "who shares"
        )
        grid = viewer.received["video"][-1]
        assert (grid.width, grid.height) == (640, 480)  # the participants' picture, unchanged
        room.revoke_screen()
        await _until(lambda: viewer.messages[-1] == {"type": "screen", "by": None}, "share over")
        await viewer.close()
        await presenter.close()

    _run(scenario)


def test_a_second_tab_takes_the_seat_and_the_first_is_told_why() -> None:
    """The same doctor opens the room in another tab: one tile, the new tab's camera; the old
    tab is told (French message) and its connection closes; nobody leaves the room."""

    async def scenario(hub: MediaHub, recorder: Recorder) -> None:
        first = await _join(hub, 7, "tabA:x:1")
        await _until(lambda: hub.connected(1, 7), "the first seat")
        await _until(lambda: first.channel.readyState == "open", "the control channel")
        second = await _join(hub, 7, "tabB:y:1")
        await _until(lambda: any(m.get("reason") == "replaced" for m in first.messages), "bye")
        (bye,) = [m for m in first.messages if m.get("type") == "bye"]
        assert "depuis un autre onglet" in bye["message"]
        await _until(lambda: hub.connected(1, 7), "the second seat")
        assert hub.seat_of(1, 7) == "tabB:y:1"
        assert [p.key for p in hub.rooms.get(1).participants()] == [7]
        hub.flush()
        assert ("left", 1, 7) not in recorder.events
        await first.close()
        await second.close()

    _run(scenario)


def test_a_reconnection_of_the_same_tab_is_not_announced_as_another_tab() -> None:
    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        first = await _join(hub, 7, "tabA:x:1")
        await _until(lambda: first.channel.readyState == "open", "the control channel")
        second = await _join(hub, 7, "tabA:x:2")
        await _until(lambda: hub.connected(1, 7), "the new attempt")
        assert not [m for m in first.messages if m.get("reason") == "replaced"]
        await first.close()
        await second.close()

    _run(scenario)


def test_leaving_by_seat_ends_only_that_seat() -> None:
    """The goodbye beacon of a tab whose seat was already taken over changes nothing; the
    current tab's goodbye takes the doctor out of the room and records the leave."""

    async def scenario(hub: MediaHub, recorder: Recorder) -> None:
        first = await _join(hub, 7, "tabA:x:1")
        second = await _join(hub, 7, "tabB:y:1")
        await _until(lambda: hub.connected(1, 7), "the second seat")
        assert await hub.leave_async(1, 7, "tabA:x:1") is False
        assert 7 in hub.rooms.get(1)
        assert await hub.leave_async(1, 7, "tabB:y:1") is True
        assert 7 not in hub.rooms.get(1)
        hub.flush()
        assert recorder.events[-1] == ("left", 1, 7)
        await first.close()
        await second.close()

    _run(scenario)


def test_a_browser_that_goes_silent_is_taken_out_within_the_idle_limit(monkeypatch) -> None:
    """A killed browser sends nothing more: out of everyone's picture after IDLE_S, leave
    recorded; the other participant stays."""
    monkeypatch.setattr(hub_module, "IDLE_S", 1.5)

    async def scenario(hub: MediaHub, recorder: Recorder) -> None:
        staying = await _join(hub, 7, "tabA:x:1")
        leaving = await _join(hub, 8, "tabB:y:1")
        await _until(lambda: hub.connected(1, 7) and hub.connected(1, 8), "two seats")
        await _until(lambda: len(hub.rooms.get(1).participants()) == 2, "two participants")
        # Killed: its tasks stop and its transport goes without a goodbye (no beacon, no close).
        for task in leaving.tasks:
            task.cancel()
        for sender in leaving.pc.getSenders():
            await sender.stop()
        leaving.channel.close()
        gone_at = asyncio.get_running_loop().time()
        await _until(lambda: 8 not in hub.rooms.get(1), "the silent seat out", timeout=10)
        took = asyncio.get_running_loop().time() - gone_at
        assert 7 in hub.rooms.get(1)
        hub.flush()
        assert ("left", 1, 8) in recorder.events and ("left", 1, 7) not in recorder.events
        print(f"silent seat taken out after {took:.1f} s")
        await staying.close()
        await leaving.close()

    _run(scenario)


def test_own_toggles_travel_over_the_control_channel() -> None:
    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        browser = await _join(hub, 7, "tab:a:1")
        await _until(lambda: browser.channel.readyState == "open", "the control channel")
        browser.channel.send(json.dumps({"type": "flags", "muted": True, "camera_off": True}))
        room = hub.rooms.get(1)
        await _until(lambda: room.participants()[0].muted, "muted")
        assert room.participants()[0].camera_off
        browser.channel.send("not json")  # ignored
        browser.channel.send(json.dumps({"type": "flags", "muted": False}))
        await _until(lambda: not room.participants()[0].muted, "unmuted")
        assert room.participants()[0].camera_off
        await browser.close()

    _run(scenario)


def test_joining_without_camera_shows_initials_and_still_receives_the_picture() -> None:
    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        browser = await _join(hub, 7, "tab:a:1", camera=False, media={"camera": False})
        await _until(lambda: len(browser.received["video"]) >= 3, "the room's picture")
        (person,) = hub.rooms.get(1).participants()
        assert person.camera_off and not person.has_video
        await browser.close()

    _run(scenario)


def test_kick_ends_the_seat_with_the_reason_shown_to_the_user() -> None:
    async def scenario(hub: MediaHub, recorder: Recorder) -> None:
        browser = await _join(hub, 7, "tab:a:1")
        await _until(lambda: browser.channel.readyState == "open", "the control channel")
        await asyncio.to_thread(hub.kick, 1, 7, "La séance est close.")
        await _until(lambda: any(m.get("reason") == "ended" for m in browser.messages), "bye")
        assert browser.messages[-1]["message"] == "La séance est close."
        assert 7 not in hub.rooms.get(1)
        hub.flush()
        assert recorder.events[-1] == ("left", 1, 7)
        await browser.close()

    _run(scenario)


def test_an_offer_that_is_not_sdp_is_refused_in_french() -> None:
    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        with pytest.raises(InvalidInput, match="Rechargez la page"):
            await hub.join_room(
                meeting_id=1, user_id=7, name="X", seat="t:a:1", offer_sdp="<html>", camera=True
            )
        with pytest.raises(InvalidInput):
            await hub.join_room(
                meeting_id=1,
                user_id=7,
                name="X",
                seat="t:a:1",
                offer_sdp="v=0\r\n" + "a" * 70_000,
                camera=True,
            )
        assert hub.rooms.get(1) is None or 7 not in hub.rooms.get(1)

    _run(scenario)


def test_the_equipment_check_echoes_the_camera_and_hears_the_microphone() -> None:
    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        received: list[av.VideoFrame] = []
        tasks = []
        pc.addTransceiver(SineTrack(), direction="sendonly")
        pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tasks.append(asyncio.ensure_future(consume_track(track, received.append)))

        await pc.setLocalDescription(await pc.createOffer())
        answer = await hub.start_check(
            check_id="check-0001", offer_sdp=pc.localDescription.sdp, anonymous=True, client="a"
        )
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await _until(lambda: len(received) >= 5, "the preview")
        probe = hub.check_probe("check-0001")
        await _until(lambda: probe.level.reading().frames > 10, "the microphone level")
        assert probe.level.reading().level_db > -30  # the 4000-amplitude tone
        assert probe.video.count >= 5
        # Without a session, MAX_ANONYMOUS_CHECKS_PER_CLIENT tests per address at most.
        others = []
        for i in range(hub_module.MAX_ANONYMOUS_CHECKS_PER_CLIENT):
            other = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            other.addTransceiver(SineTrack(), direction="sendonly")
            await other.setLocalDescription(await other.createOffer())
            others.append(other)
            call = hub.start_check(
                check_id=f"check-1{i:03d}",
                offer_sdp=other.localDescription.sdp,
                anonymous=True,
                client="a",
            )
            if i + 1 < hub_module.MAX_ANONYMOUS_CHECKS_PER_CLIENT:
                await call
            else:
                with pytest.raises(Conflict, match="Trop de tests"):
                    await call
        await hub.end_check("check-0001")
        assert hub.check_probe("check-0001") is None
        for task in tasks:
            task.cancel()
        await pc.close()
        for other in others:
            await other.close()

    _run(scenario)


def test_anonymous_checks_are_capped_across_addresses(monkeypatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_ANONYMOUS_CHECKS", 2)

    async def scenario(hub: MediaHub, _recorder: Recorder) -> None:
        peers = []
        for i, client in enumerate(("a", "b", "c")):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver(SineTrack(), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            peers.append(pc)
            call = hub.start_check(
                check_id=f"check-{i:04d}",
                offer_sdp=pc.localDescription.sdp,
                anonymous=True,
                client=client,
            )
            if i < 2:
                await call
            else:
                with pytest.raises(Conflict):
                    await call
        # A signed-in doctor is not counted against the anonymous cap.
        await hub.start_check(
            check_id="check-signed",
            offer_sdp=peers[-1].localDescription.sdp,
            anonymous=False,
            client="c",
        )
        assert hub.check_count() == (3, 2)
        for pc in peers:
            await pc.close()

    _run(scenario)
