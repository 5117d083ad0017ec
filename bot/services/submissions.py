"""Data dukung intake: batches of files become versions of an OPD's answer to an item; completeness is derived.

One message, one album or one /kirim session is one version. A version whose set of files equals an earlier
version's set for the same item is not created ("sudah diterima sebagai versi N"); a new version takes earlier
unreviewed versions out of the review queue. Nothing is overwritten or deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.core import Actor
from bot.domain import deadlines as deadline_rule
from bot.domain.enums import OPD_SCOPED_ROLES, BatchStatus, CampaignState, InboundStatus, ReviewState, Role
from bot.errors import DomainError
from bot.services import access, audit, deadlines, identity
from bot.services.audit import Acting
from bot.services.items import parse_item_code
from bot.services.uploads import register_blob
from storage.database import dialect_insert, signal_after_commit
from storage.filestore import Blob
from storage.models import (
    BatchFile,
    Campaign,
    CampaignItem,
    CampaignOpd,
    InboundEvent,
    ItemAssignment,
    Opd,
    Person,
    SubmissionFile,
    SubmissionVersion,
    UploadBatch,
)

COLLECTING = (CampaignState.OPEN.value, CampaignState.CLOSED.value)
# A batch still answerable by its owner; `file_batch` takes it from the first two.
OPEN_BATCH = (BatchStatus.COLLECTING.value, BatchStatus.AWAITING_ITEM.value, BatchStatus.AWAITING_OPD.value)


class BatchClosed(Exception):
    """The batch stopped collecting (filed, cancelled, or asking a question) before this part could join it."""


ON_BEHALF_ROLES = frozenset({Role.ADMIN, Role.KASI})
# The commit signal of a transaction that opened a batch or added a part (storage.database.signal_after_commit).
BATCH_TOPIC = "upload-batches"


@dataclass(frozen=True)
class Scope:
    """Where an OPD's uploads go: its latest open (or closed) campaign."""

    campaign_id: int
    title: str
    state: CampaignState
    deadline: datetime
    opd_id: int
    opd_code: str
    opd_name: str


@dataclass(frozen=True)
class ItemStatus:
    code: str
    title: str
    required: bool
    state: str  # belum, terkirim, perlu_revisi, diterima
    latest: int | None
    late: bool


@dataclass(frozen=True)
class Progress:
    scope: Scope
    items: tuple[ItemStatus, ...]

    @property
    def required(self) -> int:
        return sum(1 for i in self.items if i.required)

    @property
    def complete(self) -> int:
        return sum(1 for i in self.items if i.required and i.state in ("terkirim", "diterima"))

    @property
    def verified(self) -> int:
        return sum(1 for i in self.items if i.required and i.state == "diterima")

    @property
    def missing(self) -> int:
        return self.required - self.complete

    def percent(self, count: int) -> int:
        return round(100 * count / self.required) if self.required else 100


@dataclass(frozen=True)
class ReceiptFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Receipt:
    scope: Scope
    item_code: str
    item_title: str
    version: int
    duplicate: bool
    late: bool
    files: tuple[ReceiptFile, ...]
    missing_required: int
    uploader: str
    on_behalf: bool


@dataclass(frozen=True)
class BatchView:
    """An upload batch as handlers and jobs see it (never the ORM row)."""

    id: int
    person_id: int
    channel: str
    chat_id: str
    kind: str  # single, album or kirim
    status: str
    opd_id: int | None
    campaign_id: int | None
    item_code: str | None
    on_behalf: bool


def _batch_view(batch: UploadBatch) -> BatchView:
    return BatchView(
        id=batch.id,
        person_id=batch.person_id,
        channel=batch.channel,
        chat_id=batch.chat_id,
        kind=batch.kind,
        status=batch.status,
        opd_id=batch.opd_id,
        campaign_id=batch.campaign_id,
        item_code=batch.item_code,
        on_behalf=batch.on_behalf,
    )


@dataclass(frozen=True)
class KirimRoute:
    """Where a `/kirim` session files: the OPD, the item if named now, and whether it is on the OPD's behalf."""

    opd_code: str
    item_code: str | None
    on_behalf: bool


def route_kirim(actor: Actor, args: Sequence[str]) -> KirimRoute | None:
    """`/kirim [KODE]` (a liaison: their own OPD) or `/kirim OPD_CODE KODE` (admin, Kasi: on behalf).

    None when someone who may only send on behalf did not name both the OPD and the item (the caller shows how).
    A liaison of several OPDs names which one first, else is asked to choose; naming another OPD is refused (only
    admins and the Kasi send on an OPD's behalf). The item is not checked here.
    """
    words = [a.upper() for a in args]
    may_act_for = bool(actor.roles & ON_BEHALF_ROLES)
    if Role.OPD not in actor.roles or (len(words) == 2 and may_act_for):
        if len(words) != 2 or not may_act_for:
            return None
        return KirimRoute(words[0], words[1], on_behalf=True)
    codes = access.own_opds(actor)
    if len(words) == 2 and words[0] not in codes:  # `/kirim OPD KODE` naming an OPD that is not theirs
        raise DomainError(
            "unggah/kirim_bukan_opd_anda", audit_action="other_opd_refused", opd=words[0][:32], codes=codes
        )
    if words and words[0] in codes:
        return KirimRoute(words[0], words[1] if len(words) > 1 else None, on_behalf=False)
    if len(codes) == 1:
        return KirimRoute(codes[0], words[0] if words else None, on_behalf=False)
    raise DomainError("unggah/pilih_opd", codes=codes, perintah="kirim")


# A campaign whose evidence can still be shown: it has been opened to the OPDs (later states included).
VIEWABLE = (
    CampaignState.OPEN.value,
    CampaignState.CLOSED.value,
    CampaignState.RECAPPED.value,
    CampaignState.FINALIZED.value,
)


def _scope_of(campaign: Campaign, opd: Opd, extended_to: datetime | None) -> Scope:
    """The scope with the OPD's effective deadline (`extended_to`: `deadlines.extension_column` of the query)."""
    deadline = deadline_rule.effective_deadline(campaign.deadline, [extended_to])
    return Scope(campaign.id, campaign.title, CampaignState(campaign.state), deadline, opd.id, opd.code, opd.name)


def _scopes_of(opd_code: str) -> Select[Campaign, Opd, datetime]:
    """The OPD's places in campaigns, with the extension its deadline has (the callers narrow it down)."""
    return (
        select(Campaign, Opd, deadlines.extension_column(Campaign.id, Opd.id))
        .join(CampaignOpd, CampaignOpd.campaign_id == Campaign.id)
        .join(Opd, Opd.id == CampaignOpd.opd_id)
        .where(Opd.code == opd_code.upper())
    )


async def scope_in(session: AsyncSession, opd_code: str, campaign_id: int, *, viewing: bool = False) -> Scope | None:
    """The OPD's part in one named campaign (`#ID`): while it collects, or (`viewing`) in any state once opened.

    None when the OPD is not one of the campaign's OPDs, so an `#ID` of another OPD's campaign names nothing.
    """
    row = (
        await session.execute(
            _scopes_of(opd_code).where(
                Campaign.id == campaign_id,
                Campaign.state.in_(VIEWABLE if viewing else COLLECTING),
            )
        )
    ).first()
    return _scope_of(*row) if row is not None else None


async def open_scopes(session: AsyncSession, opd_code: str) -> list[Scope]:
    """Where the OPD's evidence goes: each open campaign that asks it for items, newest first; else the latest.

    Two or more mean the sender is asked which campaign (buttons); with none open, the campaign that has just
    closed collection is the one answer, so its refusal ("sudah ditutup") is what the sender reads.
    """
    rows = (
        await session.execute(
            _scopes_of(opd_code)
            .where(
                Campaign.state == CampaignState.OPEN.value,
                select(ItemAssignment.opd_id)
                .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
                .where(CampaignItem.campaign_id == Campaign.id, ItemAssignment.opd_id == Opd.id)
                .exists(),
            )
            .order_by(Campaign.id.desc())
        )
    ).all()
    if rows:
        return [_scope_of(campaign, opd, extended_to) for campaign, opd, extended_to in rows]
    latest = await scope_for(session, opd_code)
    return [latest] if latest is not None else []


async def campaign_scopes(session: AsyncSession, *, states: Sequence[CampaignState]) -> list[Scope]:
    """Every OPD's place in the campaigns in `states`, with its effective deadline (the reminder tick's list)."""
    rows = (
        await session.execute(
            select(Campaign, Opd, deadlines.extension_column(Campaign.id, Opd.id))
            .join(CampaignOpd, CampaignOpd.campaign_id == Campaign.id)
            .join(Opd, Opd.id == CampaignOpd.opd_id)
            .where(Campaign.state.in_([s.value for s in states]))
            .order_by(Campaign.id, Opd.code)
        )
    ).all()
    return [_scope_of(campaign, opd, extended_to) for campaign, opd, extended_to in rows]


async def scope_for(session: AsyncSession, opd_code: str) -> Scope | None:
    """The OPD's latest campaign that collects (open) or has just closed collection."""
    row = (
        await session.execute(
            _scopes_of(opd_code)
            .where(Campaign.state.in_(COLLECTING))
            .order_by(Campaign.state != CampaignState.OPEN.value, Campaign.id.desc())
            .limit(1)
        )
    ).first()
    return _scope_of(*row) if row is not None else None


async def progress(session: AsyncSession, scope: Scope) -> Progress:
    """The OPD's checklist: each assigned item with the state of its latest version (two queries)."""
    items = (
        await session.execute(
            select(CampaignItem.id, CampaignItem.code, CampaignItem.title, CampaignItem.required)
            .join(ItemAssignment, ItemAssignment.campaign_item_id == CampaignItem.id)
            .where(CampaignItem.campaign_id == scope.campaign_id, ItemAssignment.opd_id == scope.opd_id)
            .order_by(CampaignItem.position)
        )
    ).all()
    latest_number = (
        select(SubmissionVersion.campaign_item_id, func.max(SubmissionVersion.number).label("number"))
        .where(SubmissionVersion.campaign_id == scope.campaign_id, SubmissionVersion.opd_id == scope.opd_id)
        .group_by(SubmissionVersion.campaign_item_id)
        .subquery()
    )
    latest = {
        row.campaign_item_id: row
        for row in (
            await session.execute(
                select(SubmissionVersion).join(
                    latest_number,
                    and_(
                        SubmissionVersion.campaign_item_id == latest_number.c.campaign_item_id,
                        SubmissionVersion.number == latest_number.c.number,
                        SubmissionVersion.opd_id == scope.opd_id,
                    ),
                )
            )
        ).scalars()
    }
    marks = {
        ReviewState.SUBMITTED.value: "terkirim",
        ReviewState.ACCEPTED.value: "diterima",
        ReviewState.REVISION_REQUESTED.value: "perlu_revisi",
    }
    return Progress(
        scope,
        tuple(
            ItemStatus(
                code,
                title,
                required,
                marks[latest[item_id].review_state] if item_id in latest else "belum",
                latest[item_id].number if item_id in latest else None,
                latest[item_id].late if item_id in latest else False,
            )
            for item_id, code, title, required in items
        ),
    )


def open_items(state: Progress) -> list[ItemStatus]:
    """Items still to answer: assigned and not accepted."""
    return [i for i in state.items if i.state != "diterima"]


async def example_item(session: AsyncSession, actor: Actor) -> str | None:
    """An item the person's own OPD is asked for and has not had accepted, to show in a hint's example.

    None for people without exactly one OPD (staff name the OPD, and a fixed example serves them).
    """
    own = access.own_opds(actor, OPD_SCOPED_ROLES)
    scopes = await open_scopes(session, own[0]) if len(own) == 1 else []
    waiting = open_items(await progress(session, scopes[0])) if scopes else []
    return waiting[0].code if waiting else None


def picker_order(choices: Sequence[ItemStatus]) -> list[ItemStatus]:
    """The item picker's order: items not sent yet (or returned for revision) first, those already sent last."""
    return sorted(choices, key=lambda i: i.state == "terkirim")  # sorted() is stable: checklist order within each


async def open_batch(
    session: AsyncSession,
    *,
    scope: Scope | None,
    channel: str,
    chat_id: str,
    person_id: int,
    kind: str,
    now: datetime,
    item_code: str | None = None,
    media_group_id: str | None = None,
    on_behalf: bool = False,
    opd_id: int | None = None,
    campaign_id: int | None = None,
) -> int:
    """Start collecting a version (an album's first part finds the album's existing batch instead).

    `scope=None` leaves where it files to be chosen: the OPD (a liaison of several OPDs is asked which one), or,
    with `opd_id` known, the campaign (the OPD has two open); a `campaign_id` named by a caption is remembered.
    """
    if media_group_id is not None:
        media_group_id = await _album_key(session, channel, chat_id, media_group_id)
        existing = await session.scalar(
            select(UploadBatch.id).where(
                UploadBatch.channel == channel,
                UploadBatch.chat_id == chat_id,
                UploadBatch.media_group_id == media_group_id,
                UploadBatch.status == BatchStatus.COLLECTING.value,
            )
        )
        if existing is not None:
            return existing
    batch = UploadBatch(
        channel=channel,
        chat_id=chat_id,
        person_id=person_id,
        opd_id=scope.opd_id if scope else opd_id,
        campaign_id=scope.campaign_id if scope else campaign_id,
        item_code=item_code,
        kind=kind,
        media_group_id=media_group_id,
        on_behalf=on_behalf,
        status=BatchStatus.COLLECTING.value,
        created_at=now,
        last_part_at=now,
    )
    session.add(batch)
    await session.flush()
    signal_after_commit(session, BATCH_TOPIC)  # the upload-batches job schedules its close
    return batch.id


async def _album_key(session: AsyncSession, channel: str, chat_id: str, media_group_id: str) -> str:
    """The key of the album's collecting batch: the album id, or `<id>~<n>` for parts after it was closed.

    A part that arrives after its album's batch closed must not join the filed batch (it would land in no
    version), so it starts a batch of its own; the suffix keeps (channel, chat, media group) unique.
    """
    base = media_group_id[:48]
    keys = set(
        (
            await session.scalars(
                select(UploadBatch.media_group_id).where(
                    UploadBatch.channel == channel,
                    UploadBatch.chat_id == chat_id,
                    (UploadBatch.media_group_id == base)
                    | UploadBatch.media_group_id.startswith(f"{base}~", autoescape=True),
                    UploadBatch.status != BatchStatus.COLLECTING.value,
                )
            )
        ).all()
    )
    if base not in keys:
        return base
    n = 2
    while f"{base}~{n}" in keys:
        n += 1
    return f"{base}~{n}"


async def collecting_batch(session: AsyncSession, channel: str, chat_id: str) -> BatchView | None:
    """The chat's open /kirim session, if any."""
    batch = await session.scalar(
        select(UploadBatch)
        .where(
            UploadBatch.channel == channel,
            UploadBatch.chat_id == chat_id,
            UploadBatch.kind == "kirim",
            UploadBatch.status == BatchStatus.COLLECTING.value,
        )
        .order_by(UploadBatch.id.desc())
        .limit(1)
    )
    return _batch_view(batch) if batch is not None else None


async def add_file(
    session: AsyncSession,
    batch_id: int,
    blob: Blob,
    name: str,
    kind: str,
    *,
    inbound_event_id: int | None,
    now: datetime,
    item_code: str | None = None,
    part_at: datetime | None = None,
) -> int:
    """Add a stored file to a batch (once per journaled update); returns how many files the batch holds.

    Only a collecting batch takes a file: the check and the write are one conditional UPDATE, so a batch that
    was filed, cancelled or is waiting for an answer meanwhile raises `BatchClosed` instead of hiding the
    file in a batch that never becomes a version. `part_at` is when the part arrived (the update's time, not
    the end of its download), which the album's quiet time is measured from.
    """
    values: dict[str, object] = {"last_part_at": part_at or now}
    if item_code:
        values["item_code"] = item_code
    claimed = await session.execute(
        update(UploadBatch)
        .where(UploadBatch.id == batch_id, UploadBatch.status == BatchStatus.COLLECTING.value)
        .values(**values)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise BatchClosed(batch_id)
    signal_after_commit(session, BATCH_TOPIC)  # the quiet time starts again: the close moves later
    await register_blob(session, blob, now)
    await session.execute(
        dialect_insert(session)(BatchFile)
        .values(
            batch_id=batch_id,
            inbound_event_id=inbound_event_id,
            sha256=blob.sha256,
            file_name=name,
            size=blob.size,
            kind=kind,
        )
        .on_conflict_do_nothing(index_elements=["inbound_event_id"])
    )
    return int(await session.scalar(select(func.count()).where(BatchFile.batch_id == batch_id)) or 0)


async def load_batch(session: AsyncSession, batch_id: int) -> BatchView | None:
    """The batch as it is now, or None."""
    batch = await session.get(UploadBatch, batch_id)
    return _batch_view(batch) if batch is not None else None


async def owner_authority(session: AsyncSession, batch: BatchView) -> Actor:
    """The batch's sender as they are now, if they may still file it (identity.authorize, the one rule).

    A liaison's batch needs the liaison role for its OPD (any of theirs while the OPD is still to be chosen);
    a batch filed on behalf of an OPD needs the admin or Kasi role.
    """
    if batch.on_behalf:
        return await identity.authorize(session, batch.person_id, ON_BEHALF_ROLES)
    return await identity.authorize(session, batch.person_id, {Role.OPD}, opd_id=batch.opd_id)


async def load_open_batch(session: AsyncSession, batch_id: int, person_id: int | None) -> tuple[BatchView, Actor]:
    """A batch its own sender acts on (a button), with the sender's current assignments; refusals are audited."""
    batch = await load_batch(session, batch_id)
    if batch is None or person_id is None or batch.person_id != person_id:
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", batch=batch_id)
    actor = await owner_authority(session, batch)
    if batch.status not in OPEN_BATCH:
        raise DomainError("umum/sudah_diproses")
    return batch, actor


async def batch_scope(session: AsyncSession, batch: BatchView) -> Scope:
    """Where a batch whose OPD is known files: its campaign, while that campaign still collects."""
    if batch.opd_id is None:
        raise DomainError("umum/tombol_kedaluwarsa")
    opd = await session.get_one(Opd, batch.opd_id)
    scope = await scope_in(session, opd.code, batch.campaign_id) if batch.campaign_id is not None else None
    if scope is None:
        raise DomainError("unggah/kampanye_ditutup", judul="")
    return scope


async def cancel_unauthorized_batches(session: AsyncSession, person_id: int) -> list[int]:
    """After a revocation: the person's open batches they may no longer file are cancelled; returns their ids."""
    batches = (
        await session.scalars(
            select(UploadBatch).where(UploadBatch.person_id == person_id, UploadBatch.status.in_(OPEN_BATCH))
        )
    ).all()
    cancelled = []
    for batch in batches:
        try:
            await owner_authority(session, _batch_view(batch))
        except DomainError:
            await cancel_batch(session, batch.id)
            cancelled.append(batch.id)
    return cancelled


async def next_batch_due(session: AsyncSession, *, album_quiet: float, kirim_quiet: float) -> datetime | None:
    """When the earliest collecting batch has been quiet long enough to close (it may be due already)."""
    rows = await session.execute(
        select(UploadBatch.kind, func.min(UploadBatch.last_part_at))
        .where(UploadBatch.status == BatchStatus.COLLECTING.value)
        .group_by(UploadBatch.kind)
    )
    quiet = {"album": album_quiet, "kirim": kirim_quiet}
    times = [at + timedelta(seconds=quiet.get(kind, kirim_quiet)) for kind, at in rows.all() if at is not None]
    return min(times, default=None)


async def due_batches(
    session: AsyncSession, now: datetime, *, album_quiet: float, kirim_quiet: float, batch_id: int | None = None
) -> list[int]:
    """Batches to close: albums quiet for 2 s, /kirim sessions quiet for 10 minutes (or just `batch_id`, if due).

    A batch whose chat still has updates in the journal waiting to be processed is not due: one of them may be
    its next part, still downloading or queued behind one that is (the quiet time counts from arrival).
    """
    waiting = (
        select(InboundEvent.id)
        .where(
            InboundEvent.channel == UploadBatch.channel,
            InboundEvent.chat_key == UploadBatch.chat_id,
            InboundEvent.status == InboundStatus.PENDING.value,
        )
        .exists()
    )
    query = select(UploadBatch.id).where(
        UploadBatch.status == BatchStatus.COLLECTING.value,
        (
            (UploadBatch.kind == "album") & (UploadBatch.last_part_at <= now - timedelta(seconds=album_quiet))
            | (UploadBatch.kind == "kirim") & (UploadBatch.last_part_at <= now - timedelta(seconds=kirim_quiet))
        ),
        ~waiting,
    )
    if batch_id is not None:
        query = query.where(UploadBatch.id == batch_id)
    return list((await session.scalars(query.order_by(UploadBatch.id))).all())


async def _move_batch(session: AsyncSession, batch_id: int, expected: Sequence[str], **values: object) -> None:
    """Compare-and-set a batch's state: whoever changed it first wins, the other gets "sudah diproses".

    The condition and the write are one UPDATE, so two instances (or the job and a button) cannot both act on
    the state they read; on PostgreSQL the loser's UPDATE waits for the winner's commit and then matches nothing.
    """
    moved = await session.execute(
        update(UploadBatch).where(UploadBatch.id == batch_id, UploadBatch.status.in_(expected)).values(**values)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")


async def choose_scope(session: AsyncSession, batch_id: int, scope: Scope, *, item_code: str | None = None) -> None:
    """The OPD (and its campaign) a waiting batch is for; its files are then filed as usual.

    `item_code`, once checked against the chosen campaign's items, replaces the one the sender typed.
    """
    values: dict[str, object] = {"item_code": item_code} if item_code else {}
    await _move_batch(
        session,
        batch_id,
        [BatchStatus.AWAITING_OPD.value],
        opd_id=scope.opd_id,
        campaign_id=scope.campaign_id,
        status=BatchStatus.COLLECTING.value,
        **values,
    )


async def campaign_choices(session: AsyncSession, batch: BatchView) -> list[Scope]:
    """The open campaigns a batch whose OPD is known may go to (the sender is asked when there are two)."""
    if batch.opd_id is None:
        return []
    opd = await session.get_one(Opd, batch.opd_id)
    return await open_scopes(session, opd.code)


async def campaign_item_codes(session: AsyncSession, campaign_id: int) -> list[str]:
    """Every item code of a campaign, asked of the OPD or not (to say "not asked of your OPD" rather than nothing)."""
    return list((await session.scalars(select(CampaignItem.code).where(CampaignItem.campaign_id == campaign_id))).all())


async def choose_opd(session: AsyncSession, batch_id: int, opd_id: int) -> None:
    """The OPD of a waiting batch, whose campaign is still to be chosen (the OPD has two open): it keeps waiting."""
    moved = await session.execute(
        update(UploadBatch)
        .where(
            UploadBatch.id == batch_id,
            UploadBatch.status == BatchStatus.AWAITING_OPD.value,
            UploadBatch.opd_id.is_(None),
        )
        .values(opd_id=opd_id)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")


async def await_opd(session: AsyncSession, batch_id: int) -> None:
    await _move_batch(session, batch_id, [BatchStatus.COLLECTING.value], status=BatchStatus.AWAITING_OPD.value)


async def await_item(session: AsyncSession, batch_id: int) -> None:
    await _move_batch(
        session,
        batch_id,
        [BatchStatus.COLLECTING.value, BatchStatus.AWAITING_ITEM.value],
        status=BatchStatus.AWAITING_ITEM.value,
    )


async def cancel_batch(session: AsyncSession, batch_id: int) -> None:
    await _move_batch(session, batch_id, OPEN_BATCH, status=BatchStatus.CANCELLED.value)


async def batch_file_count(session: AsyncSession, batch_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(BatchFile.batch_id == batch_id)) or 0)


async def cancel_chat_batches(
    session: AsyncSession, channel: str, chat_id: str, person_id: int, *, acting: Acting, now: datetime
) -> int | None:
    """`/batal`: the sender's /kirim session and files waiting for an answer in this chat are not filed.

    Returns how many files are left unfiled, None when nothing was open. An album still arriving is left to
    close on its own (its question follows in two seconds and has its own "Batal").
    """
    batches = (
        await session.scalars(
            select(UploadBatch.id).where(
                UploadBatch.channel == channel,
                UploadBatch.chat_id == chat_id,
                UploadBatch.person_id == person_id,
                UploadBatch.status.in_(OPEN_BATCH),
                (UploadBatch.kind == "kirim") | (UploadBatch.status != BatchStatus.COLLECTING.value),
            )
        )
    ).all()
    if not batches:
        return None
    files = 0
    for batch_id in batches:
        count = await batch_file_count(session, batch_id)
        await cancel_batch(session, batch_id)
        await audit.record(
            session, acting, "batch_cancelled", now, object_type="upload_batch", object_id=batch_id, files=count
        )
        files += count
    return files


async def file_batch(session: AsyncSession, batch_id: int, item_code: str, *, acting: Acting, now: datetime) -> Receipt:
    """Turn a batch into a version of one item: dedupe, supersede, mark late; refuse closed campaigns."""
    batch = await session.get_one(UploadBatch, batch_id)
    if batch.status in (BatchStatus.FILED.value, BatchStatus.CANCELLED.value):
        raise DomainError("umum/sudah_diproses")
    if batch.opd_id is None or batch.campaign_id is None:
        raise DomainError("unggah/pilih_opd", codes=[], perintah="kirim")
    campaign = await session.get_one(Campaign, batch.campaign_id)
    opd = await session.get_one(Opd, batch.opd_id)
    scope = _scope_of(campaign, opd, await deadlines.effective_deadline(session, campaign.id, opd.id))
    if campaign.state != CampaignState.OPEN.value and not batch.on_behalf:
        raise DomainError("unggah/kampanye_ditutup", judul=campaign.title)
    item = await session.scalar(
        select(CampaignItem)
        .join(ItemAssignment, ItemAssignment.campaign_item_id == CampaignItem.id)
        .where(
            CampaignItem.campaign_id == campaign.id,
            CampaignItem.code == item_code.upper(),
            ItemAssignment.opd_id == opd.id,
        )
    )
    if item is None:
        raise DomainError(
            "unggah/item_bukan_milik_opd", audit_action="forged_item", kode=item_code[:16].upper(), opd=opd.code
        )
    if not await session.scalar(select(func.count()).where(BatchFile.batch_id == batch_id)):
        raise DomainError("unggah/batch_kosong")
    # Claim the batch before reading its files: a part that joined first is in the version, one that comes
    # later finds the batch filed (`BatchClosed`) and starts a new one. Files are never removed from a batch.
    await _move_batch(
        session,
        batch_id,
        [BatchStatus.COLLECTING.value, BatchStatus.AWAITING_ITEM.value],
        status=BatchStatus.FILED.value,
    )
    # Version numbers of one OPD's item are handed out one filing at a time: the item row is locked
    # (PostgreSQL; SQLite has one writer anyway), so a second filing reads the first one's version.
    await session.execute(select(CampaignItem.id).where(CampaignItem.id == item.id).with_for_update())
    files = (
        await session.scalars(select(BatchFile).where(BatchFile.batch_id == batch_id).order_by(BatchFile.id))
    ).all()
    key = hashlib.sha256("\n".join(sorted({f.sha256 for f in files})).encode()).hexdigest()
    previous = (
        await session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.campaign_item_id == item.id, SubmissionVersion.opd_id == opd.id)
            .order_by(SubmissionVersion.number)
        )
    ).all()
    if previous and previous[-1].review_state == ReviewState.ACCEPTED.value:
        # An accepted item is locked: only `/buka` (admin, Kasi) takes it back to the queue for a new version.
        raise DomainError("unggah/item_terkunci", kode=item.code, versi=previous[-1].number, judul=campaign.title)
    duplicate = next((v for v in previous if v.files_key == key), None)
    late = deadline_rule.is_late(now, scope.deadline)
    if duplicate is not None:
        number = duplicate.number
    else:
        number = (previous[-1].number if previous else 0) + 1
        version = SubmissionVersion(
            campaign_id=campaign.id,
            campaign_item_id=item.id,
            opd_id=opd.id,
            number=number,
            uploaded_by_person_id=batch.person_id,
            on_behalf=batch.on_behalf,
            created_at=now,
            late=late,
            review_state=ReviewState.SUBMITTED.value,
            files_key=key,
        )
        session.add(version)
        await session.flush()
        session.add_all(
            SubmissionFile(version_id=version.id, position=n, sha256=f.sha256, file_name=f.file_name, size=f.size)
            for n, f in enumerate(files, start=1)
        )
        await session.execute(
            update(SubmissionVersion)
            .where(
                SubmissionVersion.campaign_item_id == item.id,
                SubmissionVersion.opd_id == opd.id,
                SubmissionVersion.number < number,
                SubmissionVersion.review_state == ReviewState.SUBMITTED.value,
                SubmissionVersion.superseded_by_number.is_(None),
            )
            .values(superseded_by_number=number)
        )
        await audit.record(
            session,
            acting,
            "submission",
            now,
            object_type="submission_version",
            object_id=version.id,
            opd=opd.code,
            item=item.code,
            version=number,
            files=[f.sha256 for f in files],
            late=late,
            on_behalf=batch.on_behalf,
        )
    state = await progress(session, scope)
    uploader = await session.get_one(Person, batch.person_id)
    return Receipt(
        scope,
        item.code,
        item.title,
        number,
        duplicate is not None,
        late,
        tuple(ReceiptFile(f.file_name, f.size, f.sha256) for f in files),
        state.missing,
        audit.actor_label(uploader.id, uploader.display_name, uploader.purged_at is not None),
        batch.on_behalf,
    )


async def file_on_behalf(
    session: AsyncSession,
    scope: Scope,
    item_code: str,
    files: Sequence[tuple[Blob, str]],
    *,
    channel: str,
    acting: Acting,
    now: datetime,
) -> Receipt:
    """Files that reached Diskominfo outside the chat (e-mail, paper, too large) become one version, on behalf.

    The same checks as a chat upload on behalf: the item must be asked of the OPD, the campaign must collect
    (open or just closed), the content was judged before (`uploads.admit_checked`); one audited version.
    """
    state = await progress(session, scope)
    named = parse_item_code(item_code, [i.code for i in state.items])
    if named is None:
        raise DomainError(
            "unggah/item_bukan_milik_opd", audit_action="forged_item", kode=item_code[:16], opd=scope.opd_code
        )
    if acting.person_id is None:
        raise DomainError("unggah/belum_terdaftar")
    batch_id = await open_batch(
        session,
        scope=scope,
        channel=channel,
        chat_id=channel,
        person_id=acting.person_id,
        kind="kirim",
        now=now,
        item_code=named,
        on_behalf=True,
    )
    for blob, name in files:
        await add_file(session, batch_id, blob, name, "document", inbound_event_id=None, now=now)
    return await file_batch(session, batch_id, named, acting=acting, now=now)


@dataclass(frozen=True)
class VersionView:
    item_code: str
    number: int
    created_at: datetime
    state: str
    late: bool
    superseded_by: int | None
    uploader: str
    on_behalf: bool
    files: tuple[ReceiptFile, ...]


async def version_files(session: AsyncSession, scope: Scope, item_code: str, number: int) -> list[ReceiptFile]:
    """The files of one version of the OPD's item in the scope's campaign (none: no such version)."""
    rows = await session.scalars(
        select(SubmissionFile)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionFile.version_id)
        .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
        .where(
            SubmissionVersion.campaign_id == scope.campaign_id,
            SubmissionVersion.opd_id == scope.opd_id,
            CampaignItem.code == item_code,
            SubmissionVersion.number == number,
        )
        .order_by(SubmissionFile.position)
    )
    return [ReceiptFile(f.file_name, f.size, f.sha256) for f in rows.all()]


async def history(session: AsyncSession, scope: Scope) -> list[VersionView]:
    """Every version of the OPD in the campaign, newest first (two queries)."""
    rows = (
        await session.execute(
            select(SubmissionVersion, CampaignItem.code, Person.display_name)
            .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
            .join(Person, Person.id == SubmissionVersion.uploaded_by_person_id)
            .where(SubmissionVersion.campaign_id == scope.campaign_id, SubmissionVersion.opd_id == scope.opd_id)
            .order_by(SubmissionVersion.created_at.desc(), SubmissionVersion.id.desc())
        )
    ).all()
    files: dict[int, list[ReceiptFile]] = {}
    ids = [v.id for v, _, _ in rows]
    for f in (
        await session.scalars(
            select(SubmissionFile).where(SubmissionFile.version_id.in_(ids)).order_by(SubmissionFile.position)
        )
    ).all():
        files.setdefault(f.version_id, []).append(ReceiptFile(f.file_name, f.size, f.sha256))
    return [
        VersionView(
            code,
            v.number,
            v.created_at,
            v.review_state,
            v.late,
            v.superseded_by_number,
            name or f"pengguna-{v.uploaded_by_person_id}",
            v.on_behalf,
            tuple(files.get(v.id, [])),
        )
        for v, code, name in rows
    ]
