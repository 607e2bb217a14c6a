"""DICOM files made for tests and benches: the largest ones the limits accept or refuse."""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.uid import CTImageStorage, RLELossless, generate_uid


def _rle_blank_frame(rows: int, columns: int) -> bytes:
    """One 16-bit RLE Lossless frame of zeros (two byte planes, runs of 128 bytes)."""
    runs, rest = divmod(columns, 128)
    row = b"\x81\x00" * runs + (bytes([257 - rest, 0]) if rest else b"")
    segment = row * rows
    if len(segment) % 2:
        segment += b"\x00"
    header = struct.pack("<16I", 2, 64, 64 + len(segment), *([0] * 13))
    return header + segment + segment


def rle_blank(rows: int, columns: int, frames: int) -> bytes:
    """A CT file announcing ``frames`` frames of ``rows`` × ``columns`` 16-bit pixels.

    The pixels are zeros, RLE-compressed: a few MiB on disk for hundreds of MiB decoded, the
    shape of a file made to exhaust a server's memory.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientBirthDate = "CT", "ESSAI^Zoe", "19800517"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    frame = _rle_blank_frame(rows, columns)
    ds.PixelData = encapsulate([frame] * frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    out = DicomBytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
