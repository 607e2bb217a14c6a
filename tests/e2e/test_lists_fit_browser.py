"""Lists that fit (issue "Every word in French…", item 6): the home page's meeting links are
never cut, at 1280 px as on a phone (390 x 844), and show their date and time; an RCP's
meeting list shows the time; the breadcrumb does not say a family and its RCP's shared name
twice."""

from __future__ import annotations

import re

import pytest

from rcp.demo import DEMO_PASSWORD, demo_email
from tests.e2e.conftest import shot, sign_in, wait_idle
from tests.e2e.test_accessibility_browser import PHONES, _ids

TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
DAY = re.compile(r"\b\d{1,2} \w+ \d{4}\b")
# A meeting link whose text is cut: some part of it wider than the box that shows it, or
# its right edge past the window's.
CUT = """(link) => {
  const parts = [link, ...link.querySelectorAll("*")];
  const hidden = parts.some((e) => {
    const s = getComputedStyle(e);
    return s.overflowX !== "visible" && e.scrollWidth > e.clientWidth + 1;
  });
  return hidden || link.getBoundingClientRect().right > window.innerWidth + 1;
}"""


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _meeting_links(page):
    return page.locator("[data-testid='stMain'] a[href*='seance?id=']")


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_meeting_lists_fit_and_show_the_time(demo, browser, width, height) -> None:
    ids = _ids(demo)
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    page = ctx.new_page()
    sign_in(page, demo, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)

    page.goto(demo.url + "/")
    wait_idle(page)
    shot(page, f"lists-accueil-{width}")
    links = _meeting_links(page)
    assert links.count() >= 2
    for i in range(links.count()):
        link = links.nth(i)
        link.scroll_into_view_if_needed()
        text = link.inner_text()
        assert DAY.search(text) and TIME.search(text), text
        assert not link.evaluate(CUT), f"cut at {width} px: {text!r}"
    upcoming = page.get_by_text(re.compile(r"à \d{2}:\d{2} \(participation confirmée\)"))
    assert upcoming.count() >= 1

    page.goto(f"{demo.url}/fiche-rcp?id={ids['rcp']}")
    wait_idle(page)
    shot(page, f"lists-fiche-rcp-{width}")
    links = _meeting_links(page)
    assert links.count() >= 2
    for i in range(links.count()):
        text = links.nth(i).inner_text()
        assert DAY.search(text) and TIME.search(text), text
        assert not links.nth(i).evaluate(CUT), f"cut at {width} px: {text!r}"

    # The demo's RCP and its family share the name "GEM et SNI (SNLGM, HSF) adulte".
    page.goto(f"{demo.url}/seance?id={ids['meeting']}")
    wait_idle(page)
    shot(page, f"lists-seance-{width}")
    crumbs = page.locator(".st-key-breadcrumbs a").all_inner_texts()
    names = [c.split("\n")[-1].strip() for c in crumbs]
    assert len(names) == len(set(names)), names
    assert names[-1] == "GEM et SNI (SNLGM, HSF) adulte", names
    assert not page.locator(".st-key-breadcrumbs a[href*='famille']").count()
    ctx.close()
