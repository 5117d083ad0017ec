"""The `monev` command line. Exit codes: 0 ok, 1 input rejected, 2 configuration error.

Each subcommand group (opd, invite, people, audit, libur, campaign, kirim, export, score, and the operations:
backup, restore, check, status) is a module of this package with
`NAME`, `add_parser` and `run`: `add_parser(commands)` adds the group's subparser to the top-level subparsers;
`async run(app, args) -> int` returns the exit code (0 ok, 1 input rejected: raise `bot.cli.support.CliRejected`).
`bot.cli.support` holds what the groups share.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot import __version__
from bot.app import MonevApp, build_app, build_channels
from bot.channels.console import to_plain_text
from bot.cli import audit, backup, campaign, check, export, invite, kirim, libur, opd, people, restore, score, status
from bot.cli.support import CliRejected, cli_acting
from bot.domain.enums import Role
from bot.errors import DomainError
from bot.logging_setup import configure_logging
from bot.messaging.channel import ConfigurationError
from bot.services import registry
from bot.settings import Settings, SettingsError, load_settings, prepare_data_dir

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_REJECTED, EXIT_CONFIG = 0, 1, 2

GROUPS: tuple[ModuleType, ...] = (
    opd,
    invite,
    people,
    audit,
    libur,
    campaign,
    kirim,
    export,
    score,
    backup,
    restore,
    check,
    status,
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error, but the contract keeps 2 for configuration errors: usage errors exit 1.

    Subcommand parsers are made with the parent's class, so this covers every `monev` subcommand.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_REJECTED, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="monev", description="Bot Monev SPBE Kota Pontianak: run the bot and manage its data.")
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
    try:
        code = run_cli(argv)
        sys.stdout.flush()  # a short output is still buffered here: a closed pipe shows up now
    except BrokenPipeError:
        # The reader went away (`monev opd list | head -1`): stop quietly, as Unix tools do. Point stdout at
        # /dev/null so the interpreter's last flush at exit does not report the same pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)


def run_cli(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_OK
    try:
        settings = load_settings()
        prepare_data_dir(settings.data_dir)
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
        if (problem := await _database_problem(app)) is not None:
            print(f"monev: {problem}", file=sys.stderr)
            return EXIT_CONFIG
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
    from bot.runtime import Runtime  # the web server and the channels: only `monev run` loads them

    await _first_start(app)
    runtime = Runtime(app, build_channels(app))
    try:
        await runtime.start()
    except (ConfigurationError, OSError) as error:
        problem = str(error) if isinstance(error, ConfigurationError) else _listen_problem(error, app.settings)
        if problem is None:
            raise
        print(f"monev: {problem}", file=sys.stderr)
        await runtime.stop()
        return EXIT_CONFIG
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.create_task(runtime.run(), name="lease"), asyncio.create_task(stop.wait(), name="stop")]
    if not app.settings.channels:
        print(to_plain_text(app.services.renderer.render("konsol/tanpa_kanal")), flush=True)
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


async def _first_start(app: MonevApp) -> None:
    """On an empty registry, load the shipped OPD list, so a fresh clone's `make run` has OPDs to work with."""
    async with app.services.db.read() as session:
        if await registry.list_opds(session):
            return
    acting = await cli_acting(app)
    try:
        async with app.services.db.write() as session:
            report = await registry.load_default_if_empty(session, acting=acting, now=app.now())
    except IntegrityError:
        # Another instance sharing the database loaded them at the same moment: its list is the same one.
        logger.info("the default OPD list was loaded by another instance")
        return
    if report is not None:
        print(f"monev: the OPD registry was empty: loaded the {report.added} OPDs of Kota Pontianak (monev opd list)")


async def _database_problem(app: MonevApp) -> str | None:
    """Connect once before migrating: an unreachable server, a wrong password or a missing database is a setting."""
    try:
        async with app.services.db.engine.connect():
            return None
    except (OSError, DBAPIError) as error:
        reason = str(error.orig if isinstance(error, DBAPIError) else error).splitlines()[0]
        password = make_url(app.settings.database_url).password
        if password:
            reason = reason.replace(str(password), "***")
        return f"MONEV_DATABASE_URL: cannot connect to the database ({reason})"


def _listen_problem(error: OSError, settings: Settings) -> str | None:
    """The web server could not listen: which setting to change (None: not a listening problem)."""
    address = f"{settings.http_host}:{settings.http_port}"
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return f"MONEV_HTTP_HOST: cannot listen on {settings.http_host!r}: not an address of this machine"
    if error.errno == errno.EADDRINUSE:
        return f"MONEV_HTTP_PORT: {address} is already in use (another monev, or another server?)"
    if error.errno == errno.EACCES:
        return f"MONEV_HTTP_PORT: not allowed to listen on {address} (ports below 1024 need privileges)"
    return None
