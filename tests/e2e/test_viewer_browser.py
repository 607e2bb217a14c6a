"""The DICOM viewer in Chromium: the real component, driven by mouse and keyboard.

The demo case holds a 16-slice CT (256², 1.5625 mm pixels, body at 40 HU with noise of SD 12);
each test opens it on a 1366 × 768 screen, as a laptop would.
"""

from __future__ import annotations

import re

import pytest

from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from tests.e2e.conftest import shot, sign_in, wait_idle

PHONES = {p.key: p.phone for p in PEOPLE}
VIEWER = "iframe[title*='rcp_dicom_viewer']"


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


@pytest.fixture(scope="module")
def signed_in(browser, demo):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    page = ctx.new_page()
    sign_in(page, demo, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)
    state = ctx.storage_state()
    ctx.close()
    return state


def open_case(browser, demo, state):
    ctx = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="fr-FR", storage_state=state
    )
    page = ctx.new_page()
    page.goto(f"{demo.url}/mes-cas")
    wait_idle(page)
    page.get_by_text("DEMOLIN").first.wait_for()
    page.goto(f"{demo.url}/cas?id=1")
    wait_idle(page)
    page.locator(VIEWER).wait_for(timeout=30_000)
    # Bottom of the viewer at the bottom of the window: all of it shows below the menu bar.
    page.evaluate("(e) => e.scrollIntoView({block: 'end'})", page.locator(VIEWER).element_handle())
    frame = next(f for f in page.frames if "rcp_dicom_viewer" in f.url)
    frame.wait_for_function(
        "() => window.__rcpViewer && window.__rcpViewer.ready"
        " && document.querySelector('[data-overlay=bl]').textContent.startsWith('Image')",
        timeout=30_000,
    )
    return ctx, page, frame


def overlay(frame, corner: str) -> str:
    return frame.locator(f"[data-overlay={corner}]").text_content() or ""


def image_number(frame) -> int:
    return int(re.match(r"Image (\d+) / 16", overlay(frame, "bl")).group(1))


def view_box(page, frame) -> dict:
    """The image area's box in page coordinates."""
    outer = page.locator(VIEWER).bounding_box()
    inner = frame.evaluate(
        "() => { const r = document.querySelector('.viewport').getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }"
    )
    return {**inner, "x": outer["x"] + inner["x"], "y": outer["y"] + inner["y"]}


def drag(page, start: tuple[float, float], end: tuple[float, float], button="left") -> None:
    page.mouse.move(*start)
    page.mouse.down(button=button)
    for step in range(1, 11):
        page.mouse.move(
            start[0] + (end[0] - start[0]) * step / 10, start[1] + (end[1] - start[1]) * step / 10
        )
    page.mouse.up(button=button)


def test_the_viewer_fits_a_laptop_screen_and_scrolls_slices_by_wheel_and_keys(
    browser, demo, signed_in
) -> None:
    """The whole viewer fits 1366 × 768; the wheel and the arrow keys change the slice
    (not the page), with the corner overlays in French."""
    ctx, page, frame = open_case(browser, demo, signed_in)
    try:
        outer = page.locator(VIEWER).bounding_box()
        assert outer["height"] <= 768 - 60 and outer["width"] <= 1366
        box = view_box(page, frame)
        assert box["height"] >= 400  # a real image, not a thumbnail
        assert overlay(frame, "tl").startswith("DEMOLIN Lucie")
        assert "Abdomen sans injection" in overlay(frame, "tr")
        assert "Épaisseur : 5,0 mm" in overlay(frame, "bl")
        assert "Calibration : Pixel Spacing 1,563 × 1,563 mm" in overlay(frame, "br")
        shot(page, "viewer_01_opened")
        first = image_number(frame)
        scroll_before = page.evaluate("() => window.scrollY")
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(*centre)
        for _ in range(3):
            page.mouse.wheel(0, 120)
            page.wait_for_timeout(50)
        frame.wait_for_function(
            f"() => document.querySelector('[data-overlay=bl]').textContent"
            f".startsWith('Image {first + 3} / 16')"
        )
        assert page.evaluate("() => window.scrollY") == scroll_before
        page.mouse.click(*centre)  # focus the image
        page.keyboard.press("ArrowUp")
        frame.wait_for_function(
            f"() => document.querySelector('[data-overlay=bl]').textContent"
            f".startsWith('Image {first + 2} / 16')"
        )
        page.keyboard.press("End")
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=bl]').textContent"
            ".startsWith('Image 16 / 16')"
        )
        shot(page, "viewer_02_last_slice")
    finally:
        ctx.close()


def test_window_drag_presets_invert_zoom_and_one_to_one(browser, demo, signed_in) -> None:
    """Dragging changes level and width (then "manuel"); a preset sets its values; invert;
    right-drag zooms; 1:1 shows one image pixel per screen pixel; "Ajuster" fits again."""
    ctx, page, frame = open_case(browser, demo, signed_in)
    try:
        box = view_box(page, frame)
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        before = overlay(frame, "br").splitlines()[0]
        drag(page, centre, (centre[0] + 80, centre[1] + 60))
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=br]').textContent.includes('(manuel)')"
        )
        assert overlay(frame, "br").splitlines()[0] != before
        frame.get_by_label("Fenêtre").select_option("rein")
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=br]').textContent"
            ".startsWith('F : N 50 / L 350 (rein)')"
        )
        frame.get_by_role("button", name="Inverser").click()
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=br]').textContent.includes('Inversé')"
        )
        zoom = int(re.search(r"Zoom (\d+) %", overlay(frame, "br")).group(1))
        box = view_box(page, frame)
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        drag(page, centre, (centre[0], centre[1] - 120), button="right")
        frame.wait_for_function(
            f"() => !document.querySelector('[data-overlay=br]').textContent"
            f".includes('Zoom {zoom} %')"
        )
        frame.get_by_role("button", name="1:1").click()
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=br]').textContent.includes('Zoom 100 %')"
        )
        shot(page, "viewer_03_one_to_one_inverted")
        frame.get_by_role("button", name="Ajuster").click()
        frame.wait_for_function(
            f"() => document.querySelector('[data-overlay=br]').textContent"
            f".includes('Zoom {zoom} %')"
        )
    finally:
        ctx.close()


def test_length_and_ellipse_measure_in_mm_and_hounsfield_units(browser, demo, signed_in) -> None:
    """At 1:1 a 128-pixel line is 200 mm (1.5625 mm pixels); an ellipse inside the body
    gives its area in mm² and the body's 40 HU (SD 12) as "UH"."""
    ctx, page, frame = open_case(browser, demo, signed_in)
    try:
        frame.get_by_role("button", name="1:1").click()
        frame.wait_for_function(
            "() => document.querySelector('[data-overlay=br]').textContent.includes('Zoom 100 %')"
        )
        frame.get_by_role("button", name="Distance").click()
        box = view_box(page, frame)
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        drag(page, (centre[0] - 64, centre[1] - 70), (centre[0] + 64, centre[1] - 70))
        # Statistics are recomputed shortly after the last move (Cornerstone throttles them).
        length = frame.wait_for_function(
            """() => window.__rcpViewer.measureTexts().find((t) => t.endsWith(' mm')
                && Math.abs(parseFloat(t.replace(',', '.')) - 200) < 2)"""
        ).json_value()
        assert re.fullmatch(r"\d+,\d mm", length)
        shot(page, "viewer_04_length")
        frame.get_by_role("button", name="Ellipse").click()
        box = view_box(page, frame)
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        # Drawn from its centre: in the body, above the kidneys and the spine (40 HU, SD 12).
        drag(page, (centre[0], centre[1] - 35), (centre[0] + 30, centre[1] - 20))
        number = "(t) => parseFloat(t.split(': ')[1].replace(',', '.'))"
        lines = frame.wait_for_function(
            f"""() => {{ const all = window.__rcpViewer.measureTexts(); const n = {number};
                const mean = all.find((t) => t.startsWith('Moyenne'));
                const sd = all.find((t) => t.startsWith('Écart-type'));
                return mean && sd && Math.abs(n(mean) - 40) < 4 && Math.abs(n(sd) - 12) < 3
                    && all; }}"""
        ).json_value()
        mean = next(t for t in lines if t.startswith("Moyenne"))
        sd = next(t for t in lines if t.startswith("Écart-type"))
        area = next(t for t in lines if t.startswith("Surface"))
        assert mean.endswith(" UH") and sd.endswith(" UH") and area.endswith(" mm²")
        shot(page, "viewer_04_measures")
        frame.get_by_role("button", name="Effacer les mesures").click()
        frame.wait_for_function("() => window.__rcpViewer.measureTexts().length === 0")
    finally:
        ctx.close()
