"""The room's picture without browsers: CPU per composed + encoded picture, and what the bit rate
buys (luma PSNR of the decoded picture against the composed one, RTP packets per second).

    .venv/bin/python bench/room_picture.py               # 4 cameras, 300 pictures
    .venv/bin/python bench/room_picture.py --cameras 9 --pictures 150

Cameras are 320×240 frames of ``room_load.py``'s noisy clip, decoded as aiortc delivers them
(yuv420p), pushed into a ``Room`` every tick; ``SharedVideo.picture`` composes and encodes one
picture per tick, as in the video room. Figures are process CPU time, not wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from bench.room_load import noisy_camera_clip  # noqa: E402
from rcp import room as room_mod  # noqa: E402
from rcp.room import tracks as room_tracks  # noqa: E402

RTP_PAYLOAD = 1200  # bytes of VP8 per RTP packet, about what aiortc's packetizer sends


def camera_frames(n: int = 90) -> list[av.VideoFrame]:
    clip = noisy_camera_clip(Path(tempfile.gettempdir()) / "rcp-noisy-camera.y4m")
    with av.open(str(clip)) as container:
        frames = [f.reformat(width=320, height=240) for f in container.decode(video=0)]
    return frames[:n]


def filled_room(cameras: int) -> room_mod.Room:
    room = room_mod.Room("bench")
    for k in range(cameras):
        room.join(k, f"Dr Participant {k} Exemple")
    return room


def picture_cost(frames: list[av.VideoFrame], cameras: int, pictures: int) -> list[float]:
    """ms of CPU per picture (composition + VP8 encode), three rounds."""
    room = filled_room(cameras)
    tick = [0]
    video = room_mod.SharedVideo(room, clock=lambda: 0.0)
    rounds = []
    for _ in range(3):
        start = time.process_time()
        for i in range(pictures):
            for k in range(cameras):
                room.push_video(k, frames[(i + 11 * k) % len(frames)])
            tick[0] += 1
            video.picture(tick[0])
        rounds.append(1000 * (time.process_time() - start) / pictures)
    return rounds


def bitrate_table(frames: list[av.VideoFrame], cameras: int, rates: list[int]) -> list[str]:
    room = filled_room(cameras)
    pictures = []
    for i in range(len(frames)):
        for k in range(cameras):
            room.push_video(k, frames[(i + 11 * k) % len(frames)])
        pictures.append(room.render_picture(None).buffer.copy())
    height = room_mod.DEFAULT_HEIGHT
    seconds = len(pictures) / room_mod.DEFAULT_FPS
    lines = []
    for rate in rates:
        room_mod.VIDEO_BITRATE = rate
        encoder = room_tracks._vp8_encoder(room_mod.DEFAULT_WIDTH, height, room_mod.DEFAULT_FPS)
        decoder = av.CodecContext.create("vp8", "r")
        size = packets = 0
        psnr = []
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
            frame.pts, frame.time_base = i * 6000, Fraction(1, 90_000)
            for packet in encoder.encode(frame):
                size += packet.size
                packets += -(-packet.size // RTP_PAYLOAD)
                for out in decoder.decode(packet):
                    if i >= room_mod.DEFAULT_FPS:  # past the rate control's first second
                        got = out.to_ndarray()[:height].astype(np.float64)
                        error = np.mean((got - picture[:height].astype(np.float64)) ** 2)
                        psnr.append(10 * np.log10(255**2 / max(error, 1e-9)))
        lines.append(
            f"{rate / 1000:6.0f} kb/s asked: {size * 8 / seconds / 1000:5.0f} kb/s sent, "
            f"{packets / seconds:4.0f} packets/s per receiver, luma PSNR {np.mean(psnr):.1f} dB"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--pictures", type=int, default=300)
    parser.add_argument(
        "--rates", type=int, nargs="+", default=[1_000_000, 800_000, 600_000, 450_000]
    )
    args = parser.parse_args()
    frames = camera_frames()
    rounds = picture_cost(frames, args.cameras, args.pictures)
    per_second = min(rounds) * room_mod.DEFAULT_FPS / 1000 * 60
    print(
        f"{args.cameras} cameras: compose + encode "
        + " / ".join(f"{r:.2f}" for r in rounds)
        + f" ms per picture (3 rounds); at {room_mod.DEFAULT_FPS} fps ≈ {per_second:.1f}"
        " CPU-s/min for the whole room"
    )
    for line in bitrate_table(frames, args.cameras, args.rates):
        print(line)


if __name__ == "__main__":
    main()
