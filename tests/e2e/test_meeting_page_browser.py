"""The meeting page of a running meeting in two real browsers: chat and current case, live."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import choose, shot, sign_in, wait_idle
from tests.factories import (
    RunningMeeting,
    seed_running_meeting,
)

# ms: changes are pushed (rcp.events), the fallback refresh is 120 s away: generous for a
# loaded 2-core machine, and a push that failed would show here.
LIVE_TIMEOUT = 15_000


@pytest.fixture(scope="module")
def running(server) -> RunningMeeting:
    """A running meeting with two submitted cases, written into the server's database."""
    return seed_running_meeting(f"sqlite:///{server.data_dir / 'rcp.db'}", phones=(60, 61))


def _open(browser, server, who: tuple[str, str], meeting_id: int):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    sign_in(page, server, *who)
    page.goto(f"{server.url}/seance?id={meeting_id}")
    page.get_by_text("Messagerie instantanée").wait_for()
    wait_idle(page)
    # Survives only as long as the page is not reloaded: proves updates arrive without reload.
    page.evaluate("window.__notReloaded = true")
    return context, page


def test_chat_and_current_case_reach_the_other_browser_without_reload(
    server, browser, running: RunningMeeting
) -> None:
    """A message typed by the participant appears on the coordinator's page, as text; the case
    the coordinator sets as current appears on the participant's page; neither page reloads."""
    coord_ctx, coord = _open(browser, server, running.coordinator, running.id)
    part_ctx, part = _open(browser, server, running.participant, running.id)
    try:
        join = part.get_by_role("link", name=re.compile("Rejoindre la visio-conférence"))
        assert join.get_attribute("target") == "_blank"
        assert join.get_attribute("href").endswith(f"salle?id={running.id}")
        with part_ctx.expect_page() as opened:
            join.click()
        room = opened.value
        room.wait_for_url(re.compile(rf"/salle\?id={running.id}$"))
        room.close()  # the meeting page stayed open in the first tab
        assert part.evaluate("window.__notReloaded === true")

        message = "Bonjour <b>à tous</b> [lien](javascript:alert(1))"
        part.get_by_placeholder("Écrire un message aux participants").fill(message)
        part.get_by_placeholder("Écrire un message aux participants").press("Enter")
        part.locator(".st-key-seance_chat_messages").get_by_text(message).wait_for(
            timeout=LIVE_TIMEOUT
        )
        chat = coord.locator(".st-key-seance_chat_messages")
        chat.get_by_text(message).wait_for(timeout=LIVE_TIMEOUT)
        assert chat.locator("a, b, img").count() == 0  # no link, tag or image: shown as typed
        assert "Dr Inès Marchal" in chat.inner_text()
        shot(coord, "meeting_01_coordinator_receives_message")

        choose(
            coord, "Cas en cours (affiché chez tous les participants)", re.compile("DURANDAL Lucie")
        )
        coord.get_by_text("Cas en cours : 1. DURANDAL Lucie").wait_for(timeout=LIVE_TIMEOUT)
        part.get_by_role("heading", name="DURANDAL Lucie").wait_for(timeout=LIVE_TIMEOUT)
        wait_idle(part)
        shot(part, "meeting_02_participant_follows_current_case")
        assert part.evaluate("window.__notReloaded === true")
        assert coord.evaluate("window.__notReloaded === true")

        part.get_by_role("button", name="Lever la main").click()
        coord.get_by_role("button", name="Donner la parole").wait_for(timeout=LIVE_TIMEOUT)
        wait_idle(coord)
        shot(coord, "meeting_03_coordinator_sees_hand")
        coord.get_by_role("button", name="Donner la parole").click()
        part.get_by_role("button", name="Lever la main").wait_for(timeout=LIVE_TIMEOUT)
        assert part.evaluate("window.__notReloaded === true")
    finally:
        coord_ctx.close()
        part_ctx.close()
