"""Video room load: server CPU and received frame rate of the room (server-side mixing).

Run by hand (it starts its own servers and headless Chromium contexts with the fake camera):

    .venv/bin/python bench/room_load.py            # 2, 3 and 4 participants, 30 s windows
    .venv/bin/python bench/room_load.py --smoke    # 2 participants, 6 s windows
    .venv/bin/python bench/room_load.py --camera noisy   # a camera-like moving, noisy picture

For each N, a fresh ``streamlit run`` server: the real app (``app.py``, page ``/salle``, one
connection per browser, server-composed grid and mix-minus audio). The per-pair relay
baseline of earlier runs (streamlit-webrtc's video-chat design) was removed with
streamlit-webrtc itself (December 2026); its figures stay in bench/RESULTS.md.

Chromium's fake camera is a flat green picture that VP8 encodes almost for free;
``--camera noisy`` feeds every browser a generated 640×480 15 fps clip with moving shapes and
sensor-like noise instead (``--use-file-for-fake-video-capture``), closer to what a real
camera costs an encoder. Figures: server CPU-seconds per minute (utime + stime of the server
process from /proc over the window) and frames per second received per participant (from
``getVideoPlaybackQuality().totalVideoFrames`` of every received <video>, averaged per
stream). The browsers run on the same cores as the server: the load average is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM_ARGS, launch  # noqa: E402 - the browser tests' flags
from tests.ports import free_port  # noqa: E402

DATA = Path(tempfile.mkdtemp(prefix="room-load-"))
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("RCP_")},
    "RCP_DATA_DIR": str(DATA),
    "RCP_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
    "RCP_PASSWORD_HASH_TIME_COST": "1",
    "RCP_PASSWORD_HASH_MEMORY_KIB": "1024",
    "RCP_SECRETS_FILE": "/nonexistent/secrets.toml",
}
os.environ.update(ENV)  # this process builds the data and the session tokens the server checks

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SHOTS = ROOT / "artifacts" / "screens"
# The participants' picture of each room component (its #screen video carries a shared screen).
FRAMES_JS = """() => Array.from(document.querySelectorAll('video:not(#screen)')).map(v => ({
    width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames }))"""


@dataclass
class Result:
    design: str
    n: int
    cpu_s_per_min: float
    fps: list[float]  # per participant: mean over the streams it receives
    streams: int  # received streams per participant
    rss_mb: float


def noisy_camera_clip(path: Path, seconds: float = 6.0, fps: int = 15) -> Path:
    """A y4m clip for Chromium's fake camera: a moving head-like shape, a slow gradient and
    per-frame noise (a webcam in a consulting room is never a flat picture)."""
    import av
    import numpy as np

    if path.exists():
        return path
    rng = np.random.default_rng(7)
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            t = i / fps
            img = np.empty((h, w, 3), np.float32)
            img[..., 0] = 90 + 60 * xx / w + 20 * np.sin(t)
            img[..., 1] = 80 + 40 * yy / h
            img[..., 2] = 70 + 30 * np.cos(t / 2)
            cx, cy = w / 2 + 60 * np.sin(t * 1.3), h / 2 + 20 * np.cos(t * 1.7)
            head = ((xx - cx) / 110) ** 2 + ((yy - cy) / 140) ** 2 < 1
            img[head] = (205, 160, 135)
            img += rng.normal(0, 6, img.shape).astype(np.float32)
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), "rgb24")
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, script: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(DATA / f"{script.replace('/', '_')}-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(self.port)]
            + ["--server.address", "127.0.0.1", "--server.headless", "true"]
            + ["--browser.gatherUsageStats", "false"],
            cwd=ROOT,
            env={**ENV, "RCP_BASE_URL": self.url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{script} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _prepare(n_max: int) -> tuple[int, list[str]]:
    """A live meeting with a coordinator and n_max − 1 confirmed doctors; their session tokens."""
    from sqlmodel import Session

    from rcp import meetings
    from rcp.db import make_engine, upgrade
    from rcp.models import utcnow
    from tests.factories import make_coordinator, make_meeting, make_member, make_rcp, sign_in

    engine = make_engine()
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        users = [make_coordinator(session, rcp, phone=f"+336123457{10:02d}", last_name="Coord")]
        for i in range(1, n_max):
            users.append(
                make_member(
                    session,
                    rcp,
                    users[0],
                    phone=f"+336123457{10 + i:02d}",
                    last_name="Participant" + "abcdefgh"[i],
                )
            )
        meeting = make_meeting(session, rcp, users[0])
        for doctor in users[1:]:
            meetings.invite(session, actor=users[0], meeting_id=meeting.id, user_id=doctor.id)
            meetings.respond(session, actor=doctor, meeting_id=meeting.id, accept=True)
        meeting.starts_at = utcnow() - dt.timedelta(minutes=5)
        meeting.ends_at = meeting.starts_at + dt.timedelta(hours=4)
        meeting.case_deadline = meeting.starts_at
        session.add(meeting)
        session.commit()
        tokens = [sign_in(session, user) for user in users]
    engine.dispose()
    return meeting.id, tokens


def _wait_videos(page, count: int, timeout_s: float = 90.0) -> bool:
    """Until ``count`` received videos play on the page; False (and a warning) after timeout:
    the measurement then goes on, a stream that never played counting as 0 fps."""
    deadline = time.monotonic() + timeout_s
    while True:
        live = sum(1 for f in page.frames for v in _videos(f) if v["width"] > 2)
        if live >= count:
            return True
        if time.monotonic() > deadline:
            print(f"WARNING: {live} of {count} videos playing on {page.url} after {timeout_s} s")
            return False
        page.wait_for_timeout(500)


def _videos(frame) -> list[dict]:
    try:
        return frame.evaluate(FRAMES_JS)
    except Exception:  # noqa: BLE001 - a frame that went away meanwhile
        return []


def _frame_counts(page, streams: int) -> list[int]:
    """Decoded frames of each received video (the page's own preview, if any, is not one)."""
    counts = [v["frames"] for f in page.frames for v in _videos(f)]
    return (counts + [0] * streams)[:streams] if len(counts) <= streams else counts[-streams:]


def _measure(server: Server, pages: list, streams: int, design: str, n: int, window: float):
    for page in pages:
        _wait_videos(page, streams)
    time.sleep(min(10.0, window / 2))  # warm-up: encoders settle, late connections recover
    cpu0, frames0, t0 = (
        _cpu_seconds(server.proc.pid),
        [_frame_counts(p, streams) for p in pages],
        time.monotonic(),
    )
    time.sleep(window)
    cpu1, frames1, t1 = (
        _cpu_seconds(server.proc.pid),
        [_frame_counts(p, streams) for p in pages],
        time.monotonic(),
    )
    elapsed = t1 - t0
    SHOTS.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(pages):
        page.screenshot(path=str(SHOTS / f"bench_{design}_{n}_{i}.png"))
    fps = []
    for before, after in zip(frames0, frames1, strict=True):
        pairs = list(zip(before, after, strict=True))
        fps.append(sum(b - a for a, b in pairs) / max(1, len(pairs)) / elapsed)
    return Result(design, n, (cpu1 - cpu0) / elapsed * 60, fps, streams, _rss_mb(server.proc.pid))


def run_mixing(browser, meeting_id: int, tokens: list[str], n: int, window: float) -> Result:
    server = Server("app.py")
    contexts = []
    try:
        pages = []
        for token in tokens[:n]:
            context = browser.new_context(permissions=["camera", "microphone"])
            context.add_cookies([{"name": "rcp_session", "value": token, "url": server.url}])
            contexts.append(context)
            page = context.new_page()
            page.goto(f"{server.url}/salle?id={meeting_id}")  # the room joins by itself
            pages.append(page)
        return _measure(server, pages, 1, "mixing", n, window)
    finally:
        for context in contexts:
            context.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 participants, short windows")
    parser.add_argument("--window", type=float, default=None, help="measuring window (s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="numbers of people")
    parser.add_argument(
        "--camera",
        default="fake",
        help="'fake' (Chromium's flat test picture), 'noisy' (generated clip) or a .y4m path",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([2] if args.smoke else [2, 3, 4])
    window = args.window or (6.0 if args.smoke else 30.0)
    from playwright.sync_api import sync_playwright

    meeting_id, tokens = _prepare(max(sizes))
    results: list[Result] = []
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}; window {window} s")
    with sync_playwright() as pw:
        args_ = list(CHROMIUM_ARGS)
        if args.camera != "fake":
            clip = Path(args.camera) if args.camera != "noisy" else None
            clip = clip or noisy_camera_clip(Path(tempfile.gettempdir()) / "rcp-noisy-camera.y4m")
            args_.append(f"--use-file-for-fake-video-capture={clip}")
        print(f"camera: {args.camera}")
        browser = launch(pw, args_)
        try:
            for n in sizes:
                result = run_mixing(browser, meeting_id, tokens, n, window)
                results.append(result)
                fps = ", ".join(f"{f:.1f}" for f in result.fps)
                print(
                    f"mixing  N={n}: server {result.cpu_s_per_min:5.1f} CPU-s/min, "
                    f"RSS {result.rss_mb:4.0f} MB, {result.streams} stream(s) received "
                    f"each, fps per participant [{fps}]  (load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
        finally:
            browser.close()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
