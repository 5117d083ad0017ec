"""The `monev` command line. Exit codes: 0 ok, 1 input rejected, 2 configuration error."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot import __version__
from bot.app import MonevApp, build_app
from bot.channels.console import to_plain_text
from bot.channels.telegram.channel import ConfigurationError
from bot.cli_groups import GROUPS
from bot.cli_support import CliRejected
from bot.errors import DomainError
from bot.logging_setup import configure_logging
from bot.runtime import Runtime
from bot.settings import Settings, SettingsError, load_settings
from storage.models import Role

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_REJECTED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monev", description="Bot Monev SPBE Kota Pontianak: run the bot and manage its data."
    )
    parser.add_argument("--version", action="version", version=f"monev {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="start the channels, the web server and the scheduler")
    shell = commands.add_parser("shell", help="talk to the bot in this terminal (the console channel)")
    shell.add_argument("--as", dest="as_role", required=True, metavar="ROLE[:OPD_CODE]")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply the database migrations")
    for group in GROUPS:
        group.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `monev` console script."""
    sys.exit(run_cli(argv))


def run_cli(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_OK
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"monev: bad setting {error}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    try:
        return asyncio.run(_dispatch(args, settings))
    except CliRejected as error:
        print(f"monev: {error}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return EXIT_OK


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    app = build_app(settings)
    try:
        await app.prepare()
        if args.command == "db":
            print("monev: database is up to date")
            return EXIT_OK
        for group in GROUPS:
            if args.command == group.NAME:
                return int(await group.run(app, args))
        if args.command == "shell":
            role, opd_code = parse_role(args.as_role)
            await _run_console(app, role, opd_code)
            return EXIT_OK
        return await _run(app)
    finally:
        await app.close()


def parse_role(text: str) -> tuple[Role, str | None]:
    """`admin` or `opd:DISKOMINFO` → (Role, OPD code or None)."""
    name, _, opd_code = text.partition(":")
    try:
        role = Role(name.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise CliRejected(f"unknown role {name!r}; choose one of: {roles}") from None
    return role, opd_code.strip().upper() or None


async def _run_console(app: MonevApp, role: Role, opd_code: str | None) -> None:
    try:
        console = await app.console(role, opd_code, sys.stdout)
    except DomainError as refusal:
        raise CliRejected(to_plain_text(app.services.renderer.render(refusal.template, **refusal.params))) from None
    await console.run(sys.stdin)


async def _run(app: MonevApp) -> int:
    """`monev run`: channels, web server and scheduler; with no channel, the console on a terminal."""
    if not app.settings.channels and not sys.stdin.isatty():
        print(
            "monev: no channel configured: set MONEV_TELEGRAM_TOKEN (or run `monev shell --as ROLE`)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    runtime = Runtime(app)
    try:
        await runtime.start()
    except ConfigurationError as error:
        print(f"monev: {error}", file=sys.stderr)
        await runtime.stop()
        return EXIT_CONFIG
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.create_task(runtime.run(), name="lease"), asyncio.create_task(stop.wait(), name="stop")]
    if not app.settings.channels:
        print(app.services.renderer.render("konsol/tanpa_kanal"))
        waits.append(asyncio.create_task(_run_console(app, Role.ADMIN, None), name="console"))
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), ConfigurationError):
                print(f"monev: {task.exception()}", file=sys.stderr)
                return EXIT_CONFIG
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return EXIT_OK
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        await runtime.stop()
