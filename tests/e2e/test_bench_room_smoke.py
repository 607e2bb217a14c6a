"""Tiny runs of the video room benchmarks, so that they keep working. No figure is judged:
pictures must flow, and every join must be measured."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_room_load_benchmark_measures_the_room_with_pictures_flowing() -> None:
    result = subprocess.run(
        [sys.executable, "bench/room_load.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    line = re.search(
        r"^mixing +N=2: server +([\d.]+) CPU-s/min.*fps per participant \[([^\]]*)\]",
        result.stdout,
        re.M,
    )
    assert line, result.stdout
    fps = [float(f) for f in line.group(2).split(",")]
    assert float(line.group(1)) > 0 and len(fps) == 2 and min(fps) > 0, line.group(0)
