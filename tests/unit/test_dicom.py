"""Tests for rcp.dicom: headers, series order, decoding, windowing, rendering, identity checks."""

from __future__ import annotations

import io
import json
import random
import re
import struct
import warnings
import zlib
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pydicom.encaps
import pydicom.examples
import pydicom.filebase
import pydicom.filewriter
import pytest
from PIL import Image
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from rcp import dicom
from rcp.errors import InvalidInput

warnings.filterwarnings("ignore", module="pydicom")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Files pydicom ships broken on purpose (truncated pixels, invalid VR value, missing
# attributes or transfer syntax, undecodable compressed streams).
BROKEN_FILES = {
    "JPEG2000-embedded-sequence-delimiter.dcm",
    "MR_truncated.dcm",
    "badVR.dcm",
    "meta_missing_tsyntax.dcm",
    "nested_priv_SQ.dcm",
}


def data_file(name: str) -> Path:
    """A file of pydicom's test data (pydicom's own, or the pydicom-data package's)."""
    return Path(get_testdata_file(name, download=False))


def _bundled_dicom_files() -> list[Path]:
    files = []
    for name in get_testdata_files():
        path = Path(name)
        if path.is_file() and dicom.is_dicom(path.read_bytes()):
            files.append(path)
    return sorted(files)


BUNDLED = _bundled_dicom_files()
BUNDLED_IMAGES = [
    p
    for p in BUNDLED
    if p.name not in BROKEN_FILES and "PixelData" in pydicom.dcmread(p, force=True)
]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    dicom.clear_volume_cache()


def make_slice(
    *,
    series_uid: str,
    instance: int | None,
    position: tuple[float, float, float] | None,
    orientation: tuple[float, ...] | None = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    pixels: np.ndarray | None = None,
    slope: float = 1.0,
    intercept: float = -1024.0,
    window: tuple[float, float] | None = None,
    photometric: str = "MONOCHROME2",
    patient_name: str = "DUPONT^JEAN",
    birth_date: str = "19800101",
) -> bytes:
    """A small uncompressed CT slice written by pydicom, as file bytes."""
    if pixels is None:
        pixels = np.full((8, 8), 1000 + (instance or 0), dtype=np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = patient_name
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "M"
    ds.Modality = "CT"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesDescription = "Abdomen"
    ds.SeriesNumber = 2
    if instance is not None:
        ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = list(position)
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 1.25
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.set_pixel_data(pixels, photometric_interpretation=photometric, bits_stored=16)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def saved(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# Functional group macros whose attributes apply to the pixels (PS3.3 C.7.6.16.2).
_PIXEL_MACROS = ("PixelValueTransformationSequence", "FrameVOILUTSequence")


def _flat_frame_header(ds: Dataset, index: int) -> Dataset:
    """A copy of ``ds`` with frame ``index``'s functional groups moved to the top level, as
    pydicom's functions (which do not read functional groups) expect them."""
    flat = Dataset()
    flat.update({tag: ds[tag] for tag in ds.keys() if tag != 0x7FE00010})
    flat.file_meta = ds.file_meta
    groups = [ds.get("SharedFunctionalGroupsSequence"), ds.get("PerFrameFunctionalGroupsSequence")]
    for groups_seq, item_index in zip(groups, (0, index), strict=True):
        if not groups_seq:
            continue
        for macro in _PIXEL_MACROS:
            if macro in groups_seq[item_index]:
                for element in groups_seq[item_index][macro][0]:
                    flat[element.tag] = element
    return flat


def reference_grey(
    ds: Dataset, raw: np.ndarray, index: int, auto: tuple[float, float] | None
) -> np.ndarray:
    """Grey levels computed by pydicom alone: ``apply_modality_lut``, then ``apply_voi`` for a
    VOI LUT (its entries scaled from their bit depth to 0..255) or ``apply_windowing`` for
    the file's window (else ``auto``, with ``LINEAR_EXACT`` when narrower than 1, which
    ``LINEAR`` forbids) on an 8-bit output range; MONOCHROME1 inverted."""
    flat = _flat_frame_header(ds, index)
    values = apply_modality_lut(raw, flat)
    if "VOILUTSequence" in flat:
        bits = int(flat.VOILUTSequence[0].LUTDescriptor[2])
        grey = apply_voi(values, flat).astype(float) / (2**bits - 1) * 255
    else:
        window = Dataset()
        window.PhotometricInterpretation = "MONOCHROME2"
        window.BitsStored, window.PixelRepresentation = 8, 0
        if "WindowCenter" in flat:
            window.WindowCenter, window.WindowWidth = flat.WindowCenter, flat.WindowWidth
            window.VOILUTFunction = flat.get("VOILUTFunction", "LINEAR")
        else:
            assert auto is not None
            window.WindowCenter, window.WindowWidth = auto
            window.VOILUTFunction = "LINEAR" if auto[1] >= 1 else "LINEAR_EXACT"
        grey = apply_windowing(values.astype(float), window)
    grey = np.rint(grey)
    if flat.PhotometricInterpretation == "MONOCHROME1":
        grey = 255 - grey
    return grey


def reference_dataset(path: Path) -> Dataset:
    """The file as pydicom reads it; a file without meta information (ACR-NEMA style) gets
    the transfer syntax it was read with, which pydicom needs to decode its pixels."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", Dataset()):
        implicit, little = ds.original_encoding
        ds.ensure_file_meta()
        ds.file_meta.TransferSyntaxUID = (
            pydicom.uid.ImplicitVRLittleEndian
            if implicit
            else pydicom.uid.ExplicitVRLittleEndian
            if little
            else pydicom.uid.ExplicitVRBigEndian
        )
    return ds


def max_grey_difference(volume: dicom.Volume, position: int, path: Path, file_index: int) -> int:
    """Largest difference between the viewer's default rendering of frame ``position`` and
    pydicom's (``reference_grey``) of frame ``file_index`` of ``path``."""
    ds = reference_dataset(path)
    raw = pydicom.pixels.pixel_array(ds, index=file_index)
    auto = (volume.default_center, volume.default_width)
    expected = reference_grey(ds, raw, file_index, auto)
    shown = np.asarray(dicom.slice_image(volume, position)).astype(float)
    return int(np.abs(shown - expected).max())


def volume_of(*files: bytes) -> dicom.Volume:
    contents = {f"k{i}": data for i, data in enumerate(files)}
    return dicom.load_volume(list(contents), contents.__getitem__)


# -- bundled files ---------------------------------------------------------------------------


def test_bundled_files_cover_the_expected_range() -> None:
    # pydicom's own files and those of the pydicom-data package (requirements-dev.txt).
    assert get_testdata_file("eCT_Supplemental.dcm", download=False), "pydicom-data missing"
    assert len(BUNDLED_IMAGES) >= 150
    assert BROKEN_FILES <= {p.name for p in BUNDLED}


# Big endian palette colour files: pydicom reads their plain OW tables in the wrong byte
# order (see test_big_endian_palette_colour_…), so their little endian twin is the reference.
LITTLE_ENDIAN_TWINS = {
    "OBXXXX1A_expb.dcm": "OBXXXX1A.dcm",
    "OBXXXX1A_expb_2frame.dcm": "OBXXXX1A_2frame.dcm",
}

# Decoded by rcp.dicom where pydicom fails: checked against other viewers in their own test.
PYDICOM_CANNOT_DECODE = {"JPEG-lossy.dcm"}


def reference_colour(path: Path, index: int) -> np.ndarray:
    """RGB bytes computed by pydicom alone: ``pixel_array`` (YBR converted to RGB), then
    ``apply_color_lut`` for palette colour; wider samples keep their 8 high bits."""
    if path.name in LITTLE_ENDIAN_TWINS:
        path = Path(get_testdata_file(LITTLE_ENDIAN_TWINS[path.name], download=False))
    ds = reference_dataset(path)
    rgb = pydicom.pixels.pixel_array(ds, index=index)
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        rgb = apply_color_lut(rgb, ds)
        bits = rgb.dtype.itemsize * 8
    else:
        bits = int(ds.BitsStored)
    return (rgb.astype(np.uint64) >> max(bits - 8, 0)).astype(float)


@pytest.mark.parametrize("path", BUNDLED_IMAGES, ids=lambda p: p.name)
def test_bundled_image_file_passes_checks_and_renders_like_pydicom(path: Path) -> None:
    """Every image of pydicom's test files (and of the pydicom-data package when installed)
    passes upload and is shown within 1 grey level of pydicom's own pipeline, first and last
    frames, with its default window."""
    data = path.read_bytes()
    summary = dicom.check_dicom(data)
    dicom.hold("corpus-test", [path.name])  # each frame compared is decoded once
    volume = dicom.load_volume([path.name], lambda _key: path)
    png = dicom.render_slice(volume, len(volume) - 1)
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.size == (summary["columns"], summary["rows"])
    assert len(volume) == summary["frames"]
    if path.name in PYDICOM_CANNOT_DECODE:
        return
    for position in sorted({0, len(volume) - 1}):
        in_file = volume.frame_refs[position][1]
        if volume.is_color(position):
            shown = np.asarray(dicom.slice_image(volume, position)).astype(float)
            assert np.abs(shown - reference_colour(path, in_file)).max() <= 1
        else:
            assert max_grey_difference(volume, position, path, in_file) <= 1


@pytest.mark.parametrize(
    "name", ["liver.dcm", "emri_small.dcm", "SC_rgb_2frame.dcm", "MR_small.dcm"]
)
def test_deflated_file_is_shown_like_its_plain_twin(tmp_path: Path, name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    deflated = tmp_path / name.replace(".dcm", "_deflate.dcm")
    deflated.write_bytes(saved(ds))
    assert dicom.check_dicom(deflated.read_bytes())["transfer_syntax"].endswith(".99")
    twin = dicom.load_volume(["plain"], lambda _k: Path(get_testdata_file(name, download=False)))
    for source in (deflated, deflated.read_bytes()):  # a multi-frame file on disk, and bytes
        dicom.clear_volume_cache()
        volume = dicom.load_volume(["dfl"], lambda _k, source=source: source)
        assert len(volume) == len(twin)
        for index in range(len(volume)):
            assert np.array_equal(volume.frames[index], twin.frames[index])


def test_large_deflated_multiframe_file_is_refused_by_the_viewer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inflated whole for each frame shown: only small ones are, to keep memory bounded.
    ds = pydicom.dcmread(data_file("emri_small.dcm"))  # 10 frames of 64 × 64 × 16 bits
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    deflated = tmp_path / "emri_deflate.dcm"
    deflated.write_bytes(saved(ds))
    monkeypatch.setattr(dicom, "MAX_DEFLATED_BYTES", 10 * 64 * 64 * 2 - 1)
    with pytest.raises(InvalidInput, match="Deflate.*trop volumineux"):
        dicom.load_volume(["dfl"], lambda _k: deflated)


def with_transfer_syntax(name: str, uid: str, ds: Dataset | None = None) -> bytes:
    """A bundled file (or ``ds``) whose meta information announces ``uid``, which pydicom's
    writer refuses when it knows no such syntax: the body stays explicit VR little endian."""
    ds = pydicom.dcmread(get_testdata_file(name, download=False)) if ds is None else ds
    ds.file_meta.TransferSyntaxUID = uid
    out = pydicom.filebase.DicomBytesIO()
    out.write(b"\0" * 128 + b"DICM")
    pydicom.filewriter.write_file_meta_info(out, ds.file_meta, enforce_standard=True)
    out.is_little_endian, out.is_implicit_VR = True, False
    pydicom.filewriter.write_dataset(out, ds)
    return out.getvalue()


def _packbits(data: bytes) -> bytes:
    """RLE (PackBits, PS3.5 G.3.1) of ``data``: runs of one byte replicated, else literals."""
    out, i = bytearray(), 0
    while i < len(data):
        run = 1
        while i + run < len(data) and run < 128 and data[i + run] == data[i]:
            run += 1
        if run >= 3:
            out += bytes([257 - run, data[i]])
            i += run
            continue
        literal = data[i : i + 128]
        out += bytes([len(literal) - 1]) + literal
        i += len(literal)
    return bytes(out + b"\0" * (len(out) % 2))


def test_one_bit_rle_segmentation_is_shown_like_its_native_twin(tmp_path: Path) -> None:
    # pydicom 3.0 refuses RLE Lossless of 1-bit pixels (pydicom-data's liver_rle.dcm).
    ds = pydicom.dcmread(data_file("liver.dcm"))  # 3 frames of 512 × 512 bits
    size = ds.Rows * ds.Columns // 8
    frames = [
        struct.pack("<16I", 1, 64, *([0] * 14)) + _packbits(ds.PixelData[i * size : (i + 1) * size])
        for i in range(3)
    ]
    ds.PixelData = pydicom.encaps.encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = pydicom.uid.RLELossless
    path = tmp_path / "liver_rle.dcm"
    path.write_bytes(saved(ds))
    assert dicom.check_dicom(path.read_bytes())["frames"] == 3
    twin = dicom.load_volume(["twin"], lambda _k: data_file("liver.dcm"))
    volume = dicom.load_volume(["rle"], lambda _k: path)
    for index in range(3):
        assert np.array_equal(volume.frames[index], twin.frames[index])
        assert volume.frames[index].any()


def deflated_image_frames(name: str, *, cut: int = 0) -> bytes:
    """``name`` in Deflated Image Frame Compression (1.2.840.10008.1.2.8.1, newer than
    pydicom 3.0): each frame's native bytes a raw deflate stream (RFC 1951), encapsulated;
    ``cut`` bytes are left out of the end of each inflated frame."""
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if ds.BitsAllocated == 1:  # each frame starts on a byte boundary
        bits = np.unpackbits(np.frombuffer(ds.PixelData, np.uint8), bitorder="little")
        size = ds.Rows * ds.Columns
        raw = [
            np.packbits(bits[i * size : (i + 1) * size], bitorder="little").tobytes()
            for i in range(frames)
        ]
    else:
        size = len(ds.PixelData) // frames
        raw = [ds.PixelData[i * size : (i + 1) * size] for i in range(frames)]
    streams = []
    for frame in raw:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        streams.append(packer.compress(frame[: len(frame) - cut]) + packer.flush())
    ds.PixelData = pydicom.encaps.encapsulate(streams)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return with_transfer_syntax(name, "1.2.840.10008.1.2.8.1", ds)


@pytest.mark.parametrize("name", ["liver.dcm", "emri_small.dcm", "CT_small.dcm"])
def test_deflated_image_frame_compression_is_shown_like_its_native_twin(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(deflated_image_frames(name))
    assert dicom.check_dicom(path.read_bytes())["transfer_syntax"] == "1.2.840.10008.1.2.8.1"
    twin = dicom.load_volume(["twin"], lambda _k: data_file(name))
    for source in (path, path.read_bytes()):
        dicom.clear_volume_cache()
        volume = dicom.load_volume(["difc"], lambda _k, source=source: source)
        assert len(volume) == len(twin)
        for index in range(len(volume)):
            assert np.array_equal(volume.frames[index], twin.frames[index])


def test_deflated_image_frame_shorter_than_announced_is_refused() -> None:
    data = deflated_image_frames("CT_small.dcm", cut=2)
    with pytest.raises(InvalidInput, match="ne peut pas être décodée"):
        dicom.check_dicom(data)
    with pytest.raises(InvalidInput, match="ne peuvent pas être décodées"):
        dicom.load_volume(["short"], lambda _k: data)


@pytest.mark.parametrize(
    ("uid", "reason"),
    [
        ("1.2.3.4.99", "syntaxe inconnue"),
        ("1.2.840.113619.5.2", "syntaxe privée GE"),
        ("1.2.840.10008.1.2.4.100", "vidéo (MPEG2"),
        ("1.2.840.10008.1.2.4.107", "vidéo (HEVC"),
    ],
)
def test_unreadable_transfer_syntax_is_refused_in_french(uid: str, reason: str) -> None:
    data = with_transfer_syntax("CT_small.dcm", uid)
    assert dicom.summarize(data)["transfer_syntax"] == uid  # the header is still read
    for refuse in (
        lambda: dicom.check_dicom(data),
        lambda: dicom.load_volume([uid], lambda _k: data),
        lambda: dicom.decode_frame(data, 0),
    ):
        with pytest.raises(InvalidInput, match=re.escape(reason)) as caught:
            refuse()
        assert str(caught.value).endswith(dicom.CONTACT_ASSISTANT)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_no_bundled_file_makes_the_platform_fail_otherwise_than_in_french(path: Path) -> None:
    """Images, reports, directories, broken files: each one is read, or refused with a
    French sentence (InvalidInput), never another exception."""
    data = path.read_bytes()
    steps = {
        "summarize": lambda: dicom.summarize(data),
        "check": lambda: dicom.check_dicom(data),
        "view": lambda: dicom.render_slice(dicom.load_volume([path.name], lambda _k: path), 0),
    }
    for step, run in steps.items():
        try:
            run()
        except InvalidInput as refused:
            assert str(refused).endswith(dicom.CONTACT_ASSISTANT), step


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_bundled_file_is_refused_at_upload_with_assistant_advice(name: str) -> None:
    data = Path(get_testdata_file(name, download=False)).read_bytes()
    with pytest.raises(InvalidInput) as caught:
        dicom.check_dicom(data)
    assert str(caught.value).endswith("contactez l'assistant de votre RCP.")


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_bundled_file_is_refused_by_the_viewer_with_invalid_input(name: str) -> None:
    data = Path(get_testdata_file(name, download=False)).read_bytes()
    with pytest.raises(InvalidInput):
        dicom.load_volume([name], lambda _key: data)


@pytest.mark.parametrize(
    "example",
    ["ct", "mr", "rgb_color", "ybr_color", "palette_color", "jpeg2k", "overlay", "rt_dose"],
)
def test_pydicom_example_renders_a_png(example: str) -> None:
    path = Path(getattr(pydicom.examples, example).filename)
    volume = dicom.load_volume([example], lambda _key: path)
    assert dicom.render_slice(volume, 0).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("example", ["rt_plan", "rt_ss", "waveform", "dicomdir"])
def test_pydicom_example_without_image_is_summarized_but_not_rendered(example: str) -> None:
    path = Path(getattr(pydicom.examples, example).filename)
    summary = dicom.summarize(path)
    assert summary["has_pixels"] is False
    with pytest.raises(InvalidInput, match="pas d'image"):
        dicom.load_volume([example], lambda _key: path)


def test_file_pydicom_itself_cannot_parse_is_not_taken_for_dicom() -> None:
    # no_meta.dcm starts with a stray byte: pydicom reads a single garbage element from it.
    data = Path(pydicom.examples.no_meta.filename).read_bytes()
    assert dicom.is_dicom(data) is False
    with pytest.raises(InvalidInput, match="n'est pas un fichier DICOM"):
        dicom.summarize(data)


def test_preamble_less_dataset_is_recognised_as_dicom() -> None:
    data = Path(get_testdata_file("ExplVR_LitEndNoMeta.dcm", download=False)).read_bytes()
    assert not dicom.has_dicm_magic(data)
    assert dicom.is_dicom(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world, not a medical image at all",
        bytes(random.Random(1).randrange(256) for _ in range(4096)),
        b"\x08\x00" + bytes(random.Random(2).randrange(256) for _ in range(4094)),
    ],
    ids=["empty", "text", "random", "group-0008-then-noise"],
)
def test_arbitrary_bytes_are_not_dicom(data: bytes) -> None:
    assert dicom.is_dicom(data) is False


# -- summary ---------------------------------------------------------------------------------


def test_summary_of_ct_small_holds_the_expected_json_values() -> None:
    summary = dicom.summarize(Path(get_testdata_file("CT_small.dcm", download=False)))
    json.dumps(summary)  # JSON-able
    assert summary["patient_name"] == "CompressedSamples^CT1"
    assert summary["modality"] == "CT"
    assert (summary["rows"], summary["columns"], summary["frames"]) == (128, 128, 1)
    assert summary["photometric_interpretation"] == "MONOCHROME2"
    assert summary["transfer_syntax"] == "1.2.840.10008.1.2.1"
    assert summary["image_orientation"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert len(summary["image_position"]) == 3
    assert summary["pixel_spacing"] == pytest.approx([0.661468, 0.661468])
    assert summary["study_date"] == "2004-01-19"
    assert summary["series_instance_uid"]


def test_summary_reads_the_header_even_when_pixels_are_truncated() -> None:
    data = Path(get_testdata_file("CT_small.dcm", download=False)).read_bytes()[:-5000]
    assert dicom.summarize(data)["rows"] == 128
    with pytest.raises(InvalidInput, match="tronqué"):
        dicom.check_dicom(data)


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm", "examples_ybr_color.dcm"])
def test_image_file_cut_anywhere_is_refused_at_upload(name: str) -> None:
    data = Path(get_testdata_file(name, download=False)).read_bytes()
    assert dicom.check_dicom(data)["has_pixels"]
    for cut in range(0, len(data), max(1, len(data) // 60)):
        with pytest.raises(InvalidInput):
            dicom.check_dicom(data[:cut])


def test_truncated_non_image_object_is_refused_at_upload() -> None:
    data = Path(get_testdata_file("rtplan_truncated.dcm", download=False)).read_bytes()
    with pytest.raises(InvalidInput, match="tronqué"):
        dicom.check_dicom(data)


def test_image_object_without_pixel_data_is_refused_at_upload() -> None:
    ds = pydicom.dcmread(io.BytesIO(make_slice(series_uid="1.2", instance=1, position=None)))
    del ds.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer)
    with pytest.raises(InvalidInput, match="ne contient pas les données de son image"):
        dicom.check_dicom(buffer.getvalue())


def test_summary_of_multiframe_file_counts_its_frames() -> None:
    summary = dicom.summarize(Path(pydicom.examples.ybr_color.filename))
    assert summary["frames"] == 30


def test_directory_record_is_recognised() -> None:
    summary = dicom.summarize(Path(pydicom.examples.dicomdir.filename))
    assert dicom.is_directory_record(summary)
    assert not dicom.is_directory_record(dicom.summarize(Path(pydicom.examples.ct.filename)))


# -- series ordering -------------------------------------------------------------------------


def _summaries(files: dict[str, bytes]) -> list[tuple[str, dict]]:
    return [(key, dicom.summarize(data)) for key, data in files.items()]


def test_shuffled_axial_series_is_sorted_by_position_not_by_upload_order() -> None:
    uid = generate_uid()
    # Instance numbers run opposite to z: the order must follow the position.
    files = {
        f"z{z}": make_slice(series_uid=uid, instance=20 - z, position=(0.0, 0.0, 2.5 * z))
        for z in range(10)
    }
    items = _summaries(files)
    random.Random(3).shuffle(items)
    (series,) = dicom.group_series(items)
    assert series.sorted_by == "position"
    assert series.keys == [f"z{z}" for z in range(10)]


def test_oblique_series_is_sorted_along_the_slice_normal() -> None:
    uid = generate_uid()
    angle = np.deg2rad(30)
    row = (1.0, 0.0, 0.0)
    column = (0.0, float(np.cos(angle)), float(np.sin(angle)))
    normal = np.cross(row, column)
    # Positions step along the normal but also slide in-plane, so that sorting by z alone
    # or by the sum of coordinates would give another order.
    in_plane = np.array(column) * 40.0
    offsets = [3, 0, 4, 1, 2]
    files = {
        f"s{k}": make_slice(
            series_uid=uid,
            instance=None,
            position=tuple(float(v) for v in normal * 2.0 * k + in_plane * ((-1) ** k)),
            orientation=row + column,
        )
        for k in offsets
    }
    (series,) = dicom.group_series(_summaries(files))
    assert series.sorted_by == "position"
    assert series.keys == ["s0", "s1", "s2", "s3", "s4"]
    z_order = sorted(files, key=lambda k: dicom.summarize(files[k])["image_position"][2])
    assert z_order != series.keys  # the test would not distinguish a naive sort otherwise


def test_series_without_positions_falls_back_to_instance_number() -> None:
    uid = generate_uid()
    files = {f"i{n}": make_slice(series_uid=uid, instance=n, position=None) for n in (3, 1, 2)}
    (series,) = dicom.group_series(_summaries(files))
    assert series.sorted_by == "instance_number"
    assert series.keys == ["i1", "i2", "i3"]


def test_series_with_repeated_positions_falls_back_to_instance_number() -> None:
    uid = generate_uid()
    files = {
        f"t{n}": make_slice(series_uid=uid, instance=n, position=(0.0, 0.0, 10.0))
        for n in (2, 3, 1)
    }
    (series,) = dicom.group_series(_summaries(files))
    assert series.keys == ["t1", "t2", "t3"]


def test_series_with_a_localizer_of_other_orientation_uses_instance_number() -> None:
    uid = generate_uid()
    files = {
        "axial2": make_slice(series_uid=uid, instance=2, position=(0.0, 0.0, 5.0)),
        "axial3": make_slice(series_uid=uid, instance=3, position=(0.0, 0.0, 0.0)),
        "scout1": make_slice(
            series_uid=uid,
            instance=1,
            position=(0.0, 0.0, 100.0),
            orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        ),
    }
    (series,) = dicom.group_series(_summaries(files))
    assert series.keys == ["scout1", "axial2", "axial3"]


def test_series_without_positions_nor_numbers_keeps_upload_order() -> None:
    uid = generate_uid()
    files = {k: make_slice(series_uid=uid, instance=None, position=None) for k in "bca"}
    (series,) = dicom.group_series(_summaries(files))
    assert series.sorted_by == "upload"
    assert series.keys == ["b", "c", "a"]


def test_files_are_grouped_by_series_uid_and_files_without_image_left_out() -> None:
    first, second = generate_uid(), generate_uid()
    items = _summaries(
        {
            "a1": make_slice(series_uid=first, instance=1, position=(0.0, 0.0, 0.0)),
            "b1": make_slice(series_uid=second, instance=1, position=(0.0, 0.0, 0.0)),
            "a2": make_slice(series_uid=first, instance=2, position=(0.0, 0.0, 1.0)),
        }
    )
    items.append(("plan", dicom.summarize(Path(pydicom.examples.rt_plan.filename))))
    groups = {series.uid: series.keys for series in dicom.group_series(items)}
    assert groups == {first: ["a1", "a2"], second: ["b1"]}


def test_bundled_dicomdir_series_are_grouped_and_ordered() -> None:
    folder = Path(pydicom.examples.dicomdir.filename).parent
    items = [
        (str(path.relative_to(folder)), dicom.summarize(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "DICOMDIR" and dicom.is_dicom(path.read_bytes())
    ]
    series = dicom.group_series(items)
    images = [key for key, summary in items if summary["has_pixels"]]
    assert len(images) == 31
    assert sorted(m.key for s in series for m in s.members) == sorted(images)
    for one in series:
        numbers = [m.summary["instance_number"] for m in one.members]
        if one.sorted_by == "instance_number":
            assert numbers == sorted(numbers)


# -- decoding and cache ----------------------------------------------------------------------


def test_rescale_slope_and_intercept_give_hounsfield_units() -> None:
    pixels = np.array([[0, 1024], [1064, 3000]], dtype=np.uint16)
    volume = volume_of(
        make_slice(series_uid="1.2", instance=1, position=None, pixels=pixels, intercept=-1024)
    )
    assert volume.frames[0].tolist() == [[-1024, 0], [40, 1976]]
    assert volume.frames[0].dtype == np.int16


def test_fractional_rescale_gives_float_values() -> None:
    pixels = np.array([[0, 3], [10, 20]], dtype=np.uint16)
    volume = volume_of(
        make_slice(
            series_uid="1.2", instance=1, position=None, pixels=pixels, slope=0.5, intercept=1.25
        )
    )
    assert volume.frames[0].dtype == np.float32
    assert volume.frames[0].tolist() == [[1.25, 2.75], [6.25, 11.25]]


def test_second_load_of_a_series_is_served_from_cache_without_decoding() -> None:
    data = make_slice(series_uid="1.2", instance=1, position=None)
    calls: list[str] = []

    def load(key: str) -> bytes:
        calls.append(key)
        return data

    first = dicom.load_volume(["x"], load)
    second = dicom.load_volume(["x"], load)
    assert second is first
    assert calls == ["x"]


def test_cache_forgets_the_least_recently_used_volume() -> None:
    data = make_slice(series_uid="1.2", instance=1, position=None)
    for key in ("a", "b", "c", "d"):
        dicom.load_volume([key], lambda _k: data)
    dicom.load_volume(["a"], lambda _k: data)  # "a" becomes the most recent
    dicom.load_volume(["e"], lambda _k: data)
    assert dicom.cached_volume_keys() == [("c",), ("d",), ("a",), ("e",)]


def test_multiframe_file_gives_one_frame_per_image() -> None:
    volume = dicom.load_volume(["dose"], lambda _k: Path(pydicom.examples.rt_dose.filename))
    assert len(volume) == 15
    assert all(frame.shape == (10, 10) for frame in volume.frames)
    assert volume.frames[0].tolist() != volume.frames[14].tolist()


def test_multiframe_colour_file_is_decoded_to_rgb_frames() -> None:
    volume = dicom.load_volume(["ybr"], lambda _k: Path(pydicom.examples.ybr_color.filename))
    assert len(volume) == 30
    assert volume.is_color(29)
    assert volume.frames[0].dtype == np.uint8 and volume.frames[0].shape == (240, 320, 3)
    assert volume.window_source is None


def test_ybr_file_is_converted_to_rgb_like_its_rgb_twin() -> None:
    rgb = dicom.load_volume(
        ["rgb"], lambda _k: Path(get_testdata_file("SC_rgb_rle.dcm", download=False))
    )
    ybr = dicom.load_volume(
        ["ybr"],
        lambda _k: Path(get_testdata_file("SC_ybr_full_422_uncompressed.dcm", download=False)),
    )
    difference = np.abs(rgb.frames[0].astype(int) - ybr.frames[0].astype(int))
    # Same picture; only rounding and chroma subsampling at colour edges differ. Left in
    # YBR, the red corner would read (76, 84, 255) instead of (255, 0, 0).
    assert np.percentile(difference, 95) <= 5
    assert ybr.frames[0][0, 0].tolist() == pytest.approx([255, 0, 0], abs=3)


def test_palette_colour_file_is_expanded_to_rgb() -> None:
    volume = dicom.load_volume(["pal"], lambda _k: Path(pydicom.examples.palette_color.filename))
    assert volume.is_color(0)
    image = dicom.slice_image(volume, 0)
    assert image.mode == "RGB"
    assert len(set(image.getdata())) > 10


@pytest.mark.parametrize(
    ("big_endian", "little_endian"),
    [
        ("OBXXXX1A_expb.dcm", "OBXXXX1A.dcm"),
        ("OBXXXX1A_expb_2frame.dcm", "OBXXXX1A_2frame.dcm"),
        ("gdcm-US-ALOKA-16_big.dcm", "gdcm-US-ALOKA-16.dcm"),  # segmented tables
    ],
)
def test_big_endian_palette_colour_shows_the_colours_of_its_little_endian_twin(
    big_endian: str, little_endian: str
) -> None:
    big = dicom.load_volume(["be"], lambda _k: Path(get_testdata_file(big_endian, download=False)))
    little = dicom.load_volume(
        ["le"], lambda _k: Path(get_testdata_file(little_endian, download=False))
    )
    assert len(big) == len(little)
    for index in range(len(big)):
        shown = np.asarray(dicom.slice_image(big, index))
        # pydicom reads the twin's little endian tables right: it is the reference.
        ds = pydicom.dcmread(get_testdata_file(little_endian, download=False))
        rgb = apply_color_lut(pydicom.pixels.pixel_array(ds, index=index), ds)
        expected = (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb
        assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1
        assert len(np.unique(shown[::7, ::7].reshape(-1, 3), axis=0)) > 10


def parametric_map(values: np.ndarray, *, double: bool) -> bytes:
    """A Parametric Map (float or double float pixels, ADC-like values) written by pydicom."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.30"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName = "MR", "DUPONT^JEAN"
    ds.NumberOfFrames, ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = 64 if double else 32
    if double:
        ds.DoubleFloatPixelData = values.astype("<f8").tobytes()
    else:
        ds.FloatPixelData = values.astype("<f4").tobytes()
    return saved(ds)


@pytest.mark.parametrize("double", [False, True], ids=["float", "double-float"])
def test_parametric_map_with_float_pixels_is_read(tmp_path: Path, double: bool) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(1.2e-3, 4e-4, (3, 16, 20))  # ADC in mm²/s
    values[1, 0, 0] = np.nan  # no fit for this voxel
    data = parametric_map(values, double=double)
    summary = dicom.check_dicom(data)
    assert summary["has_pixels"] and summary["frames"] == 3
    path = tmp_path / "map.dcm"
    path.write_bytes(data)
    for source in (data, path):  # in memory, and a multi-frame file read frame by frame
        dicom.clear_volume_cache()
        volume = dicom.load_volume(["map"], lambda _k, source=source: source)
        assert volume.window_source == "auto" and np.isfinite(volume.default_center)
        for index in range(3):
            frame = volume.frames[index]
            assert np.allclose(frame, values[index], equal_nan=True, rtol=1e-6)
            shown = np.asarray(dicom.slice_image(volume, index)).astype(float)
            expected = reference_grey(
                pydicom.dcmread(path),
                values[index],
                index,
                (volume.default_center, volume.default_width),
            )
            finite = np.isfinite(values[index])
            assert np.abs(shown - expected)[finite].max() <= 1
            assert shown.max() - shown.min() > 150  # spread over the grey levels
    assert np.asarray(dicom.slice_image(volume, 1))[0, 0] == 0  # NaN shown black


def test_sixteen_bit_rgb_is_scaled_down_to_eight_bits() -> None:
    path = Path(get_testdata_file("SC_rgb_rle_16bit.dcm", download=False))
    eight = Path(get_testdata_file("SC_rgb_rle.dcm", download=False))
    wide = dicom.load_volume(["16"], lambda _k: path)
    narrow = dicom.load_volume(["8"], lambda _k: eight)
    assert np.abs(wide.frames[0].astype(int) - narrow.frames[0].astype(int)).max() <= 1


@pytest.mark.parametrize(
    "compressed", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"]
)
def test_lossless_compressed_file_decodes_to_the_uncompressed_values(compressed: str) -> None:
    reference = dicom.load_volume(
        ["ref"], lambda _k: Path(get_testdata_file("MR_small.dcm", download=False))
    )
    volume = dicom.load_volume(
        [compressed], lambda _k: Path(get_testdata_file(compressed, download=False))
    )
    assert np.array_equal(volume.frames[0], reference.frames[0])


def test_twelve_bit_jpeg_extended_decodes_like_other_viewers() -> None:
    # pydicom's plugins fail on this JPEG Extended (process 4) 12-bit file.
    path = Path(get_testdata_file("JPEG-lossy.dcm", download=False))
    assert dicom.check_dicom(path.read_bytes())["transfer_syntax"] == "1.2.840.10008.1.2.4.51"
    volume = dicom.load_volume(["lossy"], lambda _k: path)
    frame = volume.frames[0]
    # Values pydicom's GDCM tests took from OsiriX for this file.
    assert (frame[420, 140], frame[230, 120]) == (244, 95)
    # Close to the lossless encoding of the same image.
    lossless = dicom.load_volume(
        ["ll"], lambda _k: Path(get_testdata_file("JPEG-LL.dcm", download=False))
    )
    difference = np.abs(frame.astype(int) - lossless.frames[0].astype(int))
    assert difference.mean() < 3 and np.percentile(difference, 99) <= 16


def test_jpeg2000_ct_renders_with_its_full_size() -> None:
    path = Path(get_testdata_file("JPEG2000.dcm", download=False))
    volume = dicom.load_volume(["j2k"], lambda _k: path)
    assert dicom.slice_image(volume, 0).size == (256, 1024)


def test_monochrome1_is_displayed_inverted() -> None:
    pixels = np.array([[0, 4000]], dtype=np.uint16)
    volume = volume_of(
        make_slice(
            series_uid="1.2",
            instance=1,
            position=None,
            pixels=pixels,
            intercept=0,
            window=(2000, 4000),
            photometric="MONOCHROME1",
        )
    )
    image = np.asarray(dicom.slice_image(volume, 0))
    assert image[0, 0] == 255 and image[0, 1] == 0


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "examples_overlay.dcm"]
)
def test_fast_native_decoding_gives_pydicom_values(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    fast = dicom._native_gray_pixels(ds)
    assert fast is not None
    assert np.array_equal(fast[0], ds.pixel_array)


@pytest.mark.parametrize(
    "name",
    ["liver_1frame.dcm", "JPEGLSNearLossless_16.dcm", "MR_small_bigendian.dcm", "rtdose.dcm"],
)
def test_fast_native_decoding_leaves_other_layouts_to_pydicom(name: str) -> None:
    # 1-bit, compressed, big endian and 32-bit data take pydicom's decoder.
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    assert dicom._native_gray_pixels(ds) is None


def test_fast_native_decoding_sign_extends_twelve_bit_values() -> None:
    pixels = np.array([[-2048, -1, 0, 2047]], dtype=np.int16)
    ds = pydicom.dcmread(io.BytesIO(make_slice(series_uid="1.2", instance=1, position=None)))
    ds.set_pixel_data(pixels, photometric_interpretation="MONOCHROME2", bits_stored=12)
    raw = bytearray(ds.PixelData)
    raw[5] |= 0x30  # garbage in the 4 unused high bits of 0 ...
    raw[7] |= 0xF0  # ... and of 2047, which would read -2049 as a plain int16
    ds.PixelData = bytes(raw)
    assert dicom._native_gray_pixels(ds)[0].tolist() == [[-2048, -1, 0, 2047]]
    assert ds.pixel_array.tolist() == [[-2048, -1, 0, 2047]]  # pydicom agrees


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3)])
def test_png_encoder_round_trips_exactly(shape: tuple[int, ...]) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(dicom.encode_png(pixels))))
    assert np.array_equal(decoded, pixels)


def test_rendered_png_holds_the_windowed_slice() -> None:
    volume = dicom.load_volume(["ct"], lambda _k: Path(pydicom.examples.ct.filename))
    png = dicom.render_slice(volume, 0, center=40, width=400)
    expected = dicom.window_to_uint8(volume.frames[0], 40, 400)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), expected)


def test_slice_outside_the_volume_raises_index_error() -> None:
    volume = volume_of(make_slice(series_uid="1.2", instance=1, position=None))
    with pytest.raises(IndexError):
        dicom.render_slice(volume, 1)


def test_empty_series_is_refused() -> None:
    with pytest.raises(InvalidInput):
        dicom.load_volume([], lambda _k: b"")


# -- windowing -------------------------------------------------------------------------------


def test_linear_window_follows_the_dicom_formula_at_its_edges() -> None:
    values = np.array([-1000, -160, -159, 39.5, 239, 240, 3000], dtype=np.float64)
    out = dicom.window_to_uint8(values, center=40, width=400)
    assert out[0] == 0 and out[1] == 0
    assert out[2] == round(((-159 - 39.5) / 399 + 0.5) * 255)
    assert out[3] == 128  # 127.5 rounded half to even
    assert out[4] == 255 and out[5] == 255 and out[6] == 255


def test_window_output_rises_with_the_value() -> None:
    out = dicom.window_to_uint8(np.arange(-200, 300), center=40, width=400)
    assert np.all(np.diff(out.astype(int)) >= 0)
    assert out[0] == 0 and out[-1] == 255


def test_window_of_width_one_is_a_threshold() -> None:
    out = dicom.window_to_uint8(np.array([9, 9.5, 10]), center=10, width=1)
    assert out.tolist() == [0, 0, 255]


def test_window_narrower_than_one_is_refused() -> None:
    with pytest.raises(InvalidInput, match="largeur"):
        dicom.window_to_uint8(np.zeros(3), center=0, width=0.5)


@pytest.mark.parametrize("dtype", [np.int16, np.uint16])
def test_lookup_table_windowing_matches_the_formula(dtype: type) -> None:
    info = np.iinfo(dtype)
    frame = np.random.default_rng(4).integers(info.min, info.max, (64, 64), endpoint=True)
    frame = frame.astype(dtype)
    expected = dicom.window_to_uint8(frame, center=40, width=350)
    assert np.array_equal(dicom.window_frame(frame, 40, 350), expected)


def _with_voi_lut(name: str, first: int, curve: np.ndarray, bits: int = 16) -> bytes:
    ds = pydicom.dcmread(get_testdata_file(name, download=False))
    item = Dataset()
    item.LUTDescriptor = [len(curve), first, bits]
    item.LUTData = [int(v) for v in curve]
    item["LUTData"].VR = "US"
    ds.VOILUTSequence = Sequence([item])
    return saved(ds)


def _gamma_lut(entries: int, bits: int) -> np.ndarray:
    return np.rint((np.linspace(0, 1, entries) ** 0.5) * (2**bits - 1)).astype(np.int64)


@pytest.mark.parametrize(
    ("name", "first", "curve", "bits"),
    [
        ("MR_small.dcm", 100, _gamma_lut(1500, 16), 16),  # also has a window: the LUT wins
        ("MR_small.dcm", -50, _gamma_lut(4096, 12), 12),
        # Hounsfield units, a 10-bit LUT (pydicom indexes 8-bit LUTs with uint8, which wraps
        # for values 256 past the first one mapped: it cannot be the reference there).
        ("CT_small.dcm", -200, _gamma_lut(1200, 10), 10),
    ],
    ids=["MR_small-16-bit", "MR_small-12-bit-negative-first", "CT_small-10-bit"],
)
def test_voi_lut_sequence_is_applied_when_no_window_is_asked(
    tmp_path: Path, name: str, first: int, curve: np.ndarray, bits: int
) -> None:
    path = tmp_path / name
    path.write_bytes(_with_voi_lut(name, first, curve, bits))
    volume = dicom.load_volume(["lut"], lambda _k: path)
    assert volume.window_source == "fichier"
    assert max_grey_difference(volume, 0, path, 0) <= 1
    # An explicit window still overrides the file's VOI LUT.
    windowed = np.asarray(dicom.slice_image(volume, 0, center=600, width=1600))
    assert np.array_equal(windowed, dicom.window_frame(volume.frames[0], 600, 1600))


def test_one_frame_rendered_alone_uses_its_header_voi(tmp_path: Path) -> None:
    lut = tmp_path / "lut.dcm"
    lut.write_bytes(_with_voi_lut("MR_small.dcm", 100, _gamma_lut(1500, 16), 16))
    enhanced = data_file("eCT_Supplemental.dcm")
    for path in (lut, enhanced):
        volume = dicom.load_volume([path.name], lambda _k, path=path: path)
        for position, (_key, in_file) in enumerate(volume.frame_refs):
            png = dicom.render_frame(path.name, in_file, lambda _k, path=path: path)
            shown = np.asarray(Image.open(io.BytesIO(png))).astype(float)
            assert np.array_equal(shown, np.asarray(dicom.slice_image(volume, position)))
            assert max_grey_difference(volume, position, path, in_file) <= 1


def test_bundled_voi_lut_file_is_shown_through_its_lut() -> None:
    path = Path(get_testdata_file("vlut_04.dcm", download=False))
    volume = dicom.load_volume(["vlut"], lambda _k: path)
    assert volume.vois[0] is not None and volume.vois[0].lut is not None
    assert max_grey_difference(volume, 0, path, 0) == 0


def _macro(**attributes: object) -> Sequence:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return Sequence([item])


def _enhanced_mr(tmp_path: Path) -> Path:
    """emri_small (10 frames, no functional groups) given enhanced functional groups: frames
    stored from head to feet, each its own rescale and window, the spacing shared."""
    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm", download=False))
    shared = Dataset()
    shared.PixelMeasuresSequence = _macro(PixelSpacing=[0.9, 0.8], SliceThickness=1.2)
    shared.PlaneOrientationSequence = _macro(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for index in range(int(ds.NumberOfFrames)):
        group = Dataset()
        group.PlanePositionSequence = _macro(ImagePositionPatient=[0, 0, 50.0 - 1.2 * index])
        group.PixelValueTransformationSequence = _macro(
            RescaleSlope=0.5 + index / 4, RescaleIntercept=-10 * index, RescaleType="US"
        )
        group.FrameVOILUTSequence = _macro(WindowCenter=100 + 20 * index, WindowWidth=300)
        frames.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    path = tmp_path / "emri_enhanced.dcm"
    path.write_bytes(saved(ds))
    return path


def test_enhanced_mr_frames_follow_their_functional_groups(tmp_path: Path) -> None:
    path = _enhanced_mr(tmp_path)
    volume = dicom.load_volume(["emr"], lambda _k: path)
    # Stored from head (z = 50) to feet: shown along the normal (+z), feet first.
    assert [index for _key, index in volume.frame_refs] == list(range(9, -1, -1))
    for position, (_key, in_file) in enumerate(volume.frame_refs):
        assert volume.vois[position].center == 100 + 20 * in_file
        assert max_grey_difference(volume, position, path, in_file) <= 1
    summary = dicom.summarize(path)
    assert summary["pixel_spacing"] == [0.9, 0.8]
    assert summary["slice_thickness"] == 1.2
    assert summary["image_position"] == [0.0, 0.0, 50.0 - 1.2 * 9]
    assert summary["window_center"] == 100 + 20 * 9


def test_enhanced_ct_uses_its_shared_window_rescale_and_frame_positions() -> None:
    path = Path(get_testdata_file("eCT_Supplemental.dcm", download=False))
    volume = dicom.load_volume(["ect"], lambda _k: path)
    # Frame 2 of the file (In-Stack Position 1) comes first along the normal.
    assert [index for _key, index in volume.frame_refs] == [1, 0]
    assert (volume.default_center, volume.default_width) == (49.0, 102.0)
    for position, (_key, in_file) in enumerate(volume.frame_refs):
        assert max_grey_difference(volume, position, path, in_file) <= 1
    summary = dicom.summarize(path)
    assert summary["pixel_spacing"] == [0.388672, 0.388672]
    assert summary["image_orientation"] == [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_file_window_is_the_default_when_present() -> None:
    volume = volume_of(make_slice(series_uid="1.2", instance=1, position=None, window=(40, 80)))
    assert (volume.default_center, volume.default_width) == (40.0, 80.0)
    assert volume.window_source == "fichier"


def test_automatic_window_is_computed_when_the_file_has_none() -> None:
    path = Path(get_testdata_file("CT_small.dcm", download=False))
    assert "WindowCenter" not in pydicom.dcmread(path)
    volume = dicom.load_volume(["ct"], lambda _k: path)
    assert volume.window_source == "auto"
    frame = volume.frames[0].astype(float)
    low, high = np.percentile(frame, [0.5, 99.5])
    assert volume.default_center == pytest.approx((low + high) / 2)
    assert volume.default_width == pytest.approx(high - low)
    image = np.asarray(dicom.slice_image(volume, 0))
    assert image.min() == 0 and image.max() == 255


def test_explicit_window_overrides_the_default() -> None:
    pixels = np.array([[1024 - 200, 1024 + 40, 1024 + 400]], dtype=np.uint16)
    volume = volume_of(make_slice(series_uid="1.2", instance=1, position=None, pixels=pixels))
    preset = dicom.WINDOW_PRESETS["soft_tissue"]
    image = np.asarray(dicom.slice_image(volume, 0, center=preset.center, width=preset.width))
    assert image.tolist() == [[0, 128, 255]]


def test_window_presets_have_french_labels_and_usual_values() -> None:
    presets = {p.label: (p.center, p.width) for p in dicom.WINDOW_PRESETS.values()}
    assert presets["Tissus mous"] == (40, 400)
    assert presets["Poumon"] == (-600, 1500)
    assert presets["Os"] in ((500, 2000), (300, 1500))
    assert "Rein" in presets


# -- patient identity ------------------------------------------------------------------------


def _summary(name: str = "LEFEVRE-DUPONT^JEAN PIERRE", birth: str = "1980-01-02") -> dict:
    return {"patient_name": name, "patient_birth_date": birth, "patient_sex": "M"}


def test_same_patient_with_other_accents_case_and_punctuation_gives_no_warning() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary(),
        last_name="Lefèvre Dupont",
        first_name="Jean-Pierre",
        birth_date=date(1980, 1, 2),
    )
    assert warnings_ == []


def test_usage_name_contained_in_birth_name_gives_no_warning() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary("DUPONT^JEAN"), last_name="Dupont Martin", first_name="Jean", birth_date=None
    )
    assert warnings_ == []


def test_other_last_name_gives_a_warning() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary("MARTIN^JEAN"), last_name="Durand", first_name="Jean", birth_date="1980-01-02"
    )
    assert len(warnings_) == 1
    assert "nom du patient" in warnings_[0] and "MARTIN" in warnings_[0]


def test_other_first_name_gives_a_warning() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary("DURAND^PAUL"), last_name="Durand", first_name="Jean", birth_date=None
    )
    assert len(warnings_) == 1 and "prénom" in warnings_[0]


def test_other_birth_date_gives_a_warning_in_french_format() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary(birth="1980-01-02"),
        last_name="Lefevre Dupont",
        first_name="Jean Pierre",
        birth_date=date(1980, 2, 1),
    )
    assert len(warnings_) == 1
    assert "02/01/1980" in warnings_[0] and "01/02/1980" in warnings_[0]


def test_swapped_names_give_one_specific_warning() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary("JEAN^DURAND"), last_name="Durand", first_name="Jean", birth_date=None
    )
    assert len(warnings_) == 1 and "inversés" in warnings_[0]


@pytest.mark.parametrize("name", ["", "ANONYMOUS", "Anonyme^", "^"])
def test_anonymised_header_gives_no_name_warning(name: str) -> None:
    warnings_ = dicom.patient_mismatch(
        _summary(name, birth=""), last_name="Durand", first_name="Jean", birth_date="1980-01-02"
    )
    assert warnings_ == []


def test_other_sex_gives_a_warning_when_the_case_sex_is_given() -> None:
    warnings_ = dicom.patient_mismatch(
        _summary(),
        last_name="Lefevre Dupont",
        first_name="Jean Pierre",
        birth_date=None,
        sex="F",
    )
    assert len(warnings_) == 1 and "sexe" in warnings_[0]


def test_mismatch_is_found_from_a_real_header() -> None:
    summary = dicom.summarize(Path(get_testdata_file("CT_small.dcm", download=False)))
    warnings_ = dicom.patient_mismatch(
        summary, last_name="Durand", first_name="Jean", birth_date=None
    )
    assert warnings_ and "CompressedSamples" in warnings_[0]


# -- display ---------------------------------------------------------------------------------


def test_display_metadata_gives_french_labels_and_formats() -> None:
    rows = dict(
        dicom.display_metadata(
            dicom.summarize(make_slice(series_uid="1.2", instance=7, position=(0.0, 0.0, 0.0)))
        )
    )
    assert rows["Patient"] == "DUPONT JEAN"
    assert rows["Date de naissance"] == "01/01/1980"
    assert rows["Modalité"] == "Scanner (CT)"
    assert rows["N° d'image"] == "7"
    assert rows["Taille du pixel"] == "0,7 × 0,7 mm"
    assert rows["Matrice"] == "8 × 8"


# -- in English ------------------------------------------------------------------------------


def test_refusals_and_warnings_speak_the_reader_s_language() -> None:
    from rcp import i18n

    data = Path(pydicom.examples.no_meta.filename).read_bytes()
    with i18n.using("en"), pytest.raises(InvalidInput) as refused:
        dicom.summarize(data)
    assert str(refused.value) == (
        "This file is not a DICOM file. If the problem persists, contact your MDT's assistant."
    )
    with pytest.raises(InvalidInput, match="^Ce fichier n'est pas un fichier DICOM"):
        dicom.summarize(data)  # French unchanged
    with i18n.using("en"):
        differences = dicom.identity_differences(
            _summary("DURAND^PAUL"), last_name="Durand", first_name="Jean", birth_date=None
        )
        assert "first name in the DICOM header (“PAUL”)" in differences[0].sentence
        assert dicom.describe_differences(differences) == (
            "first name (header “PAUL”, case “Jean”)"
        )
        rows = dict(
            dicom.display_metadata(
                dicom.summarize(make_slice(series_uid="1.2", instance=7, position=(0.0, 0.0, 0.0)))
            )
        )
        assert rows["Modality"] == "CT scan (CT)" and rows["Pixel size"] == "0.7 × 0.7 mm"
    assert differences[0].field == "prénom"  # the field's code stays the French id
