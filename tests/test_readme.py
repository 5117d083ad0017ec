"""The README's Quick start, run exactly as written (issue 12, items 18 and 19).

The console part types its lines into `make run` and `monev shell` on a terminal; the fake-Telegram part registers
the `--demo` people and sends the README's script lines through the fake to a running bot.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.chat_words import offending
from tests.e2e.harness import BotProcess
from tests.fake_telegram.models import DEFAULT_TOKEN
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
    assert offending(made + shell) == []


@pytest.mark.e2e
async def test_the_fake_telegram_demo_lines_work_as_printed(tmp_path: Path) -> None:
    (start, settings), (kind, lines) = quick_start("fake")
    assert (start, kind) == ("sh", "text")
    fake_command = shlex.split(settings[0].split("#")[0])
    assert fake_command[:3] == [".venv/bin/python", "-m", "tests.fake_telegram"] and "--demo" in fake_command
    assert f"MONEV_TELEGRAM_TOKEN={DEFAULT_TOKEN}" in " ".join(settings)
    # As written, but on a free port, and ending when its script does; both processes share one data directory.
    argv = [sys.executable, *fake_command[1:], "--exit-on-eof"]
    argv[argv.index("--port") + 1] = "0"
    env = clean_env(tmp_path / "data")
    pipe = asyncio.subprocess.PIPE
    fake = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stdin=pipe, stdout=pipe)
    assert fake.stdin is not None and fake.stdout is not None
    bot: BotProcess | None = None
    shown: list[str] = []

    async def next_line() -> str:
        raw = await asyncio.wait_for(fake.stdout.readline(), 60)  # type: ignore[union-attr]
        assert raw, f"the fake ended early: {shown}"
        shown.append(raw.decode().rstrip("\n"))
        return shown[-1]

    try:
        bot_settings = dict([(await next_line()).split("=", 1) for _ in range(3)])
        bot = BotProcess({**env, **bot_settings}, cwd=tmp_path)
        await bot.start()
        while not (await next_line()).startswith("demo: sample files"):
            pass
        assert "demo:   1001  Rina Wulandari  Penghubung OPD DISKOMINFO" in shown
        assert len({line.split()[2] for line in shown if re.match(r"demo:   \d+ ", line)}) == 4  # distinct names
        answers = []
        for line in lines:
            fake.stdin.write(f"{line}\n".encode())
            await fake.stdin.drain()
            chat = line.split()[0]
            while not (answer := await next_line()).startswith(f"[to {chat} @"):
                assert not answer.startswith("[error]"), answer
            answers.append(len(shown) - 1)
        fake.stdin.close()
        assert await asyncio.wait_for(fake.wait(), 30) == 0
    finally:
        if fake.returncode is None:
            fake.kill()
            await fake.wait()
        if bot is not None:
            assert await bot.terminate() == 0, bot.stderr.decode()[-2000:]
    # each answer with the lines printed after it, up to the next one
    saya, receipt, listing, asked, cancelled = [
        "\n".join(shown[start:end]) for start, end in zip(answers, [*answers[1:], len(shown)], strict=True)
    ]
    assert "] Rina (ID " in saya
    assert "laporan.pdf" in receipt and "diterima" in receipt
    assert "Kegiatan Monev" in listing
    assert "] Kegiatan Monev baru (ketik /batal" in asked and "Dibatalkan" in cancelled
    assert not [line for line in shown if line.startswith("[error]")]
    assert [line for line in shown if offending(line)] == []
