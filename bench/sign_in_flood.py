"""What a flood of sign-ins costs the other users' pages, in one process; run by hand.

``--flooders`` threads (Streamlit runs each session's script in a thread of its own) check
wrong passwords in a loop with the production argon2 cost, as anonymous sign-in loops do,
while the main thread times a fixed piece of pure-Python work standing for another user's
page run. Measured three ways: idle, flood with password hashes unbounded (what the issue
saw), flood with the hash slots of rcp.security (``password_hash_concurrency``, default 1).

    .venv/bin/python bench/sign_in_flood.py --flooders 6 --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("RCP_SECRET_KEY", "bench-secret-key-not-a-placeholder-0123456789")
os.environ.setdefault("RCP_SECRETS_FILE", "/nonexistent/secrets.toml")

from rcp import config, security  # noqa: E402


def page_work() -> float:
    """A fixed amount of Python work (about 50 ms on an idle core); returns its duration."""
    start = time.perf_counter()
    total = 0
    for i in range(600_000):
        total += i * i % 7
    return time.perf_counter() - start


def measure(runs: int) -> float:
    return statistics.median(page_work() for _ in range(runs))


def flood(flooders: int, runs: int, concurrency: int) -> tuple[float, float]:
    os.environ["RCP_PASSWORD_HASH_CONCURRENCY"] = str(concurrency)
    os.environ["RCP_PASSWORD_HASH_WAIT_SECONDS"] = "600"
    config.reset_settings_cache()
    stop = threading.Event()
    hashes = [0]

    def loop() -> None:
        while not stop.is_set():
            security.verify_password(None, "pas-le-bon-mot-de-passe")
            hashes[0] += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(flooders)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the flood settle
    started = time.perf_counter()
    before = hashes[0]
    median = measure(runs)
    rate = (hashes[0] - before) / (time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join()
    return median, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flooders", type=int, default=6)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    settings = config.get_settings()
    print(
        f"argon2id t={settings.password_hash_time_cost} m={settings.password_hash_memory_kib} KiB,"
        f" {os.cpu_count()} cores, {args.flooders} flooding threads"
    )
    security.verify_password(None, "warm-up")
    idle = measure(args.runs)
    print(f"idle: page work {idle * 1000:.0f} ms")
    for label, concurrency in (("unbounded", args.flooders), ("slots=1", 1)):
        median, rate = flood(args.flooders, args.runs, concurrency)
        print(
            f"flood, hashes {label}: page work {median * 1000:.0f} ms "
            f"({median / idle:.1f}x idle), {rate:.1f} hashes/s"
        )


if __name__ == "__main__":
    main()
