"""Reading operators' spreadsheets: `.csv` (UTF-8, `,` or `;`) or `.xlsx`, as numbered rows of cell texts."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


class TableFileError(ValueError):
    """The file cannot be read as a table at all.

    The message is the CLI's English line; `kind` and `values` let a chat say the same in Bahasa Indonesia.
    """

    def __init__(self, message: str, kind: str, **values: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.values = values


def table_lines(path: Path) -> list[tuple[int, list[str]]]:
    """Every row with the 1-based file line where it starts (the sheet's row number for .xlsx)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise TableFileError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx", "jenis_berkas"
        )
    if not path.is_file():
        raise TableFileError(f"{path}: no such file", "tidak_ada")
    return list(_csv_lines(path) if suffix == ".csv" else _xlsx_lines(path))


def _csv_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig drops a BOM (Excel writes one) and reads plain UTF-8
    except UnicodeDecodeError as error:
        raise TableFileError(f"{path.name}: not UTF-8 text (save it as 'CSV UTF-8')", "bukan_utf8") from error
    header = next((line for line in text.splitlines() if line.strip()), "")
    # Sniff on the header only: data cells (a `source` or `opd` column) may hold the other delimiter.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1  # a quoted cell may span lines; report the line where its row starts
    except csv.Error as error:
        raise TableFileError(f"{path.name}: line {start}: {error}", "csv_rusak", baris=str(start)) from error


def _xlsx_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    # openpyxl costs most of a CLI command's start-up: imported only when a workbook is read.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise TableFileError(f"{path.name}: not a readable .xlsx workbook", "xlsx_rusak") from error
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(value) for value in values]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # Excel's TRUE/FALSE (the wajib column)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric code typed into Excel comes back as 12.0
    return str(value)


def table_records(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[int, dict[str, str]]]:
    """Data rows as {column: text} with their line, under a header naming the columns (any order and case).

    Empty rows are skipped; extra columns are ignored; a missing optional column reads as "".
    """
    header_text = ",".join(required) + ("[," + ",".join(optional) + "]" if optional else "")
    positions: dict[str, int] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    for line, cells in table_lines(path):
        if not any(cell.strip() for cell in cells):
            continue
        if positions is None:
            names = [cell.strip().lower() for cell in cells]
            missing = [column for column in required if column not in names]
            if missing:
                raise TableFileError(
                    f"{path.name}: the header lacks the column(s) {', '.join(missing)}; required: {header_text}",
                    "kolom_kurang",
                    kolom=", ".join(missing),
                    kepala=header_text,
                )
            positions = {column: names.index(column) for column in (*required, *optional) if column in names}
            continue
        record = {column: "" for column in optional}
        record.update({column: cells[i] if i < len(cells) else "" for column, i in positions.items()})
        records.append((line, record))
    if positions is None:
        raise TableFileError(
            f"{path.name}: the file is empty; the first row must be the header {header_text}",
            "kosong",
            kepala=header_text,
        )
    return records
