"""Invitation to register, in a real browser: sent by an admin, used by a colleague."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, shot, sign_in, wait_idle

GUEST_EMAIL = "claire.morel@chu.example"
GUEST_PASSWORD = "Une-Autre-Phrase-De-Passe"
ADMIN_NAME = "Plateforme Administrateur"  # not a physician: no "Dr"


def test_invitation_link_leads_to_a_prefilled_registration_seen_by_the_admin(
    server, browser
) -> None:
    """An admin invites a colleague; the emailed link opens the registration with the address
    locked; the link then stops working; the validation queue shows who invited."""
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 1200}, locale="fr-FR")
    admin = admin_ctx.new_page()
    sign_in(admin, server, ADMIN_EMAIL, ADMIN_PHONE)
    admin.get_by_role("link", name="Invitations").click()
    admin.get_by_role("heading", name="Invitations", exact=True).wait_for()
    wait_idle(admin)
    shot(admin, "invitations_01_page")
    admin.get_by_label("Adresse e-mail professionnelle du confrère").fill(GUEST_EMAIL)
    admin.get_by_role("textbox", name="Message personnel (facultatif)").fill(
        "Bonjour Claire, voici le lien pour les RCP de la filière."
    )
    admin.get_by_role("button", name="Envoyer l'invitation").click()
    admin.get_by_text(f"Invitation envoyée à {GUEST_EMAIL}").wait_for()
    wait_idle(admin)
    shot(admin, "invitations_02_sent")
    assert admin.get_by_text("En attente").count() == 1
    # The form is emptied for the next colleague.
    assert admin.get_by_label("Adresse e-mail professionnelle du confrère").input_value() == ""
    assert admin.get_by_role("textbox", name="Message personnel (facultatif)").input_value() == ""

    mails = [m for m in server.outbox(GUEST_EMAIL) if "invitation" in m["subject"]]
    assert len(mails) == 1
    link = re.search(r"http://\S+/inscription\?invitation=[\w-]+", mails[0]["body"]).group(0)
    assert link.startswith(server.url)

    guest_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    guest = guest_ctx.new_page()
    guest.goto(link)
    wait_idle(guest)
    guest.get_by_text(f"Vous avez été invité par {ADMIN_NAME}").wait_for()
    email_field = guest.get_by_role("textbox", name="Adresse e-mail professionnelle")
    # Streamlit fills the disabled field a moment after the page's text (read empty twice on
    # a loaded machine): Playwright's assertion waits for the value.
    expect(email_field).to_have_value(GUEST_EMAIL)
    assert email_field.is_disabled()
    guest.get_by_label("Nom", exact=True).fill("Morel")
    guest.get_by_label("Prénom").fill("Claire")
    guest.get_by_label("Téléphone portable").fill("06 12 34 56 02")
    guest.get_by_label("Spécialité").click()
    guest.get_by_role("option", name="Génétique").click()
    guest.get_by_label("Établissement").fill("CHU Exemple, génétique médicale")
    guest.get_by_label("Mot de passe", exact=True).fill(GUEST_PASSWORD)
    guest.get_by_label("Confirmez le mot de passe").fill(GUEST_PASSWORD)
    guest.get_by_text("J'accepte les conditions d'utilisation").click()
    shot(guest, "invitations_03_registration_prefilled")
    guest.get_by_role("button", name="Envoyer ma demande d'inscription").click()
    guest.get_by_text("demande d'inscription est enregistrée").wait_for()
    assert guest.get_by_text(GUEST_EMAIL).count() >= 1
    shot(guest, "invitations_04_registration_done")

    # The link is single use: opened again (a fresh visit), it says so and offers the form.
    again = guest_ctx.new_page()
    again.goto(link)
    wait_idle(again)
    again.get_by_text("n'est plus valable").wait_for()
    assert not again.get_by_label("Adresse e-mail professionnelle").is_disabled()
    shot(again, "invitations_05_link_used")

    admin.goto(server.url + "/admin-inscriptions")
    wait_idle(admin)
    admin.get_by_text("MOREL Claire").wait_for()
    admin.get_by_text(f"Invité par {ADMIN_NAME} le").wait_for()
    admin.get_by_text("voici le lien pour les RCP de la filière").wait_for()
    shot(admin, "invitations_06_admin_queue")

    admin.goto(server.url + "/invitations")
    wait_idle(admin)
    admin.get_by_text("Utilisée").wait_for()
    assert admin.get_by_role("button", name="Révoquer").count() == 0
    shot(admin, "invitations_07_used")
    guest_ctx.close()
    admin_ctx.close()
