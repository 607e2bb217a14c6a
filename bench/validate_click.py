"""Time "Valider l'avis" in Chromium: from the click to the validated opinion on screen.

Starts a real ``streamlit run app.py`` on a fresh data folder, seeds one meeting with
``--cases`` cases like the procedure's (clinical text, dated labs with their own values, a
DICOM key image chosen), signs the assistant in, and for each case opens ``/avis?case=N``,
writes the proposal, answers the guidelines question and clicks "Valider l'avis". The first
validation of the server process is reported apart (cold: fonts and plotting libraries load),
then the median and maximum of the others. With ``--profile`` the server runs under
pyinstrument and writes its profile to ``<data>/profile.txt``; with ``--trace`` each click
prints its websocket frames (timed from the click), the page's long tasks, when the validated
text reached the DOM, and the page's busiest JavaScript functions. Run by hand:

    .venv/bin/python bench/validate_click.py --cases 6
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PHONE,
    PASSWORD,
    launch,
    make_server,
    sign_in,
    wait_idle,
)
from tests.ports import free_port  # noqa: E402

GOAL_S = 1.0

# --trace: long tasks of the page and when the validated text reached the DOM, in ms from
# the probe's start (just before the click).
PROBE = """() => {
  const t0 = performance.now();
  const probe = (window.__probe = {longtasks: [], seen: null});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      probe.longtasks.push([Math.round(e.startTime - t0), Math.round(e.duration)]);
  }).observe({type: "longtask"});
  new MutationObserver(() => {
    if (probe.seen === null && document.body.textContent.includes("Avis validé le"))
      probe.seen = Math.round(performance.now() - t0);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_js_profile(profile: dict, top: int = 12) -> None:
    """The page's JavaScript functions that took the most time (self time), from CDP."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: dict[str, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node_id]["callFrame"]
        where = f"{frame['functionName'] or '(anonymous)'} {frame['url'].rsplit('/', 1)[-1]}"
        where += f":{frame['lineNumber']}"
        self_us[where] = self_us.get(where, 0) + delta
    for where, us in sorted(self_us.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {us / 1000:7.1f} ms  {where}")


def seed(data_dir: Path, count: int) -> tuple[object, list[int]]:
    """One running meeting with a quorum and ``count`` cases, each with its key image."""
    os.environ.update(
        {
            "RCP_DATA_DIR": str(data_dir),
            "RCP_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
            "RCP_SECRETS_FILE": "/nonexistent/secrets.toml",
        }
    )
    from sqlmodel import Session

    from rcp import config, opinions
    from rcp.db import make_engine
    from tests.factories import CASE_TEAM_TEXT, attend, make_case, make_case_team
    from tests.unit.test_opinions import add_attachment, ct_small

    config.reset_settings_cache()
    engine = make_engine(f"sqlite:///{data_dir / 'rcp.db'}")
    ids = []
    with Session(engine, expire_on_commit=False) as session:
        team = make_case_team(session)
        attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
        for n in range(count):
            labs = [
                {"code": "creatinine", "value": str(120 + 7 * n + 3 * i), "taken_on": day}
                for i, day in enumerate(("2026-03-02", "2026-06-15", "2026-09-21"))
            ]
            case = (
                team.case
                if n == 0
                else make_case(
                    session,
                    team.meeting,
                    team.assistant,
                    **{
                        **CASE_TEAM_TEXT,
                        "first_name": "Éloïse " + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n],
                        "labs": labs,
                    },
                )
            )
            attachment = add_attachment(session, case, ct_small(), "scanner.dcm", "dicom")
            opinions.choose_key_image(
                session, actor=team.assistant, case_id=case.id, attachment_id=attachment.id
            )
            ids.append(case.id)
    engine.dispose()
    return team, ids


def start(srv, data_dir: Path, port: int, profile: bool) -> subprocess.Popen:
    command = [sys.executable]
    if profile:
        command += ["-m", "pyinstrument", "-o", str(data_dir / "profile.txt"), "-m"]
    else:
        command += ["-m"]
    command += ["streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    log = open(data_dir / "streamlit.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(command, cwd=ROOT, env=srv.env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{srv.url}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError((data_dir / "streamlit.log").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--profile", action="store_true", help="pyinstrument (main thread)")
    parser.add_argument(
        "--py-spy", action="store_true", help="sample every server thread with py-spy"
    )
    parser.add_argument(
        "--trace", action="store_true", help="print the websocket frames of each click, timed"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    data_dir, port = Path(tempfile.mkdtemp(prefix="bench-validate-")), free_port()
    srv = make_server(data_dir, port)
    srv.cli("init")
    srv.cli(
        "create-admin",
        "--email",
        ADMIN_EMAIL,
        "--phone",
        ADMIN_PHONE,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    team, case_ids = seed(data_dir, args.cases)
    proc = start(srv, data_dir, port, args.profile)
    spy = None
    if args.py_spy:
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(proc.pid),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(data_dir / "py-spy.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    timings: list[float] = []
    cpu: list[float] = []
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
            frames: list[tuple[float, str, int]] = []

            def watch(ws) -> None:
                ws.on("framesent", lambda f: frames.append((time.perf_counter(), ">", len(f))))
                ws.on("framereceived", lambda f: frames.append((time.perf_counter(), "<", len(f))))

            page.on("websocket", watch)
            sign_in(page, srv, team.assistant.email, team.assistant.phone)
            for case_id in case_ids:
                page.goto(f"{srv.url}/avis?case={case_id}")
                wait_idle(page)
                page.get_by_label("Proposition de la RCP").fill("Débuter l'éculizumab.")
                page.get_by_text("Oui", exact=True).click()
                wait_idle(page)
                page.wait_for_timeout(1500)  # the coordinator reads before clicking
                button = page.get_by_role("button", name="Valider l'avis")
                started, cpu_before = time.perf_counter(), cpu_seconds(proc.pid)
                frames.clear()
                if args.trace:
                    page.evaluate(PROBE)
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Profiler.enable")
                    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
                    cdp.send("Profiler.start")
                button.click()
                page.get_by_text("Avis validé le").wait_for(timeout=60_000)
                timings.append(time.perf_counter() - started)
                if args.trace:
                    print(
                        f"case {case_id}: {timings[-1]:.2f} s; frames "
                        + " ".join(f"{d}{n}@{t - started:.2f}" for t, d, n in frames)
                    )
                    print("  browser:", page.evaluate("() => JSON.stringify(window.__probe)"))
                    print_js_profile(cdp.send("Profiler.stop")["profile"])
                cpu.append(cpu_seconds(proc.pid) - cpu_before)
            browser.close()
    finally:
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its samples and exits
            spy.wait(timeout=60)
        proc.terminate()
        proc.wait(timeout=30)
    load = os.getloadavg()[0]
    cold, warm = timings[0], timings[1:]
    print(f"load average {load:.2f}; cases {len(timings)}; goal {GOAL_S:.1f} s")
    print(f"first validation of the process (cold): {cold:.2f} s, server CPU {cpu[0]:.2f} s")
    if warm:
        print(
            f"next validations: median {statistics.median(warm):.2f} s, max {max(warm):.2f} s "
            f"({', '.join(f'{t:.2f}' for t in warm)}); server CPU median "
            f"{statistics.median(cpu[1:]):.2f} s"
        )
    if args.profile:
        print(f"server profile: {data_dir / 'profile.txt'}")
    if args.py_spy:
        print(f"py-spy samples (collapsed stacks): {data_dir / 'py-spy.txt'}")


if __name__ == "__main__":
    main()
