"""Tests of the video room core: layout, drawing, mix-minus audio, registry and tracks."""

from __future__ import annotations

import ast
import asyncio
import itertools
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from rcp import room as room_mod
from rcp.errors import RcpError
from rcp.room import (
    AUDIO_TIME_BASE,
    MAX_GRID_TILES,
    SAMPLES_PER_FRAME,
    VIDEO_TIME_BASE,
    NotInRoom,
    Rect,
    Room,
    RoomEvent,
    RoomRegistry,
    Tile,
    audio_frame_to_mono,
    audio_sink,
    compose_grid,
    compose_with_screen,
    consume_track,
    fit_size,
    grid_layout,
    initials,
    mix_minus,
    screen_layout,
    strip_capacity,
    video_sink,
)
from rcp.room import picture as picture_mod

W, H = 320, 240


# --------------------------------------------------------------------------- helpers


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def solid(colour: tuple[int, int, int], w: int = 64, h: int = 48) -> np.ndarray:
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


def centre(image: np.ndarray, rect: Rect) -> tuple[int, ...]:
    return tuple(int(v) for v in image[rect.y + rect.h // 2, rect.x + rect.w // 2])


# The room composes in yuv420p (BT.601 limited range); back in RGB a flat colour comes within
# a few levels of itself.
TOLERANCE = 6


def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel, colour, strict=True))


def has_colour(image: np.ndarray, colour: tuple[int, int, int]) -> bool:
    diff = np.abs(image.astype(np.int16) - np.array(colour, dtype=np.int16))
    return bool(np.any(np.all(diff <= TOLERANCE, axis=2)))


def stereo_frame(left: int, right: int, samples: int = SAMPLES_PER_FRAME) -> av.AudioFrame:
    """A frame shaped like aiortc's Opus decoder output: packed s16 stereo, 48 kHz."""
    interleaved = np.empty((1, 2 * samples), dtype=np.int16)
    interleaved[0, 0::2] = left
    interleaved[0, 1::2] = right
    frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
    frame.sample_rate = 48_000
    return frame


def make_registry() -> tuple[RoomRegistry, list[RoomEvent], FakeClock]:
    events: list[RoomEvent] = []
    clock = FakeClock()
    registry = RoomRegistry(
        on_join=events.append,
        on_leave=events.append,
        clock=clock,
        now=lambda: datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
    )
    return registry, events, clock


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("n", range(1, 10))
def test_grid_layout_places_n_equal_disjoint_tiles_inside_the_picture(n: int) -> None:
    rects = grid_layout(n, width=W, height=H)
    cols = math.ceil(math.sqrt(n))
    assert len(rects) == n
    assert len({(r.w, r.h) for r in rects}) == 1
    assert rects[0].w >= W // cols - 4 and rects[0].h >= H // math.ceil(n / cols) - 4
    assert len({r.x for r in rects[:cols]}) == min(n, cols)  # first row: one column each
    for r in rects:
        assert 0 <= r.x and r.x + r.w <= W and 0 <= r.y and r.y + r.h <= H
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y


def test_grid_layout_centres_an_incomplete_last_row() -> None:
    rects = grid_layout(3, width=W, height=H)  # 2 columns, 2 rows, one tile in the last row
    assert rects[2].x + rects[2].w // 2 == pytest.approx(W // 2, abs=2)


def test_grid_layout_of_one_tile_fills_the_picture() -> None:
    (rect,) = grid_layout(1, width=W, height=H)
    assert rect.w >= W - 4 and rect.h >= H - 4


def test_fit_size_letterboxes_keeping_the_aspect_ratio() -> None:
    assert fit_size(1280, 720, 320, 240) == (320, 180)
    assert fit_size(480, 640, 320, 240) == (180, 240)
    assert fit_size(320, 180, 320, 240) == (320, 180)  # already fitted: unchanged


def test_initials_skip_titles_and_use_first_and_last_names() -> None:
    assert initials("Dr Marie Curie") == "MC"
    assert initials("Pr Jean-Pierre Dupont") == "JD"
    assert initials("alice") == "A"
    assert initials("  ") == "?"


# --------------------------------------------------------------------------- grid drawing


@pytest.mark.parametrize("n", range(1, 10))
def test_compose_grid_draws_each_frame_in_its_tile(n: int) -> None:
    colours = [(10 + 20 * i, 200 - 15 * i, 60) for i in range(n)]
    tiles = [Tile(f"Participant {i}", solid(c, 80, 60)) for i, c in enumerate(colours)]
    image = compose_grid(tiles, width=W, height=H)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    for rect, colour in zip(grid_layout(n, width=W, height=H), colours, strict=True):
        assert near(centre(image, rect), colour)


def test_compose_grid_letterboxes_a_wide_frame() -> None:
    image = compose_grid([Tile("Alice", solid((250, 0, 0), 160, 40))], width=W, height=H)
    (rect,) = grid_layout(1, width=W, height=H)
    assert near(centre(image, rect), (250, 0, 0))
    top_band = image[rect.y + 5, rect.x + rect.w // 2]
    assert tuple(int(v) for v in top_band) != (250, 0, 0)


def test_compose_grid_writes_the_names_in_white_on_each_tile() -> None:
    tiles = [Tile(name, solid((0, 0, 90), 80, 60)) for name in ("Alice Martin", "Bob Durand")]
    image = compose_grid(tiles, width=W, height=H)
    for rect in grid_layout(2, width=W, height=H):
        bottom = image[rect.y + rect.h * 3 // 4 : rect.y + rect.h, rect.x : rect.x + rect.w]
        assert np.any(np.all(bottom > 200, axis=2)), "no white text in the label area"
        top = image[rect.y : rect.y + rect.h // 2, rect.x : rect.x + rect.w]
        assert not np.any(np.all(top > 200, axis=2))


def test_compose_grid_labels_differ_by_name() -> None:
    a = compose_grid([Tile("Alice", solid((0, 0, 90)))], width=W, height=H)
    b = compose_grid([Tile("Bernard Dupont-Moretti", solid((0, 0, 90)))], width=W, height=H)
    assert not np.array_equal(a, b)


def test_compose_grid_shows_initials_placeholder_without_frame_or_with_camera_off() -> None:
    frame = solid((0, 250, 0))
    tiles = [Tile("Alice Martin"), Tile("Bob Durand", frame, camera_off=True)]
    image = compose_grid(tiles, width=W, height=H)
    assert not has_colour(image, (0, 250, 0))
    for rect in grid_layout(2, width=W, height=H):
        tile = image[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]
        assert any(has_colour(tile, tuple(c)) for c in picture_mod._AVATAR_COLOURS)  # the disc
        assert np.any(np.all(tile > 200, axis=2))  # the initials, in white


def test_compose_grid_marks_muted_participants_in_red() -> None:
    dark = solid((0, 0, 0))
    muted = compose_grid([Tile("Alice", dark, muted=True)], width=W, height=H)
    unmuted = compose_grid([Tile("Alice", dark, muted=False)], width=W, height=H)
    assert has_colour(muted, picture_mod._MUTED_RED)
    assert not has_colour(unmuted, picture_mod._MUTED_RED)


def test_compose_grid_without_tiles_says_it_is_waiting() -> None:
    image = compose_grid([], width=W, height=H)
    assert image.shape == (H, W, 3)
    assert np.any(image != np.array(picture_mod._BACKGROUND, dtype=np.uint8))


def test_compose_grid_beyond_the_maximum_shows_an_overflow_tile() -> None:
    n = MAX_GRID_TILES + 4
    colours = [(i * 12 % 256, 255 - i * 12 % 256, 7) for i in range(n)]
    tiles = [Tile(f"P{i}", solid(c)) for i, c in enumerate(colours)]
    image = compose_grid(tiles, width=W, height=H)
    assert has_colour(image, colours[MAX_GRID_TILES - 2])
    for colour in colours[MAX_GRID_TILES - 1 :]:
        assert not has_colour(image, colour)


def test_compose_grid_accepts_av_video_frames() -> None:
    frame = av.VideoFrame.from_ndarray(solid((200, 200, 200), 640, 480), format="rgb24")
    image = compose_grid([Tile("Alice", frame)], width=W, height=H)
    (rect,) = grid_layout(1, width=W, height=H)
    assert all(abs(v - 200) <= 3 for v in centre(image, rect))


# --------------------------------------------------------------------------- screen layout


def test_screen_layout_gives_a_large_area_and_a_strip_below() -> None:
    main, strip = screen_layout(4, width=W, height=H)
    assert main.w * main.h >= 0.6 * W * H
    assert len(strip) == 4
    for r in strip:
        assert r.y >= main.y + main.h and r.y + r.h <= H and 0 <= r.x and r.x + r.w <= W
        assert r.w * r.h < main.w * main.h / 10


def test_compose_with_screen_shows_the_screen_large_and_tiles_small() -> None:
    tiles = [Tile("Alice", solid((0, 250, 0))), Tile("Bob")]
    image = compose_with_screen(
        solid((250, 250, 0), 1024, 768), tiles, width=W, height=H, screen_label="Écran de Bob"
    )
    main, strip = screen_layout(2, width=W, height=H)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    assert near(centre(image, main), (250, 250, 0))
    assert near(centre(image, strip[0]), (0, 250, 0))


def test_compose_with_screen_waits_for_the_first_screen_frame() -> None:
    image = compose_with_screen(None, [Tile("Alice")], width=W, height=H)
    main, _ = screen_layout(1, width=W, height=H)
    region = image[main.y : main.y + main.h, main.x : main.x + main.w]
    assert np.any(np.all(region > 150, axis=2))  # the waiting message


def test_compose_with_screen_overflows_the_strip() -> None:
    capacity = strip_capacity(width=W, height=H)
    tiles = [Tile(f"P{i}", solid((20 * i, 100, 100))) for i in range(capacity + 3)]
    image = compose_with_screen(solid((9, 9, 9)), tiles, width=W, height=H)
    assert not has_colour(image, (20 * (capacity + 2), 100, 100))


# --------------------------------------------------------------------------- audio


def test_mix_minus_gives_each_participant_the_others_but_not_itself() -> None:
    chunks = {
        k: np.full(960, v, dtype=np.int16) for k, v in {"a": 1000, "b": 2000, "c": 3000}.items()
    }
    mixed = mix_minus(chunks)
    assert {k: int(v[0]) for k, v in mixed.items()} == {"a": 5000, "b": 4000, "c": 3000}
    assert all(v.dtype == np.int16 and v.shape == (960,) for v in mixed.values())


def test_mix_minus_clips_three_loud_participants() -> None:
    loud = {k: np.full(960, 30_000, dtype=np.int16) for k in "abc"}
    assert all(np.all(v == 32767) for v in mix_minus(loud).values())
    quiet = {k: np.full(960, -30_000, dtype=np.int16) for k in "abc"}
    assert all(np.all(v == -32768) for v in mix_minus(quiet).values())


def test_mix_minus_gives_silence_to_a_lone_participant() -> None:
    (alone,) = mix_minus({"a": np.full(960, 12_345, dtype=np.int16)}).values()
    assert not np.any(alone)


def test_mix_minus_treats_missing_and_short_chunks_as_silence() -> None:
    mixed = mix_minus({"a": np.full(960, 100, np.int16), "b": None, "c": np.full(480, 7, np.int16)})
    assert int(mixed["b"][0]) == 107 and int(mixed["b"][-1]) == 100
    assert int(mixed["a"][0]) == 7 and int(mixed["a"][-1]) == 0
    assert int(mixed["c"][0]) == 100


def test_mix_minus_keeps_a_stereo_layout_and_refuses_mixed_layouts() -> None:
    stereo = {k: np.full((2, 960), 10, dtype=np.int16) for k in "ab"}
    assert mix_minus(stereo)["a"].shape == (2, 960)
    with pytest.raises(ValueError):
        mix_minus({"a": np.zeros((2, 960), np.int16), "b": np.zeros(960, np.int16)})


def test_audio_frame_to_mono_downmixes_aiortc_packed_stereo() -> None:
    mono = audio_frame_to_mono(stereo_frame(1000, 3000))
    assert mono.shape == (SAMPLES_PER_FRAME,) and mono.dtype == np.int16
    assert np.all(mono == 2000)


def test_audio_frame_to_mono_handles_planar_float() -> None:
    frame = av.AudioFrame.from_ndarray(
        np.full((2, 960), 0.5, dtype=np.float32), format="fltp", layout="stereo"
    )
    frame.sample_rate = 48_000
    assert np.all(np.abs(audio_frame_to_mono(frame) - 16383) <= 1)


def test_room_resamples_8khz_mono_audio_to_48khz() -> None:
    room = Room(1)
    room.join("a", "Alice")
    for _ in range(5):
        frame = av.AudioFrame.from_ndarray(
            np.full((1, 160), 500, np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        assert room.push_audio("a", frame)
    buffered = len(room._participants["a"].audio)
    assert 4 * SAMPLES_PER_FRAME <= buffered <= 5 * SAMPLES_PER_FRAME


def test_room_audio_for_mixes_minus_self_and_shares_one_clock() -> None:
    room = Room(1)
    for key, name in (("a", "Alice"), ("b", "Bob"), ("c", "Chloé")):
        room.join(key, name)
    for key, left in (("a", 1000), ("b", 2000), ("c", 4000)):
        for _ in range(3):
            room.push_audio(key, stereo_frame(left, left))
    heard = {k: int(room.audio_for(k, 0)[0]) for k in "abc"}
    assert heard == {"a": 6000, "b": 5000, "c": 3000}
    assert len(room._participants["a"].audio) == 2 * SAMPLES_PER_FRAME  # read once for all
    assert room.current_audio_tick() == 0


def test_room_gives_silence_while_a_participant_buffers_or_is_alone() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    room.push_audio("b", stereo_frame(900, 900))  # 20 ms: below the 40 ms cushion
    assert not np.any(room.audio_for("a", 0))
    room.push_audio("b", stereo_frame(900, 900))
    assert int(room.audio_for("a", 1)[0]) == 900
    assert not np.any(room.audio_for("b", 1))


def test_room_drops_audio_of_muted_participants() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    room.set_muted("b", True)
    for _ in range(3):
        room.push_audio("b", stereo_frame(5000, 5000))
    assert not np.any(room.audio_for("a", 0))


def test_room_audio_buffer_is_bounded() -> None:
    room = Room(1)
    room.join("a", "Alice")
    for _ in range(50):
        room.push_audio("a", stereo_frame(1, 1))
    assert len(room._participants["a"].audio) == room_mod.AUDIO_BUFFER_SAMPLES


# --------------------------------------------------------------------------- registry


def test_join_and_leave_fire_callbacks_once_with_the_participant() -> None:
    registry, events, _ = make_registry()
    room = registry.join(7, 42, "Dr Marie Curie")
    registry.join(7, 42, "Dr Marie Curie")  # a rerun: not a new arrival
    assert [e.kind for e in events] == ["join"]
    assert events[0].meeting_id == 7 and events[0].participant.key == 42
    assert [p.name for p in room.participants()] == ["Dr Marie Curie"]
    left = registry.leave(7, 42)
    assert left is not None and left.key == 42
    assert [e.kind for e in events] == ["join", "leave"]
    assert events[1].at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert registry.leave(7, 42) is None and len(events) == 2


def test_joining_again_keeps_the_flags_and_updates_the_name() -> None:
    registry, _, _ = make_registry()
    room = registry.join(1, "a", "Alice")
    room.set_muted("a", True)
    registry.join(1, "a", "Alice Martin")  # the page's next rerun
    (info,) = room.participants()
    assert info.muted and info.name == "Alice Martin"


def test_rooms_are_kept_apart_by_meeting() -> None:
    registry, _, _ = make_registry()
    a = registry.join(1, "u1", "Alice")
    b = registry.join(2, "u2", "Bob")
    assert a is not b and "u1" in a and "u1" not in b
    assert sorted(registry.meeting_ids()) == [1, 2]


def test_participants_are_listed_in_order_of_arrival_with_flags() -> None:
    registry, _, _ = make_registry()
    room = registry.join(1, "a", "Alice", muted=True)
    registry.join(1, "b", "Bob", camera_off=True)
    room.grant_screen("b")
    listed = room.participants()
    assert [(p.key, p.muted, p.camera_off, p.sharing_screen) for p in listed] == [
        ("a", True, False, False),
        ("b", False, True, True),
    ]
    assert listed[0].initials == "A"


def test_close_makes_everyone_leave_and_a_later_join_opens_a_new_room() -> None:
    registry, events, _ = make_registry()
    old = registry.join(1, "a", "Alice")
    registry.join(1, "b", "Bob")
    assert {p.key for p in registry.close(1)} == {"a", "b"}
    assert [e.kind for e in events].count("leave") == 2
    new = registry.join(1, "a", "Alice")
    assert new is not old and old.closed and len(new) == 1


def test_flags_on_an_absent_participant_raise_a_french_not_in_room() -> None:
    room = Room(1)
    with pytest.raises(NotInRoom) as excinfo:
        room.set_muted("ghost", True)
    assert isinstance(excinfo.value, RcpError) and "salle" in str(excinfo.value)
    with pytest.raises(NotInRoom):
        room.grant_screen("ghost")
    assert room.push_video("ghost", solid((1, 2, 3))) is False
    assert room.push_audio("ghost", stereo_frame(1, 1)) is False


def test_prune_idle_removes_participants_without_media() -> None:
    registry, events, clock = make_registry()
    room = registry.join(1, "a", "Alice")
    registry.join(1, "b", "Bob")
    clock.t += 20
    room.push_audio("b", stereo_frame(0, 0))
    assert [p.key for p in registry.prune_idle(max_idle_s=15)] == ["a"]
    assert [p.key for p in room.participants()] == ["b"] and events[-1].kind == "leave"


# --------------------------------------------------------------------------- views


def test_render_view_shows_the_others_but_not_the_viewer() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    room.push_video("a", solid((250, 0, 0)))
    room.push_video("b", solid((0, 0, 250)))
    view = room.render_view("a", width=W, height=H)
    assert view.shape == (H, W, 3)
    assert has_colour(view, (0, 0, 250)) and not has_colour(view, (250, 0, 0))


def test_render_view_shows_a_placeholder_for_stale_video_and_camera_off() -> None:
    clock = FakeClock()
    room = Room(1, clock=clock)
    room.join("a", "Alice")
    room.join("b", "Bob")
    room.push_video("b", solid((0, 0, 250)))
    assert has_colour(room.render_view("a", width=W, height=H), (0, 0, 250))
    room.set_camera_off("b", True)
    assert not has_colour(room.render_view("a", width=W, height=H), (0, 0, 250))
    room.set_camera_off("b", False)
    clock.t += room_mod.STALE_VIDEO_S + 1
    assert not has_colour(room.render_view("a", width=W, height=H), (0, 0, 250))
    assert room.participants()[1].has_video is False


def test_a_shared_screen_travels_apart_from_the_participants_picture() -> None:
    """Only the owner's frames count; the grid keeps showing the participants (no screen drawn
    over them, no label over the screen); leaving ends the share."""
    room = Room(1)
    for key in "abc":
        room.join(key, key.upper())
    assert room.screen() is None
    room.grant_screen("b")
    assert room.screen() == ("B", None, 0)  # granted, no picture yet
    assert room.push_screen("c", solid((1, 1, 1))) is False
    assert room.push_screen("b", solid((250, 250, 0), 800, 600))
    name, frame, version = room.screen()
    assert name == "B" and frame.shape == (600, 800, 3) and version == 1
    for viewer in "abc":
        assert not has_colour(room.render_view(viewer, width=W, height=H), (250, 250, 0))
    room.leave("b")
    assert room.screen_owner is None and room.screen() is None


def _screen_packets(room: Room, count: int, *, timeout: float = 10.0) -> list[av.Packet]:
    from rcp.room.screen import RoomScreenTrack, SharedScreen

    async def read() -> list[av.Packet]:
        track = RoomScreenTrack(SharedScreen(room, fps=20))
        packets = [await asyncio.wait_for(track.recv(), timeout) for _ in range(count)]
        track.stop()
        return packets

    return asyncio.run(read())


def test_the_screen_stream_keeps_the_screens_own_size_up_to_1080p() -> None:
    """A 1366 × 768 laptop screen is sent as 1366 × 768; a 2560 × 1440 one fits 1920 × 1080."""
    from rcp.room.screen import screen_size

    assert screen_size(1366, 768) == (1366, 768)
    assert screen_size(1920, 1080) == (1920, 1080)
    assert screen_size(2560, 1440) == (1920, 1080)
    assert screen_size(1080, 1920) == (608, 1080)  # a portrait screen keeps its shape
    room = Room(1)
    room.join("b", "Bob")
    room.grant_screen("b")
    room.push_screen("b", solid((250, 250, 0), 1366, 768))
    packets = _screen_packets(room, 2)
    assert packets[0].is_keyframe
    images = decode_vp8(packets)
    assert images[-1].shape == (768, 1366, 3)
    assert near_colour(images[-1], (250, 250, 0))


def test_the_screen_stream_is_silent_until_someone_shares_then_starts_on_a_keyframe() -> None:
    import threading

    room = Room(1)
    room.join("b", "Bob")

    def share_later() -> None:
        room.grant_screen("b")
        frame = av.VideoFrame.from_ndarray(solid((0, 0, 250), 640, 360), format="rgb24")
        room.push_screen("b", frame)

    timer = threading.Timer(0.5, share_later)
    timer.start()
    try:
        packets = _screen_packets(room, 3)
    finally:
        timer.cancel()
    assert packets[0].is_keyframe and packets[0].pts == 0
    images = decode_vp8(packets)
    assert images[0].shape == (360, 640, 3) and near_colour(images[0], (0, 0, 250))


def test_render_view_scales_each_camera_once_for_all_viewers() -> None:
    room = Room(1)
    for key in "abc":
        room.join(key, key.upper())
    room.push_video("c", av.VideoFrame.from_ndarray(solid((5, 6, 7), 640, 480), format="rgb24"))
    room.render_view("a", width=W, height=H)
    cached = dict(room._participants["c"].scaled)
    room.render_view("b", width=W, height=H)
    assert room._participants["c"].scaled == cached and len(cached) == 1


# --------------------------------------------------------------------------- tracks


def decode_vp8(packets: list[av.Packet]) -> list[np.ndarray]:
    """What a browser does with the packets: one VP8 decoder, fed in order."""
    decoder = av.CodecContext.create("vp8", "r")
    images = []
    for packet in packets:
        images += [f.to_ndarray(format="rgb24") for f in decoder.decode(packet)]
    return images


def near_colour(image: np.ndarray, colour: tuple[int, int, int], tol: int = 24) -> bool:
    """Like has_colour, within the tolerance of a lossy encode."""
    diff = np.abs(image.astype(np.int16) - np.array(colour, dtype=np.int16)).max(axis=2)
    return bool((diff <= tol).sum() > 50)


def test_video_track_sends_vp8_packets_of_the_whole_room_starting_with_a_keyframe() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    room.push_video("a", solid((250, 0, 0)))
    room.push_video("b", solid((0, 0, 250)))

    async def read() -> list[av.Packet]:
        track, _ = room.outgoing_tracks("a", fps=30, width=W, height=H)
        return [await track.recv() for _ in range(3)]

    packets = asyncio.run(read())
    assert packets[0].is_keyframe and len(decode_vp8(packets[:1])) == 1  # decodable alone
    # pts on the 90 kHz clock, one step (3000) per tick at 30 fps; a late tick is skipped, not
    # sent in a burst, so a loaded machine may leave gaps of whole ticks (never a partial one).
    pts = [p.pts for p in packets]
    steps = [b - a for a, b in itertools.pairwise(pts)]
    assert pts[0] == 0 and all(s > 0 and s % 3000 == 0 for s in steps), pts
    assert all(p.time_base == VIDEO_TIME_BASE for p in packets)
    images = decode_vp8(packets)
    assert len(images) == 3 and images[-1].shape == (H, W, 3)
    # Everyone in one picture, oneself included: one encode serves the whole room.
    assert near_colour(images[-1], (0, 0, 250)) and near_colour(images[-1], (250, 0, 0))


def test_one_encode_per_tick_serves_every_participant() -> None:
    room = Room(1)
    for key in "abc":
        room.join(key, key.upper())
        room.push_video(key, solid((0, 200, 0)))

    async def read_all() -> list[list[av.Packet]]:
        tracks = [room.outgoing_tracks(key, fps=30, width=W, height=H)[0] for key in "abc"]

        async def read(track: MediaStreamTrack) -> list[av.Packet]:
            return [await track.recv() for _ in range(6)]

        return list(await asyncio.gather(*(read(t) for t in tracks)))

    received = asyncio.run(read_all())
    video = room.shared_video(fps=30, width=W, height=H)
    assert video is not None
    # 3 × 6 pictures sent; one encoder per receiver would have encoded 18.
    assert video.encodes <= 8, video.encodes
    for packets in received:
        assert len(decode_vp8(packets)) == 6  # every receiver decodes its whole stream


def test_a_newcomer_starts_on_a_keyframe_and_the_others_keep_decoding() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.push_video("a", solid((0, 200, 0)))

    async def run() -> tuple[list[av.Packet], list[av.Packet]]:
        first = room.outgoing_tracks("a", fps=30, width=W, height=H)[0]
        early = [await first.recv() for _ in range(4)]
        room.join("b", "Bob")
        second = room.outgoing_tracks("b", fps=30, width=W, height=H)[0]
        late = [await second.recv() for _ in range(2)]
        early += [await first.recv() for _ in range(3)]
        return early, late

    early, late = asyncio.run(run())
    assert late[0].is_keyframe and late[0].pts == 0
    assert not all(p.is_keyframe for p in early)  # the others are not all keyframes
    assert len(decode_vp8(late)) == 2 and len(decode_vp8(early)) == 7


def test_vp8_only_leaves_aiortc_no_other_video_codec_to_answer_with(monkeypatch) -> None:
    """An offer preferring H.264 (as Safari's does) is answered with VP8 alone."""
    from aiortc import (
        RTCConfiguration,
        RTCPeerConnection,
        RTCRtpCodecParameters,
        RTCRtpSender,
        VideoStreamTrack,
    )
    from aiortc import codecs as aiortc_codecs
    from aiortc.codecs import CODECS

    # aiortc's own lists (importing rcp.room.hub may have narrowed them already), restored
    # after the test.
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)
    monkeypatch.setitem(
        CODECS,
        "audio",
        [opus, aiortc_codecs.G722_CODEC, aiortc_codecs.PCMU_CODEC, aiortc_codecs.PCMA_CODEC],
    )
    monkeypatch.setitem(CODECS, "video", [])
    aiortc_codecs.init_codecs()

    async def answer_to_h264_first_offer() -> tuple[str, str]:
        browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = browser.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        codecs = RTCRtpSender.getCapabilities("video").codecs
        h264_first = sorted(codecs, key=lambda c: c.mimeType.lower() != "video/h264")
        transceiver.setCodecPreferences(h264_first)
        voice = browser.addTransceiver("audio", direction="sendrecv")
        audio_codecs = RTCRtpSender.getCapabilities("audio").codecs
        voice.setCodecPreferences(sorted(audio_codecs, key=lambda c: "opus" in c.mimeType))
        await browser.setLocalDescription(await browser.createOffer())
        offer = browser.localDescription.sdp
        room_mod.vp8_only()
        server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await server.setRemoteDescription(browser.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        answer = server.localDescription.sdp
        await browser.close()
        await server.close()
        return offer, answer

    offer, answer = asyncio.run(answer_to_h264_first_offer())
    assert "H264/90000" in offer and "PCMU/8000" in offer
    assert "VP8/90000" in answer and "H264" not in answer
    assert "opus/48000" in answer and "PCMU" not in answer and "G722" not in answer
    room_mod.vp8_only()  # idempotent
    assert {c.mimeType for c in CODECS["video"]} == {"video/VP8", "video/rtx"}
    assert {c.mimeType for c in CODECS["audio"]} == {"audio/opus"}


def decode_opus(packets: list[av.Packet]) -> np.ndarray:
    """What a browser does with the packets: one Opus decoder, mono samples out (as int16
    units: the decoder gives floats in [−1, 1])."""
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate, decoder.layout = 48_000, "mono"
    out = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(p)]
    return np.concatenate(out).astype(np.float64) * 32768


def sine(amplitude: int, freq: float = 440.0, start: int = 0) -> np.ndarray:
    t = np.arange(start, start + SAMPLES_PER_FRAME) / 48_000
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def test_audio_track_sends_20ms_opus_packets_with_increasing_pts() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    for i in range(12):
        room.push_audio("b", sine(8000, start=i * SAMPLES_PER_FRAME))

    async def read() -> list[av.Packet]:
        _, track = room.outgoing_tracks("a")
        return [await track.recv() for _ in range(10)]

    packets = asyncio.run(read())
    # 20 ms apart on the 48 kHz clock; after a stall of the loop (a loaded machine) the track
    # jumps ahead by whole packets instead of bursting.
    pts = [p.pts for p in packets]
    steps = [b - a for a, b in itertools.pairwise(pts)]
    assert pts[0] == 0 and all(s > 0 and s % 960 == 0 for s in steps), pts
    assert all(p.time_base == AUDIO_TIME_BASE and bytes(p) for p in packets)
    heard = decode_opus(packets)
    assert len(heard) == 10 * SAMPLES_PER_FRAME
    assert np.abs(heard[-3 * SAMPLES_PER_FRAME :]).max() > 3000  # Bob's tone reaches Alice


def test_each_listener_gets_an_opus_mix_minus_and_a_talker_does_not_hear_themselves() -> None:
    room = Room(1)
    for key in "abcd":
        room.join(key, key.upper())
    for key in "abc":  # d has no outgoing track yet: nothing is encoded for d
        room.outgoing_tracks(key)
    ticks = 20

    def speak(i: int) -> None:  # only Alice talks; the others' microphones are silent
        room.push_audio("a", sine(8000, start=i * SAMPLES_PER_FRAME))
        for key in "bcd":
            room.push_audio(key, np.zeros(SAMPLES_PER_FRAME, dtype=np.int16))

    speak(0)
    streams: dict[str, list[av.Packet]] = {k: [] for k in "abc"}
    for tick in range(ticks):
        speak(tick + 1)  # 20 ms arrive while 20 ms go out (the buffer keeps its cushion)
        for key in "abc":
            packet = av.Packet(room.audio_packet_for(key, tick))
            packet.pts, packet.time_base = tick * SAMPLES_PER_FRAME, AUDIO_TIME_BASE
            streams[key].append(packet)
    assert room.audio_encodes == 3 * ticks  # once per listener and tick, not per request
    tail = slice(-5 * SAMPLES_PER_FRAME, None)
    for key in "bc":
        assert np.abs(decode_opus(streams[key])[tail]).max() > 3000  # they hear Alice
    assert np.abs(decode_opus(streams["a"])[tail]).max() < 100  # Alice does not hear herself


def test_outgoing_tracks_are_reused_while_live_and_stop_on_leave() -> None:
    room = Room(1)
    room.join("a", "Alice")
    video, audio = room.outgoing_tracks("a")
    assert room.outgoing_tracks("a") == (video, audio)
    room.leave("a")
    assert video.readyState == "ended" and audio.readyState == "ended"

    async def recv_after_stop() -> None:
        await audio.recv()

    with pytest.raises(MediaStreamError):
        asyncio.run(recv_after_stop())
    with pytest.raises(NotInRoom):
        room.outgoing_tracks("a")


def test_track_sizes_must_be_even() -> None:
    room = Room(1)
    room.join("a", "Alice")
    with pytest.raises(ValueError):
        room.outgoing_tracks("a", width=321, height=240)


class ListTrack(MediaStreamTrack):
    """An incoming track that yields given frames, then ends."""

    def __init__(self, kind: str, frames: list[av.frame.Frame]) -> None:
        super().__init__()
        self.kind = kind
        self._frames = list(frames)

    async def recv(self) -> av.frame.Frame:
        if not self._frames:
            self.stop()
            raise MediaStreamError
        return self._frames.pop(0)


def test_consume_track_feeds_incoming_frames_into_the_room_through_sinks() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.join("b", "Bob")
    video = av.VideoFrame.from_ndarray(solid((0, 250, 250), 64, 48), format="rgb24")

    async def run() -> None:
        await consume_track(ListTrack("video", [video]), video_sink(room, "b"))
        await consume_track(ListTrack("audio", [stereo_frame(300, 300)] * 3), audio_sink(room, "b"))

    asyncio.run(run())
    assert room.participants()[1].has_video
    assert int(room.audio_for("a", 0)[0]) == 300


# --------------------------------------------------------------------------- robustness


def test_concurrent_pushes_renders_and_mixes_do_not_fail() -> None:
    room = Room(1)
    keys = [f"p{i}" for i in range(4)]
    for key in keys:
        room.join(key, key)
    errors: list[BaseException] = []
    stop = threading.Event()

    def guard(fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        return run

    def pusher(key: str) -> None:
        room.push_video(key, solid((len(key), 10, 10)))
        room.push_audio(key, stereo_frame(10, 10))

    tick = iter(range(10**9))
    workers = [threading.Thread(target=guard(lambda k=k: pusher(k))) for k in keys]
    workers.append(
        threading.Thread(target=guard(lambda: room.render_view("p0", width=W, height=H)))
    )
    workers.append(threading.Thread(target=guard(lambda: room.audio_for("p1", next(tick)))))
    workers.append(threading.Thread(target=guard(lambda: (room.join("x", "X"), room.leave("x")))))
    for worker in workers:
        worker.start()
    stop.wait(0.4)
    stop.set()
    for worker in workers:
        worker.join(timeout=5)
    assert not errors
    assert [p.key for p in room.participants()] == keys


def test_room_package_never_imports_streamlit() -> None:
    names: set[str] = set()
    for path in Path(room_mod.__file__).parent.glob("*.py"):
        names |= _imported_modules(ast.parse(path.read_text()))
    assert not any(n.split(".")[0] in {"streamlit"} for n in names)


def _imported_modules(tree: ast.AST) -> set[str]:
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    return names | {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }


class SineTrack(MediaStreamTrack):
    """A browser-like microphone: a 440 Hz tone (Opus removes a constant, so no DC here)."""

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


def test_tracks_survive_a_real_aiortc_loopback_with_a_relay() -> None:
    """A peer sends camera and microphone, the room relays them back mixed (as in the edge)."""
    from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack
    from aiortc.contrib.media import MediaRelay

    async def run() -> tuple[list[av.VideoFrame], list[av.AudioFrame], Room]:
        room = Room(1)
        room.join("viewer", "Alice Martin")
        room.join("speaker", "Bob Durand")
        relay = MediaRelay()  # streamlit-webrtc wraps every track in one (webrtc.py)
        browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        server = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        browser.addTrack(VideoStreamTrack())
        browser.addTrack(SineTrack())
        tasks: list[asyncio.Future[None]] = []
        received: dict[str, list[av.frame.Frame]] = {"video": [], "audio": []}

        @server.on("track")
        def on_server_track(track: MediaStreamTrack) -> None:
            sink = video_sink if track.kind == "video" else audio_sink
            tasks.append(asyncio.ensure_future(consume_track(track, sink(room, "speaker"))))

        @browser.on("track")
        def on_browser_track(track: MediaStreamTrack) -> None:
            tasks.append(asyncio.ensure_future(consume_track(track, received[track.kind].append)))

        await browser.setLocalDescription(await browser.createOffer())
        await server.setRemoteDescription(browser.localDescription)
        video, audio = room.outgoing_tracks("viewer", fps=10, width=160, height=120)
        for transceiver in server.getTransceivers():
            out = video if transceiver.kind == "video" else audio
            transceiver.sender.replaceTrack(relay.subscribe(out))
            transceiver.direction = "sendrecv"
        await server.setLocalDescription(await server.createAnswer())
        await browser.setRemoteDescription(server.localDescription)
        await asyncio.sleep(2.0)
        room.leave("viewer")
        await browser.close()
        await server.close()
        for task in tasks:
            task.cancel()
        return received["video"], received["audio"], room

    video, audio, room = asyncio.run(run())
    assert len(video) >= 5 and (video[-1].width, video[-1].height) == (160, 120)
    assert len(audio) >= 25
    assert max(int(np.abs(f.to_ndarray()).max()) for f in audio[-10:]) > 500  # the tone came back
    assert room.participants()[0].has_video


def test_screen_receiver_answers_an_offer_and_puts_the_screen_in_the_room() -> None:
    """A browser-like peer offers a send-only screen track; frames reach the room, which shows
    it as the shared screen; closing the receiver returns everyone to the grid."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

    from rcp.room import ScreenReceiver

    async def run() -> tuple[int, object, object, bool]:
        room = Room(1)
        room.join("presenter", "Alice Martin")
        room.join("viewer", "Bob Durand")
        browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        browser.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await browser.setLocalDescription(await browser.createOffer())
        receiver = ScreenReceiver(room, "presenter")
        answer = await receiver.accept(browser.localDescription.sdp)
        assert "a=candidate" in answer  # complete answer: no trickle
        await browser.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for _ in range(100):
            if receiver.frames >= 3:
                break
            await asyncio.sleep(0.05)
        owner_while_sharing = room.screen_owner
        sharing_flags = {p.key: p.sharing_screen for p in room.participants()}
        await receiver.close()
        await browser.close()
        return receiver.frames, owner_while_sharing, sharing_flags, room.screen_owner is None

    frames, owner, flags, back_to_grid = asyncio.run(run())
    assert owner == "presenter"
    assert flags == {"presenter": True, "viewer": False}
    assert back_to_grid and frames == 0  # reset by close()


def test_screen_receiver_drops_frames_of_a_presenter_who_left() -> None:
    from rcp.room import ScreenReceiver

    room = Room(1)
    room.join("presenter", "Alice Martin")
    receiver = ScreenReceiver(room, "presenter")
    room.leave("presenter")
    receiver._ingest(av.VideoFrame(64, 48, "yuv420p"))
    assert room.screen_owner is None


def test_scaling_one_frame_from_many_threads_at_once_is_safe() -> None:
    """A shared screen is scaled by every viewer's thread at the same time (it crashed the
    server when av.VideoFrame.reformat shared one swscale context between threads)."""
    from rcp.room import frame_to_yuv

    frame = av.VideoFrame.from_ndarray(
        np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8), format="rgb24"
    ).reformat(format="yuv420p")
    sizes = [(640, 360), (320, 180), (400, 226), (160, 90)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(60):
                w, h = sizes[(i + n) % len(sizes)]
                image = frame_to_yuv(frame, w, h)
                assert image.y.shape == (h, w) and image.u.shape == (h // 2, w // 2)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    # Daemon threads and a join timeout: the unsafe version deadlocked (or crashed).
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "scaling threads are stuck"
    assert errors == []


# --------------------------------------------------------------------------- seats (tabs)


def test_joining_from_a_second_tab_moves_the_seat_and_the_first_tab_can_no_longer_act() -> None:
    events: list[RoomEvent] = []
    room = Room(1, on_join=events.append, on_leave=events.append)
    room.join("a", "Alice", seat="tab1")
    old_video, old_audio = room.outgoing_tracks("a")
    room.push_video("a", solid((250, 0, 0)), seat="tab1")
    room.join("a", "Alice", seat="tab2", muted=True)
    assert room.seat_of("a") == "tab2" and [e.kind for e in events] == ["join"]
    assert old_video.readyState == "ended" and old_audio.readyState == "ended"
    new_video, _ = room.outgoing_tracks("a")
    assert new_video is not old_video and new_video.readyState == "live"
    assert room.participants()[0].muted and not room.participants()[0].has_video
    # The first tab's camera, microphone and leave are ignored from now on.
    assert room.push_video("a", solid((250, 0, 0)), seat="tab1") is False
    assert room.push_audio("a", np.full(960, 1000, dtype=np.int16), seat="tab1") is False
    assert room.leave("a", seat="tab1") is None and "a" in room
    assert room.push_video("a", solid((0, 250, 0)), seat="tab2") is True
    assert room.leave("a", seat="tab2") is not None and "a" not in room
    assert [e.kind for e in events] == ["join", "leave"]


def test_the_same_tab_joining_again_keeps_its_tracks_and_flags() -> None:
    room = Room(1)
    room.join("a", "Alice", seat="tab1")
    tracks = room.outgoing_tracks("a")
    room.set_muted("a", True)
    room.join("a", "Alice", seat="tab1", muted=False)
    assert room.outgoing_tracks("a") == tracks and room.participants()[0].muted


def test_sinks_carry_their_tab() -> None:
    room = Room(1)
    room.join("a", "Alice", seat="tab1")
    video_sink(room, "a", "tab1")(av.VideoFrame(64, 48, "yuv420p"))
    assert room.participants()[0].has_video
    room.join("a", "Alice", seat="tab2")
    video_sink(room, "a", "tab1")(av.VideoFrame(64, 48, "yuv420p"))
    assert not room.participants()[0].has_video


def test_a_camera_frame_slightly_larger_than_its_tile_is_cropped_not_scaled() -> None:
    # 320×240 cameras in the 4-person grid's 316×236 tiles: the centre of the frame, as is.
    rgb = np.random.default_rng(2).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    source = room_mod.YuvImage.from_yuv420p(frame.to_ndarray(), 320, 240)
    (rect, *_) = grid_layout(4, width=640, height=480)
    w, h = picture_mod.fitted(frame, rect)
    image = room_mod.frame_to_yuv(frame, w, h)
    x, y = (320 - w) // 2 // 2 * 2, (240 - h) // 2 // 2 * 2
    assert (image.width, image.height) == (w, h) and 0 < 320 - w <= picture_mod._CROP_SLACK
    assert np.array_equal(image.y, source.y[y : y + h, x : x + w])
    assert np.array_equal(image.u, source.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2])
    # A frame much larger than its tile is scaled: the whole picture, not a crop of it.
    small = room_mod.frame_to_yuv(frame, 160, 120)
    assert (small.width, small.height) == (160, 120)
    assert abs(int(small.y.mean()) - int(source.y.mean())) <= 2


def test_the_room_picture_goes_to_the_encoder_in_yuv420p_without_conversion() -> None:
    room = Room(1)
    room.join("a", "Alice")
    room.push_video("a", solid((0, 0, 250)))
    picture = room.render_picture(None, width=W, height=H)
    frame = picture.to_frame()
    assert frame.format.name == "yuv420p" and (frame.width, frame.height) == (W, H)
    assert has_colour(frame.to_ndarray(format="rgb24"), (0, 0, 250))
