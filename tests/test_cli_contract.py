"""The CLI's exit-code contract, with real `monev` processes: 1 input rejected, 2 configuration error, quiet pipes."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from bot.cli import build_parser, run_cli
from tests.e2e.harness import telegram_env
from tests.fake_telegram.server import FakeBotAPI
from tests.test_console import monev


def _subcommand_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and action of the parser, e.g. ("opd",), ("opd", "list"), ("audit", "export")."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommand_paths(sub, (*prefix, name))


def test_every_subcommand_is_covered_by_the_walk() -> None:
    paths = set(_subcommand_paths(build_parser()))
    assert {("run",), ("shell",), ("db", "upgrade"), ("opd", "list"), ("audit", "export")} <= paths
    assert {("invite",), ("people", "unlock"), ("libur", "add"), ("campaign", "assign")} <= paths


@pytest.mark.parametrize("path", sorted(_subcommand_paths(build_parser())), ids=" ".join)
def test_a_usage_error_exits_1_for_every_subcommand(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli([*path, "--tidak-ada"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "unrecognized arguments: --tidak-ada" in err or "invalid choice" in err or "required" in err, err


@pytest.mark.parametrize(
    "args",
    [
        ["tidak-ada"],
        ["opd"],
        ["opd", "hapus"],
        ["invite", "--count", "banyak"],
        ["people", "revoke", "abc"],
        ["audit", "export"],
        ["campaign", "create", "--title", "T"],
    ],
    ids=" ".join,
)
def test_usage_errors_of_the_real_process_exit_1(args: list[str], tmp_path: Path) -> None:
    result = monev(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "usage: monev" in result.stderr and "Traceback" not in result.stderr


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    assert monev("opd", "--help", cwd=tmp_path).returncode == 0
    assert monev("--version", cwd=tmp_path).returncode == 0


def _one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> str:
    """The process printed exactly one line, naming the variable; returns it."""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("monev: ") and variable in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    "url",
    ["mysql://monev:rahasia@db.example/monev", "sqlite:///data/monev.sqlite3", "postgresql://monev:rahasia@db/monev"],
)
def test_an_unsupported_database_driver_exits_2_naming_the_setting(url: str, tmp_path: Path) -> None:
    result = monev("opd", "list", cwd=tmp_path, env={"MONEV_DATABASE_URL": url})
    assert result.returncode == 2
    line = _one_line_naming(result, "MONEV_DATABASE_URL")
    assert "rahasia" not in line  # the password in the URL is never echoed


def test_an_unparsable_database_url_exits_2(tmp_path: Path) -> None:
    result = monev("opd", "list", cwd=tmp_path, env={"MONEV_DATABASE_URL": "bukan sebuah url"})
    assert result.returncode == 2
    _one_line_naming(result, "MONEV_DATABASE_URL")


def test_a_database_that_does_not_answer_exits_2_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://monev:rahasia@127.0.0.1:{port}/monev"
    result = monev("opd", "list", cwd=tmp_path, env={"MONEV_DATABASE_URL": url})
    assert result.returncode == 2
    line = _one_line_naming(result, "MONEV_DATABASE_URL")
    assert "cannot connect" in line and "rahasia" not in line


def test_a_data_dir_that_cannot_be_created_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "berkas.txt"
    blocker.write_text("a file where the directory should go", encoding="utf-8")
    result = monev("opd", "list", cwd=tmp_path, env={"MONEV_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2
    _one_line_naming(result, "MONEV_DATA_DIR")


def test_a_data_dir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a directory", encoding="utf-8")
    result = monev("db", "upgrade", cwd=tmp_path, env={"MONEV_DATA_DIR": str(blocker)})
    assert result.returncode == 2
    _one_line_naming(result, "MONEV_DATA_DIR")


@pytest.mark.parametrize("target", ["tidak-ada/audit.csv", "."], ids=["missing directory", "a directory"])
def test_out_into_a_missing_directory_or_onto_a_directory_exits_1(target: str, tmp_path: Path) -> None:
    result = monev("audit", "export", "--out", str(tmp_path / target), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("monev: --out"), result.stderr
    assert not (tmp_path / "tidak-ada").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_out_onto_a_full_disk_exits_1_with_one_line(tmp_path: Path) -> None:
    result = monev("audit", "export", "--out", "/dev/full", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "monev: --out: could not write /dev/full (No space left on device)\n"


def test_out_to_a_file_still_writes_it(tmp_path: Path) -> None:
    result = monev("audit", "export", "--out", str(tmp_path / "audit.csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "audit.csv").read_text(encoding="utf-8").startswith("id,at_utc,actor")


def test_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    assert monev("opd", "import", "--default", cwd=tmp_path).returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")}
    clean["MONEV_DATA_DIR"] = str(tmp_path / "data")
    reader, writer = os.pipe()
    os.close(reader)  # like `| head -1` that has already gone: every write meets a closed pipe
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "opd", "list"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=clean,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_missing_letter_says_the_file_does_not_exist(tmp_path: Path) -> None:
    assert monev("opd", "import", "--default", cwd=tmp_path).returncode == 0
    missing = tmp_path / "surat-undangan.pdf"
    result = monev(
        "campaign",
        "create",
        "--title",
        "Monev SPBE 2027",
        "--framework",
        "permenpanrb-59-2020",
        "--deadline",
        "2027-06-30",
        "--letter",
        str(missing),
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == f"monev: --letter: {missing} does not exist\n"
    listing = monev("campaign", "list", cwd=tmp_path)
    assert listing.returncode == 0 and listing.stdout == ""  # nothing was created


# -- `monev run` start-up failures, against a real process ----------------------------------------------------


async def _monev_run(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONEV_")} | env
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=clean,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


def _monev_lines(stderr: str) -> list[str]:
    """The CLI's own lines (log records start with a timestamp); there must be no traceback at all."""
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("monev:")]


async def test_run_with_the_http_port_in_use_exits_2(fake_telegram: FakeBotAPI, tmp_path: Path) -> None:
    with socket.socket() as occupant:
        occupant.bind(("127.0.0.1", 0))
        occupant.listen()
        port = occupant.getsockname()[1]
        env = telegram_env(fake_telegram, tmp_path / "data", MONEV_HTTP_PORT=str(port))
        code, stderr = await _monev_run(env, tmp_path)
    assert code == 2, stderr
    (line,) = _monev_lines(stderr)
    assert "MONEV_HTTP_PORT" in line and str(port) in line and "in use" in line
    assert stderr.splitlines()[-1] == line


@asynccontextmanager
async def garbage_bot_api(body: str, content_type: str) -> AsyncIterator[str]:
    """A Bot API that answers every method, getMe included, with the same unusable body; yields its base URL."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "text/html"),
        ('{"ok": true, "result": "garbage"}', "application/json"),
        ('{"ok": true, "result": {"id": 5}}', "application/json"),
        ('{"ok": false}', "application/json"),
        ('{"ok": true, "result": {"id": 5, "is_bot": true, "first_name": "Tanpa Username"}}', "application/json"),
    ],
    ids=["html", "not an object", "missing fields", "no result", "no username"],
)
async def test_run_against_a_bot_api_answering_getme_with_garbage_exits_2(
    body: str, content_type: str, tmp_path: Path
) -> None:
    async with garbage_bot_api(body, content_type) as base_url:
        env = {
            "MONEV_DATA_DIR": str(tmp_path / "data"),
            "MONEV_TELEGRAM_TOKEN": "123456:rahasia-token-bot",
            "MONEV_TELEGRAM_BASE_URL": base_url,
            "MONEV_HTTP_PORT": "0",
        }
        code, stderr = await _monev_run(env, tmp_path)
    assert code == 2, stderr
    (line,) = _monev_lines(stderr)
    assert "MONEV_TELEGRAM_BASE_URL" in line and "getMe" in line
    assert stderr.splitlines()[-1] == line
    assert "rahasia-token-bot" not in stderr
