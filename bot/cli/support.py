"""What the `monev` subcommand groups share: the CLI's own person, the input-rejected error, output files."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.app import MonevApp
from bot.channels.console import to_plain_text
from bot.domain.enums import Channel
from bot.errors import DomainError
from bot.services import identity
from bot.services.audit import Acting


def cli_time(moment: datetime, zone: ZoneInfo) -> str:
    """'2026-05-29 23:59 WIB': a time in the CLI's English lines (the chat's words, 'Jumat, 29 Mei …', stay in chat)."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


class CliRejected(Exception):
    """Input the CLI refuses; the message is printed as one line and the exit code is 1."""


async def cli_acting(app: MonevApp) -> Acting:
    """The CLI acts as a person of its own, `cli:<unix user>`, created on first use, so audit rows name it."""
    async with app.services.db.write() as session:
        person_id = await identity.ensure_local_person(session, Channel.CLI, getpass.getuser(), app.now())
    return Acting(person_id=person_id, role="cli", channel=Channel.CLI.value)


@contextmanager
def refusals_as_rejections(app: MonevApp) -> Iterator[None]:
    """A service's DomainError becomes one plain-text line and exit code 1."""
    try:
        yield
    except DomainError as refusal:
        text = to_plain_text(app.services.renderer.render(refusal.template, **refusal.params)).strip()
        raise CliRejected(text) from None


def check_output(path: Path, option: str = "--out") -> Path:
    """Refuse an output path before doing any work: its directory must exist and it must not be a directory."""
    if path.is_dir():
        raise CliRejected(f"{option}: {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CliRejected(f"{option}: the directory {path.parent} does not exist")
    return path


@contextmanager
def open_output(path: Path, option: str = "--out", *, newline: str | None = None) -> Iterator[TextIO]:
    """Open a checked output file for writing; a file that cannot be written (or filled) is one line and exit 1."""
    check_output(path, option)
    try:
        handle = path.open("w", newline=newline, encoding="utf-8")
    except OSError as error:
        raise CliRejected(f"{option}: cannot write {path} ({error.strerror or error})") from None
    try:
        with handle:
            yield handle
    except BrokenPipeError:
        raise  # `--out /dev/stdout | head`: the entry point ends quietly
    except OSError as error:  # e.g. the disk is full: leave no truncated file behind
        if path.is_file():
            path.unlink(missing_ok=True)
        raise CliRejected(f"{option}: could not write {path} ({error.strerror or error})") from None
