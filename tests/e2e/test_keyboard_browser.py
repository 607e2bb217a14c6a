"""Keyboard alone (issue "Every word in French…", item 4): the sign-in field one Tab away, a
visible focus on every control, and the meeting page used with Tab, Enter and Space only."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp import meeting_live
from rcp.db import make_engine
from rcp.demo import DEMO_PASSWORD, demo_email
from rcp.models import User
from tests.e2e.conftest import shot, sign_in, wait_idle
from tests.e2e.test_accessibility_browser import PHONES, _ids

# What has the focus: its tag, accessible name and whether a visible focus indicator is drawn
# (an outline of 2 px or more on it, on its text field's frame, or on its check box's label).
FOCUSED = """() => {
  const e = document.activeElement;
  const frame = e.closest(
    "[data-testid$='RootElement'],[data-testid='stChatInput'],[data-baseweb='select']")
    || (e.matches("input[type='checkbox'],input[type='radio']") ? e.closest("label") : e);
  const s = getComputedStyle(frame);
  return {
    tag: e.tagName,
    testid: e.getAttribute("data-testid") || "",
    title: e.getAttribute("title") || "",
    name: (e.getAttribute("aria-label") || e.getAttribute("placeholder") || e.innerText || "")
      .trim().slice(0, 60),
    outlined: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2,
  };
}"""


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _tab_to(page, predicate, *, limit: int = 120) -> dict:
    """Press Tab until the focused element satisfies ``predicate``; every stop is outlined."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused)
        # Known gap, left open (issue 16 note): the DICOM viewer's frame takes the focus as a
        # whole, and seen from the page a focused frame matches no focus selector; its focus
        # ring has to be drawn by the viewer's own document.
        viewer = focused["tag"] == "IFRAME" and focused["title"].endswith("rcp_dicom_viewer")
        if focused["tag"] != "BODY" and not viewer:
            assert focused["outlined"], f"no visible focus on {focused}"
        if predicate(focused):
            return focused
    raise AssertionError(f"never reached; Tab stops: {[f['name'] or f['tag'] for f in seen]}")


def test_sign_in_field_is_one_tab_away_and_every_control_shows_its_focus(demo, browser) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = ctx.new_page()
    page.goto(demo.url + "/")
    wait_idle(page)
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED)
    if first["testid"] == "stSkipToContent":  # a skip link first: Enter leads to the field
        assert first["outlined"], first
        page.keyboard.press("Enter")
    focused = page.evaluate(FOCUSED)
    assert focused["name"] == "Adresse e-mail professionnelle", focused
    assert focused["outlined"], focused
    shot(page, "keyboard-signin-focus")
    # Every later stop of the page (fields, buttons, links) shows where the focus is.
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] not in ("BODY", "MAIN"):
            assert focused["outlined"], f"no visible focus on {focused}"
    ctx.close()


def test_meeting_page_by_keyboard_alone(demo, browser) -> None:
    """Write and send a chat message, raise the hand, stop and resume following the current
    case: Tab, Enter and Space only, on the demo's live meeting as a confirmed doctor."""
    ids = _ids(demo)
    engine = make_engine(f"sqlite:///{demo.data_dir / 'rcp.db'}")
    with Session(engine) as session:
        coordinator = session.exec(select(User).where(User.email == demo_email("assistante"))).one()
        meeting_live.set_current_case(
            session, actor=coordinator, meeting_id=ids["meeting"], case_id=ids["case"]
        )
    engine.dispose()

    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = ctx.new_page()
    sign_in(page, demo, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)
    page.goto(f"{demo.url}/seance?id={ids['meeting']}")
    page.get_by_text("Messagerie instantanée").wait_for()
    wait_idle(page)
    page.locator(".st-key-seance_current_case_sheet").get_by_text("DEMOLIN").first.wait_for()

    # The chat: typed and sent with Enter.
    _tab_to(page, lambda f: f["name"] == "Écrire un message aux participants")
    message = "Bonjour, message envoyé au clavier"
    page.keyboard.type(message)
    page.keyboard.press("Enter")
    page.locator(".st-key-seance_chat_messages").get_by_text(message).wait_for(timeout=15_000)
    wait_idle(page)

    # The hand: raised with Space on its button.
    page.evaluate("() => document.activeElement.blur()")
    _tab_to(page, lambda f: f["name"].endswith("Lever la main"))  # after its icon's name
    page.keyboard.press("Space")
    page.get_by_role("button", name="Baisser la main").wait_for(timeout=15_000)
    page.get_by_text("Mains levées (1)").wait_for()
    wait_idle(page)

    # The current case: no longer followed, then followed again, with Space on the switch.
    page.evaluate("() => document.activeElement.blur()")
    _tab_to(page, lambda f: f["name"].startswith("Ne plus suivre le cas en cours"))
    page.keyboard.press("Space")
    page.get_by_label("Cas à consulter").wait_for(timeout=15_000)
    wait_idle(page)
    assert page.evaluate(FOCUSED)["name"].startswith("Ne plus suivre"), "focus lost on rerun"
    page.keyboard.press("Space")
    page.locator(".st-key-seance_current_case_sheet").get_by_text("DEMOLIN").first.wait_for(
        timeout=15_000
    )
    wait_idle(page)
    shot(page, "keyboard-seance")
    ctx.close()
