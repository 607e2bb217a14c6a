"""Decoded image memory is bounded per file, per series and per process (issue 14.3)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from rcp import dicom
from rcp.errors import InvalidInput
from rcp.files import expand_upload
from tests.dicom_files import rle_blank
from tests.unit.test_dicom import make_slice

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    dicom.clear_volume_cache()
    yield
    dicom.clear_volume_cache()
    dicom.configure(frame_cache_bytes=dicom.FRAME_CACHE_BYTES)


def test_a_small_rle_file_announcing_huge_frames_is_refused_at_upload() -> None:
    """The review's file: 4 MiB on disk, two 8192 x 8192 frames (256 MiB decoded)."""
    data = rle_blank(8192, 8192, 2)
    assert len(data) < 5 * MB
    with pytest.raises(InvalidInput) as refused:
        expand_upload("bombe.dcm", data, max_file_bytes=200 * MB, max_total_bytes=1000 * MB)
    assert "trop grande (8192 × 8192 pixels ; au plus 4096 × 4096)" in str(refused.value)


def test_every_frame_announced_counts_towards_the_decoded_size_of_a_file() -> None:
    """33 frames of 4096 x 4096 x 16 bits announce 1056 MiB: over 1 GiB, refused, although
    only the first frame would be decoded to check the file."""
    with pytest.raises(InvalidInput) as refused:
        dicom.check_dicom(rle_blank(4096, 4096, 33))
    assert "au plus 1024 Mo décompressés par fichier" in str(refused.value)


def test_the_largest_file_the_limits_accept_passes() -> None:
    summary = dicom.check_dicom(rle_blank(4096, 4096, 32))
    assert (summary["rows"], summary["columns"], summary["frames"]) == (4096, 4096, 32)


def _series(count: int) -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    return {
        f"k{i}": make_slice(
            series_uid="1.9",
            instance=i + 1,
            position=[0.0, 0.0, float(i)],
            pixels=rng.integers(0, 2000, (64, 64), dtype=np.uint16),
        )
        for i in range(count)
    }


def test_opening_a_series_decodes_a_few_frames_and_keeps_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = _series(40)
    decoded: list[int] = []
    real = dicom.decode_frame

    def counting(source: dicom.DicomSource, index: int = 0):  # type: ignore[no-untyped-def]
        decoded.append(index)
        return real(source, index)

    monkeypatch.setattr(dicom, "decode_frame", counting)
    volume = dicom.load_volume(list(files), files.__getitem__)
    assert len(volume) == 40
    assert len(decoded) <= dicom.AUTO_WINDOW_FRAMES
    assert volume.window_source == "auto"
    assert dicom.cached_frame_bytes() == 0  # nobody shows it: nothing is kept


def test_frames_of_a_shown_series_are_kept_within_the_budget_and_freed_when_pages_close() -> None:
    files = _series(12)
    volume = dicom.load_volume(list(files), files.__getitem__)
    frame_bytes = volume.frame(0).nbytes
    dicom.configure(frame_cache_bytes=5 * frame_bytes)
    dicom.hold("session-a", files)
    dicom.hold("session-b", files)
    for index in range(len(volume)):
        dicom.render_slice(volume, index)
    assert dicom.cached_frame_bytes() == 5 * frame_bytes  # bounded: the budget, not 12 frames
    dicom.release("session-a")
    assert dicom.cached_frame_bytes() == 5 * frame_bytes  # session-b still shows it
    dicom.release("session-b")
    assert dicom.cached_frame_bytes() == 0  # released, not only bounded


def test_a_frame_larger_than_the_budget_is_shown_but_never_kept() -> None:
    files = _series(2)
    volume = dicom.load_volume(list(files), files.__getitem__)
    dicom.configure(frame_cache_bytes=volume.frame(0).nbytes - 1)
    dicom.hold("session-a", files)
    assert dicom.render_slice(volume, 1).startswith(b"\x89PNG")
    assert dicom.cached_frame_bytes() == 0


def test_one_frame_of_a_multiframe_file_is_decoded_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "multi.dcm"
    path.write_bytes(rle_blank(256, 256, 20))
    volume = dicom.load_volume(["multi"], lambda _key: path)
    assert len(volume) == 20 and volume.nbytes == 20 * 256 * 256 * 4
    frame = volume.frame(19)
    assert frame.shape == (256, 256) and frame.base is None  # not a view of the whole file
