"""Seed a large generated network (about 10x ORKID's ten years) with bulk inserts; run by hand.

At ``--scale 1``: 1,000 users, 60 RCPs, 3,000 meetings, 30,000 cases with attachment metadata
(rows only, no files), 300,000 chat messages, 500,000 audit events, plus memberships,
participations, attendances, opinions and outbox messages. Every name is made up from
syllables. Rows go in with SQLAlchemy core ``insert()`` executemany in chunks, not through
the services (no audit per row, no password hashing per user).

Fixed rows the page benchmark relies on (see :data:`BENCH_IDS`): user 1 is the admin, user 2 a
doctor who coordinates RCP 1, belongs to RCPs 1-5 and submitted cases in RCP 1's meetings.

    .venv/bin/python bench/seed_large.py --url sqlite:////tmp/large.db
    .venv/bin/python bench/seed_large.py --scale 0.01
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_environment() -> None:
    """Settings a benchmark needs outside a deployment (set only when absent)."""
    os.environ.setdefault("RCP_SECRET_KEY", "bench-secret-key-not-a-placeholder-0123456789")
    os.environ.setdefault("RCP_SECRETS_FILE", "/nonexistent/secrets.toml")
    os.environ.setdefault("RCP_PASSWORD_HASH_TIME_COST", "1")
    os.environ.setdefault("RCP_PASSWORD_HASH_MEMORY_KIB", "1024")
    for name in ("RCP_SMTP_HOST", "RCP_SMS_GATEWAY_URL"):
        os.environ.pop(name, None)


bench_environment()

from rcp import models as m  # noqa: E402
from rcp.db import make_engine  # noqa: E402
from rcp.security import hash_password  # noqa: E402

PASSWORD = "Correct-Horse-Battery-9"
CHUNK = 5_000
ADMIN_ID = 1
BENCH_USER_ID = 2
BENCH_RCP_ID = 1
SPECIALTIES = (
    "Néphrologie",
    "Génétique",
    "Anatomopathologie",
    "Pédiatrie",
    "Radiologie",
    "Immunologie",
    "Urologie",
    "Biologie",
)
# (action, target type) in the proportions of a live network: case reads dominate.
ACTIONS = (
    ("case.viewed", "case"),
    ("case.viewed", "case"),
    ("case.viewed", "case"),
    ("file.downloaded", "attachment"),
    ("auth.sign_in", "user"),
    ("auth.sign_in", "user"),
    ("chat.posted", "chatmessage"),
    ("chat.posted", "chatmessage"),
    ("room.joined", "meeting"),
    ("case.submitted", "case"),
    ("opinion.draft_saved", "opinion"),
    ("opinion.sheet_downloaded", "opinion"),
    ("meeting.invited", "meeting"),
    ("file.uploaded", "attachment"),
)
_SYLLABLES = ("ba", "lor", "ven", "ti", "mar", "do", "quel", "sa", "ri", "nou", "fel", "gan")


@dataclass(frozen=True)
class Counts:
    users: int
    networks: int
    families: int
    rcps: int
    meetings: int
    cases: int
    attachments_per_case: int
    chat_messages: int
    audit_events: int
    outbox_messages: int
    participants_per_meeting: int

    @classmethod
    def at(cls, scale: float) -> Counts:
        def n(full: int, floor: int) -> int:
            return max(floor, round(full * scale))

        return cls(
            users=n(1_000, 12),
            networks=n(4, 1),
            families=n(12, 1),
            rcps=n(60, 2),
            meetings=n(3_000, 6),
            cases=n(30_000, 12),
            attachments_per_case=2,
            chat_messages=n(300_000, 10),
            audit_events=n(500_000, 20),
            outbox_messages=n(40_000, 5),
            participants_per_meeting=10,
        )


def fake_name(rng: random.Random, parts: int = 2) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts + rng.randint(0, 1))).capitalize()


def chunks(rows: Iterable[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert(engine: sa.Engine, model: type, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk-insert ``rows`` into ``model``'s table, one short transaction per chunk."""
    table = model.__table__  # type: ignore[attr-defined]
    total = 0
    for batch in chunks(rows):
        with engine.begin() as conn:
            conn.execute(sa.insert(table), batch)
        total += len(batch)
    return total


def seed(url: str, *, scale: float = 1.0, seed_value: int = 42) -> dict[str, int]:
    """Create the schema at ``url`` and fill it; returns row counts per table."""
    rng = random.Random(seed_value)
    c = Counts.at(scale)
    engine = make_engine(url)
    m.SQLModel.metadata.create_all(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    pw = hash_password(PASSWORD)
    counts: dict[str, int] = {}

    def user_row(i: int) -> dict[str, Any]:
        first, last = fake_name(rng), fake_name(rng, 3)
        return {
            "id": i,
            "email": "admin@plateforme.example" if i == ADMIN_ID else f"dr{i}@chu.example",
            "password_hash": pw,
            "last_name": last,
            "first_name": first,
            "phone": f"+3361234{i:04d}"[:12],
            "specialty": SPECIALTIES[i % len(SPECIALTIES)],
            "institution": f"CHU de {fake_name(rng, 2)}",
            "rpps": None,
            "status": "active" if i % 50 else "pending",
            "is_admin": i == ADMIN_ID,
            "failed_attempts": 0,
            "created_at": now - timedelta(days=rng.randint(0, 3650)),
            "terms_accepted_at": now - timedelta(days=3650),
            "validated_at": now - timedelta(days=3600),
        }

    counts["user"] = insert(engine, m.User, (user_row(i) for i in range(1, c.users + 1)))
    counts["network"] = insert(
        engine,
        m.Network,
        (
            {"id": i, "code": f"NET{i}", "name": f"Filière {fake_name(rng)}", "description": ""}
            | {"created_at": now}
            for i in range(1, c.networks + 1)
        ),
    )
    counts["rcpfamily"] = insert(
        engine,
        m.RcpFamily,
        (
            {"id": i, "network_id": (i - 1) % c.networks + 1, "name": f"Famille {fake_name(rng)}"}
            | {"description": "", "created_at": now}
            for i in range(1, c.families + 1)
        ),
    )
    counts["rcp"] = insert(
        engine,
        m.Rcp,
        (
            {"id": i, "family_id": (i - 1) % c.families + 1, "name": f"RCP {fake_name(rng, 3)}"}
            | {"description": "", "min_specialties": 3, "min_participants": 3, "created_at": now}
            for i in range(1, c.rcps + 1)
        ),
    )

    # Memberships: ~40 doctors per RCP, two coordinators each; user 2 coordinates RCP 1 and
    # is a doctor in RCPs 2-5.
    members: dict[int, list[int]] = {}
    member_rows: list[dict[str, Any]] = []
    doctors = list(range(2, c.users + 1))
    for rcp_id in range(1, c.rcps + 1):
        chosen = set(rng.sample(doctors, min(40, len(doctors))))
        if rcp_id <= 5:
            chosen.add(BENCH_USER_ID)
        ordered = sorted(chosen)
        if rcp_id == BENCH_RCP_ID:
            ordered.remove(BENCH_USER_ID)
            ordered.insert(0, BENCH_USER_ID)
        members[rcp_id] = ordered
        for k, uid in enumerate(ordered):
            role = "referent" if k == 0 else "assistant" if k == 1 else "doctor"
            if uid == BENCH_USER_ID and rcp_id != BENCH_RCP_ID:
                role = "doctor"
            member_rows.append(
                {"rcp_id": rcp_id, "user_id": uid, "role": role, "status": "active"}
                | {"created_at": now - timedelta(days=3000)}
            )
    counts["rcpmember"] = insert(engine, m.RcpMember, member_rows)

    # Meetings: spread over ten years up to a few months ahead, every RCP in turn.
    meeting_rcp: dict[int, int] = {}
    meeting_start: dict[int, datetime] = {}

    def meeting_rows() -> Iterator[dict[str, Any]]:
        span = timedelta(days=3650 + 180)
        for i in range(1, c.meetings + 1):
            rcp_id = (i - 1) % c.rcps + 1
            start = (now - timedelta(days=3650)) + span * (i / c.meetings)
            if i > c.meetings - c.rcps:  # every RCP has at least one upcoming meeting
                start = max(start, now + timedelta(days=7 + i % 30))
            start = start.replace(hour=13, minute=0, second=0)
            meeting_rcp[i] = rcp_id
            meeting_start[i] = start
            past = start < now
            yield {
                "id": i,
                "rcp_id": rcp_id,
                "starts_at": start,
                "ends_at": start + timedelta(hours=2),
                "case_deadline": start - timedelta(days=2),
                "description": f"Séance {i}",
                "status": "closed" if past else "scheduled",
                "ics_sequence": 0,
                "created_by_id": members[rcp_id][0],
                "created_at": start - timedelta(days=30),
                "closed_at": start + timedelta(hours=2) if past else None,
            }

    counts["meeting"] = insert(engine, m.Meeting, meeting_rows())

    def participation_rows() -> Iterator[dict[str, Any]]:
        for mid, rcp_id in meeting_rcp.items():
            pool = members[rcp_id]
            chosen = set(rng.sample(pool, min(c.participants_per_meeting, len(pool))))
            chosen.add(pool[0])
            for uid in chosen:
                yield {
                    "meeting_id": mid,
                    "user_id": uid,
                    "status": "confirmed",
                    "created_at": meeting_start[mid] - timedelta(days=20),
                    "updated_at": meeting_start[mid] - timedelta(days=20),
                }

    participations = list(participation_rows())
    counts["participation"] = insert(engine, m.Participation, participations)
    counts["attendance"] = insert(
        engine,
        m.Attendance,
        (
            {"meeting_id": p["meeting_id"], "user_id": p["user_id"]}
            | {"joined_at": meeting_start[p["meeting_id"]]}
            | {"last_seen_at": meeting_start[p["meeting_id"]] + timedelta(hours=1)}
            | {"left_at": meeting_start[p["meeting_id"]] + timedelta(hours=2)}
            for p in participations
            if meeting_start[p["meeting_id"]] < now
        ),
    )

    # Cases: spread evenly over the meetings; in RCP 1's meetings user 2 submits one in three.
    case_rows: list[dict[str, Any]] = []
    for i in range(1, c.cases + 1):
        mid = (i - 1) % c.meetings + 1
        rcp_id = meeting_rcp[mid]
        past = meeting_start[mid] < now
        submitter = (
            BENCH_USER_ID if rcp_id == BENCH_RCP_ID and i % 3 == 0 else rng.choice(members[rcp_id])
        )
        case_rows.append(
            {
                "id": i,
                "meeting_id": mid,
                "submitter_id": submitter,
                "patient_last_name": fake_name(rng, 3).upper(),
                "patient_first_name": fake_name(rng),
                "patient_birth_date": date(1940 + i % 80, 1 + i % 12, 1 + i % 28),
                "patient_sex": "F" if i % 2 else "M",
                "patient_informed": True,
                "question": "Quelle prise en charge proposer ?",
                "summary": "Résumé clinique fictif. " * 10,
                "history": "Antécédents fictifs.",
                "treatments": "",
                "histology": "",
                "genetics": "",
                "results": "",
                "labs": [
                    {"code": "creatinine", "value": 100.0 + k * 10, "taken_on": f"2026-0{k}-01"}
                    for k in (1, 2, 3)
                ],
                "status": "validated" if past else "submitted",
                "is_late": False,
                "position": i // c.meetings,
                "created_at": meeting_start[mid] - timedelta(days=10),
                "updated_at": meeting_start[mid] - timedelta(days=5),
                "submitted_at": meeting_start[mid] - timedelta(days=5),
            }
        )
    counts["case"] = insert(engine, m.Case, case_rows)
    counts["attachment"] = insert(
        engine,
        m.Attachment,
        (
            {
                "case_id": row["id"],
                "uploaded_by_id": row["submitter_id"],
                "original_name": f"examen_{k}.{'dcm' if k == 0 else 'pdf'}",
                "kind": "dicom" if k == 0 else "pdf",
                "stored_path": f"bench/{row['id']}/{k}",
                "sha256": f"{row['id']:032x}{k:032x}",
                "size": 500_000 + k,
                "dicom_summary": {"modality": "CT", "frames": 120} if k == 0 else None,
                "created_at": row["created_at"],
            }
            for row in case_rows
            for k in range(c.attachments_per_case)
        ),
    )
    counts["opinion"] = insert(
        engine,
        m.Opinion,
        (
            {
                "case_id": row["id"],
                "version": 1,
                "proposal": "Proposition fictive.",
                "rationale": "Argumentaire fictif.",
                "references": "",
                "clinical_trial": "",
                "follow_up_doctor": "",
                "follows_guidelines": True,
                "author_id": members[meeting_rcp[row["meeting_id"]]][0],
                "validator_id": members[meeting_rcp[row["meeting_id"]]][0],
                "validated_at": meeting_start[row["meeting_id"]] + timedelta(hours=1),
                "quorum_met": True,
                "attendees": [],
                "created_at": meeting_start[row["meeting_id"]],
                "updated_at": meeting_start[row["meeting_id"]],
            }
            for row in case_rows
            if row["status"] == "validated"
        ),
    )
    del case_rows

    counts["chatmessage"] = insert(
        engine,
        m.ChatMessage,
        (
            {
                "meeting_id": (mid := (i % c.meetings) + 1),
                "author_id": rng.choice(members[meeting_rcp[mid]]),
                "body": f"Message fictif {i}",
                "created_at": meeting_start[mid] + timedelta(seconds=i % 7200),
            }
            for i in range(c.chat_messages)
        ),
    )

    def audit_rows() -> Iterator[dict[str, Any]]:
        for i in range(c.audit_events):
            action, target_type = ACTIONS[i % len(ACTIONS)]
            case_id = rng.randint(1, c.cases)
            details: dict[str, Any] = {}
            target_id = case_id
            if target_type == "attachment":
                target_id = (case_id - 1) * c.attachments_per_case + 1
                details = {"case_id": case_id}
            elif target_type == "opinion":
                details = {"case_id": case_id}
            elif target_type != "case":
                target_id = rng.randint(1, c.meetings)
            yield {
                "created_at": now - timedelta(seconds=(c.audit_events - i) * 600),
                "actor_id": rng.randint(1, c.users),
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "details": details,
                "ip_address": "10.0.0.1",
            }

    counts["auditevent"] = insert(engine, m.AuditEvent, audit_rows())
    counts["outboxmessage"] = insert(
        engine,
        m.OutboxMessage,
        (
            {
                "created_at": now - timedelta(seconds=(c.outbox_messages - i) * 3600),
                "channel": "email" if i % 4 else "sms",
                "to": f"dr{(i % c.users) + 1}@chu.example",
                "subject": "Invitation à une séance",
                "body": "Corps fictif.",
                "attachments": [],
                "status": "outbox",
            }
            for i in range(c.outbox_messages)
        ),
    )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for model in (m.User, m.Network, m.RcpFamily, m.Rcp, m.Meeting, m.Case):
                name = model.__tablename__  # type: ignore[attr-defined]
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{name}"))'
                )
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a new temporary SQLite file)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = full size; 0.01 = tiny")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='rcp-large-')}/large.db"
    if url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).exists():
        parser.error(f"{url} exists already: give a new file")
    started = time.perf_counter()
    counts = seed(url, scale=args.scale, seed_value=args.seed)
    elapsed = time.perf_counter() - started
    print(f"database: {url}")
    for table, n in counts.items():
        print(f"  {table:<15} {n:>9,}")
    print(f"  {'total':<15} {sum(counts.values()):>9,}")
    print(f"seeded in {elapsed:.1f} s (scale {args.scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
