"""The automatic check and the search, through the real transport: a liaison files a draft and reads the
findings right after the receipt, the Kasi sees them in `/tinjau` beside the expected evidence, and `/cari` finds
a word from a scanned page and sends the file at a tap."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from storage.database import Database
from storage.models import EvidenceCheck
from tests import evidence_corpus as corpus
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import bot_settings, running_bot
from tests.e2e.test_intake import next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def checked(db: Database, versions: int, timeout: float = 60) -> None:
    """Until the automatic check has run on `versions` versions (reading a scan takes a few seconds)."""
    async with asyncio.timeout(timeout):
        while True:
            async with db.read() as session:
                if await session.scalar(select(func.count()).select_from(EvidenceCheck)) >= versions:
                    return
            await asyncio.sleep(0.1)


async def test_findings_after_the_receipt_in_tinjau_and_cari_finds_a_scanned_word(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path, MONEV_EVIDENCE_WORKERS="1")
    world = await open_broadcast(settings, {"DINKES": 1}, now=datetime.now().astimezone())
    (chat,) = world.liaisons
    budi = fake_telegram.user(chat, first_name="Budi")
    kasi = fake_telegram.user(900_001, first_name="Andi")
    for other in (900_002, world.uploader_chat):
        fake_telegram.user(other)
    samples = {s.name: s for s in corpus.samples()}
    draft = corpus.text_pdf(samples["rancangan-perwal"].lines)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)

        before_budi = len(fake_telegram.sent_messages(budi.id))
        # The receipt, then the automatic check's findings: never a refusal, always labelled as automatic.
        receipt, check = await next_texts(
            fake_telegram, budi, 2, lambda: budi.send_document(draft, "perwal-spbe.pdf", caption="I.01")
        )
        assert "Tanda terima" in receipt and "Versi: 1" in receipt
        assert check.startswith("Pemeriksaan otomatis")
        assert "rancangan atau draf" in check and "tidak ditemukan tempat dan tanggal penetapan" in check
        assert "tidak ditemukan blok tanda tangan (jabatan, nama, NIP)" in check
        assert "Bapak/Ibu dapat mengirim versi baru" in check and "bukan keputusan" in check

        # The Kasi's card: the expected evidence, then the findings.
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.send_text("/tinjau")
        shown = (await fake_telegram.wait_for_messages(kasi.id, before + 2, timeout=15))[before:]
        card = shown[1]["text"]
        assert card.index("Yang diminta: SK") < card.index("Pemeriksaan otomatis")
        assert "rancangan atau draf" in card

        # A scanned page (no text layer) filed as version 2: /cari finds a word that only OCR could read.
        scan = corpus.render(samples["perwal-ditetapkan"], "scan-pdf", seed=2)
        (receipt,) = await next_texts(
            fake_telegram, budi, 1, lambda: budi.send_document(scan, "perwal-ttd.pdf", caption="I.01")
        )
        assert "Versi: 2" in receipt
        await checked(bot.app.services.db, 2)
        # An enacted, signed regulation of the city: no findings, so no message after the receipt.
        assert len(fake_telegram.sent_messages(budi.id)) == before_budi + 3
        (found,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/cari menimbang ditetapkan"))
        assert "Hasil pencarian" in found and "Dinas Kesehatan" in found and "perwal-ttd.pdf" in found
        labels = [b["text"] for b in kasi.buttons()]
        assert labels == ["Berkas DINKES I.01 v2"]
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.press_button(1)
        (sent,) = (await fake_telegram.wait_for_messages(kasi.id, before + 1, timeout=15))[before:]
        assert sent.get("document") and sent.get("caption") == "perwal-ttd.pdf"

        # Words nobody wrote, and no words at all: a short answer, nothing else.
        (nothing,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/cari zzzyx"))
        assert "Tidak ditemukan" in nothing
        (how,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/cari"))
        assert "/cari arsitektur SPBE" in how
        # A liaison may not search.
        (refused,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_text("/cari arsitektur"))
        assert "Hasil pencarian" not in refused
        assert bot.app.scheduler.job_names.count("evidence-text") == 1
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{bot.runtime.web.port}/healthz") as response:
                assert (await response.json())["ocr"] == "ok"  # .ci/run installs Tesseract with 'ind'
