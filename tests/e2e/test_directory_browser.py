"""The procedure's paths to a meeting (parts B, C, D) in a real browser, on the demo data."""

from __future__ import annotations

import re

import pytest

from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from tests.e2e.conftest import shot, sign_in, wait_idle

PHONES = {p.key: p.phone for p in PEOPLE}


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def _sign_in(page, server, key: str) -> None:
    sign_in(page, server, demo_email(key), PHONES[key], DEMO_PASSWORD)


def test_doctor_follows_the_procedure_path_and_a_coordinator_accepts(demo, browser) -> None:
    """RCP → ORKID → family → RCP → meeting, "Participer"; the coordinator accepts in another
    browser; the doctor sees the confirmation."""
    doctor_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    doctor = doctor_ctx.new_page()
    _sign_in(doctor, demo, "medecin2")
    doctor.get_by_role("link", name="RCP", exact=True).click()
    doctor.wait_for_url(re.compile(r"/rcp$"))
    wait_idle(doctor)
    shot(doctor, "directory_01_networks")
    doctor.get_by_role("link", name=re.compile("ORKID")).click()
    doctor.wait_for_url(re.compile(r"/filiere\?id=\d+$"))
    wait_idle(doctor)
    shot(doctor, "directory_02_families")
    doctor.get_by_role("link", name="SHU atypique et microangiopathies thrombotiques").click()
    doctor.wait_for_url(re.compile(r"/famille\?id=\d+$"))
    wait_idle(doctor)
    doctor.get_by_role("link", name="SHU atypique et MAT").click()
    doctor.wait_for_url(re.compile(r"/fiche-rcp\?id=\d+$"))
    wait_idle(doctor)
    shot(doctor, "directory_03_rcp")
    doctor.get_by_role("link", name=re.compile(r"^RCP SHU atypique et MAT du ")).first.click()
    doctor.wait_for_url(re.compile(r"/seance\?id=\d+$"))
    wait_idle(doctor)
    meeting_url = doctor.url
    # The browser's back button returns to the RCP's page, and forward to the meeting.
    doctor.go_back()
    doctor.wait_for_url(re.compile(r"/fiche-rcp\?id=\d+$"))
    wait_idle(doctor)
    doctor.get_by_role("heading", name="SHU atypique et MAT").wait_for()
    doctor.go_forward()
    doctor.wait_for_url(meeting_url)
    wait_idle(doctor)
    doctor.get_by_role("button", name="Participer").click()
    doctor.get_by_text("Demande envoyée").wait_for()
    shot(doctor, "directory_04_requested")

    coordinator_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    coordinator = coordinator_ctx.new_page()
    _sign_in(coordinator, demo, "referent")
    coordinator.get_by_text(re.compile("Julien Boyer.*demande à participer")).wait_for()
    shot(coordinator, "directory_05_coordinator_todo")
    coordinator.goto(meeting_url)
    wait_idle(coordinator)
    coordinator.get_by_role("button", name="Accepter").click()
    coordinator.get_by_text("acceptée").first.wait_for()
    shot(coordinator, "directory_06_accepted")
    assert any("acceptée" in m["subject"] for m in demo.outbox(demo_email("medecin2")))

    doctor.reload()
    wait_idle(doctor)
    doctor.get_by_text("Votre statut : participation confirmée").wait_for()
    shot(doctor, "directory_07_confirmed")
    doctor_ctx.close()
    coordinator_ctx.close()


def test_invited_doctor_opens_the_email_link_signs_in_and_confirms(demo, browser) -> None:
    """The coordinator invites from the meeting page; the email's link, opened signed out,
    leads through password and SMS code straight to the meeting, where the doctor confirms."""
    coord_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    coord = coord_ctx.new_page()
    _sign_in(coord, demo, "assistante")
    coord.get_by_role("link", name="RCP", exact=True).click()
    coord.wait_for_url(re.compile(r"/rcp$"))
    wait_idle(coord)
    coord.get_by_role("link", name=re.compile("ORKID")).click()
    coord.wait_for_url(re.compile(r"/filiere\?id=\d+$"))
    wait_idle(coord)
    coord.get_by_role("link", name="Syndrome néphrotique de l'enfant").click()
    coord.wait_for_url(re.compile(r"/famille\?id=\d+$"))
    wait_idle(coord)
    coord.get_by_role("link", name="Syndrome néphrotique idiopathique pédiatrique").click()
    coord.wait_for_url(re.compile(r"/fiche-rcp\?id=\d+$"))
    wait_idle(coord)
    coord.get_by_role("link", name=re.compile(r"du ")).first.click()
    coord.wait_for_url(re.compile(r"/seance\?id=\d+$"))
    wait_idle(coord)
    coord.get_by_text("Inviter des médecins").click()
    coord.get_by_label("Rechercher un autre médecin").fill("Renaud")
    coord.get_by_label("Rechercher un autre médecin").press("Enter")
    wait_idle(coord)
    chooser = coord.locator("[data-testid='stMultiSelect']").filter(has_text="Médecins à inviter")
    chooser.locator("input").click()
    chooser.locator("input").press_sequentially("Renaud", delay=50)
    coord.get_by_role("option", name=re.compile("Sophie Renaud")).click()
    coord.keyboard.press("Escape")
    coord.get_by_role("button", name="Envoyer les invitations").click()
    coord.get_by_text("1 invitation(s) envoyée(s)").wait_for()
    shot(coord, "directory_08_invited")

    (mail,) = [
        m for m in demo.outbox(demo_email("medecin3")) if m["subject"].startswith("Invitation")
    ]
    assert mail["attachments"] == ["invitation.ics"]
    link = re.search(r"https?://\S+/seance\?id=\d+", mail["body"]).group(0)

    doctor_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    doctor = doctor_ctx.new_page()
    doctor.goto(link)
    wait_idle(doctor)
    doctor.get_by_text("Connectez-vous pour accéder à la page demandée").wait_for()
    doctor.get_by_label("Adresse e-mail professionnelle").fill(demo_email("medecin3"))
    doctor.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    doctor.get_by_role("button", name="Se connecter").click()
    doctor.get_by_label("Code de vérification").wait_for()
    wait_idle(doctor)
    doctor.get_by_label("Code de vérification").fill(demo.last_code(PHONES["medecin3"]))
    doctor.get_by_role("button", name="Valider").click()
    doctor.get_by_role("button", name="Valider ma participation").wait_for(timeout=30_000)
    wait_idle(doctor)
    assert doctor.url.endswith(link.split("/", 3)[3])
    shot(doctor, "directory_09_invitation_landing")
    doctor.get_by_role("button", name="Valider ma participation").click()
    doctor.get_by_text("Votre participation est confirmée").wait_for()
    shot(doctor, "directory_10_invitation_confirmed")
    coord_ctx.close()
    doctor_ctx.close()
