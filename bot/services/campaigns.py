"""Campaigns: creation with their own copy of items, editing while draft, disposition, the signed letter.

State machine (DESIGN §3): draft → awaiting_disposition → approved → signed → open → …; a plan returned by the
Kabid goes back to draft. Every state change is a campaign event (the timeline) and an audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import CampaignState, Role
from bot.errors import DomainError
from bot.services import audit
from bot.services.audit import Acting
from bot.services.identity import counts_as_liaison
from bot.services.items import FRAMEWORKS, ItemSpec
from bot.services.safe_text import display_text
from bot.services.uploads import clean_file_name, register_blob
from storage.filestore import Blob
from storage.models import (
    Campaign,
    CampaignEvent,
    CampaignItem,
    CampaignOpd,
    DeadlineExtension,
    ItemAssignment,
    Opd,
    Person,
    RoleAssignment,
)

TITLE_MAX = 200


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    title: str
    state: CampaignState
    deadline: datetime
    framework: str | None


@dataclass(frozen=True)
class OpdItems:
    code: str
    name: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class EventView:
    kind: str
    at: datetime
    actor: str
    note: str | None


@dataclass(frozen=True)
class ExtensionView:
    """A recorded deadline extension as `/kegiatan #ID` lists it."""

    opd_code: str | None  # None: every OPD
    deadline: datetime
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class CampaignDetail:
    summary: CampaignSummary
    created_by: int
    submitted_by: int | None
    signed_by: int | None
    items: tuple[ItemSpec, ...]
    opds: tuple[OpdItems, ...]
    events: tuple[EventView, ...]
    draft_letter: tuple[str, str] | None  # (sha256, file name)
    signed_letter: tuple[str, str] | None
    extensions: tuple[ExtensionView, ...] = ()  # oldest first; each OPD's effective one is deadlines' to say

    @property
    def id(self) -> int:
        return self.summary.id

    @property
    def state(self) -> CampaignState:
        return self.summary.state

    @property
    def asked_items(self) -> tuple[ItemSpec, ...]:
        """The items at least one OPD of the campaign answers (an item may be left with none while editing)."""
        return tuple(spec for spec in self.items if spec.opd_codes)


async def create_campaign(
    session: AsyncSession,
    *,
    title: str,
    framework: str | None,
    items: Sequence[ItemSpec],
    deadline: datetime,
    opd_codes: Sequence[str] | None,
    acting: Acting,
    now: datetime,
    letter: tuple[Blob, str] | None = None,
) -> int:
    """Create a draft campaign with a copy of its items; `opd_codes=None` takes every active OPD the items name."""
    title = " ".join(display_text(title).split())
    if not 3 <= len(title) <= TITLE_MAX:
        raise DomainError("kampanye/judul_tidak_sah", maksimum=TITLE_MAX)
    if deadline <= now:
        raise DomainError("kampanye/tenggat_lewat", tenggat=deadline)
    if not items:
        raise DomainError("kampanye/item_kosong")
    if framework is not None and framework not in FRAMEWORKS:
        raise DomainError("kampanye/kerangka_tidak_dikenal", kerangka=framework)
    active = {o.code: o.id for o in (await session.scalars(select(Opd).where(Opd.active.is_(True)))).all()}
    wanted = _participants(items, opd_codes, active)
    campaign = Campaign(
        title=title,
        framework=framework,
        state=CampaignState.DRAFT.value,
        deadline=deadline,
        created_at=now,
        created_by_person_id=acting.person_id,
    )
    session.add(campaign)
    await session.flush()
    session.add_all(CampaignOpd(campaign_id=campaign.id, opd_id=active[code]) for code in wanted)
    for spec in items:
        item = CampaignItem(
            campaign_id=campaign.id,
            code=spec.code,
            title=spec.title,
            description=spec.description,
            required=spec.required,
            weight=spec.weight,
            file_kinds=",".join(spec.file_kinds),
            position=spec.position,
        )
        session.add(item)
        await session.flush()
        session.add_all(
            ItemAssignment(campaign_item_id=item.id, opd_id=active[code]) for code in spec.opd_codes if code in wanted
        )
    if letter is not None:
        await register_blob(session, letter[0], now)
        name = clean_file_name(letter[1], fallback="surat.pdf")
        campaign.draft_letter_sha256, campaign.draft_letter_name = letter[0].sha256, name
    await _event(session, campaign, "created", acting, now, title=title, items=len(items), opds=len(wanted))
    return campaign.id


def _participants(items: Sequence[ItemSpec], opd_codes: Sequence[str] | None, active: dict[str, int]) -> list[str]:
    named = sorted({code for spec in items for code in spec.opd_codes})
    if opd_codes is None:
        chosen = [code for code in named if code in active]
    else:
        chosen = sorted({code.upper() for code in opd_codes})
        unknown = [code for code in chosen if code not in active]
        if unknown:
            raise DomainError("kampanye/opd_tidak_dikenal", kode=", ".join(unknown))
    if not chosen:
        raise DomainError("kampanye/opd_kosong")
    require_items_for(chosen, items)
    return chosen


def require_items_for(opd_codes: Sequence[str], items: Sequence[ItemSpec]) -> None:
    """Refuse a plan that invites an OPD to answer nothing (it would get an empty data request)."""
    named = {code for spec in items for code in spec.opd_codes}
    empty = sorted(code for code in opd_codes if code not in named)
    if empty:
        raise DomainError("kampanye/opd_tanpa_item", kode=", ".join(empty), id=None)


async def list_campaigns(session: AsyncSession) -> list[CampaignSummary]:
    rows = await session.scalars(select(Campaign).order_by(Campaign.id.desc()))
    return [_summary(c) for c in rows.all()]


async def campaign_detail(session: AsyncSession, campaign_id: int) -> CampaignDetail:
    """Everything `/kampanye #ID` and `monev campaign show` display, in a fixed number of queries."""
    campaign = await _load(session, campaign_id)
    items = (
        await session.scalars(
            select(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(CampaignItem.position)
        )
    ).all()
    assigned: dict[int, list[str]] = {}
    for item_id, code in (
        await session.execute(
            select(ItemAssignment.campaign_item_id, Opd.code)
            .join(Opd, Opd.id == ItemAssignment.opd_id)
            .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
            .where(CampaignItem.campaign_id == campaign_id)
            .order_by(Opd.code)
        )
    ).all():
        assigned.setdefault(item_id, []).append(code)
    specs = tuple(_spec(item, assigned.get(item.id, [])) for item in items)
    participants = (
        await session.execute(
            select(Opd.code, Opd.name)
            .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
            .where(CampaignOpd.campaign_id == campaign_id)
            .order_by(Opd.code)
        )
    ).all()
    opds = tuple(
        OpdItems(code, name, tuple(s.code for s in specs if code in s.opd_codes)) for code, name in participants
    )
    events = (
        await session.execute(
            select(CampaignEvent, Person.display_name)
            .outerjoin(Person, Person.id == CampaignEvent.actor_person_id)
            .where(CampaignEvent.campaign_id == campaign_id)
            .order_by(CampaignEvent.at, CampaignEvent.id)
        )
    ).all()
    return CampaignDetail(
        summary=_summary(campaign),
        created_by=campaign.created_by_person_id,
        submitted_by=campaign.submitted_by_person_id,
        signed_by=campaign.signed_by_person_id,
        items=specs,
        opds=opds,
        events=tuple(
            EventView(e.kind, e.at, audit.actor_label(e.actor_person_id, name, False), e.note) for e, name in events
        ),
        draft_letter=_letter(campaign.draft_letter_sha256, campaign.draft_letter_name),
        signed_letter=_letter(campaign.signed_letter_sha256, campaign.signed_letter_name),
        extensions=tuple(
            ExtensionView(code, e.deadline, e.reason, audit.actor_label(e.person_id, name, False), e.created_at)
            for e, code, name in (
                await session.execute(
                    select(DeadlineExtension, Opd.code, Person.display_name)
                    .outerjoin(Opd, Opd.id == DeadlineExtension.opd_id)
                    .join(Person, Person.id == DeadlineExtension.person_id)
                    .where(DeadlineExtension.campaign_id == campaign_id)
                    .order_by(DeadlineExtension.id)
                )
            ).all()
        ),
    )


async def assign_item(
    session: AsyncSession, campaign_id: int, item_code: str, opd_codes: Sequence[str], *, acting: Acting, now: datetime
) -> ItemSpec:
    """Set exactly which OPDs answer one item of a draft campaign; new OPDs join the campaign."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.DRAFT, "kampanye/hanya_draf")
    item = await session.scalar(
        select(CampaignItem).where(CampaignItem.campaign_id == campaign_id, CampaignItem.code == item_code.upper())
    )
    if item is None:
        raise DomainError("kampanye/item_tidak_dikenal", kode=item_code.upper())
    codes = sorted({c.strip().upper() for c in opd_codes if c.strip()})
    opds = {o.code: o.id for o in (await session.scalars(select(Opd).where(Opd.code.in_(codes)))).all()}
    unknown = [c for c in codes if c not in opds]
    if unknown:
        raise DomainError("kampanye/opd_tidak_dikenal", kode=", ".join(unknown))
    joined = set(
        (await session.scalars(select(CampaignOpd.opd_id).where(CampaignOpd.campaign_id == campaign_id))).all()
    )
    session.add_all(CampaignOpd(campaign_id=campaign_id, opd_id=opds[c]) for c in codes if opds[c] not in joined)
    await session.execute(delete(ItemAssignment).where(ItemAssignment.campaign_item_id == item.id))
    session.add_all(ItemAssignment(campaign_item_id=item.id, opd_id=opds[c]) for c in codes)
    await audit.record(
        session,
        acting,
        "campaign_assign",
        now,
        object_type="campaign",
        object_id=campaign_id,
        item=item.code,
        opds=codes,
    )
    return _spec(item, codes)


async def remove_opds(
    session: AsyncSession, campaign_id: int, opd_codes: Sequence[str], *, acting: Acting, now: datetime
) -> list[str]:
    """Take OPDs out of a draft campaign, with their item assignments; returns the codes removed."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.DRAFT, "kampanye/hanya_draf")
    codes = sorted({c.strip().upper() for c in opd_codes if c.strip()})
    joined = dict(
        (
            await session.execute(
                select(Opd.code, Opd.id)
                .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
                .where(CampaignOpd.campaign_id == campaign_id, Opd.code.in_(codes))
            )
        ).all()
    )
    unknown = [c for c in codes if c not in joined]
    if unknown or not codes:
        raise DomainError("kampanye/opd_bukan_peserta", kode=", ".join(unknown) or "-", id=campaign_id)
    items = select(CampaignItem.id).where(CampaignItem.campaign_id == campaign_id)
    await session.execute(
        delete(ItemAssignment).where(
            ItemAssignment.campaign_item_id.in_(items), ItemAssignment.opd_id.in_(joined.values())
        )
    )
    await session.execute(
        delete(CampaignOpd).where(CampaignOpd.campaign_id == campaign_id, CampaignOpd.opd_id.in_(joined.values()))
    )
    await audit.record(
        session, acting, "campaign_remove_opds", now, object_type="campaign", object_id=campaign_id, opds=codes
    )
    return codes


async def set_draft_letter(
    session: AsyncSession, campaign_id: int, blob: Blob, name: str, *, acting: Acting, now: datetime
) -> None:
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.DRAFT, "kampanye/hanya_draf")
    await register_blob(session, blob, now)
    campaign.draft_letter_sha256 = blob.sha256
    campaign.draft_letter_name = clean_file_name(name, fallback="surat.pdf")
    await audit.record(
        session,
        acting,
        "campaign_letter_draft",
        now,
        object_type="campaign",
        object_id=campaign_id,
        sha256=blob.sha256,
    )


async def submit_to_kabid(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> list[int]:
    """The Kasi submits the plan; returns the Kabids who may decide (never the submitter)."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.DRAFT, "kampanye/hanya_draf")
    if not await session.scalar(
        select(func.count()).select_from(CampaignItem).where(CampaignItem.campaign_id == campaign_id)
    ):
        raise DomainError("kampanye/item_kosong")
    empty = await _opds_without_items(session, campaign_id)
    if empty:  # editing can take an OPD's last item away
        raise DomainError("kampanye/opd_tanpa_item", kode=", ".join(empty), id=campaign_id)
    deciders = [p for p in await _kabids(session) if p != acting.person_id]
    if not deciders:
        raise DomainError("kampanye/tanpa_kabid")
    await _move(
        session,
        campaign,
        CampaignState.DRAFT,
        CampaignState.AWAITING_DISPOSITION,
        submitted_by_person_id=acting.person_id,
    )
    await _event(session, campaign, "submitted", acting, now)
    return deciders


async def _opds_without_items(session: AsyncSession, campaign_id: int) -> list[str]:
    asked = (
        select(ItemAssignment.opd_id)
        .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
        .where(CampaignItem.campaign_id == campaign_id)
    )
    rows = await session.scalars(
        select(Opd.code)
        .join(CampaignOpd, CampaignOpd.opd_id == Opd.id)
        .where(CampaignOpd.campaign_id == campaign_id, CampaignOpd.opd_id.not_in(asked))
        .order_by(Opd.code)
    )
    return list(rows.all())


async def decide(
    session: AsyncSession, campaign_id: int, *, approve: bool, note: str | None, acting: Acting, now: datetime
) -> CampaignDetail:
    """The Kabid's disposition: approve, or return to draft with a note. The submitter may never decide."""
    campaign = await _load(session, campaign_id)
    if campaign.state != CampaignState.AWAITING_DISPOSITION.value:
        raise DomainError("umum/sudah_diproses")
    if acting.person_id == campaign.submitted_by_person_id:
        raise DomainError("kampanye/pengaju_tidak_boleh", audit_action="disposition_refused", id=campaign_id)
    if acting.person_id not in await _kabids(session):
        raise DomainError("kampanye/bukan_kabid", audit_action="disposition_refused", id=campaign_id)
    if approve:
        await _move(session, campaign, CampaignState.AWAITING_DISPOSITION, CampaignState.APPROVED)
        await _event(session, campaign, "approved", acting, now)
    else:
        text = " ".join(display_text(note or "").split())
        if not text:
            raise DomainError("kampanye/catatan_kosong")
        await _move(session, campaign, CampaignState.AWAITING_DISPOSITION, CampaignState.DRAFT)
        await _event(session, campaign, "returned", acting, now, note=text[:2000])
    return await campaign_detail(session, campaign_id)


async def record_signed_letter(
    session: AsyncSession, campaign_id: int, blob: Blob, name: str, *, acting: Acting, now: datetime
) -> None:
    """Step 2: the signed letter is uploaded; the uploader then confirms the broadcast."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.APPROVED, "kampanye/belum_disetujui")
    await register_blob(session, blob, now)
    await _move(
        session,
        campaign,
        CampaignState.APPROVED,
        CampaignState.SIGNED,
        signed_letter_sha256=blob.sha256,
        signed_letter_name=clean_file_name(name, fallback="surat.pdf"),
        signed_by_person_id=acting.person_id,
    )
    await _event(session, campaign, "signed", acting, now, sha256=blob.sha256)


@dataclass(frozen=True)
class BroadcastReach:
    opds: int
    liaisons: int


async def broadcast_reach(session: AsyncSession, campaign_id: int) -> BroadcastReach:
    """How many OPDs the invitation goes to, and how many registered liaisons they have."""
    opds = await session.scalar(
        select(func.count()).select_from(CampaignOpd).where(CampaignOpd.campaign_id == campaign_id)
    )
    liaisons = await session.scalar(
        select(func.count(func.distinct(RoleAssignment.person_id)))
        .join(CampaignOpd, CampaignOpd.opd_id == RoleAssignment.opd_id)
        .where(
            CampaignOpd.campaign_id == campaign_id,
            counts_as_liaison(),
        )
    )
    return BroadcastReach(int(opds or 0), int(liaisons or 0))


async def open_campaign(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> None:
    """The uploader of the signed letter confirms the broadcast: the campaign opens."""
    campaign = await _load(session, campaign_id)
    if campaign.state != CampaignState.SIGNED.value:
        raise DomainError("umum/sudah_diproses")
    if acting.person_id != campaign.signed_by_person_id:
        raise DomainError("kampanye/bukan_pengunggah", audit_action="broadcast_refused", id=campaign_id)
    await _move(session, campaign, CampaignState.SIGNED, CampaignState.OPEN)
    await _event(session, campaign, "open", acting, now)


async def close_collection(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> None:
    """Collection ends (there is no automatic close: the deadline only makes uploads late)."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.OPEN, "kampanye/belum_dibuka")
    await _move(session, campaign, CampaignState.OPEN, CampaignState.CLOSED)
    await _event(session, campaign, "closed", acting, now)


async def mark_recapped(session: AsyncSession, campaign_id: int, *, acting: Acting, now: datetime) -> None:
    """The closed campaign's recap went to the Tim SPBE (SOP step 4 ends): closed becomes recapped."""
    campaign = await _load(session, campaign_id)
    _require_state(campaign, CampaignState.CLOSED, "umum/sudah_diproses")
    await _move(session, campaign, CampaignState.CLOSED, CampaignState.RECAPPED)
    await _event(session, campaign, "recapped", acting, now)


async def _kabids(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(RoleAssignment.person_id)
        .where(RoleAssignment.role == Role.KABID.value, RoleAssignment.revoked_at.is_(None))
        .distinct()
    )
    return sorted(rows.all())


async def _load(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    return campaign


async def _move(
    session: AsyncSession, campaign: Campaign, expected: CampaignState, new: CampaignState, **values: object
) -> None:
    """Compare-and-set the campaign's state (DESIGN §3): the first of two concurrent actions wins.

    Two Kabids deciding at once, or the other instance handling a double tap, both read the old state; the
    condition in the UPDATE lets only one write (on PostgreSQL the second waits for the first commit, then
    matches nothing) and the other gets "sudah diproses".
    """
    moved = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == expected.value)
        .values(state=new.value, **values)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")


def _require_state(campaign: Campaign, state: CampaignState, template: str) -> None:
    if campaign.state != state.value:
        raise DomainError(template, id=campaign.id, state=campaign.state)


async def _event(
    session: AsyncSession,
    campaign: Campaign,
    kind: str,
    acting: Acting,
    now: datetime,
    note: str | None = None,
    **details: object,
) -> None:
    session.add(CampaignEvent(campaign_id=campaign.id, kind=kind, at=now, actor_person_id=acting.person_id, note=note))
    await audit.record(
        session,
        acting,
        f"campaign_{kind}",
        now,
        object_type="campaign",
        object_id=campaign.id,
        **({"note": note} if note else {}),
        **details,
    )


def _summary(campaign: Campaign) -> CampaignSummary:
    return CampaignSummary(
        campaign.id, campaign.title, CampaignState(campaign.state), campaign.deadline, campaign.framework
    )


def _spec(item: CampaignItem, opd_codes: Sequence[str]) -> ItemSpec:
    return ItemSpec(
        code=item.code,
        title=item.title,
        description=item.description,
        required=item.required,
        weight=item.weight,
        opd_codes=tuple(opd_codes),
        file_kinds=tuple(k for k in item.file_kinds.split(",") if k),
        domain=None,
        aspect=None,
        position=item.position,
    )


def _letter(sha256: str | None, name: str | None) -> tuple[str, str] | None:
    return (sha256, name or "surat.pdf") if sha256 else None


@dataclass(frozen=True)
class InvitationTarget:
    """One liaison of one OPD, with what the invitation and the data request tell them."""

    person_id: int
    opd_id: int
    opd_code: str
    opd_name: str
    items: tuple[tuple[str, str], ...]  # (code, title) of the items this OPD must answer
    campaign_id: int
    title: str
    deadline: datetime
    letter: tuple[str, str] | None


async def invitation_targets(
    session: AsyncSession, campaign_id: int, *, person_id: int | None = None, opd_code: str | None = None
) -> list[InvitationTarget]:
    """Every active liaison of every OPD of the campaign (or one liaison of one OPD), in four queries."""
    campaign = await _load(session, campaign_id)
    liaisons = (
        select(RoleAssignment.person_id, Opd.id, Opd.code, Opd.name)
        .join(Opd, Opd.id == RoleAssignment.opd_id)
        .join(CampaignOpd, and_(CampaignOpd.opd_id == Opd.id, CampaignOpd.campaign_id == campaign_id))
        .where(counts_as_liaison())
    )
    if person_id is not None:
        liaisons = liaisons.where(RoleAssignment.person_id == person_id)
    if opd_code is not None:
        liaisons = liaisons.where(Opd.code == opd_code)
    rows = (await session.execute(liaisons.distinct().order_by(Opd.code, RoleAssignment.person_id))).all()
    asked: dict[int, list[tuple[str, str]]] = {}
    for opd_id, code, title in (
        await session.execute(
            select(ItemAssignment.opd_id, CampaignItem.code, CampaignItem.title)
            .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
            .where(CampaignItem.campaign_id == campaign_id)
            .order_by(CampaignItem.position)
        )
    ).all():
        asked.setdefault(opd_id, []).append((code, title))
    letter = _letter(campaign.signed_letter_sha256, campaign.signed_letter_name)
    return [
        InvitationTarget(
            person,
            opd_id,
            code,
            name,
            tuple(asked.get(opd_id, [])),
            campaign.id,
            campaign.title,
            campaign.deadline,
            letter,
        )
        for person, opd_id, code, name in rows
    ]


async def open_campaigns_of(session: AsyncSession, opd_code: str) -> list[int]:
    """Open campaigns that ask this OPD (a liaison who registers later gets their invitations)."""
    rows = await session.scalars(
        select(Campaign.id)
        .join(CampaignOpd, CampaignOpd.campaign_id == Campaign.id)
        .join(Opd, Opd.id == CampaignOpd.opd_id)
        .where(Opd.code == opd_code, Campaign.state == CampaignState.OPEN.value)
        .order_by(Campaign.id)
    )
    return list(rows.all())


async def unreported_broadcasts(session: AsyncSession) -> list[int]:
    """Open campaigns whose broadcast report has not gone to the uploader yet."""
    rows = await session.scalars(
        select(Campaign.id).where(
            Campaign.state == CampaignState.OPEN.value,
            Campaign.broadcast_reported_at.is_(None),
            Campaign.signed_by_person_id.is_not(None),
        )
    )
    return list(rows.all())


async def mark_broadcast_reported(session: AsyncSession, campaign_id: int, now: datetime) -> int | None:
    """Remember that the report went out; returns whom it goes to (the uploader of the signed letter).

    Conditional, like every state change: a report already marked (by an earlier run) returns None.
    """
    return await session.scalar(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.broadcast_reported_at.is_(None))
        .values(broadcast_reported_at=now)
        .returning(Campaign.signed_by_person_id)
        .execution_options(synchronize_session=False)
    )
