"""No idle polling: what this process commits wakes the job that sends or closes it.

The outbox and upload-batch jobs keep a slow interval only as a safety poll for rows written by other processes.
Here that interval is an hour, so whatever goes out in this test went out because its commit woke the job, or
because the job scheduled itself for the batch's due time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jobs import outbox_dispatch, upload_batches
from tests.e2e.harness import bot_settings, running_bot
from tests.e2e.test_intake import liaison_world, next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def test_an_album_is_closed_at_its_due_time_and_its_receipt_sent_without_polling(
    fake_telegram: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_dispatch, "EVERY_SECONDS", 3600.0)
    monkeypatch.setattr(upload_batches, "EVERY_SECONDS", 3600.0)
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        # The broadcast queued before the start goes out at once (the job runs when the lease is taken).
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        # An album: its receipt comes from the upload-batches job (2 s after the last part) through the outbox.
        group = fake_telegram.new_media_group_id()
        photo_a, photo_b = b"\xff\xd8\xff\xe0" + b"a" * 500, b"\x89PNG\r\n\x1a\n" + b"b" * 500
        liaison.send_document(photo_a, "foto-1.jpg", mime_type="image/jpeg", caption="I.16", media_group_id=group)
        await asyncio.sleep(0.3)
        (album,) = await next_texts(
            fake_telegram,
            liaison,
            1,
            lambda: liaison.send_document(photo_b, "foto-2.png", mime_type="image/png", media_group_id=group),
        )
    assert "Item: I.16" in album and "foto-1.jpg" in album and "foto-2.png" in album
