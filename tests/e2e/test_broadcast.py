"""The broadcast end to end: every liaison gets the letter and their data request, through limits and failures."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.conversation.envelope import MENU_KIND
from storage import migrate
from storage.database import Database
from storage.models import ChannelIdentity, DeliveryAttempt, OutboxMessage, Role
from tests.conftest import truncate_all
from tests.e2e.broadcast_world import World, open_broadcast
from tests.e2e.harness import BotProcess, bot_settings, outbox_idle, registered, running_bot, say, telegram_env
from tests.fake_telegram.limits import STRICT_PER_CHAT
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


def now() -> datetime:
    return datetime.now().astimezone()


@pytest.fixture(autouse=True)
def strict_per_chat(fake_telegram: FakeBotAPI) -> None:
    """One message per second per chat (plus jitter), below our limiter's burst of 3: "no 429" means something."""
    fake_telegram.set_limits(STRICT_PER_CHAT)


def users_for(fake: FakeBotAPI, world: World) -> None:
    for user_id in [*world.liaisons, world.uploader_chat, *world.leader_chats]:
        fake.user(user_id)


def received(fake: FakeBotAPI, chat: int) -> list[str]:
    """What a liaison received, as `dokumen` for the letter and `teks` for the data request."""
    return ["dokumen" if m.get("document") else "teks" for m in fake.sent_messages(chat)]


async def test_every_liaison_gets_both_messages_and_the_uploader_a_report(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DISKOMINFO": 2, "DINKES": 2, "DISHUB": 2}, extra_opds=["BPBD"], now=now())
    users_for(fake_telegram, world)
    blocked, missing = sorted(world.liaisons)[2], sorted(world.liaisons)[4]
    fake_telegram.block_user(blocked)
    fake_telegram.inject_error(
        "sendDocument", error_code=400, description="Bad Request: chat not found", chat_id=missing
    )
    async with running_bot(settings) as bot:
        report = await fake_telegram.wait_for(
            lambda: [t for t in fake_telegram.texts(world.uploader_chat) if "Laporan pengiriman" in t], timeout=30
        )
        for chat, opd in world.liaisons.items():
            if chat in (blocked, missing):
                assert fake_telegram.sent_messages(chat) == []
                continue
            assert received(fake_telegram, chat) == ["dokumen", "teks"], chat
            request = fake_telegram.sent_messages(chat)[1]["text"]
            assert opd in request and "I.01" in request and "WIB" in request
        assert "BPBD" in report[0] and "tanpa penghubung" in report[0]
        # sorted liaisons: DINKES ×2, DISHUB ×2, DISKOMINFO ×2; the 3rd (DISHUB) blocked, the 5th (DISKOMINFO) gone
        assert "diterima 4 dari 6 penghubung di 3 OPD" in report[0]
        assert "DINKES: 2 penghubung menerima\n" in report[0]
        assert "DISHUB: 1 penghubung menerima, 1 tidak terjangkau" in report[0]
        assert "DISKOMINFO: 1 penghubung menerima, 1 tidak terjangkau" in report[0]
        assert "/opd KODE_OPD" in report[0] and "/undang" not in report[0]  # the sekretariat cannot /undang
        for leader in world.leader_chats:  # the Kasi and the Kabid read the same report
            (theirs,) = await fake_telegram.wait_for(
                lambda leader=leader: [t for t in fake_telegram.texts(leader) if "Laporan pengiriman" in t]
            )
            assert "DISHUB: 1 penghubung menerima, 1 tidak terjangkau" in theirs
        kasi_report = [t for t in fake_telegram.texts(world.leader_chats[0]) if "Laporan pengiriman" in t][0]
        assert "/undang KODE_OPD" in kasi_report  # the Kasi may issue a liaison's code
        uploads = fake_telegram.calls_of("sendDocument")
        assert sum(1 for c in uploads if "upload" in str(c.get("document", ""))) == 1  # uploaded once, then file_id
        await outbox_idle(bot.app.services.db)
        async with bot.app.services.db.read() as session:
            unreachable = (
                await session.scalars(
                    select(ChannelIdentity.external_id).where(ChannelIdentity.unreachable_at.is_not(None))
                )
            ).all()
            # Each registration also set the person's chat menu (kind `menu`): not part of the broadcast.
            messages = OutboxMessage.kind != MENU_KIND
            attempts = await session.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
                .where(messages)
            )
            statuses = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count()).where(messages).group_by(OutboxMessage.status)
                    )
                ).all()
            )
        assert sorted(unreachable) == sorted([str(blocked), str(missing)])
        assert statuses == {"sent": 11, "unreachable": 4}  # 8 to liaisons + 3 reports; 2 × 2 not reachable
        assert attempts == 15  # one attempt each: nothing unreachable was retried
        assert fake_telegram.duplicate_texts() == {}
        assert fake_telegram.rejected_429 == []


async def test_a_429_storm_mid_broadcast_delivers_everything_in_order(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DISKOMINFO": 3, "DINKES": 3}, now=now())
    users_for(fake_telegram, world)
    fake_telegram.inject_error("sendMessage", retry_after=1, times=4)
    fake_telegram.inject_error("sendDocument", retry_after=1, times=2)
    async with running_bot(settings):
        await fake_telegram.wait_for(
            lambda: all(len(fake_telegram.sent_messages(c)) == 2 for c in world.liaisons), timeout=30
        )
    assert len(fake_telegram.rejected_429) == 6
    for chat in world.liaisons:
        assert received(fake_telegram, chat) == ["dokumen", "teks"]
    assert fake_telegram.duplicate_texts() == {}


async def test_a_liaison_who_registers_later_receives_the_invitation(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DISKOMINFO": 1}, extra_opds=["DINKES"], now=now())
    users_for(fake_telegram, world)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for(lambda: all(fake_telegram.sent_messages(c) for c in world.liaisons), timeout=20)
        late = await registered(fake_telegram, bot, 777, Role.OPD, "DINKES")
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages(late.id)) == 3, timeout=20)
        assert received(fake_telegram, late.id) == ["teks", "dokumen", "teks"]  # greeting, letter, request
        assert "DINKES" in fake_telegram.sent_messages(late.id)[2]["text"]
        await fake_telegram.wait_for(lambda: fake_telegram.sent_messages(world.uploader_chat), timeout=20)  # report
        await outbox_idle(bot.app.services.db)
        (shown,) = await say(fake_telegram, fake_telegram.user(world.uploader_chat), "/kampanye #1")
        assert "Pengiriman undangan" in shown and "DINKES: 1 penghubung menerima" in shown


def chats_done(fake: FakeBotAPI, world: World) -> bool:
    """Every liaison holds both messages, the data request last (a letter sent twice comes before it)."""
    return all(len(fake.sent_messages(c)) >= 2 and received(fake, c)[-1] == "teks" for c in world.liaisons)


def duplicates_within_window(fake: FakeBotAPI, world: World) -> None:
    """Every liaison holds both messages, in order; a chat may hold one message twice (the one in flight)."""
    for chat in world.liaisons:
        kinds = received(fake, chat)
        assert kinds[0] == "dokumen" and kinds[-1] == "teks", (chat, kinds)
        assert len(kinds) <= 3, (chat, kinds)


SIZES = {code: 10 for code in ("DISKOMINFO", "DINKES", "DISHUB", "BPBD", "BKAD")}  # 100 messages: ~3 s at 30/s
MESSAGES = 2 * sum(SIZES.values())
KILL_AFTER = 45  # past the global bucket's first burst of 30, so the kill lands while sends are paced


@pytest.mark.slow
async def test_sigkill_mid_broadcast_then_restart_delivers_everything(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    env = telegram_env(fake_telegram, tmp_path / "data")
    world = await open_broadcast(bot_settings(fake_telegram, tmp_path), SIZES, now=now())
    users_for(fake_telegram, world)
    first = BotProcess(env, tmp_path)
    await first.start()
    try:
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages()) >= KILL_AFTER, timeout=30)
    finally:
        await first.kill()
    assert len(fake_telegram.sent_messages()) < MESSAGES  # killed mid-broadcast
    second = BotProcess(env, tmp_path)
    await second.start()
    try:
        await fake_telegram.wait_for(lambda: chats_done(fake_telegram, world), timeout=40)
        await asyncio.sleep(0.5)
    finally:
        assert await second.terminate() == 0
    duplicates_within_window(fake_telegram, world)


@pytest.mark.slow
async def test_two_instances_on_postgresql_the_standby_finishes(
    fake_telegram: FakeBotAPI, tmp_path: Path, postgres_url: str
) -> None:
    database = Database(postgres_url)
    try:
        await migrate.upgrade(database)
        await truncate_all(database)
    finally:
        await database.dispose()
    env = telegram_env(fake_telegram, tmp_path / "data", MONEV_DATABASE_URL=postgres_url)
    world = await open_broadcast(
        bot_settings(fake_telegram, tmp_path, MONEV_DATABASE_URL=postgres_url), SIZES, now=now()
    )
    users_for(fake_telegram, world)
    holder, standby = BotProcess(env, tmp_path), BotProcess(env, tmp_path)
    await holder.start()
    try:
        await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages()) >= 1, timeout=30)
        await standby.start()
        try:
            await fake_telegram.wait_for(lambda: len(fake_telegram.sent_messages()) >= KILL_AFTER, timeout=30)
            await holder.kill()
            assert len(fake_telegram.sent_messages()) < MESSAGES  # killed mid-broadcast
            await fake_telegram.wait_for(lambda: chats_done(fake_telegram, world), timeout=40)
            await asyncio.sleep(0.5)
        finally:
            assert await standby.terminate() == 0
    finally:
        await holder.kill()
    duplicates_within_window(fake_telegram, world)
    assert b"holds the lease" in standby.stderr
