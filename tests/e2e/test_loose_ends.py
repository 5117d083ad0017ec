"""Loose ends from the first round of use: flows left halfway are announced, and nothing is used up by /batal."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.models import Role
from tests.e2e.harness import bot_settings, registered, running_bot, say
from tests.e2e.test_campaigns_chat import import_opds, press
from tests.e2e.test_handoffs import draft_for
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_a_new_plan_started_inside_the_creation_flow_asks_before_discarding(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        await say(fake_telegram, kasi, "/kegiatan")
        await press(fake_telegram, kasi, "Kegiatan Monev baru")
        await say(fake_telegram, kasi, "Evaluasi Mandiri SPBE 2027")
        (asked,) = await press(fake_telegram, kasi, "Kegiatan Monev baru")  # the listing's button, again
        assert "Evaluasi Mandiri SPBE 2027" in asked and "membuang jawaban" in asked, asked
        assert [b["text"] for b in kasi.buttons()] == ["Buang dan mulai baru"]
        (again,) = await press(fake_telegram, kasi, "Buang dan mulai baru")
        assert "ketik judulnya" in again.lower(), again


async def test_batal_instead_of_the_return_note_gives_the_kabid_the_decision_again(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await import_opds(bot)
        kasi = await registered(fake_telegram, bot, 110, Role.KASI)
        kabid = await registered(fake_telegram, bot, 120, Role.KABID)
        await draft_for(bot, ("DINKES",))
        await say(fake_telegram, kasi, "/kegiatan #1")
        await press(fake_telegram, kasi, "Ajukan ke Kabid")
        await fake_telegram.wait_for(lambda: any("Mohon disposisi" in t for t in fake_telegram.texts(kabid.id)))
        assert "catatan" in (await press(fake_telegram, kabid, "Kembalikan"))[0]
        (cancelled,) = await say(fake_telegram, kabid, "/batal")
        assert "Pengembalian dibatalkan" in cancelled and "menunggu disposisi" in cancelled, cancelled
        assert [b["text"] for b in kabid.buttons()] == ["Setujui (disposisi)", "Kembalikan dengan catatan"]
        assert "disetujui" in (await press(fake_telegram, kabid, "Setujui"))[0]
