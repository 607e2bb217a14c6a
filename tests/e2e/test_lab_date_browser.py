"""A lab date typed from the keyboard is stored as typed, whatever the browser's language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import Session, select

from rcp.db import make_engine
from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from rcp.models import Case, User
from tests.e2e.conftest import shot, sign_in, wait_idle

PHONES = {p.key: p.phone for p in PEOPLE}


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _settle(page) -> None:
    """Let the grid hand its edit to Streamlit: the grid debounces it with a 150 ms timer, and
    timers fire in deadline order, so once a longer timer started now has fired, the edit has
    been handed over (an input event such as a click can otherwise overtake the timer on a
    loaded machine)."""
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 400))")


def _type_in_cell(page, grid_box, x: float, keys: str) -> None:
    """Open the first row's cell at ``x`` (from the grid's left edge), type ``keys`` in its
    editor from the keyboard and press Enter.

    The grid's canvas is drawn by a component loaded after the page (its box is there
    before it takes input; seen on a loaded machine: a double click lost, no cell selected),
    so the double click is repeated until the cell's editor is open."""
    editor = page.locator("#portal input, #portal textarea").first
    for _attempt in range(20):
        page.mouse.dblclick(grid_box["x"] + x, grid_box["y"] + 52)
        try:
            editor.wait_for(timeout=2_000)
            break
        except PlaywrightTimeoutError:
            continue
    else:
        shot(page, f"lab_cell_never_opened_{int(x)}")
        raise AssertionError(f"the grid's cell at x={x} never opened its editor")
    page.keyboard.type(keys, delay=20)
    page.keyboard.press("Enter")
    _settle(page)


def test_a_lab_date_typed_day_first_is_stored_as_typed_in_an_english_browser(demo, browser) -> None:
    """A French doctor whose Chrome speaks English types 03/11/2026: the 3rd of November is
    stored (the browser's own date editor read it month first, as the 11th of March)."""
    engine = make_engine(f"sqlite:///{demo.data_dir / 'rcp.db'}")
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == demo_email("medecin1"))).one()
        user.language = "fr"  # the page speaks French; the browser's own widgets English
        session.add(user)
        session.commit()
    # Signed in from a French window (the sign-in page follows the browser's language), then
    # the same session in a browser whose own widgets speak English.
    french = browser.new_context(locale="fr-FR")
    sign_in(french.new_page(), demo, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 1000},
        locale="en-US",
        storage_state=french.storage_state(),
    )
    french.close()
    page = ctx.new_page()
    page.goto(demo.url + "/")
    wait_idle(page)
    page.get_by_role("link", name=re.compile(r"RCP GEM et SNI .* du ")).first.click()
    page.wait_for_url(re.compile(r"/seance\?id=\d+"))
    meeting_id = page.url.rsplit("=", 1)[1]
    page.goto(f"{demo.url}/soumettre-cas?meeting={meeting_id}")
    wait_idle(page)
    page.get_by_label("Nom *", exact=True).fill("Clavier")
    page.get_by_label("Prénom *", exact=True).fill("Lucie")
    page.locator("[data-testid='stDateInput'] input[type=date]").first.fill("1975-02-14")
    page.get_by_text("Féminin").click()
    page.get_by_role("checkbox", name=re.compile("Le patient est informé")).check(force=True)
    grid = page.locator("[data-testid='stDataFrame']")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    _type_in_cell(page, box, 150, "03/11/2026")
    _type_in_cell(page, box, 600, "Créat")
    _type_in_cell(page, box, 900, "131")
    shot(page, "lab_date_typed")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.get_by_text("Brouillon enregistré").wait_for(timeout=60_000)
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.patient_last_name == "CLAVIER")).one()
        assert case.labs == [{"code": "creatinine", "value": 131.0, "taken_on": "2026-11-03"}]
    engine.dispose()
    ctx.close()
