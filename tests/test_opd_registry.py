"""The OPD registry: file parsing, all-or-nothing import, listing, (de)activation, and `monev opd` as a process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection

from bot.errors import DomainError
from bot.services import identity
from bot.services.audit import Acting
from bot.services.registry import (
    ImportFileError,
    ImportReport,
    OpdRow,
    Rejection,
    default_opd_file,
    import_opds,
    list_opds,
    parse_opd_file,
    set_opd_active,
    validate_opd_rows,
)
from storage.database import Database
from storage.models import AuditEntry, Channel, Opd

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Pontianak"))
HEADER = "code,name,short_name,kind"


@pytest.fixture
async def acting(db: Database) -> Acting:
    """The CLI person of a test operator, as `cli_acting` would create it."""
    async with db.write() as session:
        person_id = await identity.ensure_local_person(session, Channel.CLI, "uji", NOW)
    return Acting(person_id=person_id, role="cli", channel=Channel.CLI.value)


async def run_import(db: Database, path: Path, acting: Acting, *, dry_run: bool = False) -> ImportReport:
    async with db.write() as session:
        return await import_opds(
            session, parse_opd_file(path), acting=acting, now=NOW, dry_run=dry_run, file_name=path.name
        )


async def opd_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Opd)) or 0)


async def audit_actions(db: Database) -> list[tuple[str, str | None, str | None, dict[str, object]]]:
    async with db.read() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    return [(e.action, e.object_type, e.object_id, json.loads(e.details or "{}")) for e in entries]


def write_csv(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# --- the shipped data ---------------------------------------------------------------------------------------


def test_shipped_lists_parse_and_validate() -> None:
    default = parse_opd_file(default_opd_file())
    extended = parse_opd_file(default_opd_file(extended=True))
    assert len(default) == 32 and len(extended) == 67
    assert validate_opd_rows(default) == [] and validate_opd_rows(extended) == []
    codes = {row.code for row in default}
    assert {"DISKOMINFO", "DINKES", "DISDUKCAPIL", "DPMPTSP", "DISDIKBUD", "SETDA", "INSPEKTORAT"} <= codes
    assert default[0].line == 2 and default[-1].line == 33
    assert {row.kind for row in extended} >= {"kelurahan", "rsud"}


async def test_default_import_then_again_then_extended(db: Database, acting: Acting) -> None:
    first = await run_import(db, default_opd_file(), acting)
    assert (first.added, first.updated, first.unchanged, first.accepted) == (32, 0, 0, True)
    again = await run_import(db, default_opd_file(), acting)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 32)
    extended = await run_import(db, default_opd_file(extended=True), acting)
    assert (extended.added, extended.updated, extended.unchanged) == (35, 0, 32)
    assert await opd_count(db) == 67
    imports = [entry for entry in await audit_actions(db) if entry[0] == "opd_import"]
    assert [entry[1] for entry in imports] == ["opd_registry"] * 3
    assert imports[0][3] == {"added": 32, "updated": 0, "unchanged": 0, "file": "pontianak-opd.csv"}
    assert imports[2][3]["file"] == "pontianak-opd-extended.csv"


async def test_list_orders_by_kind_then_code(db: Database, acting: Acting) -> None:
    await run_import(db, default_opd_file(), acting)
    async with db.read() as session:
        opds = await list_opds(session)
    assert len(opds) == 32 and all(opd.active for opd in opds)
    assert [opd.code for opd in opds[:3]] == ["SETDA", "SETWAN", "INSPEKTORAT"]
    dinas = [opd.code for opd in opds if opd.kind == "dinas"]
    assert dinas == sorted(dinas) and "DISKOMINFO" in dinas
    assert opds[-1].kind == "kecamatan"
    diskominfo = next(opd for opd in opds if opd.code == "DISKOMINFO")
    assert diskominfo.short_name == "Diskominfo" and "Komunikasi" in diskominfo.name


async def test_a_changed_name_counts_as_updated(db: Database, acting: Acting, tmp_path: Path) -> None:
    await run_import(db, default_opd_file(), acting)
    changed = write_csv(
        tmp_path / "ubah.csv",
        HEADER,
        "DISKOMINFO,Dinas Komunikasi dan Informatika Kota Pontianak (baru),Diskominfo,dinas",
        "DINKES,Dinas Kesehatan Kota Pontianak,Dinkes,badan",
        "BARU_01,Unit Baru,Unit Baru,lainnya",
    )
    report = await run_import(db, changed, acting)
    assert (report.added, report.updated, report.unchanged) == (1, 2, 0)
    async with db.read() as session:
        opds = {opd.code: opd for opd in await list_opds(session)}
    assert opds["DISKOMINFO"].name.endswith("(baru)")
    assert opds["DINKES"].kind == "badan"
    assert len(opds) == 33  # an import never removes the OPDs it does not mention


async def test_counts_updated_and_unchanged_exactly(db: Database, acting: Acting, tmp_path: Path) -> None:
    await run_import(db, default_opd_file(), acting)
    rows = write_csv(
        tmp_path / "dua.csv",
        HEADER,
        "DISKOMINFO,Dinas Komunikasi dan Informatika,Diskominfo,dinas",
        "DISHUB,Dinas Perhubungan Kota Pontianak,Dishub,dinas",
    )
    report = await run_import(db, rows, acting)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)


# --- all or nothing ------------------------------------------------------------------------------------------


async def test_one_bad_file_writes_nothing_and_lists_every_rejection(
    db: Database, acting: Acting, tmp_path: Path
) -> None:
    bad = write_csv(
        tmp_path / "salah.csv",
        HEADER,
        "diskominfo,Dinas Komunikasi dan Informatika,Diskominfo,dinas",  # lower case is fine
        "DINKES,Dinas Kesehatan,Dinkes,dinas",
        "BPBD,Badan Penanggulangan Bencana Daerah,BPBD,badan",
        "DISHUB,Dinas Perhubungan,Dishub,kantor",
        "DISSOS,,Dinsos,dinas",
        "DINKES,Dinas Kesehatan lagi,Dinkes,dinas",
        "_X,Kode Salah,X,dinas",
        "DLH,Dinas\x07Lingkungan Hidup,DLH,dinas",
        ",Tanpa Kode,,",
    )
    report = await run_import(db, bad, acting)
    assert not report.accepted
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0)
    found = {(r.line, r.column) for r in report.rejections}
    assert found == {
        (5, "kind"),
        (6, "name"),
        (7, "code"),
        (8, "code"),
        (9, "name"),
        (10, "code"),
        (10, "short_name"),
        (10, "kind"),
    }
    by_place = {(r.line, r.column): r.reason for r in report.rejections}
    assert "kantor" in by_place[(5, "kind")] and "lainnya" in by_place[(5, "kind")]
    assert "line 3" in by_place[(7, "code")]
    assert "control character" in by_place[(9, "name")]
    assert [r.line for r in report.rejections] == sorted(r.line for r in report.rejections)
    assert await opd_count(db) == 0
    assert [entry[0] for entry in await audit_actions(db)] == []


def test_limits_of_each_column() -> None:
    rows = [
        OpdRow(2, " a1 ", "N" * 255, "S" * 120, " Dinas "),
        OpdRow(3, "A" * 33, "N" * 256, "S" * 121, "dinas"),
        OpdRow(4, "A", "Nama", "Singkat", "dinas"),
        OpdRow(5, "KODE-X", "Nama", "Singkat", "dinas"),
    ]
    rejections = validate_opd_rows(rows)
    assert [(r.line, r.column) for r in rejections] == [
        (3, "code"),
        (3, "name"),
        (3, "short_name"),
        (4, "code"),
        (5, "code"),
    ]
    assert rejections[1] == Rejection(3, "name", "is longer than 255 characters (256)")
    assert rejections[2] == Rejection(3, "short_name", "is longer than 120 characters (121)")
    assert "A-Z, 0-9 and _" in rejections[4].reason


async def test_dry_run_writes_nothing(db: Database, acting: Acting) -> None:
    report = await run_import(db, default_opd_file(), acting, dry_run=True)
    assert (report.added, report.updated, report.unchanged, report.dry_run) == (32, 0, 0, True)
    assert await opd_count(db) == 0
    assert await audit_actions(db) == []


async def test_statement_count_does_not_grow_with_the_file(db: Database, acting: Acting, tmp_path: Path) -> None:
    """A 67-row import costs as many SQL statements as a 32-row one (one SELECT, one INSERT, the audit row)."""
    renamed = tmp_path / "ganti.csv"
    with renamed.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER.split(","))
        writer.writerows(
            (r.code, f"{r.name} (ganti)", r.short_name, r.kind) for r in parse_opd_file(default_opd_file(True))
        )
    statements: list[str] = []

    def count(_conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await run_import(db, default_opd_file(), acting)  # 32 inserts
        small = len(statements)
        statements.clear()
        await run_import(db, default_opd_file(extended=True), acting)  # 35 inserts, 32 unchanged
        large = len(statements)
        statements.clear()
        assert (await run_import(db, renamed, acting)).updated == 67
        updates = len(statements)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert small == large == updates


# --- file formats ----------------------------------------------------------------------------------------------


async def test_xlsx_is_read_from_the_first_sheet(db: Database, acting: Acting, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Code ", " NAME", "Short_Name", "kind", "source"])
    sheet.append(["DISKOMINFO", "Dinas Komunikasi dan Informatika", "Diskominfo", "dinas", "uji"])
    sheet.append([None, None, None, None, None])
    sheet.append(["KEC_PONTIANAK_KOTA", "Kecamatan Pontianak Kota", "Kec. Pontianak Kota", "kecamatan", None])
    sheet.append([1234, "Unit Angka", "Angka", "lainnya"])
    workbook.create_sheet("lain").append(["bukan", "daftar"])
    path = tmp_path / "opd.xlsx"
    workbook.save(path)
    rows = parse_opd_file(path)
    assert [(row.line, row.code) for row in rows] == [(2, "DISKOMINFO"), (4, "KEC_PONTIANAK_KOTA"), (5, "1234")]
    report = await run_import(db, path, acting)
    assert (report.added, report.accepted) == (3, True)


async def test_csv_with_semicolons_and_bom(db: Database, acting: Acting, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "excel.csv",
        "code;name;short_name;kind;source",
        "DINKES;Dinas Kesehatan, Kota Pontianak;Dinkes;dinas;a, b",
        "",
        ";;;",
        "DISHUB;Dinas Perhubungan;Dishub;DINAS;",
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = parse_opd_file(path)
    assert [(row.line, row.code, row.name) for row in rows] == [
        (2, "DINKES", "Dinas Kesehatan, Kota Pontianak"),
        (5, "DISHUB", "Dinas Perhubungan"),
    ]
    report = await run_import(db, path, acting)
    assert (report.added, report.accepted) == (2, True)
    async with db.read() as session:
        assert {opd.kind for opd in await list_opds(session)} == {"dinas"}


def test_quoted_cells_spanning_lines_keep_the_starting_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "multi.csv", HEADER, 'A1,"Nama\ndua baris",S,dinas', "B2,Nama,S,dinas")
    rows = parse_opd_file(path)
    assert [row.line for row in rows] == [2, 4]
    assert [(r.line, r.column) for r in validate_opd_rows(rows)] == [(2, "name")]


def test_files_that_cannot_be_read_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="unsupported file type '.txt'"):
        parse_opd_file(write_csv(tmp_path / "opd.txt", HEADER))
    with pytest.raises(ImportFileError, match="kind"):
        parse_opd_file(write_csv(tmp_path / "kurang.csv", "code,name,short_name", "A1,Nama,S"))
    with pytest.raises(ImportFileError, match="empty"):
        parse_opd_file(write_csv(tmp_path / "kosong.csv", "", ""))
    with pytest.raises(ImportFileError, match="no such file"):
        parse_opd_file(tmp_path / "tidak-ada.csv")
    (tmp_path / "rusak.xlsx").write_bytes(b"bukan zip")
    with pytest.raises(ImportFileError, match="xlsx"):
        parse_opd_file(tmp_path / "rusak.xlsx")
    (tmp_path / "latin1.csv").write_bytes(HEADER.encode() + b"\nA1,Dinas Pekerjaan Umum \xe9,S,dinas\n")
    with pytest.raises(ImportFileError, match="UTF-8"):
        parse_opd_file(tmp_path / "latin1.csv")


# --- (de)activation ---------------------------------------------------------------------------------------------


async def test_set_opd_active_toggles_and_audits_once(db: Database, acting: Acting) -> None:
    await run_import(db, default_opd_file(), acting)
    for _ in range(2):
        async with db.write() as session:
            summary = await set_opd_active(session, " diskominfo ", False, acting=acting, now=NOW)
        assert (summary.code, summary.active) == ("DISKOMINFO", False)
    async with db.write() as session:
        summary = await set_opd_active(session, "DISKOMINFO", True, acting=acting, now=NOW)
    assert summary.active
    toggles = [(a, t, o) for a, t, o, _ in await audit_actions(db) if a != "opd_import"]
    assert toggles == [("opd_deactivate", "opd", "DISKOMINFO"), ("opd_activate", "opd", "DISKOMINFO")]
    again = await run_import(db, default_opd_file(), acting)
    assert again.unchanged == 32


async def test_an_import_does_not_reactivate(db: Database, acting: Acting) -> None:
    await run_import(db, default_opd_file(), acting)
    async with db.write() as session:
        await set_opd_active(session, "DINKES", False, acting=acting, now=NOW)
    await run_import(db, default_opd_file(), acting)
    async with db.read() as session:
        assert not next(opd for opd in await list_opds(session) if opd.code == "DINKES").active


async def test_an_unknown_code_is_a_domain_error(db: Database, acting: Acting) -> None:
    with pytest.raises(DomainError) as refusal:
        async with db.write() as session:
            await set_opd_active(session, "tidakada", False, acting=acting, now=NOW)
    assert refusal.value.template == "registry/opd_tidak_dikenal"
    assert refusal.value.params == {"code": "TIDAKADA"}


# --- `monev opd` as a real process ---------------------------------------------------------------------------


def monev(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` in a clean environment with its own data directory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    clean["MONEV_DATA_DIR"] = str(cwd / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd, env=clean, timeout=60
    )


def test_cli_import_list_and_deactivate(tmp_path: Path) -> None:
    dry = monev("opd", "import", "--default", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "dry run: added 32, updated 0, unchanged 0"
    empty = monev("opd", "list", cwd=tmp_path)
    assert empty.returncode == 0 and "no OPDs yet" in empty.stdout
    first = monev("opd", "import", "--default", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "added 32, updated 0, unchanged 0"
    extended = monev("opd", "import", "--default", "--extended", cwd=tmp_path)
    assert extended.stdout.strip() == "added 35, updated 0, unchanged 32"
    off = monev("opd", "deactivate", "diskominfo", cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    assert "DISKOMINFO" in off.stdout and "inactive" in off.stdout
    listing = monev("opd", "list", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["CODE", "KIND", "ACTIVE", "SHORT", "NAME"]
    assert len(lines) == 68
    assert lines[1].split()[:3] == ["SETDA", "sekretariat", "yes"]
    assert lines[0].index("ACTIVE") == lines[1].index("yes")  # the columns line up
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["DISKOMINFO"][:3] == ["DISKOMINFO", "dinas", "no"]
    assert rows["DINKES"][2] == "yes"
    for code in ("DISDUKCAPIL", "DPMPTSP", "DISDIKBUD", "KEL_SAIGON", "RSUD_SSMA"):
        assert code in rows


def test_cli_refusals_exit_1(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "salah.csv", HEADER, "A1,Nama,S,dinas", "A1,Nama,S,kantor")
    rejected = monev("opd", "import", str(bad), cwd=tmp_path)
    assert rejected.returncode == 1
    assert rejected.stdout.splitlines() == [
        "line 3, column code: A1 repeats line 2",
        f"line 3, column kind: {validate_opd_rows(parse_opd_file(bad))[1].reason}",
        "nothing was imported",
    ]
    unknown = monev("opd", "deactivate", "TIDAKADA", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "OPD dengan kode TIDAKADA tidak ditemukan." in unknown.stderr and "<code>" not in unknown.stderr
    wrong_type = monev("opd", "import", str(write_csv(tmp_path / "opd.txt", HEADER)), cwd=tmp_path)
    assert wrong_type.returncode == 1 and "unsupported file type" in wrong_type.stderr
    neither = monev("opd", "import", cwd=tmp_path)
    assert neither.returncode == 1 and "--default" in neither.stderr
    listing = monev("opd", "list", cwd=tmp_path)
    assert "no OPDs yet" in listing.stdout
