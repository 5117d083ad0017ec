"""The scores file: the template a campaign's indicators are written into, and its import (all or nothing).

CONTRACT "Files": `indikator,level,penjelasan` (`indikator` is the item code `I.NN`), `.csv` or `.xlsx`. The
optional column `sumber` carries the other agency's assessment of Pemdi indicators 5-7; the template's other
columns (the indicator's name, aspect, weight and level names) only help whoever fills it in and are ignored on
import. A row with neither level nor explanation is an indicator left for later and is skipped. If any row is
rejected, nothing is written and every rejected row is reported (line, column, reason), like the OPD and item
imports; otherwise the counts added / updated / unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import scoring
from bot.services import scores
from bot.services.audit import Acting
from bot.services.items import Rejection
from bot.services.safe_text import display_text
from bot.services.scores import ScoreOutcome, ScoreSheet
from bot.services.tables import TableFileError, table_records

REQUIRED_COLUMNS = ("indikator", "level", "penjelasan")
OPTIONAL_COLUMNS = ("sumber",)
HELP_COLUMNS = ("nama_indikator", "aspek", "bobot_persen", "arti_level")
SHEET_TITLE = "Nilai"


class ScoreFileError(ValueError):
    """The file cannot be read as a scores table at all; `kind` and `values` are the chat's wording."""

    def __init__(self, message: str, kind: str = "", **values: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.values = values


@dataclass(frozen=True)
class ScoreLine:
    """One data row of a scores file, cells as written; `line` is the 1-based file line (the header is line 1)."""

    line: int
    indikator: str
    level: str
    penjelasan: str
    sumber: str = ""


@dataclass(frozen=True)
class ValidScore:
    line: int
    code: str
    level: int
    penjelasan: str
    source: str | None
    outcome: ScoreOutcome  # what importing it would do against the scores as they are


@dataclass(frozen=True)
class ScoreImportReport:
    """What an import did (or, with dry_run or rejections, would do); nothing is written when `rejections`."""

    added: int
    updated: int
    unchanged: int
    skipped: int  # rows with neither level nor explanation
    rejections: tuple[Rejection, ...]
    written: bool

    @property
    def accepted(self) -> bool:
        return not self.rejections


def parse_score_file(path: Path) -> list[ScoreLine]:
    """The rows of a scores file (`.csv` or `.xlsx`); `ScoreFileError` when it is no readable table."""
    try:
        records = table_records(path, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    except TableFileError as error:
        raise ScoreFileError(str(error), error.kind, **error.values) from None
    return [
        ScoreLine(line, r["indikator"].strip(), r["level"].strip(), r["penjelasan"], r["sumber"]) for line, r in records
    ]


def _rejection(line: int, column: str, reason: str, kind: str, **values: str) -> Rejection:
    return Rejection(line, column, reason, kind, tuple(values.items()))


def validate_score_lines(sheet: ScoreSheet, lines: Sequence[ScoreLine]) -> tuple[list[ValidScore], list[Rejection]]:
    """Every row checked against the campaign's indicators (pure); each rejected cell is reported."""
    valid: list[ValidScore] = []
    rejections: list[Rejection] = []
    seen: dict[str, int] = {}
    for row in lines:
        code = row.indikator.upper()
        if not (row.level or row.penjelasan.strip() or row.sumber.strip()):
            continue
        before = len(rejections)
        current = sheet.row(code)
        if not code:
            rejections.append(_rejection(row.line, "indikator", "empty", "kosong"))
        elif current is None:
            rejections.append(
                _rejection(
                    row.line,
                    "indikator",
                    f"no indicator {code!r} in this campaign",
                    "indikator_tidak_dikenal",
                    kode=display_text(row.indikator)[:32],
                )  # fmt: skip
            )
        elif code in seen:
            rejections.append(
                _rejection(
                    row.line, "indikator", f"{code} already on line {seen[code]}", "kode_ganda", baris=str(seen[code])
                )  # fmt: skip
            )
        else:
            seen[code] = row.line
        level = scoring.parse_level(row.level)
        if level is None:
            rejections.append(
                _rejection(
                    row.line,
                    "level",
                    f"{row.level or '(empty)'!r} is not a level 1-5",
                    "level_salah",
                    nilai=display_text(row.level)[:16],
                )  # fmt: skip
            )
        explanation = display_text(row.penjelasan, multiline=True).strip()
        if not explanation:
            rejections.append(_rejection(row.line, "penjelasan", "empty", "kosong"))
        elif len(explanation) > scores.PENJELASAN_MAX:
            rejections.append(
                _rejection(row.line, "penjelasan", f"too long ({len(explanation)} > {scores.PENJELASAN_MAX})",
                           "terlalu_panjang", panjang=str(len(explanation)), batas=str(scores.PENJELASAN_MAX))
            )  # fmt: skip
        source: str | None = None
        if current is not None and current.needs_source:
            source = " ".join(display_text(row.sumber).split()) or None
            if source is None:
                rejections.append(_rejection(row.line, "sumber", f"{code} needs its source", "sumber_wajib"))
            elif len(source) > scores.SOURCE_MAX:
                rejections.append(
                    _rejection(row.line, "sumber", f"too long ({len(source)} > {scores.SOURCE_MAX})",
                               "terlalu_panjang", panjang=str(len(source)), batas=str(scores.SOURCE_MAX))
                )  # fmt: skip
        if len(rejections) > before or current is None or level is None:
            continue
        if current.level is None:
            outcome = ScoreOutcome.ADDED
        elif (current.level, current.penjelasan, current.source) == (level, explanation, source):
            outcome = ScoreOutcome.UNCHANGED
        else:
            outcome = ScoreOutcome.UPDATED
        valid.append(ValidScore(row.line, current.code, level, explanation, source, outcome))
    return valid, rejections


async def import_scores(
    session: AsyncSession,
    campaign_id: int,
    lines: Sequence[ScoreLine],
    *,
    acting: Acting,
    now: datetime,
    dry_run: bool = False,
) -> ScoreImportReport:
    """Check every row, then (unless `dry_run` or a row is rejected) record the changed ones, each audited."""
    scores.require_scorer(acting)
    await scores.require_scoring(session, campaign_id)
    sheet = await scores.score_sheet(session, campaign_id)
    valid, rejections = validate_score_lines(sheet, lines)
    skipped = len(lines) - len(valid) - len({r.line for r in rejections})
    if not valid and not rejections:
        rejections = [_rejection(1, "-", "no scores in the file", "tanpa_nilai")]
    write = not dry_run and not rejections
    if write:
        for score in valid:
            if score.outcome is not ScoreOutcome.UNCHANGED:
                await scores.record_score(
                    session, campaign_id, score.code, score.level, score.penjelasan, source=score.source,
                    acting=acting, now=now,
                )  # fmt: skip
    return ScoreImportReport(
        added=sum(1 for s in valid if s.outcome is ScoreOutcome.ADDED),
        updated=sum(1 for s in valid if s.outcome is ScoreOutcome.UPDATED),
        unchanged=sum(1 for s in valid if s.outcome is ScoreOutcome.UNCHANGED),
        skipped=skipped,
        rejections=tuple(rejections),
        written=write,
    )


def write_score_template(sheet: ScoreSheet, path: Path) -> int:
    """The campaign's indicators in a workbook to fill in (current scores already in); returns the rows written."""
    path.write_bytes(score_template_bytes(sheet))
    return len(sheet.rows)


def template_name(campaign_id: int) -> str:
    return f"nilai-kegiatan-{campaign_id}.xlsx"


def score_template_bytes(sheet: ScoreSheet) -> bytes:
    """The template workbook: the three named columns first, as the import reads them; `sumber` for Pemdi 5-7."""
    # openpyxl (and numpy behind it) cost most of a CLI command's start-up: imported only when a template is made.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    table = workbook.active
    assert table is not None  # a new workbook always has its first sheet
    table.title = SHEET_TITLE
    table.append([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *HELP_COLUMNS])
    for row in sheet.rows:
        names = scoring.level_names(sheet.framework, row.domain)
        meaning = "; ".join(f"{n} {name}" for n, name in enumerate(names, start=1)) if names else "1 (terendah) - 5"
        if row.needs_source:
            meaning += "; isi kolom sumber dengan penilaian instansi lain"
        table.append(
            [
                row.code,
                row.level,
                row.penjelasan or "",
                row.source or "",
                row.name,
                row.aspect or "",
                float(row.weight) if row.weight is not None else None,
                meaning,
            ]
        )
    for cell in table[1]:
        cell.font = Font(bold=True)
    levels = DataValidation(type="whole", operator="between", formula1="1", formula2="5", allow_blank=True)
    levels.error, levels.errorTitle = "Level harus bilangan bulat 1 sampai 5.", "Level tidak berlaku"
    table.add_data_validation(levels)
    if sheet.rows:
        levels.add(f"B2:B{len(sheet.rows) + 1}")
    for column, width in zip("ABCDEFGH", (10, 7, 60, 30, 60, 40, 12, 70), strict=True):
        table.column_dimensions[column].width = width
    for cells in table.iter_rows(min_row=2, min_col=3, max_col=3):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    table.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
