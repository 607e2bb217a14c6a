"""Nothing fetched from outside the platform (issue "Every word in French…", item 5): every
request the pages make, walked through as a doctor and as an admin, goes to the platform's
own address (no font, icon, favicon or script from a Google or other server)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from rcp.demo import DEMO_PASSWORD, demo_email
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, PASSWORD, sign_in, wait_idle
from tests.e2e.test_accessibility_browser import PHONES, _ids

# Not the network: the page's own data and generated objects.
LOCAL_SCHEMES = ("data", "blob", "about")
# Requests Chromium makes by itself (component updates, safe browsing, sync...) are turned
# off by conftest.CHROMIUM_ARGS (--disable-background-networking, --disable-component-update,
# --disable-sync) and, being no page's, are not reported by page or context "request" events:
# nothing is excluded here.


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _walk(
    browser, server, paths: list[str], who: tuple[str, str, str] | None, fonts: list[str]
) -> list[str]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    origin = urlsplit(server.url).netloc
    outside: list[str] = []

    def record(request) -> None:
        url = urlsplit(request.url)
        if request.resource_type == "font":
            fonts.append(request.url)
        if url.scheme not in LOCAL_SCHEMES and url.netloc != origin:
            outside.append(f"{request.resource_type} {request.url} (from {request.frame.url})")

    ctx.on("request", record)
    page = ctx.new_page()
    if who is not None:
        sign_in(page, server, *who)
    for path in paths:
        page.goto(server.url + path)
        wait_idle(page)
        page.wait_for_timeout(500)  # late icons and fonts
    ctx.close()
    return outside


def test_no_request_leaves_the_platform(demo, browser) -> None:
    ids = _ids(demo)
    anonymous = ["/", "/inscription", "/mot-de-passe-oublie", "/materiel", "/adresse-inconnue"]
    doctor = [
        "/",
        "/rcp",
        f"/filiere?id={ids['network']}",
        f"/famille?id={ids['family']}",
        f"/fiche-rcp?id={ids['rcp']}",
        f"/seance?id={ids['meeting']}",
        f"/cas?id={ids['case']}",
        f"/soumettre-cas?meeting={ids['meeting']}",
        "/mes-cas",
        "/mon-compte",
        "/materiel",
        "/invitations",
    ]
    admin = [
        "/",
        "/admin-inscriptions",
        "/admin-annuaire",
        "/admin-comptes",
        "/admin-boite-envoi",
        "/admin-journal",
        "/mon-compte",
    ]
    fonts: list[str] = []
    outside = _walk(browser, demo, anonymous, None, fonts)
    outside += _walk(
        browser, demo, doctor, (demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD), fonts
    )
    outside += _walk(browser, demo, admin, (ADMIN_EMAIL, ADMIN_PHONE, PASSWORD), fonts)
    assert not outside, "\n".join(sorted(set(outside)))
    # The recording works: the menu's icons (Material Symbols) and the text font were fetched,
    # from Streamlit's static folder on the platform itself.
    assert any("MaterialSymbols" in url for url in fonts), fonts
    assert all(url.startswith(demo.url + "/static/") for url in fonts), fonts
