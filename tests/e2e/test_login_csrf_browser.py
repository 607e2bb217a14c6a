"""Login CSRF (issue 14.7): another site cannot sign a doctor's browser in as someone else.

The attacker passes the second factor for their own account but stops before the browser
follows the hand-off link; a page on another site (``localhost`` versus the platform's
``127.0.0.1``: another site for the browser) then sends the victim's signed-in browser to
that link. The victim stays who they are.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlmodel import Session

from rcp.db import make_engine
from tests.e2e.conftest import PASSWORD, shot, sign_in, wait_idle
from tests.factories import make_user, mobile


def _users(server) -> tuple:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        attacker = make_user(session, phone=mobile(71), first_name="Mallory", last_name="Pirate")
        victim = make_user(session, phone=mobile(72), first_name="Alice", last_name="Victime")
    engine.dispose()
    return attacker, victim


def _attacker_site(link: str) -> ThreadingHTTPServer:
    page = f'<html><body><a id="go" href="{link}">Voir le compte rendu</a></body></html>'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args: object) -> None:
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


def test_a_handoff_link_from_another_site_does_not_switch_the_victims_account(
    server, browser
) -> None:
    attacker, victim = _users(server)
    # The attacker passes the password and the code, and keeps the hand-off link.
    ctx = browser.new_context(locale="fr-FR")
    page = ctx.new_page()
    links: list[str] = []
    page.route("**/auth/complete**", lambda route: (links.append(route.request.url), route.abort()))
    page.goto(server.url + "/")
    wait_idle(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(attacker.email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code de vérification").wait_for()
    wait_idle(page)
    page.get_by_label("Code de vérification").fill(server.last_code(attacker.phone))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_timeout(3000)
    assert links, "the page never sent the browser to /auth/complete"
    ctx.close()

    # The victim, signed in, follows a link on the attacker's site.
    site = _attacker_site(links[0])
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        page = ctx.new_page()
        sign_in(page, server, victim.email, victim.phone)
        page.goto(f"http://localhost:{site.server_address[1]}/")
        page.click("#go")
        page.wait_for_url(lambda url: url.startswith(server.url))
        wait_idle(page)
        shot(page, "login_csrf_01_victim_after_link")
        page.get_by_text("connecté : Dr Alice Victime").wait_for(timeout=15_000)
        assert page.get_by_text("Pirate").count() == 0
        ctx.close()
    finally:
        site.shutdown()
        site.server_close()
