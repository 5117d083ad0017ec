"""Two instances acting on one row at once (PostgreSQL): every state change is a compare-and-set.

SQLite has one writer, so these races cannot happen there; on PostgreSQL (the two-instance setup) two sessions
can both read a state before either writes it. Each test runs two real sessions on two engines and holds
each one at its first write until both have read (`hold_first_writes`), which is exactly the interleaving
that made two people register with one forwarded code. The winner's write commits; the loser must get the
normal refusal ("sudah diproses", "kode sudah dipakai"), never a second registration, decision or version,
and never an internal error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only

from bot.errors import DomainError
from bot.services import campaigns, invites, submissions
from bot.services.audit import Acting
from storage import migrate
from storage.database import Database
from storage.filestore import FileStore
from storage.models import (
    BatchFile,
    Campaign,
    CampaignEvent,
    CampaignState,
    Invite,
    Role,
    RoleAssignment,
    SubmissionFile,
    SubmissionVersion,
    UploadBatch,
)
from tests.conftest import truncate_all
from tests.test_campaigns import FRIDAY_3PM, PDF, create, person, seeded
from tests.test_people_services import mint
from tests.test_people_services import setup as people_setup
from tests.test_submissions import NOW
from tests.test_submissions import open_campaign as open_intake

Action = Callable[[AsyncSession], Awaitable[Any]]
DML = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Instances:
    """The shared database seen by a set-up engine and by two instances, each with an engine of its own."""

    setup: Database
    first: Database
    second: Database


@pytest.fixture
async def instances(postgres_url: str) -> AsyncIterator[Instances]:
    setup = Database(postgres_url)
    await migrate.upgrade(setup)
    await truncate_all(setup)
    pair = Instances(setup, Database(postgres_url), Database(postgres_url))
    try:
        yield pair
    finally:
        for database in (pair.setup, pair.first, pair.second):
            await database.dispose()


@contextmanager
def hold_first_writes(*databases: Database) -> Iterator[None]:
    """Each engine's first INSERT/UPDATE/DELETE waits until every engine has reached its own: both have read."""
    barrier = asyncio.Barrier(len(databases))
    hooks = [(database, _hold_first_write(barrier)) for database in databases]
    for database, hook in hooks:
        event.listen(database.engine.sync_engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        for database, hook in hooks:
            event.remove(database.engine.sync_engine, "before_cursor_execute", hook)


def _hold_first_write(barrier: asyncio.Barrier) -> Callable[..., None]:
    held = False

    def hold(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal held
        if not held and statement.lstrip().upper().startswith(DML):
            held = True
            # The async engine runs this hook inside its greenlet, so it may wait for the asyncio barrier.
            await_only(asyncio.wait_for(barrier.wait(), timeout=10))

    return hold


async def race(instances: Instances, first: Action, second: Action) -> list[Any]:
    """Run both actions at once, each in its own write transaction; a refusal is returned, not raised."""

    async def attempt(database: Database, action: Action) -> Any:
        try:
            async with database.write() as session:
                return await action(session)
        except DomainError as refusal:
            return refusal

    with hold_first_writes(instances.first, instances.second):
        return list(await asyncio.gather(attempt(instances.first, first), attempt(instances.second, second)))


def one_refused(results: list[Any], template: str = "umum/sudah_diproses") -> Any:
    """Exactly one result is a refusal with `template`; returns the other (the winner's)."""
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1, results
    assert refused[0].template == template
    (won,) = [r for r in results if not isinstance(r, DomainError)]
    return won


async def test_two_people_redeeming_one_forwarded_code_register_once(instances: Instances) -> None:
    code = await mint(instances.setup, await people_setup(instances.setup), Role.OPD, "DINKES")

    def redeem(chat: str) -> Action:
        return lambda session: invites.redeem(
            session,
            code_text=code,
            channel="telegram",
            external_id=chat,
            display_name=f"Pengguna {chat}",
            username=None,
            acting=Acting(None, None, "telegram", "1"),
            now=NOW,
        )

    results = await race(instances, redeem("701"), redeem("702"))
    statuses = sorted(r.status for r in results)
    assert statuses == [invites.RedeemStatus.REGISTERED, invites.RedeemStatus.USED], results
    (winner,) = [r for r in results if r.ok]
    async with instances.setup.read() as session:
        liaisons = (await session.scalars(select(RoleAssignment.person_id).where(RoleAssignment.role == "opd"))).all()
        invite = (await session.scalars(select(Invite))).one()
    assert liaisons == [winner.person_id] and invite.used_by_person_id == winner.person_id


@dataclass(frozen=True)
class Transition:
    """A campaign in `start`, and two people (or one, twice) moving it on at once."""

    event: str
    start: CampaignState


TRANSITIONS = {
    "submit": Transition("submitted", CampaignState.DRAFT),
    "decide": Transition("approved|returned", CampaignState.AWAITING_DISPOSITION),
    "sign": Transition("signed", CampaignState.APPROVED),
    "open": Transition("open", CampaignState.SIGNED),
    "close": Transition("closed", CampaignState.OPEN),
}


@pytest.mark.parametrize("name", list(TRANSITIONS))
async def test_a_campaign_transition_happens_once(instances: Instances, tmp_path: Path, name: str) -> None:
    db, now = instances.setup, FRIDAY_3PM
    await seeded(db)
    kasis = [await person(db, f"kasi-{n}", Role.KASI) for n in (1, 2)]
    kabids = [await person(db, f"kabid-{n}", Role.KABID) for n in (1, 2)]
    secretaries = [await person(db, f"sekretariat-{n}", Role.SEKRETARIAT) for n in (1, 2)]
    campaign_id = await create(db, kasis[0])
    store = FileStore(tmp_path)
    letters = [store.store_bytes(PDF + f"% surat {n}".encode()) for n in (1, 2)]
    steps: list[Action] = [
        lambda s: campaigns.submit_to_kabid(s, campaign_id, acting=kasis[0], now=now),
        lambda s: campaigns.decide(s, campaign_id, approve=True, note=None, acting=kabids[0], now=now),
        lambda s: campaigns.record_signed_letter(s, campaign_id, letters[0], "s.pdf", acting=secretaries[0], now=now),
        lambda s: campaigns.open_campaign(s, campaign_id, acting=secretaries[0], now=now),
    ]
    transition = TRANSITIONS[name]
    for step in steps[: list(TRANSITIONS).index(name)]:
        async with db.write() as session:
            await step(session)
    async with db.read() as session:
        assert (await session.get_one(Campaign, campaign_id)).state == transition.start.value
    later = now + timedelta(minutes=5)
    pairs: dict[str, tuple[Action, Action]] = {
        "submit": (
            lambda s: campaigns.submit_to_kabid(s, campaign_id, acting=kasis[0], now=later),
            lambda s: campaigns.submit_to_kabid(s, campaign_id, acting=kasis[1], now=later),
        ),
        "decide": (
            lambda s: campaigns.decide(s, campaign_id, approve=True, note=None, acting=kabids[0], now=later),
            lambda s: campaigns.decide(s, campaign_id, approve=False, note="Ulang", acting=kabids[1], now=later),
        ),
        "sign": (
            lambda s: campaigns.record_signed_letter(
                s, campaign_id, letters[0], "a.pdf", acting=secretaries[0], now=later
            ),
            lambda s: campaigns.record_signed_letter(
                s, campaign_id, letters[1], "b.pdf", acting=secretaries[1], now=later
            ),
        ),
        "open": (  # the uploader's "Kirim undangan" handled by both instances (a double tap)
            lambda s: campaigns.open_campaign(s, campaign_id, acting=secretaries[0], now=later),
            lambda s: campaigns.open_campaign(s, campaign_id, acting=secretaries[0], now=later),
        ),
        "close": (
            lambda s: campaigns.close_collection(s, campaign_id, acting=kabids[0], now=later),
            lambda s: campaigns.close_collection(s, campaign_id, acting=kabids[1], now=later),
        ),
    }
    one_refused(await race(instances, *pairs[name]))
    async with db.read() as session:
        campaign = await session.get_one(Campaign, campaign_id)
        kinds = (
            await session.scalars(
                select(CampaignEvent.kind).where(CampaignEvent.at == later, CampaignEvent.campaign_id == campaign_id)
            )
        ).all()
    assert len(kinds) == 1 and kinds[0] in transition.event.split("|"), kinds
    expected = {"approved": "approved", "returned": "draft", "submitted": "awaiting_disposition"}
    assert campaign.state == expected.get(kinds[0], kinds[0])
    if name == "sign":  # the letter, its uploader and the state are one winner's
        winner = 0 if campaign.signed_letter_name == "a.pdf" else 1
        assert campaign.signed_letter_sha256 == letters[winner].sha256
        assert campaign.signed_by_person_id == secretaries[winner].person_id


async def _batch(db: Database, tmp_path: Path, scope: submissions.Scope, acting: Acting, data: bytes) -> int:
    async with db.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id="501", person_id=acting.person_id or 0,
            kind="single", now=NOW,
        )  # fmt: skip
        await submissions.add_file(
            session, batch, FileStore(tmp_path).store_bytes(data), "a.pdf", "document", inbound_event_id=None, now=NOW
        )
        await submissions.await_item(session, batch)
    return batch


async def _versions(db: Database) -> list[tuple[int, int]]:
    async with db.read() as session:
        rows = await session.execute(
            select(SubmissionVersion.number, func.count(SubmissionFile.position))
            .join(SubmissionFile, SubmissionFile.version_id == SubmissionVersion.id)
            .group_by(SubmissionVersion.number)
            .order_by(SubmissionVersion.number)
        )
    return [(number, files) for number, files in rows.all()]


@pytest.mark.parametrize("second", ["file", "cancel"])
async def test_a_batch_is_filed_or_cancelled_once(instances: Instances, tmp_path: Path, second: str) -> None:
    """Two taps of an item button (or a tap and "Batal"), handled by both instances at once."""
    scope, liaison = await open_intake(instances.setup)
    batch = await _batch(instances.setup, tmp_path, scope, liaison, b"berkas")

    def file(session: AsyncSession) -> Awaitable[submissions.Receipt]:
        return submissions.file_batch(session, batch, "I.13", acting=liaison, now=NOW)

    def cancel(session: AsyncSession) -> Awaitable[None]:
        return submissions.cancel_batch(session, batch)

    won = one_refused(await race(instances, file, file if second == "file" else cancel))
    async with instances.setup.read() as session:
        status = (await session.get_one(UploadBatch, batch)).status
    if isinstance(won, submissions.Receipt):
        assert status == "filed" and await _versions(instances.setup) == [(1, 1)]
    else:
        assert status == "cancelled" and await _versions(instances.setup) == []


async def test_two_filings_of_one_item_get_versions_one_and_two(instances: Instances, tmp_path: Path) -> None:
    """A liaison and an admin on their behalf (or two liaisons) file the same item at the same moment."""
    scope, liaison = await open_intake(instances.setup)
    batches = [await _batch(instances.setup, tmp_path, scope, liaison, data) for data in (b"satu", b"dua")]

    def file(batch: int) -> Action:
        return lambda session: submissions.file_batch(session, batch, "I.13", acting=liaison, now=NOW)

    receipts = await race(instances, file(batches[0]), file(batches[1]))
    assert sorted(r.version for r in receipts) == [1, 2], receipts
    assert await _versions(instances.setup) == [(1, 1), (2, 1)]


async def test_a_part_arriving_while_its_album_is_filed_is_in_the_version_or_refused(
    instances: Instances, tmp_path: Path
) -> None:
    """The closing job files an album while the other instance adds its next part: the part is never lost."""
    scope, liaison = await open_intake(instances.setup)
    store = FileStore(tmp_path)
    async with instances.setup.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id="501", person_id=liaison.person_id or 0,
            kind="album", now=NOW, media_group_id="97531",
        )  # fmt: skip
        await submissions.add_file(
            session, batch, store.store_bytes(b"bagian 1"), "1.pdf", "document", inbound_event_id=None, now=NOW
        )
    late = store.store_bytes(b"bagian 2")

    async def add(session: AsyncSession) -> int | str:
        try:
            return await submissions.add_file(session, batch, late, "2.pdf", "document", inbound_event_id=None, now=NOW)
        except submissions.BatchClosed:
            return "closed"

    def file(session: AsyncSession) -> Awaitable[submissions.Receipt]:
        return submissions.file_batch(session, batch, "I.13", acting=liaison, now=NOW)

    added, receipt = await race(instances, add, file)
    async with instances.setup.read() as session:
        in_batch = (await session.scalars(select(BatchFile.file_name).where(BatchFile.batch_id == batch))).all()
    filed = sorted(f.name for f in receipt.files)
    if added == "closed":  # the part came second: refused, so the handler opens the album's next batch
        assert filed == ["1.pdf"] and sorted(in_batch) == ["1.pdf"]
    else:  # the part came first: it is in the version
        assert added == 2 and filed == ["1.pdf", "2.pdf"]
