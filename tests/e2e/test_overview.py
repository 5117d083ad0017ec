"""`/status` without an OPD, from staff or the Tim: the campaign's OPDs, furthest behind first, paged, one tap each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from storage.models import Role
from tests.e2e.broadcast_world import PDF, open_broadcast
from tests.e2e.harness import bot_settings, registered, running_bot
from tests.e2e.test_intake import next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
OTHERS = ("BAPENDA", "BKAD", "BKPSDM", "DISHUB", "DISKOMINFO", "DLH", "INSPEKTORAT", "SETDA")


async def test_status_without_an_opd_lists_the_opds_furthest_behind_first(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    # Ten OPDs asked for one item each (I.01); DINKES sends it, BPBD does not.
    world = await open_broadcast(settings, {"DINKES": 1, "BPBD": 1}, extra_opds=OTHERS, now=datetime.now().astimezone())
    by_opd = {opd: chat for chat, opd in world.liaisons.items()}
    dinkes = fake_telegram.user(by_opd["DINKES"], first_name="Budi")
    bpbd = fake_telegram.user(by_opd["BPBD"], first_name="Sari")
    kasi = fake_telegram.user(900_001, first_name="Kasi")
    fake_telegram.user(900_002)
    fake_telegram.user(world.uploader_chat)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(dinkes.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)  # the delivery report reaches the Kasi too
        (receipt,) = await next_texts(
            fake_telegram, dinkes, 1, lambda: dinkes.send_document(PDF, "sk.pdf", caption="I.01")
        )
        assert "Item: I.01" in receipt

        (overview,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/status"))
        assert "Evaluasi Mandiri SPBE 2026" in overview and "10 OPD" in overview and "halaman 1 dari 2" in overview
        labels = [b["text"] for b in kasi.buttons()]
        # Everyone at 0% comes first (in code order, none has uploaded); DINKES, complete, is on page 2.
        assert [label.split()[0] for label in labels[:7]] == [
            "BAPENDA",
            "BKAD",
            "BKPSDM",
            "BPBD",
            "DISHUB",
            "DISKOMINFO",
            "DLH",
        ]
        assert labels[7:] == ["Berikutnya »"] and "DINKES" not in overview
        assert "kelengkapan 0%" in overview and "belum mengunggah" in overview

        (page_two,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.press_button(8))
        assert "halaman 2 dari 2" in page_two
        labels = [b["text"] for b in kasi.buttons()]
        assert [label.split()[0] for label in labels[:3]] == ["INSPEKTORAT", "SETDA", "DINKES"]
        assert labels[3:] == ["« Sebelumnya"]
        assert "kelengkapan 100%" in page_two and "unggahan terakhir" in page_two

        # One tap opens that OPD's checklist.
        (checklist,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.press_button(3))
        assert "Kelengkapan Dinas Kesehatan" in checklist
        assert "Kelengkapan: 100%" in checklist and "I.01" in checklist

        # The Tim sees the same overview; a liaison still sees their own checklist, and cannot use the buttons.
        tim = await registered(fake_telegram, bot, 7101, Role.TIM)
        (for_tim,) = await next_texts(fake_telegram, tim, 1, lambda: tim.send_text("/status"))
        assert "10 OPD" in for_tim and len(tim.buttons()) == 8
        (own,) = await next_texts(fake_telegram, bpbd, 1, lambda: bpbd.send_text("/status"))
        assert "Kelengkapan Badan Penanggulangan Bencana" in own and "10 OPD" not in own
        tap = tim.buttons()[0]["callback_data"]
        (forged,) = await next_texts(fake_telegram, bpbd, 1, lambda: bpbd.press(tap, forge=True))
        assert "bukan untuk Anda" in forged
