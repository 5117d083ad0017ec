"""`/perpanjang` through the real transport: one OPD's extension lets only that OPD upload on time and tells only
its liaison; a campaign-wide extension tells every liaison; a past date changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.broadcast_world import open_broadcast, tagged_pdf
from tests.e2e.harness import MovableClock, bot_settings, running_bot
from tests.e2e.test_intake import next_texts
from tests.e2e.test_review import text_containing
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
WIB = ZoneInfo("Asia/Pontianak")


def typed(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M")


async def test_an_extension_for_one_opd_and_then_for_all(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    start = datetime.now().astimezone()
    deadline = start + timedelta(hours=1)
    world = await open_broadcast(settings, {"DINKES": 1, "BPBD": 1}, now=start, deadline=deadline)
    by_opd = {opd: fake_telegram.user(chat) for chat, opd in world.liaisons.items()}
    dinkes, bpbd = by_opd["DINKES"], by_opd["BPBD"]
    kasi, kabid = fake_telegram.user(900_001), fake_telegram.user(900_002)
    fake_telegram.user(world.uploader_chat)
    clock = MovableClock()
    async with running_bot(settings, clock) as bot:
        for user in (dinkes, bpbd):
            await fake_telegram.wait_for_messages(user.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        await fake_telegram.wait_for_messages(kabid.id, 1, timeout=15)

        (past,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/perpanjang DINKES 2020-01-01 x"))
        assert "sudah lewat" in past
        (usage,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/perpanjang DINKES besok"))
        assert "Cara memperpanjang" in usage

        extended = deadline + timedelta(days=3)
        bpbd_before = len(fake_telegram.sent_messages(bpbd.id))
        (told,) = await next_texts(
            fake_telegram, dinkes, 1, lambda: kasi.send_text(f"/perpanjang DINKES {typed(extended)} surat Kepala Dinas")
        )
        assert "Tenggat diperpanjang" in told and "surat Kepala Dinas" in told
        recorded = await text_containing(fake_telegram, kasi.id, "diperpanjang menjadi")
        assert "DINKES" in recorded and "1 penghubung OPD diberi tahu" in recorded

        # /status shows each OPD its own effective deadline.
        (mine,) = await next_texts(fake_telegram, dinkes, 1, lambda: dinkes.send_text("/status"))
        (theirs,) = await next_texts(fake_telegram, bpbd, 1, lambda: bpbd.send_text("/status"))
        assert tenggat(mine) != tenggat(theirs)

        # Past the campaign deadline: DINKES is on time, BPBD is late.
        clock.advance(deadline - bot.app.now() + timedelta(minutes=5))
        (on_time,) = await next_texts(
            fake_telegram, dinkes, 1, lambda: dinkes.send_document(tagged_pdf(b"d"), "sk.pdf", caption="I.01")
        )
        assert "Versi: 1" in on_time and "terlambat" not in on_time
        (late,) = await next_texts(
            fake_telegram, bpbd, 1, lambda: bpbd.send_document(tagged_pdf(b"b"), "sk.pdf", caption="I.01")
        )
        assert "terlambat" in late
        assert not any(
            "diperpanjang" in (m.get("text") or "") for m in fake_telegram.sent_messages(bpbd.id)[bpbd_before:]
        )

        # The Kabid extends for every OPD: both liaisons are told.
        everyone = deadline + timedelta(days=5)
        kabid.send_text(f"/perpanjang semua {typed(everyone)} libur bersama")
        for user in (dinkes, bpbd):
            notice = await text_containing(fake_telegram, user.id, "Untuk semua OPD")
            assert "libur bersama" in notice
        assert "2 penghubung OPD diberi tahu" in await text_containing(fake_telegram, kabid.id, "diperpanjang menjadi")

        # /kegiatan #ID lists the extensions.
        (view,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text(f"/kegiatan #{world.campaign_id}"))
        assert "Perpanjangan DINKES:" in view and "surat Kepala Dinas" in view
        assert "Perpanjangan semua OPD:" in view and "libur bersama" in view


async def test_the_kabid_closes_collection_and_later_uploads_are_refused(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    budi = fake_telegram.user(chat)
    kasi, kabid = fake_telegram.user(900_001), fake_telegram.user(900_002)
    fake_telegram.user(world.uploader_chat)
    async with running_bot(settings):
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kabid.id, 1, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text(f"/kegiatan #{world.campaign_id}"))
        assert "Tutup pengumpulan" not in [b["text"] for b in kasi.buttons()]  # the Kabid's alone
        await next_texts(fake_telegram, kabid, 1, lambda: kabid.send_text(f"/kegiatan #{world.campaign_id}"))
        labels = [b["text"] for b in kabid.buttons()]
        assert "Tutup pengumpulan" in labels
        (ask,) = await next_texts(
            fake_telegram, kabid, 1, lambda: kabid.press_button(labels.index("Tutup pengumpulan") + 1)
        )
        assert "Tutup pengumpulan data dukung" in ask and [b["text"] for b in kabid.buttons()] == [
            "Ya, tutup pengumpulan"
        ]
        confirm = kabid.buttons()[0]["callback_data"]
        (closed,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press_button(1))
        assert "sudah <b>ditutup</b>" in closed or "sudah ditutup" in closed
        (again,) = await next_texts(fake_telegram, kabid, 1, lambda: kabid.press(confirm))
        assert "sudah diproses" in again
        (refused,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(tagged_pdf(b"late"), "sk.pdf", caption="I.01")
        )
        assert "sudah ditutup" in refused


def tenggat(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Tenggat"))
