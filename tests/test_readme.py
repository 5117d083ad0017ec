"""The README's Quick start, run exactly as written (issue 12, items 18 and 19).

The console part types its lines into `make run` and `monev shell` on a terminal; the fake-Telegram part registers
the `--demo` people and sends the README's script lines through the fake to a running bot.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from tests.e2e.harness import BotProcess, telegram_env
from tests.fake_telegram.demo import register_people
from tests.fake_telegram.models import DEFAULT_TOKEN
from tests.fake_telegram.server import FakeBotAPI
from tests.fake_telegram.standalone import describe, run_line
from tests.terminal import clean_env, on_terminal

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def quick_start(part: str) -> list[tuple[str, list[str]]]:
    """The fenced blocks of the Quick start (`console`: before the fake's subsection; `fake`: in it), in order."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Quick start") : text.index("## Commands")]
    console, fake = section.split("### Trying the real Telegram transport locally")
    chosen = console if part == "console" else fake.split("### ")[0]
    return [(kind, body.strip("\n").splitlines()) for kind, body in FENCE.findall(chosen)]


def test_the_console_lines_take_a_newcomer_to_a_received_document(tmp_path: Path) -> None:
    blocks = quick_start("console")
    assert [kind for kind, _ in blocks] == ["sh", "text", "sh", "text"]
    typed = [line for _, lines in blocks for line in lines]
    assert len(typed) <= 5, typed
    env = clean_env(tmp_path / "data", MONEV_LOG_LEVEL="WARNING")
    outputs = []
    for (_, (command,)), (_, lines) in zip(blocks[::2], blocks[1::2], strict=True):
        argv = shlex.split(command)
        ready = "Tekan Ctrl-D untuk keluar" if argv == ["make", "run"] else ""
        session = on_terminal(argv, lines, cwd=ROOT, env=env, ready=ready)
        assert session.returncode == 0, session.output
        assert "Traceback" not in session.output and "[error]" not in session.output
        outputs.append(session.output)
    made, shell = outputs
    assert "loaded the 32 OPDs of Kota Pontianak" in made and "Daftar OPD (32 aktif" in made
    assert "Berkas diterima dan disimpan:\nlaporan.pdf (" in shell and "SHA-256" in shell


@pytest.mark.e2e
async def test_the_fake_telegram_demo_lines_work_as_printed(
    fake_telegram: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (start, settings), (kind, lines) = quick_start("fake")
    assert (start, kind) == ("sh", "text")
    assert "--demo" in settings[0] and f"MONEV_TELEGRAM_TOKEN={DEFAULT_TOKEN}" in " ".join(settings)
    for name in [k for k in os.environ if k.startswith("MONEV_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MONEV_DATA_DIR", str(tmp_path / "data"))  # `monev invite` of the demo: the bot's database
    shown: list[str] = []
    fake_telegram.add_listener(lambda kind, message: shown.extend(filter(None, [describe(kind, message)])))
    bot = BotProcess(telegram_env(fake_telegram, tmp_path / "data"), cwd=tmp_path)  # `monev run`, as in the README
    await bot.start()
    try:
        people = await register_people(fake_telegram, shown.append, wait=60)
        assert len({p.first_name for p in people}) == len(people) > 2
        assert "demo:   1001  Rina Wulandari  Penghubung OPD DISKOMINFO" in shown
        for line in lines:
            chat = int(line.split()[0])
            before = len(fake_telegram.sent_messages(chat))
            await run_line(fake_telegram, line)
            await fake_telegram.wait_for_messages(chat, before + 1)
        answers = fake_telegram.texts(1001)[-2:] + fake_telegram.texts(1002)[-3:]
    finally:
        assert await bot.terminate() == 0, bot.stderr.decode()[-2000:]
    saya, receipt, listing, asked, cancelled = answers
    assert saya.startswith("Rina (ID ") and "Penghubung OPD — Dinas Komunikasi" in saya
    assert "laporan.pdf" in receipt and "diterima" in receipt
    assert "Kegiatan Monev SPBE" in listing or "Belum ada kegiatan Monev" in listing
    assert asked.startswith("Kegiatan Monev baru") and "Dibatalkan" in cancelled
    assert not [s for s in shown if s.startswith("[error]")]
