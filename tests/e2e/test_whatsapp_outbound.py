"""Outbox messages to WhatsApp people within Meta's rules (issue 16), against the fake Cloud API.

The 24-hour window and approved templates, documents uploaded once, rate limits and permanent errors, status
webhooks in the delivery report, a Kepala OPD added by number, and people on both channels.
"""

from __future__ import annotations

import asyncio
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import bot.data
from bot.cli import run_cli
from bot.conversation.envelope import Envelope
from bot.conversation.templating import date_in_words
from bot.domain.enums import OutboxStatus
from bot.services import broadcast, outbox
from bot.settings import Settings
from storage.models import ChannelIdentity, DeliveryAttempt, OutboxMessage, Role
from tests.conftest import make_settings
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import MovableClock, RunningBot, code_for, free_port, outbox_idle, running_bot, telegram_env
from tests.e2e.whatsapp_world import say, whatsapp_settings
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e
PEMDI = "permenpanrb-8-2026-pemdi"
EXAMPLE = Path(bot.data.__file__).parent / "whatsapp-templates.example.toml"
DAY_AND_MORE = timedelta(hours=25)


def approve(fake: FakeWhatsAppAPI, path: Path = EXAMPLE) -> dict[str, Any]:
    """Meta approves every template of the file, with the body text submitted for it."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for table in data.values():
        fake.add_template(table["name"], table["text"], table.get("language", "id"))
    return data


def only_templates(tmp_path: Path, *keys: str) -> Path:
    """A templates file holding only some tables of the example (the others not approved yet)."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    lines: list[str] = []
    for key in keys:
        table = data[key]
        params = ", ".join(f'"{p}"' for p in table["params"])
        lines += [f"[{key}]", f'name = "{table["name"]}"', f"params = [{params}]", f'text = "{table["text"]}"']
        if table.get("header"):
            lines.append(f'header = "{table["header"]}"')
    path = tmp_path / "templat.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def both_settings(telegram: FakeBotAPI, whatsapp: FakeWhatsAppAPI, tmp_path: Path, **extra: str) -> Settings:
    """Telegram and WhatsApp in one bot (the web server serves the WhatsApp webhook); the leaders' chats exist."""
    for chat, name in ((900_001, "Kasi"), (900_002, "Kabid"), (900_003, "Sekretariat")):
        telegram.user(chat, first_name=name)
    port = free_port()
    whatsapp.webhook_url = f"http://127.0.0.1:{port}/whatsapp"
    env = telegram_env(telegram, tmp_path / "data", **whatsapp.monev_settings(), **extra)
    env["MONEV_HTTP_PORT"] = str(port)
    data_dir = env.pop("MONEV_DATA_DIR")
    return make_settings(Path(data_dir), **env)


async def register(fake: FakeWhatsAppAPI, bot: RunningBot, wa_id: str, name: str, opd: str = "DINKES") -> Any:
    user = fake.user(wa_id=wa_id, name=name)
    await say(fake, user, f"daftar {await code_for(bot, Role.OPD, opd)}", 3)  # welcome, invitation, request
    return user


async def person_of(bot: RunningBot, channel: str, external_id: str) -> int:
    async with bot.app.services.db.read() as session:
        found = await session.scalar(
            select(ChannelIdentity.person_id).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
    assert found is not None
    return found


async def invite_again(bot: RunningBot, person_id: int, opd: str = "DINKES") -> None:
    """The campaign's invitation and data request queued for a liaison once more, as a new liaison gets them."""
    async with bot.app.services.db.write() as session:
        await broadcast.invite_new_liaison(session, person_id, opd, bot.app.now())


async def messages_of(bot: RunningBot, person_id: int) -> list[OutboxMessage]:
    async with bot.app.services.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.person_id == person_id, OutboxMessage.kind != "menu")
                    .order_by(OutboxMessage.id)
                )
            ).all()
        )


async def settled(bot: RunningBot, *person_ids: int, clock: MovableClock | None = None) -> None:
    """Until none of these people's messages is pending or being sent (others may wait for Telegram, not run here).

    With `clock`, time moves on meanwhile, so a retry's wait passes without the test waiting for it.
    """
    async with asyncio.timeout(15):
        while True:
            messages = [m for p in person_ids for m in await messages_of(bot, p)]
            if all(m.status not in (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value) for m in messages):
                return
            if clock is not None:
                clock.advance(timedelta(seconds=10))
            await asyncio.sleep(0.1)


async def attempts_of(bot: RunningBot, message_id: int) -> list[str]:
    async with bot.app.services.db.read() as session:
        rows = await session.scalars(
            select(DeliveryAttempt.outcome).where(DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.id)
        )
        return list(rows.all())


async def campaign_view_text(bot: RunningBot, telegram: FakeBotAPI) -> str:
    """What the Kasi reads in `/kegiatan 1`, whose part "Pengiriman undangan" is the delivery report."""
    kasi = telegram.user(900_001, first_name="Kasi")
    before = len(telegram.sent_messages(kasi.id))
    kasi.send_text("/kegiatan 1")
    messages = await telegram.wait_for_messages(kasi.id, before + 1, timeout=15)
    return "\n".join(str(m.get("text", "")) for m in messages[before:])


async def test_outside_the_window_the_invitation_is_its_template_and_the_request_follows_her_reply(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    approve(fake_whatsapp)
    clock = MovableClock()
    fake_whatsapp.clock = clock
    settings = whatsapp_settings(fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(EXAMPLE))
    deadline = clock() + timedelta(days=30)
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI, deadline=deadline)
    async with running_bot(settings, clock) as bot:
        siti = await register(fake_whatsapp, bot, "6281234567001", "Siti Aminah")
        person = await person_of(bot, "whatsapp", siti.user_id)
        clock.advance(DAY_AND_MORE)
        before = len(siti.messages())
        await invite_again(bot, person)
        await fake_whatsapp.wait_for_messages(siti, before + 2, timeout=15)
        await settled(bot, person)
        invitation, notice = siti.messages()[before:]
        queued = await messages_of(bot, person)
        await invite_again(bot, person)  # a second data request waits with the first: no second notice
        await fake_whatsapp.wait_for_messages(siti, before + 3, timeout=15)
        await settled(bot, person)
        (_, request, again) = await say(fake_whatsapp, siti, "halo", 3)
        await settled(bot, person)
        answered = await messages_of(bot, person)
    # Within her window (at registration) the letter and the data request went as free-form messages.
    assert [m["type"] for m in siti.messages()[1:3]] == ["document", "text"]
    (sent_invitation, sent_notice, second_invitation) = fake_whatsapp.templates_sent(siti)
    assert second_invitation[0] == "monev_undangan"
    assert sent_invitation == (
        "monev_undangan",
        [
            "Siti Aminah",
            "Evaluasi Mandiri SPBE 2026",
            "Dinas Kesehatan Kota Pontianak",
            "7",  # the items this OPD must answer, as a count
            date_in_words(deadline, settings.timezone),
        ],
    )
    header = invitation["template"]["components"][0]
    assert header["type"] == "header" and header["parameters"][0]["document"]["filename"] == "undangan.pdf"
    assert sent_notice == ("monev_pemberitahuan", []) and notice["type"] == "template"
    assert [m.status for m in queued[-2:]] == [OutboxStatus.SENT.value, OutboxStatus.AWAITING_REPLY.value]
    assert request.startswith("*Permintaan data dukung: Evaluasi Mandiri SPBE 2026*")  # once she wrote
    assert again == request
    assert all(m.status == OutboxStatus.SENT.value and m.platform_message_id for m in answered[-4:])


async def test_with_no_template_whatsapp_is_undeliverable_the_report_says_so_and_telegram_gets_it(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    approve(fake_whatsapp)
    clock = MovableClock()
    fake_whatsapp.clock = clock
    settings = both_settings(
        fake_telegram, fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(only_templates(tmp_path, "rekap"))
    )
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    async with running_bot(settings, clock) as bot:
        budi = await register(fake_whatsapp, bot, "6281234567002", "Budi Santoso")  # WhatsApp only
        # Rina registered on Telegram, then linked her WhatsApp, which she used last.
        rina_tg = fake_telegram.user(700_002, first_name="Rina")
        before = len(fake_telegram.sent_messages(rina_tg.id))
        rina_tg.send_text(f"/daftar {await code_for(bot, Role.OPD, 'DINKES')}")
        await fake_telegram.wait_for_messages(rina_tg.id, before + 3, timeout=15)
        rina_id = await person_of(bot, "telegram", str(rina_tg.id))
        rina_wa = fake_whatsapp.user(wa_id="6281234567003", name="Rina")
        await say(fake_whatsapp, rina_wa, f"daftar {await code_for(bot, None, None, link_person_id=rina_id)}")
        clock.advance(DAY_AND_MORE)
        budi_id = await person_of(bot, "whatsapp", budi.user_id)
        on_telegram = len(fake_telegram.sent_messages(rina_tg.id))
        on_whatsapp = len(rina_wa.messages()), len(budi.messages())
        await invite_again(bot, budi_id)
        await invite_again(bot, rina_id)
        await fake_telegram.wait_for_messages(rina_tg.id, on_telegram + 2, timeout=15)
        await outbox_idle(bot.app.services.db)
        budi_messages = await messages_of(bot, budi_id)
        report = await campaign_view_text(bot, fake_telegram)
        assert (len(rina_wa.messages()), len(budi.messages())) == on_whatsapp  # nothing went to WhatsApp
    assert [m.status for m in budi_messages[-2:]] == [OutboxStatus.UNREACHABLE.value] * 2
    assert all(m.last_error == outbox.NO_WHATSAPP_TEMPLATE for m in budi_messages[-2:])
    assert "belum ada templat pesan WhatsApp yang disetujui" in report


async def test_the_letter_is_uploaded_once_for_many_recipients(fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> None:
    settings = whatsapp_settings(fake_whatsapp, tmp_path)
    clock = MovableClock()
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    async with running_bot(settings, clock) as bot:
        users = [await register(fake_whatsapp, bot, f"62812345670{n:02d}", f"Penghubung {n}") for n in range(1, 4)]
    letters = [m for u in users for m in u.messages() if m["type"] == "document"]
    assert len(letters) == 3 and len({m["document"]["id"] for m in letters}) == 1
    assert len(fake_whatsapp.calls_of("media_upload")) == 1


async def test_a_pair_rate_limit_is_backed_off_and_a_permanent_error_not_retried(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    approve(fake_whatsapp)
    clock = MovableClock()
    fake_whatsapp.clock = clock
    settings = whatsapp_settings(fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(EXAMPLE))
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    async with running_bot(settings, clock) as bot:
        siti = await register(fake_whatsapp, bot, "6281234567001", "Siti Aminah")
        budi = await register(fake_whatsapp, bot, "6281234567002", "Budi Santoso")
        siti_id, budi_id = (
            await person_of(bot, "whatsapp", siti.user_id),
            await person_of(bot, "whatsapp", budi.user_id),
        )
        clock.advance(DAY_AND_MORE)
        fake_whatsapp.inject_error("messages", 131056, to=siti)  # the pair rate limit, once
        fake_whatsapp.inject_error("messages", 131026, to=budi, times=5)  # not a WhatsApp number (any more)
        before = len(siti.messages())
        await invite_again(bot, siti_id)
        await invite_again(bot, budi_id)
        await settled(bot, siti_id, budi_id, clock=clock)  # the retry waits for its time: the clock moves past it
        siti_messages, budi_messages = await messages_of(bot, siti_id), await messages_of(bot, budi_id)
        siti_attempts = await attempts_of(bot, siti_messages[-2].id)
        budi_attempts = [await attempts_of(bot, m.id) for m in budi_messages[-2:]]
    assert siti_attempts == ["retry", "sent"]
    assert [m["template"]["name"] for m in siti.messages()[before:]] == ["monev_undangan", "monev_pemberitahuan"]
    assert budi_attempts == [["unreachable"], ["unreachable"]]  # the number answered once: nothing more is tried
    templates_to_budi = [c for c in fake_whatsapp.calls_of("messages") if c.get("recipient") == budi.user_id]
    assert [c["type"] for c in templates_to_budi].count("template") == 1  # answered once: nothing more is tried
    assert all(m.status == OutboxStatus.UNREACHABLE.value for m in budi_messages[-2:])


async def test_read_statuses_show_dibaca_per_person_in_the_delivery_report(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = both_settings(fake_telegram, fake_whatsapp, tmp_path)
    clock = MovableClock()
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    async with running_bot(settings, clock) as bot:
        siti = await register(fake_whatsapp, bot, "6281234567001", "Siti Aminah")
        budi = await register(fake_whatsapp, bot, "6281234567002", "Budi Santoso")
        await outbox_idle(bot.app.services.db)
        for message in (await messages_of(bot, await person_of(bot, "whatsapp", siti.user_id)))[-2:]:
            assert message.platform_message_id
            for status in ("delivered", "read"):
                assert (await fake_whatsapp.post_status(message.platform_message_id, status)).status == 200
        for message in (await messages_of(bot, await person_of(bot, "whatsapp", budi.user_id)))[-2:]:
            assert message.platform_message_id
            await fake_whatsapp.post_status(message.platform_message_id, "delivered")
        await bot.wait_idle()
        report = await campaign_view_text(bot, fake_telegram)
    assert "• Siti Aminah (WhatsApp): dibaca" in report
    assert "• Budi Santoso (WhatsApp): diterima" in report


async def test_a_kepala_opd_added_by_number_gets_the_escalation_template_then_chats_by_user_id(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    approve(fake_whatsapp)
    settings = whatsapp_settings(fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(EXAMPLE))
    clock = MovableClock()
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    env = {"MONEV_DATA_DIR": str(settings.data_dir), "MONEV_DATABASE_URL": settings.database_url}
    added = ["people", "add", "--role", "kepala_opd", "--opd", "DINKES", "--wa", "+62 812-3456-7009", "--name", "Budi"]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.chdir(tmp_path)
        assert await asyncio.to_thread(run_cli, added) == 0
        assert await asyncio.to_thread(run_cli, added) == 1  # the number is taken now
    assert "person" in capsys.readouterr().out
    kepala = fake_whatsapp.user(wa_id="6281234567009", name="Budi Santoso")
    async with running_bot(settings, clock) as bot:
        person = await person_of(bot, "whatsapp", "6281234567009")
        # An escalation as the reminder service queues it (its digest as `d`); any message of kind `eskalasi`
        # takes the `eskalasi` template outside the window.
        escalation = Envelope.of(
            "eskalasi",
            "umum/maaf_galat",
            d={"opd_name": "Dinas Kesehatan", "title": "Evaluasi SPBE 2026", "missing": ["I.01", "I.02"]},
        )
        async with bot.app.services.db.write() as session:
            await outbox.enqueue(session, person_id=person, message=escalation, now=clock())
        await fake_whatsapp.wait_for_messages(kepala, 1, timeout=15)
        (me,) = await say(fake_whatsapp, kepala, "/saya")
        async with bot.app.services.db.read() as session:
            (account,) = (
                await session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person))
            ).all()
    ((name, params),) = fake_whatsapp.templates_sent(kepala)
    assert name == "monev_eskalasi" and params[:4] == ["Budi", "Dinas Kesehatan", "Evaluasi SPBE 2026", "2"]
    assert "Kepala OPD" in me
    assert (account.external_id, account.phone) == (kepala.user_id, "6281234567009")


async def test_a_person_on_both_channels_gets_each_message_once_on_the_account_used_last(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    approve(fake_whatsapp)
    clock = MovableClock()
    fake_whatsapp.clock = clock
    settings = both_settings(fake_telegram, fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(EXAMPLE))
    await open_broadcast(settings, {}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    async with running_bot(settings, clock) as bot:
        rina_tg = fake_telegram.user(700_002, first_name="Rina")
        rina_tg.send_text(f"/daftar {await code_for(bot, Role.OPD, 'DINKES')}")
        await fake_telegram.wait_for_messages(rina_tg.id, 3, timeout=15)
        rina = await person_of(bot, "telegram", str(rina_tg.id))
        rina_wa = fake_whatsapp.user(wa_id="6281234567003", name="Rina")
        await say(fake_whatsapp, rina_wa, f"daftar {await code_for(bot, None, None, link_person_id=rina)}")
        # She used WhatsApp last, a day ago: the invitation goes there as its template, not to Telegram.
        clock.advance(DAY_AND_MORE)
        telegram_before, whatsapp_before = len(fake_telegram.sent_messages(rina_tg.id)), len(rina_wa.messages())
        await invite_again(bot, rina)
        await fake_whatsapp.wait_for_messages(rina_wa, whatsapp_before + 2, timeout=15)
        await outbox_idle(bot.app.services.db)
        assert len(fake_telegram.sent_messages(rina_tg.id)) == telegram_before
        # Then she writes on Telegram: the waiting data request and the next messages go there, once.
        rina_tg.send_text("/saya")
        await fake_telegram.wait_for_messages(rina_tg.id, telegram_before + 2, timeout=15)
        await outbox_idle(bot.app.services.db)
        await invite_again(bot, rina)
        await fake_telegram.wait_for_messages(rina_tg.id, telegram_before + 4, timeout=15)
        await outbox_idle(bot.app.services.db)
        telegram_texts = [str(m.get("text") or m.get("caption") or "") for m in fake_telegram.sent_messages(rina_tg.id)]
        whatsapp_after = len(rina_wa.messages())
    assert whatsapp_after == whatsapp_before + 2  # the template and the notice, nothing twice
    requests = [t for t in telegram_texts[telegram_before:] if "Permintaan data dukung" in t]
    assert len(requests) == 2  # the one that waited for her reply, and the new one


async def test_a_broadcast_to_a_campaign_split_across_telegram_and_whatsapp(
    fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    approve(fake_whatsapp)
    clock = MovableClock()
    fake_whatsapp.clock = clock
    settings = both_settings(fake_telegram, fake_whatsapp, tmp_path, MONEV_WHATSAPP_TEMPLATES=str(EXAMPLE))
    # DISKOMINFO's liaisons are on Telegram (registered by the world); DINKES's on WhatsApp, quiet for a day.
    world = await open_broadcast(settings, {"DISKOMINFO": 2}, extra_opds=("DINKES",), now=clock(), framework=PEMDI)
    for chat in world.liaisons:
        fake_telegram.user(chat, first_name=f"Penghubung {chat}")
    async with running_bot(settings, clock) as bot:
        await outbox_idle(bot.app.services.db)
        siti = await register(fake_whatsapp, bot, "6281234567001", "Siti Aminah")
        clock.advance(DAY_AND_MORE)
        before = len(siti.messages())
        await invite_again(bot, await person_of(bot, "whatsapp", siti.user_id))
        await fake_whatsapp.wait_for_messages(siti, before + 2, timeout=15)
        await outbox_idle(bot.app.services.db)
        report = await campaign_view_text(bot, fake_telegram)
        telegram_liaisons = [fake_telegram.sent_messages(chat) for chat in world.liaisons]
    assert all(any(m.get("document") for m in sent) for sent in telegram_liaisons)  # the letter on Telegram
    assert [name for name, _ in fake_whatsapp.templates_sent(siti)] == ["monev_undangan", "monev_pemberitahuan"]
    assert "DISKOMINFO: 2 penghubung menerima" in report
    assert "Siti Aminah (WhatsApp): pemberitahuan terkirim, menunggu balasan" in report
