"""`monev backup --out FILE.tar [--db-only]`: a consistent database snapshot, every stored file and SHA256SUMS."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bot import __version__
from bot.app import MonevApp
from bot.cli.support import CliRejected, check_output
from bot.services import operations
from storage import backup

NAME = "backup"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("backup", help="write the database, every stored file and SHA256SUMS to a tar")
    parser.add_argument("--out", required=True, metavar="FILE.tar", help="the archive to write (replaced at the end)")
    parser.add_argument("--db-only", action="store_true", help="the database snapshot only, without the files")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    out = check_output(Path(args.out))
    url = app.settings.database_url
    kind = backup.database_kind(url)
    member = backup.SQLITE_MEMBER if kind == "sqlite" else backup.DUMP_MEMBER
    try:
        with tempfile.TemporaryDirectory(prefix=".monev-backup-", dir=out.parent) as scratch:
            snapshot = Path(scratch) / Path(member).name
            # The snapshot first, the files after: a file is in the store before the row naming it commits.
            await asyncio.to_thread(backup.snapshot_database, url, snapshot)
            if kind == "sqlite":
                head, counts, named = await asyncio.to_thread(backup.snapshot_facts, snapshot)
            else:
                async with app.services.db.read() as session:
                    head, counts, named = await operations.snapshot_figures(session)
            if not args.db_only and (missing := [s for s in named if not app.services.files.exists(s)]):
                problem = f"the database names {len(missing)} file(s) missing from the store: run `monev check`"
                raise CliRejected(problem)
            manifest = {
                "format": backup.FORMAT,
                "version": __version__,
                "migration_head": head,
                "created_at": app.now().isoformat(),
                "database": kind,
                "db_only": bool(args.db_only),
                "rows": counts,
            }
            store = None if args.db_only else app.services.files
            archived = await asyncio.to_thread(
                backup.write_archive, out, snapshot=snapshot, snapshot_member=member, manifest=manifest, store=store
            )
    except backup.BackupError as error:
        raise CliRejected(str(error)) from None
    except OSError as error:
        raise CliRejected(f"--out: could not write {out} ({error.strerror or error})") from None
    what = "the database only" if args.db_only else f"{archived.files} file(s), {archived.bytes / 1_000_000:.1f} MB"
    print(f"backup written to {out}: the database at migration {head}, {what}")
    return 0
