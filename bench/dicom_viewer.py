"""DICOM viewer benchmark: upload to first slice, slider step, memory, ratio to a naive viewer."""

# Run by hand from the repository root (it prints figures; it is not a timed test):
#     .venv/bin/python bench/dicom_viewer.py            # 300 slices of 512 x 512 (about 30 s)
#     .venv/bin/python bench/dicom_viewer.py --smoke    # 8 slices of 64 x 64, for CI
# Goals: first slice within 3 s of the upload; slider steps at least 10 times faster than a
# viewer that reads the file and draws it with matplotlib at each step.

from __future__ import annotations

import argparse
import gc
import io
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from rcp import dicom  # noqa: E402
from rcp.files import FileStore, expand_upload  # noqa: E402

warnings.filterwarnings("ignore", module="pydicom")

MB = 1024 * 1024
GOAL_FIRST_SLICE_S = 3.0
GOAL_RATIO = 10.0


def synthetic_slice(size: int, z: int, rng: np.random.Generator) -> np.ndarray:
    """An abdomen-like CT slice, stored values (HU + 1024): air, body, kidneys, spine, noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    body = ((x - 0.5) / 0.42) ** 2 + ((y - 0.52) / 0.32) ** 2 <= 1
    hu[body] = 40.0
    shift = 0.02 * np.sin(z / 25.0)
    for cx in (0.33, 0.67):
        kidney = ((x - cx) / 0.07) ** 2 + ((y - 0.58 - shift) / 0.1) ** 2 <= 1
        hu[kidney] = 150.0
    spine = ((x - 0.5) / 0.06) ** 2 + ((y - 0.7) / 0.06) ** 2 <= 1
    hu[spine] = 700.0
    hu += rng.normal(0.0, 15.0, hu.shape).astype(np.float32)  # realistic, incompressible noise
    return np.clip(hu + 1024.0, 0, 4095).astype(np.uint16)


def slice_bytes(pixels: np.ndarray, *, z: int, series_uid: str, spacing: float) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = "TEST^BENCH"
    ds.PatientBirthDate = "19700101"
    ds.Modality = "CT"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = "Abdomen injecté"
    ds.SeriesNumber = 3
    ds.InstanceNumber = z + 1
    ds.ImagePositionPatient = [-250.0, -250.0, -z * spacing]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.98, 0.98]
    ds.SliceThickness = spacing
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.set_pixel_data(pixels, photometric_interpretation="MONOCHROME2", bits_stored=12)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def generate_zip(path: Path, *, slices: int, size: int) -> None:
    """Write the series as a zip, slice by slice, in a shuffled order (as archivers do)."""
    rng = np.random.default_rng(42)
    series_uid = generate_uid()
    order = rng.permutation(slices)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for z in order:
            data = slice_bytes(
                synthetic_slice(size, int(z), rng), z=int(z), series_uid=series_uid, spacing=1.25
            )
            zf.writestr(f"SERIE/IM{z:05d}.dcm", data)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def upload_to_first_slice(
    data: bytes, store: FileStore
) -> tuple[dicom.Volume, bytes, dict[str, float], list[str]]:
    """The whole path of an upload, timed per stage; returns the volume and first PNG."""
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = now - clock
        clock = now

    items = expand_upload("serie.zip", data, max_file_bytes=50 * MB, max_total_bytes=1024 * MB)
    lap("expand_upload (unzip, check, summarize)")
    blobs = store.put_many([item.data for item in items])
    lap("store (sha256, fsync, rename)")
    series = dicom.group_series(
        (blob.sha256, item.summary or {}) for blob, item in zip(blobs, items, strict=True)
    )
    lap("group_series (sort by position)")
    volume = dicom.load_volume(series[0].keys, store.path)
    lap("load_volume (headers, window from a few frames)")
    dicom.hold("bench-page", series[0].keys)  # the page shows it: its frames may be kept
    png = dicom.render_slice(volume, len(volume) // 2)
    lap("first render (PNG)")
    return volume, png, stages, series[0].keys


def time_calls(call: Callable[[int], object], indices: list[int]) -> list[float]:
    times = []
    for index in indices:
        start = time.perf_counter()
        call(index)
        times.append(time.perf_counter() - start)
    return times


def naive_render(path: Path, center: float, width: float) -> bytes:
    """What a first viewer would do at each slider step: read, decode, matplotlib, PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = dcmread(path)
    values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    figure = plt.figure(figsize=(values.shape[1] / 100, values.shape[0] / 100), dpi=100)
    plt.imshow(values, cmap="gray", vmin=center - width / 2, vmax=center + width / 2)
    plt.axis("off")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="8 slices of 64 x 64, fast")
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30, help="slider steps to time")
    args = parser.parse_args()
    slices, size, steps = (8, 64, 4) if args.smoke else (args.slices, args.size, args.steps)

    with tempfile.TemporaryDirectory(prefix="rcp-bench-") as tmp:
        workdir = Path(tmp)
        zip_path = workdir / "serie.zip"
        start = time.perf_counter()
        generate_zip(zip_path, slices=slices, size=size)
        upload = zip_path.read_bytes()
        print(
            f"Series: {slices} slices of {size}x{size} int16, zip {len(upload) / MB:.1f} MB "
            f"(generated in {time.perf_counter() - start:.1f} s, not counted)"
        )
        gc.collect()
        rss_before = peak_rss_mb()

        # 1. Upload to first slice.
        dicom.clear_volume_cache()
        store = FileStore(workdir / "store")
        start = time.perf_counter()
        volume, png, stages, keys = upload_to_first_slice(upload, store)
        first_slice = time.perf_counter() - start
        rss_after = peak_rss_mb()
        assert png.startswith(b"\x89PNG") and len(volume) == slices
        print(f"\nUpload -> first slice PNG: {first_slice:.2f} s (goal <= {GOAL_FIRST_SLICE_S} s)")
        for name, seconds in stages.items():
            print(f"  {name:<42} {seconds * 1000:8.1f} ms")
        print(
            f"  whole series decoded would be: {volume.nbytes / MB:.0f} MB; frames kept now: "
            f"{dicom.cached_frame_bytes() / MB:.0f} MB"
        )

        # 2. Slider steps: each frame is decoded once, then kept within the cache's budget.
        for index in range(slices):
            dicom.render_slice(volume, index)
        kept = dicom.cached_frame_bytes() / MB
        print(f"  after one pass over the slices, frames kept: {kept:.0f} MB")
        rng = np.random.default_rng(7)
        indices = [int(i) for i in rng.integers(0, slices, steps)]
        preset = dicom.WINDOW_PRESETS["kidney"]

        def cached_step(index: int) -> bytes:
            cached = dicom.load_volume(keys, store.path)
            return dicom.render_slice(cached, index, center=preset.center, width=preset.width)

        cached_step(0)  # warm the lookup table of this window
        cached = time_calls(cached_step, indices)
        cached_median = statistics.median(cached)
        print(
            f"\nSlider step (cached volume, window {preset.label}): median "
            f"{cached_median * 1000:.1f} ms, max {max(cached) * 1000:.1f} ms over {steps} steps"
        )
        soft = dicom.WINDOW_PRESETS["soft_tissue"]
        change = time_calls(
            lambda i: dicom.render_slice(
                dicom.load_volume(keys, store.path), i, center=soft.center, width=soft.width
            ),
            indices[:1],
        )
        print(f"Window change (new lookup table + render): {change[0] * 1000:.1f} ms")

        # 3. Naive viewer: read and decode the file, matplotlib imshow, PNG, at every step.
        paths = [store.path(key) for key in keys]
        naive_render(paths[0], preset.center, preset.width)  # import and warm matplotlib
        naive_steps = indices[: max(3, steps // 3)]
        naive = time_calls(
            lambda i: naive_render(paths[i], preset.center, preset.width), naive_steps
        )
        naive_median = statistics.median(naive)
        ratio = naive_median / cached_median
        print(
            f"Naive step (dcmread + matplotlib imshow + PNG): median {naive_median * 1000:.1f} ms "
            f"over {len(naive_steps)} steps"
        )
        print(f"Ratio naive / cached: {ratio:.1f}x (goal >= {GOAL_RATIO:.0f}x)")

        # 4. Memory: process peak, then Python-level peak of the upload path under tracemalloc.
        print(
            f"\nPeak RSS: {rss_after:.0f} MB after the upload path "
            f"({rss_before:.0f} MB before it; upload bytes {len(upload) / MB:.0f} MB held by "
            "the caller)"
        )
        del volume
        dicom.clear_volume_cache()
        gc.collect()
        tracemalloc.start()
        upload_to_first_slice(upload, FileStore(workdir / "store2"))
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"tracemalloc peak of the upload path (2nd run, fresh store): {traced_peak / MB:.0f} MB"
        )

        first_ok = first_slice <= GOAL_FIRST_SLICE_S
        ratio_ok = ratio >= GOAL_RATIO
        print(
            f"\nGoals: first slice {'met' if first_ok else 'MISSED'}, "
            f"slider ratio {'met' if ratio_ok else 'MISSED'}"
            + (" (smoke run: figures not meaningful)" if args.smoke else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
