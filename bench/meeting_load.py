"""A live meeting with N participants polling and posting chat messages; run by hand.

Each participant is a thread with its own database sessions doing what the meeting page's
live panel does every ``POLL_SECONDS`` (2 s): authenticate its session token (touching it),
read ``meeting_live.live_state`` and, when a newer message exists, ``chat.list_messages``
after the last id it holds; it posts a message every ``--post-every`` seconds (jittered) with
``chat.post_message``. Streamlit's rendering is not included (no AppTest, no browser): this
measures the database side that 30 browsers share. Figures: every message reaching every
participant, delivery latency (commit of the post to the poll that brought it), errors, the
process CPU and peak memory.

    .venv/bin/python bench/meeting_load.py                      # 30 participants, 5 minutes
    .venv/bin/python bench/meeting_load.py --participants 3 --seconds 3
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.seed_large import bench_environment  # noqa: E402

bench_environment()

POLL_SECONDS = 2.0
GOAL_P95_S = 3.0


@dataclass
class Participant:
    user_id: int
    token: str
    received: dict[int, float] = field(default_factory=dict)  # message id -> receipt time
    posted: dict[int, float] = field(default_factory=dict)  # message id -> commit time
    errors: list[str] = field(default_factory=list)
    polls: int = 0


def setup(url: str, participants: int) -> tuple[int, list[Participant]]:
    """Schema, one RCP, a meeting live now and ``participants`` confirmed, signed-in doctors."""
    from sqlmodel import Session, SQLModel

    from rcp.db import make_engine
    from rcp.models import (
        LoginSession,
        Meeting,
        MeetingStatus,
        MemberRole,
        Network,
        Participation,
        ParticipationStatus,
        Rcp,
        RcpFamily,
        RcpMember,
        User,
        UserStatus,
    )
    from rcp.security import new_token, token_hash

    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    now = datetime.now(UTC)
    people: list[Participant] = []
    with Session(engine, expire_on_commit=False) as session:
        network = Network(code=f"LOAD{int(time.time())}", name="Filière de charge")
        session.add(network)
        session.flush()
        family = RcpFamily(network_id=network.id, name="Famille de charge")  # type: ignore[arg-type]
        session.add(family)
        session.flush()
        rcp = Rcp(family_id=family.id, name="RCP de charge")  # type: ignore[arg-type]
        session.add(rcp)
        session.flush()
        meeting = Meeting(
            rcp_id=rcp.id,  # type: ignore[arg-type]
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(hours=3),
            case_deadline=now - timedelta(days=2),
            status=MeetingStatus.open,
        )
        session.add(meeting)
        session.flush()
        stamp = int(time.time() * 1000)
        for k in range(participants):
            user = User(
                email=f"charge{stamp}-{k}@chu.example",
                password_hash="x",
                last_name=f"Testeur{k}",
                first_name="Fictif",
                phone=f"+336{k:08d}",
                specialty="Néphrologie",
                institution="CHU fictif",
                status=UserStatus.active,
            )
            session.add(user)
            session.flush()
            role = MemberRole.referent if k == 0 else MemberRole.doctor
            session.add(RcpMember(rcp_id=rcp.id, user_id=user.id, role=role))  # type: ignore[arg-type]
            session.add(
                Participation(
                    meeting_id=meeting.id,  # type: ignore[arg-type]
                    user_id=user.id,  # type: ignore[arg-type]
                    status=ParticipationStatus.confirmed,
                )
            )
            token = new_token()
            session.add(
                LoginSession(
                    user_id=user.id,  # type: ignore[arg-type]
                    token_hash=token_hash(token),
                    expires_at=now + timedelta(hours=8),
                )
            )
            people.append(Participant(user_id=user.id, token=token))  # type: ignore[arg-type]
        session.commit()
        meeting_id = meeting.id
    engine.dispose()
    return meeting_id, people  # type: ignore[return-value]


def run_participant(
    engine: object,
    meeting_id: int,
    me: Participant,
    stop_at: float,
    post_every: float,
    rng: random.Random,
) -> None:
    from sqlmodel import Session

    from rcp import auth, chat, meeting_live
    from rcp.db import session_scope

    watermark: int | None = None
    next_post = time.monotonic() + rng.uniform(0, post_every)
    time.sleep(rng.uniform(0, POLL_SECONDS))  # browsers do not poll in step
    while time.monotonic() < stop_at:
        started = time.monotonic()
        try:
            with session_scope(engine) as session:  # type: ignore[arg-type]
                user = auth.authenticate(session, token=me.token, touch=True)
                if user is None:
                    raise RuntimeError("session lost")
            if started >= next_post:
                with session_scope(engine) as session:  # type: ignore[arg-type]
                    message = chat.post_message(
                        session,
                        actor=session.merge(user),
                        meeting_id=meeting_id,
                        body=f"Message de charge {me.user_id}-{len(me.posted)}",
                    )
                    me.posted[message.id] = time.monotonic()  # type: ignore[index]
                next_post = started + rng.uniform(0.5, 1.5) * post_every
            with session_scope(engine) as session:  # type: ignore[arg-type]
                state = meeting_live.live_state(session, actor=user, meeting_id=meeting_id)
            newest = state.last_message_id or 0
            while watermark is None or watermark < newest:
                with Session(engine, expire_on_commit=False) as session:  # type: ignore[arg-type]
                    lines = chat.list_messages(
                        session, actor=user, meeting_id=meeting_id, after_id=watermark or 0
                    )
                now = time.monotonic()
                for line in lines:
                    me.received.setdefault(line.id, now)
                watermark = max([watermark or 0, *(line.id for line in lines)])
                if not lines:
                    break
            me.polls += 1
        except Exception as error:  # noqa: BLE001 - every failure is a figure to report
            me.errors.append(f"{type(error).__name__}: {error}"[:200])
        time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - started)))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(url: str, participants: int, seconds: float, post_every: float) -> dict[str, object]:
    from rcp.db import make_engine

    meeting_id, people = setup(url, participants)
    engine = make_engine(url, pool_size=participants, max_overflow=participants)
    cpu_before = os.times()
    wall_start = time.monotonic()
    stop_at = wall_start + seconds
    threads = [
        threading.Thread(
            target=run_participant,
            args=(engine, meeting_id, p, stop_at, post_every, random.Random(k)),
            daemon=True,
        )
        for k, p in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A last catch-up poll is not done on purpose: a message posted in the final poll period
    # may not have reached everyone yet; those are counted apart, not as losses.
    wall = time.monotonic() - wall_start
    cpu_after = os.times()
    engine.dispose()
    posted = {mid: (t, p.user_id) for p in people for mid, t in p.posted.items()}
    cutoff = stop_at - 2 * POLL_SECONDS
    missing = 0
    latencies: list[float] = []  # to the other participants (the author sees it at once)
    for mid, (sent, author_id) in posted.items():
        for p in people:
            if p.user_id == author_id:
                continue
            got = p.received.get(mid)
            if got is None:
                if sent < cutoff:
                    missing += 1
            else:
                latencies.append(max(0.0, got - sent))
    errors = [e for p in people for e in p.errors]
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {
        "participants": participants,
        "seconds": round(wall, 1),
        "messages": len(posted),
        "deliveries": len(latencies),
        "missing": missing,
        "p50_s": percentile(latencies, 0.5),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies, default=float("nan")),
        "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
        "polls": sum(p.polls for p in people),
        "errors": len(errors),
        "first_errors": errors[:3],
        "cpu_percent": 100 * cpu / wall if wall else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a new temporary SQLite file)")
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--post-every", type=float, default=20.0, help="seconds between posts")
    args = parser.parse_args(argv)
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='rcp-meeting-')}/meeting.db"
    print(f"database: {url}; load average before: {os.getloadavg()[0]:.2f}")
    r = run(url, args.participants, args.seconds, args.post_every)
    print(
        f"{r['participants']} participants, {r['seconds']} s, {r['messages']} messages, "
        f"{r['polls']} polls\n"
        f"deliveries: {r['deliveries']}, missing (posted > 2 polls before the end): "
        f"{r['missing']}\n"
        f"latency p50 {r['p50_s']:.2f} s, p95 {r['p95_s']:.2f} s, max {r['max_s']:.2f} s "
        f"(goal p95 <= {GOAL_P95_S} s: {'OK' if r['p95_s'] <= GOAL_P95_S else 'MISS'})\n"
        f"errors: {r['errors']} {r['first_errors']}\n"
        f"process CPU {r['cpu_percent']:.0f} % of one core, peak RSS {r['peak_rss_mb']:.0f} MB\n"
        f"load average after: {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
