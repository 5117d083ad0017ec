"""`monev score import --campaign ID FILE [--dry-run]`: the self-assessment scores from a .csv or .xlsx file.

All or nothing, like `monev opd import`: every rejected row is printed (line, column, reason) and nothing is
written (exit 1); otherwise the counts added / updated / unchanged. The template is `monev export score-template`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, refusals_as_rejections
from bot.domain.enums import Channel
from bot.services import score_import
from bot.services.audit import Acting

NAME = "score"

# A dry run or a rejected file writes nothing, so it needs no audited person (and must not create one).
_NOBODY = Acting(person_id=0, role=Channel.CLI.value, channel=Channel.CLI.value)


def add_parser(commands: Any) -> None:
    group = commands.add_parser("score", help="a campaign's self-assessment scores (nilai mandiri)")
    actions = group.add_subparsers(dest="score_command", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="record levels and explanations from a .csv or .xlsx file")
    importing.add_argument("--campaign", type=int, required=True, metavar="ID")
    importing.add_argument("file", type=Path, metavar="FILE", help="indikator,level,penjelasan[,sumber] file")
    importing.add_argument("--dry-run", action="store_true", help="check the file and print the report only")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    try:
        lines = score_import.parse_score_file(Path(args.file))
    except score_import.ScoreFileError as error:
        raise CliRejected(str(error)) from None
    with refusals_as_rejections(app):
        async with app.services.db.read() as session:
            check = await score_import.import_scores(
                session, args.campaign, lines, acting=_NOBODY, now=app.now(), dry_run=True
            )
        if check.accepted and not args.dry_run:
            acting = await cli_acting(app)
            async with app.services.db.write() as session:
                report = await score_import.import_scores(session, args.campaign, lines, acting=acting, now=app.now())
        else:
            report = check
    if not report.accepted:
        for rejection in report.rejections:
            print(f"line {rejection.line}, column {rejection.column}: {rejection.reason}")
        print("nothing was imported")
        return 1
    prefix = "dry run: " if args.dry_run else ""
    skipped = f", {report.skipped} empty rows skipped" if report.skipped else ""
    print(f"{prefix}added {report.added}, updated {report.updated}, unchanged {report.unchanged}{skipped}")
    return 0
