"""Start and stop a real `streamlit run app.py` on a data folder (pattern of conftest.server).

For tests that must control the process itself: kill it (SIGKILL) and restart it on the same
data folder, or run it with the log level turned up and read its log file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import ROOT, Server, make_server  # noqa: F401 - re-exported

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Runs the same `streamlit run` entry point, after sending the app's own loggers ("rcp.*")
# to stderr at DEBUG (by default they only reach the console from WARNING up).
_DEBUG_APP_LOGS = (
    "import logging, sys\n"
    "handler = logging.StreamHandler()\n"
    f"handler.setFormatter(logging.Formatter({LOG_FORMAT!r}))\n"
    "app_log = logging.getLogger('rcp')\n"
    "app_log.setLevel(logging.DEBUG)\n"
    "app_log.addHandler(handler)\n"
    "from streamlit.web.cli import main\n"
    "sys.argv = ['streamlit', *sys.argv[1:]]\n"
    "main(prog_name='streamlit')\n"
)


def start(server: Server, log_path: Path, *, log_level: str | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on the server's port, stdout and stderr appended to ``log_path``.

    ``log_level`` ("debug", "info") sets Streamlit's ``logger.level`` and, for "debug", also
    the app's own loggers. Returns once the health route answers.
    """
    port = server.url.rsplit(":", 1)[1]
    args = ["run", "app.py", "--server.port", port, "--server.address", "127.0.0.1"]
    args += ["--server.headless", "true"]
    if log_level:
        args += ["--logger.level", log_level, "--logger.messageFormat", LOG_FORMAT]
    if log_level == "debug":
        command = [sys.executable, "-c", _DEBUG_APP_LOGS, *args]
    else:
        command = [sys.executable, "-m", "streamlit", *args]
    with open(log_path, "a") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError("streamlit did not start: " + log_path.read_text())


def stop(proc: subprocess.Popen) -> None:
    """End the server politely (SIGTERM), or by force after 10 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL: no cleanup, no atexit, exactly like a power cut for the process."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
