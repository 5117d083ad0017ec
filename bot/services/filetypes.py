"""What a file really is, judged by its content, never by its name.

`sniff` reads only headers, the last bytes of a PDF and a ZIP's central directory: it never extracts an
archive nor loads a whole upload into memory, so it is safe to call on every file before it is accepted.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

PDF_MAGIC = b"%PDF-"
PDF_EOF = b"%%EOF"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPG_MAGIC = b"\xff\xd8\xff"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A local file header, or the end record of an empty archive.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

# Readers accept a PDF header anywhere in the first KiB; the trailer sits within the last few KiB.
PDF_HEAD_WINDOW = 1024
PDF_TAIL_WINDOW = 2048
HEAD_SIZE = PDF_HEAD_WINDOW

ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
# The ODF `mimetype` entry holds a short media type; anything longer is not one and is not worth decompressing.
ODF_MIMETYPE_MAX = 128
ODF_KINDS = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
OOXML_KINDS = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))

# Signatures of programs; checked before anything else so a renamed program never passes as a document.
EXECUTABLE_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows EXE/DLL"),
    (b"\x7fELF", "Linux ELF"),
    (b"\xfe\xed\xfa\xce", "macOS Mach-O"),
    (b"\xfe\xed\xfa\xcf", "macOS Mach-O"),
    (b"\xce\xfa\xed\xfe", "macOS Mach-O"),
    (b"\xcf\xfa\xed\xfe", "macOS Mach-O"),
    # Shared by Java classes and universal (fat) Mach-O binaries: both are programs.
    (b"\xca\xfe\xba\xbe", "Java class atau macOS universal"),
    (b"#!", "skrip"),
)

# The `jenis_berkas` groups an item set may narrow the accepted kinds to, in display order.
CATEGORIES = ("pdf", "dokumen", "lembar", "presentasi", "gambar", "zip")
CATEGORY_OF_KIND = {
    "pdf": "pdf",
    "docx": "dokumen",
    "odt": "dokumen",
    "doc": "dokumen",
    "xlsx": "lembar",
    "ods": "lembar",
    "xls": "lembar",
    "pptx": "presentasi",
    "jpg": "gambar",
    "png": "gambar",
    "zip": "zip",
}
KINDS = tuple(CATEGORY_OF_KIND)
# Extensions that name a kind; any other extension (or none) says nothing and the content alone decides.
KIND_OF_EXTENSION = {kind: kind for kind in KINDS} | {"jpeg": "jpg"}

# Every reason `sniff` can return; each has a template `templates/<reason>.txt.j2`.
REASON_EMPTY = "berkas/kosong"
REASON_UNKNOWN = "berkas/tidak_dikenal"
REASON_EXECUTABLE = "berkas/executable"
REASON_MISLEADING_NAME = "berkas/nama_menipu"
REASON_ZIP_BOMB = "berkas/zip_bomb"
REASON_ZIP_BROKEN = "berkas/zip_rusak"
REASON_NOT_REQUESTED = "berkas/jenis_tidak_diminta"
REASONS = (
    REASON_EMPTY,
    REASON_UNKNOWN,
    REASON_EXECUTABLE,
    REASON_MISLEADING_NAME,
    REASON_ZIP_BOMB,
    REASON_ZIP_BROKEN,
    REASON_NOT_REQUESTED,
)


@dataclass(frozen=True)
class Verdict:
    """Whether a file is accepted, what it really is, and (when refused) the template that says why."""

    accepted: bool
    kind: str | None
    category: str | None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def _refuse(reason: str, kind: str | None = None, **detail: Any) -> Verdict:
    category = CATEGORY_OF_KIND[kind] if kind else None
    return Verdict(accepted=False, kind=kind, category=category, reason=reason, detail=detail)


def extension(file_name: str | None) -> str:
    """The lower-case extension of a file name without its dot ('' when there is none)."""
    if not file_name:
        return ""
    # Names come from chat clients, possibly with Windows separators; only the last component matters.
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    return Path(base).suffix.lower().removeprefix(".")


def claimed_kind(file_name: str | None) -> str | None:
    """The kind a file name's extension claims, or None when the extension names no kind we know."""
    return KIND_OF_EXTENSION.get(extension(file_name))


def sniff(path: Path, file_name: str | None, *, allowed_categories: Collection[str] = ()) -> Verdict:
    """Judge an uploaded file by its content, check its name does not lie, and narrow to the requested kinds."""
    unknown = set(allowed_categories) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown jenis_berkas: {sorted(unknown)}")
    claimed = claimed_kind(file_name)
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return _refuse(REASON_EMPTY)
        handle.seek(0)
        head = handle.read(HEAD_SIZE)
        for magic, program in EXECUTABLE_MAGICS:
            if head.startswith(magic):
                return _refuse(REASON_EXECUTABLE, program=program)
        content = _kind_by_content(handle, head, size, claimed)
    if isinstance(content, Verdict):
        return content
    if content is None:
        return _refuse(REASON_UNKNOWN)
    if claimed is not None and claimed != content:
        return _refuse(REASON_MISLEADING_NAME, content, claimed=extension(file_name), real=content)
    category = CATEGORY_OF_KIND[content]
    if allowed_categories and category not in allowed_categories:
        allowed = [c for c in CATEGORIES if c in allowed_categories]
        return _refuse(REASON_NOT_REQUESTED, content, real=content, category=category, allowed=allowed)
    return Verdict(accepted=True, kind=content, category=category)


def looks_like_pdf(path: Path) -> bool:
    """A PDF starts with `%PDF-` (within its first KiB, as readers allow) and ends with `%%EOF`."""
    return sniff(path, None).kind == "pdf"


def _kind_by_content(handle: BinaryIO, head: bytes, size: int, claimed: str | None) -> str | Verdict | None:
    """The kind told by magic numbers (a refusal for a broken or oversized ZIP), or None when unknown."""
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPG_MAGIC):
        return "jpg"
    if head.startswith(OLE2_MAGIC):
        # Telling a Word from an Excel OLE2 file needs parsing its internal directory; the extension is a good
        # enough hint for the two legacy kinds we accept, and anything else is filed as a document.
        return "xls" if claimed == "xls" else "doc"
    if head.startswith(ZIP_MAGICS):
        return _zip_kind(handle)
    if PDF_MAGIC in head and _has_pdf_trailer(handle, size):
        return "pdf"
    return None


def _has_pdf_trailer(handle: BinaryIO, size: int) -> bool:
    handle.seek(max(0, size - PDF_TAIL_WINDOW))
    return PDF_EOF in handle.read(PDF_TAIL_WINDOW)


def _zip_kind(handle: BinaryIO) -> str | Verdict:
    """OOXML, ODF or a plain ZIP, from the central directory only; bomb-sized archives are refused first."""
    try:
        with zipfile.ZipFile(handle) as archive:
            entries = archive.infolist()
            # The sizes are those the archive declares: nothing is extracted here, so a lying header cannot
            # hurt us, and whoever extracts later must still cap what it writes. Nested archives are not opened.
            uncompressed = sum(info.file_size for info in entries)
            compressed = sum(info.compress_size for info in entries)
            ratio = uncompressed / max(compressed, 1)
            if uncompressed > ZIP_MAX_UNCOMPRESSED or ratio > ZIP_MAX_RATIO:
                return _refuse(
                    REASON_ZIP_BOMB,
                    uncompressed=uncompressed,
                    ratio=round(ratio),
                    limit=ZIP_MAX_UNCOMPRESSED,
                    max_ratio=ZIP_MAX_RATIO,
                )
            names = {info.filename for info in entries}
            if "[Content_Types].xml" in names:
                for prefix, kind in OOXML_KINDS:
                    if any(name.startswith(prefix) for name in names):
                        return kind
            mimetype = archive.getinfo("mimetype") if "mimetype" in names else None
            if mimetype is not None and mimetype.file_size <= ODF_MIMETYPE_MAX:
                odf_kind = ODF_KINDS.get(archive.read(mimetype).strip())
                if odf_kind:
                    return odf_kind
            return "zip"
    # zipfile reports damage through many types (a bad CRC, a truncated stream, a seek before the start, an
    # encrypted or unsupported member); the file itself was already opened, so these all mean a broken archive.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError):
        return _refuse(REASON_ZIP_BROKEN)
