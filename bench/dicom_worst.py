"""The worst DICOM file the upload limits accept, opened as the server opens it: peak memory.

Run by hand from the repository root (it prints figures; it is not a timed test):
    .venv/bin/python bench/dicom_worst.py
    .venv/bin/python bench/dicom_worst.py --smoke     # a small file, for the smoke test

The file: one RLE-compressed CT of 32 frames of 4096 x 4096 16-bit pixels, zeros: 1 GiB once
decoded (rcp.dicom.MAX_DECODED_BYTES), frames at rcp.dicom.MAX_FRAME_PIXELS, a few MiB on
disk. It is uploaded through rcp.attachments.add_upload, then the case page's work is done in
this process: the page reads the series' headers (rcp.attachments.load_series), the browser
viewer reads the file from the authenticated route (/files/<id>?view=1: sent as stored, the
server decodes nothing to show it), then the page closes (rcp.dicom.release). The peak
resident memory (VmHWM) and the frame cache are printed at each step.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

MB = 1024 * 1024


def vm(field: str) -> int:
    """A /proc/self/status memory figure, in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a 256 x 256 x 4 file")
    args = parser.parse_args(argv)
    rows, frames = (256, 4) if args.smoke else (4096, 32)

    folder = Path(tempfile.mkdtemp(prefix="rcp-dicom-worst-"))
    os.environ.update(
        RCP_DATA_DIR=str(folder / "data"),
        RCP_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}",
        RCP_SECRET_KEY="bench-secret-key-0123456789-abcdefgh",
        RCP_PASSWORD_HASH_TIME_COST="1",
        RCP_PASSWORD_HASH_MEMORY_KIB="1024",
        RCP_SECRETS_FILE="/nonexistent/secrets.toml",
    )
    from sqlmodel import Session, SQLModel
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from rcp import attachments, dicom, web
    from rcp.db import make_engine
    from rcp.files import expand_upload
    from tests.dicom_files import rle_blank
    from tests.factories import make_case_team, sign_in
    from tests.unit.test_opinions import add_attachment

    engine = make_engine(os.environ["RCP_DATABASE_URL"], immediate=False)
    SQLModel.metadata.create_all(engine)
    figures: dict[str, float] = {}

    def step(name: str) -> None:
        figures[name] = vm("VmHWM") / MB
        print(
            f"  {name:<44} RSS {vm('VmRSS') / MB:7.0f} MB   peak {vm('VmHWM') / MB:7.0f} MB   "
            f"frame cache {dicom.cached_frame_bytes() / MB:5.0f} MB"
        )

    with Session(engine, expire_on_commit=False) as db:
        team = make_case_team(db)
        token = sign_in(db, team.pathologist)
        data = rle_blank(rows, rows, frames)
        print(
            f"file: {frames} frames of {rows} x {rows} x 16 bits, {len(data) / MB:.1f} MB on "
            f"disk, {frames * rows * rows * 2 / MB:.0f} MB decoded"
        )
        step("start (platform and test data loaded)")
        # The upload's checks (the meeting of the test team has started: the file is then
        # attached directly, as add_upload would after these checks).
        expand_upload("pire.dcm", data, max_file_bytes=200 * MB, max_total_bytes=1000 * MB)
        row = add_attachment(db, team.case, data, "pire.dcm", "dicom")
        del data
        step("after the upload (checks, first frame decoded)")
        (series,) = attachments.dicom_series(db, actor=team.pathologist, case_id=team.case.id)
        started = time.perf_counter()
        volume = attachments.load_series(series)
        figures["open_s"] = time.perf_counter() - started
        step(f"viewer opened the series ({figures['open_s']:.1f} s)")
        dicom.hold("bench-page", series.keys)
        client = TestClient(Starlette(routes=web.routes()), base_url="http://127.0.0.1")
        client.cookies.set("rcp_session", token)
        started = time.perf_counter()
        response = client.get(f"/files/{row.id}?view=1")
        assert response.status_code == 200 and len(volume) > 0, response.text
        figures["slices_s"] = time.perf_counter() - started
        step(f"the browser viewer read the file ({figures['slices_s']:.1f} s)")
        dicom.release("bench-page")
        step("page closed (frames released)")
    engine.dispose()
    figures["peak_mb"] = vm("VmHWM") / MB
    print(f"peak resident memory: {figures['peak_mb']:.0f} MB")
    return figures


if __name__ == "__main__":
    main()
