"""The OPD registry: import the city's agencies from CSV or XLSX, list them, and (de)activate one."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import bot.data
from bot.errors import DomainError
from bot.services import audit
from bot.services.audit import Acting
from bot.services.safe_text import without_invisible
from bot.services.tables import TableFileError, table_records
from storage.models import Opd

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("code", "name", "short_name", "kind")
# The order OPDs are listed in: the city's own order of its organisation chart.
KINDS = ("sekretariat", "inspektorat", "dinas", "satuan", "badan", "kecamatan", "kelurahan", "rsud", "lainnya")
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,31}$")
MAX_NAME, MAX_SHORT_NAME = 255, 120

_DEFAULT_FILE, _EXTENDED_FILE = "pontianak-opd.csv", "pontianak-opd-extended.csv"


class ImportFileError(ValueError):
    """The file cannot be read as an OPD list at all (bad extension, no header, missing column, bad encoding)."""


@dataclass(frozen=True)
class OpdRow:
    """One data row of an OPD file, as written; `line` is the 1-based file line (the header is line 1)."""

    line: int
    code: str
    name: str
    short_name: str
    kind: str


@dataclass(frozen=True)
class Rejection:
    """Why one cell of an import file was refused."""

    line: int
    column: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """The outcome of an import: every rejection, or the counts of what was (or would be) written."""

    rejections: tuple[Rejection, ...] = ()
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False

    @property
    def accepted(self) -> bool:
        """True when no row was rejected (all-or-nothing)."""
        return not self.rejections


@dataclass(frozen=True)
class OpdSummary:
    """One OPD as lists and replies show it."""

    code: str
    name: str
    short_name: str
    kind: str
    active: bool


def default_opd_file(extended: bool = False) -> Path:
    """The shipped list: the 32 perangkat daerah, or with `extended` also the kelurahan, RSUD and Setda bagian."""
    return Path(bot.data.__file__).parent / (_EXTENDED_FILE if extended else _DEFAULT_FILE)


def parse_opd_file(path: Path) -> list[OpdRow]:
    """Read the data rows of a `.csv` or `.xlsx` OPD file; raises ImportFileError when the file is unusable."""
    try:
        records = table_records(path, REQUIRED_COLUMNS)
    except TableFileError as error:
        raise ImportFileError(str(error)) from None
    return [OpdRow(line, r["code"], r["name"], r["short_name"], r["kind"]) for line, r in records]


def _cleaned(row: OpdRow) -> OpdRow:
    """The row as it is stored: trimmed, code upper-cased, kind lower-cased."""
    return OpdRow(
        line=row.line,
        code=row.code.strip().upper(),
        name=without_invisible(row.name).strip(),
        short_name=without_invisible(row.short_name).strip(),
        kind=row.kind.strip().lower(),
    )


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


def _length_rejection(row: OpdRow, column: str, value: str, limit: int) -> Rejection | None:
    if not value:
        return Rejection(row.line, column, "is empty")
    if len(value) > limit:
        return Rejection(row.line, column, f"is longer than {limit} characters ({len(value)})")
    return None


def validate_opd_rows(rows: Sequence[OpdRow]) -> list[Rejection]:
    """Every problem in the rows, in file order; an empty list means the whole file may be imported."""
    rejections: list[Rejection] = []
    first_line_of: dict[str, int] = {}
    for raw in rows:
        row = _cleaned(raw)
        found: list[Rejection | None] = []
        for column in REQUIRED_COLUMNS:
            if _has_control_character(getattr(row, column)):
                found.append(Rejection(row.line, column, "contains a control character"))
                continue
            if column == "code":
                found.append(_code_rejection(row, first_line_of))
            elif column == "name":
                found.append(_length_rejection(row, column, row.name, MAX_NAME))
            elif column == "short_name":
                found.append(_length_rejection(row, column, row.short_name, MAX_SHORT_NAME))
            elif row.kind not in KINDS:
                shown = repr(row.kind) if row.kind else "(empty)"
                found.append(Rejection(row.line, column, f"{shown} is not one of {', '.join(KINDS)}"))
        rejections.extend(rejection for rejection in found if rejection is not None)
    return rejections


def _code_rejection(row: OpdRow, first_line_of: dict[str, int]) -> Rejection | None:
    if not row.code:
        return Rejection(row.line, "code", "is empty")
    if not CODE_PATTERN.fullmatch(row.code):
        return Rejection(
            row.line, "code", f"{row.code!r} must be 2-32 characters of A-Z, 0-9 and _, not starting with _"
        )
    if row.code in first_line_of:
        return Rejection(row.line, "code", f"{row.code} repeats line {first_line_of[row.code]}")
    first_line_of[row.code] = row.line
    return None


async def import_opds(
    session: AsyncSession,
    rows: Sequence[OpdRow],
    *,
    acting: Acting,
    now: datetime,
    dry_run: bool = False,
    file_name: str | None = None,
) -> ImportReport:
    """Upsert the OPDs by code, all or nothing; OPDs missing from the file are left as they are."""
    rejections = validate_opd_rows(rows)
    if rejections:
        return ImportReport(rejections=tuple(rejections), dry_run=dry_run)
    # One SELECT of the whole (small) registry keeps the statement count independent of the file size.
    existing = {
        opd.code: opd
        for opd in (await session.execute(select(Opd.id, Opd.code, Opd.name, Opd.short_name, Opd.kind))).all()
    }
    additions: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    unchanged = 0
    for row in map(_cleaned, rows):
        values = {"name": row.name, "short_name": row.short_name, "kind": row.kind}
        current = existing.get(row.code)
        if current is None:
            additions.append({"code": row.code, **values, "active": True, "created_at": now})
        elif (current.name, current.short_name, current.kind) != (row.name, row.short_name, row.kind):
            changes.append({"id": current.id, **values})
        else:
            unchanged += 1
    report = ImportReport(added=len(additions), updated=len(changes), unchanged=unchanged, dry_run=dry_run)
    if dry_run:
        return report
    # `active` is never touched: removal is deactivation, done on purpose, not by leaving a row out of a file.
    if additions:
        await session.execute(insert(Opd), additions)
    if changes:
        await session.execute(update(Opd), changes)
    await audit.record(
        session,
        acting,
        "opd_import",
        now,
        object_type="opd_registry",
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        file=file_name,
    )
    logger.info("OPD import: added %d, updated %d, unchanged %d", report.added, report.updated, report.unchanged)
    return report


async def load_default_if_empty(session: AsyncSession, *, acting: Acting, now: datetime) -> ImportReport | None:
    """On a registry without any OPD, import the shipped list of the 32 perangkat daerah; None when it has OPDs.

    A fresh installation then shows the bot doing its job at once; a registry someone already filled (or emptied of
    all but deactivated OPDs, which are never deleted) is never touched.
    """
    if await session.scalar(select(func.count()).select_from(Opd)):
        return None
    path = default_opd_file()
    return await import_opds(session, parse_opd_file(path), acting=acting, now=now, file_name=path.name)


async def list_opds(session: AsyncSession) -> list[OpdSummary]:
    """Every OPD, active or not, ordered by kind (in KINDS order) then code."""
    opds = (await session.execute(select(Opd.code, Opd.name, Opd.short_name, Opd.kind, Opd.active))).all()
    rank = {kind: index for index, kind in enumerate(KINDS)}
    # Sorted here, not in SQL: PostgreSQL collations may ignore `_`, and SQLite's would not.
    ordered = sorted(opds, key=lambda opd: (rank.get(opd.kind, len(KINDS)), opd.kind, opd.code))
    return [OpdSummary(o.code, o.name, o.short_name, o.kind, o.active) for o in ordered]


async def set_opd_active(
    session: AsyncSession, code: str, active: bool, *, acting: Acting, now: datetime
) -> OpdSummary:
    """Activate or deactivate one OPD by code; audited only when the flag really changes."""
    wanted = code.strip().upper()
    opd = await session.scalar(select(Opd).where(Opd.code == wanted))
    if opd is None:
        raise DomainError("registry/opd_tidak_dikenal", code=wanted)
    if opd.active != active:
        opd.active = active
        await audit.record(
            session, acting, "opd_activate" if active else "opd_deactivate", now, object_type="opd", object_id=opd.code
        )
        logger.info("OPD %s %s", opd.code, "activated" if active else "deactivated")
    return OpdSummary(opd.code, opd.name, opd.short_name, opd.kind, opd.active)
