"""The README's production sequence, run for real on this machine.

No container engine can run a service manager here, and systemd is not PID 1: the unit
`deploy/rcp@.service` is checked by `systemd-analyze verify`, and its exact command line
(ExecStart, WorkingDirectory, User, EnvironmentFile, Environment) is started as the unit's
user with `setpriv`, in a layout where /srv/rcp is this repository and /etc/rcp, /var/lib/rcp
and /var/backups/rcp are temporary folders. The steps are the README's: settings file with
generated secrets, `scripts/rcp.sh init`, `create-admin`, start, sign-in, stop, upgrade
(`init` again), and the jobs of `deploy/rcp.cron`. A second test shows `scripts/serve.sh`
refusing demo settings. Like the README, it creates the system user `rcp` when missing (root
only: CI runs as root).

One liberty: on this machine the virtualenv's interpreter may live under /root (pyenv), out of
the service user's reach, where a server has Debian's /usr/bin/python3. The service user then
gets CAP_DAC_READ_SEARCH (reading and searching folders, never writing), so that it runs the
same code; what it writes, and who owns it, is unchanged.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, shot, wait_idle
from tests.ports import free_port

pytestmark = pytest.mark.e2e

UNIT = ROOT / "deploy" / "rcp@.service"
CRON = ROOT / "deploy" / "rcp.cron"
ADMIN_EMAIL = "admin.rcp@chu.example"
ADMIN_PHONE = "+33612345698"
ADMIN_PASSWORD = "Production-Admin-2026!"


def unit_entries(text: str) -> dict[str, list[str]]:
    """The [Service] section's settings (a key may repeat)."""
    entries: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            entries.setdefault(key, []).append(value)
    return entries


@dataclass
class Layout:
    """Where the README's production paths point to in this test."""

    base: Path
    env_file: Path  # /etc/rcp/rcp.env
    home: Path  # /var/lib/rcp
    backups: Path  # /var/backups/rcp
    user: pwd.struct_passwd
    port: int

    def paths(self, text: str) -> str:
        """The README's and the deploy files' absolute paths, mapped to this layout."""
        return (
            text.replace("/srv/rcp", str(ROOT))
            .replace("/etc/rcp/rcp.env", str(self.env_file))
            .replace("/var/backups/rcp", str(self.backups))
            .replace("/var/lib/rcp", str(self.home))
        )

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a login as the service user (no RCP_ setting of this run)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RCP_", "STREAMLIT_"))}
        env.update(HOME=str(self.home), USER=self.user.pw_name, LOGNAME=self.user.pw_name)
        env["RCP_ENV_FILE"] = str(self.env_file)
        env.update(extra)
        return env

    def as_user(self, command: list[str]) -> list[str]:
        return ["setpriv", "--reuid", self.user.pw_name, "--regid", self.user.pw_name,
                "--init-groups", *reach_interpreter(), *command]  # fmt: skip

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """``scripts/rcp.sh ARGS`` as the service user, as the README says."""
        return subprocess.run(
            self.as_user([str(ROOT / "scripts" / "rcp.sh"), *args]),
            cwd=self.home,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )


def reach_interpreter() -> list[str]:
    """setpriv options letting the service user run .venv's interpreter when a folder above
    it is closed to others (see the module docstring); none on a normal server."""
    target = (ROOT / ".venv" / "bin" / "python").resolve()
    closed = [p for p in target.parents if not p.stat().st_mode & 0o001]
    if not closed:
        return []
    return ["--inh-caps", "+dac_read_search", "--ambient-caps", "+dac_read_search"]


def service_user(name: str, home: str) -> pwd.struct_passwd:
    """The unit's user, created as the README creates it when the machine has none."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--system", "--home-dir", home, "--no-create-home", "--shell",
         "/usr/sbin/nologin", name],
        check=True,
    )  # fmt: skip
    return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def layout() -> Iterator[Layout]:
    if os.geteuid() != 0:
        pytest.skip("runs the unit's command as its user: needs root (CI runs as root)")
    if not shutil.which("setpriv"):
        pytest.fail("setpriv missing: run scripts/test.sh (apt-get install util-linux)")
    user_name = unit_entries(UNIT.read_text())["User"][0]
    user = service_user(user_name, "/var/lib/rcp")
    base = Path(tempfile.mkdtemp(prefix="rcp-production-", dir="/tmp"))
    base.chmod(0o755)
    (base / "etc").mkdir()
    home, backups = base / "var-lib-rcp", base / "var-backups-rcp"
    for folder in (home, backups):
        folder.mkdir(mode=0o750)
        os.chown(folder, user.pw_uid, user.pw_gid)
    try:
        yield Layout(base, base / "etc" / "rcp.env", home, backups, user, free_port())
    finally:
        shutil.rmtree(base, ignore_errors=True)


def write_settings(layout: Layout, *extra: str) -> None:
    """The settings file of the README: generated secrets, public address, data folder."""
    lines = [
        f"RCP_SECRET_KEY={secrets.token_urlsafe(32)}",
        f"STREAMLIT_SERVER_COOKIE_SECRET={secrets.token_hex(32)}",
        f"RCP_BASE_URL=http://localhost:{layout.port}",
        layout.paths("RCP_DATA_DIR=/var/lib/rcp/data"),
        # This machine only: cheap password hashing, no secrets.toml of the repository.
        "RCP_PASSWORD_HASH_TIME_COST=1",
        "RCP_PASSWORD_HASH_MEMORY_KIB=1024",
        "RCP_SECRETS_FILE=/nonexistent/secrets.toml",
        *extra,
    ]
    layout.env_file.write_text("\n".join(lines) + "\n")
    layout.env_file.chmod(0o640)
    os.chown(layout.env_file, 0, layout.user.pw_gid)  # root:rcp, as the README says


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def start_unit(layout: Layout, log: Path) -> subprocess.Popen:
    """The unit's ExecStart, as its User, in its WorkingDirectory, with its environment."""
    entries = unit_entries(layout.paths(UNIT.read_text()).replace("%i", str(layout.port)))
    env = layout.env()
    env.pop("RCP_ENV_FILE")  # the unit sets none: systemd loads EnvironmentFile as root
    for env_file in entries.get("EnvironmentFile", []):
        env.update(env_file_values(Path(env_file.lstrip("-"))))
    for assignment in entries.get("Environment", []):
        for pair in assignment.split():
            key, _, value = pair.partition("=")
            env[key] = value
    (command,) = entries["ExecStart"]
    user = entries["User"][0]
    assert user == layout.user.pw_name
    out = open(log, "w")  # noqa: SIM115 - the server writes it until stopped
    return subprocess.Popen(
        ["setpriv", "--reuid", user, "--regid", entries["Group"][0], "--init-groups",
         *reach_interpreter(), *command.split()],
        cwd=entries["WorkingDirectory"][0],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_health(url: str, proc: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the service exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=3) as resp:
                return resp.read().decode()
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.5)
    raise AssertionError("no answer from /healthz:\n" + log.read_text())


def process_uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


def sign_in_admin(page, url: str, layout: Layout) -> None:
    page.goto(url + "/")
    wait_idle(page)
    assert page.get_by_text("Comptes de démonstration").count() == 0
    page.get_by_label("Adresse e-mail professionnelle").fill(ADMIN_EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code de vérification").wait_for()
    wait_idle(page)
    outbox = layout.run("outbox", "--json", "--to", ADMIN_PHONE)
    assert outbox.returncode == 0, outbox.stderr
    code = re.search(r"\b(\d{6})\b", json.loads(outbox.stdout)[0]["body"]).group(1)
    assert code not in page.inner_text("body")  # outside demo mode no code is shown
    page.get_by_label("Code de vérification").fill(code)
    page.get_by_role("button", name="Valider").click()
    page.get_by_role("button", name="Se déconnecter").wait_for(timeout=30_000)
    wait_idle(page)


def test_systemd_unit_passes_systemd_analyze(layout: Layout) -> None:
    """The unit, with this machine's paths, has no error for systemd (user, paths, syntax)."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze missing: run scripts/test.sh (apt-get install systemd)")
    write_settings(layout)
    unit = layout.base / f"rcp@{layout.port}.service"
    unit.write_text(layout.paths(UNIT.read_text()))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_production_first_start_stop_upgrade_and_daily_jobs(layout: Layout, browser) -> None:
    """The README's production sequence on this machine, the service run as its unit says."""
    write_settings(layout)
    url = f"http://127.0.0.1:{layout.port}"

    init = layout.run("init")
    assert init.returncode == 0, init.stderr
    assert "Schéma à jour" in init.stdout
    data = layout.home / "data"
    assert data.stat().st_uid == layout.user.pw_uid  # the data belong to the service user
    admin = layout.run(
        "create-admin",
        "--email",
        ADMIN_EMAIL,
        "--phone",
        ADMIN_PHONE,
        "--last-name",
        "Martin",
        "--first-name",
        "Claire",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    assert admin.returncode == 0, admin.stderr

    log = layout.base / "service.log"
    proc = start_unit(layout, log)
    try:
        assert wait_health(url, proc, log).startswith("ok\n")
        assert process_uid(proc.pid) == layout.user.pw_uid
        console = log.read_text()
        assert "Réglages de production vérifiés" in console
        assert "Mode démonstration" not in console and "RCP_BASE_URL" not in console
        # Streamlit is told the name users open (origin checks; no public-IP lookup).
        assert f"URL: http://localhost:{layout.port}" in console
        context = browser.new_context()
        page = context.new_page()
        try:
            sign_in_admin(page, url, layout)
            shot(page, "production-admin-home")
            # create-admin makes a non-physician account unless --profession physician: no "Dr".
            assert page.get_by_text("Bonjour Claire Martin").count() == 1
            assert page.get_by_text("Administration").count() >= 1  # the admin's menu
        finally:
            context.close()
    finally:
        proc.send_signal(signal.SIGTERM)  # systemctl stop
        proc.wait(timeout=30)
    # uvicorn ends by re-raising SIGTERM after its graceful shutdown: systemd counts an exit
    # by SIGTERM as a clean stop.
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]

    upgrade = layout.run("init")  # an upgrade: new code, then init again
    assert upgrade.returncode == 0 and "Schéma à jour" in upgrade.stdout, upgrade.stderr

    jobs = [
        line.split(None, 6)
        for line in CRON.read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert [job[5] for job in jobs] == [layout.user.pw_name] * 3
    for *_when, _user, command in jobs:
        shell = command.replace("\\%", "%")  # what cron runs
        result = subprocess.run(
            layout.as_user(["/bin/bash", "-c", layout.paths(shell)]),
            cwd=layout.home,
            env={**layout.env(), "PATH": "/usr/local/bin:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (command, result.stderr)
    (backup,) = list(layout.backups.iterdir())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", backup.name)
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["tables"]["user"] == 1


@pytest.mark.parametrize(
    ("extra", "prepare", "reason"),
    [
        (("RCP_DEMO_MODE=1",), "init", "RCP_DEMO_MODE est activé"),
        ((), "seed-demo", "compte(s) de démonstration"),
        (("RCP_SECRET_KEY=changethis",), "", "RCP_SECRET_KEY doit être une valeur aléatoire"),
        ((), "", "schéma absent : lancez python -m rcp init"),
    ],
    ids=["demo-mode", "demo-accounts", "placeholder-secret", "no-schema"],
)
def test_serve_refuses_demo_settings_and_an_unready_database(
    layout: Layout, extra: tuple[str, ...], prepare: str, reason: str
) -> None:
    """scripts/serve.sh exits with the reason, and nothing listens on its port."""
    shutil.rmtree(layout.home / "data", ignore_errors=True)
    write_settings(layout)
    if prepare:
        result = subprocess.run(
            layout.as_user([str(ROOT / "scripts" / "rcp.sh"), prepare]),
            cwd=layout.home,
            env=layout.env(RCP_DEMO_MODE="1") if prepare == "seed-demo" else layout.env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
    write_settings(layout, *extra)
    served = subprocess.run(
        layout.as_user([str(ROOT / "scripts" / "serve.sh")]),
        cwd=layout.home,
        env=layout.env(PORT=str(layout.port)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 2
    assert "Démarrage refusé" in served.stderr and reason in served.stderr, served.stderr
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{layout.port}/healthz", timeout=2)
