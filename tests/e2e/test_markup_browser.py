"""Free text is never rendered as markup, and the page may load nothing from elsewhere (14.8).

An anonymous registrant types links and images pointing at a "remote site" (a small HTTP
server on another loopback port that counts the requests it receives) into "Établissement".
The admin's validation queue, the RCP's membership requests and the meeting page show it as
text, no link, no image, and the remote site receives nothing. The Content-Security-Policy
limits images and connections to the platform, and the pages run without CSP violations.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session

from rcp import directory
from rcp.db import make_engine
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, shot, sign_in, wait_idle
from tests.factories import make_coordinator, make_rcp, make_user, mobile


class Remote:
    """The attacker's site: remembers every path it was asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                remote.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def remote() -> Iterator[Remote]:
    site = Remote()
    yield site
    site.close()


@pytest.fixture(scope="module")
def planted(server, remote: Remote) -> dict[str, str]:
    """A pending registrant and an RCP membership request, both with a booby-trapped
    institution; the RCP's coordinator."""
    institution = (
        f'CHU [site]({remote.url}/lien) ![x]({remote.url}/md.png) <img src="{remote.url}/html.png">'
    )
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        make_user(session, active=False, phone=mobile(61), institution=institution)
        rcp = make_rcp(session)
        coordinator = make_coordinator(session, rcp, phone=mobile(62))
        requester = make_user(session, phone=mobile(63), institution=institution)
        directory.request_membership(session, actor=requester, rcp_id=rcp.id)
        found = {
            "coordinator_email": coordinator.email,
            "coordinator_phone": coordinator.phone,
            "rcp_id": str(rcp.id),
        }
    engine.dispose()
    return found


def _violations(page) -> list[str]:
    found: list[str] = []
    page.on(
        "console",
        lambda msg: (
            found.append(msg.text)
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    return found


def _no_markup(page, remote: Remote) -> None:
    links = page.locator(f"a[href^='{remote.url}']")
    assert links.count() == 0, [
        links.nth(i).evaluate("(a) => a.parentElement.outerHTML") for i in range(links.count())
    ]
    assert page.locator(f"img[src^='{remote.url}']").count() == 0
    page.get_by_text("[site](", exact=False).first.wait_for()


def test_institution_markup_is_text_for_the_admin_and_the_coordinator(
    server, browser, remote: Remote, planted: dict[str, str]
) -> None:
    """The admin's queue and the coordinator's membership requests show the typed text."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = ctx.new_page()
    violations = _violations(page)
    response = page.goto(server.url + "/")
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in policy and "connect-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    sign_in(page, server, ADMIN_EMAIL, ADMIN_PHONE)
    page.goto(server.url + "/admin-inscriptions")
    wait_idle(page)
    _no_markup(page, remote)
    shot(page, "markup_01_admin_queue")
    ctx.close()

    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = ctx.new_page()
    violations += _violations(page)
    sign_in(page, server, planted["coordinator_email"], planted["coordinator_phone"])
    page.goto(f"{server.url}/fiche-rcp?id={planted['rcp_id']}")
    wait_idle(page)
    _no_markup(page, remote)
    shot(page, "markup_02_membership_request")
    ctx.close()
    assert remote.paths == []
    assert violations == []


def test_a_remote_image_in_the_page_would_be_blocked_by_the_policy(server, browser, remote) -> None:
    """Even markup that escaped the escaping could not fetch from elsewhere: the browser
    refuses an image from another origin under the platform's policy."""
    ctx = browser.new_context(locale="fr-FR")
    page = ctx.new_page()
    violations = _violations(page)
    page.goto(server.url + "/")
    wait_idle(page)
    page.evaluate(
        "(url) => { const img = document.createElement('img'); img.src = url; "
        "document.body.appendChild(img); }",
        f"{remote.url}/injected.png",
    )
    page.wait_for_timeout(1000)
    assert "/injected.png" not in remote.paths
    assert any("img-src" in v for v in violations)
    ctx.close()
