"""`monev audit export --out FILE.csv`: the audit log, names joined at export (purged people as pseudonyms)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from bot.app import MonevApp
from bot.cli.support import check_output, open_output
from bot.services import audit

NAME = "audit"


def add_parser(commands: Any) -> None:
    group = commands.add_parser("audit", help="the audit log")
    actions = group.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the whole audit log as CSV")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    check_output(args.out)
    async with app.services.db.read() as session:
        rows = list(await audit.export_rows(session))
    with open_output(args.out, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(audit.EXPORT_COLUMNS)
        writer.writerows(rows)
    print(f"{len(rows)} audit rows written to {args.out}")
    return 0
