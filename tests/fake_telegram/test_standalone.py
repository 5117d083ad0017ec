"""The fake's script lines (issue 12, item 19): buttons by number, by message and by label; albums; groups; photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from tests.fake_telegram import FakeBotAPI
from tests.fake_telegram.demo import SAMPLES, sample_or_path
from tests.fake_telegram.standalone import USAGE, describe, run_line

PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0" + bytes(40) + b"\xff\xd9"


def markup(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=label.lower())] for label in labels])


async def test_tekan_presses_by_number_on_a_named_message_or_by_label(fake_telegram: FakeBotAPI) -> None:
    fake_telegram.user(1001, first_name="Rina")
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as bot:
        first = await bot.send_message(1001, "Pertama", reply_markup=markup("Setujui", "Kembalikan"))
        second = await bot.send_message(1001, "Kedua", reply_markup=markup("Selesai"))
        assert describe("sent", second.to_dict()) == f"[to 1001 @{second.message_id}] Kedua\n    [1] Selesai"
        await run_line(fake_telegram, "1001 :tekan 1")
        await run_line(fake_telegram, f"1001 :tekan 2 @{first.message_id}")
        await run_line(fake_telegram, "1001 :tekan setujui")
        pressed = [u["callback_query"] for u in (q.update for q in fake_telegram.pending)]
    assert [(p["data"], p["message"]["message_id"]) for p in pressed] == [
        ("selesai", second.message_id),
        ("kembalikan", first.message_id),
        ("setujui", first.message_id),
    ]
    with pytest.raises(LookupError, match="no button labelled 'Hapus'"):
        await run_line(fake_telegram, "1001 :tekan Hapus")


async def test_album_group_and_photo_lines(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "gambar.png").write_bytes(PNG)
    (tmp_path / "foto.jpg").write_bytes(JPEG)
    await run_line(fake_telegram, f"1001 :album {tmp_path / 'a.pdf'} {tmp_path / 'b.pdf'} -- I.01")
    await run_line(fake_telegram, "-100 1001 /status")
    await run_line(fake_telegram, f"1001 :foto {tmp_path / 'gambar.png'} I.02")
    await run_line(fake_telegram, f"1001 :foto {tmp_path / 'foto.jpg'}")
    album_a, album_b, group, png, jpeg = [q.update["message"] for q in fake_telegram.pending]
    assert album_a["media_group_id"] == album_b["media_group_id"] and album_a["caption"] == "I.01"
    assert [album_a["document"]["file_name"], album_b["document"]["file_name"]] == ["a.pdf", "b.pdf"]
    assert (group["chat"]["id"], group["chat"]["type"], group["from"]["id"], group["text"]) == (
        -100,
        "group",
        1001,
        "/status",
    )
    # a PNG is not a Telegram photo (those are JPEGs): it goes as a document under its own name
    assert "photo" not in png and png["document"]["file_name"] == "gambar.png" and png["caption"] == "I.02"
    assert "photo" in jpeg and "document" not in jpeg
    with pytest.raises(ValueError, match="at least two"):
        await run_line(fake_telegram, f"1001 :album {tmp_path / 'a.pdf'}")
    with pytest.raises(ValueError, match="GROUP_ID USER_ID text"):
        await run_line(fake_telegram, "-100 /status")


def test_a_bare_sample_name_finds_the_shipped_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sample_or_path("laporan.pdf") == SAMPLES / "laporan.pdf"
    (tmp_path / "laporan.pdf").write_bytes(b"mine")
    assert sample_or_path("laporan.pdf") == Path("laporan.pdf")  # a file of one's own wins
    assert sample_or_path("tidak/ada.pdf") == Path("tidak/ada.pdf")
    assert ":album" in USAGE and ":tekan N [@M]" in USAGE and "GROUP_ID USER_ID" in USAGE
