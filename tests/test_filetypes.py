"""Content sniffing of uploads: real files built on disk, judged by their bytes, never by their names."""

from __future__ import annotations

import os
import random
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.conversation.templating import Renderer
from bot.services.filetypes import (
    REASON_EMPTY,
    REASON_EXECUTABLE,
    REASON_MISLEADING_NAME,
    REASON_NOT_REQUESTED,
    REASON_UNKNOWN,
    REASON_ZIP_BOMB,
    REASON_ZIP_BROKEN,
    REASONS,
    Verdict,
    looks_like_pdf,
    sniff,
)
from tests.archives import zip_bytes

MB = 1024 * 1024
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def _png_bytes() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def _noise(size: int) -> bytes:
    """Incompressible bytes that are the same on every run (random ones could start like a program, 1 in 30,000)."""
    return b"\x00" + random.Random(size).randbytes(size - 1)


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _ooxml(directory: Path, name: str, part: str) -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr(part, "<document>Laporan SPBE Kota Pontianak</document>")
    return path


def _odf(directory: Path, name: str, mimetype: str) -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # The ODF spec wants `mimetype` first and uncompressed, so readers can sniff it at a fixed offset.
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    return path


def _plain_zip(directory: Path, name: str) -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notulen.txt", "Notulen rapat SPBE")
        archive.writestr("foto/acara.bin", _noise(4096))
    return path


def _zeros_zip(path: Path, size: int) -> Path:
    chunk = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("nol.bin", "w", force_zip64=True) as member:
            for _ in range(size // MB):
                member.write(chunk)
    return path


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 MB of zeros, compressed to well under a megabyte."""
    return _zeros_zip(tmp_path_factory.mktemp("bomb") / "arsip.zip", 300 * MB)


def _accepted(verdict: Verdict, kind: str, category: str) -> None:
    assert verdict == Verdict(accepted=True, kind=kind, category=category, reason=None, detail={})


# --- accepted kinds ----------------------------------------------------------------------------------------------


def test_a_minimal_pdf_is_accepted(tmp_path: Path) -> None:
    _accepted(sniff(_write(tmp_path, "surat.pdf", PDF_BYTES), "surat.pdf"), "pdf", "pdf")


def test_a_real_xlsx_from_openpyxl_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rekap.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["OPD", "Indikator"])  # type: ignore[union-attr]
    workbook.save(path)
    _accepted(sniff(path, "rekap.xlsx"), "xlsx", "lembar")


@pytest.mark.parametrize(
    ("name", "part", "kind", "category"),
    [
        ("kebijakan.docx", "word/document.xml", "docx", "dokumen"),
        ("paparan.pptx", "ppt/presentation.xml", "pptx", "presentasi"),
    ],
)
def test_ooxml_is_recognised_by_its_parts(tmp_path: Path, name: str, part: str, kind: str, category: str) -> None:
    _accepted(sniff(_ooxml(tmp_path, name, part), name), kind, category)


@pytest.mark.parametrize(
    ("name", "mimetype", "kind", "category"),
    [
        ("kebijakan.odt", "application/vnd.oasis.opendocument.text", "odt", "dokumen"),
        ("rekap.ods", "application/vnd.oasis.opendocument.spreadsheet", "ods", "lembar"),
    ],
)
def test_odf_is_recognised_by_its_mimetype_entry(
    tmp_path: Path, name: str, mimetype: str, kind: str, category: str
) -> None:
    _accepted(sniff(_odf(tmp_path, name, mimetype), name), kind, category)


def test_an_odf_kind_we_do_not_list_is_a_plain_zip(tmp_path: Path) -> None:
    path = _odf(tmp_path, "paparan.odp", "application/vnd.oasis.opendocument.presentation")
    _accepted(sniff(path, "paparan.odp"), "zip", "zip")


@pytest.mark.parametrize(
    ("name", "kind", "category"),
    [
        ("lama.doc", "doc", "dokumen"),
        ("lama.xls", "xls", "lembar"),
        ("lama.bin", "doc", "dokumen"),
        (None, "doc", "dokumen"),
    ],
)
def test_ole2_is_told_apart_by_the_extension_only(tmp_path: Path, name: str | None, kind: str, category: str) -> None:
    path = _write(tmp_path, "ole2", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    _accepted(sniff(path, name), kind, category)


@pytest.mark.parametrize("name", ["foto.jpg", "foto.jpeg", "FOTO.JPG", None])
def test_jpg_under_either_extension(tmp_path: Path, name: str | None) -> None:
    path = _write(tmp_path, "foto", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(64) + b"\xff\xd9")
    _accepted(sniff(path, name), "jpg", "gambar")


def test_png(tmp_path: Path) -> None:
    _accepted(sniff(_write(tmp_path, "bagan.png", _png_bytes()), "bagan.png"), "png", "gambar")


def test_a_plain_zip(tmp_path: Path) -> None:
    _accepted(sniff(_plain_zip(tmp_path, "lampiran.zip"), "lampiran.zip"), "zip", "zip")


def test_an_extension_that_names_no_kind_leaves_the_content_to_decide(tmp_path: Path) -> None:
    path = _write(tmp_path, "surat", PDF_BYTES)
    _accepted(sniff(path, "surat.final"), "pdf", "pdf")
    _accepted(sniff(path, "surat"), "pdf", "pdf")
    _accepted(sniff(path, None), "pdf", "pdf")


# --- refusals ----------------------------------------------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    verdict = sniff(_write(tmp_path, "kosong.pdf", b""), "kosong.pdf")
    assert verdict == Verdict(accepted=False, kind=None, category=None, reason=REASON_EMPTY, detail={})


@pytest.mark.parametrize(
    ("data", "program"),
    [
        (b"MZ\x90\x00\x03" + bytes(59) + b"PE\x00\x00" + PDF_BYTES, "untuk Windows"),
        (b"\x7fELF\x02\x01\x01" + bytes(57), "untuk Linux"),
        (b"#!/bin/sh\nrm -rf /\n", "skrip"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34", "Java atau macOS"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "untuk macOS"),
    ],
)
def test_programs_are_refused_whatever_their_name(tmp_path: Path, data: bytes, program: str) -> None:
    verdict = sniff(_write(tmp_path, "laporan.pdf", data), "laporan.pdf")
    assert (verdict.accepted, verdict.reason, verdict.detail) == (False, REASON_EXECUTABLE, {"program": program})


def test_an_unknown_text_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "catatan.txt", b"Catatan rapat SPBE\n")
    assert sniff(path, "catatan.txt").reason == REASON_UNKNOWN
    # Claiming to be a PDF does not help: there is no real kind to compare with, so it is simply unknown.
    assert sniff(path, "catatan.pdf").reason == REASON_UNKNOWN


def test_a_truncated_pdf_is_unknown(tmp_path: Path) -> None:
    path = _write(tmp_path, "surat.pdf", PDF_BYTES[:-8] + bytes(4096))
    assert sniff(path, "surat.pdf").reason == REASON_UNKNOWN


def test_a_png_named_pdf_is_refused_as_misleading(tmp_path: Path) -> None:
    verdict = sniff(_write(tmp_path, "laporan.pdf", _png_bytes()), "Laporan.PDF")
    assert verdict == Verdict(
        accepted=False,
        kind="png",
        category="gambar",
        reason=REASON_MISLEADING_NAME,
        detail={"claimed": "pdf", "real": "png"},
    )


def test_a_plain_zip_named_docx_is_refused_as_misleading(tmp_path: Path) -> None:
    verdict = sniff(_plain_zip(tmp_path, "kebijakan.docx"), "kebijakan.docx")
    assert (verdict.reason, verdict.detail) == (REASON_MISLEADING_NAME, {"claimed": "docx", "real": "zip"})


def test_a_docx_named_xlsx_is_refused_as_misleading(tmp_path: Path) -> None:
    verdict = sniff(_ooxml(tmp_path, "rekap.xlsx", "word/document.xml"), "rekap.xlsx")
    assert (verdict.reason, verdict.detail) == (REASON_MISLEADING_NAME, {"claimed": "xlsx", "real": "docx"})


def test_a_jpg_named_jpeg_is_fine_but_a_png_named_jpeg_is_not(tmp_path: Path) -> None:
    verdict = sniff(_write(tmp_path, "foto.jpeg", _png_bytes()), "foto.jpeg")
    assert (verdict.reason, verdict.detail) == (REASON_MISLEADING_NAME, {"claimed": "jpeg", "real": "png"})


def test_a_zip_bomb_by_size_is_refused(zip_bomb: Path) -> None:
    assert zip_bomb.stat().st_size < MB
    verdict = sniff(zip_bomb, "arsip.zip")
    assert (verdict.accepted, verdict.reason) == (False, REASON_ZIP_BOMB)
    assert verdict.detail["uncompressed"] == 300 * MB
    assert verdict.detail["limit"] == 200 * MB
    assert verdict.detail["max_ratio"] == 100


def test_the_bomb_rule_covers_office_files_too(zip_bomb: Path) -> None:
    assert sniff(zip_bomb, "kebijakan.docx").reason == REASON_ZIP_BOMB


def test_a_small_zip_with_a_high_ratio_is_refused(tmp_path: Path) -> None:
    verdict = sniff(_zeros_zip(tmp_path / "kecil.zip", MB), "kecil.zip")
    assert verdict.reason == REASON_ZIP_BOMB
    assert verdict.detail["uncompressed"] == MB
    assert verdict.detail["ratio"] > 100


@pytest.mark.parametrize("cut", [b"PK\x03\x04garbage that is no archive", None])
def test_a_broken_zip_is_refused(tmp_path: Path, cut: bytes | None) -> None:
    if cut is None:
        whole = _ooxml(tmp_path, "utuh.docx", "word/document.xml").read_bytes()
        cut = whole[: len(whole) // 2]
    verdict = sniff(_write(tmp_path, "rusak.docx", cut), "rusak.docx")
    assert (verdict.accepted, verdict.reason) == (False, REASON_ZIP_BROKEN)


# --- jenis_berkas ------------------------------------------------------------------------------------------------


def test_allowed_categories_narrow_the_accepted_kinds(tmp_path: Path) -> None:
    xlsx = _ooxml(tmp_path, "rekap.xlsx", "xl/workbook.xml")
    _accepted(sniff(xlsx, "rekap.xlsx", allowed_categories={"lembar", "pdf"}), "xlsx", "lembar")
    verdict = sniff(xlsx, "rekap.xlsx", allowed_categories={"gambar", "pdf"})
    assert verdict == Verdict(
        accepted=False,
        kind="xlsx",
        category="lembar",
        reason=REASON_NOT_REQUESTED,
        detail={"real": "xlsx", "category": "lembar", "allowed": ["pdf", "gambar"]},
    )


def test_a_misleading_name_is_reported_before_the_narrowing(tmp_path: Path) -> None:
    path = _write(tmp_path, "laporan.pdf", _png_bytes())
    assert sniff(path, "laporan.pdf", allowed_categories=["pdf"]).reason == REASON_MISLEADING_NAME


def test_an_unknown_category_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="foto"):
        sniff(_write(tmp_path, "bagan.png", _png_bytes()), "bagan.png", allowed_categories=["foto"])


# --- memory and the old helper -----------------------------------------------------------------------------------


def _big_pdf(path: Path) -> Path:
    chunk = os.urandom(MB)
    with path.open("wb") as handle:
        handle.write(b"%PDF-1.7\n")
        for _ in range(20):
            handle.write(chunk)
        handle.write(b"\n%%EOF\n")
    return path


def _big_zip(path: Path) -> Path:
    chunk = _noise(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(20):
            archive.writestr(f"foto{index}.bin", chunk)
    return path


@pytest.mark.parametrize(("build", "kind"), [(_big_pdf, "pdf"), (_big_zip, "zip")])
def test_a_20_mb_file_is_not_read_whole(tmp_path: Path, build: Callable[[Path], Path], kind: str) -> None:
    path = build(tmp_path / "besar")
    assert path.stat().st_size > 20 * MB
    tracemalloc.start()
    try:
        verdict = sniff(path, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert verdict.kind == kind
    assert peak < MB // 4, f"peak allocation {peak} bytes"


def test_looks_like_pdf_still_answers_for_the_letter_upload(tmp_path: Path) -> None:
    assert looks_like_pdf(_write(tmp_path, "surat.pdf", PDF_BYTES))
    assert looks_like_pdf(_write(tmp_path, "pembuka.pdf", b"\xef\xbb\xbf\n" + PDF_BYTES))
    assert not looks_like_pdf(_write(tmp_path, "bagan.pdf", _png_bytes()))
    assert not looks_like_pdf(_write(tmp_path, "kosong.pdf", b""))
    assert not looks_like_pdf(_write(tmp_path, "potong.pdf", PDF_BYTES[:40]))


# --- templates ---------------------------------------------------------------------------------------------------


def _one_verdict_per_reason(directory: Path, zip_bomb: Path) -> dict[str, Verdict]:
    png = _write(directory, "bagan.png", _png_bytes())
    verdicts = [
        sniff(_write(directory, "kosong.pdf", b""), "kosong.pdf"),
        sniff(_write(directory, "catatan.txt", b"catatan"), "catatan.txt"),
        sniff(_write(directory, "setup.pdf", b"MZ" + bytes(62)), "setup.pdf"),
        sniff(png, "laporan.pdf"),
        sniff(zip_bomb, "arsip.zip"),
        sniff(_write(directory, "rusak.zip", b"PK\x03\x04rusak"), "rusak.zip"),
        sniff(png, "bagan.png", allowed_categories=["pdf", "dokumen", "lembar"]),
        sniff(_write(directory, "surat.pdf", PDF_BYTES + zip_bytes({"a.exe": b"MZ"})), "surat.pdf"),
        sniff(_write(directory, "kebijakan.docx", _docx_with({"payload.exe": b"MZ"})), "kebijakan.docx"),
        sniff(_write(directory, "dalam.zip", _deep_zip(5)), "dalam.zip"),
    ]
    return {v.reason: v for v in verdicts if v.reason}


def test_every_reason_has_a_template_that_renders(tmp_path: Path, zip_bomb: Path) -> None:
    renderer = Renderer(ZoneInfo("Asia/Pontianak"))
    assert {n for n in renderer.names() if n.startswith("berkas/")} == set(REASONS)
    verdicts = _one_verdict_per_reason(tmp_path, zip_bomb)
    assert set(verdicts) == set(REASONS)
    for reason, verdict in verdicts.items():
        text = renderer.render(reason, name="<Laporan & Data>.pdf", **verdict.detail)
        assert "&lt;Laporan &amp; Data&gt;.pdf" in text, reason
        assert "None" not in text, reason
        anonymous = renderer.render(reason, name=None, **verdict.detail)
        assert anonymous.startswith("Berkas ini "), anonymous


def test_the_templates_say_what_went_wrong(tmp_path: Path, zip_bomb: Path) -> None:
    renderer = Renderer(ZoneInfo("Asia/Pontianak"))
    verdicts = _one_verdict_per_reason(tmp_path, zip_bomb)
    misleading = renderer.render(REASON_MISLEADING_NAME, name="laporan.pdf", **verdicts[REASON_MISLEADING_NAME].detail)
    assert "<code>.pdf</code>" in misleading and "gambar PNG" in misleading
    bomb = renderer.render(REASON_ZIP_BOMB, name="arsip.zip", **verdicts[REASON_ZIP_BOMB].detail)
    assert "300,0 MB" in bomb and "200,0 MB" in bomb
    narrowed = renderer.render(REASON_NOT_REQUESTED, name="bagan.png", **verdicts[REASON_NOT_REQUESTED].detail)
    assert "PDF, dokumen (DOCX/ODT/DOC) atau lembar kerja (XLSX/ODS/XLS)" in narrowed


# --- polyglots, programs inside archives, archives inside archives -----------------------------------------------


def _declaring(archive: bytes, size: int) -> bytes:
    """The same archive, its headers patched to declare every member `size` bytes long (nothing that large exists)."""
    data = bytearray(archive)
    for signature, field_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = data.find(signature)
        while start >= 0:
            data[start + field_at : start + field_at + 4] = struct.pack("<I", size)
            start = data.find(signature, start + 4)
    return bytes(data)


def _docx_with(extra: dict[str, bytes]) -> bytes:
    return zip_bytes({"[Content_Types].xml": CONTENT_TYPES.encode(), "word/document.xml": b"<document/>", **extra})


def _reason(tmp_path: Path, name: str, data: bytes) -> str | None:
    return sniff(_write(tmp_path, name, data), name).reason


def test_a_pdf_with_a_zip_appended_is_refused(tmp_path: Path) -> None:
    payload = zip_bytes({"setup.exe": b"MZ" + bytes(100)})
    verdict = sniff(_write(tmp_path, "surat.pdf", PDF_BYTES + payload), "surat.pdf")
    assert (verdict.accepted, verdict.reason, verdict.detail) == (False, "berkas/data_tersembunyi", {"real": "pdf"})
    # a bigger archive pushes the trailer out of the tail window: still told apart from a truncated PDF
    big = zip_bytes({"foto.bin": _noise(8192)}, zipfile.ZIP_STORED)
    assert _reason(tmp_path, "surat.pdf", PDF_BYTES + big) == "berkas/data_tersembunyi"
    assert _reason(tmp_path, "surat.pdf", PDF_BYTES + b"sisa data lain") == "berkas/data_tersembunyi"


def test_a_pdf_may_end_with_white_space_after_its_trailer(tmp_path: Path) -> None:
    _accepted(sniff(_write(tmp_path, "surat.pdf", PDF_BYTES + b"\r\n \t\x00\x0c\n"), "surat.pdf"), "pdf", "pdf")
    # incremental updates leave several %%EOF: only the last one counts
    _accepted(sniff(_write(tmp_path, "ubah.pdf", PDF_BYTES + b"% update\n%%EOF\n"), "ubah.pdf"), "pdf", "pdf")


def test_a_picture_with_a_zip_appended_is_refused(tmp_path: Path) -> None:
    jpg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(64) + b"\xff\xd9"
    assert _reason(tmp_path, "foto.jpg", jpg + zip_bytes({"a.txt": b"x"})) == "berkas/data_tersembunyi"


@pytest.mark.parametrize(
    ("name", "data", "member"),
    [
        ("kebijakan.docx", _docx_with({"payload.exe": b"MZ" + bytes(200)}), "payload.exe"),
        ("kebijakan.docx", _docx_with({"word/vbaProject.bin": bytes(200)}), "vbaProject.bin"),
        ("lampiran.zip", zip_bytes({"dok/Pasang.BAT": b"@echo off\r\n"}), "Pasang.BAT"),
        ("lampiran.zip", zip_bytes({"alat/Pasang.js": b"WScript.Shell"}), "Pasang.js"),
        # a program by its content, whatever the member's name, compressed or stored
        ("lampiran.zip", zip_bytes({"laporan.pdf": b"MZ\x90\x00" + bytes(500)}), "laporan.pdf"),
        ("lampiran.zip", zip_bytes({"catatan.txt": b"#!/bin/sh\nrm -rf /\n"}, zipfile.ZIP_STORED), "catatan.txt"),
        ("rekap.xlsx", zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/a.xml": b"\x7fELF\x02\x01"}), "a.xml"),
    ],
)
def test_programs_inside_zip_based_files_are_refused(tmp_path: Path, name: str, data: bytes, member: str) -> None:
    verdict = sniff(_write(tmp_path, name, data), name)
    assert (verdict.accepted, verdict.reason) == (False, "berkas/arsip_berisi_program")
    assert verdict.detail == {"member": member}


def test_a_program_inside_an_archive_inside_an_archive_is_refused(tmp_path: Path) -> None:
    inner = zip_bytes({"alat/setup.msi": b"\xd0\xcf\x11\xe0" + bytes(100)})
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        outer = zip_bytes({"notulen.txt": b"Notulen", "arsip-lama.zip": inner}, compression)
        assert _reason(tmp_path, "lampiran.zip", outer) == "berkas/arsip_berisi_program"
    # disguised by its name: the inner archive is found by its magic number
    disguised = zip_bytes({"foto.jpg": inner}, zipfile.ZIP_STORED)
    assert _reason(tmp_path, "lampiran.zip", disguised) == "berkas/arsip_berisi_program"


def test_a_zip_of_stored_300_mb_bombs_is_refused_without_extracting(tmp_path: Path) -> None:
    bomb = _declaring(zip_bytes({"nol.bin": bytes(1000)}), 300 * MB)
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        outer = zip_bytes({"bom-1.zip": bomb, "bom-2.zip": bomb}, compression)
        assert len(outer) < 10_000
        tracemalloc.start()
        try:
            verdict = sniff(_write(tmp_path, "arsip.zip", outer), "arsip.zip")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (verdict.accepted, verdict.reason) == (False, REASON_ZIP_BOMB)
        assert verdict.detail["nested"] is True and verdict.detail["uncompressed"] > 300 * MB
        assert peak < MB // 4, f"peak allocation {peak} bytes"


def test_inner_archives_count_against_the_same_total(tmp_path: Path) -> None:
    # each inner archive declares 120 MB at a ratio of 80: fine alone, refused together (the limit is 200 MB)
    inner = _declaring(zip_bytes({"data.bin": _noise(3 * MB // 2)}, zipfile.ZIP_STORED), 120 * MB)
    one = zip_bytes({"a.zip": inner}, zipfile.ZIP_STORED)
    _accepted(sniff(_write(tmp_path, "satu.zip", one), "satu.zip"), "zip", "zip")
    two = zip_bytes({"a.zip": inner, "b.zip": inner}, zipfile.ZIP_STORED)
    assert _reason(tmp_path, "dua.zip", two) == REASON_ZIP_BOMB
    # and an inner archive's own ratio is checked like the outer one's
    declared = _declaring(zip_bytes({"data.bin": bytes(1000)}, zipfile.ZIP_STORED), 2 * MB)
    assert _reason(tmp_path, "rasio.zip", zip_bytes({"a.zip": declared}, zipfile.ZIP_STORED)) == REASON_ZIP_BOMB


def _deep_zip(levels: int) -> bytes:
    archive = zip_bytes({"notulen.txt": b"Notulen rapat"})
    for level in range(levels):
        archive = zip_bytes({f"tingkat-{level}.zip": archive}, zipfile.ZIP_STORED)
    return archive


def test_archives_nested_too_deep_are_refused(tmp_path: Path) -> None:
    assert _reason(tmp_path, "dalam.zip", _deep_zip(2)) is None  # the outer file and two levels inside: fine
    verdict = sniff(_write(tmp_path, "dalam.zip", _deep_zip(3)), "dalam.zip")
    assert (verdict.reason, verdict.detail["depth"]) == ("berkas/arsip_bersarang", 3)


def test_an_encrypted_member_cannot_be_checked_and_is_refused(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"rahasia.txt": b"isi"}, zipfile.ZIP_STORED))
    for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        start = data.find(signature)
        data[start + flags_at] |= 0x1
    assert _reason(tmp_path, "kunci.zip", bytes(data)) == REASON_ZIP_BROKEN


@pytest.mark.parametrize(
    "name", ["x.exe", "x.html", "laporan.pdf.EXE", "surat.htm", "gambar.svg", "pasang.msi", "skrip.ps1", "a.js"]
)
def test_a_document_named_like_a_program_or_a_page_is_refused(tmp_path: Path, name: str) -> None:
    verdict = sniff(_write(tmp_path, "surat", PDF_BYTES), name)
    claimed = name.rsplit(".")[-1].lower()
    assert (verdict.reason, verdict.detail) == (REASON_MISLEADING_NAME, {"claimed": claimed, "real": "pdf"})


def test_a_macro_enabled_office_name_is_refused(tmp_path: Path) -> None:
    assert sniff(_ooxml(tmp_path, "rekap.xlsm", "xl/workbook.xml"), "rekap.xlsm").reason == REASON_MISLEADING_NAME


def test_pictures_and_pages_inside_documents_and_archives_are_fine(tmp_path: Path) -> None:
    docx = _docx_with({"word/media/image1.svg": b"<svg/>", "word/media/image2.png": _png_bytes()})
    _accepted(sniff(_write(tmp_path, "kebijakan.docx", docx), "kebijakan.docx"), "docx", "dokumen")
    report = zip_bytes({"laporan/index.html": b"<html>Laporan</html>", "laporan/data.bin": _noise(512)})
    _accepted(sniff(_write(tmp_path, "laporan.zip", report), "laporan.zip"), "zip", "zip")


def test_a_member_name_that_hides_its_extension_is_shown_plainly(tmp_path: Path) -> None:
    verdict = sniff(_write(tmp_path, "lampiran.zip", zip_bytes({"foto\u202egpj.exe": b"MZ"})), "lampiran.zip")
    assert (verdict.reason, verdict.detail) == ("berkas/arsip_berisi_program", {"member": "fotogpj.exe"})
