"""The RCP opinion in a real browser: a coordinator validates, a participant downloads the
sheet, a doctor outside the meeting is refused."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlmodel import Session, select

from rcp import cases
from rcp.db import make_engine
from rcp.models import AuditEvent, Opinion
from tests.e2e.conftest import ARTIFACTS, shot, sign_in, wait_idle
from tests.factories import CaseTeam, attend, make_case_team

PROPOSAL = "Débuter l'éculizumab après vaccination antiméningococcique ; contrôle à trois mois."


@pytest.fixture(scope="module")
def team(server) -> CaseTeam:
    """A submitted case in a running meeting, three specialties in the room (server's DB)."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        team = make_case_team(session)
        attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    engine.dispose()
    return team


def _read(server, query):
    """Run a read-only query on the server's database (no write lock taken)."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}", immediate=False)
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(query).all()
    engine.dispose()
    return rows


def _opinions(server) -> list[Opinion]:
    return list(_read(server, select(Opinion)))


def _downloads(server) -> int:
    return len(
        _read(server, select(AuditEvent).where(AuditEvent.action == "opinion.sheet_downloaded"))
    )


def test_coordinator_validates_participant_downloads_outsider_is_refused(
    server, browser, team: CaseTeam
) -> None:
    """The assistant writes and validates the opinion; a confirmed participant downloads the
    PDF whose SHA-256 is the one shown and recorded; a stranger gets the refusal message."""
    url = f"{server.url}/avis?case={team.case.id}"

    coordinator_ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    coordinator = coordinator_ctx.new_page()
    sign_in(coordinator, server, team.assistant.email, team.assistant.phone)
    coordinator.goto(url)
    wait_idle(coordinator)
    coordinator.get_by_text("Quorum atteint : 3 participant(s)").wait_for()
    coordinator.get_by_label("Proposition de la RCP").fill(PROPOSAL)
    coordinator.get_by_label("Médecin responsable du suivi").fill("Dr Zoé Lefèvre-Cœur")
    coordinator.get_by_text("Oui", exact=True).click()  # the guidelines question, no default
    shot(coordinator, "avis_01_editor")
    coordinator.get_by_role("button", name="Valider l'avis").click()
    coordinator.get_by_text(re.compile(r"Avis validé le .* par Dr Hélène Dubœuf")).wait_for(
        timeout=30_000
    )
    wait_idle(coordinator)
    shot(coordinator, "avis_02_validated")
    [opinion] = _opinions(server)
    assert opinion.validated_at is not None
    assert opinion.proposal == PROPOSAL
    coordinator.get_by_text(opinion.sheet_sha256 or "-").wait_for()
    coordinator_ctx.close()

    participant_ctx = browser.new_context(
        viewport={"width": 1280, "height": 1000}, locale="fr-FR", accept_downloads=True
    )
    participant = participant_ctx.new_page()
    sign_in(participant, server, team.nephrologist.email, team.nephrologist.phone)
    participant.goto(url)
    wait_idle(participant)
    participant.get_by_text(PROPOSAL).wait_for()
    shot(participant, "avis_03_participant")
    # The sheet is a link to the authenticated, audited route (never a /media URL).
    link = participant.get_by_role("link", name="Télécharger la fiche")
    href = link.get_attribute("href")
    assert href == f"/cases/{team.case.id}/sheet.pdf"
    downloads: list = []  # the link opens a tab that only downloads, then closes
    participant_ctx.on("page", lambda tab: tab.on("download", lambda d: downloads.append(d)))
    participant.on("download", lambda d: downloads.append(d))
    link.click()
    for _ in range(300):
        if downloads:
            break
        participant.wait_for_timeout(100)
    assert downloads, "no download started from the sheet link"
    download = downloads[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "avis_download.pdf"
    download.save_as(target)
    data = target.read_bytes()
    assert download.suggested_filename == f"fiche-rcp-cas-{team.case.id}-v1.pdf"
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == opinion.sheet_sha256
    assert _downloads(server) == 1
    # Without the session cookie the same URL gives nothing.
    anonymous = browser.new_context().request.get(server.url + href)
    assert anonymous.status == 401 and not anonymous.body().startswith(b"%PDF")
    assert "no-store" in anonymous.headers["cache-control"]
    participant_ctx.close()

    stranger_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    stranger = stranger_ctx.new_page()
    sign_in(stranger, server, team.stranger.email, team.stranger.phone)
    stranger.goto(url)
    wait_idle(stranger)
    stranger.get_by_text(re.compile("Seuls les participants confirmés")).wait_for()
    assert stranger.get_by_role("link", name="Télécharger la fiche").count() == 0
    assert stranger.get_by_text(PROPOSAL).count() == 0
    shot(stranger, "avis_04_refused")
    stranger_ctx.close()


def test_coordinator_opens_a_case_on_the_access_page_and_sees_its_reader(
    server, browser, team: CaseTeam
) -> None:
    """On "Accès aux cas" the closed case shows its count of readers; a click opens the table
    of who opened it (the pathologist, with a count of openings); a click closes it."""
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        cases.get_case(session, actor=team.pathologist, case_id=team.case.id)
    engine.dispose()
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    try:
        sign_in(page, server, team.assistant.email, team.assistant.phone)
        page.goto(f"{server.url}/acces-cas")
        page.get_by_role("heading", name="Accès aux cas").wait_for()
        wait_idle(page)
        summary = page.get_by_text(f"Cas n° {team.case.id} —")
        summary.wait_for()
        reader = page.get_by_role("cell", name=team.pathologist.display_name)
        assert not reader.is_visible()  # closed
        summary.click()
        reader.wait_for(timeout=15_000)
        wait_idle(page)
        page.wait_for_timeout(1_500)
        assert reader.is_visible()  # still there once the page has settled
        row = page.get_by_role("row").filter(has=reader)
        assert row.get_by_role("cell").nth(1).inner_text().strip() not in ("", "0")
        shot(page, "acces_cas_01_case_opened")
        summary.click()
        reader.wait_for(state="hidden", timeout=15_000)
    finally:
        context.close()
