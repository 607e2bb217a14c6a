"""Two `streamlit run app.py` replicas over one PostgreSQL database and one data folder, behind
nginx running deploy/nginx.conf: sticky browsers, meeting rooms pinned, shared meeting state.

nginx runs the documented site file with only what a loopback test cannot have taken out: the
TLS parts (port-80 redirect block, certificates, HSTS, the cookies' Secure flag) and the
replica addresses and log paths replaced. How browsers are forced onto different replicas:
the upstream is chosen by a consistent hash of the `rcp_node` cookie, so the test probes a few
candidate cookie values through nginx, reads in the access log which replica each one reached,
keeps one value per replica and gives each browser its own before it loads the first page.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.databases import throwaway_postgres
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PHONE,
    PASSWORD,
    ROOT,
    Server,
    choose,
    shot,
    sign_in,
    wait_idle,
)
from tests.factories import (
    RunningMeeting,
    seed_running_meeting,
)
from tests.ports import free_ports

PG_URL = os.environ.get("RCP_TEST_DATABASE_URL", "")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE_CONF = ROOT / "deploy" / "nginx.conf"
LIVE_TIMEOUT = 45_000  # ms: the page polls every 2 s; generous on a loaded 2-core machine

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.pg,
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set RCP_TEST_DATABASE_URL"),
]


# --- the cluster -------------------------------------------------------------------------------


def _substitute(text: str, old: str, new: str, *, count: int | None = None) -> str:
    found = text.count(old)
    assert found and (count is None or found == count), f"deploy/nginx.conf: {old!r} x{found}"
    return text.replace(old, new)


def loopback_site(site: str, *, listen: int, replicas: list[int], log_dir: Path) -> str:
    """deploy/nginx.conf without TLS, on loopback ports, logging into ``log_dir``.

    Every substitution must find its target: if the documented file changes shape, this
    fails instead of silently testing something else.
    """
    site, n = re.subn(r"# BEGIN http-redirect.*?# END http-redirect\n", "", site, flags=re.S)
    assert n == 1, "deploy/nginx.conf: the http-redirect block markers are missing"
    site = _substitute(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{listen};", count=1)
    site = re.sub(r"^\s*listen \[::\]:443.*\n", "", site, flags=re.M)
    site, n = re.subn(
        r"^\s*(ssl_\w+|add_header Strict-Transport-Security) .*\n", "", site, flags=re.M
    )
    assert n >= 3, "deploy/nginx.conf: no TLS settings found"
    site = _substitute(site, "; Secure", "")
    servers = re.findall(r"^(\s*server 127\.0\.0\.1:\d+)", site, flags=re.M)
    assert len(servers) == len(replicas), "deploy/nginx.conf: upstream is not two replicas"
    for line, port in zip(servers, replicas, strict=True):
        site = site.replace(line, re.sub(r":\d+$", f":{port}", line), 1)
    site = _substitute(site, "/var/log/nginx/rcp.access.log", str(log_dir / "access.log"))
    return _substitute(site, "/var/log/nginx/rcp.error.log", str(log_dir / "error.log"))


def main_conf(prefix: Path, site: Path) -> str:
    """The few lines Debian's /etc/nginx/nginx.conf would give around the site file."""
    return f"""
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {site};
}}
"""


def _wait_http(url: str, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer: {log.read_text()[-3000:]}")


@dataclass
class Cluster:
    server: Server  # the proxy's URL; cli() and last_code() act on the shared database
    database_url: str
    replicas: dict[str, int]  # "127.0.0.1:port" -> replica number (1, 2)
    access_log: Path

    def request(self, path: str, cookies: dict[str, str] | None = None):
        """One GET through nginx (no redirect following); returns the response."""
        req = urllib.request.Request(self.server.url + path)
        if cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
        opener = urllib.request.build_opener(_NoRedirect)
        return opener.open(req, timeout=20)

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines()

    def replica_of(self, marker: str) -> int:
        """The replica that served the logged request whose line contains ``marker``."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if marker in line:
                    return self.replicas[re.search(r"upstream=(\S+)", line).group(1)]
            time.sleep(0.2)
        raise AssertionError(f"no access-log line with {marker!r}")

    def probe(self, path: str, cookies: dict[str, str]) -> int:
        """Which replica a GET of ``path`` with these cookies reaches."""
        marker = f"probe={secrets.token_hex(6)}"
        sep = "&" if "?" in path else "?"
        with self.request(f"{path}{sep}{marker}", cookies):
            pass
        return self.replica_of(marker)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not Path(NGINX).exists():
        pytest.fail("nginx not found: run scripts/test.sh (apt-get install nginx)")
    base = tmp_path_factory.mktemp("replicas")
    data_dir, prefix = base / "data", base / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    proxy_port, *ports = free_ports(3)
    with throwaway_postgres(PG_URL, "rcp_replicas") as database_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RCP_", "STREAMLIT_"))},
            "RCP_DATABASE_URL": database_url,
            "RCP_DATA_DIR": str(data_dir),
            "RCP_SECRET_KEY": "replicas-secret-key-0123456789-abcdefghij",
            "RCP_BASE_URL": f"http://127.0.0.1:{proxy_port}",
            "RCP_PASSWORD_HASH_TIME_COST": "1",
            "RCP_PASSWORD_HASH_MEMORY_KIB": "1024",
            "RCP_SECRETS_FILE": "/nonexistent/secrets.toml",
            # Streamlit signs its XSRF cookie with this: identical on every replica.
            "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
        }
        server = Server(url=f"http://127.0.0.1:{proxy_port}", env=env, data_dir=data_dir)
        server.cli("init")  # Alembic migrations, on PostgreSQL
        server.cli(
            "create-admin",
            "--email",
            ADMIN_EMAIL,
            "--phone",
            ADMIN_PHONE,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        procs: list[subprocess.Popen] = []
        try:
            for number, port in enumerate(ports, start=1):
                cmd = [sys.executable, "-m", "streamlit", "run", "app.py"]
                cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
                cmd += ["--server.headless", "true"]
                procs.append(_start(cmd, env, base / f"replica{number}.log"))
            site = loopback_site(
                SITE_CONF.read_text(), listen=proxy_port, replicas=ports, log_dir=prefix
            )
            (prefix / "rcp.conf").write_text(site)
            (prefix / "nginx.conf").write_text(main_conf(prefix, prefix / "rcp.conf"))
            nginx_cmd = [NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
            check = subprocess.run([*nginx_cmd, "-t"], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
            procs.append(_start([*nginx_cmd, "-g", "daemon off;"], env, prefix / "stdout.log"))
            for number, (port, proc) in enumerate(zip(ports, procs, strict=False), start=1):
                log = base / f"replica{number}.log"
                _wait_http(f"http://127.0.0.1:{port}/_stcore/health", "replica", proc, log)
            _wait_http(f"{server.url}/healthz", "nginx", procs[-1], prefix / "error.log")
            yield Cluster(
                server=server,
                database_url=database_url,
                replicas={f"127.0.0.1:{port}": n for n, port in enumerate(ports, start=1)},
                access_log=prefix / "access.log",
            )
        finally:
            for proc in reversed(procs):
                _stop(proc)


@pytest.fixture(scope="module")
def node_keys(cluster: Cluster) -> dict[int, str]:
    """An rcp_node cookie value per replica (found by probing: the hash is nginx's)."""
    keys: dict[int, str] = {}
    for i in range(64):
        candidate = f"test-node-{i}"
        keys.setdefault(cluster.probe("/_stcore/health", {"rcp_node": candidate}), candidate)
        if len(keys) == 2:
            return keys
    raise AssertionError(f"64 cookie values all reached the same replicas: {keys}")


# --- tests -------------------------------------------------------------------------------------


def test_proxy_keeps_the_app_security_headers_and_gives_a_browser_its_affinity_cookie(
    cluster: Cluster,
) -> None:
    """Through nginx the app's security headers arrive, and a new browser gets rcp_node once."""
    with cluster.request("/") as first:
        headers = first.headers
        assert headers["x-frame-options"] == "SAMEORIGIN"
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'self'" in policy and "img-src 'self' data: blob:" in policy
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-content-type-options"] == "nosniff"
        cookies = headers.get_all("set-cookie") or []
    node = [c for c in cookies if c.startswith("rcp_node=")]
    assert len(node) == 1 and re.match(r"rcp_node=[0-9a-f]{32}; Path=/; HttpOnly", node[0])
    value = node[0].split(";")[0].split("=", 1)[1]
    with cluster.request("/", {"rcp_node": value}) as again:
        assert not [c for c in again.headers.get_all("set-cookie") or [] if "rcp_node" in c]


def _upload_status(cluster: Cluster, length: int) -> tuple[int, str]:
    """Headers of an anonymous upload of ``length`` bytes through nginx, no body sent."""
    host, port = cluster.server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.putrequest("PUT", "/_stcore/upload_file/some-session/some-file")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_uploads_are_refused_from_their_headers_through_the_proxy(cluster: Cluster) -> None:
    """Without a session the app refuses an upload before its body is sent (nginx streams
    uploads to the replica); above the largest upload nginx itself refuses it."""
    status, text = _upload_status(cluster, 500 * 1024 * 1024)
    assert status == 401 and "reconnectez-vous" in text
    status, _text = _upload_status(cluster, 1002 * 1024 * 1024)
    assert status == 413


def test_monitoring_stays_off_the_site_and_is_read_on_each_replica(cluster: Cluster) -> None:
    """Through nginx: /metrics and /_stcore/metrics are 404, /healthz answers; a replica's
    own address serves its metrics to the monitoring on the machine."""
    for path in ("/metrics", "/_stcore/metrics", "/_stcore/metrics?x=1"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            cluster.request(path).close()
        assert refused.value.code == 404, path
    with cluster.request("/healthz") as health:
        assert health.status == 200 and health.read().startswith(b"ok\n")
    for replica in cluster.replicas:
        with urllib.request.urlopen(f"http://{replica}/metrics", timeout=20) as direct:
            assert b"rcp_http_request_duration_seconds" in direct.read()


def test_a_browser_key_always_reaches_the_same_replica_and_keys_spread_over_both(
    cluster: Cluster, node_keys: dict[int, str]
) -> None:
    """Sticky sessions: ten requests with one rcp_node value all reach one replica."""
    assert set(node_keys) == {1, 2}
    for replica, key in node_keys.items():
        reached = {cluster.probe("/_stcore/health", {"rcp_node": key}) for _ in range(10)}
        assert reached == {replica}


def test_the_room_page_pins_every_participant_of_a_meeting_to_one_replica(
    cluster: Cluster, node_keys: dict[int, str]
) -> None:
    """/salle?id=N routes by the meeting, remembers it in rcp_room, and later requests of the
    browser (its websocket) follow the meeting whatever the browser's own key; the room's
    signalling (/rtc/room/N/…) goes there by its path alone."""
    meeting_id = "4242"
    rooms = set()
    for key in node_keys.values():
        with cluster.request(f"/salle?id={meeting_id}", {"rcp_node": key}) as resp:
            assert f"rcp_room={meeting_id}; Path=/; HttpOnly" in " ".join(
                resp.headers.get_all("set-cookie") or []
            )
        rooms.add(cluster.probe(f"/salle?id={meeting_id}", {"rcp_node": key}))
        # What the room page's websocket carries afterwards: both cookies.
        rooms.add(cluster.probe("/_stcore/health", {"rcp_node": key, "rcp_room": meeting_id}))
        rooms.add(cluster.probe(f"/rtc/room/{meeting_id}/join", {"rcp_node": key}))
        rooms.add(cluster.probe(f"/rtc/room/{meeting_id}/leave", {"rcp_room": "1"}))
    assert len(rooms) == 1
    # The URL wins over an older room cookie: a browser that moves to another meeting moves.
    other = next(str(n) for n in range(1, 200) if cluster.probe(f"/salle?id={n}", {}) not in rooms)
    assert cluster.probe(f"/salle?id={other}", {"rcp_room": meeting_id}) not in rooms
    with cluster.request(f"/salle?id={other}", {"rcp_room": meeting_id}) as resp:
        assert f"rcp_room={other};" in " ".join(resp.headers.get_all("set-cookie") or [])


@pytest.fixture(scope="module")
def running(cluster: Cluster) -> RunningMeeting:
    return seed_running_meeting(cluster.database_url, phones=(70, 71))


def _pinned_page(browser, cluster: Cluster, node_key: str, who: tuple[str, str], meeting_id: int):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    context.add_cookies([{"name": "rcp_node", "value": node_key, "url": cluster.server.url}])
    page = context.new_page()
    sign_in(page, cluster.server, *who)
    page.goto(f"{cluster.server.url}/seance?id={meeting_id}")
    page.get_by_text("Messagerie instantanée").wait_for()
    wait_idle(page)
    return context, page


def _chat(page):
    # A line is one paragraph "author · time<br>text": match the text inside the chat box.
    return page.locator(".st-key-seance_chat_messages")


def _websocket_replicas(cluster: Cluster, node_key: str) -> set[int]:
    """Replicas that served the Streamlit websockets of the browser holding ``node_key``."""
    lines = [
        line
        for line in cluster.log_lines()
        if "GET /_stcore/stream" in line and f"affinity={node_key} " in line
    ]
    return {cluster.replicas[re.search(r"upstream=(\S+)", line).group(1)] for line in lines}


def test_two_browsers_on_different_replicas_share_chat_and_current_case(
    cluster: Cluster, node_keys: dict[int, str], running: RunningMeeting, browser
) -> None:
    """The participant on replica 1 and the coordinator on replica 2 see each other's chat
    message and the current case: meeting state lives in PostgreSQL, not in a process."""
    part_ctx, part = _pinned_page(browser, cluster, node_keys[1], running.participant, running.id)
    coord_ctx, coord = _pinned_page(browser, cluster, node_keys[2], running.coordinator, running.id)
    try:
        message = "Bonjour depuis l'autre serveur"
        part.get_by_placeholder("Écrire un message aux participants").fill(message)
        part.get_by_placeholder("Écrire un message aux participants").press("Enter")
        _chat(part).get_by_text(message).wait_for(timeout=LIVE_TIMEOUT)
        _chat(coord).get_by_text(message).wait_for(timeout=LIVE_TIMEOUT)
        shot(coord, "replicas_01_coordinator_on_replica2_receives_message")

        reply = "Bien reçu, je lance le premier dossier"
        coord.get_by_placeholder("Écrire un message aux participants").fill(reply)
        coord.get_by_placeholder("Écrire un message aux participants").press("Enter")
        _chat(part).get_by_text(reply).wait_for(timeout=LIVE_TIMEOUT)

        choose(
            coord, "Cas en cours (affiché chez tous les participants)", re.compile("DURANDAL Lucie")
        )
        part.get_by_role("heading", name="DURANDAL Lucie").wait_for(timeout=LIVE_TIMEOUT)
        wait_idle(part)
        shot(part, "replicas_02_participant_on_replica1_follows_current_case")
    except Exception:
        shot(part, "replicas_failed_participant")
        shot(coord, "replicas_failed_coordinator")
        raise
    finally:
        part_ctx.close()
        coord_ctx.close()
    # Websockets are logged when they close: each browser's stayed on its own replica.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        _websocket_replicas(cluster, node_keys[1]) and _websocket_replicas(cluster, node_keys[2])
    ):
        time.sleep(0.3)
    assert _websocket_replicas(cluster, node_keys[1]) == {1}
    assert _websocket_replicas(cluster, node_keys[2]) == {2}
