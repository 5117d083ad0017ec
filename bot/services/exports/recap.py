"""The recap workbook a Kabid prints: Ringkasan, Matriks, Berkas and Linimasa, written with openpyxl.

Write-only mode streams rows to disk, so 75,000 file rows stay far below the memory target; widths, frozen
headers, filters and the print setup are set before the first row, as that mode requires. Times are written as
WIB wall-clock times (Excel has no time zones) and every header says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.domain.enums import ReviewState
from bot.services.exports.data import BELUM, DITERIMA, REVISI, TERKIRIM, ExportData

DATE_FORMAT = "dd/mm/yyyy hh:mm"
STATE_WORDS = {
    "draft": "draf",
    "awaiting_disposition": "menunggu disposisi Kabid",
    "approved": "disetujui, menunggu surat bertanda tangan",
    "signed": "surat ditandatangani, siap dikirim",
    "open": "pengumpulan data berjalan",
    "closed": "pengumpulan ditutup",
    "recapped": "rekap diteruskan ke Tim SPBE",
    "finalized": "selesai",
}
MARK_WORDS = {BELUM: "Belum", TERKIRIM: "Terkirim", REVISI: "Perlu revisi", DITERIMA: "Diterima"}
# The matrix colours (fill, as Excel's own "good / neutral / bad" styles): a printed copy reads without them too.
MARK_FILLS = {BELUM: "FFC7CE", TERKIRIM: "FFEB9C", REVISI: "F8CBAD", DITERIMA: "C6EFCE", None: "D9D9D9"}
REVIEW_WORDS = {
    ReviewState.SUBMITTED.value: "Menunggu tinjauan",
    ReviewState.ACCEPTED.value: "Diterima",
    ReviewState.REVISION_REQUESTED.value: "Perlu revisi",
}
STEP_NAMES = {
    0: "Persiapan surat undangan",
    1: "Disposisi",
    2: "Penandatanganan dan pengiriman undangan",
    3: "Pengumpulan data dukung",
    4: "Rekap data",
    5: "Rapat Tim SPBE",
    6: "Pengisian form dan BA Evaluasi Mandiri",
    7: "Dokumen Evaluasi SPBE",
}
ROLE_WORDS = {
    "opd": "OPD",
    "kasi": "Kasi PK&AI",
    "kabid": "Kabid TKPBET",
    "sekretariat": "Sekretariat",
    "tim": "Tim SPBE",
}

RINGKASAN = (
    "Kode OPD",
    "Nama OPD",
    "Penghubung",
    "Item wajib",
    "Terkirim",
    "Diterima",
    "Perlu revisi",
    "Kurang",
    "Kelengkapan",
    "Terverifikasi",
    "Unggahan terakhir (WIB)",
    "Temuan pemeriksaan otomatis",
)
BERKAS = (
    "Kode OPD",
    "Item",
    "Versi",
    "Nama berkas",
    "Ukuran (bita)",
    "SHA-256",
    "Diunggah (WIB)",
    "Pengunggah",
    "Atas nama OPD",
    "Status tinjauan",
    "Peninjau",
    "Catatan",
    "Temuan pemeriksaan otomatis",
)
LINIMASA = (
    "Langkah",
    "Kegiatan",
    "Pelaksana",
    "Mulai (WIB)",
    "Selesai (WIB)",
    "Target",
    "Realisasi",
    "Keterangan",
)
MAX_WIDTH = 60
HEADER_ROW = 4  # after the title, the moment and a blank line


def write_recap(data: ExportData, target: Path | BinaryIO, zone: ZoneInfo) -> None:
    """Write the workbook (synchronous and CPU-bound: call it in a thread, outside any transaction)."""
    book = Workbook(write_only=True)
    # The document's own dates are the export's moment, not the machine's clock (openpyxl's default).
    book.properties.created = book.properties.modified = data.now.astimezone(UTC).replace(tzinfo=None)
    book.properties.creator = "Bot Monev SPBE Kota Pontianak"
    book.properties.title = text(data.title)
    writer = _Writer(zone)
    writer.ringkasan(book.create_sheet("Ringkasan"), data)
    writer.matriks(book.create_sheet("Matriks"), data)
    writer.berkas(book.create_sheet("Berkas"), data)
    writer.linimasa(book.create_sheet("Linimasa"), data)
    book.save(target)


class _Writer:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.bold = Font(bold=True)
        self.title_font = Font(bold=True, size=13)
        thin = Side(style="thin", color="999999")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.header_fill = PatternFill("solid", fgColor="DDEBF7")
        self.fills = {mark: PatternFill("solid", fgColor=colour) for mark, colour in MARK_FILLS.items()}
        self.center = Alignment(horizontal="center", vertical="center")
        self.wrap = Alignment(wrap_text=True, vertical="top")

    def local(self, moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(self.zone).replace(tzinfo=None)

    def words(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        return f"{local:%d/%m/%Y %H.%M} WIB"

    def cell(self, sheet: WriteOnlyWorksheet, value: Any, **style: Any) -> WriteOnlyCell:
        made = WriteOnlyCell(sheet, value=value)
        for name, setting in style.items():
            setattr(made, name, setting)
        return made

    def date(self, sheet: WriteOnlyWorksheet, moment: datetime | None) -> WriteOnlyCell | None:
        local = self.local(moment)
        return None if local is None else self.cell(sheet, local, number_format=DATE_FORMAT)

    def start(
        self,
        sheet: WriteOnlyWorksheet,
        data: ExportData,
        headers: Sequence[str],
        widths: Sequence[float],
        *,
        rows: int,
        frozen_columns: int = 0,
    ) -> None:
        """Widths, print setup, frozen headers and filters (all before the first row), then title and headers."""
        for n, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(n)].width = min(MAX_WIDTH, max(width, 6))
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = "9"  # A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.gridLines = True
        sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        sheet.freeze_panes = f"{get_column_letter(frozen_columns + 1)}{HEADER_ROW + 1}"
        last = get_column_letter(len(headers))
        sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(rows, 1)}"
        title = text(f"{data.title} (kegiatan Monev #{data.campaign_id})")
        sheet.append([self.cell(sheet, title, font=self.title_font)])
        sheet.append(
            [
                f"Keadaan per {self.words(data.now)}; status: {STATE_WORDS.get(data.state.value, data.state.value)}; "
                f"tenggat: {self.words(data.deadline)}"
            ]
        )
        sheet.append([])
        sheet.append(
            [
                self.cell(sheet, h, font=self.bold, fill=self.header_fill, border=self.border, alignment=self.wrap)
                for h in headers
            ]
        )

    def ringkasan(self, sheet: WriteOnlyWorksheet, data: ExportData) -> None:
        rows = [
            (
                o.code,
                text(o.name),
                text(", ".join(o.liaisons)) or "(belum ada penghubung)",
                o.standing.required,
                o.submitted,
                o.standing.verified,
                o.revision,
                o.missing,
                o.standing.percent(o.standing.complete) / 100,
                o.standing.percent(o.standing.verified) / 100,
                o.standing.last_upload,
                o.findings,
            )
            for o in data.opds
        ]
        widths = _widths(RINGKASAN[:3], ([str(v) for v in r[:3]] for r in rows), minimum=[10, 30, 24])
        self.start(sheet, data, RINGKASAN, [*widths[:3], 10, 10, 10, 10, 10, 12, 13, 18, 14], rows=len(rows))
        for row in rows:
            *values, kelengkapan, terverifikasi, last, findings = row
            sheet.append(
                [
                    *values,
                    self.cell(sheet, kelengkapan, number_format="0%"),
                    self.cell(sheet, terverifikasi, number_format="0%"),
                    self.date(sheet, last) if last else "belum ada unggahan",
                    findings,
                ]
            )
        if not rows:
            sheet.append(["Belum ada OPD dalam kegiatan ini."])

    def matriks(self, sheet: WriteOnlyWorksheet, data: ExportData) -> None:
        headers = ("Kode OPD", "Nama OPD", *(i.code for i in data.items))
        names = [text(o.short_name or o.name) or o.code for o in data.opds]
        widths = _widths(headers[:2], ([o.code, n] for o, n in zip(data.opds, names, strict=True)), minimum=[10, 20])
        self.start(
            sheet,
            data,
            headers,
            [*widths, *(12 for _ in data.items)],
            rows=len(data.opds),
            frozen_columns=2,
        )
        latest = data.latest()
        styles = {
            mark: {"fill": fill, "border": self.border, "alignment": self.center} for mark, fill in self.fills.items()
        }
        # One styled cell per mark, reused: styling 25,000 cells one by one hashes every fill, border and
        # alignment again. A row writes each cell as it goes, and only marks follow the first mark of a row, so a
        # reused cell keeps its word (see `berkas` on how openpyxl reuses the last cell object of a row).
        marks = {mark: self.cell(sheet, MARK_WORDS[mark] if mark else "-", **style) for mark, style in styles.items()}
        for opd, name in zip(data.opds, names, strict=True):
            cells: list[Any] = [opd.code, name]
            cells.extend(marks[data.mark(opd.id, item.id, latest)] for item in data.items)
            sheet.append(cells)
        sheet.append([])
        sheet.append(["Keterangan:"])
        for mark, word in MARK_WORDS.items():
            sheet.append([self.cell(sheet, word, **styles[mark]), _LEGEND[mark]])
        sheet.append([self.cell(sheet, "-", **styles[None]), "item tidak diminta dari OPD ini"])

    def berkas(self, sheet: WriteOnlyWorksheet, data: ExportData) -> None:
        codes = {o.id: o.code for o in data.opds}
        short = {o.id: o.short_name or o.code for o in data.opds}
        items = {i.id: i.code for i in data.items}
        order = {i.id: n for n, i in enumerate(data.items)}
        versions = sorted(data.versions, key=lambda v: (codes[v.opd_id], order[v.item_id], v.number))
        files = [(v, f) for v in versions for f in v.files]
        fitted = _widths(
            ("Nama berkas", "Pengunggah", "Peninjau", "Catatan"),
            ([f.name, v.uploader, v.reviewer or "", v.note or ""] for v, f in files),
            minimum=[20, 16, 16, 20],
        )
        widths = [10, 8, 6, fitted[0], 12, 66, 16, fitted[1], 14, 22, fitted[2], fitted[3], 14]
        self.start(sheet, data, BERKAS, widths, rows=len(files))
        # One styled cell for the date column, given each row's value: openpyxl writes a row as it is appended,
        # and styling a new cell per row costs more than the rest of the row (75,000 rows, the 10 s target).
        # openpyxl assigns a row's later plain values to the last cell object it was given: the uploader's
        # cell, plain, follows the date so that the rest of the row is not written with the date's style.
        uploaded = self.cell(sheet, None, number_format=DATE_FORMAT)
        uploader = WriteOnlyCell(sheet)
        # People are few: their names are cleaned once each, not once per row.
        names = {n: text(n) for v in versions for n in (v.uploader, v.reviewer) if n is not None}
        for v in versions:
            state = REVIEW_WORDS.get(v.review_state, v.review_state)
            if v.superseded_by is not None and v.review_state == ReviewState.SUBMITTED.value:
                state = f"Digantikan versi {v.superseded_by}"
            moment = self.local(v.created_at)
            note = text(v.note)
            behalf = short[v.opd_id] if v.on_behalf else None  # None: no cell at all (an empty one costs the same)
            for f in v.files:
                # Set for each row: openpyxl assigns the row's later values to the last cell object it was given.
                uploaded.value, uploader.value = moment, names[v.uploader]
                sheet.append(
                    [
                        codes[v.opd_id],
                        items[v.item_id],
                        v.number,
                        text(f.name),
                        f.size,
                        f.sha256,
                        uploaded,
                        uploader,
                        behalf,
                        state,
                        names[v.reviewer] if v.reviewer is not None else None,
                        note,
                        v.findings,
                    ]
                )
        if not files:
            sheet.append(["Belum ada berkas yang diunggah."])

    def linimasa(self, sheet: WriteOnlyWorksheet, data: ExportData) -> None:
        widths = [8, 60, 14, 16, 16, 16, 16, 20]
        self.start(sheet, data, LINIMASA, widths, rows=len(data.steps))
        per_day = data.minutes_per_day
        for s in data.steps:
            if s.started is None:
                note = "belum mulai"
            elif s.over_target:
                note = "melebihi target" if s.ended else "berjalan, melebihi target"
            else:
                note = "sesuai target" if s.ended else "berjalan"
            sheet.append(
                [
                    s.step.step,
                    self.cell(sheet, f"{STEP_NAMES.get(s.step.step, '')}: {s.step.activity}", alignment=self.wrap),
                    ROLE_WORDS.get(s.step.actor_role, s.step.actor_role),
                    self.date(sheet, s.started),
                    self.date(sheet, s.ended),
                    working_time(s.target_minutes, per_day),
                    working_time(s.working_minutes, per_day),
                    note,
                ]
            )


_LEGEND = {
    BELUM: "belum ada berkas",
    TERKIRIM: "berkas terkirim, menunggu tinjauan",
    REVISI: "dikembalikan untuk perbaikan",
    DITERIMA: "berkas diterima (terverifikasi)",
}


def text(value: str | None) -> str | None:
    """A text people typed (a note, a name), without the control characters a workbook cannot hold."""
    return None if value is None else ILLEGAL_CHARACTERS_RE.sub(" ", value)


def working_time(minutes: int | None, per_day: int) -> str:
    """'2,5 hari kerja' or '45 menit kerja', as `/kegiatan` shows a step (templates/kampanye/_status.j2)."""
    if minutes is None:
        return "-"
    if minutes >= per_day:
        return f"{minutes / per_day:.1f}".replace(".", ",") + " hari kerja"
    return f"{minutes} menit kerja"


def _widths(headers: Sequence[str], rows: Iterable[Sequence[str]], *, minimum: Sequence[int]) -> list[float]:
    """Column widths that fit the longest value (capped; long names wrap when printed)."""
    widest = [max(len(h), m) for h, m in zip(headers, minimum, strict=True)]
    for row in rows:
        for n, value in enumerate(row):
            widest[n] = max(widest[n], len(value))
    return [min(MAX_WIDTH, w + 2) for w in widest]
