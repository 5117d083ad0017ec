"""Intake services on SQLite and PostgreSQL: versions, duplicates, superseding, lateness, completeness, names."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import DomainError
from bot.services import campaigns, identity, items, journal, registry, submissions
from bot.services.audit import Acting
from bot.services.uploads import clean_file_name
from storage.database import Database
from storage.filestore import FileStore
from storage.models import Campaign

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 9, 1, 9, 0, tzinfo=WIB)


async def open_campaign(db: Database) -> tuple[submissions.Scope, Acting]:
    async with db.write() as session:
        cli = Acting(await identity.ensure_local_person(session, "cli", "root", NOW), "cli", "cli")
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=NOW)
        liaison = await identity.ensure_local_person(session, "telegram", "501", NOW)
        campaign_id = await campaigns.create_campaign(
            session, title="Monev 2026", framework="permenpanrb-8-2026-pemdi",
            items=items.framework_items("permenpanrb-8-2026-pemdi"), deadline=NOW + timedelta(days=7),
            opd_codes=None, acting=cli, now=NOW,
        )  # fmt: skip
        # the disposition path is tested elsewhere; here the campaign simply opens
        (await session.get_one(Campaign, campaign_id)).state = "open"
        scope = await submissions.scope_for(session, "DINKES")
    assert scope is not None
    return scope, Acting(liaison, "opd", "telegram")


async def upload(db: Database, scope: submissions.Scope, acting: Acting, files: list[bytes], item: str,
                 tmp_path: Path, now: datetime = NOW) -> submissions.Receipt:  # fmt: skip
    store = FileStore(tmp_path)
    async with db.write() as session:
        batch = await submissions.open_batch(session, scope=scope, channel="telegram", chat_id="501",
                                             person_id=acting.person_id or 0, kind="single", now=now)  # fmt: skip
        for n, data in enumerate(files):
            await submissions.add_file(session, batch, store.store_bytes(data), f"f{n}.pdf", "document",
                                       inbound_event_id=None, now=now)  # fmt: skip
        return await submissions.file_batch(session, batch, item, acting=acting, now=now)


async def test_versions_duplicates_superseding_and_completeness(db: Database, tmp_path: Path) -> None:
    scope, liaison = await open_campaign(db)
    first = await upload(db, scope, liaison, [b"a", b"b"], "I.13", tmp_path)
    same_set = await upload(db, scope, liaison, [b"b", b"a"], "i.13", tmp_path)
    second = await upload(db, scope, liaison, [b"c"], "I.13", tmp_path)
    assert (first.version, first.duplicate) == (1, False)
    assert (same_set.version, same_set.duplicate) == (1, True)
    assert (second.version, second.duplicate) == (2, False)
    late = await upload(db, scope, liaison, [b"d"], "I.15", tmp_path, now=NOW + timedelta(days=8))
    assert late.late and not first.late
    async with db.read() as session:
        state = await submissions.progress(session, scope)
        versions = await submissions.history(session, scope)
    assert (state.required, state.complete, state.verified) == (7, 2, 0)
    assert state.percent(state.complete) == 29 and state.missing == 5
    v1 = next(v for v in versions if v.item_code == "I.13" and v.number == 1)
    assert v1.superseded_by == 2 and [f.name for f in v1.files] == ["f0.pdf", "f1.pdf"]


async def test_a_part_after_its_album_was_filed_starts_a_new_batch(db: Database, tmp_path: Path) -> None:
    scope, liaison = await open_campaign(db)
    store = FileStore(tmp_path)
    album = {"scope": scope, "channel": "telegram", "chat_id": "501", "person_id": liaison.person_id or 0,
             "kind": "album", "media_group_id": "13579"}  # fmt: skip
    async with db.write() as session:
        first = await submissions.open_batch(session, now=NOW, **album)  # type: ignore[arg-type]
        await submissions.add_file(session, first, store.store_bytes(b"p1"), "p1.pdf", "document",
                                   inbound_event_id=None, now=NOW, item_code="I.16")  # fmt: skip
        receipt = await submissions.file_batch(session, first, "I.16", acting=liaison, now=NOW)
    assert receipt.version == 1 and [f.name for f in receipt.files] == ["p1.pdf"]
    later = NOW + timedelta(seconds=5)
    async with db.write() as session:
        with pytest.raises(submissions.BatchClosed):  # the filed batch takes no file: it would be in no version
            await submissions.add_file(session, first, store.store_bytes(b"p2"), "p2.pdf", "document",
                                       inbound_event_id=None, now=later)  # fmt: skip
        second = await submissions.open_batch(session, now=later, **album)  # type: ignore[arg-type]
        assert second != first
        assert await submissions.add_file(session, second, store.store_bytes(b"p2"), "p2.pdf", "document",
                                          inbound_event_id=None, now=later) == 1  # fmt: skip
        assert await submissions.open_batch(session, now=later, **album) == second  # type: ignore[arg-type]
    async with db.read() as session:
        batch = await submissions.load_batch(session, first)
    assert batch is not None and batch.status == "filed"


async def test_an_album_is_not_due_while_its_chat_has_unprocessed_updates(db: Database, tmp_path: Path) -> None:
    scope, liaison = await open_campaign(db)
    async with db.write() as session:
        batch = await submissions.open_batch(session, scope=scope, channel="telegram", chat_id="501",
                                             person_id=liaison.person_id or 0, kind="album", now=NOW,
                                             media_group_id="24680")  # fmt: skip
        await submissions.add_file(session, batch, FileStore(tmp_path).store_bytes(b"p1"), "p1.pdf", "document",
                                   inbound_event_id=None, now=NOW + timedelta(seconds=9), part_at=NOW)  # fmt: skip
        row = await journal.record_inbound(session, "telegram", "u:77", "501", {"update_id": 77}, NOW)
    later = NOW + timedelta(seconds=3)
    quiet = {"album_quiet": 2.0, "kirim_quiet": 600.0}
    async with db.read() as session:
        # quiet for 3 s counted from the part's arrival, but the chat's next update is not processed yet
        assert await submissions.due_batches(session, later, **quiet) == []
    async with db.write() as session:
        assert row is not None and await journal.mark_done(session, row, [], later)
    async with db.read() as session:
        assert await submissions.due_batches(session, later, **quiet) == [batch]
        assert await submissions.due_batches(session, later, batch_id=batch, **quiet) == [batch]


async def test_items_of_other_opds_are_refused(db: Database, tmp_path: Path) -> None:
    scope, liaison = await open_campaign(db)
    with pytest.raises(DomainError) as refused:
        await upload(db, scope, liaison, [b"x"], "I.02", tmp_path)  # I.02 is not asked of DINKES
    assert refused.value.template == "unggah/item_bukan_milik_opd" and refused.value.audit_action


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("laporan\x00\x1b.pdf", "laporan__.pdf"),
        ("📄 Laporan SPBE.pdf", "📄 Laporan SPBE.pdf"),
        ("", "cadangan"),
        (None, "cadangan"),
    ],
)
def test_untrusted_file_names_are_made_safe(name: str | None, expected: str) -> None:
    assert clean_file_name(name, fallback="cadangan") == expected


def test_very_long_names_keep_their_extension() -> None:
    cleaned = clean_file_name("a" * 300 + ".docx", fallback="x")
    assert len(cleaned) <= 200 and cleaned.endswith(".docx")


async def test_two_open_campaigns_are_both_offered_and_a_named_one_stays_viewable(db: Database, tmp_path: Path) -> None:
    first, liaison = await open_campaign(db)
    async with db.write() as session:
        cli = Acting(await identity.ensure_local_person(session, "cli", "root", NOW), "cli", "cli")
        spec = items.ItemSpec("B.01", "Rencana aksi", "", True, None, ("DINKES",), (), None, None, 1)
        second_id = await campaigns.create_campaign(
            session, title="Triwulan IV", framework=None, items=[spec], deadline=NOW + timedelta(days=7),
            opd_codes=["DINKES"], acting=cli, now=NOW,
        )  # fmt: skip
        unasked = await campaigns.create_campaign(
            session, title="Tanpa DINKES", framework=None,
            items=[items.ItemSpec("C.01", "Lain", "", True, None, ("DINKES", "DISKOMINFO"), (), None, None, 1)],
            deadline=NOW + timedelta(days=7), opd_codes=["DINKES", "DISKOMINFO"], acting=cli, now=NOW,
        )  # fmt: skip
        # an edit left DINKES in the campaign with nothing to answer (submitting it is refused; older data may hold it)
        await campaigns.assign_item(session, unasked, "C.01", ["DISKOMINFO"], acting=cli, now=NOW)
        for campaign_id in (second_id, unasked):
            (await session.get_one(Campaign, campaign_id)).state = "open"
    async with db.read() as session:
        offered = await submissions.open_scopes(session, "dinkes")
        # a campaign that asks DINKES for nothing is not offered
        assert [s.campaign_id for s in offered] == [second_id, first.campaign_id]
        assert await submissions.scope_in(session, "DINKES", 999) is None
        assert await submissions.scope_in(session, "DISDIKBUD", second_id) is None  # not one of its OPDs
    receipt = await upload(db, offered[1], liaison, [b"old"], "I.13", tmp_path)
    assert receipt.scope.campaign_id == first.campaign_id
    async with db.write() as session:
        (await session.get_one(Campaign, first.campaign_id)).state = "finalized"
    async with db.read() as session:
        assert [s.campaign_id for s in await submissions.open_scopes(session, "DINKES")] == [second_id]
        assert await submissions.scope_in(session, "DINKES", first.campaign_id) is None  # no longer collects
        kept = await submissions.scope_in(session, "DINKES", first.campaign_id, viewing=True)
        assert kept is not None and [v.item_code for v in await submissions.history(session, kept)] == ["I.13"]
