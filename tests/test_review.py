"""Review and deadlines through the services, on both databases: the queue and its claim, decisions as
compare-and-set, reopening, the lock on accepted items, effective deadlines and extensions, statement counts."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from bot.domain.deadlines import effective_deadline as effective_rule
from bot.domain.enums import ReviewDecision, ReviewReason, ReviewState, Role
from bot.errors import DomainError
from bot.services import deadlines, review, submissions
from bot.services.audit import Acting
from bot.services.campaign_view import campaign_view
from storage.database import Database
from storage.filestore import FileStore
from storage.models import AuditEntry, OutboxMessage, RoleAssignment, SubmissionReview, SubmissionVersion
from tests.conftest import make_settings
from tests.test_statement_counts import (
    NOW,
    WIB,
    Staff,
    StatementLog,
    import_opds,
    liaison_by_invite,
    make_staff,
    open_campaign,
    scope_of,
)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


async def world(db: Database, store: FileStore, opds: int = 2) -> tuple[Staff, list[str], int, dict[str, int], Acting]:
    """OPDs with a liaison each (registered by invite codes), an open campaign of 3 items; the Kasi acting."""
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=False, count=opds)
    campaign_id = await open_campaign(db, store, staff, codes, items=3)
    liaisons = {code: await liaison_by_invite(db, staff, code, 900_000 + n) for n, code in enumerate(codes)}
    return staff, codes, campaign_id, liaisons, Acting(staff.kasi.person_id, Role.KASI.value, "console")


async def upload(
    db: Database, store: FileStore, code: str, liaison: int, item: str, n: int, at: datetime = NOW
) -> submissions.Receipt:
    """One document from the liaison, filed at `at` through the real intake services."""
    scope = await scope_of(db, code)
    blob = store.store_bytes(b"%PDF-1.7\n% " + f"{code} {item} {n}".encode() + b"\n%%EOF\n")
    async with db.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id=str(liaison), person_id=liaison, kind="single", now=at
        )
        await submissions.add_file(session, batch, blob, f"bukti-{n}.pdf", "document", inbound_event_id=None, now=at)
        return await submissions.file_batch(
            session, batch, item, acting=Acting(liaison, Role.OPD.value, "telegram"), now=at
        )


def test_the_effective_deadline_is_the_furthest_extension() -> None:
    base = datetime(2026, 9, 30, 23, 59, tzinfo=WIB)
    assert effective_rule(base) == base
    assert effective_rule(base, [None]) == base
    later, latest = base + timedelta(days=3), base + timedelta(days=7)
    assert effective_rule(base, [latest, later]) == latest
    assert effective_rule(base, [base - timedelta(days=1)]) == base


async def test_two_reviewers_get_different_versions_and_decisions_are_compare_and_set(
    db: Database, store: FileStore
) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    await upload(db, store, codes[0], liaisons[codes[0]], "I.01", 1)
    await upload(db, store, codes[1], liaisons[codes[1]], "I.01", 2, NOW + timedelta(minutes=1))
    third = Acting(liaisons[codes[1]], Role.ADMIN.value)  # a third reviewer finds nothing left
    async with db.write() as session:
        session.add(RoleAssignment(person_id=staff.cli.person_id, role=Role.ADMIN.value, granted_at=NOW))
    admin = Acting(staff.cli.person_id, Role.ADMIN.value, "console")
    async with db.write() as session:
        first = await review.next_for_review(session, campaign_id, acting=kasi, now=NOW + timedelta(hours=1))
        second = await review.next_for_review(session, campaign_id, acting=admin, now=NOW + timedelta(hours=1))
        none_left = await review.next_for_review(session, campaign_id, acting=third, now=NOW + timedelta(hours=1))
    assert first is not None and second is not None and none_left is None
    assert (first.opd_code, second.opd_code) == (codes[0], codes[1])  # oldest first, and never the same
    assert [f.name for f in first.files] == ["bukti-1.pdf"] and first.item_description

    later = NOW + timedelta(hours=1, minutes=1)
    async with db.write() as session:  # the admin cannot decide what the Kasi holds
        with pytest.raises(DomainError) as held:
            await review.decide(
                session,
                campaign_id,
                first.version_id,
                ReviewDecision.ACCEPTED,
                note=None,
                reason=None,
                acting=admin,
                now=later,
            )
    assert held.value.template == "tinjau/sedang_ditinjau"
    async with db.write() as session:
        decided = await review.decide(
            session,
            campaign_id,
            first.version_id,
            ReviewDecision.REVISION_REQUESTED,
            note="Lampirkan SK yang ditandatangani",
            reason=ReviewReason.TIDAK_LENGKAP,
            acting=kasi,
            now=later,
        )
    assert decided.told == (liaisons[codes[0]],)
    async with db.write() as session:
        with pytest.raises(DomainError) as again:
            await review.decide(
                session,
                campaign_id,
                first.version_id,
                ReviewDecision.ACCEPTED,
                note=None,
                reason=None,
                acting=kasi,
                now=later,
            )
    assert again.value.template == "tinjau/sudah_ditinjau"
    async with db.read() as session:
        version = await session.get_one(SubmissionVersion, first.version_id)
        assert (version.review_state, version.review_note) == (ReviewState.REVISION_REQUESTED.value, decided.note)
        rows = (await session.scalars(select(SubmissionReview).where(SubmissionReview.version_id == version.id))).all()
        assert [(r.decision, r.reason) for r in rows] == [("revision_requested", "tidak_lengkap")]
        told = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hasil_tinjauan"))).all()
        assert [m.person_id for m in told] == [liaisons[codes[0]]]
        assert await session.scalar(select(func.count()).where(AuditEntry.action == "review_revision_requested")) == 1
    state = await _progress(db, codes[0])
    assert state["I.01"] == "perlu_revisi"


async def _progress(db: Database, code: str) -> dict[str, str]:
    async with db.read() as session:
        scope = await submissions.scope_for(session, code)
        assert scope is not None
        return {i.code: i.state for i in (await submissions.progress(session, scope)).items}


async def test_refusals_change_nothing(db: Database, store: FileStore) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    await upload(db, store, codes[0], liaisons[codes[0]], "I.01", 1)
    async with db.write() as session:
        item = await review.next_for_review(session, campaign_id, acting=kasi, now=NOW)
    assert item is not None
    cases = [
        (Acting(liaisons[codes[0]], Role.OPD.value), campaign_id, "tinjau/tidak_berwenang"),
        (staff.kabid, campaign_id, "tinjau/tidak_berwenang"),
        (kasi, campaign_id + 99, "tinjau/kegiatan_lain"),
    ]
    for acting, campaign, template in cases:
        async with db.write() as session:
            with pytest.raises(DomainError) as refused:
                await review.decide(
                    session,
                    campaign,
                    item.version_id,
                    ReviewDecision.ACCEPTED,
                    note=None,
                    reason=None,
                    acting=acting,
                    now=NOW,
                )
        assert refused.value.template == template
    async with db.write() as session:
        with pytest.raises(DomainError) as no_note:
            await review.decide(
                session,
                campaign_id,
                item.version_id,
                ReviewDecision.REVISION_REQUESTED,
                note="  ",
                reason=None,
                acting=kasi,
                now=NOW,
            )
        with pytest.raises(DomainError) as not_accepted:
            await review.reopen(session, campaign_id, codes[0], "I.01", "salah unggah", acting=kasi, now=NOW)
    assert no_note.value.template == "tinjau/catatan_kosong"
    assert not_accepted.value.template == "tinjau/buka_belum_diterima"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(SubmissionReview)) == 0
        version = await session.get_one(SubmissionVersion, item.version_id)
        assert version.review_state == ReviewState.SUBMITTED.value


async def test_accepted_item_is_locked_until_reopened_and_keeps_its_history(db: Database, store: FileStore) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    code, liaison = codes[0], liaisons[codes[0]]
    await upload(db, store, code, liaison, "I.02", 1)
    async with db.write() as session:
        item = await review.next_for_review(session, campaign_id, acting=kasi, now=NOW)
        assert item is not None
        await review.decide(
            session,
            campaign_id,
            item.version_id,
            ReviewDecision.ACCEPTED,
            note=None,
            reason=None,
            acting=kasi,
            now=NOW,
        )
    with pytest.raises(DomainError) as locked:
        await upload(db, store, code, liaison, "I.02", 2)
    assert locked.value.template == "unggah/item_terkunci"
    async with db.write() as session:
        reopened = await review.reopen(session, campaign_id, code, "i.02", "OPD mengganti SK", acting=kasi, now=NOW)
    assert reopened.decision is ReviewDecision.REOPENED
    receipt = await upload(db, store, code, liaison, "I.02", 2)
    assert receipt.version == 2
    async with db.write() as session:
        again = await review.next_for_review(session, campaign_id, acting=kasi, now=NOW)
        assert again is not None and again.number == 2  # version 1 was replaced by version 2
        await review.decide(
            session,
            campaign_id,
            again.version_id,
            ReviewDecision.ACCEPTED,
            note=None,
            reason=None,
            acting=kasi,
            now=NOW,
        )
        assert [e.decision for e in await review.history(session, item.version_id)] == [
            ReviewDecision.ACCEPTED,
            ReviewDecision.REOPENED,
        ]
    assert (await _progress(db, code))["I.02"] == "diterima"


async def test_an_extension_moves_one_opds_deadline_and_lateness(db: Database, store: FileStore) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    base = await _deadline(db, campaign_id, None)
    after = base + timedelta(days=1)
    async with db.write() as session:
        for bad, template in ((NOW - timedelta(days=1), "tenggat/sudah_lewat"), (base, "tenggat/tidak_lebih_lama")):
            with pytest.raises(DomainError) as refused:
                await deadlines.extend(session, campaign_id, codes[0], bad, "surat", acting=kasi, now=NOW)
            assert refused.value.template == template
        with pytest.raises(DomainError) as no_role:
            await deadlines.extend(
                session, campaign_id, codes[0], after, "surat", acting=Acting(liaisons[codes[0]], "opd"), now=NOW
            )
        assert no_role.value.template == "tenggat/tidak_berwenang"
        extension = await deadlines.extend(
            session, campaign_id, codes[0].lower(), base + timedelta(days=3), "Surat Kepala OPD", acting=kasi, now=NOW
        )
    assert extension.liaisons == (liaisons[codes[0]],) and extension.previous == base
    async with db.read() as session:
        scope = await submissions.scope_for(session, codes[0])
        assert scope is not None and scope.deadline == base + timedelta(days=3)
    assert await _deadline(db, campaign_id, None) == base
    on_time = await upload(db, store, codes[0], liaisons[codes[0]], "I.01", 1, after)
    late = await upload(db, store, codes[1], liaisons[codes[1]], "I.01", 2, after)
    assert (on_time.late, late.late) == (False, True)
    async with db.write() as session:
        everyone = await deadlines.extend(
            session, campaign_id, None, base + timedelta(days=2), "Libur", acting=staff.kabid, now=NOW
        )
    assert set(everyone.liaisons) == set(liaisons.values())
    # the campaign-wide extension is shorter than the OPD's own: it keeps its extra day
    assert await _deadline(db, campaign_id, codes[0]) == base + timedelta(days=3)
    assert await _deadline(db, campaign_id, codes[1]) == base + timedelta(days=2)


async def _deadline(db: Database, campaign_id: int, code: str | None) -> datetime:
    async with db.read() as session:
        opd_id = None
        if code is not None:
            scope = await submissions.scope_for(session, code)
            assert scope is not None
            opd_id = scope.opd_id
        return await deadlines.effective_deadline(session, campaign_id, opd_id)


@pytest.mark.parametrize("waiting", [10, 10_000])
async def test_next_for_review_statement_count_does_not_grow(db: Database, store: FileStore, waiting: int) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store, opds=1)
    await upload(db, store, codes[0], liaisons[codes[0]], "I.01", 1)  # the blob rows exist through this upload
    async with db.write() as session:
        first = await session.get_one(SubmissionVersion, 1)
        rows = [
            {
                "campaign_id": campaign_id,
                "campaign_item_id": first.campaign_item_id,
                "opd_id": first.opd_id,
                "number": n,
                "uploaded_by_person_id": first.uploaded_by_person_id,
                "on_behalf": False,
                "created_at": NOW + timedelta(seconds=n),
                "late": False,
                "review_state": ReviewState.SUBMITTED.value,
                "superseded_by_number": None,
                "files_key": hashlib.sha256(str(n).encode()).hexdigest(),
            }
            for n in range(2, waiting + 1)
        ]
        await session.execute(insert(SubmissionVersion), rows)
    log = StatementLog(db)
    event.listen(db.engine.sync_engine, "before_cursor_execute", log)
    try:
        async with db.write() as session:
            # the Kasi holds the oldest; the admin's query must skip it and claim the next one
            await review.next_for_review(session, campaign_id, acting=kasi, now=NOW)
        async with db.write() as session:
            with log.counting() as seen:
                got = await review.next_for_review(
                    session, campaign_id, acting=Acting(staff.cli.person_id, Role.ADMIN.value), now=NOW
                )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", log)
    assert got is not None and got.number == 2
    # find, claim, the version with its item and OPD, its files, its deadline (SQLite's BEGIN aside)
    assert len([s for s in seen if not s.startswith("BEGIN")]) == 5, seen


async def test_the_digest_comes_once_a_period_and_counts_only_what_is_new(db: Database, store: FileStore) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    every = timedelta(minutes=30)
    async with db.write() as session:
        assert await review.due_digest(session, NOW, every) is None  # nothing waits
    await upload(db, store, codes[0], liaisons[codes[0]], "I.01", 1, NOW + timedelta(minutes=1))
    await upload(db, store, codes[1], liaisons[codes[1]], "I.01", 2, NOW + timedelta(minutes=2))
    async with db.write() as session:
        assert await review.due_digest(session, NOW + timedelta(minutes=10), every) is None  # within the period
    async with db.write() as session:
        digest = await review.due_digest(session, NOW + timedelta(minutes=31), every)
    assert digest is not None and [(line.new, line.waiting) for line in digest.lines] == [(2, 2)]
    assert digest.reviewers == (staff.kasi.person_id,)
    await upload(db, store, codes[0], liaisons[codes[0]], "I.02", 3, NOW + timedelta(minutes=40))
    async with db.write() as session:
        later = await review.due_digest(session, NOW + timedelta(minutes=62), every)
    assert later is not None and [(line.new, line.waiting) for line in later.lines] == [(1, 3)]


async def test_the_campaign_view_names_the_opds_past_their_own_deadline_with_items_missing(
    db: Database, store: FileStore, tmp_path: Path
) -> None:
    staff, codes, campaign_id, liaisons, kasi = await world(db, store)
    base = await _deadline(db, campaign_id, None)
    async with db.write() as session:
        await deadlines.extend(session, campaign_id, codes[0], base + timedelta(days=3), "Surat", acting=kasi, now=NOW)
    settings = make_settings(tmp_path)
    async with db.read() as session:
        before = await campaign_view(session, settings, campaign_id, base - timedelta(hours=1))
        after = await campaign_view(session, settings, campaign_id, base + timedelta(hours=1))
    assert before.late == ()
    assert after.late == (codes[1],)  # the first OPD's own extension still runs
