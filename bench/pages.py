"""Median rerun time of every page on large data vs an almost empty database; run by hand.

Each page is opened through ``rcp_app.py`` with AppTest as a signed-in user with realistic
rights (user 2 of :mod:`bench.seed_large`: coordinator of RCP 1, doctor in RCPs 2-5, submitter
of cases; the admin for the admin pages), then rerun ``--runs`` times; the median rerun is
compared between the two databases. Goal: every page <= 1.3x its empty-database time. The
camera pages (materiel, salle) are left out: streamlit-webrtc needs a real Streamlit runtime,
and they show no stored data.

    .venv/bin/python bench/pages.py --large-url sqlite:////tmp/large.db
    .venv/bin/python bench/pages.py --scale 0.01 --pages accueil,seance --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.seed_large import ADMIN_ID, BENCH_RCP_ID, BENCH_USER_ID, bench_environment  # noqa: E402

bench_environment()

GOAL_RATIO = 1.3
# page -> (who, query parameters as names of BenchIds fields)
PAGES: dict[str, tuple[str, dict[str, str]]] = {
    "accueil": ("user", {}),
    "rcp": ("user", {}),
    "filiere": ("user", {"id": "network_id"}),
    "famille": ("user", {"id": "family_id"}),
    "fiche_rcp": ("user", {"id": "rcp_id"}),
    "seance": ("user", {"id": "upcoming_meeting_id"}),
    "seance_passee": ("user", {"id": "past_meeting_id"}),
    "cas": ("user", {"id": "open_case_id"}),
    "mes_cas": ("user", {}),
    "soumettre_cas": ("user", {"meeting": "upcoming_meeting_id"}),
    "avis": ("user", {"case": "validated_case_id"}),
    "acces_cas": ("user", {}),
    "mon_compte": ("user", {}),
    "invitations": ("user", {}),
    "admin_inscriptions": ("admin", {}),
    "admin_annuaire": ("admin", {}),
    "admin_comptes": ("admin", {}),
    "admin_boite_envoi": ("admin", {}),
    "admin_journal": ("admin", {}),
}
ALIASES = {"seance_passee": "seance"}


@dataclass
class BenchIds:
    user_token: str
    admin_token: str
    network_id: int
    family_id: int
    rcp_id: int
    upcoming_meeting_id: int
    past_meeting_id: int
    open_case_id: int
    validated_case_id: int


def prepare(url: str) -> BenchIds:
    """Sign the bench users in (login rows inserted directly) and pick the ids pages show."""
    from sqlmodel import Session, col, select

    from rcp.db import make_engine
    from rcp.models import Case, LoginSession, Meeting, Rcp, RcpFamily
    from rcp.security import new_token, token_hash

    engine = make_engine(url)
    now = datetime.now(UTC)
    tokens: dict[int, str] = {}
    with Session(engine) as session:
        for user_id in (BENCH_USER_ID, ADMIN_ID):
            tokens[user_id] = new_token()
            session.add(
                LoginSession(
                    user_id=user_id,
                    token_hash=token_hash(tokens[user_id]),
                    expires_at=now + timedelta(hours=8),
                )
            )
        session.commit()
        rcp = session.get(Rcp, BENCH_RCP_ID)
        family = session.get(RcpFamily, rcp.family_id)  # type: ignore[union-attr]
        meetings = select(Meeting).where(Meeting.rcp_id == BENCH_RCP_ID)
        upcoming = session.exec(
            meetings.where(Meeting.starts_at > now).order_by(col(Meeting.starts_at))
        ).first()
        past = session.exec(
            meetings.where(Meeting.starts_at < now).order_by(col(Meeting.starts_at).desc())
        ).first()
        assert upcoming and past, "the seed has no upcoming or past meeting in RCP 1"

        def case_of(meeting_id: int) -> int:
            mine = select(Case.id).where(
                Case.meeting_id == meeting_id, Case.submitter_id == BENCH_USER_ID
            )
            found = (
                session.exec(mine).first()
                or session.exec(select(Case.id).where(Case.meeting_id == meeting_id)).first()
            )
            assert found, f"no case in meeting {meeting_id}"
            return found

        ids = BenchIds(
            user_token=tokens[BENCH_USER_ID],
            admin_token=tokens[ADMIN_ID],
            network_id=family.network_id,  # type: ignore[union-attr]
            family_id=family.id,  # type: ignore[union-attr, arg-type]
            rcp_id=BENCH_RCP_ID,
            upcoming_meeting_id=upcoming.id,  # type: ignore[arg-type]
            past_meeting_id=past.id,  # type: ignore[arg-type]
            open_case_id=case_of(upcoming.id),  # type: ignore[arg-type]
            validated_case_id=case_of(past.id),  # type: ignore[arg-type]
        )
    engine.dispose()
    return ids


def _use(url: str) -> None:
    from rcp import config

    os.environ["RCP_DATABASE_URL"] = url
    config.reset_settings_cache()


def open_page(url: str, ids: BenchIds, name: str) -> tuple[object, str]:
    """The page opened through the app as its user, and the first exception shown, if any."""
    from streamlit.testing.v1 import AppTest

    from rcp.ui import keys

    _use(url)
    who, params = PAGES[name]
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=120)
    at.session_state[keys.TEST_TOKEN] = ids.user_token if who == "user" else ids.admin_token
    at.run()
    for key, field in params.items():
        at.query_params[key] = str(getattr(ids, field))
    at.switch_page(f"pages/{ALIASES.get(name, name)}.py").run()
    at.run()  # warm-up: the first rerun fills per-process caches
    problem = str(at.exception[0].value)[:80] if at.exception else ""
    return at, problem


def time_page(
    name: str, runs: int, large: tuple[str, BenchIds], empty: tuple[str, BenchIds]
) -> dict[str, object]:
    """Median rerun (ms) of one page on both databases, reruns alternated so load hits both."""
    opened = {
        label: open_page(url, ids, name)
        for label, (url, ids) in (("empty", empty), ("large", large))
    }
    times: dict[str, list[float]] = {"empty": [], "large": []}
    for _ in range(runs):
        for label, (url, _ids) in (("empty", empty), ("large", large)):
            _use(url)
            started = time.perf_counter()
            opened[label][0].run()  # type: ignore[attr-defined]
            times[label].append((time.perf_counter() - started) * 1000)
    empty_ms, large_ms = statistics.median(times["empty"]), statistics.median(times["large"])
    return {
        "page": name,
        "empty_ms": empty_ms,
        "large_ms": large_ms,
        "ratio": large_ms / empty_ms if empty_ms else float("inf"),
        "error": opened["large"][1] or opened["empty"][1],
    }


def run(large_url: str, empty_url: str, names: list[str], runs: int) -> list[dict[str, object]]:
    large = (large_url, prepare(large_url))
    empty = (empty_url, prepare(empty_url))
    return [time_page(name, runs, large, empty) for name in names]


def print_table(rows: list[dict[str, object]]) -> None:
    print(f"{'page':<20} {'empty ms':>9} {'large ms':>9} {'ratio':>6}  goal<=1.3x")
    for row in rows:
        ratio = float(row["ratio"])  # type: ignore[arg-type]
        verdict = "OK" if ratio <= GOAL_RATIO else "MISS"
        line = (
            f"{row['page']:<20} {row['empty_ms']:>9.0f} {row['large_ms']:>9.0f} {ratio:>6.2f}"
            f"  {verdict}"
        )
        if row["error"]:
            line += f"  exception: {row['error']}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    from bench import seed_large

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-url", help="a database seeded by seed_large.py (else seeded)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale when seeding here")
    parser.add_argument("--pages", help="comma-separated page names (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="reruns per page (median)")
    args = parser.parse_args(argv)
    names = args.pages.split(",") if args.pages else list(PAGES)
    unknown = [n for n in names if n not in PAGES]
    if unknown:
        parser.error(f"unknown pages: {', '.join(unknown)}")
    workdir = Path(tempfile.mkdtemp(prefix="rcp-pages-"))
    large_url = args.large_url
    if not large_url:
        large_url = f"sqlite:///{workdir / 'large.db'}"
        seed_large.seed(large_url, scale=args.scale)
    empty_url = f"sqlite:///{workdir / 'empty.db'}"
    seed_large.seed(empty_url, scale=0.0)  # the floors: a dozen users, 2 RCPs, 6 meetings
    os.environ.setdefault("RCP_DATA_DIR", str(workdir / "data"))
    print(f"large: {large_url}\nempty: {empty_url}\nruns per page: {args.runs}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rows = run(large_url, empty_url, names, args.runs)
    print_table(rows)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
