"""Choosing the camera and microphone: on "Tester mon matériel", and remembered by the room.

The room component (rcp/ui/room_client) keeps the devices chosen in "Caméra et micro…" in the
browser's localStorage ("rcp:media-prefs", shared by the check and the room) and asks for them
on its next getUserMedia: a doctor with two cameras picks one on the equipment check and the
video room uses it. Chromium gets two fake cameras and microphones (``device-count=2``) and
a hook that records every getUserMedia call's constraints in each frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session

from rcp.db import make_engine
from tests.e2e.conftest import CHROMIUM_ARGS, launch, sign_in, wait_idle
from tests.factories import make_coordinator, make_meeting, make_rcp, start_now

WEBRTC_TIMEOUT_MS = 30_000
COMPONENT = "iframe[title*='rcp_room_client']"
PREFS = "rcp:media-prefs"
RECORD_GET_USER_MEDIA = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  window.__gum = [];
  devices.getUserMedia = (constraints) => {
    window.__gum.push(constraints);
    return original(constraints);
  };
})();
"""


@dataclass(frozen=True)
class Coordinator:
    email: str
    phone: str
    meeting_id: int


@pytest.fixture(scope="module")
def coordinator(server) -> Coordinator:
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        rcp = make_rcp(session)
        user = make_coordinator(
            session,
            rcp,
            first_name="Camille",
            last_name="Deuxcameras",
            email="camille.deuxcameras@chu.example",
            phone="+33612345621",
        )
        meeting = make_meeting(session, rcp, user)
        start_now(session, meeting, started_minutes_ago=5)
        result = Coordinator(user.email, user.phone, meeting.id)
    engine.dispose()
    return result


@pytest.fixture(scope="module")
def two_device_browser():
    args = [
        arg + "=device-count=2" if arg == "--use-fake-device-for-media-stream" else arg
        for arg in CHROMIUM_ARGS
    ]
    with sync_playwright() as pw:
        browser = launch(pw, args)
        yield browser
        browser.close()


def _context(browser, *init_scripts: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="fr-FR",
        permissions=["camera", "microphone"],
    )
    for script in init_scripts:
        context.add_init_script(script)
    return context


def _component(page):
    """The room component's iframe, as a Playwright frame."""
    deadline = time.monotonic() + 30
    while True:
        for frame in page.frames:
            if "rcp_room_client" in (frame.url or ""):
                return frame
        assert time.monotonic() < deadline, "no room component"
        page.wait_for_timeout(200)


def _join_room(page, server, meeting_id: int):
    """Open the room: it joins by itself with the remembered devices."""
    page.goto(f"{server.url}/salle?id={meeting_id}")
    page.get_by_role("heading", name="Salle de visioconférence").wait_for()
    frame = _component(page)
    deadline = time.monotonic() + WEBRTC_TIMEOUT_MS / 1000
    while frame.evaluate("() => document.querySelector('#video')?.videoWidth ?? 0") <= 2:
        if time.monotonic() > deadline:
            print("getUserMedia calls:", frame.evaluate("() => JSON.stringify(window.__gum)"))
        assert time.monotonic() < deadline, "no video came back from the server"
        page.wait_for_timeout(200)
    return frame


def test_devices_chosen_on_the_equipment_check_are_used_by_the_room(
    server, two_device_browser, coordinator
) -> None:
    context = _context(two_device_browser, RECORD_GET_USER_MEDIA)
    page = context.new_page()
    try:
        sign_in(page, server, coordinator.email, coordinator.phone)
        page.goto(f"{server.url}/materiel")
        wait_idle(page)
        page.get_by_text("ce navigateur retient votre choix").wait_for()
        form = _component(page)
        form.get_by_role("button", name="Caméra et micro…").click()
        camera = form.get_by_label("Caméra", exact=True)
        microphone = form.get_by_label("Micro", exact=True)
        camera.locator("option", has_text="fake_device_1").wait_for(state="attached")
        camera.select_option(label="fake_device_1")
        microphone.select_option(label="Fake Audio Input 2")
        ids = {
            d["label"]: d["deviceId"]
            for d in form.evaluate(
                "async () => (await navigator.mediaDevices.enumerateDevices())"
                ".map(d => ({label: d.label, deviceId: d.deviceId}))"
            )
        }
        stored = json.loads(form.evaluate(f"() => localStorage.getItem('{PREFS}')"))
        assert stored["videoDevice"] == ids["fake_device_1"]
        assert stored["audioDevice"] == ids["Fake Audio Input 2"]

        room = _join_room(page, server, coordinator.meeting_id)
        asked = room.evaluate("() => window.__gum")
        assert asked, "the room never asked for the camera"
        assert asked[-1]["video"]["deviceId"] == {"exact": ids["fake_device_1"]}
        assert asked[-1]["audio"]["deviceId"] == {"exact": ids["Fake Audio Input 2"]}
        assert asked[-1]["video"]["width"] == {"ideal": 320}  # the room's own constraints kept
        # and the devices actually opened are those (the settings show what is in use)
        room.get_by_role("button", name="Caméra et micro…").click()
        expect(room.get_by_label("Caméra", exact=True)).to_have_value(ids["fake_device_1"])
        expect(room.get_by_label("Micro", exact=True)).to_have_value(ids["Fake Audio Input 2"])
        room.get_by_role("button", name="Quitter la salle").click()
        room.get_by_text("Vous avez quitté la salle.").wait_for()
    finally:
        context.close()


def test_a_remembered_device_that_is_gone_does_not_keep_anyone_out_of_the_room(
    server, two_device_browser, coordinator
) -> None:
    """A camera chosen at the office and unplugged since: the component forgets the stale
    choice (OverconstrainedError) and the room opens with the default devices."""
    gone = json.dumps({"videoDevice": "camera-unplugged", "audioDevice": "microphone-unplugged"})
    context = _context(
        two_device_browser,
        # once per tab, as a real stale choice: not again in each new component iframe
        "if (!sessionStorage.getItem('seeded')) { sessionStorage.setItem('seeded', '1'); "
        f"localStorage.setItem('{PREFS}', {json.dumps(gone)}); }}",
        RECORD_GET_USER_MEDIA,
    )
    page = context.new_page()
    try:
        sign_in(page, server, coordinator.email, coordinator.phone)
        room = _join_room(page, server, coordinator.meeting_id)
        asked = room.evaluate("() => window.__gum")
        assert asked[0]["video"]["deviceId"] == {"exact": "camera-unplugged"}
        # then the component asked again without the stale choice, and forgot it
        assert "deviceId" not in asked[1]["video"], asked
        stored = json.loads(room.evaluate(f"() => localStorage.getItem('{PREFS}')"))
        assert stored["videoDevice"] is None and stored["audioDevice"] is None
        assert room.evaluate("() => document.body.dataset.state") == "connected"
    finally:
        context.close()
