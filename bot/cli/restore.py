"""`monev restore FILE.tar [--force]`: verify the archive, refuse to overwrite data, restore, migrate, check."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.app import MonevApp
from bot.cli import check
from bot.cli.support import CliRejected
from bot.services import operations
from storage import backup

NAME = "restore"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("restore", help="restore a `monev backup` archive into an empty installation")
    parser.add_argument("archive", metavar="FILE.tar")
    parser.add_argument("--force", action="store_true", help="overwrite a database with rows and stored files")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    archive = Path(args.archive)
    if not archive.is_file():
        raise CliRejected(f"{archive}: no such file")
    try:
        verified = await asyncio.to_thread(backup.verify_archive, archive)
        backup.check_kind(verified, app.settings.database_url)
        if not args.force and (problem := await _not_empty(app)) is not None:
            raise CliRejected(f"refused: {problem}; restore into an empty installation, or add --force")
        url = app.settings.database_url
        await app.services.db.dispose()  # no connection may keep the old SQLite file (or tables) open
        if not app.services.db.is_sqlite:
            async with app.services.db.engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await asyncio.to_thread(backup.restore_database, archive, verified, url)
        await app.services.db.dispose()
        restored = await asyncio.to_thread(backup.restore_files, archive, verified, app.services.files)
    except backup.BackupError as error:
        raise CliRejected(str(error)) from None
    await app.prepare()  # an older backup is migrated up to this version's schema
    print(f"restored {archive}: the database of {verified.manifest.get('created_at', '?')}, {restored} file(s)")
    result = await operations.check_files(app.services.db, app.services.files)
    for line in check.report(result):
        print(line)
    return 0 if result.clean else 1


async def _not_empty(app: MonevApp) -> str | None:
    if next(app.services.files.blobs(), None) is not None:
        return f"the file store {app.services.files.root} holds files"
    async with app.services.db.read() as session:
        table = await operations.has_rows(session)
    return None if table is None else f"the database has rows (table {table})"
