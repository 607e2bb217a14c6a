"""An address that matches no page gets a French page with the way home, never Streamlit's
English "Page not found" dialog."""

from __future__ import annotations

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, shot, sign_in, wait_idle


def _no_english_dialog(page) -> None:
    page.wait_for_timeout(500)  # the dialog, when it comes, follows the script's messages
    assert page.locator("text=Page not found >> visible=true").count() == 0


def test_unknown_addresses_get_a_french_page_signed_out_and_signed_in(server, browser) -> None:
    """Signed out, a typo shows "Page introuvable" and "Se connecter"; signed in, it shows
    "Retour à l'accueil", which leads home; /accueil opens the home page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{server.url}/seance-du-jour")
    wait_idle(page)
    page.get_by_text("Page introuvable").first.wait_for()
    shot(page, "not_found_01_signed_out")
    _no_english_dialog(page)
    assert page.get_by_text("Se connecter").count() >= 1

    sign_in(page, server, ADMIN_EMAIL, ADMIN_PHONE)
    page.goto(f"{server.url}/acceuil")
    wait_idle(page)
    page.get_by_text("Page introuvable").first.wait_for()
    _no_english_dialog(page)
    shot(page, "not_found_02_signed_in")
    page.get_by_text("Retour à l'accueil").click()
    wait_idle(page)
    _no_english_dialog(page)
    assert page.get_by_text("Page introuvable").count() == 0

    page.goto(f"{server.url}/accueil")
    wait_idle(page)
    _no_english_dialog(page)
    shot(page, "not_found_03_accueil")
    context.close()
