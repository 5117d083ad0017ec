"""Requested items: the shipped frameworks' indicators with default assignments, and the item import (CSV/XLSX).

Pure data, no database: every function returns frozen dataclasses that the campaign service copies into its tables.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import bot.data
from bot.services.safe_text import without_invisible
from bot.services.tables import TableFileError, table_records

FRAMEWORKS: dict[str, str] = {
    "permenpanrb-59-2020": "PermenPANRB 59/2020 (Indeks SPBE, 47 indikator)",
    "permenpanrb-8-2026-pemdi": "PermenPANRB 8/2026 (Indeks Pemerintah Digital, 20 indikator)",
}
FILE_KINDS = ("pdf", "dokumen", "lembar", "presentasi", "gambar", "zip")

REQUIRED_COLUMNS = ("kode", "judul", "deskripsi", "wajib", "opd")
OPTIONAL_COLUMNS = ("jenis_berkas",)
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,15}$")
MAX_TITLE, MAX_DESCRIPTION = 300, 2000
ALL_OPDS = "SEMUA"

_T = TypeVar("_T")

_INDICATORS_FILE, _ASSIGNMENTS_FILE = "spbe-indicators.csv", "spbe-default-assignments.csv"
_WAJIB = {"ya": True, "1": True, "true": True, "tidak": False, "0": False, "false": False}
_LIST_SEPARATORS = re.compile(r"[;,\s]+")
_NUMBER = re.compile(r"[0-9]{1,3}")
# Punctuation people type after the code in a caption ("13. Perwal ...", "I.13: SK ..."); tried only as a fallback.
_CAPTION_TRAILERS = ".,:;"


class ItemFileError(ValueError):
    """The file cannot be read as an item list at all (bad extension, no header, missing column, bad encoding).

    The message is the CLI's English line; `kind` and `values` are what a chat says instead (`TableFileError`'s).
    """

    def __init__(self, message: str, kind: str = "", **values: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.values = values


@dataclass(frozen=True)
class ItemSpec:
    """One requested item of a set, ready to be copied into a campaign."""

    code: str
    title: str
    description: str
    required: bool
    weight: Decimal | None
    opd_codes: tuple[str, ...]  # upper-case; empty: not requested from any OPD
    file_kinds: tuple[str, ...]  # a subset of FILE_KINDS; empty: every kind the intake accepts
    domain: str | None
    aspect: str | None
    position: int  # 1-based order in the set


@dataclass(frozen=True)
class ItemRow:
    """One data row of an item file, cells as written; `line` is the 1-based file line (the header is line 1)."""

    line: int
    kode: str
    judul: str
    deskripsi: str
    wajib: str
    opd: str
    jenis_berkas: str = ""


@dataclass(frozen=True)
class Rejection:
    """Why one cell of an import file was refused."""

    line: int
    column: str
    reason: str  # the CLI's English
    # What a chat says instead, in Bahasa Indonesia (templates/kampanye/impor_ditolak); not part of the identity.
    kind: str = field(default="", compare=False)
    values: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def params(self) -> dict[str, str]:
        """The values a chat's wording of `kind` names."""
        return dict(self.values)


# --- the shipped frameworks ----------------------------------------------------------------------------------


def framework_items(framework: str) -> list[ItemSpec]:
    """Every indicator of a framework in order, as items with the default OPD assignments applied."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; one of {', '.join(FRAMEWORKS)}")
    return list(_framework_items(framework))


@functools.cache
def _framework_items(framework: str) -> tuple[ItemSpec, ...]:
    assignments = _assignments().get(framework, {})
    items: list[ItemSpec] = []
    for position, row in enumerate((r for r in _indicators() if r["version"] == framework), start=1):
        number = int(row["indicator_no"])
        if number not in assignments:
            # Shipped data, checked by the tests: a gap here is a packaging bug, not an operator's mistake.
            raise RuntimeError(f"{_ASSIGNMENTS_FILE} has no row for {framework} indicator {number}")
        opd_codes, requested = assignments[number]
        items.append(
            ItemSpec(
                code=framework_code(number),
                title=row["indicator"].strip(),
                description=row["typical_data_dukung"].strip(),
                # Not requested (Pemdi 5-7): the value comes from other agencies' assessments.
                required=requested,
                weight=Decimal(row["indicator_weight_percent"].strip()),
                opd_codes=opd_codes if requested else (),
                file_kinds=(),
                domain=row["domain"].strip() or None,
                aspect=row["aspect"].strip() or None,
                position=position,
            )
        )
    return tuple(items)


def framework_code(number: int) -> str:
    """The item code of a framework indicator: 13 → 'I.13'."""
    return f"I.{number:02d}"


def _data_file(name: str) -> Path:
    return Path(bot.data.__file__).parent / name


@functools.cache
def _indicators() -> tuple[dict[str, str], ...]:
    with _data_file(_INDICATORS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        return tuple(csv.DictReader(handle))


@functools.cache
def _assignments() -> dict[str, dict[int, tuple[tuple[str, ...], bool]]]:
    by_framework: dict[str, dict[int, tuple[tuple[str, ...], bool]]] = {}
    with _data_file(_ASSIGNMENTS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            codes = _unique(code.strip().upper() for code in row["opd_codes"].split(";") if code.strip())
            requested = row["requested"].strip().lower() == "ya"
            by_framework.setdefault(row["version"], {})[int(row["indicator_no"])] = (codes, requested)
    return by_framework


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --- captions ------------------------------------------------------------------------------------------------


def parse_item_code(word: str, open_codes: Collection[str]) -> str | None:
    """The item a caption's first word names: one of `open_codes`, or a number N when `I.NN` is among them."""
    words = word.split()
    if not words:
        return None
    first = words[0].upper()
    by_upper = {code.upper(): code for code in open_codes}
    for candidate in dict.fromkeys((first, first.rstrip(_CAPTION_TRAILERS))):
        if candidate in by_upper:
            return by_upper[candidate]
        if _NUMBER.fullmatch(candidate):
            code = framework_code(int(candidate))
            if code in by_upper:
                return by_upper[code]
    return None


# --- the item import -----------------------------------------------------------------------------------------


def parse_item_file(path: Path) -> list[ItemRow]:
    """Read the data rows of a `.csv` or `.xlsx` item file; raises ItemFileError when the file is unusable."""
    try:
        records = table_records(path, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    except TableFileError as error:
        raise ItemFileError(str(error), error.kind, **error.values) from None
    return [ItemRow(line=line, **record) for line, record in records]


def validate_item_rows(
    rows: Sequence[ItemRow],
    known_opd_codes: Collection[str],
    active_opd_codes: Collection[str] | None = None,
) -> tuple[list[ItemSpec], list[Rejection]]:
    """The items of the valid rows and every problem in file order; the import is all-or-nothing on rejections.

    `SEMUA` in the opd column means every active OPD (every known one when `active_opd_codes` is None).
    """
    if not rows:
        return [], [Rejection(1, "kode", "no item", "tanpa_item")]
    known = {code.strip().upper() for code in known_opd_codes}
    everyone = tuple(sorted(known if active_opd_codes is None else {c.strip().upper() for c in active_opd_codes}))
    first_line_of: dict[str, int] = {}
    specs: list[ItemSpec] = []
    rejections: list[Rejection] = []
    for row in rows:
        found: list[Rejection] = []
        checked = functools.partial(_checked, found, row.line)
        code = checked("kode", _valid_code, row.kode)
        if code is not None and code in first_line_of:
            first = first_line_of[code]
            found.append(
                Rejection(row.line, "kode", f"{code} repeats line {first}", "kode_ganda", (("baris", str(first)),))
            )
        elif code is not None:
            first_line_of[code] = row.line
        title = checked("judul", _valid_title, row.judul)
        description = checked("deskripsi", _valid_description, row.deskripsi)
        required = checked("wajib", _valid_wajib, row.wajib)
        opd_codes = checked("opd", functools.partial(_valid_opds, known=known, everyone=everyone), row.opd)
        file_kinds = checked("jenis_berkas", _valid_file_kinds, row.jenis_berkas)
        if found:
            rejections.extend(found)
            continue
        assert code is not None and title is not None and description is not None
        assert required is not None and opd_codes is not None and file_kinds is not None
        specs.append(
            ItemSpec(
                code=code,
                title=title,
                description=description,
                required=required,
                weight=None,
                opd_codes=opd_codes,
                file_kinds=file_kinds,
                domain=None,
                aspect=None,
                position=len(specs) + 1,
            )
        )
    return specs, rejections


class _Refused(ValueError):
    """A cell's value is refused; the message is the rejection's (English) reason, `kind` and `values` a chat's."""

    def __init__(self, reason: str, kind: str, **values: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.values = tuple(values.items())


def _checked(found: list[Rejection], line: int, column: str, check: Callable[[str], _T], raw: str) -> _T | None:
    """The cell's value as `check` makes it, or None with the refusal appended to `found`."""
    try:
        return check(raw)
    except _Refused as refusal:
        found.append(Rejection(line, column, str(refusal), refusal.kind, refusal.values))
        return None


def _without_control_characters(text: str, allow_newline: bool = False) -> str:
    if any(unicodedata.category(char) == "Cc" and not (allow_newline and char == "\n") for char in text):
        raise _Refused("contains a control character", "karakter_kendali")
    return text


def _valid_code(raw: str) -> str:
    code = _without_control_characters(raw.strip().upper())
    if not code:
        raise _Refused("is empty", "kosong")
    if not (code.isascii() and CODE_PATTERN.fullmatch(code)):
        raise _Refused(f"{code!r} must be 1-16 of A-Z 0-9 . _ - (not starting with . _ -)", "kode_tidak_sah", kode=code)
    return code


def _valid_title(raw: str) -> str:
    title = _without_control_characters(without_invisible(raw).strip())
    if not title:
        raise _Refused("is empty", "kosong")
    if len(title) > MAX_TITLE:
        raise _Refused(
            f"is longer than {MAX_TITLE} characters ({len(title)})",
            "terlalu_panjang",
            batas=str(MAX_TITLE),
            panjang=str(len(title)),
        )
    return title


def _valid_description(raw: str) -> str:
    # Line breaks are allowed here only: Excel users write multi-line evidence lists (Alt+Enter).
    description = without_invisible(raw).replace("\r\n", "\n").replace("\r", "\n").strip()
    description = _without_control_characters(description, True)
    if len(description) > MAX_DESCRIPTION:
        raise _Refused(
            f"is longer than {MAX_DESCRIPTION} characters ({len(description)})",
            "terlalu_panjang",
            batas=str(MAX_DESCRIPTION),
            panjang=str(len(description)),
        )
    return description


def _valid_wajib(raw: str) -> bool:
    value = _without_control_characters(raw.strip().lower())
    if value not in _WAJIB:
        raise _Refused(f"{_shown(value)} is not one of {', '.join(_WAJIB)}", "wajib_tidak_sah", nilai=value)
    return _WAJIB[value]


def _valid_opds(raw: str, known: set[str], everyone: tuple[str, ...]) -> tuple[str, ...]:
    codes = _unique(code.upper() for code in _LIST_SEPARATORS.split(_without_control_characters(raw).strip()) if code)
    if not codes:
        raise _Refused(f"is empty; use {ALL_OPDS} or OPD codes", "opd_kosong")
    if ALL_OPDS in codes:
        if len(codes) > 1:
            raise _Refused(f"{ALL_OPDS} cannot be combined with OPD codes", "semua_dicampur")
        if not everyone:
            raise _Refused(f"{ALL_OPDS} names no OPD: none is active", "semua_kosong")
        return everyone
    if unknown := [code for code in codes if code not in known]:
        raise _Refused(f"unknown OPD code(s): {', '.join(unknown)}", "opd_tidak_dikenal", kode=", ".join(unknown))
    return codes


def _valid_file_kinds(raw: str) -> tuple[str, ...]:
    kinds = {kind.lower() for kind in _LIST_SEPARATORS.split(_without_control_characters(raw).strip()) if kind}
    if unknown := sorted(kinds - set(FILE_KINDS)):
        raise _Refused(
            f"unknown kind(s): {', '.join(unknown)}; use {', '.join(FILE_KINDS)}",
            "jenis_tidak_dikenal",
            jenis=", ".join(unknown),
            pilihan=", ".join(FILE_KINDS),
        )
    return tuple(kind for kind in FILE_KINDS if kind in kinds)


def _shown(value: str) -> str:
    return repr(value) if value else "(empty)"
