"""Time the RCP sheet PDF (two pages, trend plot, key image): cold and warm; run by hand."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

GOAL_WARM_MS = 300.0


def _key_image_png() -> bytes:
    """A CT slice from pydicom's bundled test files, windowed to soft tissue, as PNG."""
    import numpy as np
    from PIL import Image
    from pydicom import examples

    ds = examples.ct
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    low, high = 40 - 200, 40 + 200
    grey = ((np.clip(hu, low, high) - low) / (high - low) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="L").resize((384, 384)).save(buffer, format="PNG")
    return buffer.getvalue()


def _sheet_data(plot_png: bytes | None, key_png: bytes) -> object:
    from rcp.labs import validate_lab_value
    from rcp.sheets import (
        Attendee,
        ClinicalFile,
        DoctorInfo,
        KeyImage,
        MeetingInfo,
        OpinionInfo,
        PatientIdentity,
        Quorum,
        SheetData,
        Validation,
        lab_rows,
    )

    values = _lab_values(validate_lab_value)
    return SheetData(
        meeting=MeetingInfo(
            "Filière ORKiD", "RCP maladies rénales rares", datetime(2026, 12, 1, 14)
        ),
        patient=PatientIdentity("Lœvenbruck", "Éloïse", date(1978, 4, 9), "F"),
        submitter=DoctorInfo("Dr François Garçon", "Néphrologie", "CHU de Besançon"),
        clinical=ClinicalFile(
            question="Faut-il introduire l'éculizumab « en première intention » ?",
            summary="Syndrome néphrotique impur avec œdèmes, aggravation progressive.",
            history="Hypertension artérielle depuis 2015.",
            treatments="Ramipril 10 mg/j, furosémide 40 mg/j.",
            histology="Glomérulopathie à dépôts de C3.",
            genetics="Variant hétérozygote du gène CFH.",
        ),
        labs=lab_rows(values),
        lab_plot_png=plot_png,
        key_image=KeyImage(key_png, "Scanner, coupe axiale."),
        opinion=OpinionInfo(
            proposal="Débuter l'éculizumab après vaccination.",
            rationale="Progression malgré un blocage optimal du système rénine-angiotensine.",
            references="KDIGO 2021.",
            follow_up_doctor="Dr Zoé Lefèvre-Cœur",
            follows_guidelines=True,
        ),
        attendees=(Attendee("Pr Hélène Dubœuf", "Néphrologie"), Attendee("Dr Çelik", "Anapath")),
        quorum=Quorum(True, "Trois spécialités représentées."),
        validation=Validation("Pr Hélène Dubœuf", datetime(2026, 12, 1, 16, 12)),
        version=2,
        replaces_date=date(2026, 11, 17),
        generated_at=datetime(2026, 12, 1, 16, 30),
    )


def _lab_values(validate: object) -> list[object]:
    rows = {
        "creatinine": (142, 168, 195, 231),
        "egfr": (44, 36, 30, 24),
        "proteinuria": (3.2, 4.1, 3.0, 2.4),
    }
    days = ("2026-03-02", "2026-06-10", "2026-09-21", "2026-11-05")
    return [
        validate(code, value, day, today=date(2026, 11, 25))  # type: ignore[operator]
        for code, series in rows.items()
        for day, value in zip(days, series, strict=True)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="warm runs (median reported)")
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (3 warm runs)")
    args = parser.parse_args()
    runs = 3 if args.smoke else max(1, args.runs)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    started = time.perf_counter()
    from pypdf import PdfReader

    from rcp import labs, sheets

    import_ms = (time.perf_counter() - started) * 1000
    key_png = _key_image_png()
    values = _lab_values(labs.validate_lab_value)

    started = time.perf_counter()
    plot_png = labs.trend_plot_png(values)  # type: ignore[arg-type]
    plot_cold_ms = (time.perf_counter() - started) * 1000
    plot_warm = []
    for _ in range(min(runs, 5)):
        started = time.perf_counter()
        labs.trend_plot_png(values)  # type: ignore[arg-type]
        plot_warm.append((time.perf_counter() - started) * 1000)

    data = _sheet_data(plot_png, key_png)
    started = time.perf_counter()
    pdf = sheets.build_sheet_pdf(data)  # type: ignore[arg-type]
    cold_ms = (time.perf_counter() - started) * 1000
    pages = len(PdfReader(io.BytesIO(pdf)).pages)

    def timed(**kwargs: bool) -> list[float]:
        out = []
        for _ in range(runs):
            started = time.perf_counter()
            result = sheets.build_sheet_pdf(data, **kwargs)  # type: ignore[arg-type]
            out.append((time.perf_counter() - started) * 1000)
            assert sheets.fingerprint(result) == sheets.fingerprint(pdf)
        return out

    warm = timed()
    uncached = timed(_cache_fonts=False)
    median = statistics.median(warm)
    print(f"imports (rcp.labs, rcp.sheets, matplotlib, fpdf2): {import_ms:7.1f} ms")
    print(
        f"trend plot: cold {plot_cold_ms:.1f} ms, warm median {statistics.median(plot_warm):.1f} ms"
    )
    print(
        f"sheet: {pages} pages, {len(pdf) / 1024:.0f} KiB, "
        f" fingerprint {sheets.fingerprint(pdf)[:16]}"
    )
    print(f"sheet cold (first document in the process): {cold_ms:7.1f} ms")
    print(
        f"sheet warm, median of {runs}: {median:7.1f} ms "
        f"(min {min(warm):.1f}, max {max(warm):.1f}); goal <= {GOAL_WARM_MS:.0f} ms: "
        f"{'OK' if median <= GOAL_WARM_MS else 'MISSED'}"
    )
    print(
        f"sheet warm without the font cache, median of {runs}: "
        f"{statistics.median(uncached):7.1f} ms (min {min(uncached):.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
