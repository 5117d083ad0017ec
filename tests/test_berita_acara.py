"""The Berita Acara and finalizing (SOP steps 6–7) as services, on SQLite and PostgreSQL: the document opened with
python-docx, a city's own template, the signed BA, `finalized`, the final package's manifest, and bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select, update

from bot.domain.enums import CampaignState, Rsvp
from bot.errors import DomainError
from bot.services import berita_acara, finalization, meetings, scores
from bot.services.audit import Acting
from bot.services.campaigns import campaign_detail
from bot.services.exports import produce
from bot.services.timeline import step_progress
from bot.settings import Settings
from storage import migrate
from storage.database import Database
from storage.filestore import FileStore
from storage.models import AuditEntry, Campaign, CampaignEvent, Role, SignedBeritaAcara
from tests.berita_acara_template import build
from tests.conftest import make_settings
from tests.e2e.broadcast_world import tagged_pdf
from tests.test_console import monev
from tests.test_meetings import CALENDAR, MEETING_AT, People, _person, scheduled, world
from tests.test_submissions import NOW, WIB

HELD_AT = MEETING_AT + timedelta(hours=4)
SIGNED = tagged_pdf(b"ba-ttd")


def docx_texts(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    """The paragraphs and the tables (rows of cell texts) of a Word document."""
    document = Document(io.BytesIO(data))
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return [p.text for p in document.paragraphs], tables


async def recapped(db: Database, campaign_id: int) -> None:
    """Closed and recapped: the recap's forwarding (h18a's "Teruskan ke Tim SPBE") is not this module's to test."""
    async with db.write() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(state=CampaignState.RECAPPED.value)
        )
        session.add(CampaignEvent(campaign_id=campaign_id, kind="recapped", at=NOW, actor_person_id=None, note=None))


async def held(db: Database, campaign_id: int, people: People) -> meetings.MeetingView:
    """The meeting: Rina came, Joko declined, the DINKES liaison sent Siti Aminah, Sari never answered."""
    view = await scheduled(db, campaign_id, people)
    async with db.write() as session:
        await meetings.answer(session, view.id, MEETING_AT, Rsvp.HADIR, acting=people.tim[0], now=NOW)
        await meetings.answer(session, view.id, MEETING_AT, Rsvp.TIDAK_HADIR, acting=people.tim[1], now=NOW)
        await meetings.answer(session, view.id, MEETING_AT, Rsvp.DIWAKILKAN, acting=people.liaison, now=NOW)
        await meetings.name_representative(session, view.id, "Siti Aminah", acting=people.liaison, now=NOW)
        return await meetings.record_held(session, view.id, acting=people.kasi, now=HELD_AT)


async def scored(db: Database, campaign_id: int, kasi: Acting, upto: int = 20) -> None:
    """Pemdi's 20 indicators: 1–18 at level 4, 19–20 at 3 (index 3,75, Sangat Baik; tests/test_scores.py)."""
    async with db.write() as session:
        for n in range(1, upto + 1):
            code = f"I.{n:02d}"
            source = "EPSS BPS" if n in (5, 6, 7) else None
            await scores.record_score(session, campaign_id, code, 4 if n <= 18 else 3, "Penjelasan " + code,
                                      source=source, acting=kasi, now=NOW)  # fmt: skip


async def ready(db: Database) -> tuple[int, People]:
    """A recapped campaign with its meeting held and every indicator scored, a Kabid named Hendra registered."""
    campaign_id, people = await world(db)
    async with db.write() as session:
        await _person(session, "902", "Hendra", Role.KABID)
    await held(db, campaign_id, people)
    await scored(db, campaign_id, people.kasi)
    await recapped(db, campaign_id)
    return campaign_id, people


async def ba_bytes(db: Database, campaign_id: int, template: Path = berita_acara.DEFAULT_TEMPLATE) -> bytes:
    async with db.read() as session:
        ba = await berita_acara.berita_acara(session, campaign_id, WIB, HELD_AT + timedelta(days=1))
    out = io.BytesIO()
    berita_acara.write_ba(ba, template, out)
    return out.getvalue()


def test_the_shipped_template_reads_as_its_script_writes_it(tmp_path: Path) -> None:
    build(tmp_path / "again.docx")
    assert docx_texts((tmp_path / "again.docx").read_bytes()) == docx_texts(berita_acara.DEFAULT_TEMPLATE.read_bytes())


async def test_the_ba_holds_the_meeting_attendance_completeness_scores_and_signers(db: Database) -> None:
    campaign_id, _ = await ready(db)
    paragraphs, tables = docx_texts(await ba_bytes(db, campaign_id))
    text = "\n".join(paragraphs)
    assert paragraphs[0] == "BERITA ACARA EVALUASI MANDIRI SPBE KOTA PONTIANAK TAHUN 2026"
    assert "Senin, 7 September 2026" in text and "Ruang Rapat Pontive Center" in text
    assert "pukul 09.00 WIB sampai dengan 12.00 WIB" in text and "Analisis data dukung OPD" in text
    assert "Indeks SPBE: 3,75 — Predikat: Sangat Baik" in text and "simulasi" in text
    attendance, completeness, aspects, signatures = tables
    # Who came or sent someone, by name (as the meeting lists them) and position; Joko (declined) and Sari (no
    # answer) are not listed.
    assert attendance[1:] == [
        ["1", "Budi", "Penghubung OPD DINKES", "Diwakilkan oleh Siti Aminah"],
        ["2", "Rina", "Tim SPBE", "Hadir"],
    ]
    async with db.read() as session:
        detail = await campaign_detail(session, campaign_id)
        sheet = await scores.score_sheet(session, campaign_id)
    assert [row[1] for row in completeness[1:]] == [o.name for o in detail.opds]
    assert completeness[0] == ["No", "OPD", "Item wajib", "Lengkap", "Terverifikasi", "Kelengkapan"]
    dinkes_name = next(o.name for o in detail.opds if o.code == "DINKES")
    dinkes = next(row for row in completeness if row[1] == dinkes_name)
    assert dinkes[3:] == ["0", "0", "0%"] and int(dinkes[2]) > 0
    assert [row[1] for row in aspects[1:]] == [g.name for g in sheet.aspects]
    assert aspects[-1][1:] == ["Kepuasan Pengguna Layanan Digital Pemerintah", "3,00"]
    assert signatures[0] == ["Kepala Seksi PK&AI", "Kepala Bidang TKPBET", "Sekretaris Daerah"]
    assert signatures[2] == ["Andi", "Hendra", berita_acara.BLANK_NAME]


async def test_a_city_template_in_the_data_dir_replaces_the_default(db: Database, tmp_path: Path) -> None:
    campaign_id, _ = await ready(db)
    settings = make_settings(tmp_path / "data")
    assert berita_acara.template_path(settings.data_dir) == berita_acara.DEFAULT_TEMPLATE
    city = Document()
    city.add_paragraph("BERITA ACARA VERSI PEMKOT {{ judul }}, indeks {{ indeks }}, Sekda {{ ttd.sekda }}")
    (settings.data_dir / "templates").mkdir(parents=True)
    city.save(str(settings.data_dir / "templates" / "berita-acara.docx"))
    chosen = berita_acara.template_path(settings.data_dir)
    assert chosen == settings.data_dir / "templates" / "berita-acara.docx"
    paragraphs, tables = docx_texts(await ba_bytes(db, campaign_id, chosen))
    assert paragraphs == [f"BERITA ACARA VERSI PEMKOT Monev 2026, indeks 3,75, Sekda {berita_acara.BLANK_NAME}"]
    assert tables == []


async def test_a_ba_without_the_meeting_or_complete_scores_is_refused(db: Database) -> None:
    campaign_id, people = await world(db)
    await recapped(db, campaign_id)
    async with db.read() as session:
        with pytest.raises(DomainError) as no_meeting:
            await berita_acara.berita_acara(session, campaign_id, WIB, HELD_AT)
    assert no_meeting.value.template == "ba/tanpa_rapat"
    async with db.write() as session:  # recording the meeting needs the campaign as meetings know it
        await session.execute(update(Campaign).where(Campaign.id == campaign_id).values(state="closed"))
    await held(db, campaign_id, people)
    async with db.read() as session:
        with pytest.raises(DomainError) as no_scores:
            await berita_acara.berita_acara(session, campaign_id, WIB, HELD_AT)
    assert no_scores.value.template == "ba/belum_ada_nilai"
    await scored(db, campaign_id, people.kasi, upto=17)
    async with db.read() as session:
        with pytest.raises(DomainError) as partial:
            await berita_acara.berita_acara(session, campaign_id, WIB, HELD_AT)
    assert partial.value.template == "ba/nilai_belum_lengkap" and partial.value.params["jumlah"] == 3


async def test_the_signed_ba_ends_step_6_and_finalizing_needs_it_and_ends_step_7(db: Database, tmp_path: Path) -> None:
    campaign_id, people = await ready(db)
    store = FileStore(tmp_path / "files")
    later = HELD_AT + timedelta(hours=1)
    async with db.write() as session:
        with pytest.raises(DomainError) as early:
            await finalization.finalize(session, campaign_id, acting=people.kasi, now=later)
    assert early.value.template == "selesai/tanpa_ba_ttd"
    async with db.read() as session:
        assert (await session.get_one(Campaign, campaign_id)).state == "recapped"
        assert await session.scalar(select(func.count()).select_from(SignedBeritaAcara)) == 0

    async with db.write() as session:
        signed = await berita_acara.record_signed_ba(
            session, campaign_id, store.store_bytes(SIGNED), "BA ttd Sekda.pdf", acting=people.kasi, now=later
        )
    assert signed.name == "BA ttd Sekda.pdf"
    async with db.write() as session:
        done = await finalization.finalize(session, campaign_id, acting=people.kasi, now=later + timedelta(minutes=30))
        with pytest.raises(DomainError) as twice:
            await finalization.finalize(session, campaign_id, acting=people.kasi, now=later + timedelta(minutes=31))
    assert twice.value.template == "umum/sudah_diproses"
    async with db.read() as session:
        detail = await campaign_detail(session, campaign_id)
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert detail.state is CampaignState.FINALIZED and done.title == "Monev 2026" and len(done.kabids) == 1
    assert {"campaign_ba_signed", "campaign_finalized"} <= actions
    steps = step_progress(detail.events, CALENDAR, later + timedelta(days=3))
    # Step 6 runs from the meeting's end (12.00) to the signed BA (14.00); step 7 from there to finalizing.
    meeting_end = MEETING_AT + timedelta(minutes=180)
    assert (steps[6].started, steps[6].ended) == (meeting_end, later) and steps[6].working_minutes == 120
    assert (steps[7].started, steps[7].ended) == (later, later + timedelta(minutes=30))
    assert steps[7].working_minutes == 30 and not steps[7].over_target


async def test_the_signed_ba_is_refused_before_the_recap(db: Database, tmp_path: Path) -> None:
    campaign_id, people = await world(db)
    async with db.write() as session:
        with pytest.raises(DomainError) as refused:
            await berita_acara.record_signed_ba(
                session, campaign_id, FileStore(tmp_path).store_bytes(SIGNED), "ba.pdf", acting=people.kasi, now=NOW
            )
        with pytest.raises(DomainError) as not_recapped:
            await finalization.finalize(session, campaign_id, acting=people.kasi, now=NOW)
    assert refused.value.template == "ba/ttd_belum_waktunya" and not_recapped.value.template == "selesai/belum_waktunya"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(SignedBeritaAcara)) == 0


async def test_the_finalized_package_holds_scores_ba_signed_ba_and_summary(db: Database, settings: Settings) -> None:
    campaign_id, people = await ready(db)
    store = FileStore(settings.files_dir)
    later = HELD_AT + timedelta(hours=1)
    async with db.write() as session:
        await berita_acara.record_signed_ba(
            session, campaign_id, store.store_bytes(SIGNED), "ba.pdf", acting=people.kasi, now=later
        )
        await finalization.finalize(session, campaign_id, acting=people.kasi, now=later)
    target = settings.data_dir / "paket.zip"
    await produce.build(db, store, settings, campaign_id, produce.PACKAGE, target, later)  # `settings` names `db`
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8"))))
        sums = archive.read("SHA256SUMS").decode("utf-8")
        score_rows = list(csv.DictReader(io.StringIO(archive.read(f"hasil/nilai-kegiatan-{campaign_id}.csv").decode())))
        summary = archive.read("hasil/ringkasan.txt").decode("utf-8")
        signed = archive.read("hasil/berita-acara-bertanda-tangan.pdf")
        ba = archive.read(f"hasil/berita-acara-kegiatan-{campaign_id}.docx")
    final = {
        f"hasil/nilai-kegiatan-{campaign_id}.csv",
        f"hasil/berita-acara-kegiatan-{campaign_id}.docx",
        "hasil/berita-acara-bertanda-tangan.pdf",
        "hasil/ringkasan.txt",
    }
    assert final <= names
    assert final <= {row["path"] for row in manifest}
    assert all(f"  {path}\n" in sums for path in final)
    assert signed == SIGNED and next(r for r in manifest if r["path"].endswith(".pdf"))["original_name"] == "ba.pdf"
    assert len(score_rows) == 20 and score_rows[0]["level"] == "4" and score_rows[4]["sumber"] == "EPSS BPS"
    assert "3,75, predikat Sangat Baik" in summary and "simulasi" in summary
    assert "BERITA ACARA EVALUASI MANDIRI SPBE KOTA PONTIANAK TAHUN 2026" in docx_texts(ba)[0]


def test_the_cli_writes_the_ba_refuses_it_without_scores_and_audits_it(tmp_path: Path) -> None:
    """`monev export ba` as a real process on the data directory's SQLite database: exit 1 and one line, then 0."""
    settings = make_settings(tmp_path / "data")

    async def seeded(*, with_scores: bool, campaign_id: int = 0) -> int:
        db = Database(settings.database_url)
        try:
            if not with_scores:
                await migrate.upgrade(db)
                campaign_id, people = await world(db)
                await held(db, campaign_id, people)
                await recapped(db, campaign_id)
            else:
                async with db.read() as session:
                    held_by = select(AuditEntry.actor_person_id).where(AuditEntry.action == "meeting_held")
                    kasi = await session.scalar(held_by)
                await scored(db, campaign_id, Acting(kasi, Role.KASI.value, "telegram"))
            return campaign_id
        finally:
            await db.dispose()

    campaign_id = asyncio.run(seeded(with_scores=False))
    out = tmp_path / "ba.docx"
    refused = monev("export", "ba", "--campaign", str(campaign_id), "--out", str(out), cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "belum ada nilai penilaian mandiri" in refused.stderr and not out.exists()
    assert not list(tmp_path.glob(".ba.docx.part"))
    asyncio.run(seeded(with_scores=True, campaign_id=campaign_id))
    written = monev("export", "ba", "--campaign", str(campaign_id), "--out", str(out), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"Berita Acara of campaign #{campaign_id}") and "index 3,75" in written.stdout
    paragraphs, tables = docx_texts(out.read_bytes())
    assert paragraphs[0].endswith("TAHUN 2026") and tables[0][2][1] == "Rina"
    assert monev("audit", "export", "--out", str(tmp_path / "audit.csv"), cwd=tmp_path).returncode == 0
    actions = [row["action"] for row in csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text("utf-8")))]
    assert actions.count("export_ba") == 1
