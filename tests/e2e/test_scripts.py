"""The README's commands, run as written: the demo Quick start (`scripts/start.sh`).

Each test starts the real script on a free port and a temporary data folder, then reads what
an operator would see: the console, the listening socket (from /proc/net, no traffic to any
address but loopback) and the health route.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rcp.demo import DEMO_PASSWORD
from tests.e2e.conftest import ROOT, shot, wait_idle
from tests.e2e.streamlit_server import stop
from tests.ports import free_port

pytestmark = pytest.mark.e2e


def base_env(data_dir: Path, port: int) -> dict[str, str]:
    """The machine's environment without any RCP_ setting, plus a data folder and a port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCP_", "STREAMLIT_"))}
    env.update(
        PORT=str(port),
        RCP_DATA_DIR=str(data_dir),
        RCP_SECRETS_FILE="/nonexistent/secrets.toml",
        RCP_PASSWORD_HASH_TIME_COST="1",
        RCP_PASSWORD_HASH_MEMORY_KIB="1024",
    )
    return env


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until ``url``/_stcore/health answers (a fresh start runs init and seed-demo first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the script exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the server did not answer:\n" + log.read_text())


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net)."""
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # /proc/net prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.fixture
def run_script(tmp_path: Path) -> Iterator:
    """Start ``bash scripts/<name>`` with an environment; stopped at the end of the test."""
    procs: list[subprocess.Popen] = []

    def run(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["bash", f"scripts/{name}"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        stop(proc)  # the scripts exec the server: this is the server's own process


def demo_sign_in(page, url: str, email: str) -> None:
    """Sign in with a demo account; demo mode shows the SMS code on the page."""
    page.goto(url + "/")
    wait_idle(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code de vérification").wait_for()
    wait_idle(page)
    code = re.findall(r"\b(\d{6})\b", page.inner_text("body"))[-1]
    page.get_by_label("Code de vérification").fill(code)
    page.get_by_role("button", name="Valider").click()
    page.get_by_role("button", name="Se déconnecter").wait_for(timeout=30_000)
    wait_idle(page)


def test_quick_start_serves_the_demo_on_loopback_only_and_says_so(
    tmp_path, run_script, browser
) -> None:
    """`bash scripts/start.sh` on PORT: loopback only, announced, healthy, and a doctor of
    the demo finds a meeting of today whose video room is open, with its cases."""
    port = free_port()
    log = tmp_path / "start.log"
    proc = run_script("start.sh", base_env(tmp_path / "data", port), log)
    wait_healthy(f"http://127.0.0.1:{port}", proc, log)

    assert listening_addresses(port) == {"127.0.0.1"}
    console = log.read_text()
    assert "Mode démonstration : le serveur n'écoute que sur 127.0.0.1" in console
    assert f"http://localhost:{port}" in console
    assert "RCP_BASE_URL n'est pas réglé" not in console  # demo mode needs no public address
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        assert resp.status == 200

    context = browser.new_context()
    page = context.new_page()
    try:
        demo_sign_in(page, f"http://localhost:{port}", "medecin1@orkid.example")
        # "Mes prochaines séances", soonest first: "RCP … adulte du 1er décembre 2026 à 14:00
        # (participation confirmée)" (the pending invitations above have no status).
        confirmed = re.compile(r"adulte du .* à \d\d:\d\d \(participation confirmée\)")
        page.locator("a", has_text=confirmed).first.click()
        wait_idle(page)
        page.get_by_role("link", name="Rejoindre la visio-conférence").wait_for()
        for patient in ("DEMOLIN Lucie", "FICTIF Paul", "SPECIMEN Jeanne"):
            assert page.get_by_text(patient).count() == 1
        shot(page, "quick-start-live-meeting")
    finally:
        context.close()
