"""Tiny runs of the performance benchmarks (bench/), so that they keep working.

No timing assertion: the benchmarks print figures by hand; here they only have to run to the
end on tiny data and report what they measured.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import meeting_load, seed_large
from bench import pages as bench_pages
from rcp import config
from rcp.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def test_seed_large_fills_every_table_it_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    counts = seed_large.seed(url, scale=0.002)
    engine = make_engine(url, immediate=False)
    with engine.connect() as conn:
        for table, expected in counts.items():
            stored = conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()
            assert stored == expected > 0, table
    engine.dispose()
    assert counts["chatmessage"] >= counts["meeting"]
    assert counts["attachment"] == 2 * counts["case"]


def test_pages_benchmark_opens_pages_on_both_databases_without_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCP_DATABASE_URL", "sqlite:///unused.db")  # restored after the test
    large, empty = f"sqlite:///{tmp_path / 'large.db'}", f"sqlite:///{tmp_path / 'empty.db'}"
    seed_large.seed(large, scale=0.002)
    seed_large.seed(empty, scale=0.0)
    rows = bench_pages.run(large, empty, ["accueil", "seance", "cas"], runs=1)
    config.reset_settings_cache()
    assert [row["page"] for row in rows] == ["accueil", "seance", "cas"]
    for row in rows:
        assert row["error"] == "", row
        assert row["empty_ms"] > 0 and row["large_ms"] > 0


def test_meeting_load_delivers_every_message_to_every_participant(tmp_path: Path) -> None:
    result = meeting_load.run(
        f"sqlite:///{tmp_path / 'meeting.db'}", participants=3, seconds=3.0, post_every=1.0
    )
    assert result["errors"] == 0, result["first_errors"]
    assert result["messages"] > 0
    assert result["missing"] == 0
    assert result["polls"] > 0


def _run_bench(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_sheet_pdf_benchmark_builds_the_sheet_and_reports_its_times() -> None:
    out = _run_bench("bench/sheet_pdf.py", "--smoke")
    assert re.search(r"sheet: 2 pages, \d+ KiB", out), out
    assert re.search(r"sheet warm, median of 3: +[\d.]+ ms", out), out


def test_dicom_viewer_benchmark_runs_its_smoke_series() -> None:
    out = _run_bench("bench/dicom_viewer.py", "--smoke")
    assert "Peak RSS:" in out and "Goals:" in out, out


def test_room_picture_benchmark_reports_cost_and_quality_per_bit_rate() -> None:
    out = _run_bench("bench/room_picture.py", "--pictures", "5", "--rates", "600000", "300000")
    assert re.search(r"4 cameras: compose \+ encode [\d.]+ / [\d.]+ / [\d.]+ ms per picture", out)
    psnr = [float(x) for x in re.findall(r"luma PSNR ([\d.]+) dB", out)]
    assert len(psnr) == 2 and psnr[0] >= psnr[1] > 30, out  # more bits, at least as good


def test_worst_dicom_benchmark_opens_its_file_and_reports_the_peak_memory() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dicom_worst.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"peak resident memory: \d+ MB", result.stdout)
    assert "page closed (frames released)" in result.stdout
