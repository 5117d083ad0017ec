"""Revocation really revokes: what a revoked person still holds (buttons, batches, a job's pending work) stops."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli.support import cli_acting
from bot.conversation.envelope import MENU_KIND
from bot.services import campaigns, people
from bot.services.audit import Acting
from storage.filestore import FileStore
from storage.models import (
    BatchStatus,
    CampaignState,
    OutboxMessage,
    Role,
    RoleAssignment,
    SubmissionVersion,
    UploadBatch,
)
from tests.e2e.broadcast_world import PDF, register_one, tagged_pdf
from tests.e2e.harness import RunningBot, bot_settings, registered, running_bot, say
from tests.e2e.test_intake import liaison_world, next_texts
from tests.e2e.test_people import monev_cli
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"
REFUSED = "tidak aktif lagi"  # umum/peran_tidak_aktif


def now() -> datetime:
    return datetime.now().astimezone()


async def person_of(bot: RunningBot, role: Role) -> int:
    async with bot.app.services.db.read() as session:
        found = await session.scalar(select(RoleAssignment.person_id).where(RoleAssignment.role == role.value))
    assert found is not None
    return found


async def revoke_in_process(bot: RunningBot, person_id: int) -> None:
    """The service `monev people revoke` calls, run in this process."""
    acting = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        await people.revoke_person(session, person_id, acting=acting, revoker_roles=None, now=bot.app.now())


async def versions(bot: RunningBot) -> int:
    async with bot.app.services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(SubmissionVersion)) or 0)


async def batch_states(bot: RunningBot) -> list[str]:
    async with bot.app.services.db.read() as session:
        return list((await session.scalars(select(UploadBatch.status).order_by(UploadBatch.id))).all())


async def test_a_liaison_revoked_by_cabut_can_press_neither_an_item_nor_selesai(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        (asked,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "sk.pdf"))
        assert "Untuk item mana" in asked
        question = fake_telegram.sent_messages(liaison.id)[-1]
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.17"))
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"2"), "bagian.pdf"))
        selesai = fake_telegram.sent_messages(liaison.id)[-1]

        admin = await registered(fake_telegram, bot, 4343, Role.ADMIN)
        (done,) = await say(fake_telegram, admin, f"/cabut {await person_of(bot, Role.OPD)}")
        assert "dicabut dan berlaku saat ini juga" in done and "belum selesai (2) dibatalkan" in done
        (notice,) = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(liaison.id) if "telah dicabut" in t]
        )
        assert "Kiriman berkas Anda yang belum selesai (2) dibatalkan" in notice

        (item,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1, question))
        (finish,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(1, selesai))
        assert REFUSED in item and REFUSED in finish, (item, finish)
        assert await versions(bot) == 0
        assert await batch_states(bot) == [BatchStatus.CANCELLED.value] * 2


async def test_the_batch_job_files_nothing_for_a_liaison_revoked_by_the_cli(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_text("/kirim I.13"))
        await next_texts(fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "perwal.pdf"))
        assert "revoked 1 role(s)" in await monev_cli(tmp_path, "people", "revoke", str(await person_of(bot, Role.OPD)))

        await bot.app.scheduler.run_now("upload-batches", now() + timedelta(minutes=11))
        assert await versions(bot) == 0
        assert await batch_states(bot) == [BatchStatus.CANCELLED.value]


async def test_a_revoked_admin_cannot_lift_a_lockout(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        admin = await registered(fake_telegram, bot, 100, Role.ADMIN)
        stranger = fake_telegram.user(301)
        for _ in range(4):
            await say(fake_telegram, stranger, "/daftar 0000-0000-0000-0000-0000")
        assert "Terlalu banyak" in (await say(fake_telegram, stranger, "/daftar 1111-1111-1111-1111-1111"))[0]
        notice = await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(100) if "diblokir sementara" in m["text"]]
        )
        await revoke_in_process(bot, await person_of(bot, Role.ADMIN))
        await revocation_notice(fake_telegram, admin.id)  # the outbox sends it at once, before the press

        (refused,) = await next_texts(fake_telegram, admin, 1, lambda: admin.press_button(1, notice[0]))
        assert REFUSED in refused
        assert "Terlalu banyak" in (await say(fake_telegram, stranger, "/daftar 2222-2222-2222-2222-2222"))[0]


async def test_a_revoked_secretary_cannot_open_the_campaign(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        campaign_id = await signed_campaign(bot)
        secretary = fake_telegram.user(900_003)
        (shown,) = await say(fake_telegram, secretary, f"/kampanye #{campaign_id}")
        assert [b["text"] for b in secretary.buttons()] == ["Kirim undangan ke 1 OPD (1 penghubung)"], shown
        campaign_message = fake_telegram.sent_messages(secretary.id)[-1]
        await revoke_in_process(bot, await person_of(bot, Role.SEKRETARIAT))
        await revocation_notice(fake_telegram, secretary.id)

        (refused,) = await next_texts(fake_telegram, secretary, 1, lambda: secretary.press_button(1, campaign_message))
        assert REFUSED in refused
        async with bot.app.services.db.read() as session:
            detail = await campaigns.campaign_detail(session, campaign_id)
            queued = await session.scalar(  # invitations; the revoked person's notice and menu aside
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind.not_in([MENU_KIND, "pemberitahuan"]))
            )
        assert detail.state == CampaignState.SIGNED
        assert queued == 0


async def revocation_notice(fake: FakeBotAPI, chat_id: int) -> None:
    """Until the revoked person's notice is in (its commit wakes the outbox, so it comes first)."""
    await fake.wait_for(lambda: any("telah dicabut" in m.get("text", "") for m in fake.sent_messages(chat_id)))


async def signed_campaign(bot: RunningBot) -> int:
    """A DINKES campaign with its signed letter, waiting for the secretary's "Kirim undangan" (chat 900003)."""
    from bot.services import items, registry

    at = bot.app.now()
    cli = await cli_acting(bot.app)
    async with bot.app.services.db.write() as session:
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=at)
        await register_one(session, Role.OPD, "DINKES", 500_001, cli, at)
        kasi = await register_one(session, Role.KASI, None, 900_001, cli, at)
        kabid = await register_one(session, Role.KABID, None, 900_002, cli, at)
        secretary: Acting = await register_one(session, Role.SEKRETARIAT, None, 900_003, cli, at)
        campaign_id = await campaigns.create_campaign(
            session,
            title="Evaluasi Mandiri SPBE 2026",
            framework=PEMDI,
            items=items.framework_items(PEMDI),
            deadline=at + timedelta(days=30),
            opd_codes=["DINKES"],
            acting=kasi,
            now=at,
        )
        await campaigns.submit_to_kabid(session, campaign_id, acting=kasi, now=at)
        await campaigns.decide(session, campaign_id, approve=True, note=None, acting=kabid, now=at)
        blob = FileStore(bot.app.services.settings.files_dir).store_bytes(PDF)
        await campaigns.record_signed_letter(session, campaign_id, blob, "undangan.pdf", acting=secretary, now=at)
    return campaign_id
