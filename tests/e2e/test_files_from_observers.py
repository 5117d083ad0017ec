"""A file from the head of an OPD or from the Tim SPBE is answered with what they can do, and is not kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import BatchFile, Role, StoredFile, UnfiledUpload
from tests.e2e.broadcast_world import PDF
from tests.e2e.harness import bot_settings, registered, running_bot
from tests.e2e.test_intake import liaison_world, next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_files_from_kepala_opd_and_tim_say_what_those_roles_can_do(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)) as bot:
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        async with bot.app.services.db.read() as session:
            stored_before = await session.scalar(select(func.count()).select_from(StoredFile))
        head = await registered(fake_telegram, bot, 7001, Role.KEPALA_OPD, "DINKES")
        head_of_bpbd = await registered(fake_telegram, bot, 7002, Role.KEPALA_OPD, "BPBD")
        tim = await registered(fake_telegram, bot, 7003, Role.TIM)

        (to_head,) = await next_texts(
            fake_telegram, head, 1, lambda: head.send_document(PDF, "sk-kepala.pdf", caption="I.13")
        )
        assert "diterima dan disimpan" not in to_head and "tidak disimpan" in to_head
        # The head is told who sends DINKES's data dukung (its liaison, by name) and to pass the file on.
        (liaison_name,) = [f"opd-{chat}" for chat in world.liaisons]
        assert "Penghubung OPD" in to_head and liaison_name in to_head and "teruskan" in to_head
        (to_head_of_bpbd,) = await next_texts(
            fake_telegram, head_of_bpbd, 1, lambda: head_of_bpbd.send_document(PDF, "sk-bpbd.pdf")
        )
        assert "belum punya Penghubung OPD" in to_head_of_bpbd and "admin Diskominfo" in to_head_of_bpbd

        (to_tim,) = await next_texts(fake_telegram, tim, 1, lambda: tim.send_document(PDF, "bahan-rapat.pdf"))
        assert "diterima dan disimpan" not in to_tim and "tidak disimpan" in to_tim
        # The Tim's own commands, as /help names them.
        assert "/status" in to_tim and "/riwayat" in to_tim and "/item" in to_tim and "/kirim" not in to_tim

        async with bot.app.services.db.read() as session:
            assert await session.scalar(select(func.count()).select_from(UnfiledUpload)) == 0
            assert await session.scalar(select(func.count()).select_from(BatchFile)) == 0
            assert await session.scalar(select(func.count()).select_from(StoredFile)) == stored_before
