"""`/ekspor` and `/ekspor paket` through the real transport: the file comes as a document through the outbox, reads
back with openpyxl or unzips with its checksums; the package is for admins only."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from storage.models import Role
from tests.e2e.broadcast_world import PDF, open_broadcast
from tests.e2e.harness import bot_settings, registered, running_bot
from tests.e2e.test_intake import next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


def document_of(fake: FakeBotAPI, message: dict[str, object]) -> tuple[str, bytes]:
    """The name and the bytes of a document the bot sent."""
    document = message["document"]
    assert isinstance(document, dict), message
    return str(document["file_name"]), fake.files[str(document["file_id"])].data


async def test_ekspor_sends_the_workbook_and_ekspor_paket_the_package_to_admins_only(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    # DINKES has a liaison and answers I.01; BPBD is asked too but has no liaison at all.
    world = await open_broadcast(settings, {"DINKES": 1}, extra_opds=("BPBD",), now=datetime.now().astimezone())
    (chat,) = world.liaisons
    budi = fake_telegram.user(chat, first_name="Budi")
    kasi = fake_telegram.user(900_001, first_name="Andi")
    kabid = fake_telegram.user(900_002, first_name="Hendra")
    fake_telegram.user(world.uploader_chat)
    async with running_bot(settings) as bot:
        await fake_telegram.wait_for_messages(budi.id, 2, timeout=15)
        await fake_telegram.wait_for_messages(kasi.id, 1, timeout=15)
        (receipt,) = await next_texts(fake_telegram, budi, 1, lambda: budi.send_document(PDF, "sk.pdf", caption="I.01"))
        assert "Versi: 1" in receipt
        before = len(fake_telegram.sent_messages(kasi.id))
        kasi.send_text("/tinjau")
        await fake_telegram.wait_for_messages(kasi.id, before + 2, timeout=15)
        (accepted,) = await next_texts(fake_telegram, budi, 1, lambda: kasi.press_button(1))
        assert "diterima" in accepted
        # The Kasi's own answer to the press may come after the liaison's notice: wait for it too.
        await fake_telegram.wait_for_messages(kasi.id, before + 3, timeout=15)

        # The Kabid asks for the workbook: a reply, then the document through the outbox.
        before = len(fake_telegram.sent_messages(kabid.id))
        kabid.send_text("/ekspor")
        reply, sent = (await fake_telegram.wait_for_messages(kabid.id, before + 2, timeout=30))[before:]
        assert "Rekap kegiatan Monev Evaluasi Mandiri SPBE 2026 (#1) sudah disiapkan" in reply["text"], reply
        assert "2 OPD, 1 berkas tercatat" in reply["text"]
        name, data = document_of(fake_telegram, sent)
        assert name.startswith(f"rekap-kegiatan-{world.campaign_id}-") and name.endswith(".xlsx")
        assert "keadaan per" in str(sent.get("caption"))
        book = openpyxl.load_workbook(io.BytesIO(data))
        assert book.sheetnames == ["Ringkasan", "Matriks", "Berkas", "Linimasa"]
        summary = {row[0]: row for row in book["Ringkasan"].iter_rows(min_row=5, max_row=6, values_only=True)}
        assert set(summary) == {"DINKES", "BPBD"} and summary["BPBD"][2] == "(belum ada penghubung)"
        assert [r[3] for r in book["Berkas"].iter_rows(min_row=5, values_only=True) if r[0]] == ["sk.pdf"]

        # The package is for admins: the Kasi is refused, an admin gets the ZIP.
        (refused,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/ekspor paket"))
        assert "hanya dapat diunduh oleh Admin Diskominfo" in refused
        (usage,) = await next_texts(fake_telegram, kasi, 1, lambda: kasi.send_text("/ekspor semuanya"))
        assert "Mohon tulis /ekspor untuk rekap" in usage and "paket" not in usage
        admin = await registered(fake_telegram, bot, 7301, Role.ADMIN)
        before = len(fake_telegram.sent_messages(admin.id))
        admin.send_text(f"/ekspor paket #{world.campaign_id}")
        reply, sent = (await fake_telegram.wait_for_messages(admin.id, before + 2, timeout=30))[before:]
        assert "Paket bukti kegiatan Monev" in reply["text"] and "1 item yang diterima" in reply["text"], reply
        name, data = document_of(fake_telegram, sent)
        assert name.startswith(f"paket-bukti-kegiatan-{world.campaign_id}-") and name.endswith(".zip")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            assert {"per-indikator/I.01/DINKES/sk.pdf", "per-opd/DINKES/I.01/sk.pdf", "manifest.csv"} <= names
            assert archive.read("per-opd/DINKES/I.01/sk.pdf") == PDF
            assert "SHA256SUMS" in names and f"rekap-kegiatan-{world.campaign_id}.xlsx" in names
