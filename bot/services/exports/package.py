"""The evidence package for the national upload: a ZIP streamed to disk, checkable with `sha256sum -c`.

Layout (CONTRACT.md "Files"): `per-indikator/ITEM/OPD/<file>` and `per-opd/OPD/ITEM/<file>` hold the files of the
latest accepted version of every item (each file once per layout), a finalized campaign's `hasil/` (scores, the
Berita Acara, the signed BA, a summary: exports/final.py), then `manifest.csv`, the recap workbook and
`SHA256SUMS` over every other entry. Files are copied from the store in chunks into the archive's entries, so
neither a file nor the archive is ever whole in memory. Names come from uploaders: they are made safe for every
unzip tool (no path parts, control characters, emoji or Windows-reserved names) and unique within their folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bot.errors import DomainError
from bot.services.exports.data import ExportData, ExportVersion
from bot.services.uploads import clean_file_name
from storage.filestore import CHUNK_SIZE, FileStore

MANIFEST = "manifest.csv"
SUMS = "SHA256SUMS"
MANIFEST_COLUMNS = ("path", "opd", "item", "version", "original_name", "sha256", "accepted_at", "reviewer")
MAX_NAME = 120
_RESERVED = frozenset('<>:"|?*')
_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PackageSummary:
    evidence: int  # (OPD, item) pairs with an accepted version
    files: int  # evidence entries in the archive (both layouts)
    size: int  # bytes of evidence, one layout


@dataclass(frozen=True)
class ExtraFile:
    """A file of the package beside the evidence: its bytes, or a blob of the store (copied in chunks)."""

    path: str
    original_name: str
    content: bytes | None = None
    sha256: str | None = None


def recap_name(campaign_id: int) -> str:
    return f"rekap-kegiatan-{campaign_id}.xlsx"


def safe_name(name: str, fallback: str = "berkas") -> str:
    """A file or folder name every unzip tool writes where it belongs, and Windows opens.

    On top of `clean_file_name` (no path parts, control or invisible characters, no leading dots): symbols such
    as emoji and their modifiers go (unzip tools and file systems differ on them), `<>:"|?*` become `_`, device
    names such as `CON` get a `_` in front, whitespace runs become one space, and the length is bounded.
    """
    base = unicodedata.normalize("NFC", clean_file_name(name, fallback=fallback))
    kept = "".join(
        "_" if c in _RESERVED else c
        for c in base
        if unicodedata.category(c)[0] != "C"
        and unicodedata.category(c) not in ("So", "Sk")
        and not 0xFE00 <= ord(c) <= 0xFE0F  # emoji variation selectors
    )
    kept = _SPACES.sub(" ", kept).strip().rstrip(". ")
    if not kept.lstrip(". "):
        return fallback
    if kept.startswith("."):  # a name that was only symbols before its extension: `😀.pdf` is `berkas.pdf`
        kept = f"{fallback}.{kept.lstrip('. ')}"
    stem, dot, extension = kept.rpartition(".")
    if (stem if dot else kept).upper() in _DEVICES:
        kept = f"_{kept}"
    if len(kept) > MAX_NAME:
        keep = extension if dot and len(extension) <= 10 else ""
        kept = kept[: MAX_NAME - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return kept


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`… before the extension: unique within a folder, whatever the case."""
    path = PurePosixPath(name)
    stem, extension = (path.stem, path.suffix) if path.stem else (name, "")
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}){extension}"
    taken.add(candidate.casefold())
    return candidate


def write_package(
    data: ExportData, files: FileStore, target: BinaryIO, zone: ZoneInfo, extras: Sequence[ExtraFile] = ()
) -> PackageSummary:
    """Write the package into `target` (synchronous, disk-bound: call it in a thread, outside any transaction)."""
    from bot.services.exports.recap import write_recap  # openpyxl: only when a package is written

    codes = {o.id: safe_name(o.code, "OPD") for o in data.opds}
    items = {i.id: safe_name(i.code, "ITEM") for i in data.items}
    order = {i.id: n for n, i in enumerate(data.items)}
    opd_codes = {o.id: o.code for o in data.opds}
    item_codes = {i.id: i.code for i in data.items}
    accepted = data.accepted()
    sums: list[tuple[str, str]] = []
    manifest = io.StringIO(newline="")
    rows = csv.writer(manifest)
    rows.writerow(MANIFEST_COLUMNS)
    taken: dict[str, set[str]] = {}
    entries = size = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as archive:
        layouts = (
            ("per-indikator", sorted(accepted, key=lambda v: (order[v.item_id], codes[v.opd_id])), True),
            ("per-opd", sorted(accepted, key=lambda v: (codes[v.opd_id], order[v.item_id])), False),
        )
        for layout, versions, first in layouts:
            for v in versions:
                parts = (items[v.item_id], codes[v.opd_id]) if first else (codes[v.opd_id], items[v.item_id])
                folder = "/".join((layout, *parts))
                for f in v.files:
                    name = unique_name(safe_name(f.name), taken.setdefault(folder, set()))
                    path = f"{folder}/{name}"
                    digest = _copy_blob(archive, files, f.sha256, path, v.created_at, zone, f.name)
                    sums.append((digest, path))
                    rows.writerow(
                        _manifest_row(path, opd_codes[v.opd_id], item_codes[v.item_id], v, f.name, digest, zone)
                    )
                    entries += 1
                    size += f.size if first else 0
        for extra in extras:
            if extra.content is not None:
                digest = _write_bytes(archive, extra.path, extra.content, data.now, zone)
            else:
                assert extra.sha256 is not None
                digest = _copy_blob(archive, files, extra.sha256, extra.path, data.now, zone, extra.original_name)
            sums.append((digest, extra.path))
            rows.writerow([extra.path, "", "", "", extra.original_name, digest, "", ""])
        sums.append((_write_bytes(archive, MANIFEST, manifest.getvalue().encode("utf-8"), data.now, zone), MANIFEST))
        with tempfile.TemporaryFile() as book:
            write_recap(data, book, zone)
            book.seek(0)
            name = recap_name(data.campaign_id)
            sums.append((_copy_stream(archive, book, name, data.now, zone), name))
        listing = "".join(f"{digest}  {path}\n" for digest, path in sums)
        _write_bytes(archive, SUMS, listing.encode("utf-8"), data.now, zone)
    return PackageSummary(len(accepted), entries, size)


def _manifest_row(
    path: str, opd: str, item: str, v: ExportVersion, original: str, digest: str, zone: ZoneInfo
) -> list[str]:
    accepted_at = v.accepted_at.astimezone(zone).isoformat(timespec="seconds") if v.accepted_at else ""
    return [path, opd, item, str(v.number), original, digest, accepted_at, v.reviewer or ""]


def _info(path: str, moment: datetime, zone: ZoneInfo) -> zipfile.ZipInfo:
    local = moment.astimezone(zone)
    info = zipfile.ZipInfo(path, date_time=(max(local.year, 1980), local.month, local.day, local.hour, local.minute, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _copy_chunks(archive: zipfile.ZipFile, chunks: Iterable[bytes], info: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    with archive.open(info, "w", force_zip64=True) as entry:
        for chunk in chunks:
            digest.update(chunk)
            entry.write(chunk)
    return digest.hexdigest()


def _copy_stream(archive: zipfile.ZipFile, source: BinaryIO, path: str, moment: datetime, zone: ZoneInfo) -> str:
    return _copy_chunks(archive, iter(lambda: source.read(CHUNK_SIZE), b""), _info(path, moment, zone))


def _copy_blob(
    archive: zipfile.ZipFile, files: FileStore, sha256: str, path: str, moment: datetime, zone: ZoneInfo, name: str
) -> str:
    try:
        source = files.path_for(sha256).open("rb")
    except FileNotFoundError:
        raise DomainError("ekspor/berkas_hilang", nama=name, sha256=sha256[:12]) from None
    with source:
        return _copy_stream(archive, source, path, moment, zone)


def _write_bytes(archive: zipfile.ZipFile, path: str, content: bytes, moment: datetime, zone: ZoneInfo) -> str:
    return _copy_chunks(archive, [content], _info(path, moment, zone))


def package_name(campaign_id: int) -> str:
    return f"paket-bukti-kegiatan-{campaign_id}.zip"
