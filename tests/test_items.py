"""Requested items: the shipped frameworks and assignments, the item import, and item codes in captions (pure)."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from bot.conversation.templating import Renderer
from bot.services.items import (
    FILE_KINDS,
    FRAMEWORKS,
    ItemFileError,
    ItemRow,
    ItemSpec,
    Rejection,
    framework_items,
    parse_item_code,
    parse_item_file,
    validate_item_rows,
)
from bot.services.registry import default_opd_file

SPBE, PEMDI = "permenpanrb-59-2020", "permenpanrb-8-2026-pemdi"
OPD_SERVICE_OWNERS = ("DINKES", "DISDIKBUD", "DISDUKCAPIL", "DPMPTSP")
KNOWN = ("DISKOMINFO", "DINKES", "DISDIKBUD", "BKAD", "INSPEKTORAT")
HEADER = "kode,judul,deskripsi,wajib,opd,jenis_berkas"


def pontianak_opd_codes() -> set[str]:
    with default_opd_file().open(encoding="utf-8", newline="") as handle:
        return {row["code"] for row in csv.DictReader(handle)}


def row(line: int = 2, **cells: str) -> ItemRow:
    values = {"kode": "A1", "judul": "Judul", "deskripsi": "", "wajib": "ya", "opd": "DINKES", **cells}
    return ItemRow(line=line, **values)


def reasons(*rows: ItemRow, active: tuple[str, ...] | None = None) -> list[Rejection]:
    return validate_item_rows(rows, KNOWN, active)[1]


def only_spec(*rows: ItemRow, active: tuple[str, ...] | None = None) -> ItemSpec:
    specs, rejections = validate_item_rows(rows, KNOWN, active)
    assert rejections == []
    (spec,) = specs
    return spec


def write_csv(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# --- the shipped frameworks ----------------------------------------------------------------------------------


def test_frameworks_have_their_indicator_counts_in_order() -> None:
    assert set(FRAMEWORKS) == {SPBE, PEMDI}
    spbe, pemdi = framework_items(SPBE), framework_items(PEMDI)
    assert len(spbe) == 47 and len(pemdi) == 20
    assert [item.code for item in spbe] == [f"I.{n:02d}" for n in range(1, 48)]
    assert [item.position for item in pemdi] == list(range(1, 21))
    assert all(item.file_kinds == () and item.title and item.description for item in spbe + pemdi)


@pytest.mark.parametrize("framework", [SPBE, PEMDI])
def test_weights_sum_to_one_hundred(framework: str) -> None:
    weights = [item.weight for item in framework_items(framework) if item.weight is not None]
    assert len(weights) == len(framework_items(framework)) and all(weight > 0 for weight in weights)
    assert sum(weights, Decimal(0)) == Decimal(100)


def test_structure_of_the_frameworks() -> None:
    spbe, pemdi = framework_items(SPBE), framework_items(PEMDI)
    assert len({item.domain for item in spbe}) == 4 and len({item.aspect for item in spbe}) == 8
    assert spbe[0].domain == "Kebijakan Internal SPBE" and spbe[0].weight == Decimal("1.30")
    # Pemdi has aspects but no domains.
    assert {item.domain for item in pemdi} == {None} and len({item.aspect for item in pemdi}) == 7


def test_pemdi_5_to_7_are_not_requested() -> None:
    pemdi = {item.code: item for item in framework_items(PEMDI)}
    for code in ("I.05", "I.06", "I.07"):
        assert pemdi[code].opd_codes == () and pemdi[code].required is False
    assert all(item.required and item.opd_codes for code, item in pemdi.items() if code not in {"I.05", "I.06", "I.07"})
    assert all(item.required and item.opd_codes for item in framework_items(SPBE))


def test_default_assignments_of_indicator_13() -> None:
    # 59/2020 I.13 (rencana dan anggaran) follows Denpasar 2021: BPKAD and Bappeda, i.e. BKAD and BAPPERIDA.
    # Diskominfo plus the OPDs owning public services is Pemdi I.13 (Minahasa Selatan 2026).
    spbe, pemdi = framework_items(SPBE)[12], framework_items(PEMDI)[12]
    assert spbe.code == pemdi.code == "I.13"
    assert spbe.opd_codes == ("BKAD", "BAPPERIDA")
    assert pemdi.opd_codes == ("DISKOMINFO", *OPD_SERVICE_OWNERS)


def test_every_assigned_opd_exists_in_pontianak() -> None:
    known = pontianak_opd_codes()
    assert len(known) == 32
    with (Path(__file__).parents[1] / "bot/data/spbe-default-assignments.csv").open(encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    # The raw file too: the codes of the not-requested Pemdi rows are still shown to admins as a suggestion.
    assigned = {code for r in raw for code in r["opd_codes"].split(";")}
    assert assigned - known == set()
    assert {(r["version"], int(r["indicator_no"])) for r in raw} == {
        (framework, n) for framework, count in ((SPBE, 47), (PEMDI, 20)) for n in range(1, count + 1)
    }


def test_unknown_framework_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown framework"):
        framework_items("permenpanrb-5-2018")


def test_framework_items_are_fresh_lists() -> None:
    first = framework_items(SPBE)
    first.clear()
    assert len(framework_items(SPBE)) == 47


# --- parsing files -------------------------------------------------------------------------------------------


def test_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "item.csv",
        "Kode;Judul;Deskripsi;Wajib;OPD;Jenis_Berkas;catatan",
        'a-1;Perwal Arsitektur;"Perwal, lampiran; dan notulen";Ya;DISKOMINFO,DINKES;pdf;abaikan',
        ";;;;;;",
        "B.2;SK Tim;;tidak;SEMUA",
        encoding="utf-8-sig",
    )
    rows = parse_item_file(path)
    assert rows == [
        ItemRow(2, "a-1", "Perwal Arsitektur", "Perwal, lampiran; dan notulen", "Ya", "DISKOMINFO,DINKES", "pdf"),
        ItemRow(4, "B.2", "SK Tim", "", "tidak", "SEMUA", ""),
    ]
    specs, rejections = validate_item_rows(rows, KNOWN)
    assert rejections == []
    assert specs == [
        ItemSpec(
            "A-1",
            "Perwal Arsitektur",
            "Perwal, lampiran; dan notulen",
            True,
            None,
            ("DISKOMINFO", "DINKES"),
            ("pdf",),
            None,
            None,
            1,
        ),
        ItemSpec("B.2", "SK Tim", "", False, None, tuple(sorted(KNOWN)), (), None, None, 2),
    ]


def test_csv_with_commas_and_a_multiline_cell(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "item.csv",
        "kode,judul,deskripsi,wajib,opd",
        'X1,Satu,"baris satu\nbaris dua",1,DINKES;BKAD',
        "X2,Dua,,0,BKAD",
    )
    rows = parse_item_file(path)
    assert [(r.line, r.kode, r.jenis_berkas) for r in rows] == [(2, "X1", ""), (4, "X2", "")]
    specs, rejections = validate_item_rows(rows, KNOWN)
    assert rejections == [] and specs[0].description == "baris satu\nbaris dua"


def test_xlsx(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["KODE", "judul", "deskripsi", "wajib", "opd"])
    sheet.append([101, "Angka", None, True, "SEMUA"])
    sheet.append([None, None, None, None, None])
    sheet.append(["i.02", "Huruf", "Bukti", 0, "bkad inspektorat"])
    path = tmp_path / "item.xlsx"
    workbook.save(path)
    rows = parse_item_file(path)
    assert [(r.line, r.kode, r.wajib) for r in rows] == [(2, "101", "true"), (4, "i.02", "0")]
    specs, rejections = validate_item_rows(rows, KNOWN, active_opd_codes=("DINKES", "BKAD"))
    assert rejections == []
    assert [(s.code, s.required, s.opd_codes) for s in specs] == [
        ("101", True, ("BKAD", "DINKES")),
        ("I.02", False, ("BKAD", "INSPEKTORAT")),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("item.txt", b"kode,judul,deskripsi,wajib,opd\n", "unsupported file type"),
        ("item.csv", b"", "the file is empty"),
        ("item.csv", b"kode,judul,wajib\nA,B,ya\n", "lacks the column(s) deskripsi, opd"),
        ("item.csv", "kode,judul,deskripsi,wajib,opd\nA,Judul\xe9,,ya,BKAD\n".encode("latin-1"), "not UTF-8"),
        ("item.xlsx", b"not a zip", "not a readable .xlsx"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ItemFileError, match=re.escape(message)):
        parse_item_file(path)
    assert issubclass(ItemFileError, ValueError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ItemFileError, match="no such file"):
        parse_item_file(tmp_path / "hilang.csv")


def test_header_only_is_rejected_as_a_whole(tmp_path: Path) -> None:
    rows = parse_item_file(write_csv(tmp_path / "item.csv", HEADER))
    assert rows == []
    assert validate_item_rows(rows, KNOWN) == ([], [Rejection(1, "kode", "no item")])


# --- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"kode": ""}, "kode", "is empty"),
        ({"kode": "-A"}, "kode", "'-A' must be 1-16 of A-Z 0-9 . _ - (not starting with . _ -)"),
        ({"kode": "A" * 17}, "kode", f"'{'A' * 17}' must be 1-16 of A-Z 0-9 . _ - (not starting with . _ -)"),
        ({"kode": "A B"}, "kode", "'A B' must be 1-16 of A-Z 0-9 . _ - (not starting with . _ -)"),
        ({"kode": "É1"}, "kode", "'É1' must be 1-16 of A-Z 0-9 . _ - (not starting with . _ -)"),
        ({"judul": "  "}, "judul", "is empty"),
        ({"judul": "x" * 301}, "judul", "is longer than 300 characters (301)"),
        ({"deskripsi": "x" * 2001}, "deskripsi", "is longer than 2000 characters (2001)"),
        ({"wajib": "mungkin"}, "wajib", "'mungkin' is not one of ya, 1, true, tidak, 0, false"),
        ({"wajib": ""}, "wajib", "(empty) is not one of ya, 1, true, tidak, 0, false"),
        ({"opd": ""}, "opd", "is empty; use SEMUA or OPD codes"),
        ({"opd": "DINKES;DISHUB xyz"}, "opd", "unknown OPD code(s): DISHUB, XYZ"),
        ({"opd": "SEMUA;DINKES"}, "opd", "SEMUA cannot be combined with OPD codes"),
        ({"jenis_berkas": "pdf, exe;mp4"}, "jenis_berkas", "unknown kind(s): exe, mp4; use " + ", ".join(FILE_KINDS)),
        ({"kode": "A\x00"}, "kode", "contains a control character"),
        ({"judul": "Ju\tdul"}, "judul", "contains a control character"),
        ({"judul": "Ju\ndul"}, "judul", "contains a control character"),
        ({"deskripsi": "a\x1bb"}, "deskripsi", "contains a control character"),
        ({"wajib": "ya\x07"}, "wajib", "contains a control character"),
        ({"opd": "DINKES\x0b"}, "opd", "contains a control character"),
        ({"jenis_berkas": "pdf\x7f"}, "jenis_berkas", "contains a control character"),
    ],
)
def test_each_rejection_names_line_column_and_reason(cells: dict[str, str], column: str, reason: str) -> None:
    assert reasons(row(7, **cells)) == [Rejection(7, column, reason)]


def test_boundaries_are_accepted() -> None:
    spec = only_spec(row(kode="A" * 16, judul="x" * 300, deskripsi="y" * 2000))
    assert (len(spec.code), len(spec.title), len(spec.description)) == (16, 300, 2000)
    assert only_spec(row(kode="9")).code == "9"


def test_values_are_trimmed_and_normalized() -> None:
    spec = only_spec(row(kode=" i.01 ", judul="  Judul  ", deskripsi=" satu\r\ndua ", wajib=" TRUE ", opd=" dinkes "))
    assert (spec.code, spec.title, spec.description, spec.required, spec.opd_codes) == (
        "I.01",
        "Judul",
        "satu\ndua",
        True,
        ("DINKES",),
    )


@pytest.mark.parametrize(
    ("wajib", "required"),
    [("ya", True), ("YA", True), ("1", True), ("True", True), ("tidak", False), ("Tidak", False), ("0", False)]
    + [("FALSE", False)],
)
def test_wajib_values(wajib: str, required: bool) -> None:
    assert only_spec(row(wajib=wajib)).required is required


def test_duplicate_codes_name_the_first_line() -> None:
    rows = [row(2, kode="A1"), row(3, kode="B1"), row(5, kode="a1"), row(6, kode="A1")]
    specs, rejections = validate_item_rows(rows, KNOWN)
    assert rejections == [Rejection(5, "kode", "A1 repeats line 2"), Rejection(6, "kode", "A1 repeats line 2")]
    assert [spec.code for spec in specs] == ["A1", "B1"]


def test_every_problem_of_every_row_is_reported_in_file_order() -> None:
    rows = [row(2, kode="", judul="", wajib="x"), row(3), row(4, kode="B1", opd="NOPE", jenis_berkas="doc")]
    specs, rejections = validate_item_rows(rows, KNOWN)
    assert [(r.line, r.column) for r in rejections] == [
        (2, "kode"),
        (2, "judul"),
        (2, "wajib"),
        (4, "opd"),
        (4, "jenis_berkas"),
    ]
    # The valid rows still come back (numbered among themselves); the caller writes nothing on any rejection.
    assert [(spec.code, spec.position) for spec in specs] == [("A1", 1)]


def test_opd_separators_and_duplicates() -> None:
    assert only_spec(row(opd="dinkes; BKAD,,DINKES  inspektorat DISKOMINFO")).opd_codes == (
        "DINKES",
        "BKAD",
        "INSPEKTORAT",
        "DISKOMINFO",
    )


def test_semua_expands_to_active_or_known_opds() -> None:
    assert only_spec(row(opd="semua")).opd_codes == tuple(sorted(KNOWN))
    assert only_spec(row(opd="SEMUA"), active=("bkad", "DINKES")).opd_codes == ("BKAD", "DINKES")
    assert reasons(row(opd="SEMUA"), active=()) == [Rejection(2, "opd", "SEMUA names no OPD: none is active")]


def test_explicit_codes_need_only_be_known_not_active() -> None:
    assert only_spec(row(opd="INSPEKTORAT"), active=("DINKES",)).opd_codes == ("INSPEKTORAT",)


@pytest.mark.parametrize(
    ("jenis_berkas", "kinds"),
    [
        ("", ()),
        ("  ", ()),
        ("pdf", ("pdf",)),
        ("ZIP, pdf", ("pdf", "zip")),
        ("gambar;lembar dokumen,pdf", ("pdf", "dokumen", "lembar", "gambar")),
        ("pdf pdf", ("pdf",)),
        (" ".join(FILE_KINDS), FILE_KINDS),
    ],
)
def test_jenis_berkas(jenis_berkas: str, kinds: tuple[str, ...]) -> None:
    assert only_spec(row(jenis_berkas=jenis_berkas)).file_kinds == kinds


def test_imported_items_have_no_weight_domain_or_aspect() -> None:
    spec = only_spec(row())
    assert (spec.weight, spec.domain, spec.aspect, spec.position) == (None, None, None, 1)


# --- item codes in captions ----------------------------------------------------------------------------------

OPEN = ("I.01", "I.13", "I.47", "PERWAL-1", "7")


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("I.13", "I.13"),
        ("i.13", "I.13"),
        ("13", "I.13"),
        ("013", "I.13"),
        ("1", "I.01"),
        ("01", "I.01"),
        ("perwal-1", "PERWAL-1"),
        ("I.13 SK Tim Koordinasi", "I.13"),
        ("  47  ", "I.47"),
        ("13.", "I.13"),
        ("I.13:", "I.13"),
        ("7", "7"),  # an open imported code is matched as written before numbers are read as I.NN
        ("2", None),  # I.02 is not open for this OPD
        ("I.2", None),
        ("I13", None),
        ("0", None),
        ("1000", None),
        ("１３", None),  # full-width digits are not a number here
        ("Perwal", None),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_item_code(word: str, code: str | None) -> None:
    assert parse_item_code(word, OPEN) == code


def test_parse_item_code_with_no_open_items() -> None:
    assert parse_item_code("13", ()) is None
    assert parse_item_code("13", {"i.13"}) == "i.13"  # returns the open code as the caller spelled it


# --- the item's template -------------------------------------------------------------------------------------


def test_item_details_render() -> None:
    renderer = Renderer(ZoneInfo("Asia/Pontianak"))
    text = renderer.render("items/rincian", item=framework_items(SPBE)[12])
    assert text.startswith("<b>I.13</b> Tingkat Kematangan Keterpaduan Rencana dan Anggaran SPBE")
    assert "Bobot: 2,5%" in text and "Diminta dari: BKAD, BAPPERIDA" in text and "semua jenis" in text
    assert "rencana &amp; anggaran" in text
    imported = ItemSpec("X<1", "A & B", "", False, None, ("DINKES",), ("pdf", "zip"), None, None, 1)
    text = renderer.render("items/rincian", item=imported)
    assert "X&lt;1" in text and "A &amp; B" in text and "Bobot" not in text and "Domain" not in text
    assert "Wajib: tidak" in text and "Jenis berkas: PDF, ZIP" in text and "Data dukung" not in text
    not_requested = renderer.render("items/rincian", item=framework_items(PEMDI)[5])
    assert "Diminta dari: tidak diminta dari OPD" in not_requested
    assert "<code>I&lt;</code>" in renderer.render("items/kode_tidak_dikenal", code="I<")
