"""How the shipped Berita Acara template (`templates/dokumen/berita-acara.docx`) was made, and how to make it again.

    .venv/bin/python -m tests.berita_acara_template templates/dokumen/berita-acara.docx

It is an ordinary Word document whose text holds docxtpl's Jinja2 tags (`{{ … }}`, and `{%tr … %}` rows that
repeat a table row); the city may edit it in Word, or replace it with its own (`<MONEV_DATA_DIR>/templates/
berita-acara.docx`), using the same names. tests/test_berita_acara.py checks the shipped file still reads as this
script writes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

# Each table: its heading cells, then the cells of the row repeated once per entry.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "hadir": (
        ("No", "Nama", "Jabatan / OPD", "Kehadiran"),
        ("{{ h.no }}", "{{ h.nama }}", "{{ h.jabatan }}", "{{ h.kehadiran }}"),
        "h in hadir",
    ),
    "opd": (
        ("No", "OPD", "Item wajib", "Lengkap", "Terverifikasi", "Kelengkapan"),
        ("{{ o.no }}", "{{ o.nama }}", "{{ o.wajib }}", "{{ o.lengkap }}", "{{ o.terverifikasi }}", "{{ o.persen }}"),
        "o in opd",
    ),
    "aspek": (
        ("No", "Aspek", "Indeks"),
        ("{{ a.no }}", "{{ a.nama }}", "{{ a.indeks }}"),
        "a in aspek",
    ),
}


def _table(document: Document, key: str) -> None:  # type: ignore[valid-type]
    heading, row, loop = TABLES[key]
    table = document.add_table(rows=4, cols=len(heading))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, heading, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    table.rows[1].cells[0].text = f"{{%tr for {loop} %}}"
    for cell, text in zip(table.rows[2].cells, row, strict=True):
        cell.text = text
    table.rows[3].cells[0].text = "{%tr endfor %}"


def build(target: Path) -> None:
    """Write the default template to `target`."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"  # type: ignore[attr-defined]
    style.font.size = Pt(11)  # type: ignore[attr-defined]
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("BERITA ACARA EVALUASI MANDIRI SPBE KOTA PONTIANAK TAHUN {{ tahun }}")
    run.bold = True
    subtitle = document.add_paragraph("Kegiatan Monev: {{ judul }} (#{{ kegiatan }})")
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(
        "Pada hari ini, {{ rapat.tanggal }}, bertempat di {{ rapat.tempat }}, telah dilaksanakan Rapat Koordinasi "
        "Tim SPBE Kota Pontianak dalam rangka Evaluasi Mandiri Sistem Pemerintahan Berbasis Elektronik (SPBE), "
        "pukul {{ rapat.mulai }} sampai dengan {{ rapat.selesai }}, dengan agenda: {{ rapat.agenda }}"
    )
    document.add_paragraph("I. Daftar Hadir").runs[0].bold = True
    _table(document, "hadir")
    document.add_paragraph("")
    document.add_paragraph("II. Kelengkapan Data Dukung per OPD").runs[0].bold = True
    _table(document, "opd")
    document.add_paragraph("")
    document.add_paragraph("III. Hasil Penilaian Mandiri").runs[0].bold = True
    document.add_paragraph("Indeks SPBE: {{ indeks }} — Predikat: {{ predikat }} ({{ kerangka }})")
    _table(document, "aspek")
    document.add_paragraph("{{ catatan_simulasi }}").runs[0].italic = True
    document.add_paragraph(
        "Demikian Berita Acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana mestinya."
    )
    document.add_paragraph("Pontianak, {{ dibuat }}").alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signatures = document.add_table(rows=4, cols=3)
    for cell, text in zip(
        signatures.rows[0].cells, ("Kepala Seksi PK&AI", "Kepala Bidang TKPBET", "Sekretaris Daerah"), strict=True
    ):
        cell.text = text
    for cell, text in zip(
        signatures.rows[2].cells, ("{{ ttd.kasi }}", "{{ ttd.kabid }}", "{{ ttd.sekda }}"), strict=True
    ):
        cell.text = text
    for row in signatures.rows:
        for cell in row.cells:
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    signatures.rows[1].height = Pt(60)
    document.save(str(target))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
