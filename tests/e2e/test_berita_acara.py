"""The Berita Acara and finalizing through the real transports, on Telegram and on WhatsApp: `/ba` sends the Word
document, the signed BA comes in its button's flow on `/kegiatan #ID` (ending SOP step 6), `/selesai` finalizes and
tells the Kabid; bad input (a BA without scores, `/selesai` before the signed BA or by a non-Kasi, a file that is no
PDF, the signed BA outside its flow) changes nothing."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select, update

from bot.domain.enums import Rsvp
from bot.services import campaigns, identity, meetings, scores
from bot.services.audit import Acting
from bot.settings import Settings
from storage.models import Campaign, CampaignEvent, OutboxMessage, OutboxStatus, Person, Role, SignedBeritaAcara
from tests.e2e.both_channels import CHANNELS, PEMDI, Chatter, TelegramChatter, WhatsAppChatter, plain
from tests.e2e.broadcast_world import open_broadcast, tagged_pdf
from tests.e2e.harness import RunningBot, bot_settings, code_for, outbox_idle, running_bot
from tests.e2e.test_meetings import received, texts_of
from tests.e2e.whatsapp_world import whatsapp_settings
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e
SIGNED = tagged_pdf(b"ba-ttd-sekda")
KABID_CHAT = 900_002  # registered by open_broadcast


async def held_meeting(bot: RunningBot, campaign_id: int, now: datetime) -> Acting:
    """An admin (Dewi) held the coordination meeting two days ago and came herself; the campaign is recapped."""
    starts = now - timedelta(days=2)
    async with bot.app.services.db.write() as session:
        dewi = await identity.person_of_identity(session, "telegram", "700555", "Dewi", starts - timedelta(days=1))
        await identity.ensure_assignment(session, dewi, Role.ADMIN, None, starts - timedelta(days=1))
        admin = Acting(dewi, Role.ADMIN.value, "telegram")
        view = await meetings.schedule(
            session, campaign_id, starts_at=starts, place=meetings.DEFAULT_PLACE, agenda="Evaluasi mandiri",
            invitees=[dewi], acting=admin, now=starts - timedelta(days=1),
        )  # fmt: skip
        await meetings.answer(session, view.id, starts, Rsvp.HADIR, acting=admin, now=starts - timedelta(hours=5))
        await meetings.record_held(session, view.id, acting=admin, now=starts + timedelta(hours=4))
        await campaigns.close_collection(session, campaign_id, acting=admin, now=starts - timedelta(hours=6))
        # The recap's forwarding to the Tim SPBE (closed → recapped) is h18a's button; here the state is set.
        await session.execute(update(Campaign).where(Campaign.id == campaign_id).values(state="recapped"))
        session.add(CampaignEvent(campaign_id=campaign_id, kind="recapped", at=starts, actor_person_id=None))
    return admin


async def score_all(bot: RunningBot, campaign_id: int, admin: Acting, now: datetime) -> None:
    async with bot.app.services.db.write() as session:
        for n in range(1, 21):
            source = "EPSS BPS" if n in (5, 6, 7) else None
            await scores.record_score(session, campaign_id, f"I.{n:02d}", 3, "Sudah berjalan", source=source,
                                      acting=admin, now=now)  # fmt: skip


def settings_for(channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path) -> Settings:
    if channel == "telegram":
        return bot_settings(fake_telegram, tmp_path)
    return whatsapp_settings(fake_whatsapp, tmp_path)


def sent_document(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, chatter: Chatter
) -> tuple[str, str, bytes]:
    """The name, caption and bytes of the latest document the bot sent to the chatter."""
    if isinstance(chatter, TelegramChatter):
        message = next(m for m in reversed(fake_telegram.sent_messages(chatter.user.id)) if "document" in m)
        document = message["document"]
        return str(document["file_name"]), str(message.get("caption")), fake_telegram.files[document["file_id"]].data
    assert isinstance(chatter, WhatsAppChatter)
    message = next(m for m in reversed(chatter.user.messages()) if m.get("type") == "document")
    content = message["document"]
    return str(content["filename"]), str(content.get("caption")), fake_whatsapp.media[content["id"]].data


async def document_arrives(bot: RunningBot, chatter: Chatter, person_id: int, fake_telegram: FakeBotAPI) -> None:
    await settled(bot, person_id)
    if isinstance(chatter, TelegramChatter):
        await fake_telegram.wait_for(
            lambda: [m for m in fake_telegram.sent_messages(chatter.user.id) if "document" in m], timeout=15
        )


async def kasi_chat(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, bot: RunningBot
) -> Chatter:
    """A Kasi, Andi, who registers by code on `channel`."""
    chatter: Chatter
    if channel == "telegram":
        chatter = TelegramChatter(fake_telegram, fake_telegram.user(700_101, first_name="Andi"))
    else:
        chatter = WhatsAppChatter(fake_whatsapp, fake_whatsapp.user(wa_id="6281234567101", name="Andi"))
    (greeting,) = await chatter.say(f"/daftar {await code_for(bot, Role.KASI)}")
    assert "Pendaftaran berhasil" in greeting
    # What is queued for the new Kasi goes out before the flow, so that replies are counted right.
    await settled(bot, await newest_person(bot))
    return chatter


async def newest_person(bot: RunningBot) -> int:
    async with bot.app.services.db.read() as session:
        return int(await session.scalar(select(func.max(Person.id))) or 0)


async def settled(bot: RunningBot, person_id: int, timeout: float = 15) -> None:
    """Until nothing is pending or being sent to the person (another channel's people may wait for ever)."""
    db = bot.app.services.db
    async with asyncio.timeout(timeout):
        while True:
            async with db.read() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.person_id == person_id,
                        OutboxMessage.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
                    )
                )
            if not waiting:
                return
            await asyncio.sleep(0.05)


async def campaign_shown(kasi: Chatter, campaign_id: int) -> str:
    """`/kegiatan #ID` as read, all its parts (WhatsApp splits it: a message with buttons holds 1,024 characters)."""
    before = len(texts_of(kasi))
    await kasi.say(f"/kegiatan #{campaign_id}")
    # Its last lines name the OPD without a liaison; the buttons come with the last part.
    await received(kasi, "Tanpa penghubung", before)
    return plain("\n".join(texts_of(kasi)[before:]))


def upload_button(kasi: Chatter) -> int:
    """The number of "Unggah BA bertanda tangan" (WhatsApp shortens a button's title to 20 characters)."""
    labels = kasi.choices()
    return next(n for n, label in enumerate(labels, 1) if label.startswith("Unggah BA bertanda"))


async def signed_count(bot: RunningBot) -> int:
    async with bot.app.services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(SignedBeritaAcara)) or 0)


async def state_of(bot: RunningBot, campaign_id: int) -> str:
    async with bot.app.services.db.read() as session:
        return (await session.get_one(Campaign, campaign_id)).state


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_ba_the_signed_ba_and_finalizing_in_chat(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    settings = settings_for(channel, fake_telegram, fake_whatsapp, tmp_path)
    now = datetime.now().astimezone()
    world = await open_broadcast(settings, {}, extra_opds=("DINKES",), now=now - timedelta(days=7), framework=PEMDI)
    campaign_id = world.campaign_id
    fake_telegram.user(KABID_CHAT)
    async with running_bot(settings) as bot:
        kasi = await kasi_chat(channel, fake_telegram, fake_whatsapp, bot)
        andi = await newest_person(bot)
        admin = await held_meeting(bot, campaign_id, now)

        # A BA without scores: refused, nothing sent.
        (no_scores,) = await kasi.say(f"/ba #{campaign_id}")
        assert "belum ada nilai penilaian mandiri" in plain(no_scores)
        await score_all(bot, campaign_id, admin, now)

        # /ba: the reply, then the Word document through the outbox.
        (ready,) = await kasi.say(f"/ba #{campaign_id}")
        assert "Berita Acara Evaluasi Mandiri" in ready and "Indeks 3,00, predikat Baik (simulasi)" in plain(ready)
        await document_arrives(bot, kasi, andi, fake_telegram)
        name, caption, data = sent_document(channel, fake_telegram, fake_whatsapp, kasi)
        assert name.startswith(f"berita-acara-kegiatan-{campaign_id}-") and name.endswith(".docx")
        assert "Berita Acara Evaluasi Mandiri" in caption
        document = Document(io.BytesIO(data))
        assert document.paragraphs[0].text.startswith("BERITA ACARA EVALUASI MANDIRI SPBE KOTA PONTIANAK TAHUN")
        attendance = [[c.text for c in row.cells] for row in document.tables[0].rows]
        assert attendance[1][1:] == ["Dewi", "Admin Diskominfo", "Hadir"]

        # /selesai before the signed BA: refused, nothing changes.
        (early,) = await kasi.say(f"/selesai #{campaign_id}")
        assert "BA bertanda tangan belum diunggah" in plain(early)
        assert await state_of(bot, campaign_id) == "recapped"

        # A PDF outside the button's flow is not the signed BA.
        (outside,) = await kasi.send_document(SIGNED, "ba-ttd.pdf")
        assert "untuk surat dan BA bertanda tangan kegiatan Monev, gunakan tombolnya" in plain(outside)
        assert await signed_count(bot) == 0

        # The button on /kegiatan #ID, a file that is no PDF (refused), then the PDF.
        shown = await campaign_shown(kasi, campaign_id)
        assert "Langkah 6 — Pengisian form dan BA Evaluasi Mandiri (Kasi PK&AI)" in shown
        assert "Langkah 7 — Dokumen Evaluasi SPBE (Kasi PK&AI): belum dimulai" in shown
        (asked,) = await kasi.press(upload_button(kasi))
        assert "Berita Acara Evaluasi Mandiri yang sudah ditandatangani" in plain(asked)
        (not_pdf,) = await kasi.send_document(b"MZ\x90\x00 bukan pdf", "ba.pdf")
        assert "bukan PDF" in plain(not_pdf) and await signed_count(bot) == 0
        await campaign_shown(kasi, campaign_id)
        await kasi.press(upload_button(kasi))
        (stored,) = await kasi.send_document(SIGNED, "BA ttd Sekda.pdf")
        assert "BA bertanda tangan BA ttd Sekda.pdf untuk kegiatan" in plain(stored) and "/selesai" in stored
        assert await signed_count(bot) == 1

        # /selesai: finalized, the Kabid told through the outbox, every SOP step on the timeline.
        (done,) = await kasi.say(f"/selesai #{campaign_id}")
        assert "sudah selesai" in plain(done) and await state_of(bot, campaign_id) == "finalized"
        async with bot.app.services.db.read() as session:
            notice = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "selesai"))
        assert notice is not None and notice.person_id != andi  # queued for the Kabid (registered on Telegram)
        if channel == "telegram":
            told = await fake_telegram.wait_for(
                lambda: [
                    m for m in fake_telegram.sent_messages(KABID_CHAT) if "diselesaikan oleh" in (m.get("text") or "")
                ],
                timeout=15,
            )
            assert "Andi" in told[0]["text"]
        text = await campaign_shown(kasi, campaign_id)
        assert "Status: selesai" in text and "belum dimulai" not in text
        for step in range(8):
            assert f"Langkah {step} — " in text
        assert "BA bertanda tangan diunggah" in text
        (again,) = await kasi.say(f"/selesai #{campaign_id}")
        assert "sudah diproses" in plain(again)


async def test_selesai_is_the_kasis_and_ba_the_admins_and_kasis(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {}, extra_opds=("DINKES",), now=datetime.now().astimezone())
    kabid = TelegramChatter(fake_telegram, fake_telegram.user(KABID_CHAT))
    kasi = TelegramChatter(fake_telegram, fake_telegram.user(900_001))
    async with running_bot(settings) as bot:
        for chat in (KABID_CHAT, 900_001):  # the broadcast's delivery report comes first, whenever it settles
            await fake_telegram.wait_for(
                lambda chat=chat: [m for m in fake_telegram.sent_messages(chat) if "Laporan pengiriman" in m["text"]],
                timeout=20,
            )
        await outbox_idle(bot.app.services.db)
        (refused,) = await kabid.say(f"/selesai #{world.campaign_id}")
        assert "perintah /selesai tidak tersedia untuk peran Anda" in plain(refused)
        (ba_refused,) = await kabid.say(f"/ba #{world.campaign_id}")
        assert "perintah /ba tidak tersedia untuk peran Anda" in plain(ba_refused)
        assert await state_of(bot, world.campaign_id) == "open"
        (not_yet,) = await kasi.say(f"/ba #{world.campaign_id}")
        assert "pengumpulan data dukung kegiatan ini belum ditutup" in plain(not_yet)
