"""The campaign overview: each OPD's figures as `/status` counts them, and the OPDs furthest behind first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import overview, submissions
from bot.services.overview import OpdStanding, behind_first
from storage.database import Database
from storage.filestore import FileStore
from storage.models import CampaignItem, ReviewState, SubmissionVersion
from tests.test_statement_counts import (
    NOW,
    blobs_for,
    dispatcher_for,
    file_one,
    import_opds,
    liaisons_direct,
    make_staff,
    open_campaign,
    press_request,
    scope_of,
)

T = datetime(2026, 9, 1, tzinfo=UTC)


def standing(code: str, complete: int, verified: int, last: datetime | None, required: int = 4) -> OpdStanding:
    return OpdStanding(code, f"Dinas {code}", code, required, complete, verified, last)


def test_furthest_behind_first_by_kelengkapan_then_terverifikasi_then_last_upload() -> None:
    ordered = behind_first(
        [
            standing("A", 4, 4, T),
            standing("B", 2, 1, T),
            standing("C", 2, 0, T),
            standing("D", 1, 0, T + timedelta(days=1)),
            standing("E", 1, 0, T),
            standing("F", 1, 0, None),  # never uploaded: behind one that did, at the same figures
            standing("G", 0, 0, None, required=0),  # nothing required: 100%, level with A, but no upload
            standing("H", 1, 1, None, required=2),  # the same 50% as B and C, but more of it verified
        ]
    )
    assert [s.opd_code for s in ordered] == ["F", "E", "D", "C", "B", "H", "G", "A"]
    assert standing("G", 0, 0, None, required=0).percent(0) == 100


async def test_the_overview_counts_each_opd_as_its_checklist_does(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=4)
    campaign_id = await open_campaign(db, store, staff, codes, items=5)  # I.05 is not required
    liaisons = await liaisons_direct(db, codes, 810_000)
    blobs = blobs_for(store, 2)
    a, b, c, d = codes
    sent = {a: ["I.01", "I.02", "I.03", "I.05"], b: [], c: ["I.01", "I.02", "I.03", "I.04"], d: ["I.05"]}
    for code, item_codes in sent.items():
        scope = await scope_of(db, code)
        person_id, chat = liaisons[code]
        for item in item_codes:
            await file_one(db, scope, person_id, chat, item, blobs[0], f"{item}.pdf")
    # A's I.01 is accepted, its I.02 returned for revision; C's I.04 was returned and then sent again (v2)
    # (an accepted item takes no new version until it is reopened).
    async with db.write() as session:
        await _review(session, campaign_id, a, "I.01", ReviewState.ACCEPTED)
        await _review(session, campaign_id, a, "I.02", ReviewState.REVISION_REQUESTED)
        await _review(session, campaign_id, c, "I.04", ReviewState.REVISION_REQUESTED)
    scope = await scope_of(db, c)
    await file_one(db, scope, *liaisons[c], "I.04", blobs[1], "I.04-v2.pdf")

    async with db.read() as session:
        view = await overview.campaign_overview(session, campaign_id)
        checklists = {code: await submissions.progress(session, await scope_of(db, code)) for code in codes}
    assert view.campaign_id == campaign_id and len(view.standings) == 4
    for s in view.standings:
        p = checklists[s.opd_code]
        assert (s.required, s.complete, s.verified) == (p.required, p.complete, p.verified), s.opd_code
    figures = {s.opd_code: (s.complete, s.verified, s.last_upload is not None) for s in view.standings}
    assert figures == {a: (2, 1, True), b: (0, 0, False), c: (4, 0, True), d: (0, 0, True)}
    # B and D have nothing required in; B never uploaded at all (D sent an optional item), so B is first.
    assert [s.opd_code for s in view.standings] == [b, d, a, c]
    assert all(s.last_upload is None or s.last_upload == NOW for s in view.standings)


async def _review(session: AsyncSession, campaign_id: int, opd_code: str, item: str, state: ReviewState) -> None:
    """Set the review state of the OPD's latest version of an item (the review flow is another issue's)."""
    scope = await submissions.scope_for(session, opd_code)
    assert scope is not None
    item_id = await session.scalar(
        select(CampaignItem.id).where(CampaignItem.campaign_id == campaign_id, CampaignItem.code == item)
    )
    await session.execute(
        update(SubmissionVersion)
        .where(SubmissionVersion.campaign_item_id == item_id, SubmissionVersion.opd_id == scope.opd_id)
        .values(review_state=state.value)
    )


async def test_status_without_an_opd_asks_which_campaign_when_two_collect(db: Database, tmp_path: Path) -> None:
    dispatcher = dispatcher_for(db, tmp_path)
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=3)
    (none_yet,) = await dispatcher.run(press_request("kasi", "", 1, command="status"), NOW)
    assert "Belum ada kegiatan Monev" in none_yet.text and not none_yet.buttons
    store = FileStore(tmp_path / "files")
    first = await open_campaign(db, store, staff, codes[:2], items=2)
    second = await open_campaign(db, store, staff, codes, items=3)
    (asked,) = await dispatcher.run(press_request("kasi", "", 2, command="status"), NOW)
    assert "beberapa kegiatan Monev" in asked.text
    assert [b.payload for (b,) in asked.buttons] == [f"sts:{second}:p:0", f"sts:{first}:p:0"]
    (chosen,) = await dispatcher.run(press_request("kasi", f"sts:{first}:p:0", 3), NOW)
    assert "2 OPD" in chosen.text and [b.payload for (b,) in chosen.buttons] == [
        f"sts:{first}:o:{c}" for c in codes[:2]
    ]
