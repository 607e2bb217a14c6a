"""Upload validation (kinds, names, archives, limits) and a content-addressed file store."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from PIL import Image

from rcp import dates, dicom
from rcp.errors import InvalidInput, StorageError
from rcp.i18n import _

MAX_IMAGE_PIXELS = 50_000_000
"""Largest photo accepted (width × height, ~7000 × 7000): a decompression-bomb guard."""

# Pillow's own guard applies to every image this process opens (including in rcp.dicom).
# Pillow warns above the limit and raises above twice the limit; expand_upload refuses at
# the limit itself, before decoding.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

DEFAULT_MAX_ENTRIES = 3000
"""Most files accepted in one archive (a CT series is a few hundred to two thousand files)."""

DEFAULT_MAX_RATIO = 100
"""Highest compression ratio accepted for an archive entry (DICOM rarely exceeds 10)."""

RATIO_CHECK_MIN_BYTES = 1024 * 1024
"""Entries smaller than this are not held to the ratio limit (tiny files compress freely)."""

KINDS = ("dicom", "image", "pdf", "zip", "other")

OTHER_EXTENSIONS = frozenset(
    {".txt", ".csv", ".rtf", ".doc", ".docx", ".odt", ".xls", ".xlsx", ".ods", ".ppt", ".pptx"}
)
"""Office and text documents, kept as kind "other" (downloaded, never displayed inline)."""

# Documents that are zip files inside: stored as they are, never expanded.
_ZIP_DOCUMENT_EXTENSIONS = frozenset({".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"})
_DICOM_EXTENSIONS = frozenset({".dcm", ".dicom", ".dic"})
# Files that DICOM CDs and OS archivers add beside the images, ignored in archives.
_JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "autorun.inf"})
_RESERVED_CHARS = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"
MAX_NAME_CHARS = 120
_CHUNK = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Kinds and names
# --------------------------------------------------------------------------------------------


def sniff_kind(data: bytes) -> str:
    """Return the kind of a file from its content: dicom, image, pdf, zip or other.

    DICOM is recognised by ``DICM`` at offset 128, or as a preamble-less dataset that passes
    ``rcp.dicom.is_dicom`` (which refuses arbitrary bytes). Images are PNG or JPEG by their
    signatures, PDF starts with ``%PDF-``, zip with ``PK``. The name is never consulted.
    """
    if dicom.has_dicm_magic(data):
        return "dicom"
    if data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff"):
        return "image"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if dicom.is_dicom(data):
        return "dicom"
    return "other"


def sanitize_filename(name: str) -> str:
    """Make an uploaded name safe to show and to offer for download.

    Keeps the last path component (``/`` or ``\\``), normalises to NFC, removes control and
    format characters (including bidirectional overrides that disguise extensions), replaces
    ``<>:"/\\|?*`` by ``_``, collapses spaces, strips leading dots and trailing dots/spaces,
    prefixes Windows device names, and cuts the stem so the name has at most
    ``MAX_NAME_CHARS`` characters, keeping the extension. Accents are kept. Never empty:
    ``"fichier"`` when nothing is left.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    text = _RESERVED_CHARS.sub("_", text)
    text = " ".join(text.split())
    text = text.lstrip(". ").rstrip(". ")
    if _WINDOWS_RESERVED.match(text):
        text = f"_{text}"
    if len(text) > MAX_NAME_CHARS:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            keep = MAX_NAME_CHARS - len(extension) - 1
            text = f"{stem[:keep].rstrip(' .')}.{extension}"
        else:
            text = text[:MAX_NAME_CHARS].rstrip(" .")
    return text or "fichier"


def _extension(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def format_megabytes(size: int) -> str:
    """Size in Mo (2**20 bytes) in the current language: 52428800 -> "50 Mo" / "50 MB",
    1572864 -> "1,5 Mo" / "1.5 MB"."""
    return dates.format_megabytes(size)


# --------------------------------------------------------------------------------------------
# Content-addressed store
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredBlob:
    """A stored file: its sha256 (the id), size in bytes and path relative to the store root."""

    sha256: str
    size: int
    relpath: str


class FileStore:
    """Files stored once each under ``root/ab/cd/<sha256>``.

    Writes are atomic: the content goes to a temporary file in the destination folder, is
    flushed and fsynced, then renamed with ``os.replace`` (and the folder fsynced), so a
    crash leaves at worst a ``.tmp-*`` file that ``cleanup_temp`` removes, never a partial
    file under a final name. Identical content is stored once. Files are never modified
    after they are written; ``delete`` exists for the consistency check that removes files
    no database row points to.
    """

    def __init__(self, root: Path | str, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self._fsync = fsync

    # -- naming ---------------------------------------------------------------------------

    @staticmethod
    def _check_id(sha256: str) -> str:
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise InvalidInput(_("Identifiant de fichier invalide."))
        return sha256

    @staticmethod
    def relpath_for(sha256: str) -> str:
        """Relative path (POSIX) of a content hash: ``ab/cd/<sha256>``."""
        sha256 = FileStore._check_id(sha256)
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, sha256: str) -> Path:
        """Absolute path where the content ``sha256`` is (or would be) stored."""
        return self.root / self.relpath_for(sha256)

    # -- reading ---------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        """Tell whether the content is stored."""
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored file for reading (binary); the caller closes it.

        Raises
        ------
        StorageError
            When the file is missing (the database points to a file that is gone).
        """
        try:
            return open(self.path(sha256), "rb")
        except FileNotFoundError as exc:
            raise StorageError(_("Le fichier est introuvable dans le stockage.")) from exc
        except OSError as exc:
            raise StorageError(_("Le fichier n'a pas pu être lu.")) from exc

    def read(self, sha256: str) -> bytes:
        """Whole content of a stored file (see ``open``)."""
        with self.open(sha256) as handle:
            return handle.read()

    def iter_blobs(self) -> Iterator[str]:
        """Yield the sha256 of every stored file (temporary files and strays are skipped)."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if not (first.is_dir() and re.fullmatch(r"[0-9a-f]{2}", first.name)):
                continue
            for second in sorted(first.iterdir()):
                if not (second.is_dir() and re.fullmatch(r"[0-9a-f]{2}", second.name)):
                    continue
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if (
                        _SHA256.match(name)
                        and name.startswith(first.name + second.name)
                        and entry.is_file()
                    ):
                        yield name

    def verify(self, sha256: str) -> bool:
        """Recompute the hash of a stored file; False when missing or altered."""
        digest = hashlib.sha256()
        try:
            with open(self.path(sha256), "rb") as handle:
                for chunk in iter(lambda: handle.read(_CHUNK), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    # -- writing ---------------------------------------------------------------------------

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data`` (once) and return its sha256, size and relative path.

        An existing file with the same hash and size is reused without writing; one with a
        different size (damaged) is replaced.

        Raises
        ------
        StorageError
            When the disk refuses the write (full, read-only, permissions).
        """
        sha256 = hashlib.sha256(data).hexdigest()
        relpath = self.relpath_for(sha256)
        final = self.root / relpath
        try:
            if final.is_file() and final.stat().st_size == len(data):
                # Refresh the age: fsck --repair only removes orphans older than its minimum
                # age, and this file is about to be referenced again.
                os.utime(final)
                return StoredBlob(sha256=sha256, size=len(data), relpath=relpath)
            final.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomically(final, data)
        except OSError as exc:
            raise StorageError(
                _("Le fichier n'a pas pu être enregistré (espace disque ou droits insuffisants).")
            ) from exc
        return StoredBlob(sha256=sha256, size=len(data), relpath=relpath)

    def put_many(self, contents: Sequence[bytes], *, workers: int = 4) -> list[StoredBlob]:
        """Store several files (e.g. a DICOM series), in the given order; see ``put``.

        Hashing and fsync release the GIL, so a few threads overlap the disk waits of a
        300-file series. Each file is still written atomically; on an error, files already
        stored stay (they are complete, and unreferenced ones are removed by the fsck).
        """
        if len(contents) <= 1 or workers <= 1:
            return [self.put(data) for data in contents]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.put, contents))

    def _write_atomically(self, final: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if self._fsync:
                    os.fsync(handle.fileno())
            os.replace(temp_name, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        if self._fsync:
            self._fsync_dir(final.parent)

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        """Make the rename durable (POSIX); not possible on every platform, hence best effort."""
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def delete(self, sha256: str) -> bool:
        """Remove a stored file; True if it existed. Only for files no row refers to."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(_("Le fichier n'a pas pu être supprimé.")) from exc
        return True

    def cleanup_temp(self, *, older_than_seconds: float = 3600.0) -> int:
        """Remove temporary files left by interrupted writes; return how many were removed.

        Only files older than ``older_than_seconds`` go, so that a write in progress in
        another process is not disturbed.
        """
        if not self.root.is_dir():
            return 0
        limit = time.time() - older_than_seconds
        removed = 0
        for temp in self.root.glob(f"*/*/{_TEMP_PREFIX}*"):
            try:
                if temp.is_file() and temp.stat().st_mtime <= limit:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


# --------------------------------------------------------------------------------------------
# Upload expansion and validation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A file of an archive that was left out, and why (French, shown to the doctor)."""

    name: str
    reason: str


class Expansion(list["UploadItem"]):
    """The accepted files of an upload (a list), with ``refused``: the archive's entries that
    were left out, each with its reason (empty for a single file, which is all or nothing)."""

    def __init__(self, items: Sequence[UploadItem] = (), refused: Sequence[Refusal] = ()) -> None:
        super().__init__(items)
        self.refused: list[Refusal] = list(refused)


@dataclass(frozen=True)
class UploadItem:
    """One accepted file: sanitized name, content, kind and, for DICOM, its header summary."""

    name: str
    data: bytes = field(repr=False)
    kind: str
    summary: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


def _check_image(name: str, data: bytes, max_image_pixels: int) -> None:
    """Refuse images with huge dimensions (before decoding) and damaged ones."""
    try:
        with warnings.catch_warnings():
            # Between the limit and twice it Pillow only warns; the check below refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_image_pixels:
                    raise InvalidInput(
                        _(
                            "L'image « {name} » est trop grande ({width} × {height} "
                            "pixels ; maximum {millions} millions de pixels)."
                        ).format(
                            name=name,
                            width=width,
                            height=height,
                            millions=max_image_pixels // 1_000_000,
                        )
                    )
                image.load()  # decodes: finds truncated or corrupt data
    except InvalidInput:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            _("L'image « {name} » est trop grande (dimensions annoncées démesurées).").format(
                name=name
            )
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(
            _("L'image « {name} » est illisible (fichier tronqué ou corrompu).").format(name=name)
        ) from exc


def _check_pdf(name: str, data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise InvalidInput(_("Le PDF « {name} » semble tronqué ou corrompu.").format(name=name))


def _check_dicom(name: str, data: bytes) -> dict[str, Any]:
    try:
        return dicom.check_dicom(data)
    except InvalidInput as exc:
        raise dicom.dicom_error(
            _("Fichier « {name} » : {reason}").format(name=name, reason=_without_advice(str(exc)))
        ) from exc


def _without_advice(message: str) -> str:
    return message.removesuffix(_(dicom.CONTACT_ASSISTANT)).strip()


def _accepted_formats() -> str:
    return _("DICOM, PDF, PNG, JPEG, archive ZIP d'une série DICOM, documents bureautiques")


def _classify(
    name: str,
    data: bytes,
    *,
    max_image_pixels: int,
    allow_other: bool,
    in_archive: bool,
) -> UploadItem | None:
    """Validate one file; None when it is to be silently left out of an archive."""
    kind = sniff_kind(data)
    extension = _extension(name)
    if extension in _DICOM_EXTENSIONS and kind != "dicom":
        raise dicom.dicom_error(
            _(
                "Le fichier « {name} » porte l'extension {extension} mais "
                "n'est pas un fichier DICOM valide."
            ).format(name=name, extension=extension)
        )
    if kind == "dicom":
        summary = _check_dicom(name, data)
        if dicom.is_directory_record(summary):
            if in_archive:
                return None  # the index of a DICOM CD; the images are the other entries
            raise dicom.dicom_error(
                _(
                    "Le fichier DICOMDIR n'est qu'un index : envoyez une archive ZIP du dossier "
                    "complet (DICOMDIR et sous-dossiers d'images)."
                )
            )
        return UploadItem(name=name, data=data, kind="dicom", summary=summary)
    if kind == "image":
        _check_image(name, data, max_image_pixels)
        return UploadItem(name=name, data=data, kind="image")
    if kind == "pdf":
        _check_pdf(name, data)
        return UploadItem(name=name, data=data, kind="pdf")
    if kind == "zip" and in_archive:
        if extension in _ZIP_DOCUMENT_EXTENSIONS and allow_other:
            return UploadItem(name=name, data=data, kind="other")
        raise InvalidInput(
            _(
                "L'archive contient elle-même une archive (« {name} ») : "
                "envoyez une archive sans archive imbriquée."
            ).format(name=name)
        )
    if in_archive:
        return None  # viewers and notes on DICOM CDs: not patient data
    if allow_other and extension in OTHER_EXTENSIONS:
        return UploadItem(name=name, data=data, kind="other")
    raise InvalidInput(
        _(
            "Le format du fichier « {name} » n'est pas pris en charge "
            "(formats acceptés : {accepted_formats})."
        ).format(name=name, accepted_formats=_accepted_formats())
    )


def _unsafe_member_name(member: str) -> bool:
    normalized = member.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        return True
    return any(part == ".." for part in normalized.split("/"))


def _is_junk(member: str) -> bool:
    normalized = member.replace("\\", "/")
    base = normalized.rsplit("/", 1)[-1]
    return (
        normalized.startswith("__MACOSX/")
        or "/__MACOSX/" in normalized
        or base.lower() in _JUNK_NAMES
        or base.startswith("._")
    )


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, cap: int, name: str, limit_text: str
) -> bytes:
    """Read one entry, stopping as soon as it exceeds ``cap`` whatever its header says."""
    chunks: list[bytes] = []
    total = 0
    cap = max(cap, 0)
    with archive.open(info) as member:
        while True:
            chunk = member.read(min(_CHUNK, cap - total + 1))
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise InvalidInput(
                    _(
                        "Le contenu décompressé de l'archive « {name} » dépasse la "
                        "taille autorisée ({limit_text}) : archive refusée."
                    ).format(name=name, limit_text=limit_text)
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _expand_zip(
    name: str,
    data: bytes,
    *,
    max_file_bytes: int,
    max_total_bytes: int,
    max_entries: int,
    max_ratio: float,
    max_image_pixels: int,
    allow_other: bool,
) -> Expansion:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InvalidInput(
            _("L'archive « {name} » est illisible ou corrompue.").format(name=name)
        ) from exc
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > max_entries:
            raise InvalidInput(
                _(
                    "L'archive « {name} » contient trop de fichiers ({count} ; "
                    "maximum {max_entries})."
                ).format(name=name, count=len(infos), max_entries=max_entries)
            )
        declared_total = 0
        for info in infos:
            if _unsafe_member_name(info.filename):
                raise InvalidInput(
                    _(
                        "L'archive « {name} » contient un chemin dangereux (« "
                        "{filename} ») : archive refusée."
                    ).format(name=name, filename=info.filename)
                )
            if info.flag_bits & 0x1:
                raise InvalidInput(
                    _(
                        "L'archive « {name} » est protégée par un mot de passe : "
                        "envoyez-la sans mot de passe."
                    ).format(name=name)
                )
            if info.file_size > max_file_bytes:
                raise InvalidInput(
                    _(
                        "Le fichier « {filename} » de l'archive dépasse la taille "
                        "maximale autorisée ({megabytes})."
                    ).format(filename=info.filename, megabytes=format_megabytes(max_file_bytes))
                )
            if info.file_size >= RATIO_CHECK_MIN_BYTES and info.file_size > max_ratio * max(
                info.compress_size, 1
            ):
                raise InvalidInput(
                    _(
                        "L'archive « {name} » est anormalement compressée (bombe de "
                        "décompression probable) : archive refusée."
                    ).format(name=name)
                )
            declared_total += info.file_size
        if declared_total > max_total_bytes:
            raise InvalidInput(
                _(
                    "Le contenu décompressé de l'archive « {name} » dépasse la "
                    "taille autorisée ({megabytes})."
                ).format(name=name, megabytes=format_megabytes(max_total_bytes))
            )

        # From here on, one bad entry (unreadable, corrupt DICOM, damaged image) is left out
        # with its reason and the rest of the CD is accepted; the checks above, which guard
        # the server (bombs, paths, passwords, sizes), still refuse the whole archive.
        items: list[UploadItem] = []
        refused: list[Refusal] = []
        read_total = 0
        for info in infos:
            if _is_junk(info.filename):
                continue
            member_name = sanitize_filename(info.filename)
            cap = min(max_file_bytes, max_total_bytes - read_total)
            try:
                content = _read_member(
                    archive,
                    info,
                    cap=cap,
                    name=name,
                    limit_text=format_megabytes(
                        max_file_bytes if cap == max_file_bytes else max_total_bytes
                    ),
                )
            # zipfile raises NotImplementedError for compression methods it cannot read.
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
                refused.append(
                    Refusal(
                        info.filename,
                        _(
                            "fichier illisible dans l'archive (archive corrompue ou méthode de "
                            "compression non prise en charge)"
                        ),
                    )
                )
                continue
            read_total += len(content)
            if not content:
                continue
            try:
                item = _classify(
                    member_name,
                    content,
                    max_image_pixels=max_image_pixels,
                    allow_other=allow_other,
                    in_archive=True,
                )
            except InvalidInput as exc:
                refused.append(Refusal(info.filename, _without_advice(str(exc))))
                continue
            if item is not None:
                items.append(item)
    if not items:
        if refused:
            raise InvalidInput(
                (
                    _("L'archive « {name} » ne contient aucun fichier exploitable : ").format(
                        name=name
                    )
                )
                + " ; ".join(
                    _("« {name} » : {reason}").format(name=r.name, reason=r.reason)
                    for r in refused[:5]
                )
                + (
                    _(" ; et {count} autre(s)").format(count=len(refused) - 5)
                    if len(refused) > 5
                    else ""
                )
                + f". {_(dicom.CONTACT_ASSISTANT)}"
            )
        raise InvalidInput(
            _(
                "L'archive « {name} » ne contient aucun fichier exploitable "
                "(DICOM, PDF, PNG, JPEG)."
            ).format(name=name)
        )
    return Expansion(items, refused)


def expand_upload(
    name: str,
    data: bytes,
    *,
    max_file_bytes: int,
    max_total_bytes: int,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
    allow_other: bool = True,
) -> Expansion:
    """Validate an uploaded file and return the files to store: one, or an archive's content.

    Parameters
    ----------
    name
        The name the browser sent (sanitized here).
    data
        The whole content.
    max_file_bytes
        Limit for one file (the upload itself, or each archive entry once decompressed).
    max_total_bytes
        Limit for a zip upload and for the sum of its decompressed entries.
    max_entries, max_ratio
        Most files in an archive; highest compression ratio of an entry of 1 Mio or more.
    max_image_pixels
        Largest PNG/JPEG (width × height), checked from the header before decoding.
    allow_other
        Accept office and text documents (``OTHER_EXTENSIONS``) as kind ``"other"``.

    Returns
    -------
    Expansion
        A list of UploadItem. The kind comes from the content, never from the name. A
        ``.zip`` (or any zip that is not an office document) is expanded: a DICOM series, a
        DICOM CD with its DICOMDIR (the index itself is dropped), or images and PDFs. In
        archives, entries that are not DICOM, image or PDF (viewers, notes, ``__MACOSX``)
        are ignored, and entries that are unreadable or invalid (corrupt or truncated DICOM,
        unsupported transfer syntax, damaged image, nested archive) are left out and listed
        in ``refused`` with their reason: the rest of the CD is accepted.

    Raises
    ------
    InvalidInput
        With a French message, and nothing is returned, when a single file is wrong (empty,
        over a size limit said in Mo, non-DICOM content named ``.dcm``, truncated or corrupt
        DICOM — these messages end with the advice to contact the RCP's assistant —, images
        of huge dimensions or damaged, truncated PDF, unsupported format), when an archive
        endangers the server (zip bomb by declared sizes, compression ratio or reading under
        a hard cap, ``..`` or absolute paths, too many entries, password), or when no entry
        of an archive is usable (the message lists the first reasons).
    """
    safe_name = sanitize_filename(name)
    if not data:
        raise InvalidInput(_("Le fichier « {safe_name} » est vide.").format(safe_name=safe_name))
    kind = sniff_kind(data)
    is_archive = kind == "zip" and _extension(name) not in _ZIP_DOCUMENT_EXTENSIONS
    if _extension(name) == ".zip" and kind != "zip":
        raise InvalidInput(
            _("Le fichier « {safe_name} » n'est pas une archive ZIP valide.").format(
                safe_name=safe_name
            )
        )
    limit = max_total_bytes if is_archive else max_file_bytes
    if len(data) > limit:
        raise InvalidInput(
            _(
                "Le fichier « {safe_name} » dépasse la taille maximale autorisée ({megabytes})."
            ).format(safe_name=safe_name, megabytes=format_megabytes(limit))
        )
    if is_archive:
        return _expand_zip(
            safe_name,
            data,
            max_file_bytes=max_file_bytes,
            max_total_bytes=max_total_bytes,
            max_entries=max_entries,
            max_ratio=max_ratio,
            max_image_pixels=max_image_pixels,
            allow_other=allow_other,
        )
    item = _classify(
        safe_name,
        data,
        max_image_pixels=max_image_pixels,
        allow_other=allow_other,
        in_archive=False,
    )
    assert item is not None  # only archive entries are ever left out
    return Expansion([item])
