"""Self-assessment scores as services, on SQLite and PostgreSQL: recording, refusals, the sheet and its evidence."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.domain.enums import ReviewDecision, Role
from bot.domain.scoring import EvidenceState
from bot.errors import DomainError
from bot.services import identity, review, score_import, scores
from bot.services.audit import Acting
from bot.services.scores import ScoreOutcome
from storage import migrate
from storage.database import Database
from storage.models import AuditEntry, Campaign, CampaignItem, CampaignScore, SubmissionVersion
from tests.conftest import make_settings
from tests.test_console import monev
from tests.test_submissions import NOW, open_campaign, upload


async def _acting(db: Database, external: str, name: str, role: Role, opd: str | None = None) -> Acting:
    async with db.write() as session:
        person = await identity.person_of_identity(session, "telegram", external, name, NOW)
        await identity.ensure_assignment(session, person, role, opd, NOW)
    return Acting(person, role.value, "telegram")


async def _campaign_id(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(Campaign.id)) or 0)


async def test_a_score_is_recorded_updated_and_audited_and_the_sheet_shows_it(db: Database) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    rina = await _acting(db, "910", "Rina", Role.TIM)
    async with db.write() as session:
        added = await scores.record_score(session, campaign_id, "i.01", 3, "  SK Tim Koordinasi ada.\n", acting=rina,
                                          now=NOW)  # fmt: skip
    async with db.write() as session:
        same = await scores.record_score(session, campaign_id, "I.01", 3, "SK Tim Koordinasi ada.", acting=rina,
                                         now=NOW)  # fmt: skip
        changed = await scores.record_score(session, campaign_id, "I.01", 4, "Direviu tiap tahun.", acting=rina,
                                            now=NOW)  # fmt: skip
        external = await scores.record_score(
            session,
            campaign_id,
            "I.05",
            2,
            "Hasil evaluasi SDI 2025.",
            source="Evaluasi Satu Data Indonesia (Bappenas)",
            acting=rina,
            now=NOW,
        )
    assert (added.outcome, added.previous_level) == (ScoreOutcome.ADDED, None)
    assert same.outcome is ScoreOutcome.UNCHANGED
    assert (changed.outcome, changed.previous_level, changed.level) == (ScoreOutcome.UPDATED, 3, 4)
    assert external.outcome is ScoreOutcome.ADDED
    async with db.read() as session:
        sheet = await scores.score_sheet(session, campaign_id)
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "score_recorded"))).all()
    first = sheet.row("I.01")
    assert first is not None and (first.level, first.penjelasan, first.recorded_by) == (4, "Direviu tiap tahun.",
                                                                                         "Rina")  # fmt: skip
    assert first.aspect == "Tata Kelola dan Manajemen" and first.weight == Decimal("5.000")
    fifth = sheet.row("I.05")
    assert fifth is not None and fifth.needs_source and fifth.source == "Evaluasi Satu Data Indonesia (Bappenas)"
    assert fifth.evidence is EvidenceState.NOT_REQUESTED
    assert sheet.has_weights and sheet.missing == 18 and sheet.scored == 2
    assert sheet.index is not None and sheet.index.value is None and sheet.index.missing == 18
    assert [g.code for g in sheet.ranking] == ["I.05", "I.01"]  # the same weight: the lower level first
    assert len(sheet.aspects) == 7 and sheet.domains == ()
    assert [json.loads(a.details or "{}")["level"] for a in audits] == [3, 4, 2]
    assert {a.actor_person_id for a in audits} == {rina.person_id}


async def test_every_indicator_scored_gives_the_index_and_predicate(db: Database) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    kasi = await _acting(db, "900", "Andi", Role.KASI)
    async with db.write() as session:
        for n in range(1, 21):
            code = f"I.{n:02d}"
            source = "EPSS BPS" if n in (5, 6, 7) else None
            await scores.record_score(session, campaign_id, code, 4 if n <= 18 else 3, "Penjelasan " + code,
                                      source=source, acting=kasi, now=NOW)  # fmt: skip
    async with db.read() as session:
        sheet = await scores.score_sheet(session, campaign_id)
    # 1-18 weigh 75 at level 4, 19-20 weigh 25 at level 3: (300 + 75) / 100 = 3.75, Sangat Baik.
    assert sheet.index is not None and sheet.index.value == Decimal("3.75") and sheet.predicate == "Sangat Baik"
    assert sheet.missing == 0
    last = next(g for g in sheet.aspects if g.name == "Kepuasan Pengguna Layanan Digital Pemerintah")
    assert last.value == Decimal(3)
    assert sheet.ranking[0].code == "I.20" and sheet.ranking[0].per_level == Decimal("0.15")


async def test_bad_scores_are_refused_and_change_nothing(db: Database) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    tim = await _acting(db, "910", "Rina", Role.TIM)
    liaison = await _acting(db, "920", "Budi", Role.OPD, "DINKES")
    kabid = await _acting(db, "930", "Eko", Role.KABID)
    refusals = [
        (tim, "I.01", 0, "ok", None, "nilai/level_salah"),
        (tim, "I.01", 6, "ok", None, "nilai/level_salah"),
        (tim, "I.99", 3, "ok", None, "nilai/indikator_tidak_dikenal"),
        (tim, "I.01", 3, "   ", None, "nilai/penjelasan_tidak_sah"),
        (tim, "I.01", 3, "x" * 2001, None, "nilai/penjelasan_tidak_sah"),
        (tim, "I.06", 3, "ok", None, "nilai/sumber_wajib"),
        (tim, "I.06", 3, "ok", " ", "nilai/sumber_tidak_sah"),
        (liaison, "I.01", 3, "ok", None, "nilai/tidak_berwenang"),
        (kabid, "I.01", 3, "ok", None, "nilai/tidak_berwenang"),
    ]
    for acting, code, level, text, source, template in refusals:
        with pytest.raises(DomainError) as refused:
            async with db.write() as session:
                await scores.record_score(session, campaign_id, code, level, text, source=source, acting=acting,
                                          now=NOW)  # fmt: skip
        assert refused.value.template == template, (code, level)
    async with db.write() as session:
        (await session.get_one(Campaign, campaign_id)).state = "finalized"
    with pytest.raises(DomainError) as finalized:
        async with db.write() as session:
            await scores.record_score(session, campaign_id, "I.01", 3, "ok", acting=tim, now=NOW)
    assert finalized.value.template == "nilai/kegiatan_belum_siap"
    async with db.read() as session:
        assert (await session.scalars(select(CampaignScore))).all() == []
        assert (await session.scalars(select(AuditEntry).where(AuditEntry.action == "score_recorded"))).all() == []
        assert [c.campaign_id for c in await scores.scoring_campaigns(session)] == []


async def test_the_sheet_lists_accepted_evidence_and_marks_returned_and_missing(db: Database, tmp_path: Path) -> None:
    scope, liaison = await open_campaign(db)
    campaign_id = scope.campaign_id
    kasi = await _acting(db, "900", "Andi", Role.KASI)
    await upload(db, scope, liaison, [b"%PDF-1.4 a"], "I.13", tmp_path)
    await upload(db, scope, liaison, [b"%PDF-1.4 b"], "I.15", tmp_path)
    async with db.write() as session:
        for code, decision, note in (("I.13", ReviewDecision.ACCEPTED, None),
                                     ("I.15", ReviewDecision.REVISION_REQUESTED, "Belum ditandatangani")):  # fmt: skip
            version_id = await session.scalar(
                select(SubmissionVersion.id)
                .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
                .where(CampaignItem.code == code)
            )
            await review.decide(session, campaign_id, int(version_id or 0), decision, note=note, reason=None,
                                acting=kasi, now=NOW)  # fmt: skip
    async with db.read() as session:
        sheet = await scores.score_sheet(session, campaign_id)
    accepted, returned, untouched = sheet.row("I.13"), sheet.row("I.15"), sheet.row("I.14")
    assert accepted is not None and accepted.accepted_opds == ("DINKES",)
    assert accepted.evidence is EvidenceState.MISSING  # four other OPDs are asked for it and sent nothing
    assert accepted.requested_opds == ("DINKES", "DISDIKBUD", "DISDUKCAPIL", "DISKOMINFO", "DPMPTSP")
    assert returned is not None and returned.evidence is EvidenceState.RETURNED and returned.accepted_opds == ()
    assert untouched is not None and untouched.evidence is EvidenceState.MISSING


async def test_imported_items_without_weights_show_scores_but_no_index(db: Database) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    tim = await _acting(db, "910", "Rina", Role.TIM)
    async with db.write() as session:
        (await session.scalars(select(CampaignItem).where(CampaignItem.code == "I.02"))).one().weight = None
        await scores.record_score(session, campaign_id, "I.02", 2, "Ada draf.", acting=tim, now=NOW)
    async with db.read() as session:
        sheet = await scores.score_sheet(session, campaign_id)
    assert not sheet.has_weights and sheet.index is None and sheet.ranking == () and sheet.aspects == ()
    assert sheet.predicate is None and sheet.scored == 1


# -- the scores file: template, import, CLI ----------------------------------------------------------------------


def _fill(template: Path, filled: Path, values: dict[str, tuple[object, str, str]]) -> None:
    """Fill levels, explanations and sources into the template as a person would in Excel."""
    workbook = openpyxl.load_workbook(template)
    sheet = workbook.active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=2):
        if row[0].value in values:
            row[1].value, row[2].value, row[3].value = values[str(row[0].value)]
    workbook.save(filled)


async def test_the_template_round_trips_through_the_import_into_the_sheet(db: Database, tmp_path: Path) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    kasi = await _acting(db, "900", "Andi", Role.KASI)
    async with db.write() as session:
        await scores.record_score(session, campaign_id, "I.04", 2, "Forum ada.", acting=kasi, now=NOW)
    async with db.read() as session:
        template = tmp_path / "templat.xlsx"
        assert score_import.write_score_template(await scores.score_sheet(session, campaign_id), template) == 20
    header = [c.value for c in openpyxl.load_workbook(template).active[1]]  # type: ignore[index]
    assert header[:3] == ["indikator", "level", "penjelasan"] and header[3] == "sumber"
    filled = tmp_path / "terisi.xlsx"
    _fill(filled=filled, template=template, values={"I.01": (3, "Renstra memuat RAN Pemdi.", ""),
                                                    "I.04": (2, "Forum ada.", ""),
                                                    "I.07": (4.0, "EPSS 2025.", "EPSS (BPS)")})  # fmt: skip
    lines = score_import.parse_score_file(filled)
    async with db.read() as session:
        dry = await score_import.import_scores(session, campaign_id, lines, acting=kasi, now=NOW, dry_run=True)
    async with db.write() as session:
        done = await score_import.import_scores(session, campaign_id, lines, acting=kasi, now=NOW)
    async with db.write() as session:
        again = await score_import.import_scores(session, campaign_id, lines, acting=kasi, now=NOW)
    assert (dry.added, dry.updated, dry.unchanged, dry.skipped, dry.written) == (2, 0, 1, 17, False)
    assert (done.added, done.unchanged, done.written) == (2, 1, True)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    async with db.read() as session:
        sheet = await scores.score_sheet(session, campaign_id)
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "score_recorded"))).all()
    seventh = sheet.row("I.07")
    assert seventh is not None and (seventh.level, seventh.source) == (4, "EPSS (BPS)")
    assert sheet.scored == 3 and len(audits) == 3  # the manual one and the two imported


async def test_an_import_with_any_bad_row_writes_nothing_and_names_every_row(db: Database, tmp_path: Path) -> None:
    await open_campaign(db)
    campaign_id = await _campaign_id(db)
    kasi = await _acting(db, "900", "Andi", Role.KASI)
    bad = tmp_path / "nilai.csv"
    bad.write_text(
        "Indikator;Level;Penjelasan\n"
        "I.01;3;Bagus\n"
        "I.99;3;Bukan indikator\n"
        "I.02;6;Terlalu tinggi\n"
        "I.03;2;\n"
        "i.01;4;Dua kali\n"
        "I.05;2;Tanpa sumber\n"
        ";;\n",
        encoding="utf-8",
    )
    lines = score_import.parse_score_file(bad)
    async with db.write() as session:
        report = await score_import.import_scores(session, campaign_id, lines, acting=kasi, now=NOW)
    assert not report.accepted and not report.written
    assert [(r.line, r.column, r.kind) for r in report.rejections] == [
        (3, "indikator", "indikator_tidak_dikenal"),
        (4, "level", "level_salah"),
        (5, "penjelasan", "kosong"),
        (6, "indikator", "kode_ganda"),
        (7, "sumber", "sumber_wajib"),
    ]
    async with db.read() as session:
        assert (await session.scalars(select(CampaignScore))).all() == []
    for content, kind in (("kode,level\n", "kolom_kurang"), ("", "kosong")):
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(score_import.ScoreFileError) as unreadable:
            score_import.parse_score_file(bad)
        assert unreadable.value.kind == kind


def test_the_cli_writes_the_template_and_imports_it_all_or_nothing(tmp_path: Path) -> None:
    """`monev export score-template` and `monev score import [--dry-run]` as real processes."""
    settings = make_settings(tmp_path / "data")

    async def seeded() -> int:
        database = Database(settings.database_url)
        await migrate.upgrade(database)
        try:
            await open_campaign(database)
            return await _campaign_id(database)
        finally:
            await database.dispose()

    campaign_id = asyncio.run(seeded())
    template = tmp_path / "templat.xlsx"
    written = monev("export", "score-template", "--campaign", str(campaign_id), "--out", str(template), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "20 indicators" in written.stdout
    filled = tmp_path / "terisi.xlsx"
    _fill(template, filled, {"I.01": (4, "Direviu.", ""), "I.02": (3, "SOP ada.", "")})
    dry = monev("score", "import", "--campaign", str(campaign_id), str(filled), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "dry run: added 2, updated 0, unchanged 0, 18 empty rows skipped"
    done = monev("score", "import", "--campaign", str(campaign_id), str(filled), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("added 2, updated 0, unchanged 0"), done.stderr
    bad = tmp_path / "salah.csv"
    bad.write_text("indikator,level,penjelasan\nI.01,5,Naik\nI.42,3,Tidak ada\n", encoding="utf-8")
    refused = monev("score", "import", "--campaign", str(campaign_id), str(bad), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        "line 3, column indikator: no indicator 'I.42' in this campaign",
        "nothing was imported",
    ]
    unknown = monev("score", "import", "--campaign", "99", str(bad), cwd=tmp_path)
    assert unknown.returncode == 1 and "#99" in unknown.stderr

    async def stored() -> dict[str, int]:
        database = Database(settings.database_url)
        try:
            async with database.read() as session:
                return {s.item_code: s.level for s in (await session.scalars(select(CampaignScore))).all()}
        finally:
            await database.dispose()

    assert asyncio.run(stored()) == {"I.01": 4, "I.02": 3}
