"""What a file really is, judged by its content, never by its name.

`sniff` reads only headers, the last bytes of a PDF and a ZIP's central directory plus the first bytes of each
member: it never extracts an archive nor loads a whole upload into memory, so it is safe to call on every file
before it is accepted. Archives inside archives are opened too (a stored one by seeking, a compressed one by
inflating at most `NESTED_INFLATE_MAX` bytes to a temporary file), to a depth of `NESTED_MAX_DEPTH`.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from bot.services.safe_text import display_text

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
# What may follow a PDF's last `%%EOF`: the PDF white-space characters (ISO 32000-1, 7.2.2), nothing else. Data
# after it is a second file riding along (a ZIP appended to a PDF opens as either, depending on the program).
PDF_TRAILING_WHITESPACE = b"\x00\t\n\x0c\r "
# The end record of a ZIP archive; found in the tail of a picture or PDF it means an archive was appended.
ZIP_END_MAGIC = b"PK\x05\x06"

ZIP_MAX_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 100
# The ODF `mimetype` entry holds a short media type; anything longer is not one and is not worth decompressing.
ODF_MIMETYPE_MAX = 128
ODF_KINDS = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
OOXML_KINDS = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))
# Archives inside archives: how deep we look, how many members' first bytes we read in all, and how much of a
# compressed inner archive we are willing to inflate to read its central directory. Beyond these, refuse.
NESTED_MAX_DEPTH = 3
MEMBERS_SNIFFED_MAX = 2000
NESTED_INFLATE_MAX = 20 * 1024 * 1024
MEMBER_HEAD_SIZE = 8
_LOCAL_HEADER = struct.Struct("<4s22sHH")  # signature, fixed fields, name length, extra length

# Signatures of programs; checked before anything else so a renamed program never passes as a document.
EXECUTABLE_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "untuk Windows"),
    (b"\x7fELF", "untuk Linux"),
    (b"\xfe\xed\xfa\xce", "untuk macOS"),
    (b"\xfe\xed\xfa\xcf", "untuk macOS"),
    (b"\xce\xfa\xed\xfe", "untuk macOS"),
    (b"\xcf\xfa\xed\xfe", "untuk macOS"),
    # Shared by Java classes and universal (fat) Mach-O binaries: both are programs.
    (b"\xca\xfe\xba\xbe", "Java atau macOS"),
    (b"#!", "skrip"),
)

# Extensions of programs, scripts and pages that run code when opened (on Windows, Android, macOS, Linux, or in a
# browser), and of macro-enabled Office files. A file so named is refused even when its content is a document,
# since whoever saves it from the chat gets a file their system would run; an archive member so named is refused.
EXECUTABLE_EXTENSIONS = frozenset(
    {
        # Windows programs, installers, libraries, shortcuts and script hosts
        "exe",
        "com",
        "scr",
        "pif",
        "cpl",
        "dll",
        "sys",
        "drv",
        "ocx",
        "msi",
        "msp",
        "mst",
        "msc",
        "bat",
        "cmd",
        "ps1",
        "psm1",
        "psd1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "wsc",
        "hta",
        "lnk",
        "scf",
        "reg",
        "inf",
        "appx",
        "msix",
        "appref-ms",
        "gadget",
        "application",
        # other systems and runtimes
        "jar",
        "class",
        "apk",
        "xapk",
        "aab",
        "app",
        "dmg",
        "pkg",
        "command",
        "deb",
        "rpm",
        "run",
        "elf",
        "sh",
        "bash",
        "zsh",
        "csh",
        "ksh",
        "py",
        "pyc",
        "pyw",
        "pl",
        "rb",
        "php",
        "lua",
        # pages that run scripts in a browser
        "html",
        "htm",
        "xhtml",
        "shtml",
        "mht",
        "mhtml",
        "svg",
        "svgz",
        "xht",
        # disk images that mount as drives full of programs
        "iso",
        "img",
        "vhd",
        "vhdx",
        # macro-enabled Office documents and templates
        "docm",
        "dotm",
        "xlsm",
        "xltm",
        "xlam",
        "pptm",
        "potm",
        "ppsm",
        "ppam",
        "sldm",
    }
)
# Pages are refused as upload names (x.html) but are fine inside an archive: Office itself stores icons as SVG
# members, and a zipped report may hold an HTML export. Programs, scripts, disk images and macros are not.
PAGE_EXTENSIONS = frozenset({"html", "htm", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xht"})
MEMBER_EXECUTABLE_EXTENSIONS = EXECUTABLE_EXTENSIONS - PAGE_EXTENSIONS
# The member that holds a document's macros: a macro project inside a file named .docx/.xlsx/.pptx is a disguise.
MACRO_PART = "vbaproject.bin"

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
REASON_HIDDEN_DATA = "berkas/data_tersembunyi"
REASON_ARCHIVED_PROGRAM = "berkas/arsip_berisi_program"
REASON_NESTED = "berkas/arsip_bersarang"
REASONS = (
    REASON_EMPTY,
    REASON_UNKNOWN,
    REASON_EXECUTABLE,
    REASON_MISLEADING_NAME,
    REASON_ZIP_BOMB,
    REASON_ZIP_BROKEN,
    REASON_NOT_REQUESTED,
    REASON_HIDDEN_DATA,
    REASON_ARCHIVED_PROGRAM,
    REASON_NESTED,
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
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1].rstrip(". ")  # as Windows saves it
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
        program = _program(head)
        if program:
            return _refuse(REASON_EXECUTABLE, program=program)
        content = _kind_by_content(handle, head, size, claimed)
    if isinstance(content, Verdict):
        return content
    if content is None:
        return _refuse(REASON_UNKNOWN)
    named = extension(file_name)
    if (claimed is not None and claimed != content) or named in EXECUTABLE_EXTENSIONS:
        return _refuse(REASON_MISLEADING_NAME, content, claimed=named, real=content)
    category = CATEGORY_OF_KIND[content]
    if allowed_categories and category not in allowed_categories:
        allowed = [c for c in CATEGORIES if c in allowed_categories]
        return _refuse(REASON_NOT_REQUESTED, content, real=content, category=category, allowed=allowed)
    return Verdict(accepted=True, kind=content, category=category)


def looks_like_pdf(path: Path) -> bool:
    """A PDF starts with `%PDF-` (within its first KiB, as readers allow) and ends with `%%EOF` (and white space)."""
    verdict = sniff(path, None)
    return verdict.accepted and verdict.kind == "pdf"


def _program(head: bytes) -> str | None:
    """The kind of program these first bytes start, or None."""
    for magic, program in EXECUTABLE_MAGICS:
        if head.startswith(magic):
            return program
    return None


def _kind_by_content(handle: BinaryIO, head: bytes, size: int, claimed: str | None) -> str | Verdict | None:
    """The kind told by magic numbers (a refusal for a broken, oversized or two-faced file), or None when unknown."""
    if head.startswith(PNG_MAGIC):
        return _single("png", handle, size)
    if head.startswith(JPG_MAGIC):
        return _single("jpg", handle, size)
    if head.startswith(OLE2_MAGIC):
        # Telling a Word from an Excel OLE2 file needs parsing its internal directory; the extension is a good
        # enough hint for the two legacy kinds we accept, and anything else is filed as a document.
        return "xls" if claimed == "xls" else "doc"
    if head.startswith(ZIP_MAGICS):
        return _zip_kind(handle)
    if PDF_MAGIC in head:
        return _pdf_kind(handle, size)
    return None


def _tail(handle: BinaryIO, size: int) -> bytes:
    handle.seek(max(0, size - PDF_TAIL_WINDOW))
    return handle.read(PDF_TAIL_WINDOW)


def _single(kind: str, handle: BinaryIO, size: int) -> str | Verdict:
    """A picture whose last bytes hold a ZIP end record carries an archive (a JPG+ZIP polyglot)."""
    if ZIP_END_MAGIC in _tail(handle, size):
        return _refuse(REASON_HIDDEN_DATA, kind, real=kind)
    return kind


def _pdf_kind(handle: BinaryIO, size: int) -> str | Verdict | None:
    """A PDF ends with `%%EOF` and at most white space; anything after it is a second file riding along."""
    tail = _tail(handle, size)
    end = tail.rfind(PDF_EOF)
    if end < 0:
        # No trailer in the tail: a truncated PDF (unknown), or one followed by more than a trailer's worth of
        # something else, which an archive's end record gives away.
        return _refuse(REASON_HIDDEN_DATA, "pdf", real="pdf") if ZIP_END_MAGIC in tail else None
    if tail[end + len(PDF_EOF) :].strip(PDF_TRAILING_WHITESPACE):
        return _refuse(REASON_HIDDEN_DATA, "pdf", real="pdf")
    return "pdf"


@dataclass
class _Budget:
    """What the inspection of one upload has used so far, across every nesting level."""

    uncompressed: int = 0
    sniffed: int = 0


def _zip_kind(handle: BinaryIO) -> str | Verdict:
    """OOXML, ODF or a plain ZIP, from the central directory; bombs, programs and deep nesting are refused first."""
    try:
        with zipfile.ZipFile(handle) as archive:
            refusal = _inspect(archive, depth=1, budget=_Budget())
            if refusal is not None:
                return refusal
            names = {info.filename for info in archive.infolist()}
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


def _inspect(archive: zipfile.ZipFile, *, depth: int, budget: _Budget) -> Verdict | None:
    """Refuse an archive (or one inside it) that declares too much, holds a program, or nests too deep.

    The sizes are those the archives declare: nothing is extracted, so a lying header cannot hurt us, and whoever
    extracts later must still cap what it writes. Only each member's first bytes are read (its magic number).
    """
    entries = archive.infolist()
    uncompressed = sum(info.file_size for info in entries)
    compressed = sum(info.compress_size for info in entries)
    budget.uncompressed += uncompressed
    ratio = uncompressed / max(compressed, 1)
    if budget.uncompressed > ZIP_MAX_UNCOMPRESSED or ratio > ZIP_MAX_RATIO:
        return _refuse(
            REASON_ZIP_BOMB,
            uncompressed=budget.uncompressed,
            ratio=round(ratio),
            limit=ZIP_MAX_UNCOMPRESSED,
            max_ratio=ZIP_MAX_RATIO,
            nested=depth > 1,
        )
    for info in entries:
        if info.is_dir():
            continue
        member = display_text(info.filename).replace("\\", "/").rsplit("/", 1)[-1]
        if extension(member) in MEMBER_EXECUTABLE_EXTENSIONS or member.lower() == MACRO_PART:
            return _refuse(REASON_ARCHIVED_PROGRAM, member=member[:100])
        if info.flag_bits & 0x1:  # encrypted: its content cannot be checked
            return _refuse(REASON_ZIP_BROKEN)
        if info.file_size == 0 or budget.sniffed >= MEMBERS_SNIFFED_MAX:
            continue
        budget.sniffed += 1
        with archive.open(info) as opened:
            head = opened.read(MEMBER_HEAD_SIZE)
        program = _program(head)
        if program:
            return _refuse(REASON_ARCHIVED_PROGRAM, member=member[:100])
        if head.startswith(ZIP_MAGICS):
            refusal = _inspect_inner(archive, info, depth=depth + 1, budget=budget)
            if refusal is not None:
                return refusal
    return None


def _inspect_inner(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, depth: int, budget: _Budget) -> Verdict | None:
    """Open an archive stored in an archive: a stored one in place, a compressed one inflated (bounded) to disk."""
    if depth > NESTED_MAX_DEPTH:
        return _refuse(REASON_NESTED, depth=NESTED_MAX_DEPTH, limit=NESTED_INFLATE_MAX)
    if info.compress_type == zipfile.ZIP_STORED:
        assert archive.fp is not None
        window = _Window(archive.fp, _data_offset(archive.fp, info), info.file_size)
        with zipfile.ZipFile(window) as inner:
            return _inspect(inner, depth=depth, budget=budget)
    if info.file_size > NESTED_INFLATE_MAX:
        return _refuse(REASON_NESTED, depth=NESTED_MAX_DEPTH, limit=NESTED_INFLATE_MAX)
    with tempfile.TemporaryFile() as inflated:
        with archive.open(info) as source:
            shutil.copyfileobj(source, inflated, 1024 * 1024)
        with zipfile.ZipFile(inflated) as inner:
            return _inspect(inner, depth=depth, budget=budget)


def _data_offset(handle: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header, whose name and extra field lengths vary."""
    handle.seek(info.header_offset)
    signature, _, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


class _Window:
    """A read-only view of `length` bytes of a file from `start`: a stored inner archive, opened without copying."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        self._handle = handle
        self._start = start
        self._length = length
        self._position = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._length}[whence]
        self._position = min(max(base + offset, 0), self._length)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._position
        size = left if size < 0 else min(size, left)
        self._handle.seek(self._start + self._position)
        data = self._handle.read(size)
        self._position += len(data)
        return data
