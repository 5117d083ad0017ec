"""Replies as WhatsApp messages, sent by pywa to the fake Cloud API, which refuses what Meta refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from pywa_async import WhatsApp

from bot.app import build_app, build_channels
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.whatsapp.channel import WhatsAppChannel
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.channels.whatsapp.transport import graph_client
from bot.conversation.core import Button, OutgoingDocument, Reply
from bot.conversation.templating import Renderer
from bot.messaging.delivery import DeliveryFailed, DeliveryRejected, Undeliverable
from bot.messaging.ratelimit import Limits, RateLimiter
from bot.services import uploads
from tests.conftest import make_settings
from tests.e2e.broadcast_world import PDF
from tests.fake_whatsapp import FakeWhatsAppAPI, FakeWhatsAppUser, interactive_choices


@pytest_asyncio.fixture
async def sender(fake_whatsapp: FakeWhatsAppAPI) -> AsyncIterator[WhatsAppSender]:
    http = graph_client(fake_whatsapp.base_url)
    client = WhatsApp(phone_id=fake_whatsapp.phone_id, token=fake_whatsapp.token, session=http)
    fast = RateLimiter(Limits(chat_rate=1000, chat_burst=1000))
    try:
        yield WhatsAppSender(client, fast, Renderer(ZoneInfo("Asia/Pontianak")))
    finally:
        await http.aclose()


@pytest.fixture
def siti(fake_whatsapp: FakeWhatsAppAPI) -> FakeWhatsAppUser:
    person = fake_whatsapp.user(wa_id="6281234567001", name="Siti Aminah")
    fake_whatsapp.open_window(person)
    return person


def buttons(count: int, label: str = "Pilihan", description: str | None = None) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(f"{n}. {label}", f"kir:1:p:{n}", description),) for n in range(count))


async def test_up_to_three_short_choices_are_reply_buttons(sender: WhatsAppSender, siti: FakeWhatsAppUser) -> None:
    await sender.send_reply(siti.user_id, Reply("Kirim <b>berkas</b>", buttons=buttons(3, "Kegiatan Monev 2026 tahap")))
    (message,) = siti.messages()
    assert message["interactive"]["type"] == "button"
    titles = [choice["title"] for choice in interactive_choices(message)]
    assert all(len(title) <= 20 for title in titles) and len(set(titles)) == 3
    assert [choice["id"] for choice in interactive_choices(message)] == ["kir:1:p:0", "kir:1:p:1", "kir:1:p:2"]
    assert siti.texts() == ["Kirim *berkas*"]


async def test_choices_cut_to_the_same_title_go_in_a_list(sender: WhatsAppSender, siti: FakeWhatsAppUser) -> None:
    same_start = ((Button("Kegiatan Monev 2026 tahap satu", "a"),), (Button("Kegiatan Monev 2026 tahap dua", "b"),))
    await sender.send_reply(siti.user_id, Reply("Pilih kegiatan", buttons=same_start))
    (message,) = siti.messages()
    assert message["interactive"]["type"] == "list"  # two reply buttons reading alike could not be told apart


async def test_more_choices_or_descriptions_become_a_list_within_its_limits(
    sender: WhatsAppSender, siti: FakeWhatsAppUser
) -> None:
    long_label = "I.15 Keterpaduan Proses Bisnis Pemerintah Digital Lintas Unit"
    await sender.send_reply(siti.user_id, Reply("Untuk item mana?", buttons=buttons(10, long_label, "d" * 90)))
    await sender.send_reply(siti.user_id, Reply("Pilih OPD", buttons=buttons(2, "OPD", "Dinas Kesehatan")))
    listed, described = siti.messages()
    rows = interactive_choices(listed)
    assert listed["interactive"]["type"] == "list" and len(rows) == 10
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in rows)
    assert rows[0]["title"].startswith("0. I.15") and rows[0]["title"].endswith("…")
    assert described["interactive"]["type"] == "list"  # a reply button has no room for a description


async def test_more_than_ten_choices_go_in_several_lists(sender: WhatsAppSender, siti: FakeWhatsAppUser) -> None:
    await sender.send_reply(siti.user_id, Reply("Pilih OPD", buttons=buttons(13)))
    first, second = siti.messages()
    assert len(interactive_choices(first)) == 10 and len(interactive_choices(second)) == 3
    assert siti.texts() == ["Pilih OPD", "Pilihan lainnya:"]


async def test_a_long_text_goes_first_as_plain_messages_the_body_with_buttons_stays_within_1024(
    sender: WhatsAppSender, siti: FakeWhatsAppUser
) -> None:
    lines = "\n".join(f"⬜ <code>I.{n:02}</code> Item yang panjang sekali namanya &amp; uraiannya" for n in range(150))
    await sender.send_reply(siti.user_id, Reply(lines, buttons=buttons(2)))
    await sender.send_reply(siti.user_id, Reply(lines))
    messages = siti.messages()
    with_buttons = [m for m in messages if m["type"] == "interactive"]
    assert len(with_buttons) == 1 and messages.index(with_buttons[0]) > 0
    assert len(siti.texts()[messages.index(with_buttons[0])]) <= 1024
    assert all(len(text) <= 4096 for text in siti.texts())
    assert "".join(siti.texts()).count("```I.") == 300 and "&amp;" not in "".join(siti.texts())


async def test_the_cloud_api_answers_become_the_delivery_errors(
    fake_whatsapp: FakeWhatsAppAPI, sender: WhatsAppSender, siti: FakeWhatsAppUser
) -> None:
    for code, error in (
        (131026, Undeliverable),
        (131056, DeliveryFailed),
        (2, DeliveryFailed),
        (100, DeliveryRejected),
    ):
        fake_whatsapp.inject_error("messages", code, to=siti)
        with pytest.raises(error):
            await sender.send_reply(siti.user_id, Reply("Halo"))
    fake_whatsapp.inject_network_error("messages", to=siti)
    with pytest.raises(DeliveryFailed):
        await sender.send_reply(siti.user_id, Reply("Halo"))
    await sender.send_reply(siti.user_id, Reply("Halo"))
    assert siti.texts() == ["Halo"]


async def test_a_document_with_buttons_or_a_long_caption_goes_first_then_its_text(
    fake_whatsapp: FakeWhatsAppAPI, siti: FakeWhatsAppUser, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", **fake_whatsapp.monev_settings())
    app = build_app(settings)
    await app.prepare()
    (channel,) = build_channels(app)
    try:
        blob = app.services.files.store_bytes(PDF)
        async with app.services.db.write() as session:
            await uploads.register_blob(session, blob, app.now())
        short = Reply("<b>Surat</b> undangan", document=OutgoingDocument(blob.sha256, "undangan.pdf", None))
        await channel.send(siti.user_id, short)
        with_buttons = Reply(
            "Draf surat", buttons=buttons(2), document=OutgoingDocument(blob.sha256, "draf.pdf", "Draf surat")
        )
        await channel.send(siti.user_id, with_buttons)
        long_caption = "panjang " * 200
        await channel.send(siti.user_id, Reply(long_caption, document=OutgoingDocument(blob.sha256, "x.pdf", None)))
    finally:
        await channel.close()
        await app.close()
    kinds = [(m["type"], m.get("document", {}).get("filename")) for m in siti.messages()]
    assert kinds == [
        ("document", "undangan.pdf"),
        ("document", "draf.pdf"),
        ("interactive", None),
        ("document", "x.pdf"),
        ("text", None),
    ]
    texts = siti.texts()
    assert texts[0] == "*Surat* undangan" and texts[1] == "" and texts[2] == "Draf surat"
    assert len(fake_whatsapp.calls_of("media_upload")) == 1  # uploaded once, its media id sent three times


async def test_rate_limits_ask_for_a_pause_and_reengagement_is_final(
    fake_whatsapp: FakeWhatsAppAPI, sender: WhatsAppSender, siti: FakeWhatsAppUser
) -> None:
    fake_whatsapp.inject_error("messages", 131056, to=siti)
    with pytest.raises(DeliveryFailed) as pair:
        await sender.send_reply(siti.user_id, Reply("Halo"))
    fake_whatsapp.inject_error("messages", 130429, to=siti)
    with pytest.raises(DeliveryFailed) as throughput:
        await sender.send_reply(siti.user_id, Reply("Halo"))
    fake_whatsapp.inject_error("messages", 131047, to=siti)
    with pytest.raises(Undeliverable):
        await sender.send_reply(siti.user_id, Reply("Halo"))
    assert (pair.value.retry_after, throughput.value.retry_after) == (6.0, 1.0)


def test_whatsapp_has_a_rate_limiter_of_its_own_at_monev_whatsapp_mps(
    fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",
        **fake_whatsapp.monev_settings(),
        MONEV_TELEGRAM_TOKEN="123456:ABCdef",
        MONEV_WHATSAPP_MPS="12",
    )
    telegram, whatsapp = build_channels(build_app(settings))
    assert isinstance(whatsapp, WhatsAppChannel) and isinstance(telegram, TelegramChannel)
    assert whatsapp.sender.limiter is not telegram.sender.limiter
    assert whatsapp.sender.limiter.limits.global_rate == 12 and whatsapp.sender.limiter.limits.chat_rate == 1 / 6
