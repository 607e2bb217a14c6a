"""DICOM headers, series ordering, pixel decoding, windowing and slice rendering (no database)."""

from __future__ import annotations

import io
import os
import struct
import threading
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
from babel.numbers import get_decimal_symbol
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import get_frame
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGExtended12Bit,
    MediaStorageDirectoryStorage,
    RLELossless,
)

from rcp.errors import InvalidInput
from rcp.i18n import FORMAT_LOCALES, N_, _, current

DicomSource = bytes | str | os.PathLike[str]
"""Raw file content, or the path of a file on disk."""

CONTACT_ASSISTANT = N_("Si le problème persiste, contactez l'assistant de votre RCP.")
"""Every DICOM-related error message ends with this sentence (translated: ``_(…)``)."""

MAX_FRAME_PIXELS = 4096 * 4096
"""Largest frame (rows × columns) accepted, checked from the header of every file before any
decoding: 16.7 million pixels, above digital mammography (4096 × 3328). The viewer holds one
such frame as at most 64 MiB (float32) while it is shown."""

MAX_DECODED_BYTES = 1024**3
"""Largest decoded pixel data of one file (all its frames), announced by its header: a file
announcing more is refused at upload. 2048 CT slices of 512 × 512 fit."""

MAX_DEFLATED_BYTES = 64 * 1024**2
"""Largest multi-frame deflated file (pixels of all its frames) the viewer shows: such a
file is inflated whole to show one frame, at most one largest frame's worth of memory."""

# Anonymisation placeholders seen in headers: they say nothing about the patient, so they
# neither match nor contradict the case.
_ANONYMOUS_NAMES = frozenset(
    {"", "ANONYMOUS", "ANONYME", "ANONYMIZED", "ANONYMISED", "ANONYMISE", "ANON", "NONAME"}
)

# Leading data element tags of a dataset written without preamble nor file meta: group 0002
# (file meta written without preamble) or 0008 (identifying module, always first in practice).
_RAW_DICOM_FIRST_GROUPS = frozenset({0x0002, 0x0008})


# Transfer syntaxes met in real files that pydicom 3.0 cannot decode, named for the message.
_UNSUPPORTED_SYNTAXES = {
    "1.2.840.113619.5.2": N_("syntaxe privée GE « Implicit VR Big Endian »"),
}

DEFLATED_IMAGE_FRAME_COMPRESSION = "1.2.840.10008.1.2.8.1"
"""Deflated Image Frame Compression (DICOM 2023, segmentations): each frame is a raw
deflate stream of its native pixels. Newer than pydicom 3.0, decoded here."""


# MPEG-2, MPEG-4 AVC/H.264 and HEVC/H.265 video (1.2.840.10008.1.2.4.100 to .108).
_VIDEO_SYNTAX_PREFIX = "1.2.840.10008.1.2.4.10"


def _syntax_refusal(ds: Dataset) -> str | None:
    """Why the platform cannot read the pixels of ``ds``'s transfer syntax, or None.

    Private (old GE 1.2.840.113619.5.2) or unknown syntaxes, and video, are refused with a
    sentence naming them; a file without a transfer syntax is left to the decoders.
    """
    meta = getattr(ds, "file_meta", None) or Dataset()
    value = str(meta.get("TransferSyntaxUID", "") or "").strip()
    if not value:
        return None
    syntax = UID(value)
    if value.startswith(_VIDEO_SYNTAX_PREFIX):
        return _(
            "Le fichier DICOM contient une vidéo ({syntax}) : la plateforme n'affiche "
            "que des images. Exportez des images fixes depuis la console ou le PACS."
        ).format(syntax=syntax.name)
    if not syntax.is_transfer_syntax and value != DEFLATED_IMAGE_FRAME_COMPRESSION:
        named = _UNSUPPORTED_SYNTAXES.get(value)
        known = _(named) if named else _("syntaxe inconnue")
        return _(
            "Le fichier DICOM est encodé dans une syntaxe de transfert que la plateforme ne "
            "sait pas lire ({uid}, {known}). Exportez les images depuis la console ou le "
            "PACS en DICOM standard (non compressé ou JPEG)."
        ).format(uid=value, known=known)
    return None


def dicom_error(problem: str) -> InvalidInput:
    """Build the user error for a DICOM problem (already translated), ending with the advice
    to call the assistant."""
    return InvalidInput(f"{problem} {_(CONTACT_ASSISTANT)}")


# --------------------------------------------------------------------------------------------
# Recognising and reading
# --------------------------------------------------------------------------------------------


def has_dicm_magic(data: bytes) -> bool:
    """Return True when ``data`` has the DICOM Part 10 signature ``DICM`` at offset 128."""
    return len(data) >= 132 and data[128:132] == b"DICM"


def is_dicom(data: bytes) -> bool:
    """Tell whether ``data`` is DICOM, with or without the 128-byte preamble.

    Files with the ``DICM`` signature are DICOM (a damaged one is refused later, when read).
    Files without it (older "raw" datasets) are accepted only if their first element belongs
    to group 0002 or 0008, in either byte order, and pydicom then reads a header holding a SOP
    Class, SOP Instance, Study Instance UID or Modality: pydicom's ``force=True`` alone would
    "read" almost any bytes.
    """
    if has_dicm_magic(data):
        return True
    if len(data) < 8:
        return False
    group_le = struct.unpack("<H", data[:2])[0]
    group_be = struct.unpack(">H", data[:2])[0]
    if group_le not in _RAW_DICOM_FIRST_GROUPS and group_be not in _RAW_DICOM_FIRST_GROUPS:
        return False
    try:
        ds = dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
        return any(
            str(ds.get(keyword, "") or "").strip()
            for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "Modality")
        )
    except Exception:  # any failure to parse means "not DICOM"
        return False


def _open_source(source: DicomSource) -> io.BytesIO | str | os.PathLike[str]:
    return io.BytesIO(source) if isinstance(source, bytes | bytearray) else source


def _read(source: DicomSource, *, stop_before_pixels: bool) -> Dataset:
    """Read a dataset, refusing non-DICOM content with a French message."""
    if isinstance(source, bytes | bytearray):
        if not is_dicom(source if isinstance(source, bytes) else bytes(source)):
            raise dicom_error(_("Ce fichier n'est pas un fichier DICOM."))
        force = not has_dicm_magic(source)
    else:
        with open(source, "rb") as handle:
            head = handle.read(132)
        force = not has_dicm_magic(head)
        if force:
            with open(source, "rb") as handle:
                if not is_dicom(handle.read()):
                    raise dicom_error(_("Ce fichier n'est pas un fichier DICOM."))
    try:
        ds = dcmread(_open_source(source), force=force, stop_before_pixels=stop_before_pixels)
    except Exception as exc:  # pydicom raises many kinds on damaged headers
        raise dicom_error(
            _("Le fichier DICOM est illisible (en-tête tronqué ou corrompu).")
        ) from exc
    _repair_transfer_syntax(ds)
    return ds


def _repair_transfer_syntax(ds: Dataset) -> None:
    """Fill a missing Transfer Syntax UID from the encoding pydicom actually read.

    Only safe for native (uncompressed) syntaxes, which is all pydicom can have parsed when
    the file meta does not say otherwise; encapsulated pixel data stays undecodable and is
    refused later.
    """
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return
    if implicit:
        uid = ImplicitVRLittleEndian
    else:
        uid = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    ds.ensure_file_meta()
    ds.file_meta.TransferSyntaxUID = uid


# --------------------------------------------------------------------------------------------
# Header summary
# --------------------------------------------------------------------------------------------


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(ds: Dataset, keyword: str, kind: type[int] | type[float]) -> int | float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value:
            return None
        value = value[0]
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _floats(ds: Dataset, keyword: str, count: int) -> list[float] | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _iso_date(value: str | None) -> str | None:
    """DICOM DA ``YYYYMMDD`` to ISO ``YYYY-MM-DD``; other shapes are returned unchanged."""
    if value is None:
        return None
    digits = value.replace(".", "").strip()  # ACR-NEMA wrote YYYY.MM.DD
    if len(digits) == 8 and digits.isdigit():
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
        except ValueError:
            return value
    return value


def _frame_header(ds: Dataset, macro: str, index: int = 0) -> Dataset:
    """Where frame ``index``'s attributes of a functional group macro are: the macro's item
    in an enhanced multi-frame file, else the top level."""
    return _frame_group_item(ds, index, macro) or ds


_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
"""Where an image's pixels are: integers, or 32/64-bit floats (parametric maps)."""


def _pixel_keyword(ds: Dataset) -> str | None:
    """The keyword of the pixel data element ``ds`` holds, or None."""
    return next((keyword for keyword in _PIXEL_KEYWORDS if keyword in ds), None)


def _summary_from_dataset(ds: Dataset, *, pixels_read: bool) -> dict[str, Any]:
    meta = getattr(ds, "file_meta", None) or Dataset()
    syntax = meta.get("TransferSyntaxUID")
    sop_class = ds.get("SOPClassUID") or meta.get("MediaStorageSOPClassUID")
    frames = _number(ds, "NumberOfFrames", int)
    # Geometry and window of an enhanced multi-frame file: those of its first frame shown.
    first = _frame_order(ds, int(frames))[0] if frames and frames > 1 else 0
    measures = _frame_header(ds, "PixelMeasuresSequence", first)
    window = _frame_header(ds, "FrameVOILUTSequence", first)
    rows = _number(ds, "Rows", int)
    if pixels_read:
        has_pixels = _pixel_keyword(ds) is not None
    else:  # the pixel data was not read: trust the Image Pixel module
        has_pixels = bool(rows) and "Columns" in ds and "BitsAllocated" in ds
    return {
        "patient_name": _text(ds, "PatientName"),
        "patient_id": _text(ds, "PatientID"),
        "patient_birth_date": _iso_date(_text(ds, "PatientBirthDate")),
        "patient_sex": _text(ds, "PatientSex"),
        "study_date": _iso_date(_text(ds, "StudyDate")),
        "study_description": _text(ds, "StudyDescription"),
        "modality": _text(ds, "Modality"),
        "study_instance_uid": _text(ds, "StudyInstanceUID"),
        "series_instance_uid": _text(ds, "SeriesInstanceUID"),
        "sop_instance_uid": _text(ds, "SOPInstanceUID"),
        "sop_class_uid": str(sop_class) if sop_class else None,
        "sop_class_name": UID(str(sop_class)).name if sop_class else None,
        "series_description": _text(ds, "SeriesDescription"),
        "series_number": _number(ds, "SeriesNumber", int),
        "instance_number": _number(ds, "InstanceNumber", int),
        "image_position": _floats(
            _frame_header(ds, "PlanePositionSequence", first), "ImagePositionPatient", 3
        ),
        "image_orientation": _floats(
            _frame_header(ds, "PlaneOrientationSequence", first), "ImageOrientationPatient", 6
        ),
        "rows": rows,
        "columns": _number(ds, "Columns", int),
        "frames": frames if frames and frames > 0 else (1 if rows else 0),
        "photometric_interpretation": _text(ds, "PhotometricInterpretation"),
        "bits_allocated": _number(ds, "BitsAllocated", int),
        "transfer_syntax": str(syntax) if syntax else None,
        "transfer_syntax_name": UID(str(syntax)).name if syntax else None,
        "pixel_spacing": _floats(measures, "PixelSpacing", 2),
        "slice_thickness": _number(measures, "SliceThickness", float),
        "window_center": _number(window, "WindowCenter", float),
        "window_width": _number(window, "WindowWidth", float),
        "has_pixels": has_pixels,
    }


def summarize(source: DicomSource) -> dict[str, Any]:
    """Read the header of one DICOM file (pixels are not read) into a JSON-able dict.

    Keys: ``patient_name`` (DICOM PN, ``LAST^FIRST``), ``patient_id``, ``patient_birth_date``
    and ``study_date`` (ISO when valid), ``patient_sex``, ``modality``, ``study_instance_uid``,
    ``series_instance_uid``, ``sop_instance_uid``, ``sop_class_uid``/``sop_class_name``,
    ``series_description``, ``study_description``, ``series_number``, ``instance_number``,
    ``image_position`` (3 floats), ``image_orientation`` (6 floats), ``rows``, ``columns``,
    ``frames``, ``photometric_interpretation``, ``bits_allocated``, ``transfer_syntax``/
    ``transfer_syntax_name``, ``pixel_spacing`` (2 floats), ``slice_thickness``,
    ``window_center``/``window_width`` (first values) and ``has_pixels``. Missing or malformed
    values are None.

    Raises
    ------
    InvalidInput
        When the content is not DICOM or its header cannot be read.
    """
    ds = _read(source, stop_before_pixels=True)
    try:
        return _summary_from_dataset(ds, pixels_read=False)
    except Exception as exc:  # malformed values, or sequences cut short (OSError, EOFError)
        raise dicom_error(
            _("L'en-tête DICOM est incomplet ou contient des valeurs invalides.")
        ) from exc


def is_directory_record(summary: Mapping[str, Any]) -> bool:
    """Tell whether a summary is that of a DICOMDIR (an index of files, with no image)."""
    return summary.get("sop_class_uid") == MediaStorageDirectoryStorage


def _expected_native_bytes(ds: Dataset, frames: int) -> int:
    rows, columns = int(ds.Rows), int(ds.Columns)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.BitsAllocated)
    if bits == 1:
        return (rows * columns * samples * frames + 7) // 8
    if samples == 3 and str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        samples = 2  # two luminance samples share one pair of chrominance samples
    return rows * columns * samples * frames * (bits // 8)


def _cut_short(ds: Dataset, size: int) -> bool:
    """Tell whether a top-level element announces a value running past the end of the file.

    pydicom reads such a value short without complaint. Must run before values are
    converted (the raw elements still know where their value starts). Offsets of a deflated
    dataset refer to the inflated stream, so it is not checked (zlib detects truncation).
    """
    syntax = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
    if syntax == DeflatedExplicitVRLittleEndian:
        return False
    for tag in ds.keys():
        raw = ds.get_item(tag)
        tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
        if tell is None or length is None or length == 0xFFFFFFFF:
            continue
        if tell + length > size:
            return True
    return False


def check_dicom(data: bytes) -> dict[str, Any]:
    """Validate one uploaded DICOM file and return its summary (see ``summarize``).

    Checks, without decoding a whole series: no element runs past the end of the file; the
    values the platform uses convert (an IS of ``1A`` for the number of frames is refused);
    an image object has pixel data; a file with pixel data has the attributes needed to
    decode it and announces a sane size; native (uncompressed) pixel data is not shorter than
    announced; for compressed transfer syntaxes the first frame actually decodes. Files
    without pixel data (reports, DICOMDIR) pass.

    Raises
    ------
    InvalidInput
        With a French message ending with the advice to contact the RCP's assistant.
    """
    ds = _read(data, stop_before_pixels=False)
    if len(ds) == 0 or _cut_short(ds, len(data)):
        raise dicom_error(_("Le fichier DICOM est tronqué (fichier incomplet)."))
    try:
        # Only the values the platform uses are converted: a malformed private or unrelated
        # element does not stop a file that pydicom and the viewer can read.
        summary = _summary_from_dataset(ds, pixels_read=True)
    except Exception as exc:  # malformed values, or sequences cut short (OSError, EOFError)
        raise dicom_error(
            _("L'en-tête DICOM est incomplet ou contient des valeurs invalides.")
        ) from exc
    if not summary["sop_class_uid"] and not summary["rows"]:
        raise dicom_error(_("Le fichier DICOM est vide ou tronqué (aucun objet DICOM lisible)."))
    pixel_keyword = _pixel_keyword(ds)
    if pixel_keyword is None:
        is_image_class = "Image Storage" in str(summary["sop_class_name"] or "")
        if is_image_class or (summary["rows"] and summary["columns"] and "BitsAllocated" in ds):
            raise dicom_error(
                _(
                    "Le fichier DICOM ne contient pas les données de son image (fichier tronqué "
                    "ou incomplet)."
                )
            )
        return summary
    frames_value = ds.get("NumberOfFrames")
    if frames_value not in (None, "") and not str(frames_value).strip().isdigit():
        raise dicom_error(
            _("L'en-tête DICOM annonce un nombre d'images invalide (« {value} »).").format(
                value=frames_value
            )
        )
    missing = [
        keyword
        for keyword in ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")
        if ds.get(keyword) in (None, "")
    ]
    if missing:
        raise dicom_error(
            _("Le fichier DICOM est incomplet : attributs d'image manquants ({names}).").format(
                names=", ".join(missing)
            )
        )
    frames = int(summary["frames"] or 1)
    rows, columns = int(ds.Rows), int(ds.Columns)
    if rows <= 0 or columns <= 0:
        raise dicom_error(
            _("Les dimensions de l'image DICOM ({columns} × {rows}) sont invalides.").format(
                columns=columns, rows=rows
            )
        )
    if rows * columns > MAX_FRAME_PIXELS:
        side = int(MAX_FRAME_PIXELS**0.5)
        raise dicom_error(
            _(
                "L'image DICOM est trop grande ({columns} × {rows} pixels ; au plus "
                "{side} × {side})."
            ).format(columns=columns, rows=rows, side=side)
        )
    if frames <= 0 or _expected_native_bytes(ds, frames) > MAX_DECODED_BYTES:
        raise dicom_error(
            _(
                "L'image DICOM annonce une taille décompressée trop grande ({frames} image(s) de "
                "{columns} × {rows} pixels ; au plus {megabytes} Mo décompressés par fichier)."
            ).format(
                frames=frames, columns=columns, rows=rows, megabytes=MAX_DECODED_BYTES // 1024**2
            )
        )
    syntax = UID(str(ds.file_meta.get("TransferSyntaxUID", "")))
    refusal = _syntax_refusal(ds)
    if refusal is not None:
        raise dicom_error(refusal)
    if str(syntax) != DEFLATED_IMAGE_FRAME_COMPRESSION and not syntax.is_compressed:
        if len(ds[pixel_keyword].value) < _expected_native_bytes(ds, frames):
            raise dicom_error(
                _("Le fichier DICOM est tronqué : les données d'image sont incomplètes.")
            )
        return summary
    try:
        _decode_pixels(ds, ds, 0)
    except Exception as exc:  # decoders raise many kinds; all mean "corrupt"
        raise dicom_error(
            _(
                "L'image DICOM compressée ne peut pas être décodée (fichier corrompu "
                "ou compression non prise en charge)."
            )
        ) from exc
    return summary


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesMember:
    """One file of a series: a caller key (e.g. the sha256 of the stored file) and its summary."""

    key: str
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class Series:
    """Image files sharing a SeriesInstanceUID, in display order.

    ``sorted_by`` says how the order was decided: ``"position"`` (along the slice normal),
    ``"instance_number"`` or ``"upload"`` (the order the files were given in).
    """

    uid: str
    description: str
    modality: str
    members: tuple[SeriesMember, ...]
    sorted_by: str

    @property
    def keys(self) -> list[str]:
        """Keys of the files, in display order (pass them to ``load_volume``)."""
        return [member.key for member in self.members]

    @property
    def frame_count(self) -> int:
        """Total number of frames (a multi-frame file counts for all its frames)."""
        return sum(int(member.summary.get("frames") or 1) for member in self.members)


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """Unit normal of a slice: cross product of the row and column direction cosines."""
    row = np.asarray(orientation[:3], dtype=float)
    column = np.asarray(orientation[3:6], dtype=float)
    normal = np.cross(row, column)
    norm = float(np.linalg.norm(normal))
    if norm == 0.0:
        raise ValueError("degenerate orientation")
    return normal / norm


def _position_keys(members: Sequence[SeriesMember]) -> list[float] | None:
    """Position of each member along the common slice normal, or None if undecidable."""
    orientations = [m.summary.get("image_orientation") for m in members]
    positions = [m.summary.get("image_position") for m in members]
    if any(o is None for o in orientations) or any(p is None for p in positions):
        return None
    try:
        normal = slice_normal(orientations[0] or [])
    except ValueError:
        return None
    reference = np.asarray(orientations[0], dtype=float)
    for orientation in orientations[1:]:
        if not np.allclose(np.asarray(orientation, dtype=float), reference, atol=1e-3):
            return None  # mixed orientations (e.g. a localizer): position order is meaningless
    distances = [float(np.dot(normal, np.asarray(p, dtype=float))) for p in positions]
    if len(members) > 1 and len(set(np.round(distances, 4))) < len(members):
        return None  # several images at one position (e.g. time series): keep instance order
    return distances


def group_series(items: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Series]:
    """Group DICOM summaries into series and put each series in anatomical order.

    Parameters
    ----------
    items
        ``(key, summary)`` pairs, the summary as returned by ``summarize``. Files without an
        image (reports, DICOMDIR) are left out.

    Returns
    -------
    list[Series]
        One per SeriesInstanceUID (a file without one is a series of its own), ordered by
        series number then description. Within a series, images are sorted by their
        position along the slice normal (cross product of the ImageOrientationPatient row
        and column cosines, ascending), which is right even for oblique slices and files
        listed in any order; when positions are missing, inconsistent or repeated, by
        InstanceNumber; otherwise in the given order.
    """
    groups: dict[str, list[SeriesMember]] = {}
    for key, summary in items:
        if not summary.get("has_pixels", summary.get("rows")):
            continue
        uid = summary.get("series_instance_uid") or f"sans-uid:{key}"
        groups.setdefault(uid, []).append(SeriesMember(key=key, summary=summary))

    result: list[Series] = []
    for uid, members in groups.items():
        distances = _position_keys(members)
        numbers = [m.summary.get("instance_number") for m in members]
        if distances is not None:
            order = sorted(
                range(len(members)),
                key=lambda i: (distances[i], numbers[i] if numbers[i] is not None else 0),
            )
            sorted_by = "position"
        elif all(n is not None for n in numbers):
            order = sorted(range(len(members)), key=lambda i: int(numbers[i] or 0))
            sorted_by = "instance_number"
        else:
            order = list(range(len(members)))
            sorted_by = "upload"
        first = members[0].summary
        result.append(
            Series(
                uid=uid,
                description=str(first.get("series_description") or ""),
                modality=str(first.get("modality") or ""),
                members=tuple(members[i] for i in order),
                sorted_by=sorted_by,
            )
        )
    result.sort(
        key=lambda s: (
            s.members[0].summary.get("series_number") is None,
            s.members[0].summary.get("series_number") or 0,
            s.description,
        )
    )
    return result


# --------------------------------------------------------------------------------------------
# Volumes (decoded pixels) and their cache
# --------------------------------------------------------------------------------------------


class _LazyFrames(Sequence[np.ndarray]):
    """A volume's frames, decoded on access through the frame cache (never all at once)."""

    def __init__(self, volume: Volume) -> None:
        self._volume = volume

    def __len__(self) -> int:
        return len(self._volume)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not isinstance(index, int):
            raise TypeError("frames are read one at a time")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} outside 0..{len(self) - 1}")
        return self._volume.frame(index)


@dataclass(frozen=True, eq=False)
class Volume:
    """A series ready for display: where each frame is, and how to window it.

    Frames are decoded one at a time when shown (``frame``), never the whole series: memory
    stays within the frame cache's budget whatever the series' size (see ``hold``).
    Grayscale frames hold modality values (rescale slope/intercept applied: Hounsfield
    units for CT) as int16 or uint16 when they fit, else int32/float32; colour frames are
    uint8 RGB. Frames may differ in size. ``default_center``/``default_width`` come from the
    files' window when they have one (``window_source == "fichier"``; for a VOI LUT, the
    values it spreads over the grey levels), else from the data (``"auto"``, sampled over at
    most ``AUTO_WINDOW_FRAMES`` frames); both are None when every frame is in colour.
    ``vois`` holds each frame's own VOI from its header (window or VOI LUT, per frame for
    enhanced multi-frame files), or None: shown without an explicit window, a frame uses
    it, else the default window. The frames of an enhanced multi-frame file are in order
    along the slice normal when their positions say so. ``nbytes`` is what the whole series
    would take decoded.
    """

    keys: tuple[str, ...]
    frame_refs: tuple[tuple[str, int], ...]  # (file key, frame index in that file)
    monochrome1: tuple[bool, ...]
    color: tuple[bool, ...]
    default_center: float | None
    default_width: float | None
    window_source: str | None
    auto_center: float | None
    auto_width: float | None
    nbytes: int
    load: Callable[[str], DicomSource] = field(repr=False)
    vois: tuple[Voi | None, ...] = field(default=(), repr=False)

    def __len__(self) -> int:
        return len(self.frame_refs)

    @property
    def frame_keys(self) -> tuple[str, ...]:
        """The file key of each frame."""
        return tuple(key for key, _index in self.frame_refs)

    @property
    def frames(self) -> Sequence[np.ndarray]:
        """The frames, each decoded when read (see ``frame``)."""
        return _LazyFrames(self)

    def frame(self, index: int) -> np.ndarray:
        """Decoded frame ``index``: from the frame cache, or decoded now (and kept if held)."""
        key, in_file = self.frame_refs[index]
        return _cached_frame(key, in_file, self.load)[0]

    def is_color(self, index: int) -> bool:
        """Tell whether frame ``index`` is an RGB frame (windowing does not apply to it)."""
        return self.color[index]


FRAME_CACHE_BYTES = 256 * 1024**2
"""Default budget of decoded frames kept in memory by the whole process (``configure``)."""

AUTO_WINDOW_FRAMES = 9
"""Most frames decoded to compute a series' automatic window (evenly spread)."""

DECODE_SLOTS = 2
"""Frames decoded at the same time by the whole process (each needs a few frames' memory)."""

_CACHE_MAX_VOLUMES = 4
_cache: OrderedDict[tuple[str, ...], Volume] = OrderedDict()  # metadata only: small
_cache_lock = threading.Lock()
_frame_budget = FRAME_CACHE_BYTES
# (file key, frame index) -> (frame, MONOCHROME1, the frame's header VOI)
_frames: OrderedDict[tuple[str, int], tuple[np.ndarray, bool, Voi | None]] = OrderedDict()
_frame_bytes = 0
_holders: dict[str, frozenset[str]] = {}
_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)


def configure(*, frame_cache_bytes: int) -> None:
    """Set the frame cache's byte budget (the setting ``RCP_VIEWER_CACHE_MB``)."""
    global _frame_budget
    with _cache_lock:
        _frame_budget = max(int(frame_cache_bytes), 0)
        _evict_locked()


def clear_volume_cache() -> None:
    """Forget every volume and decoded frame, and every holder (tests, memory pressure)."""
    global _frame_bytes
    with _cache_lock:
        _cache.clear()
        _frames.clear()
        _frame_bytes = 0
        _holders.clear()


def cached_volume_keys() -> list[tuple[str, ...]]:
    """Keys of the volumes in the cache, least recently used first."""
    with _cache_lock:
        return list(_cache)


def cached_frame_bytes() -> int:
    """Bytes of decoded frames the process keeps now (at most the budget)."""
    with _cache_lock:
        return _frame_bytes


def hold(owner: str, keys: Iterable[str]) -> None:
    """``owner`` (a browser session) shows the files ``keys``: their frames may be kept.

    Replaces what the owner held before; frames of files nobody holds any more are freed.
    """
    with _cache_lock:
        _holders[owner] = frozenset(keys)
        _drop_unheld_locked()


def release(owner: str) -> None:
    """``owner`` is gone (its page closed): free the frames nobody else shows."""
    with _cache_lock:
        if _holders.pop(owner, None) is not None:
            _drop_unheld_locked()


def holders() -> list[str]:
    """Owners currently holding files (for the sweep of closed sessions)."""
    with _cache_lock:
        return list(_holders)


def _held_keys_locked() -> set[str]:
    held: set[str] = set()
    for keys in _holders.values():
        held |= keys
    return held


def _drop_unheld_locked() -> None:
    global _frame_bytes
    held = _held_keys_locked()
    for cache_key in [k for k in _frames if k[0] not in held]:
        _frame_bytes -= _entry_bytes(_frames.pop(cache_key))


def _evict_locked() -> None:
    global _frame_bytes
    while _frames and _frame_bytes > _frame_budget:
        _, dropped = _frames.popitem(last=False)
        _frame_bytes -= _entry_bytes(dropped)


def _entry_bytes(entry: tuple[np.ndarray, bool, Voi | None]) -> int:
    """Bytes a frame cache entry holds: the frame, and its VOI LUT (at most 64 KiB)."""
    frame, _inverted, voi = entry
    return frame.nbytes + (voi.lut.nbytes if voi is not None and voi.lut is not None else 0)


def _cached_frame(
    key: str, index: int, load: Callable[[str], DicomSource]
) -> tuple[np.ndarray, bool, Voi | None]:
    """(frame, MONOCHROME1, header VOI) from the cache, or decoded now and kept if a page
    holds ``key``."""
    global _frame_bytes
    cache_key = (key, index)
    with _cache_lock:
        found = _frames.get(cache_key)
        if found is not None:
            _frames.move_to_end(cache_key)
            return found
    frame, inverted, ds = decode_frame(load(key), index)
    try:
        voi = None if frame.ndim == 3 else _file_voi(ds, index)
    except (AttributeError, KeyError, TypeError, ValueError):
        voi = None  # a malformed VOI: the frame is shown with the automatic window
    entry = (frame, inverted, voi)
    size = _entry_bytes(entry)
    with _cache_lock:
        if key in _held_keys_locked() and size <= _frame_budget:
            if cache_key not in _frames:
                _frames[cache_key] = entry
                _frame_bytes += size
            _frames.move_to_end(cache_key)
            _evict_locked()
    return entry


def _frame_group_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """First item of the functional group macro ``keyword`` that applies to frame ``index``.

    Enhanced multi-frame objects (PS3.3 C.7.6.16) put per-frame attributes in the Per-frame
    Functional Groups Sequence, and those common to all frames in the Shared one; a
    per-frame value wins. None when neither holds the macro (classic objects).
    """
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and 0 <= index < len(per_frame):
        found = per_frame[index].get(keyword)
        if found:
            return found[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        found = shared[0].get(keyword)
        if found:
            return found[0]
    return None


def _rescale_params(ds: Dataset, index: int = 0) -> tuple[float, float]:
    """Rescale slope and intercept of frame ``index``: from its functional groups (per-frame,
    then shared) when the file has them, else from the top level."""
    source = _frame_group_item(ds, index, "PixelValueTransformationSequence") or ds
    slope, intercept = source.get("RescaleSlope"), source.get("RescaleIntercept")
    return (
        float(slope) if slope not in (None, "") else 1.0,
        float(intercept) if intercept not in (None, "") else 0.0,
    )


def _narrow(values: np.ndarray) -> np.ndarray:
    """Store integers in int16/uint16 when they fit (fast lookup-table windowing)."""
    if values.dtype.kind == "f" or values.size == 0:
        return values.astype(np.float32, copy=False)
    low, high = int(values.min()), int(values.max())
    for dtype in (np.int16, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype, copy=False)
    return values.astype(np.float32)


def _gray_values(raw: np.ndarray, ds: Dataset, index: int = 0) -> np.ndarray:
    """Apply the modality transform (rescale or Modality LUT) of frame ``index``."""
    if "ModalityLUTSequence" in ds:
        return _narrow(np.asarray(apply_modality_lut(raw, ds)))
    slope, intercept = _rescale_params(ds, index)
    raw = raw.astype(raw.dtype.newbyteorder("="), copy=False)
    if slope == 1.0 and intercept == 0.0:
        return _narrow(raw)
    if slope.is_integer() and intercept.is_integer() and raw.dtype.itemsize <= 2:
        values = raw.astype(np.int32)
        if slope != 1.0:
            values *= int(slope)
        values += int(intercept)
        return _narrow(values)
    if slope.is_integer() and intercept.is_integer():
        return _narrow(raw.astype(np.int64) * int(slope) + int(intercept))
    return (raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)).astype(np.float32)


_PALETTE_DATA = tuple(
    f"{colour}PaletteColorLookupTableData" for colour in ("Red", "Green", "Blue", "Alpha")
)


def _is_big_endian(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None) or Dataset()
    syntax = meta.get("TransferSyntaxUID")
    if syntax is not None:
        return syntax == ExplicitVRBigEndian
    return ds.original_encoding[1] is False


def _apply_palette(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """Expand PALETTE COLOR indices to RGB through the file's lookup tables.

    pydicom's ``apply_color_lut`` reads plain (not segmented) OW tables in the machine's
    byte order: the tables of a big endian file are byte-swapped first, else every colour
    comes out almost black.
    """
    indices = indices.astype(indices.dtype.newbyteorder("="), copy=False)
    if _is_big_endian(ds) and any(
        keyword in ds and ds[keyword].VR == "OW" for keyword in _PALETTE_DATA
    ):
        swapped = Dataset()  # the file's elements, except the tables replaced below
        swapped.update({tag: ds[tag] for tag in ds.keys() if tag != 0x7FE00010})
        for keyword in _PALETTE_DATA:
            if keyword in ds and isinstance(ds[keyword].value, bytes):
                data = ds[keyword].value
                words = np.frombuffer(data[: len(data) // 2 * 2], dtype=">u2")
                setattr(swapped, keyword, words.astype("<u2").tobytes())  # a new element
        ds = swapped
    return apply_color_lut(indices, ds)


def _color_to_uint8(rgb: np.ndarray, ds: Dataset) -> np.ndarray:
    rgb = rgb.astype(rgb.dtype.newbyteorder("="), copy=False)
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype.kind == "f":
        high = float(rgb.max()) or 1.0
        return np.clip(rgb / high * 255.0, 0, 255).astype(np.uint8)
    bits = int(ds.get("BitsStored", rgb.dtype.itemsize * 8) or rgb.dtype.itemsize * 8)
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        bits = rgb.dtype.itemsize * 8  # palette LUT entries span the full 16 bits
    shift = max(bits - 8, 0)
    return (rgb.astype(np.uint64) >> shift).clip(0, 255).astype(np.uint8)


_NATIVE_LITTLE_ENDIAN = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def _native_gray_pixels(ds: Dataset) -> np.ndarray | None:
    """Stored values of native little-endian grayscale data, read straight from the buffer.

    pydicom's general decoder costs a few milliseconds per file, which adds up over a
    300-slice series; this path gives the same values (unused high bits masked, or sign
    extended) for the common case, and None for anything else (pydicom then decodes).
    """
    meta = getattr(ds, "file_meta", None) or Dataset()
    if meta.get("TransferSyntaxUID") not in _NATIVE_LITTLE_ENDIAN or "PixelData" not in ds:
        return None
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or str(
        ds.get("PhotometricInterpretation", "")
    ).strip() not in ("MONOCHROME1", "MONOCHROME2"):
        return None
    bits = int(ds.BitsAllocated)
    stored = int(ds.get("BitsStored", bits) or bits)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    if bits not in (8, 16) or not 0 < stored <= bits:
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    rows, columns = int(ds.Rows), int(ds.Columns)
    count = frames * rows * columns
    data = ds.PixelData
    if len(data) < count * bits // 8:
        return None  # let pydicom report the problem
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    values = np.frombuffer(data, dtype=dtype, count=count).reshape(frames, rows, columns)
    if stored < bits:
        shift = bits - stored
        if signed:
            values = (values << shift) >> shift  # sign-extend from the stored bits
        else:
            values = values & ((1 << stored) - 1)
    return values


def _jpeg_extended_frame(ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` of a grayscale JPEG Extended (process 2 & 4) file, 12-bit samples too.

    pydicom's plugins refuse or fail on 12-bit JPEG Extended streams (pylibjpeg's libjpeg:
    "misplaced marker segment"; GDCM is turned down by pydicom for 12-bit); libjpeg-turbo,
    through ``imagecodecs``, decodes them as DCMTK and GDCM do. ``ds`` holds the pixel data.
    """
    import imagecodecs  # noqa: PLC0415 - a large module, only for these rare files

    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise ValueError("JPEG Extended colour is left to pydicom")
    fragment = get_frame(ds.PixelData, index, number_of_frames=_frame_count(ds))
    array = np.asarray(imagecodecs.jpeg8_decode(fragment))
    if array.shape != (int(ds.Rows), int(ds.Columns)):
        raise ValueError("JPEG frame of another size than the header's")
    bits = int(ds.get("BitsStored", 0) or 0) or int(ds.BitsAllocated)
    values = array.astype(np.int32)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return values


def _one_native_frame(ds: Dataset, native: bytes) -> np.ndarray:
    """Decode ``native``, the uncompressed bytes of one frame of ``ds``, with pydicom."""
    one = Dataset()
    one.update({tag: ds[tag] for tag in ds.keys() if tag != 0x7FE00010})
    if "NumberOfFrames" in one:
        one.NumberOfFrames = 1
    one.file_meta = FileMetaDataset()
    one.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    one.PixelData = native + b"\0" * (len(native) % 2)
    one["PixelData"].VR = "OW" if int(ds.BitsAllocated) > 8 else "OB"
    return pixel_array(one, index=0)


def _inflated_frame(ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` of a Deflated Image Frame Compression file (``ds`` holds the pixels).

    The frame is inflated (RFC 1951, at most its announced size: a deflate bomb stops
    there), then decoded by pydicom as the native pixels of a one-frame dataset.
    """
    fragment = get_frame(ds.PixelData, index, number_of_frames=_frame_count(ds))
    size = _expected_native_bytes(ds, 1)
    native = zlib.decompressobj(-15).decompress(fragment, size)
    if len(native) < size:
        raise ValueError("inflated frame shorter than announced")
    return _one_native_frame(ds, native)


def _rle_one_bit_frame(ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` of an RLE Lossless file of 1-bit pixels (segmentations), which
    pydicom 3.0 refuses: one RLE segment holding the frame's packed bits (PS3.5 G.2)."""
    from pydicom.pixels.decoders.rle import _rle_decode_segment  # noqa: PLC0415

    fragment = get_frame(ds.PixelData, index, number_of_frames=_frame_count(ds))
    header = struct.unpack("<16I", fragment[:64])
    if header[0] != 1 or int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise ValueError("1-bit RLE frame with other than one segment")
    size = _expected_native_bytes(ds, 1)
    native = bytes(_rle_decode_segment(fragment[header[1] :]))
    if len(native) < size:
        raise ValueError("RLE frame shorter than announced")
    return _one_native_frame(ds, native[:size])


def _decode_pixels(source: Dataset | str | os.PathLike[str], ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` by pydicom's decoders, else (JPEG Extended) by libjpeg-turbo; Deflated
    Image Frame Compression, which pydicom does not know, and 1-bit RLE, which it refuses,
    here.

    ``source`` is the whole dataset, or the path of a file whose header ``ds`` is.
    """
    meta = getattr(ds, "file_meta", None) or Dataset()
    syntax = meta.get("TransferSyntaxUID")
    if syntax == DEFLATED_IMAGE_FRAME_COMPRESSION or (
        syntax == RLELossless and int(ds.get("BitsAllocated", 0) or 0) == 1
    ):
        whole = source if isinstance(source, Dataset) else _read(source, stop_before_pixels=False)
        if syntax == RLELossless:
            return _rle_one_bit_frame(whole, index)
        return _inflated_frame(whole, index)
    try:
        return pixel_array(
            source if isinstance(source, Dataset) else os.fspath(source), index=index
        )
    except Exception:
        if syntax != JPEGExtended12Bit:
            raise
        whole = source if isinstance(source, Dataset) else _read(source, stop_before_pixels=False)
        return _jpeg_extended_frame(whole, index)


def _frame_count(ds: Dataset) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1)


def _check_header_for_display(ds: Dataset) -> tuple[int, bool, bool, int]:
    """(frames, colour, MONOCHROME1, decoded bytes per frame) from a header, or refuse."""
    if not (ds.get("Rows") and ds.get("Columns") and "BitsAllocated" in ds):
        raise dicom_error(_("Ce fichier DICOM ne contient pas d'image affichable."))
    try:
        frames = _frame_count(ds)
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    except (TypeError, ValueError) as exc:
        raise dicom_error(_("L'en-tête DICOM contient des valeurs d'image invalides.")) from exc
    if frames <= 0 or rows <= 0 or columns <= 0 or rows * columns > MAX_FRAME_PIXELS:
        raise dicom_error(_("L'image DICOM est trop grande pour être affichée."))
    color = samples == 3 or photometric == "PALETTE COLOR"
    return frames, color, photometric == "MONOCHROME1", working_frame_bytes(rows, columns, color)


def working_frame_bytes(rows: int, columns: int, color: bool) -> int:
    """Most bytes one decoded frame takes in the viewer (float32 grayscale, or RGB bytes)."""
    return rows * columns * (3 if color else 4)


def decode_frame(source: DicomSource, index: int = 0) -> tuple[np.ndarray, bool, Dataset]:
    """Decode frame ``index`` of one file, and only that frame.

    Returns
    -------
    frame, monochrome1, header
        A grayscale frame with modality values, or a uint8 RGB frame (YBR converted by
        pydicom, palette colour expanded through its LUT); ``monochrome1`` tells the display
        to invert. For a multi-frame file on disk only that frame's bytes are read.

    Raises
    ------
    InvalidInput
        When the file has no image or its pixels cannot be decoded.
    IndexError
        When the file has no frame ``index``.
    """
    multi_frame_path = False
    if not isinstance(source, bytes | bytearray):
        with open(source, "rb") as handle:
            multi_frame_path = has_dicm_magic(handle.read(132))
    if multi_frame_path:
        ds = _read(source, stop_before_pixels=True)
        syntax = (getattr(ds, "file_meta", None) or Dataset()).get("TransferSyntaxUID")
        multi_frame_path = _frame_count(ds) > 1 and syntax != DeflatedExplicitVRLittleEndian
        if _frame_count(ds) > 1 and not multi_frame_path:
            # A deflated file is one zlib stream: pydicom cannot seek to one frame in it, so
            # the whole file is inflated for each frame, which only a small one may cost.
            _check_header_for_display(ds)
            if _expected_native_bytes(ds, _frame_count(ds)) > MAX_DEFLATED_BYTES:
                raise dicom_error(
                    _(
                        "Ce fichier DICOM compressé en « Deflate » est trop volumineux pour la "
                        "visionneuse. Exportez les images depuis la console ou le PACS en DICOM "
                        "standard (non compressé ou JPEG)."
                    )
                )
    if not multi_frame_path:
        ds = _read(source, stop_before_pixels=False)
        if _pixel_keyword(ds) is None:
            raise dicom_error(_("Ce fichier DICOM ne contient pas d'image affichable."))
    frames_count, is_color, monochrome1, _size = _check_header_for_display(ds)
    refusal = _syntax_refusal(ds)
    if refusal is not None:
        raise dicom_error(refusal)
    if not 0 <= index < frames_count:
        raise IndexError(f"frame {index} outside 0..{frames_count - 1}")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    try:
        with _decode_slots:
            if multi_frame_path:
                # pydicom reads only this frame's bytes from the file.
                assert not isinstance(source, bytes | bytearray)
                array = _decode_pixels(source, ds, index)
            else:
                array = _native_gray_pixels(ds)
                if array is not None:
                    array = array[index]
                else:
                    array = _decode_pixels(ds, ds, index)  # converts YBR to RGB
            if photometric == "PALETTE COLOR":
                array = _apply_palette(array, ds)
    except InvalidInput:
        raise
    except Exception as exc:  # decoders raise many kinds; all mean "corrupt"
        raise dicom_error(
            _(
                "Les images de ce fichier DICOM ne peuvent pas être décodées (fichier corrompu, "
                "tronqué ou compression non prise en charge)."
            )
        ) from exc
    try:
        per_frame_ndim = 3 if is_color else 2
        if array.ndim == per_frame_ndim + 1 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != per_frame_ndim:
            raise ValueError("frame shape mismatch")
        frame = _color_to_uint8(array, ds) if is_color else _gray_values(np.array(array), ds, index)
    except InvalidInput:
        raise
    except Exception as exc:
        raise dicom_error(_("Les valeurs d'image de ce fichier DICOM sont incohérentes.")) from exc
    return frame, monochrome1, ds


def decode_frames(source: DicomSource) -> tuple[list[np.ndarray], bool, Dataset]:
    """Decode every frame of one file (tests and tools; the viewer decodes one at a time)."""
    first, monochrome1, ds = decode_frame(source, 0)
    rest = [decode_frame(source, i)[0] for i in range(1, _frame_count(ds))]
    return [first, *rest], monochrome1, ds


@dataclass(frozen=True, eq=False)
class Voi:
    """How a frame's header maps its modality values to grey levels (PS3.3 C.11.2).

    Either a window (``center``, ``width`` and ``function``: ``LINEAR``, ``LINEAR_EXACT`` or
    ``SIGMOID``) or a VOI LUT: ``lut`` gives the grey level (0..255) of each entry, the
    first entry mapping the value ``first_mapped``.
    """

    center: float | None = None
    width: float | None = None
    function: str = "LINEAR"
    lut: np.ndarray | None = field(default=None, repr=False)
    first_mapped: int = 0


def _first_number(value: Any) -> float:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0]
    return float(value)


def _voi_lut(item: Dataset, ds: Dataset) -> Voi | None:
    """The VOI LUT of one VOI LUT Sequence item, as grey levels, or None if malformed."""
    try:
        entries, first, bits = (int(v) for v in item.LUTDescriptor)
        entries = entries or 65536
        if int(ds.get("PixelRepresentation", 0) or 0) == 1 and first >= 32768:
            first -= 65536  # the first value mapped is signed for signed pixels
        element = item["LUTData"]
        if element.VR == "OW" or isinstance(element.value, bytes):
            data = np.frombuffer(element.value, dtype=">u2" if _is_big_endian(ds) else "<u2")
        else:
            data = np.asarray(element.value, dtype=np.int64).ravel()
        data = data[:entries].astype(np.float64)
        if data.size == 0 or not 8 <= bits <= 16:
            return None
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    grey = np.clip(np.rint(data / (2**bits - 1) * 255.0), 0, 255).astype(np.uint8)
    return Voi(lut=grey, first_mapped=first)


def _file_voi(ds: Dataset, index: int = 0) -> Voi | None:
    """The VOI transform the header gives frame ``index``, or None.

    A VOI LUT Sequence wins over a window when the file has both (as pydicom's
    ``apply_voi_lut`` does by default). Enhanced multi-frame files give each frame its
    window in the Frame VOI LUT functional group (per-frame, then shared).
    """
    source = _frame_group_item(ds, index, "FrameVOILUTSequence") or ds
    for holder in (source, ds):
        luts = holder.get("VOILUTSequence")
        if luts:
            found = _voi_lut(luts[0], ds)
            if found is not None:
                return found
    center, width = source.get("WindowCenter"), source.get("WindowWidth")
    if center in (None, "") or width in (None, ""):
        return None
    try:
        center_value, width_value = _first_number(center), _first_number(width)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(source.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    if not np.isfinite(center_value) or not np.isfinite(width_value):
        return None
    if width_value < 1 if function == "LINEAR" else width_value <= 0:
        return None
    return Voi(center=center_value, width=width_value, function=function)


def auto_window(
    frames: Sequence[np.ndarray], *, max_samples: int = 1_000_000
) -> tuple[float, float]:
    """Window computed from the data: from the 0.5th to the 99.5th percentile of the values.

    Used when the files carry no window (pydicom's ``apply_voi_lut`` then does nothing).
    At most ``max_samples`` values are read, evenly spread over the grayscale frames.
    Integer values get a width of at least 1; floating point values (parametric maps, such
    as an ADC map in mm²/s around 0.001) may get a narrower one, shown with the
    ``LINEAR_EXACT`` function (see ``window_any``).
    """
    gray = [frame for frame in frames if frame.ndim == 2 and frame.size]
    if not gray:
        return 128.0, 256.0
    floats = any(frame.dtype.kind == "f" for frame in gray)
    total = sum(frame.size for frame in gray)
    step = max(1, total // max_samples)
    sample = np.concatenate([frame.ravel()[::step] for frame in gray]).astype(np.float64)
    sample = sample[np.isfinite(sample)]  # parametric maps may hold NaN
    if not sample.size:
        return 128.0, 256.0
    low, high = np.percentile(sample, [0.5, 99.5])
    if high - low < (0.0 if floats else 1.0) or high == low:
        low, high = float(sample.min()), float(sample.max())
    if floats and high > low:
        return float(low + high) / 2.0, float(high - low)
    width = max(float(high - low), 1.0)
    return float(low + high) / 2.0, width


def window_any(frame: np.ndarray, center: float, width: float) -> np.ndarray:
    """Window a grayscale frame: the DICOM ``LINEAR`` function (``window_frame``), or for a
    width below 1 (automatic windows of floating point maps only) ``LINEAR_EXACT``, which
    has no lower bound on the width."""
    if width >= 1:
        return window_frame(frame, center, width)
    if not width > 0:
        raise InvalidInput(_("La largeur de fenêtre doit être positive."), field="width")
    return _exact_or_sigmoid(frame, Voi(center=center, width=width, function="LINEAR_EXACT"))


def _frame_order(ds: Dataset, frames: int) -> Sequence[int]:
    """Display order of the frames of a file: along the slice normal for an enhanced
    multi-frame file whose frames all have a position and one orientation, each at its own
    place (ascending, like ``group_series``); otherwise the order of the file."""
    stored = range(frames)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if frames < 2 or not per_frame or len(per_frame) != frames:
        return stored
    distances: list[float] = []
    reference: np.ndarray | None = None
    normal: np.ndarray | None = None
    for index in stored:
        position = _frame_group_item(ds, index, "PlanePositionSequence")
        orientation = _frame_group_item(ds, index, "PlaneOrientationSequence")
        if position is None or orientation is None:
            return stored
        point = _floats(position, "ImagePositionPatient", 3)
        cosines = _floats(orientation, "ImageOrientationPatient", 6)
        if point is None or cosines is None:
            return stored
        if reference is None:
            reference = np.asarray(cosines, dtype=float)
            try:
                normal = slice_normal(cosines)
            except ValueError:
                return stored
        elif not np.allclose(np.asarray(cosines, dtype=float), reference, atol=1e-3):
            return stored
        assert normal is not None
        distances.append(float(np.dot(normal, np.asarray(point, dtype=float))))
    if len(set(np.round(distances, 4))) < frames:
        return stored  # several frames at one place (time series, several stacks)
    return sorted(stored, key=lambda i: distances[i])


def _lut_window(voi: Voi) -> tuple[float, float]:
    """The linear window closest to a VOI LUT: the values it spreads over the grey levels."""
    assert voi.lut is not None
    rising = np.flatnonzero((voi.lut > voi.lut.min()) & (voi.lut < voi.lut.max()))
    if rising.size == 0:
        low, high = 0, voi.lut.size - 1
    else:
        low, high = int(rising[0]), int(rising[-1])
    center = voi.first_mapped + (low + high) / 2.0
    return center, max(float(high - low), 1.0)


def _frame_vois(
    ds: Dataset, order: Sequence[int], known: dict[tuple[Any, ...], Voi]
) -> list[Voi | None]:
    """The header VOI of each frame of one file, in display order.

    ``known`` shares equal VOIs between the frames and files of a series, so that a series
    of 2000 files carrying the same 64 KiB VOI LUT keeps one copy of it.
    """

    def shared(voi: Voi | None) -> Voi | None:
        if voi is None:
            return None
        if voi.lut is not None:
            key: tuple[Any, ...] = ("lut", voi.first_mapped, voi.lut.tobytes())
        else:
            key = ("window", voi.center, voi.width, voi.function)
        return known.setdefault(key, voi)

    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    varies = bool(per_frame) and any(
        "FrameVOILUTSequence" in item for item in per_frame if item is not None
    )
    if not varies:
        return [shared(_file_voi(ds, 0))] * len(order)
    return [shared(_file_voi(ds, index)) for index in order]


def load_volume(keys: Sequence[str], load: Callable[[str], DicomSource]) -> Volume:
    """Read the headers of a series' files and compute its window; no frame is kept.

    Parameters
    ----------
    keys
        Keys of the files in display order, typically ``Series.keys`` (sha256s of stored
        files). The small metadata cache is keyed by this tuple, so reopening the series or
        the next slider step reads no header again.
    load
        Gives the content of a key: bytes or a path (e.g. ``FileStore.path``). Kept by the
        volume: frames are decoded from it when shown (``Volume.frame``).

    Raises
    ------
    InvalidInput
        When a file has no image or cannot be decoded (at most ``AUTO_WINDOW_FRAMES`` frames,
        evenly spread, are decoded here); the message names no internal detail.
    """
    cache_key = tuple(keys)
    if not cache_key:
        raise dicom_error(_("La série ne contient aucune image."))
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            _cache.move_to_end(cache_key)
            return cached
    sources: dict[str, DicomSource] = {}
    refs: list[tuple[str, int]] = []
    monochrome1: list[bool] = []
    color: list[bool] = []
    vois: list[Voi | None] = []
    known_vois: dict[tuple[Any, ...], Voi] = {}
    nbytes = 0
    file_window: tuple[float, float] | None = None
    for key in cache_key:
        source = sources[key] = load(key)
        ds = _read(source, stop_before_pixels=True)
        frames, is_color, inverted, frame_bytes = _check_header_for_display(ds)
        try:
            order = _frame_order(ds, frames)
            frame_vois = [None] * frames if is_color else _frame_vois(ds, order, known_vois)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise dicom_error(_("L'en-tête DICOM contient des valeurs d'image invalides.")) from exc
        refs.extend((key, i) for i in order)
        vois.extend(frame_vois)
        monochrome1.extend([inverted] * frames)
        color.extend([is_color] * frames)
        nbytes += frames * frame_bytes
        if file_window is None and frame_vois and frame_vois[0] is not None:
            first = frame_vois[0]
            if first.lut is not None:
                file_window = _lut_window(first)
            else:
                assert first.center is not None and first.width is not None
                file_window = first.center, max(first.width, 1.0)
    # The automatic window (and a check that the pixels decode) from a few frames.
    count = len(refs)
    picks = sorted(
        {
            round(i * (count - 1) / max(AUTO_WINDOW_FRAMES - 1, 1))
            for i in range(min(AUTO_WINDOW_FRAMES, count))
        }
    )
    samples: list[np.ndarray] = []
    per_frame = max(1, 1_000_000 // max(len(picks), 1))
    for position in picks:
        key, in_file = refs[position]
        frame = decode_frame(sources[key], in_file)[0]
        if frame.ndim == 2 and frame.size:
            step = max(1, frame.size // per_frame)
            samples.append(np.ascontiguousarray(frame.ravel()[::step]).reshape(1, -1))
        del frame
    sources.clear()
    auto = auto_window(samples) if samples else None
    if file_window is not None:
        default, source_name = file_window, "fichier"
    elif auto is not None:
        default, source_name = auto, "auto"
    else:
        default, source_name = None, None
    volume = Volume(
        keys=cache_key,
        frame_refs=tuple(refs),
        monochrome1=tuple(monochrome1),
        color=tuple(color),
        default_center=default[0] if default else None,
        default_width=default[1] if default else None,
        window_source=source_name,
        auto_center=auto[0] if auto else None,
        auto_width=auto[1] if auto else None,
        nbytes=nbytes,
        load=load,
        vois=tuple(vois),
    )
    with _cache_lock:
        _cache[cache_key] = volume
        _cache.move_to_end(cache_key)
        while len(_cache) > _CACHE_MAX_VOLUMES:
            _cache.popitem(last=False)
    return volume


# --------------------------------------------------------------------------------------------
# Windowing and rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowPreset:
    """A named CT window (values in Hounsfield units)."""

    label: str
    center: float
    width: float


# Sources: soft tissue 40/400, lung -600/1500 and bone 500/2000 are the usual CT presets taught
# in radiology windowing courses (e.g. "CT-scan windowing", T. J. Aldeen: soft tissue W350-400,
# bone W2000 L500, lung W1500-1600 L-500/-600). No kidney-specific standard was found: "Rein"
# uses the narrower abdominal window (W350 L50) so that renal cortex and medulla separate
# better than with "Tissus mous". To be confirmed by the network's radiologists.
WINDOW_PRESETS: dict[str, WindowPreset] = {
    "soft_tissue": WindowPreset("Tissus mous", 40.0, 400.0),
    "kidney": WindowPreset("Rein", 50.0, 350.0),
    "bone": WindowPreset("Os", 500.0, 2000.0),
    "lung": WindowPreset("Poumon", -600.0, 1500.0),
}


def window_to_uint8(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values to 0..255 with the DICOM linear VOI function (PS3.3 C.11.2.1.2.1).

    ``x <= c - 0.5 - (w - 1) / 2`` gives 0, ``x > c - 0.5 + (w - 1) / 2`` gives 255, and in
    between ``((x - (c - 0.5)) / (w - 1) + 0.5) * 255``, rounded to the nearest integer.

    Raises
    ------
    InvalidInput
        When ``width`` is below 1 (the standard forbids it).
    """
    if not width >= 1:
        raise InvalidInput(_("La largeur de fenêtre doit être d'au moins 1."), field="width")
    x = np.asarray(values, dtype=np.float64)
    if width == 1:
        return np.where(x <= center - 0.5, 0, 255).astype(np.uint8)
    scaled = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return _to_grey(scaled)


def _to_grey(scaled: np.ndarray) -> np.ndarray:
    """Round grey levels to uint8; a value that is no number (NaN in a parametric map) is
    black, infinities go to the ends."""
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


@lru_cache(maxsize=2)
def _all_16_bit_values(dtype_name: str) -> np.ndarray:
    """Every int16 or uint16 value, in the order of its uint16 bit pattern."""
    values = np.arange(65536, dtype=np.int64)
    if dtype_name == "int16":
        values = np.where(values >= 32768, values - 65536, values)
    values.setflags(write=False)
    return values


@lru_cache(maxsize=64)
def _lut(dtype_name: str, center: float, width: float) -> np.ndarray:
    """Lookup table over every 16-bit value, indexed by the value's uint16 bit pattern."""
    return window_to_uint8(_all_16_bit_values(dtype_name), center, width)


def window_frame(frame: np.ndarray, center: float, width: float) -> np.ndarray:
    """Window one grayscale frame to uint8, through a lookup table for 16-bit integers."""
    if frame.dtype in (np.int16, np.uint16):
        lut = _lut(frame.dtype.name, float(center), float(width))
        return np.take(lut, frame.view(np.uint16))
    return window_to_uint8(frame, center, width)


def _exact_or_sigmoid(values: np.ndarray, voi: Voi) -> np.ndarray:
    """``LINEAR_EXACT`` and ``SIGMOID`` VOI functions (PS3.3 C.11.2.1.3) to 0..255."""
    x = np.asarray(values, dtype=np.float64)
    center, width = float(voi.center or 0.0), float(voi.width or 1.0)
    if voi.function == "SIGMOID":
        scaled = 255.0 / (1.0 + np.exp(np.clip(-4.0 * (x - center) / width, -700, 700)))
    else:
        scaled = ((x - center) / width + 0.5) * 255.0
        scaled = np.where(x <= center - width / 2, 0.0, scaled)
        scaled = np.where(x > center + width / 2, 255.0, scaled)
    return _to_grey(scaled)


def _lut_indices(values: np.ndarray, voi: Voi) -> np.ndarray:
    assert voi.lut is not None
    index = np.floor(np.asarray(values, dtype=np.float64) - voi.first_mapped)
    index = np.nan_to_num(index, nan=0.0, posinf=voi.lut.size - 1, neginf=0.0)
    return np.clip(index, 0, voi.lut.size - 1).astype(np.intp)


def voi_to_uint8(frame: np.ndarray, voi: Voi) -> np.ndarray:
    """Map one grayscale frame of modality values to 0..255 through a header's VOI.

    Values below the first entry of a VOI LUT take its first grey level, values past its
    end its last one (PS3.3 C.11.2.1.1). 16-bit frames go through a lookup table.
    """
    if voi.lut is None:
        assert voi.center is not None and voi.width is not None
        if voi.function == "LINEAR":
            return window_frame(frame, voi.center, voi.width)
        if frame.dtype in (np.int16, np.uint16):
            table = _exact_or_sigmoid(_all_16_bit_values(frame.dtype.name), voi)
            return np.take(table, frame.view(np.uint16))
        return _exact_or_sigmoid(frame, voi)
    if frame.dtype in (np.int16, np.uint16):
        table = voi.lut[_lut_indices(_all_16_bit_values(frame.dtype.name), voi)]
        return np.take(table, frame.view(np.uint16))
    return voi.lut[_lut_indices(frame, voi)]


def _slice_pixels(
    volume: Volume, index: int, center: float | None, width: float | None
) -> np.ndarray:
    if not 0 <= index < len(volume):
        raise IndexError(f"frame {index} outside 0..{len(volume) - 1}")
    frame = volume.frame(index)
    if frame.ndim == 3:
        return frame
    voi = volume.vois[index] if index < len(volume.vois) else None
    if center is None and width is None and voi is not None:
        pixels = voi_to_uint8(frame, voi)
        return 255 - pixels if volume.monochrome1[index] else pixels
    center = volume.default_center if center is None else center
    width = volume.default_width if width is None else width
    assert center is not None and width is not None  # grayscale volumes always have a window
    pixels = window_any(frame, center, width)
    if volume.monochrome1[index]:
        pixels = 255 - pixels
    return pixels


def slice_image(
    volume: Volume,
    index: int,
    *,
    center: float | None = None,
    width: float | None = None,
) -> Image.Image:
    """The frame ``index`` as a Pillow image (mode ``L`` or ``RGB``), windowed if grayscale.

    ``center``/``width`` default to the volume's default window; colour frames ignore them.
    MONOCHROME1 frames are inverted. Raises IndexError for an index outside the volume.
    """
    return Image.fromarray(_slice_pixels(volume, index, center, width))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(kind))
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(pixels: np.ndarray, *, compress_level: int = 1) -> bytes:
    """Encode an 8-bit grayscale (H, W) or RGB (H, W, 3) array as PNG, fast.

    Pillow's encoder tries every PNG row filter, which costs 3 to 8 ms per 512×512 slice
    whatever the compression level; windowed slices gain little from filters. Rows are
    written unfiltered and deflated with the run-length strategy, which packs the black
    background of CT slices: about 1.5 ms and 80 kB for a 512×512 abdomen slice.
    """
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError("encode_png expects uint8 (H, W) or (H, W, 3) pixels")
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    raw = np.zeros((height, rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 = none
    raw[:, 1:] = rows
    compressor = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = compressor.compress(raw.tobytes()) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def render_slice(
    volume: Volume,
    index: int,
    *,
    center: float | None = None,
    width: float | None = None,
    compress_level: int = 1,
) -> bytes:
    """Render frame ``index`` of ``volume`` as PNG bytes (see ``slice_image``, ``encode_png``).

    A 512×512 CT slice takes about 2 ms (lookup-table windowing, then PNG).
    """
    return encode_png(_slice_pixels(volume, index, center, width), compress_level=compress_level)


def render_frame(
    key: str,
    index: int,
    load: Callable[[str], DicomSource],
    *,
    center: float | None = None,
    width: float | None = None,
    compress_level: int = 1,
) -> bytes:
    """PNG of frame ``index`` of one file, windowed with ``center``/``width``.

    Without a window, the frame's header VOI (window or VOI LUT, see ``Voi``) is used, else
    the frame's own automatic window. Frames go through the frame cache (kept while a page
    holds ``key``, see ``hold``). Raises IndexError for a frame the file does not have,
    InvalidInput when it cannot be decoded.
    """
    frame, inverted, voi = _cached_frame(key, index, load)
    if frame.ndim == 3:
        return encode_png(frame, compress_level=compress_level)
    if center is None and width is None and voi is not None:
        pixels = voi_to_uint8(frame, voi)
    else:
        if center is None or width is None:
            center, width = auto_window([frame])
        width = float(width) if float(width) > 0 else 1.0  # a zero width is a threshold
        pixels = window_any(frame, center, width)
    if inverted:
        pixels = 255 - pixels
    return encode_png(pixels, compress_level=compress_level)


# --------------------------------------------------------------------------------------------
# Patient identity checks and display
# --------------------------------------------------------------------------------------------


def normalize_name(text: str) -> str:
    """Upper-case, no accents, punctuation as single spaces ("Lefèvre-d'Aï": "LEFEVRE D AI")."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("ß", "SS").replace("Æ", "AE").replace("æ", "AE")
    plain = plain.replace("Œ", "OE").replace("œ", "OE")
    cleaned = "".join(ch if ch.isalnum() else " " for ch in plain.upper())
    return " ".join(cleaned.split())


def _names_match(a: str, b: str) -> bool:
    """Equal, or one holds all the words of the other (compound or usage names)."""
    if not a or not b:
        return True
    if a == b:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    return words_a <= words_b or words_b <= words_a


def _format_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _parse_date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = value.strip().replace(".", "").replace("-", "")
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    return None


def split_person_name(value: str | None) -> tuple[str, str]:
    """(last, first) from a DICOM PN ``LAST^FIRST^MIDDLE^PREFIX^SUFFIX`` (alphabetic group)."""
    if not value:
        return "", ""
    alphabetic = value.split("=")[0]
    parts = alphabetic.split("^")
    last = parts[0] if parts else ""
    first = " ".join(p for p in parts[1:3] if p)
    if len(parts) == 1 and "," in last:  # "LAST, FIRST" written by some tools
        last, _, first = last.partition(",")
    return last.strip(), first.strip()


@dataclass(frozen=True)
class IdentityDifference:
    """One identity field on which a DICOM header contradicts the case.

    ``field`` is the French name of the field ("nom", "prénom", "nom et prénom inversés",
    "date de naissance", "sexe"), ``header`` and ``case`` the two values as shown to the
    doctor, ``sentence`` a full French sentence saying it.
    """

    field: str
    header: str
    case: str
    sentence: str


def identity_differences(
    summary: Mapping[str, Any],
    *,
    last_name: str,
    first_name: str,
    birth_date: date | str | None,
    sex: str | None = None,
) -> list[IdentityDifference]:
    """The identity fields on which a DICOM header contradicts the patient of the case.

    Names are compared without accents, case or punctuation ("Lefèvre-Dupont" equals
    "LEFEVRE DUPONT"); a name that contains all the words of the other is accepted
    (compound or usage names: "DUPONT" vs "Dupont Martin"). An empty or anonymised header
    name (``ANONYMOUS``…) and a missing birth date say nothing and give no difference. Names
    found swapped give one difference of their own. ``sex`` (``"F"``/``"M"``) is compared
    when given.
    """
    found: list[IdentityDifference] = []
    header_last, header_first = split_person_name(summary.get("patient_name"))
    header_last_n, header_first_n = normalize_name(header_last), normalize_name(header_first)
    case_last_n, case_first_n = normalize_name(last_name), normalize_name(first_name)
    anonymous = normalize_name(f"{header_last} {header_first}") in _ANONYMOUS_NAMES
    shown = " ".join(p for p in (header_last, header_first) if p)
    if not anonymous and header_last_n:
        last_ok = _names_match(header_last_n, case_last_n)
        first_ok = _names_match(header_first_n, case_first_n)
        swapped = (
            header_first_n
            and _names_match(header_last_n, case_first_n)
            and _names_match(header_first_n, case_last_n)
        )
        if not (last_ok and first_ok) and swapped:
            found.append(
                IdentityDifference(
                    N_("nom et prénom inversés"),
                    shown,
                    f"{last_name} {first_name}",
                    _(
                        "Le nom et le prénom semblent inversés dans l'en-tête DICOM (« {shown} ») "
                        "par rapport au dossier (« {case} ») : vérifiez qu'il s'agit bien du "
                        "même patient."
                    ).format(shown=shown, case=f"{last_name} {first_name}"),
                )
            )
        else:
            if not last_ok:
                found.append(
                    IdentityDifference(
                        N_("nom"),
                        header_last,
                        last_name,
                        _(
                            "Le nom du patient dans l'en-tête DICOM (« {header} ») ne "
                            "correspond pas au nom du dossier (« {case} »)."
                        ).format(header=header_last, case=last_name),
                    )
                )
            if not first_ok:
                found.append(
                    IdentityDifference(
                        N_("prénom"),
                        header_first,
                        first_name,
                        _(
                            "Le prénom du patient dans l'en-tête DICOM (« {header} ») ne "
                            "correspond pas au prénom du dossier (« {case} »)."
                        ).format(header=header_first, case=first_name),
                    )
                )
    header_birth = _parse_date(summary.get("patient_birth_date"))
    case_birth = _parse_date(birth_date)
    if header_birth is not None and case_birth is not None and header_birth != case_birth:
        found.append(
            IdentityDifference(
                N_("date de naissance"),
                _format_date(header_birth),
                _format_date(case_birth),
                _(
                    "La date de naissance dans l'en-tête DICOM ({header}) ne correspond pas à "
                    "celle du dossier ({case})."
                ).format(header=_format_date(header_birth), case=_format_date(case_birth)),
            )
        )
    header_sex = str(summary.get("patient_sex") or "").strip().upper()[:1]
    case_sex = (sex or "").strip().upper()[:1]
    case_sex = {"H": "M"}.get(case_sex, case_sex)  # "Homme"
    if header_sex in ("F", "M") and case_sex in ("F", "M") and header_sex != case_sex:
        found.append(
            IdentityDifference(
                N_("sexe"),
                header_sex,
                case_sex,
                _(
                    "Le sexe indiqué dans l'en-tête DICOM ({header}) ne correspond pas à "
                    "celui du dossier ({case})."
                ).format(header=header_sex, case=case_sex),
            )
        )
    return found


def patient_mismatch(
    summary: Mapping[str, Any],
    *,
    last_name: str,
    first_name: str,
    birth_date: date | str | None,
    sex: str | None = None,
) -> list[str]:
    """French sentences, one per identity field on which the header contradicts the case
    (see ``identity_differences``); empty when nothing does."""
    return [
        d.sentence
        for d in identity_differences(
            summary, last_name=last_name, first_name=first_name, birth_date=birth_date, sex=sex
        )
    ]


def describe_differences(differences: Sequence[IdentityDifference]) -> str:
    """One line listing the differing fields: « nom (en-tête « X », dossier « Y »), … »."""
    return ", ".join(
        _("{field} (en-tête « {header} », dossier « {case} »)").format(
            field=_(d.field), header=d.header, case=d.case
        )
        for d in differences
    )


_MODALITY_LABELS = {
    "CT": N_("Scanner (CT)"),
    "MR": N_("IRM (MR)"),
    "US": N_("Échographie (US)"),
    "CR": N_("Radiographie (CR)"),
    "DX": N_("Radiographie (DX)"),
    "PT": N_("TEP (PT)"),
    "NM": N_("Médecine nucléaire (NM)"),
    "XA": N_("Angiographie (XA)"),
    "OT": N_("Autre (OT)"),
    "SM": N_("Microscopie (SM)"),
}


def _french_date(value: Any) -> str | None:
    parsed = _parse_date(value) if isinstance(value, str) else None
    return _format_date(parsed) if parsed else (str(value) if value else None)


def _number_text(value: float) -> str:
    return f"{value:g}".replace(".", get_decimal_symbol(FORMAT_LOCALES[current()]))


def display_metadata(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Key header facts as (French label, value) pairs, for a table beside the viewer.

    Absent values are left out.
    """
    last, first = split_person_name(summary.get("patient_name"))
    rows: list[tuple[str, str | None]] = [
        (_("Patient"), " ".join(p for p in (last, first) if p) or None),
        (_("Date de naissance"), _french_date(summary.get("patient_birth_date"))),
        (_("Sexe"), summary.get("patient_sex")),
        (_("Date de l'examen"), _french_date(summary.get("study_date"))),
        (_("Examen"), summary.get("study_description")),
        (
            _("Modalité"),
            _(_MODALITY_LABELS[str(summary.get("modality"))])
            if str(summary.get("modality")) in _MODALITY_LABELS
            else summary.get("modality"),
        ),
        (_("Série"), summary.get("series_description")),
        (_("N° de série"), _str_or_none(summary.get("series_number"))),
        (_("N° d'image"), _str_or_none(summary.get("instance_number"))),
    ]
    if summary.get("rows") and summary.get("columns"):
        rows.append((_("Matrice"), f"{summary['columns']} × {summary['rows']}"))
    frames = summary.get("frames")
    if frames and int(frames) > 1:
        rows.append((_("Images dans le fichier"), str(frames)))
    spacing = summary.get("pixel_spacing")
    if spacing:
        rows.append(
            (_("Taille du pixel"), f"{_number_text(spacing[0])} × {_number_text(spacing[1])} mm")
        )
    thickness = summary.get("slice_thickness")
    if thickness:
        rows.append((_("Épaisseur de coupe"), f"{_number_text(float(thickness))} mm"))
    rows.append((_("Type d'image"), summary.get("photometric_interpretation")))
    rows.append((_("Compression"), summary.get("transfer_syntax_name")))
    return [(label, str(value)) for label, value in rows if value not in (None, "")]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
