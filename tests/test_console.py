"""The console channel and the `monev` CLI, run as real processes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import MonevApp
from bot.channels.console import ConsoleChannel
from bot.conversation.core import Actor, Assignment, Button, Reply
from bot.conversation.dispatch import Dispatcher
from bot.conversation.handling import Context, Registry
from storage.models import Role

ROOT = Path(__file__).resolve().parents[1]


def monev(
    *args: str, stdin: str = "", cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `monev` entry point in a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    clean.update({"MONEV_DATA_DIR": str(cwd / "data"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean,
        timeout=60,
    )


def test_piped_shell_answers_every_line_and_exits_0(tmp_path: Path) -> None:
    result = monev("shell", "--as", "admin", stdin="/start\n/help\n/perintahaneh\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Selamat datang di Bot Monev SPBE Kota Pontianak" in out
    assert "Perintah yang bisa Anda pakai" in out
    assert "Perintah /perintahaneh tidak dikenal" in out
    assert "<b>" not in out and "Traceback" not in result.stderr
    assert (tmp_path / "data" / "monev.sqlite3").is_file()


def test_shell_refuses_an_unknown_role_or_opd(tmp_path: Path) -> None:
    unknown_role = monev("shell", "--as", "walikota", cwd=tmp_path)
    assert unknown_role.returncode == 1 and "unknown role" in unknown_role.stderr
    unknown_opd = monev("shell", "--as", "opd:TIDAKADA", cwd=tmp_path)
    assert unknown_opd.returncode == 1 and "TIDAKADA" in unknown_opd.stderr
    missing_opd = monev("shell", "--as", "opd", cwd=tmp_path)
    assert missing_opd.returncode == 1 and "harus disertai kode OPD" in missing_opd.stderr


def test_run_without_channel_or_terminal_exits_2(tmp_path: Path) -> None:
    result = monev("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "MONEV_TELEGRAM_TOKEN" in result.stderr
    assert result.stderr.count("\n") == 1


def test_version_help_and_db_upgrade(tmp_path: Path) -> None:
    version = monev("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("monev ")
    usage = monev("--help", cwd=tmp_path)
    assert usage.returncode == 0 and "shell" in usage.stdout and "run" in usage.stdout
    upgrade = monev("db", "upgrade", cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "up to date" in upgrade.stdout


async def _choices(ctx: Context) -> Reply:
    return Reply("Pilih item:", buttons=((Button("I.01", "pilih:1"), Button("I.02", "pilih:2")),))


async def _chosen(ctx: Context) -> Reply:
    return Reply(f"Anda memilih <b>{ctx.request.payload}</b> &amp; selesai")


async def test_console_buttons_and_files(app: MonevApp, tmp_path: Path) -> None:
    registry = Registry()
    registry.command("start", _choices)
    registry.button("pilih", _chosen)
    dispatcher = Dispatcher(app.services, registry)
    out = io.StringIO()
    actor = Actor(1, "console:uji", (Assignment(Role.ADMIN),))
    console = ConsoleChannel(dispatcher, actor, "uji", out, app.now)
    document = tmp_path / "surat.pdf"
    document.write_bytes(b"%PDF-1.4 isi")
    script = f"/start\n:tekan 2\n:tekan 9\n:file {document} I.01\n:file /tidak/ada.pdf\n:aneh\n"
    await console.run(io.StringIO(script))
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["Pilih item:", "[1] I.01", "[2] I.02"]
    assert "Anda memilih pilih:2 & selesai" in lines
    assert "Tidak ada tombol nomor 9. Pilih salah satu nomor tombol yang ditampilkan terakhir." in lines
    assert any("belum bisa saya proses" in line for line in lines)  # attachments have no handler yet
    assert "Berkas tidak ditemukan: /tidak/ada.pdf" in lines
    assert any(line.startswith("Perintah konsol:") for line in lines)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_console_script_is_installed(flag: str) -> None:
    script = Path(sys.executable).parent / "monev"
    assert script.exists(), "the `monev` console script is missing: run `make test` to install the project"
    result = subprocess.run([str(script), flag], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
