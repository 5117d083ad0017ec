"""`monev status`: how the installation is doing, read from the database (the figures /healthz returns too)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import MonevApp
from bot.cli.support import cli_time
from bot.services import operations

NAME = "status"


def add_parser(commands: Any) -> None:
    commands.add_parser("status", help="lease holder, journal and outbox backlog, last reminder tick, last contacts")


async def run(app: MonevApp, _args: argparse.Namespace) -> int:
    async with app.services.db.read() as session:
        state = await operations.status(session)
    zone = app.settings.timezone
    if state.lease is None:
        print("lease:          no instance has held it yet")
    else:
        renewed = cli_time(state.lease.renewed_at, zone)
        print(f"lease:          {state.lease.holder} (epoch {state.lease.epoch}, renewed {renewed})")
    print(f"journal:        {state.journal_backlog} waiting, {state.journal_failed} failed")
    by_state = ", ".join(f"{k} {v}" for k, v in sorted(state.outbox.items())) or "empty"
    print(f"outbox:         {state.outbox_backlog} waiting ({by_state})")
    tick = cli_time(state.last_reminder_tick, zone) if state.last_reminder_tick else "never"
    print(f"reminder tick:  {tick}")
    contacts = ", ".join(f"{c} {cli_time(t, zone)}" for c, t in sorted(state.last_contact.items())) or "none yet"
    print(f"last contact:   {contacts}")
    campaigns = ", ".join(f"{k} {v}" for k, v in sorted(state.campaigns.items())) or "none"
    print(f"campaigns:      {campaigns}")
    print(f"files:          {state.files} ({state.file_bytes / 1_000_000:.1f} MB)")
    return 0
