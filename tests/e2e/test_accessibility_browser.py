"""axe-core on every page of the procedure, as each role sees it: no serious or critical
violation of WCAG 2.1 A/AA (issue 16.4).

axe-core comes from the npm registry (``tests/e2e/a11y/package.json``, installed by
``scripts/test.sh``), injected into the page by the test (the context bypasses the page's CSP
for it: the platform itself never loads it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from rcp.db import make_engine
from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from rcp.models import Case, Meeting, Rcp, RcpFamily
from tests.e2e.conftest import sign_in, wait_idle

AXE = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
PHONES = {p.key: p.phone for p in PEOPLE}
RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
  });
  return JSON.stringify(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => ({target: n.target.join(" "), summary: n.failureSummary,
      html: n.html.slice(0, 200)})),
  })));
}"""


@pytest.fixture(scope="module")
def demo(server):
    server.cli("seed-demo")
    return server


def violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run scripts/test.sh (npm ci in tests/e2e/a11y)")
    page.add_script_tag(path=str(AXE))
    return json.loads(page.evaluate(RUN_AXE))


def audit(page, url: str) -> list[dict]:
    page.goto(url)
    wait_idle(page)
    return violations(page)


def _ids(demo) -> dict[str, int]:
    """Ids of the demo's live meeting, its RCP, family and network, and its CT case."""
    engine = make_engine(f"sqlite:///{demo.data_dir / 'rcp.db'}")
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.patient_last_name == "DEMOLIN")).one()
        meeting = session.get(Meeting, case.meeting_id)
        rcp = session.get(Rcp, meeting.rcp_id)
        family = session.get(RcpFamily, rcp.family_id)
        ids = {
            "case": case.id,
            "meeting": meeting.id,
            "rcp": rcp.id,
            "family": family.id,
            "network": family.network_id,
        }
    engine.dispose()
    return ids


def _pages(role: str, ids: dict[str, int]) -> list[str]:
    if role == "anonymous":
        return ["/", "/inscription", "/mot-de-passe-oublie", "/adresse-inconnue"]
    if role == "medecin1":
        return [
            "/",
            "/rcp",
            f"/filiere?id={ids['network']}",
            f"/famille?id={ids['family']}",
            f"/fiche-rcp?id={ids['rcp']}",
            f"/seance?id={ids['meeting']}",
            f"/soumettre-cas?meeting={ids['meeting']}",
            f"/cas?id={ids['case']}",
            "/mes-cas",
            "/mon-compte",
            "/materiel",
            "/invitations",
        ]
    if role == "assistante":
        return [
            f"/fiche-rcp?id={ids['rcp']}",
            f"/seance?id={ids['meeting']}",
            f"/avis?case={ids['case']}",
            f"/acces-cas?rcp={ids['rcp']}",
            "/invitations",
        ]
    return [
        "/admin-inscriptions",
        "/admin-annuaire",
        "/admin-comptes",
        "/admin-boite-envoi",
        "/admin-journal",
    ]


@pytest.mark.parametrize("role", ["anonymous", "medecin1", "assistante", "admin"])
def test_no_serious_or_critical_violation_on_any_page(demo, browser, role) -> None:
    ctx = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", bypass_csp=True
    )
    page = ctx.new_page()
    if role != "anonymous":
        sign_in(page, demo, demo_email(role), PHONES[role], DEMO_PASSWORD)
    found: list[str] = []
    for path in _pages(role, _ids(demo)):
        page.goto(demo.url + path)
        wait_idle(page)
        # The document says its language (screen readers pronounce French as French).
        assert page.evaluate("() => document.documentElement.lang") == "fr", path
        for item in violations(page):
            if item["impact"] in ("serious", "critical"):
                found += [f"{path}: {item['impact']} {item['id']} ({item['help']})"]
                found += [f"    {n['target']} | {n['summary']}" for n in item["nodes"]]
    ctx.close()
    assert not found, "\n".join(found)
