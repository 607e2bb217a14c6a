"""Real-browser fixtures: a `streamlit run app.py` server and Debian's Chromium via Playwright."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screens"
CHROMIUM = os.environ.get("RCP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # Web Audio reads the received voices in the room test without a click first.
    "--autoplay-policy=no-user-gesture-required",
]
ADMIN_EMAIL = "admin@plateforme.example"
ADMIN_PHONE = "+33612345600"
PASSWORD = "Correct-Horse-Battery-9"

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path

    def cli(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "-m", "rcp", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def outbox(self, to: str) -> list[dict]:
        return json.loads(self.cli("outbox", "--json", "--to", to, "--limit", "20"))

    def last_code(self, phone: str) -> str:
        for message in self.outbox(phone):
            if message["channel"] == "sms" and message["body"]:
                return re.search(r"\b(\d{6})\b", message["body"]).group(1)
        raise AssertionError(f"no SMS for {phone}")


def make_server(data_dir: Path, port: int) -> Server:
    """A server description (not started) on ``port`` for the data folder ``data_dir``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RCP_")},
        "RCP_DATA_DIR": str(data_dir),
        "RCP_SECRET_KEY": "e2e-secret-key-0123456789-abcdefghijkl",
        "RCP_BASE_URL": f"http://127.0.0.1:{port}",
        "RCP_PASSWORD_HASH_TIME_COST": "1",
        "RCP_PASSWORD_HASH_MEMORY_KIB": "1024",
        "RCP_SECRETS_FILE": "/nonexistent/secrets.toml",
    }
    return Server(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir, port = tmp_path_factory.mktemp("e2e-data"), free_port()
    srv = make_server(data_dir, port)
    env = srv.env
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
    log = open(data_dir / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{srv.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start: " + (data_dir / "streamlit.log").read_text())
    try:
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class FrenchBrowser:
    """Chromium whose new contexts speak French unless a test says otherwise.

    Pages follow the browser's ``Accept-Language`` when the user chose no language, and
    Playwright's contexts ask for en-US by default (Chromium's ``--lang`` does not change it).
    """

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kwargs):
        kwargs.setdefault("locale", "fr-FR")
        return self._browser.new_context(**kwargs)

    def new_page(self, **kwargs):
        kwargs.setdefault("locale", "fr-FR")
        return self._browser.new_page(**kwargs)

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


def launch(pw, args: list[str] | None = None) -> FrenchBrowser:
    """Debian's Chromium through Playwright, contexts in French by default."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run scripts/test.sh (apt-get install chromium)"
        )
    return FrenchBrowser(pw.chromium.launch(executable_path=CHROMIUM, args=args or CHROMIUM_ARGS))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        yield browser
        browser.close()


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script for this page."""
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout
    )
    page.wait_for_timeout(300)


def choose(page, label: str, option: re.Pattern[str] | str) -> None:
    """Pick ``option`` in the select box labelled ``label``, as a user scrolls to it and clicks.

    A select box at the window's bottom edge opens no list on a click in Chromium (seen at
    1400 x 1000 once the page's banners pushed "Cas en cours" down): it is brought to the
    middle of the window first.
    """
    box = page.get_by_label(label)
    box.evaluate("e => e.scrollIntoView({block: 'center'})")
    box.click()
    page.get_by_role("option", name=option).click()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, server: Server, email: str, phone: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/")
    wait_idle(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code de vérification").wait_for()
    wait_idle(page)
    page.get_by_label("Code de vérification").fill(server.last_code(phone))
    page.get_by_role("button", name="Valider").click()
    page.get_by_role("button", name="Se déconnecter").wait_for(timeout=30_000)
    wait_idle(page)
