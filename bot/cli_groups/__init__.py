"""Subcommand groups of `monev` (opd, invite, people, audit, ...): each module has `NAME`, `add_parser` and `run`.

`add_parser(commands)` adds the group's subparser to the top-level subparsers; `async run(app, args) -> int`
returns the exit code (0 ok, 1 input rejected: raise `bot.cli_support.CliRejected`).
"""

from __future__ import annotations

from types import ModuleType

from bot.cli_groups import audit, campaign, invite, libur, opd, people

GROUPS: tuple[ModuleType, ...] = (opd, invite, people, audit, libur, campaign)
