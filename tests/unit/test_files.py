"""Tests for rcp.files: content sniffing, names, the content-addressed store, upload checks."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pydicom.examples
import pydicom.uid
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from rcp import files
from rcp.errors import InvalidInput, StorageError
from rcp.files import FileStore, expand_upload, sanitize_filename, sniff_kind

warnings.filterwarnings("ignore", module="pydicom")

MB = 1024 * 1024
LIMITS = {"max_file_bytes": 50 * MB, "max_total_bytes": 200 * MB}
ASSISTANT = "contactez l'assistant de votre RCP."


def bundled(name: str) -> bytes:
    return Path(get_testdata_file(name, download=False)).read_bytes()


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(
        buffer, format="JPEG"
    )
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR announces ``width`` × ``height`` but holds almost no data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- sniff_kind ------------------------------------------------------------------------------


def test_dicom_is_recognised_by_its_signature_whatever_the_name() -> None:
    assert sniff_kind(bundled("CT_small.dcm")) == "dicom"


def test_preamble_less_dicom_is_recognised() -> None:
    assert sniff_kind(bundled("ExplVR_LitEndNoMeta.dcm")) == "dicom"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png_bytes(), "image"),
        (jpeg_bytes(), "image"),
        (PDF, "pdf"),
        (make_zip({"a.txt": b"x"}), "zip"),
        ("Compte rendu opératoire".encode(), "other"),
        (os.urandom(2048), "other"),
        (b"\x08\x00\x05\x00" + os.urandom(2044), "other"),
    ],
    ids=["png", "jpeg", "pdf", "zip", "text", "random", "dicom-like-start"],
)
def test_kind_is_decided_by_content(data: bytes, kind: str) -> None:
    assert sniff_kind(data) == kind


# -- sanitize_filename -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\dr\\Scanner rénal.dcm", "Scanner rénal.dcm"),
        ("compte\x00rendu\x1f.pdf", "compterendu.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ('a<b>c:d"e|f?g*h.png', "a_b_c_d_e_f_g_h.png"),
        ("  .cache.  ", "cache"),
        ("Échographie   rénale  .pdf", "Échographie rénale .pdf"),
        ("CON.txt", "_CON.txt"),
        ("", "fichier"),
        ("..", "fichier"),
        ("/", "fichier"),
    ],
)
def test_filename_is_made_safe(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_long_filename_is_cut_but_keeps_its_extension() -> None:
    result = sanitize_filename("é" * 300 + ".pdf")
    assert len(result) == files.MAX_NAME_CHARS
    assert result.endswith("é.pdf")


def test_decomposed_accents_are_recomposed() -> None:
    assert sanitize_filename("re\u0301nal.pdf") == "rénal.pdf"


# -- FileStore -------------------------------------------------------------------------------


def test_put_stores_content_under_its_hash(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    blob = store.put(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    assert blob.sha256 == digest and blob.size == 5
    assert blob.relpath == f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert (tmp_path / blob.relpath).read_bytes() == b"hello"
    assert store.path(digest) == tmp_path / blob.relpath


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store.put(b"same")
    before = store.path(first.sha256).stat()
    time.sleep(0.01)
    second = store.put(b"same")
    after = store.path(first.sha256).stat()
    assert second == first
    assert after.st_ino == before.st_ino  # not rewritten (a rewrite replaces the inode)
    # ...but its age is refreshed, so fsck --repair cannot take it for an old orphan.
    assert after.st_mtime_ns > before.st_mtime_ns
    assert list(store.iter_blobs()) == [first.sha256]


def test_damaged_copy_of_the_same_hash_is_replaced(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    blob = store.put(b"complete content")
    store.path(blob.sha256).write_bytes(b"compl")  # e.g. restored from a bad backup
    store.put(b"complete content")
    assert store.read(blob.sha256) == b"complete content"
    assert store.verify(blob.sha256)


def test_open_read_exists_and_delete(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    blob = store.put(b"abc")
    assert store.exists(blob.sha256)
    with store.open(blob.sha256) as handle:
        assert handle.read() == b"abc"
    assert store.delete(blob.sha256) is True
    assert not store.exists(blob.sha256)
    assert store.delete(blob.sha256) is False


def test_missing_file_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        FileStore(tmp_path).open("0" * 64)


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "A" * 64, "abc", ""])
def test_invalid_identifier_is_refused(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(InvalidInput):
        FileStore(tmp_path).path(bad_id)


def test_verify_detects_altered_content(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    blob = store.put(b"original")
    store.path(blob.sha256).write_bytes(b"altered!")
    assert store.verify(blob.sha256) is False


def test_failed_write_leaves_neither_final_nor_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageError):
        store.put(b"x" * 1000)
    assert not store.exists(hashlib.sha256(b"x" * 1000).hexdigest())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_interrupted_write_never_shows_a_partial_file_under_the_final_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    seen_during_write: list[bool] = []
    real_replace = os.replace

    def crash_before_rename(src: str, dst: str) -> None:
        seen_during_write.append(Path(dst).exists())
        raise KeyboardInterrupt  # the process is stopped just before the rename

    monkeypatch.setattr(os, "replace", crash_before_rename)
    with pytest.raises(KeyboardInterrupt):
        store.put(b"y" * 1000)
    monkeypatch.setattr(os, "replace", real_replace)
    assert seen_during_write == [False]
    assert not store.exists(hashlib.sha256(b"y" * 1000).hexdigest())


def test_temporary_files_left_by_a_crash_are_ignored_then_cleaned(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    blob = store.put(b"kept")
    folder = store.path(blob.sha256).parent
    stale = folder / ".tmp-crashed"
    stale.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = folder / ".tmp-in-progress"
    fresh.write_bytes(b"writing")
    assert list(store.iter_blobs()) == [blob.sha256]
    assert store.cleanup_temp(older_than_seconds=3600) == 1
    assert not stale.exists() and fresh.exists()
    assert store.read(blob.sha256) == b"kept"


def test_iter_blobs_lists_every_stored_file_and_nothing_else(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    hashes = {store.put(bytes([i]) * 10).sha256 for i in range(5)}
    (tmp_path / "notes.txt").write_text("stray")
    (tmp_path / "ab").mkdir(exist_ok=True)
    (tmp_path / "ab" / "zz").mkdir()
    assert set(store.iter_blobs()) == hashes


def test_concurrent_identical_puts_end_with_one_complete_file(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = FileStore(tmp_path, fsync=False)
    data = os.urandom(256 * 1024)
    with ThreadPoolExecutor(max_workers=4) as pool:
        blobs = list(pool.map(lambda _i: store.put(data), range(8)))
    assert len({b.sha256 for b in blobs}) == 1
    assert store.verify(blobs[0].sha256)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [blobs[0].sha256]


def test_put_many_stores_each_file_and_keeps_the_order(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    contents = [os.urandom(1000) for _ in range(6)] + [b"dup", b"dup"]
    blobs = store.put_many(contents, workers=3)
    assert [b.sha256 for b in blobs] == [hashlib.sha256(c).hexdigest() for c in contents]
    assert all(store.read(b.sha256) == c for b, c in zip(blobs, contents, strict=True))
    assert len(set(store.iter_blobs())) == 7


# -- expand_upload: single files -------------------------------------------------------------


def test_single_dicom_file_is_accepted_with_its_summary() -> None:
    (item,) = expand_upload("../scanner/CT_small.dcm", bundled("CT_small.dcm"), **LIMITS)
    assert item.name == "CT_small.dcm"
    assert item.kind == "dicom"
    assert item.summary is not None and item.summary["modality"] == "CT"


def test_kind_comes_from_content_not_from_the_name() -> None:
    (item,) = expand_upload("photo.jpg", bundled("CT_small.dcm"), **LIMITS)
    assert item.kind == "dicom"


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [("echo.png", png_bytes(), "image"), ("p.jpeg", jpeg_bytes(), "image"), ("cr.pdf", PDF, "pdf")],
)
def test_images_and_pdf_are_accepted(name: str, data: bytes, kind: str) -> None:
    (item,) = expand_upload(name, data, **LIMITS)
    assert (item.kind, item.summary, item.data) == (kind, None, data)


def test_office_document_is_kept_whole_as_other() -> None:
    docx = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    (item,) = expand_upload("Courrier néphrologue.docx", docx, **LIMITS)
    assert (item.kind, item.name) == ("other", "Courrier néphrologue.docx")


def test_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="est vide"):
        expand_upload("vide.pdf", b"", **LIMITS)


def test_file_over_the_limit_is_refused_with_the_limit_in_mo() -> None:
    with pytest.raises(InvalidInput, match=r"\(1 Mo\)"):
        expand_upload("gros.pdf", PDF + b" " * MB, max_file_bytes=MB, max_total_bytes=10 * MB)


def test_non_dicom_file_named_dcm_is_refused_with_assistant_advice() -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_upload("coupe.dcm", b"this is not an image", **LIMITS)
    assert "n'est pas un fichier DICOM" in str(caught.value)
    assert str(caught.value).endswith(ASSISTANT)


def test_truncated_dicom_is_refused_with_assistant_advice() -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_upload("coupe.dcm", bundled("CT_small.dcm")[:-3000], **LIMITS)
    assert "tronqué" in str(caught.value)
    assert str(caught.value).endswith(ASSISTANT)


def test_dicom_cut_inside_its_header_is_refused_with_assistant_advice() -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_upload("coupe", bundled("CT_small.dcm")[:700], **LIMITS)
    assert str(caught.value).endswith(ASSISTANT)


@pytest.mark.parametrize(
    "name", ["badVR.dcm", "JPEG2000-embedded-sequence-delimiter.dcm", "nested_priv_SQ.dcm"]
)
def test_corrupt_dicom_is_refused_with_assistant_advice(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_upload(name, bundled(name), **LIMITS)
    assert str(caught.value).endswith(ASSISTANT)


def test_dicomdir_alone_is_refused_and_the_archive_asked_for() -> None:
    data = Path(pydicom.examples.dicomdir.filename).read_bytes()
    with pytest.raises(InvalidInput, match="archive ZIP") as caught:
        expand_upload("DICOMDIR", data, **LIMITS)
    assert str(caught.value).endswith(ASSISTANT)


def test_image_with_huge_dimensions_is_refused_before_decoding() -> None:
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(InvalidInput, match="trop grande"):
        expand_upload("bombe.png", bomb, **LIMITS)


def test_image_just_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="8000 × 8000"):
        expand_upload("photo.png", png_header_only(8000, 8000), **LIMITS)


def test_pillow_limit_is_set_explicitly() -> None:
    assert Image.MAX_IMAGE_PIXELS == files.MAX_IMAGE_PIXELS


def test_truncated_png_is_refused() -> None:
    data = png_bytes((300, 300))
    with pytest.raises(InvalidInput, match="illisible"):
        expand_upload("coupe.png", data[: len(data) // 2], **LIMITS)


def test_truncated_pdf_is_refused() -> None:
    with pytest.raises(InvalidInput, match="tronqué"):
        expand_upload("cr.pdf", PDF[:40], **LIMITS)


def test_unsupported_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="n'est pas pris en charge"):
        expand_upload("outil.exe", b"MZ\x90\x00" + os.urandom(100), **LIMITS)


def test_text_document_is_accepted_as_other_unless_disabled() -> None:
    (item,) = expand_upload("notes.txt", "Créatinine 120 µmol/l".encode(), **LIMITS)
    assert item.kind == "other"
    with pytest.raises(InvalidInput):
        expand_upload("notes.txt", b"x", **LIMITS, allow_other=False)


def test_name_ending_in_zip_with_other_content_is_refused() -> None:
    with pytest.raises(InvalidInput, match="archive ZIP valide"):
        expand_upload("serie.zip", PDF, **LIMITS)


# -- expand_upload: archives -----------------------------------------------------------------


def test_zip_over_the_total_limit_is_refused_before_opening() -> None:
    archive = make_zip({"a.dcm": os.urandom(2 * MB)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(InvalidInput, match=r"dépasse la taille maximale autorisée \(1 Mo\)"):
        expand_upload("serie.zip", archive, max_file_bytes=10 * MB, max_total_bytes=MB)


def test_zip_of_a_dicom_series_gives_one_item_per_file() -> None:
    names = ["MR_small.dcm", "CT_small.dcm", "MR_small_RLE.dcm"]
    archive = make_zip({f"serie/{name}": bundled(name) for name in names})
    items = expand_upload("serie.zip", archive, **LIMITS)
    assert [item.name for item in items] == names
    assert all(item.kind == "dicom" and item.summary for item in items)


def test_zip_of_a_dicom_cd_drops_the_dicomdir_index_and_junk() -> None:
    folder = Path(pydicom.examples.dicomdir.filename).parent
    entries = {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and "TINY_ALPHA" not in path.parts
        and "DICOMDIR-" not in path.name
        and path.name != "README"
    }
    entries["__MACOSX/._DICOMDIR"] = b"\x00\x05\x16\x07"
    entries[".DS_Store"] = b"\x00\x00\x00\x01Bud1"
    entries["viewer/Viewer.exe"] = b"MZ" + os.urandom(64)
    items = expand_upload("cd.zip", make_zip(entries), **LIMITS)
    images = [k for k in entries if k.split("/")[0].isdigit()]
    assert len(items) == len(images) == 31
    assert all(item.kind == "dicom" and item.summary["has_pixels"] for item in items)


def test_zip_with_images_and_pdf_keeps_them() -> None:
    archive = make_zip({"a.png": png_bytes(), "b.pdf": PDF})
    assert [(i.name, i.kind) for i in expand_upload("x.zip", archive, **LIMITS)] == [
        ("a.png", "image"),
        ("b.pdf", "pdf"),
    ]


def test_zip_with_one_corrupt_dicom_keeps_the_rest_and_says_why() -> None:
    """One unreadable file of a CD must not refuse the whole archive."""
    archive = make_zip({"1.dcm": bundled("CT_small.dcm"), "2.dcm": bundled("MR_truncated.dcm")})
    items = expand_upload("serie.zip", archive, **LIMITS)
    assert [i.name for i in items] == ["1.dcm"]
    (refusal,) = items.refused
    assert refusal.name == "2.dcm" and "tronqué" in refusal.reason
    assert not refusal.reason.endswith(ASSISTANT)  # said once, by the page


def test_zip_with_a_non_dicom_entry_named_dcm_keeps_the_valid_ones() -> None:
    archive = make_zip({"1.dcm": bundled("CT_small.dcm"), "2.dcm": b"garbage"})
    items = expand_upload("serie.zip", archive, **LIMITS)
    assert [i.name for i in items] == ["1.dcm"]
    assert [(r.name, "n'est pas un fichier DICOM" in r.reason) for r in items.refused] == [
        ("2.dcm", True)
    ]


def test_zip_whose_entries_are_all_unusable_is_refused_with_the_reasons() -> None:
    archive = make_zip({"1.dcm": bundled("MR_truncated.dcm"), "2.dcm": b"garbage"})
    with pytest.raises(InvalidInput) as caught:
        expand_upload("serie.zip", archive, **LIMITS)
    message = str(caught.value)
    assert "« 1.dcm »" in message and "« 2.dcm »" in message and message.endswith(ASSISTANT)


def dicom_with_syntax(uid: str) -> bytes:
    """CT_small re-labelled with a transfer syntax pydicom does not know (as met in old GE
    files, or one newer than the platform)."""
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(uid)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=False, little_endian=True, force_encoding=True)
    return buffer.getvalue()


@pytest.mark.parametrize("uid", ["1.2.840.113619.5.2", "1.2.840.10008.1.2.4.999"])
def test_dicom_in_an_unknown_transfer_syntax_is_refused_in_french(uid: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        expand_upload("ge.dcm", dicom_with_syntax(uid), **LIMITS)
    assert f"syntaxe de transfert que la plateforme ne sait pas lire ({uid}" in str(caught.value)
    assert str(caught.value).endswith(ASSISTANT)


def test_dicom_in_an_unknown_transfer_syntax_inside_a_zip_leaves_the_rest() -> None:
    archive = make_zip(
        {"ok.dcm": bundled("CT_small.dcm"), "ge.dcm": dicom_with_syntax("1.2.840.113619.5.2")}
    )
    items = expand_upload("cd.zip", archive, **LIMITS)
    assert [i.name for i in items] == ["ok.dcm"]
    assert [r.name for r in items.refused] == ["ge.dcm"]
    assert "1.2.840.113619.5.2" in items.refused[0].reason


def test_deflated_dicom_is_accepted() -> None:
    ds = pydicom.dcmread(io.BytesIO(bundled("CT_small.dcm")))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    (item,) = expand_upload("deflate.dcm", buffer.getvalue(), **LIMITS)
    assert item.summary["transfer_syntax_name"] == "Deflated Explicit VR Little Endian"


def test_zip_bomb_is_refused_by_its_compression_ratio() -> None:
    bomb = make_zip({"coupe.dcm": bytes(40 * MB)})
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match="bombe de décompression"):
        expand_upload("serie.zip", bomb, max_file_bytes=100 * MB, max_total_bytes=500 * MB)


def test_zip_bomb_is_refused_by_its_declared_total_size() -> None:
    bomb = make_zip({f"{i}.dcm": bytes(2 * MB) for i in range(30)})
    with pytest.raises(InvalidInput, match=r"dépasse la taille autorisée \(50 Mo\)"):
        expand_upload(
            "serie.zip", bomb, max_file_bytes=10 * MB, max_total_bytes=50 * MB, max_ratio=10**6
        )


def test_zip_entry_in_an_unsupported_compression_method_is_refused_as_corrupt() -> None:
    """zipfile raises NotImplementedError for a method it cannot read (here 99, WinZip's AES):
    the doctor gets the French "archive corrompue" message, not a traceback."""
    archive = bytearray(
        make_zip({"1.dcm": bundled("CT_small.dcm")}, compression=zipfile.ZIP_STORED)
    )
    local, central = archive.find(b"PK\x03\x04"), archive.find(b"PK\x01\x02")
    struct.pack_into("<H", archive, local + 8, 99)
    struct.pack_into("<H", archive, central + 10, 99)
    with pytest.raises(InvalidInput, match=r"« serie.zip » .*« 1.dcm » : fichier illisible"):
        expand_upload("serie.zip", bytes(archive), **LIMITS)


def test_zip_entry_over_the_file_limit_is_refused() -> None:
    archive = make_zip({"gros.dcm": os.urandom(2 * MB)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(InvalidInput, match=r"gros.dcm.*\(1 Mo\)"):
        expand_upload("serie.zip", archive, max_file_bytes=MB, max_total_bytes=10 * MB)


def _forge_sizes(archive: bytes, member: str, declared: int) -> bytes:
    """Rewrite the uncompressed size that the local and central headers declare."""
    data = bytearray(archive)
    encoded = member.encode()
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    assert data[central + 46 : central + 46 + len(encoded)] == encoded
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_zip_bomb_lying_about_its_sizes_is_refused_while_reading() -> None:
    honest = make_zip({"coupe.dcm": bytes(20 * MB)})
    liar = _forge_sizes(honest, "coupe.dcm", 1000)
    info = zipfile.ZipFile(io.BytesIO(liar)).infolist()[0]
    assert info.file_size == 1000  # the declared checks pass
    with pytest.raises(InvalidInput):
        expand_upload("serie.zip", liar, max_file_bytes=MB, max_total_bytes=MB)


def test_read_stops_at_the_hard_cap_whatever_the_header_says() -> None:
    archive = zipfile.ZipFile(io.BytesIO(make_zip({"a.dcm": bytes(3 * MB)})))
    with pytest.raises(InvalidInput, match="dépasse"):
        files._read_member(archive, archive.infolist()[0], cap=MB, name="a.zip", limit_text="1 Mo")


@pytest.mark.parametrize(
    "member",
    ["../../evil.dcm", "serie/../../evil.dcm", "/etc/evil.dcm", "C:/evil.dcm", "..\\x.dcm"],
)
def test_zip_with_a_dangerous_path_is_refused(member: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("ok.dcm"), bundled("CT_small.dcm"))
        info = zipfile.ZipInfo("placeholder")
        info.filename = member  # ZipInfo() would normalise the name; a forged archive does not
        archive.writestr(info, b"x")
    with pytest.raises(InvalidInput, match="chemin dangereux"):
        expand_upload("serie.zip", buffer.getvalue(), **LIMITS)


def test_zip_with_too_many_entries_is_refused() -> None:
    archive = make_zip({f"{i}.txt": b"x" for i in range(11)})
    with pytest.raises(InvalidInput, match="trop de fichiers"):
        expand_upload("serie.zip", archive, **LIMITS, max_entries=10)


def test_nested_zip_is_refused() -> None:
    inner = make_zip({"a.dcm": bundled("CT_small.dcm")})
    with pytest.raises(InvalidInput, match="archive imbriquée"):
        expand_upload("serie.zip", make_zip({"inner.zip": inner}), **LIMITS)


def test_encrypted_zip_is_refused() -> None:
    data = bytearray(make_zip({"a.dcm": bundled("CT_small.dcm")}))
    # zipfile cannot encrypt: set the "encrypted" flag in both headers as an encrypting tool would.
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0].flag_bits & 0x1
    with pytest.raises(InvalidInput, match="mot de passe"):
        expand_upload("serie.zip", bytes(data), **LIMITS)


def test_corrupt_zip_is_refused() -> None:
    archive = make_zip({"a.dcm": bundled("CT_small.dcm")})
    with pytest.raises(InvalidInput, match="illisible ou corrompue"):
        expand_upload("serie.zip", archive[: len(archive) // 2], **LIMITS)


def test_zip_with_nothing_usable_is_refused() -> None:
    with pytest.raises(InvalidInput, match="aucun fichier exploitable"):
        expand_upload("x.zip", make_zip({"readme.txt": b"hello", ".DS_Store": b"x"}), **LIMITS)


def test_zip_with_a_huge_image_is_refused() -> None:
    with pytest.raises(InvalidInput, match="trop grande"):
        expand_upload("x.zip", make_zip({"a.png": png_header_only(60_000, 60_000)}), **LIMITS)


def test_format_megabytes_uses_french_decimals() -> None:
    assert files.format_megabytes(50 * MB) == "50 Mo"
    assert files.format_megabytes(int(1.5 * MB)) == "1,5 Mo"


def test_format_megabytes_follows_the_language() -> None:
    from rcp import i18n

    with i18n.using("en"):
        assert files.format_megabytes(50 * MB) == "50 MB"
        assert files.format_megabytes(int(1.5 * MB)) == "1.5 MB"


def test_sizes_and_kinds_in_words_in_both_languages() -> None:
    from rcp import attachments, i18n
    from rcp.dates import format_size

    assert format_size(40_141) == "39,2 Ko"
    assert format_size(512) == "512 octets" and format_size(1) == "1 octet"
    assert format_size(int(1.5 * MB)) == "1,5 Mo"
    assert format_size(300 * 1024) == "300 Ko"
    assert attachments.kind_label("pdf") == "Compte rendu PDF"
    assert attachments.kind_label("dicom") == "Image DICOM"
    with i18n.using("en"):
        assert format_size(40_141) == "39.2 kB"
        assert format_size(512) == "512 bytes"
        assert format_size(int(1.5 * MB)) == "1.5 MB"
        assert attachments.kind_label("pdf") == "PDF report"
        assert attachments.kind_label("dicom") == "DICOM image"
        assert attachments.kind_label("image") == "Image"
