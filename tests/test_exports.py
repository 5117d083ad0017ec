"""The recap workbook and the evidence package, read back: openpyxl for the workbook, unzip and `sha256sum -c`
for the package, both against what the database holds (both backends)."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from sqlalchemy import select, update

from bot.conversation.core import Request
from bot.domain.enums import ReviewDecision
from bot.services import review, submissions
from bot.services.audit import Acting
from bot.services.exports import produce
from bot.services.exports.data import ExportData, load_export
from bot.services.exports.package import safe_name, unique_name, write_package
from bot.services.exports.recap import write_recap
from bot.settings import Settings
from storage import migrate
from storage.database import Database
from storage.filestore import FileStore
from storage.models import EvidenceFinding, Opd, Person, SubmissionFile, SubmissionVersion
from tests.conftest import make_settings
from tests.test_console import monev
from tests.test_statement_counts import (  # noqa: F401  `statements` is a fixture
    CHANNEL,
    NOW,
    PDF,
    Staff,
    StatementLog,
    dispatcher_for,
    import_opds,
    liaison_by_invite,
    make_staff,
    open_campaign,
    overview_world,
    same_count,
    scope_of,
    statements,
)

WIB = ZoneInfo("Asia/Pontianak")
HEADER_ROW = 4


def pdf(tag: str) -> bytes:
    return PDF.replace(b"%%EOF", f"% {tag}".encode() + b"\n%%EOF")


@dataclass(frozen=True)
class World:
    campaign_id: int
    empty_campaign_id: int
    codes: list[str]  # A and B have a liaison, C none
    staff: Staff


async def file_version(
    db: Database, store: FileStore, code: str, person_id: int, chat: str, item: str, names: list[str], tag: str
) -> int:
    """One version of `item` holding one file per name (an album), through the real services; its id."""
    scope = await scope_of(db, code)
    async with db.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel=CHANNEL, chat_id=chat, person_id=person_id, kind="album", now=NOW
        )
        for n, name in enumerate(names):
            blob = store.store_bytes(pdf(f"{tag}-{n}"))
            await submissions.add_file(session, batch, blob, name, "document", inbound_event_id=None, now=NOW)
        receipt = await submissions.file_batch(session, batch, item, acting=Acting(person_id, "opd", CHANNEL), now=NOW)
        return int(
            await session.scalar(
                select(SubmissionVersion.id)
                .join(Opd, Opd.id == SubmissionVersion.opd_id)
                .where(Opd.code == code, SubmissionVersion.number == receipt.version)
                .where(SubmissionVersion.campaign_id == scope.campaign_id)
                .order_by(SubmissionVersion.id.desc())
                .limit(1)
            )
            or 0
        )


async def decide(db: Database, world_campaign: int, version_id: int, staff: Staff, accept: bool) -> None:
    async with db.write() as session:
        await review.decide(
            session,
            world_campaign,
            version_id,
            ReviewDecision.ACCEPTED if accept else ReviewDecision.REVISION_REQUESTED,
            note=None if accept else "Mohon lampirkan SK yang ditandatangani",
            reason=None,
            acting=staff.kasi,
            now=NOW,
        )


async def make_world(db: Database, store: FileStore) -> World:
    """Three OPDs: A with accepted, returned and waiting items (hostile names), B with one waiting, C no liaison."""
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=3)
    empty = await open_campaign(db, store, staff, codes, items=2)  # an older campaign nobody answered
    campaign_id = await open_campaign(db, store, staff, codes, items=3)
    a, b = codes[0], codes[1]
    liaison_a = await liaison_by_invite(db, staff, a, 710_001)
    liaison_b = await liaison_by_invite(db, staff, b, 710_002)
    # A's I.01: a name that climbs out of its folder and one with an emoji, accepted.
    v = await file_version(db, store, a, liaison_a, "710001", "I.01", ["../../etc/passwd.pdf", "SK 😀 final.pdf"], "a1")
    await decide(db, campaign_id, v, staff, accept=True)
    # A's I.02: two files of the same name (and one differing only by case), accepted.
    v = await file_version(
        db, store, a, liaison_a, "710001", "I.02", ["laporan.pdf", "laporan.pdf", "LAPORAN.pdf"], "a2"
    )
    await decide(db, campaign_id, v, staff, accept=True)
    # A's I.03: returned for revision, then a second version waits.
    v = await file_version(db, store, a, liaison_a, "710001", "I.03", ["rencana.pdf"], "a3")
    await decide(db, campaign_id, v, staff, accept=False)
    await file_version(db, store, a, liaison_a, "710001", "I.03", ["rencana-2.pdf"], "a3b")
    # B's I.01 waits for review.
    await file_version(db, store, b, liaison_b, "710002", "I.01", ["bukti.pdf"], "b1")
    return World(campaign_id, empty, codes, staff)


async def add_findings(db: Database, counts: dict[str, int]) -> None:
    """Findings of the automatic check on the versions holding these file names (the check itself is tested in
    tests/test_evidence*.py; here only what the workbook counts)."""
    async with db.write() as session:
        for name, count in counts.items():
            version_id = await session.scalar(select(SubmissionFile.version_id).where(SubmissionFile.file_name == name))
            for n in range(count):
                session.add(
                    EvidenceFinding(version_id=version_id, check="ditetapkan", code=f"contoh_{n}", details="{}")
                )


async def export_data(db: Database, settings: Settings, campaign_id: int) -> ExportData:
    async with db.read() as session:
        return await load_export(session, settings, campaign_id, NOW)


def header(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[str]:
    return [c.value for c in sheet[HEADER_ROW] if c.value is not None]


def data_rows(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple[object, ...]]:
    rows = []
    for row in sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True):
        if not any(v is not None for v in row):
            break
        rows.append(row)
    return rows


async def test_the_workbook_reads_back_with_its_sheets_rows_colours_and_every_file(
    db: Database, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    world = await make_world(db, store)
    await add_findings(db, {"rencana.pdf": 1, "rencana-2.pdf": 2})  # A's I.03: the returned v1 and the waiting v2
    target = tmp_path / "rekap.xlsx"
    write_recap(await export_data(db, settings, world.campaign_id), target, WIB)

    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Ringkasan", "Matriks", "Berkas", "Linimasa"]
    summary = book["Ringkasan"]
    assert header(summary) == [
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
    ]
    rows = {row[0]: row for row in data_rows(summary)}
    a, b, c = world.codes
    assert set(rows) == {a, b, c}  # one row per OPD
    assert rows[a][2] == f"Penghubung {a}" and rows[c][2] == "(belum ada penghubung)"
    # A: 3 required, 1 waiting (I.03 v2), 2 accepted; B: 1 waiting; C nothing.
    assert rows[a][3:10] == (3, 1, 2, 0, 0, 1.0, 0.67)  # whole percents, as /status rounds them
    assert rows[b][3:8] == (3, 1, 0, 0, 2) and rows[c][3:8] == (3, 0, 0, 0, 3)
    assert rows[a][10] == NOW.astimezone(WIB).replace(tzinfo=None) and rows[c][10] == "belum ada unggahan"
    assert (rows[a][11], rows[b][11], rows[c][11]) == (2, 0, 0)  # the latest versions' findings: A's I.03 v2
    assert summary.freeze_panes == f"A{HEADER_ROW + 1}" and summary.auto_filter.ref.startswith(f"A{HEADER_ROW}:")
    assert summary.page_setup.orientation == "landscape" and summary.page_setup.fitToWidth == 1

    matrix = book["Matriks"]
    assert header(matrix) == ["Kode OPD", "Nama OPD", "I.01", "I.02", "I.03"]
    assert matrix.freeze_panes == f"C{HEADER_ROW + 1}"
    cells = {row[0].value: row for row in matrix.iter_rows(min_row=HEADER_ROW + 1, max_row=HEADER_ROW + 3)}
    marks = {code: [(cell.value, cell.fill.fgColor.rgb) for cell in cells[code][2:5]] for code in (a, b, c)}
    assert marks[a] == [("Diterima", "00C6EFCE"), ("Diterima", "00C6EFCE"), ("Terkirim", "00FFEB9C")]
    assert marks[b] == [("Terkirim", "00FFEB9C"), ("Belum", "00FFC7CE"), ("Belum", "00FFC7CE")]
    assert marks[c] == [("Belum", "00FFC7CE")] * 3

    files = book["Berkas"]
    assert header(files) == [
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
    ]
    async with db.read() as session:
        stored = (
            await session.execute(
                select(Opd.code, SubmissionVersion.number, SubmissionFile.file_name, SubmissionFile.sha256)
                .join(SubmissionVersion, SubmissionVersion.id == SubmissionFile.version_id)
                .join(Opd, Opd.id == SubmissionVersion.opd_id)
                .where(SubmissionVersion.campaign_id == world.campaign_id)
            )
        ).all()
    listed = data_rows(files)
    assert sorted((r[0], r[2], r[3], r[5]) for r in listed) == sorted(tuple(s) for s in stored)  # a row per file
    assert {r[6] for r in listed} == {NOW.astimezone(WIB).replace(tzinfo=None)}  # every row, albums included
    assert [r[0] for r in listed] == sorted(r[0] for r in listed)  # by OPD code
    assert {r[7] for r in listed if r[0] == a} == {f"Penghubung {a}"} and {r[8] for r in listed} == {None}
    returned = next(r for r in listed if r[3] == "rencana.pdf")
    assert returned[9:] == ("Perlu revisi", "operator server", "Mohon lampirkan SK yang ditandatangani", 1)
    assert {r[12] for r in listed if r[3] not in ("rencana.pdf", "rencana-2.pdf")} == {0}
    assert next(r for r in listed if r[3] == "rencana-2.pdf")[12] == 2

    timeline = book["Linimasa"]
    assert header(timeline)[:3] == ["Langkah", "Kegiatan", "Pelaksana"]
    steps = data_rows(timeline)
    assert [s[0] for s in steps] == list(range(8)) and steps[3][7] in ("berjalan", "berjalan, melebihi target")


async def test_control_characters_in_notes_and_names_do_not_break_the_workbook(db: Database, tmp_path: Path) -> None:
    """A workbook cannot hold most control characters (openpyxl refuses them): typed texts lose them."""
    store = FileStore(tmp_path / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    world = await make_world(db, store)
    async with db.write() as session:
        await session.execute(
            update(SubmissionVersion)
            .where(SubmissionVersion.review_note.is_not(None))
            .values(review_note="Mohon\x0bperbaiki\x01")
        )
        await session.execute(
            update(Person).where(Person.display_name.like("Penghubung%")).values(display_name="Budi\x1b")
        )
    target = tmp_path / "rekap.xlsx"
    write_recap(await export_data(db, settings, world.campaign_id), target, WIB)
    listed = data_rows(openpyxl.load_workbook(target)["Berkas"])
    assert {r[11] for r in listed} == {None, "Mohon perbaiki "} and {r[7] for r in listed} == {"Budi "}


async def test_a_campaign_with_no_uploads_and_an_opd_without_liaisons_export_plainly(
    db: Database, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    world = await make_world(db, store)
    data = await export_data(db, settings, world.empty_campaign_id)
    target = tmp_path / "kosong.xlsx"
    write_recap(data, target, WIB)
    book = openpyxl.load_workbook(target)
    assert [r[7] for r in data_rows(book["Ringkasan"])] == [2, 2, 2]  # everything missing
    assert data_rows(book["Berkas"]) == [("Belum ada berkas yang diunggah.",) + (None,) * 12]
    with (tmp_path / "kosong.zip").open("wb") as out:
        summary = write_package(data, store, out, WIB)
    assert (summary.evidence, summary.files) == (0, 0)
    with zipfile.ZipFile(tmp_path / "kosong.zip") as archive:
        assert sorted(archive.namelist()) == [
            "SHA256SUMS",
            "manifest.csv",
            f"rekap-kegiatan-{world.empty_campaign_id}.xlsx",
        ]


async def test_the_package_unzips_checks_with_sha256sum_and_matches_the_database(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    world = await make_world(db, store)
    target = tmp_path / "paket.zip"
    with target.open("wb") as out:
        summary = write_package(await export_data(db, settings, world.campaign_id), store, out, WIB)
    a = world.codes[0]
    assert (summary.evidence, summary.files) == (2, 2 * 5)  # A's I.01 (2 files) and I.02 (3 files), both layouts

    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        for name in names:  # safe before any unzip tool sees them
            assert not name.startswith("/") and ".." not in name.split("/") and "\\" not in name, name
            assert all(ord(c) < 0x2000 for c in name), name  # no emoji
        assert f"per-indikator/I.01/{a}/passwd.pdf" in names and f"per-opd/{a}/I.01/SK final.pdf" in names
        folder = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith(f"per-indikator/I.02/{a}/"))
        # In upload order: laporan.pdf, laporan.pdf, LAPORAN.pdf (the same name on Windows and macOS).
        assert folder == ["LAPORAN (3).pdf", "laporan (2).pdf", "laporan.pdf"]
        assert not any("rencana" in n or "bukti" in n for n in names)  # not accepted: not in the package
        manifest = list(csv.DictReader(io.TextIOWrapper(archive.open("manifest.csv"), encoding="utf-8")))
        archive.extractall(tmp_path / "unzipped")

    checked = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path / "unzipped", capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == len(names) - 1  # every entry but the list itself

    async with db.read() as session:
        accepted = (
            await session.execute(
                select(SubmissionFile.file_name, SubmissionFile.sha256, SubmissionVersion.number)
                .join(SubmissionVersion, SubmissionVersion.id == SubmissionFile.version_id)
                .where(SubmissionVersion.campaign_id == world.campaign_id, SubmissionVersion.review_state == "accepted")
            )
        ).all()
    expected = sorted((name, sha, str(number)) for name, sha, number in accepted) * 1
    per_layout = {
        layout: sorted(
            (r["original_name"], r["sha256"], r["version"]) for r in manifest if r["path"].startswith(layout)
        )
        for layout in ("per-indikator/", "per-opd/")
    }
    assert per_layout["per-indikator/"] == per_layout["per-opd/"] == expected
    assert {r["path"] for r in manifest} == {n for n in names if n.startswith("per-")}
    assert {r["reviewer"] for r in manifest} == {"operator server"} and all(
        r["accepted_at"].endswith("+07:00") for r in manifest
    )


def test_names_from_uploaders_come_out_safe_and_unique() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Windows\\system32\\laporan.pdf") == "laporan.pdf"
    assert safe_name("laporan\x00\x1b[31m.pdf") == "laporan__[31m.pdf"
    assert safe_name("SK 😀👍🏽 final.pdf") == "SK final.pdf"
    assert safe_name("🇮🇩.pdf") == "berkas.pdf" and safe_name("😀") == "berkas" and safe_name(".pdf") == "pdf"
    assert safe_name("CON.pdf") == "_CON.pdf" and safe_name("a<b>:c.pdf") == "a_b__c.pdf"
    assert safe_name("..") == "berkas" and safe_name("   ") == "berkas"
    assert len(safe_name("x" * 300 + ".pdf")) <= 120 and safe_name("x" * 300 + ".pdf").endswith(".pdf")
    taken: set[str] = set()
    assert [unique_name(n, taken) for n in ("a.pdf", "A.pdf", "a.pdf", "b")] == ["a.pdf", "A (2).pdf", "a (3).pdf", "b"]


async def test_a_chat_export_above_the_channel_limit_stays_on_the_server(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "data" / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    world = await make_world(db, store)
    telegram = await produce.for_chat(db, store, settings, world.campaign_id, produce.PACKAGE, "telegram", NOW)
    assert telegram.blob is not None and store.exists(telegram.blob.sha256) and telegram.server_path is None
    assert produce.send_limit("telegram", settings) == 50 * 1024 * 1024
    small = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url, MONEV_TELEGRAM_LOCAL_MODE="true")
    assert produce.send_limit("telegram", small) == 2000 * 1024 * 1024
    original = produce.SEND_LIMITS["telegram"]
    produce.SEND_LIMITS["telegram"] = 1000  # bytes: far below any package
    try:
        kept = await produce.for_chat(db, store, settings, world.campaign_id, produce.PACKAGE, "telegram", NOW)
    finally:
        produce.SEND_LIMITS["telegram"] = original
    assert kept.blob is None and kept.server_path is not None and kept.server_path.is_file()
    assert kept.server_path.parent == settings.data_dir / "ekspor" and kept.server_path.name == kept.name
    assert zipfile.is_zipfile(kept.server_path)


def test_the_cli_writes_both_exports_and_audits_them(tmp_path: Path) -> None:
    """`monev export recap|package` as real processes on the data directory's SQLite database."""
    settings = make_settings(tmp_path / "data")

    async def seeded() -> int:
        db = Database(settings.database_url)
        await migrate.upgrade(db)
        try:
            return (await make_world(db, FileStore(settings.files_dir))).campaign_id
        finally:
            await db.dispose()

    campaign_id = asyncio.run(seeded())
    recap = monev(
        "export", "recap", "--campaign", str(campaign_id), "--out", str(tmp_path / "rekap.xlsx"), cwd=tmp_path
    )
    assert recap.returncode == 0, recap.stderr
    assert (
        recap.stdout.startswith(f"recap workbook of campaign #{campaign_id}") and "3 OPDs, 8 file rows" in recap.stdout
    )
    assert openpyxl.load_workbook(tmp_path / "rekap.xlsx").sheetnames == ["Ringkasan", "Matriks", "Berkas", "Linimasa"]
    package = monev(
        "export", "package", "--campaign", str(campaign_id), "--out", str(tmp_path / "paket.zip"), cwd=tmp_path
    )
    assert package.returncode == 0, package.stderr
    assert "2 accepted items, 10 files in both layouts" in package.stdout
    with zipfile.ZipFile(tmp_path / "paket.zip") as archive:
        assert archive.testzip() is None and "SHA256SUMS" in archive.namelist()

    unknown = monev("export", "recap", "--campaign", "99", "--out", str(tmp_path / "tidak.xlsx"), cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1 and "#99" in unknown.stderr, unknown.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["paket.zip", "rekap.xlsx"]  # no partial file
    audit = monev("audit", "export", "--out", str(tmp_path / "audit.csv"), cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
    actions = [row["action"] for row in csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text("utf-8")))]
    assert actions.count("export_recap") == 1 and actions.count("export_package") == 1


# -- statement counts: the same in a campaign of 5 OPDs and of 30 (tests/test_statement_counts.py) -------------


async def test_the_exports_statement_counts_do_not_grow_with_opds(
    db: Database,
    statements: StatementLog,  # noqa: F811  the fixture of tests/test_statement_counts.py
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "data" / "files")
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    dispatcher = dispatcher_for(db, tmp_path)
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=True)
    worlds = {
        "5 OPDs": (await overview_world(db, store, staff, codes[:5], items=5, versions=1), 5),
        "30 OPDs": (await overview_world(db, store, staff, codes[5:35], items=40, versions=4), 30),
    }
    async with db.write() as session:  # the latest version of every item accepted: the package has content
        await session.execute(
            update(SubmissionVersion)
            .where(SubmissionVersion.superseded_by_number.is_(None))
            .values(review_state="accepted")
        )
    counted: dict[str, dict[str, list[str]]] = {"recap": {}, "package": {}, "chat": {}}
    for n, (name, (campaign_id, opds)) in enumerate(worlds.items()):
        for kind, label in ((produce.RECAP, "recap"), (produce.PACKAGE, "package")):
            with statements.counting() as seen:
                built = await produce.build(db, store, settings, campaign_id, kind, tmp_path / f"{label}-{n}", NOW)
            counted[label][name] = list(seen)
            assert built.opds == opds
        assert built.evidence == opds * (5 if opds == 5 else 40)
        request = Request(
            channel="console",
            chat_id="kasi",
            sender_id="kasi",
            received_at=NOW,
            command="ekspor",
            args=(f"#{campaign_id}",),
            message_id=str(100 + n),
        )
        with statements.counting() as seen:
            (reply,) = await dispatcher.run(request, NOW)
        counted["chat"][name] = list(seen)
        assert f"{opds} OPD" in reply.text and "sudah disiapkan" in reply.text, reply.text
    reads = [s for s in counted["recap"]["5 OPDs"] if s.startswith("SELECT")]
    assert len(reads) == 11, counted["recap"]["5 OPDs"]  # read_export's eleven
    same_count("the recap workbook", counted["recap"]["5 OPDs"], counted["recap"]["30 OPDs"])
    same_count("the evidence package", counted["package"]["5 OPDs"], counted["package"]["30 OPDs"])
    same_count("/ekspor through the dispatcher", counted["chat"]["5 OPDs"], counted["chat"]["30 OPDs"])
