"""The recap of a campaign (SOP step 4): figures, OPDs behind first, changes since the last daily recap, what
waits, and a statement count that does not grow with the OPDs (both backends)."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, update

import bot.data
from bot.conversation.envelope import Envelope
from bot.conversation.templating import Renderer
from bot.domain.enums import CampaignState
from bot.services import campaigns, identity, recap, recap_chart
from storage.database import Database
from storage.filestore import FileStore
from storage.models import ChannelIdentity, ReviewState, RoleAssignment
from tests.conftest import make_settings
from tests.test_overview import _review
from tests.test_statement_counts import (
    NOW,
    WIB,
    StatementLog,
    blobs_for,
    file_one,
    import_opds,
    large_world,
    liaisons_direct,
    make_staff,
    open_campaign,
    scope_of,
    small_world,
)


async def test_a_recap_of_mixed_progress_sorts_the_opds_and_compares_with_yesterday(
    db: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    store = FileStore(tmp_path / "files")
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=4)
    campaign_id = await open_campaign(db, store, staff, codes, items=5)  # I.05 is optional: 4 required each
    a, b, c, d = codes
    liaisons = await liaisons_direct(db, [a, b, c], 820_000)  # D has no liaison at all
    async with db.write() as session:  # C's only liaison blocked the bot
        await session.execute(
            update(ChannelIdentity).where(ChannelIdentity.person_id == liaisons[c][0]).values(unreachable_at=NOW)
        )
    (blob,) = blobs_for(store, 1)
    for code, items in {a: ["I.01", "I.02", "I.03", "I.04"], b: ["I.01"], c: ["I.01", "I.02"]}.items():
        scope = await scope_of(db, code)
        for item in items:
            await file_one(db, scope, *liaisons[code], item, blob, f"{item}.pdf")
    async with db.write() as session:
        for item in ("I.01", "I.02"):
            await _review(session, campaign_id, a, item, ReviewState.ACCEPTED)

    yesterday = NOW + timedelta(days=30)  # the deadline's day: nobody is late yet
    async with db.write() as session:
        first = await recap.campaign_recap(session, settings, campaign_id, yesterday)
        assert await recap.claim_daily(session, first, yesterday.astimezone(WIB).date(), yesterday)
        assert not await recap.claim_daily(session, first, yesterday.astimezone(WIB).date(), yesterday)
    assert first.changes is None
    assert (first.required, first.complete, first.verified) == (16, 7, 2)

    # Overnight B sends two more items and A's I.03 is accepted.
    scope = await scope_of(db, b)
    for item in ("I.02", "I.03"):
        await file_one(db, scope, *liaisons[b], item, blob, f"{item}.pdf")
    async with db.write() as session:
        await _review(session, campaign_id, a, "I.03", ReviewState.ACCEPTED)

    today = yesterday + timedelta(days=1)  # past the deadline now
    async with db.read() as session:
        r = await recap.campaign_recap(session, settings, campaign_id, today, top=2)
    assert (r.opds, r.required, r.complete, r.verified) == (4, 16, 9, 3)
    assert (r.complete_percent, r.verified_percent, r.complete_opds, r.verified_opds) == (56, 19, 1, 0)
    # Furthest behind first: D (nothing), C (2 of 4), then B (3 of 4) counted among "the others"; A is complete.
    assert [(line.opd_code, line.missing) for line in r.behind] == [(d, 4), (c, 2)]
    assert r.behind[0].last_upload is None and r.behind[1].last_upload == NOW
    assert r.behind_more == 1
    assert r.changes is not None and r.changes.since == yesterday
    assert (r.changes.complete, r.changes.verified, r.changes.progressed, r.changes.completed) == (2, 1, 1, 0)
    assert r.awaiting_review == 6  # A's I.04, B's three, C's two
    assert r.overdue == tuple(sorted([b, c, d]))
    assert r.unreachable == tuple(sorted([c, d]))
    assert r.findings == 0
    assert [s.step for s in r.steps] == [0, 1, 2, 3] and not r.steps[3].ended
    assert [row.opd_code for row in r.chart] == [d, c, b, a]

    text = Envelope.of("rekap", "rekap/rekap", r=r.for_message()).render(Renderer(WIB)).text
    expected_lines = ("Kelengkapan: <b>56%</b>", "Terverifikasi: <b>19%</b>", "+2 item terkirim", "+1 item terveri")
    for expected in expected_lines:
        assert expected in text
    assert text.index(f"<code>{d}</code>") < text.index(f"<code>{c}</code>")
    assert "dan 1 OPD lainnya" in text and "Menunggu tinjauan: 6 versi" in text
    assert "Lewat tenggat: 3 OPD" in text and "dapat dihubungi: 2 OPD" in text


@pytest.fixture
def statements(db: Database) -> Iterator[StatementLog]:
    log = StatementLog(db)
    event.listen(db.engine.sync_engine, "before_cursor_execute", log)
    try:
        yield log
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", log)


async def test_the_recap_reads_a_fixed_number_of_statements_whatever_the_opds(
    db: Database, tmp_path: Path, statements: StatementLog
) -> None:
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    store = FileStore(tmp_path / "files")
    staff = await make_staff(db)
    small = await small_world(db, store, staff)
    large = await large_world(db, store, staff)
    counts = []
    for world in (small, large):
        async with db.read() as session:
            with statements.counting() as seen:
                r = await recap.campaign_recap(session, settings, world.scope.campaign_id, NOW)
            counts.append(len(seen))
        assert r.opds == (3 if world is small else 30)
    assert counts[0] == counts[1], counts


async def test_forwarding_a_closed_campaign_marks_it_recapped(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=2)
    campaign_id = await open_campaign(db, store, staff, codes, items=2)
    async with db.write() as session:
        await campaigns.close_collection(session, campaign_id, acting=staff.kabid, now=NOW)
        tim = await identity.ensure_local_person(session, "console", "tim", NOW)
        session.add(RoleAssignment(person_id=tim, role="tim", granted_at=NOW))
        await session.flush()
        forwarded = await recap.forward_to_tim(session, campaign_id, acting=staff.kasi, now=NOW)
    assert forwarded.recapped and forwarded.tim == (tim,)
    async with db.read() as session:
        assert (await campaigns.campaign_detail(session, campaign_id)).state == CampaignState.RECAPPED


def test_the_chart_is_a_tall_png_with_a_bar_per_opd() -> None:
    rows = tuple(recap.ChartRow(f"OPD{n:02d}", n * 3 % 101, n * 2 % 101) for n in range(40))
    png = recap_chart.render_chart("Evaluasi SPBE 2026", rows)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert height > width >= 600
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 10  # bars, text and the background: not a blank canvas


async def test_the_recap_is_only_for_campaigns_that_collect(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=1)
    async with db.read() as session:
        assert not await recap.recap_campaigns(session)
    store = FileStore(tmp_path / "files")
    campaign_id = await open_campaign(db, store, staff, codes, items=1)
    async with db.read() as session:
        assert [c.campaign_id for c in await recap.recap_campaigns(session)] == [campaign_id]
        r = await recap.campaign_recap(session, settings, campaign_id, NOW)
    assert r.unreachable == tuple(codes)


def test_the_whatsapp_recap_template_names_parameters_the_recap_carries() -> None:
    example = Path(bot.data.__file__).parent / "whatsapp-templates.example.toml"
    params = tomllib.loads(example.read_text(encoding="utf-8"))["rekap"]["params"]
    made = recap.CampaignRecap(
        7, "Evaluasi SPBE\n2026", CampaignState.OPEN, NOW, NOW, 40, 400, 300, 120, 25, 5, (), 15, None,
        3, (), (), 0, (), 480,
    )  # fmt: skip
    values = Envelope.of("rekap", "rekap/rekap", r=made.for_message()).template_parameters()
    assert [values[p] for p in params if p != "penerima"] == ["Evaluasi SPBE 2026", "75", "30", "25", "40"]
