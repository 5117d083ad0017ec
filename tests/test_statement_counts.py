"""SQL statements of /status and of filing an upload do not grow with items, versions or OPDs (both backends).

A `before_cursor_execute` listener counts what reaches the driver. The same operations run in a small world
(3 OPDs in the database, 5 items × 1 version × 3 OPDs) and then in a clearly larger one (67 OPDs in the
database, a campaign of 40 items × 4 versions × 30 OPDs). The measured operations are the services
(`scope_for` + `progress`, `open_batch` + `add_file` + `file_batch`, `history`) and the same requests through
the real `Dispatcher` (`/status`, a captioned document, `/riwayat`). Nothing here is timed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import Attachment, Request
from bot.conversation.dispatch import Dispatcher
from bot.conversation.handling import Services
from bot.conversation.templating import Renderer
from bot.services import campaigns, identity, invites, overview, registry, submissions
from bot.services.audit import Acting
from bot.services.items import ItemSpec
from bot.services.submissions import Scope
from bot.services.uploads import register_blob
from handlers import build_registry
from storage.database import Database
from storage.filestore import Blob, FileStore, Staged
from storage.models import (
    CampaignItem,
    ChannelIdentity,
    Opd,
    Person,
    ReviewState,
    Role,
    RoleAssignment,
    SubmissionFile,
    SubmissionVersion,
)
from tests.conftest import make_settings

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 9, 1, 9, 0, tzinfo=WIB)
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CHANNEL = "telegram"


class StatementLog:
    """Every statement the engine sends to the driver while `counting()` is active."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.active = False
        self.seen: list[str] = []

    def __call__(self, _conn: Connection, _cursor: object, statement: str, *_args: object) -> None:
        if self.active:
            self.seen.append(" ".join(statement.split())[:160])

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.seen = []
        self.active = True
        try:
            yield self.seen
        finally:
            self.active = False


@pytest.fixture
def statements(db: Database) -> Iterator[StatementLog]:
    log = StatementLog(db)
    event.listen(db.engine.sync_engine, "before_cursor_execute", log)
    try:
        yield log
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", log)


@dataclass(frozen=True)
class World:
    scope: Scope
    liaison: int  # person id
    chat: str  # the liaison's Telegram user id (chat and sender)
    item: str  # the item the measured uploads go to (it already has versions)
    items: int
    versions: int


@dataclass(frozen=True)
class Staff:
    cli: Acting
    kasi: Acting
    kabid: Acting
    secretary: Acting


async def make_staff(db: Database) -> Staff:
    async with db.write() as session:
        made = []
        for name, role in (
            ("cli", None),
            ("kasi", Role.KASI),
            ("kabid", Role.KABID),
            ("sekretariat", Role.SEKRETARIAT),
        ):
            person_id = await identity.ensure_local_person(session, "console", name, NOW)
            if role is not None:
                session.add(RoleAssignment(person_id=person_id, role=role.value, granted_at=NOW))
            made.append(Acting(person_id, role.value if role else "cli", "console"))
    return Staff(*made)


async def import_opds(db: Database, staff: Staff, extended: bool, count: int | None = None) -> list[str]:
    rows = registry.parse_opd_file(registry.default_opd_file(extended))[:count]
    async with db.write() as session:
        report = await registry.import_opds(session, rows, acting=staff.cli, now=NOW)
        assert report.accepted
    return [r.code for r in rows]


async def open_campaign(db: Database, store: FileStore, staff: Staff, opd_codes: list[str], items: int) -> int:
    """Create (with imported item specs), dispose, sign and open a campaign through the real services."""
    specs = [
        ItemSpec(
            f"I.{n:02d}",
            f"Indikator {n} tata kelola SPBE",
            "Dokumen pendukung",
            n % 5 != 0,
            None,
            tuple(opd_codes),
            (),
            None,
            None,
            n,
        )
        for n in range(1, items + 1)
    ]
    async with db.write() as session:
        campaign_id = await campaigns.create_campaign(
            session,
            title=f"Evaluasi SPBE ({items} item)",
            framework=None,
            items=specs,
            deadline=NOW + timedelta(days=30),
            opd_codes=opd_codes,
            acting=staff.kasi,
            now=NOW,
        )
        await campaigns.submit_to_kabid(session, campaign_id, acting=staff.kasi, now=NOW)
        await campaigns.decide(session, campaign_id, approve=True, note=None, acting=staff.kabid, now=NOW)
        letter = store.store_bytes(PDF.replace(b"%%EOF", f"% surat {campaign_id}".encode() + b"\n%%EOF"))
        await campaigns.record_signed_letter(
            session, campaign_id, letter, "undangan.pdf", acting=staff.secretary, now=NOW
        )
        await campaigns.open_campaign(session, campaign_id, acting=staff.secretary, now=NOW)
    return campaign_id


async def liaison_by_invite(db: Database, staff: Staff, opd_code: str, user_id: int) -> int:
    async with db.write() as session:
        (invite,) = await invites.issue_invites(
            session, acting=staff.cli, role=Role.OPD, opd_code=opd_code, now=NOW, issuer_roles=None
        )
        result = await invites.redeem(
            session,
            code_text=invite.code,
            channel=CHANNEL,
            external_id=str(user_id),
            display_name=f"Penghubung {opd_code}",
            username=None,
            acting=Acting(None, None, CHANNEL),
            now=NOW,
        )
    assert result.ok and result.person_id is not None
    return result.person_id


async def liaisons_direct(db: Database, opd_codes: list[str], first_user: int) -> dict[str, tuple[int, str]]:
    """One liaison per OPD as plain rows (person, Telegram identity, active OPD role)."""
    made: dict[str, tuple[int, str]] = {}
    async with db.write() as session:
        ids = {
            code: id_ for code, id_ in await session.execute(select(Opd.code, Opd.id).where(Opd.code.in_(opd_codes)))
        }
        for n, code in enumerate(opd_codes):
            person = Person(display_name=f"Penghubung {code}", created_at=NOW)
            session.add(person)
            await session.flush()
            chat = str(first_user + n)
            session.add(ChannelIdentity(person_id=person.id, channel=CHANNEL, external_id=chat, created_at=NOW))
            session.add(RoleAssignment(person_id=person.id, role=Role.OPD.value, opd_id=ids[code], granted_at=NOW))
            made[code] = (person.id, chat)
    return made


async def file_one(
    db: Database, scope: Scope, person_id: int, chat: str, item: str, blob: Blob, name: str
) -> submissions.Receipt:
    """One upload becomes a version: open_batch + add_file + file_batch in one write transaction."""
    async with db.write() as session:
        return await file_in(session, scope, person_id, chat, item, blob, name)


async def file_in(
    session: AsyncSession, scope: Scope, person_id: int, chat: str, item: str, blob: Blob, name: str
) -> submissions.Receipt:
    batch = await submissions.open_batch(
        session, scope=scope, channel=CHANNEL, chat_id=chat, person_id=person_id, kind="single", now=NOW
    )
    await submissions.add_file(session, batch, blob, name, "document", inbound_event_id=None, now=NOW)
    return await submissions.file_batch(
        session, batch, item, acting=Acting(person_id, Role.OPD.value, CHANNEL), now=NOW
    )


async def scope_of(db: Database, code: str) -> Scope:
    async with db.read() as session:
        scope = await submissions.scope_for(session, code)
    assert scope is not None
    return scope


async def bulk_versions(session: AsyncSession, campaign_id: int, owners: dict[int, int], blobs: list[Blob]) -> None:
    """Versions 1..len(blobs) of every item for each OPD (opd id → liaison), as rows shaped like `file_batch`'s."""
    for blob in blobs:
        await register_blob(session, blob, NOW)
    item_ids = (await session.scalars(select(CampaignItem.id).where(CampaignItem.campaign_id == campaign_id))).all()
    made = [
        (opd_id, person_id, item_id, number, blob)
        for opd_id, person_id in owners.items()
        for item_id in item_ids
        for number, blob in enumerate(blobs, start=1)
    ]
    rows = [
        {
            "campaign_id": campaign_id,
            "campaign_item_id": item_id,
            "opd_id": opd_id,
            "number": number,
            "uploaded_by_person_id": person_id,
            "on_behalf": False,
            "created_at": NOW,
            "late": False,
            "review_state": ReviewState.SUBMITTED.value,
            "superseded_by_number": number + 1 if number < len(blobs) else None,
            "files_key": hashlib.sha256(blob.sha256.encode()).hexdigest(),
        }  # as file_batch keys a one-file set
        for opd_id, person_id, item_id, number, blob in made
    ]
    ids = (
        await session.scalars(
            insert(SubmissionVersion).returning(SubmissionVersion.id, sort_by_parameter_order=True), rows
        )
    ).all()
    await session.execute(
        insert(SubmissionFile),
        [
            {
                "version_id": version_id,
                "position": 1,
                "sha256": blob.sha256,
                "file_name": f"bukti-{number}.pdf",
                "size": blob.size,
            }
            for version_id, (_, _, _, number, blob) in zip(ids, made, strict=True)
        ],
    )


def blobs_for(store: FileStore, count: int) -> list[Blob]:
    """Version n of every item holds blob n (a version is new when its file set differs within its item)."""
    return [store.store_bytes(PDF.replace(b"%%EOF", f"% versi {n}".encode() + b"\n%%EOF")) for n in range(1, count + 1)]


async def small_world(db: Database, store: FileStore, staff: Staff) -> World:
    """3 OPDs in the database, 5 items × 1 version × 3 OPDs, liaisons registered by invite codes."""
    codes = await import_opds(db, staff, extended=False, count=3)
    await open_campaign(db, store, staff, codes, items=5)
    (blob,) = blobs_for(store, 1)
    liaisons = {
        code: (await liaison_by_invite(db, staff, code, 700_000 + n), str(700_000 + n)) for n, code in enumerate(codes)
    }
    for code, (person_id, chat) in liaisons.items():
        scope = await scope_of(db, code)
        for n in range(1, 6):
            await file_one(db, scope, person_id, chat, f"I.{n:02d}", blob, f"bukti-{n}.pdf")
    person_id, chat = liaisons[codes[0]]
    return World(await scope_of(db, codes[0]), person_id, chat, "I.02", items=5, versions=1)


async def large_world(db: Database, store: FileStore, staff: Staff) -> World:
    """67 OPDs in the database, a newer campaign of 40 items × 4 versions × 30 OPDs; liaisons as plain rows.

    Versions 1-3 of the measured OPD and all of the other 29 OPDs' are bulk rows (4,760 of them); version 4 of
    each of the measured OPD's 40 items goes through the real services (and supersedes version 3).
    """
    codes = (await import_opds(db, staff, extended=True))[3:33]
    campaign_id = await open_campaign(db, store, staff, codes, items=40)
    blobs = blobs_for(store, 4)
    liaisons = await liaisons_direct(db, codes, 800_000)
    measured = codes[0]
    person_id, chat = liaisons[measured]
    scope = await scope_of(db, measured)
    async with db.write() as session:
        opd_ids = {
            code: id_ for code, id_ in await session.execute(select(Opd.code, Opd.id).where(Opd.code.in_(codes)))
        }
        await bulk_versions(session, campaign_id, {opd_ids[measured]: person_id}, blobs[:3])
        await bulk_versions(session, campaign_id, {opd_ids[c]: liaisons[c][0] for c in codes[1:]}, blobs)
        for n in range(1, 41):
            await file_in(session, scope, person_id, chat, f"I.{n:02d}", blobs[3], f"bukti-{n}-v4.pdf")
    return World(scope, person_id, chat, "I.07", items=40, versions=4)


def dispatcher_for(db: Database, tmp_path: Path) -> Dispatcher:
    """The real dispatcher and handlers on the test database."""
    settings = make_settings(tmp_path / "data", MONEV_DATABASE_URL=db.url)
    services = Services(settings, db, FileStore(settings.files_dir), Renderer(settings.timezone))
    return Dispatcher(services, build_registry())


def chat_request(world: World, text: str, message_id: int, attachments: tuple[Attachment, ...] = ()) -> Request:
    command, args = (text[1:], ()) if text.startswith("/") else (None, ())
    return Request(
        channel=CHANNEL,
        chat_id=world.chat,
        sender_id=world.chat,
        received_at=NOW,
        command=command,
        args=args,
        text=text,
        attachments=attachments,
        message_id=str(message_id),
    )


def document(data: bytes, name: str) -> Attachment:
    async def fetch(store: FileStore) -> Staged:
        return store.stage_chunks([data])

    return Attachment("document", name, "application/pdf", len(data), fetch)


@dataclass(frozen=True)
class Counts:
    status: list[str]
    status_chat: list[str]
    filing: list[str]
    filing_chat: list[str]
    history: list[str]
    history_chat: list[str]


async def measure(
    db: Database, log: StatementLog, store: FileStore, dispatcher: Dispatcher, world: World, tag: str
) -> Counts:
    """Every measured operation once, each checked for the answer it must give in this world."""
    with log.counting() as status:
        async with db.write() as session:
            scope = await submissions.scope_for(session, world.scope.opd_code)
            assert scope == world.scope
            state = await submissions.progress(session, scope)
    assert len(state.items) == world.items and {i.latest for i in state.items} == {world.versions}

    with log.counting() as status_chat:
        (reply,) = await dispatcher.run(chat_request(world, "/status", 1), NOW)
    assert "Kelengkapan" in reply.text and f"v{world.versions}" in reply.text, reply.text

    blob = store.store_bytes(PDF.replace(b"%%EOF", f"% diukur {tag}".encode() + b"\n%%EOF"))
    with log.counting() as filing:
        receipt = await file_one(db, world.scope, world.liaison, world.chat, world.item, blob, "diukur.pdf")
    assert (receipt.item_code, receipt.version, receipt.duplicate) == (world.item, world.versions + 1, False)

    upload = document(PDF.replace(b"%%EOF", f"% lewat chat {tag}".encode() + b"\n%%EOF"), "lewat-chat.pdf")
    with log.counting() as filing_chat:
        (receipt_text,) = await dispatcher.run(chat_request(world, f"{world.item} bukti", 2, (upload,)), NOW)
    assert f"<code>{world.item}</code>" in receipt_text.text, receipt_text.text
    assert f"Versi: <b>{world.versions + 2}</b>" in receipt_text.text, receipt_text.text

    with log.counting() as history:
        async with db.write() as session:
            versions = await submissions.history(session, world.scope)
    assert len(versions) == world.items * world.versions + 2

    with log.counting() as history_chat:
        (listing,) = await dispatcher.run(chat_request(world, "/riwayat", 3), NOW)
    assert f"<code>{world.item}</code> v{world.versions + 2} " in listing.text, listing.text
    return Counts(status, status_chat, filing, filing_chat, list(history), list(history_chat))


def same_count(name: str, small: list[str], large: list[str]) -> None:
    shown = "\n".join(
        f"  {'small' if n == 0 else 'large'}:\n    " + "\n    ".join(s) for n, s in enumerate((small, large))
    )
    assert len(small) == len(large), (
        f"{name}: {len(small)} statements in the small world, {len(large)} in the large\n{shown}"
    )


async def test_status_and_filing_statement_counts_do_not_grow(
    db: Database, statements: StatementLog, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    dispatcher = dispatcher_for(db, tmp_path)
    staff = await make_staff(db)

    small = await measure(db, statements, store, dispatcher, await small_world(db, store, staff), "kecil")
    large_world_ = await large_world(db, store, staff)
    async with db.read() as session:
        opds = len((await session.scalars(select(Opd.id))).all())
        versions = len((await session.scalars(select(SubmissionVersion.id))).all())
    assert (opds, versions) == (67, 3 * 5 + 2 + 30 * 40 * 4)  # the large world really is large
    large = await measure(db, statements, store, dispatcher, large_world_, "besar")

    same_count("scope_for + progress", small.status, large.status)
    same_count("/status through the dispatcher", small.status_chat, large.status_chat)
    same_count("open_batch + add_file + file_batch", small.filing, large.filing)
    same_count("a captioned document through the dispatcher", small.filing_chat, large.filing_chat)
    same_count("history", small.history, large.history)
    same_count("/riwayat through the dispatcher", small.history_chat, large.history_chat)


# -- the campaign overview (`/status` without an OPD, and the daily recap built on it) --------------------------


async def overview_world(
    db: Database, store: FileStore, staff: Staff, codes: list[str], items: int, versions: int
) -> int:
    """A campaign of `items` items asked of the OPDs `codes`, each item with `versions` versions from every OPD."""
    campaign_id = await open_campaign(db, store, staff, codes, items=items)
    liaisons = await liaisons_direct(db, codes, 600_000 + 1_000 * len(codes))
    async with db.write() as session:
        opd_ids = {
            code: id_ for code, id_ in await session.execute(select(Opd.code, Opd.id).where(Opd.code.in_(codes)))
        }
        await bulk_versions(
            session, campaign_id, {opd_ids[c]: liaisons[c][0] for c in codes}, blobs_for(store, versions)
        )
    return campaign_id


def press_request(sender: str, payload: str, message_id: int, *, command: str | None = None) -> Request:
    """A button press (or, given `command`, that command without arguments) from a console person."""
    return Request(
        channel="console",
        chat_id=sender,
        sender_id=sender,
        received_at=NOW,
        command=command,
        payload=payload if command is None else None,
        message_id=str(message_id),
    )


async def test_the_campaign_overview_statement_count_does_not_grow_with_opds(
    db: Database, statements: StatementLog, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "files")
    dispatcher = dispatcher_for(db, tmp_path)
    staff = await make_staff(db)
    codes = await import_opds(db, staff, extended=True)
    worlds = {
        "5 OPDs": (await overview_world(db, store, staff, codes[:5], items=5, versions=1), 5),
        "30 OPDs": (await overview_world(db, store, staff, codes[5:35], items=40, versions=4), 30),
    }
    service: dict[str, list[str]] = {}
    chat: dict[str, list[str]] = {}
    for n, (name, (campaign_id, opds)) in enumerate(worlds.items()):
        with statements.counting() as seen:
            async with db.read() as session:
                view = await overview.campaign_overview(session, campaign_id)
        service[name] = list(seen)
        assert len(view.standings) == opds and all(s.complete == s.required > 0 for s in view.standings)
        with statements.counting() as seen:
            (reply,) = await dispatcher.run(press_request("kasi", f"sts:{campaign_id}:p:0", n), NOW)
        chat[name] = list(seen)
        assert f"{opds} OPD" in reply.text and "kelengkapan 100%" in reply.text, reply.text
        assert len(reply.buttons) == min(opds, 7) + (opds > 7), reply.buttons  # and a row of paging
    # The campaign, then one query over its OPDs, items and versions (SQLite's read units add a BEGIN).
    queries = [s for s in service["5 OPDs"] if s.startswith("SELECT")]
    assert len(queries) == 2 and queries[0].startswith("SELECT campaign.id"), service["5 OPDs"]
    same_count("campaign_overview", service["5 OPDs"], service["30 OPDs"])
    same_count("an overview page through the dispatcher", chat["5 OPDs"], chat["30 OPDs"])
