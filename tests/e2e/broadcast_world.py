"""A campaign opened with its broadcast queued, built through the real services (crash tests and the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import MENU_KIND
from bot.services import broadcast, campaigns, identity, invites, items, registry
from bot.services.audit import Acting
from bot.settings import Settings
from storage import migrate
from storage.database import Database
from storage.filestore import FileStore
from storage.models import OutboxMessage, Role
from tests.schema_template import seed_sqlite

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def tagged_pdf(tag: bytes) -> bytes:
    """A distinct valid PDF: the tag is a comment before the trailer (nothing may follow `%%EOF`)."""
    return PDF.replace(b"%%EOF", b"% " + tag + b"\n%%EOF")


LIAISON_BASE = 500_000


@dataclass(frozen=True)
class World:
    campaign_id: int
    uploader_chat: int
    liaisons: dict[int, str]  # Telegram user id → OPD code
    leader_chats: tuple[int, ...] = (900_001, 900_002)  # the Kasi and the Kabid, who read the report too


async def open_broadcast(
    settings: Settings,
    liaisons_per_opd: dict[str, int],
    *,
    extra_opds: Sequence[str] = (),
    now: datetime,
    framework: str | None = None,
    deadline: datetime | None = None,
) -> World:
    """Register liaisons (by invite codes), create, dispose, sign and open a campaign: its invitations are queued."""
    await seed_sqlite(settings.database_url)
    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        async with db.write() as session:
            cli, _rows = await seed_opds(session, now)
            liaisons = await _register(session, liaisons_per_opd, cli, now)
            kasi = await register_one(session, Role.KASI, None, 900_001, cli, now)
            kabid = await register_one(session, Role.KABID, None, 900_002, cli, now)
            secretary = await register_one(session, Role.SEKRETARIAT, None, 900_003, cli, now)
            # These people registered days before the campaign in a real year: their command menus went out then.
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.kind == MENU_KIND).values(status="sent", sent_at=now)
            )
            opds = sorted({*liaisons_per_opd, *extra_opds})
            specs = (
                items.framework_items(framework)
                if framework
                else [
                    items.ItemSpec("I.01", "Kebijakan internal SPBE", "SK", True, None, tuple(opds), (), None, None, 1)
                ]
            )
            campaign_id = await open_with_letter(
                session,
                settings,
                framework=framework,
                specs=specs,
                opds=opds,
                deadline=deadline or now + timedelta(days=30),
                staff=(kasi, kabid, secretary),
                now=now,
            )
        return World(campaign_id, 900_003, liaisons)
    finally:
        await db.dispose()


async def seed_opds(session: AsyncSession, now: datetime) -> tuple[Acting, list[registry.OpdRow]]:
    """The CLI's setup person and the shipped default OPDs: how every seeded world starts."""
    cli = Acting(await identity.ensure_local_person(session, "cli", "setup", now), "cli", "cli")
    rows = registry.parse_opd_file(registry.default_opd_file())
    await registry.import_opds(session, rows, acting=cli, now=now)
    return cli, rows


async def open_with_letter(
    session: AsyncSession,
    settings: Settings,
    *,
    title: str = "Evaluasi Mandiri SPBE 2026",
    framework: str | None,
    specs: Sequence[items.ItemSpec],
    opds: Sequence[str],
    deadline: datetime,
    staff: tuple[Acting, Acting, Acting],
    now: datetime,
) -> int:
    """SOP steps 0-3 at once: the Kasi's campaign, the Kabid's approval, the signed letter, opened and invited."""
    kasi, kabid, secretary = staff
    campaign_id = await campaigns.create_campaign(
        session,
        title=title,
        framework=framework,
        items=list(specs),
        deadline=deadline,
        opd_codes=list(opds),
        acting=kasi,
        now=now,
    )
    await campaigns.submit_to_kabid(session, campaign_id, acting=kasi, now=now)
    await campaigns.decide(session, campaign_id, approve=True, note=None, acting=kabid, now=now)
    blob = FileStore(settings.files_dir).store_bytes(PDF)
    await campaigns.record_signed_letter(session, campaign_id, blob, "undangan.pdf", acting=secretary, now=now)
    await campaigns.open_campaign(session, campaign_id, acting=secretary, now=now)
    await broadcast.invite_all(session, campaign_id, now)
    return campaign_id


async def _register(session: AsyncSession, per_opd: dict[str, int], cli: Acting, now: datetime) -> dict[int, str]:
    liaisons: dict[int, str] = {}
    user = LIAISON_BASE
    for opd, count in sorted(per_opd.items()):
        for _ in range(count):
            user += 1
            await register_one(session, Role.OPD, opd, user, cli, now)
            liaisons[user] = opd
    return liaisons


async def register_one(
    session: AsyncSession, role: Role, opd: str | None, user_id: int, cli: Acting, now: datetime
) -> Acting:
    (invite,) = await invites.issue_invites(session, acting=cli, role=role, opd_code=opd, now=now, issuer_roles=None)
    result = await invites.redeem(
        session,
        code_text=invite.code,
        channel="telegram",
        external_id=str(user_id),
        display_name=f"{role.value}-{user_id}",
        username=None,
        acting=Acting(None, None, "telegram"),
        now=now,
    )
    assert result.ok, result
    return Acting(result.person_id, role.value, "telegram")
