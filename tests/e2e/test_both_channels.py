"""Existing liaison flows, written once and run on Telegram and on WhatsApp (issue 15: every flow on both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.both_channels import CHANNELS, liaison_chat, plain
from tests.e2e.broadcast_world import tagged_pdf
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_whatsapp import FakeWhatsAppAPI

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("channel", CHANNELS)
async def test_who_am_i_status_and_a_kirim_session(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with liaison_chat(channel, fake_telegram, fake_whatsapp, tmp_path) as (_, chat):
        (me,) = await chat.say("/saya")
        assert "Penghubung OPD" in plain(me) and "Dinas Kesehatan Kota Pontianak" in plain(me)
        (status,) = await chat.say("/status")
        assert "Kelengkapan: 0% (0 dari 7 item wajib terkirim)" in plain(status)
        (started,) = await chat.say("/kirim I.17")
        assert "Kirim berkas untuk Dinas Kesehatan Kota Pontianak" in plain(started)
        for n in range(2):
            (kept,) = await chat.send_document(tagged_pdf(b"%d" % n), f"bagian-{n}.pdf")
            assert f"bagian-{n}.pdf" in kept
        assert chat.choices() == ["Selesai"]
        (receipt,) = await chat.press(1)
        assert "I.17" in receipt and "bagian-0.pdf" in receipt and "bagian-1.pdf" in receipt
        (history,) = await chat.say("/riwayat")
        assert "I.17 v1" in plain(history)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_captioned_document_and_a_cancelled_flow(
    channel: str, fake_telegram: FakeBotAPI, fake_whatsapp: FakeWhatsAppAPI, tmp_path: Path
) -> None:
    async with liaison_chat(channel, fake_telegram, fake_whatsapp, tmp_path) as (_, chat):
        (receipt,) = await chat.send_document(tagged_pdf(b"perwal"), "perwal.pdf", caption="I.13 Perwal SPBE")
        assert "Versi: 1" in plain(receipt) and "Masih kurang 6 item wajib" in plain(receipt)
        (started,) = await chat.say("/kirim")
        (cancelled,) = await chat.say("/batal")
        (status,) = await chat.say("/status")
    assert "Kirim berkas" in plain(started)
    assert plain(cancelled).startswith("Sesi /kirim dibatalkan. Belum ada berkas yang dikirim")
    assert "Kelengkapan: 14%" in plain(status)
