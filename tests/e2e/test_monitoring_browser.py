"""Monitoring on the real server: /metrics counts a Chromium visitor's session and page runs,
answers only direct loopback requests, and /healthz follows the file store."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Server, wait_idle

pytestmark = pytest.mark.e2e


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    found = [v for (n, lab), v in samples(text).items() if n == name and set(wanted) <= set(lab)]
    assert found, f"no {name} {labels} in /metrics"
    return sum(found)


def test_metrics_count_a_browser_session_and_its_page_runs(server: Server, browser) -> None:
    """A visitor on the sign-in page shows up as a session and as timed page runs."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        wait_idle(page)
        status, text = get(server.url + "/metrics")
        assert status == 200
        assert value(text, "rcp_browser_sessions") >= 1
        assert value(text, "rcp_page_run_duration_seconds_count") >= 1
        assert value(text, "rcp_http_request_duration_seconds_count", route="page") >= 1
        assert value(text, "rcp_rooms") == 0 and value(text, "rcp_room_participants") == 0
        assert value(text, "rcp_upload_bytes_held") == 0
        assert value(text, "rcp_signed_in_sessions") == 0
    finally:
        context.close()


def test_metrics_refuse_what_came_through_a_proxy(server: Server) -> None:
    """Forwarded requests (nginx connects from loopback) get neither our nor Streamlit's."""
    forwarded = {"X-Forwarded-For": "198.51.100.7"}
    for path in ("/metrics", "/_stcore/metrics"):
        status, text = get(server.url + path, forwarded)
        assert status == 403, path
        assert "Accès refusé" in text
    status, _text = get(server.url + "/_stcore/metrics")
    assert status == 200  # Streamlit's own, for the monitoring on this machine


def test_healthz_reports_a_missing_file_store(server: Server) -> None:
    status, text = get(server.url + "/healthz")
    assert status == 200 and text.startswith("ok\nbase de données: ok (schéma ")
    assert text.endswith("fichiers: ok (écriture possible)\n")
    files = server.data_dir / "files"
    moved = server.data_dir / "files-moved"
    files.rename(moved)
    try:
        status, text = get(server.url + "/healthz")
    finally:
        moved.rename(files)
    assert status == 503
    assert "fichiers: ERREUR (dossier absent" in text
    assert get(server.url + "/healthz")[0] == 200
