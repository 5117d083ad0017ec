"""The item picker as a liaison meets it: long titles cut at a word, items already sent marked and shown last."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.conversation.core import ELLIPSIS, TITLE_LABEL_CHARS
from tests.e2e.broadcast_world import PDF, tagged_pdf
from tests.e2e.harness import bot_settings, running_bot
from tests.e2e.test_intake import liaison_world, next_texts
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e
# DINKES's items in the PEMDI framework, in checklist order; I.15's title alone is 69 characters.
CODE = re.compile(r"I\.\d+")
I15 = "I.15 Keterpaduan Proses Bisnis Pemerintah Digital Lintas Unit dan Instansi"


async def test_item_buttons_cut_at_a_word_and_filed_items_come_last_with_their_state(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    world, liaison = await liaison_world(fake_telegram, tmp_path)
    async with running_bot(bot_settings(fake_telegram, tmp_path)):
        await fake_telegram.wait_for_messages(liaison.id, 2, timeout=15)
        (receipt,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(PDF, "sk.pdf", caption="I.13")
        )
        assert "Item: I.13" in receipt

        (asked,) = await next_texts(
            fake_telegram, liaison, 1, lambda: liaison.send_document(tagged_pdf(b"lain"), "lain.pdf")
        )
        assert "Untuk item mana" in asked
        labels = [b["text"] for b in liaison.buttons()]
        assert labels[-1] == "Batal" and len(labels) == 7 + 1
        items = labels[:-1]
        # I.13, sent already, comes after the items still to send, and says so; the legend explains the mark.
        codes = [CODE.findall(label)[0] for label in items]
        assert codes == ["I.15", "I.16", "I.17", "I.18", "I.19", "I.20", "I.13"]
        assert items[-1].startswith("📤 I.13") and "📤" in asked
        assert not any(label.startswith("📤") for label in items[:-1])
        # I.15's label is cut after a whole word, with an ellipsis, within the limit.
        cut = items[0]
        assert cut.endswith(ELLIPSIS) and len(cut) <= TITLE_LABEL_CHARS, cut
        kept = cut.removesuffix(ELLIPSIS)
        assert I15.startswith(kept) and I15[len(kept)] == " ", cut

        # The marked item can still be chosen (a new version of it).
        (filed,) = await next_texts(fake_telegram, liaison, 1, lambda: liaison.press_button(7))
        assert "Item: I.13" in filed and "Versi: 2" in filed
