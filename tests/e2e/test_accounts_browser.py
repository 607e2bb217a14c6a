"""Registration, validation and two-factor sign-in in a real browser."""

from __future__ import annotations

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, shot, sign_in, wait_idle

DOCTOR_EMAIL = "louise.bernard@chu.example"
DOCTOR_PHONE = "+33612345601"
DOCTOR_PASSWORD = "Une-Phrase-De-Passe-Solide"


def test_register_validate_sign_in_and_sign_out_everywhere(server, browser) -> None:
    """A doctor registers, an admin validates, the doctor signs in with the SMS code; the
    session survives a reload and opens a second tab; sign-out ends both tabs."""
    doctor_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = doctor_ctx.new_page()
    page.goto(server.url + "/inscription")
    wait_idle(page)
    page.get_by_label("Nom", exact=True).fill("Bernard")
    page.get_by_label("Prénom").fill("Louise")
    page.get_by_label("Adresse e-mail professionnelle").fill(DOCTOR_EMAIL)
    page.get_by_label("Téléphone portable").fill("06 12 34 56 01")
    page.get_by_label("Spécialité").click()
    page.get_by_role("option", name="Néphrologie pédiatrique").click()
    page.get_by_label("Établissement").fill("CHU Exemple, néphrologie pédiatrique")
    page.get_by_label("Mot de passe", exact=True).fill(DOCTOR_PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(DOCTOR_PASSWORD)
    page.get_by_text("J'accepte les conditions d'utilisation").click()
    shot(page, "accounts_01_registration_form")
    page.get_by_role("button", name="Envoyer ma demande d'inscription").click()
    page.get_by_text("demande d'inscription est enregistrée").wait_for()
    shot(page, "accounts_02_registration_done")

    # A pending account is told so plainly and gets no code.
    page.goto(server.url + "/")
    wait_idle(page)
    page.get_by_label("Adresse e-mail professionnelle").fill(DOCTOR_EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(DOCTOR_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("en attente de validation").wait_for()
    shot(page, "accounts_03_pending_refused")

    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    admin = admin_ctx.new_page()
    sign_in(admin, server, ADMIN_EMAIL, ADMIN_PHONE)
    admin.get_by_text("Mode pilote").wait_for()
    admin.goto(server.url + "/admin-inscriptions")
    wait_idle(admin)
    admin.get_by_text("BERNARD Louise").wait_for()
    shot(admin, "accounts_04_admin_queue")
    admin.get_by_role("button", name="Valider").click()
    admin.get_by_text("Inscription de Louise Bernard validée").wait_for()
    shot(admin, "accounts_05_admin_approved")
    assert any("validée" in m["subject"] for m in server.outbox(DOCTOR_EMAIL))

    sign_in(page, server, DOCTOR_EMAIL, DOCTOR_PHONE, DOCTOR_PASSWORD)
    page.get_by_text("Bonjour Dr Louise Bernard").wait_for()
    shot(page, "accounts_06_doctor_home")
    cookies = {c["name"]: c for c in doctor_ctx.cookies()}
    assert cookies["rcp_session"]["httpOnly"] is True
    assert page.evaluate("document.cookie").find("rcp_session") == -1

    page.reload()
    wait_idle(page)
    page.get_by_text("Bonjour Dr Louise Bernard").wait_for()

    second = doctor_ctx.new_page()
    second.goto(server.url + "/mon-compte")
    wait_idle(second)
    second.get_by_role("heading", name="Mon compte").wait_for()
    shot(second, "accounts_07_second_tab")

    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_label("Adresse e-mail professionnelle").wait_for(timeout=30_000)
    wait_idle(page)
    shot(page, "accounts_08_signed_out")
    assert "rcp_session" not in {c["name"] for c in doctor_ctx.cookies()}

    # The second tab is signed out too, without reloading: it still holds the old token
    # (its connection started with the cookie), which the server has revoked.
    second.get_by_role("link", name="Accueil").click()
    second.get_by_label("Adresse e-mail professionnelle").wait_for(timeout=30_000)
    wait_idle(second)
    shot(second, "accounts_09_second_tab_signed_out")
    assert second.get_by_role("button", name="Se déconnecter").count() == 0
    doctor_ctx.close()
    admin_ctx.close()
