"""`monev opd import|list|deactivate|activate`: the OPD registry from the command line (operators, English)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, refusals_as_rejections
from bot.domain.enums import Channel
from bot.services import registry
from bot.services.audit import Acting

NAME = "opd"

# A dry run or a rejected file writes nothing, so it needs no audited person (and must not create one).
_NOBODY = Acting(person_id=None, role="cli", channel=Channel.CLI.value)


def add_parser(commands: Any) -> None:
    """Add `monev opd ...` to the top-level subparsers."""
    group = commands.add_parser("opd", help="the OPD registry: import, list, deactivate, activate")
    actions = group.add_subparsers(dest="opd_command", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="add or update OPDs from a .csv or .xlsx file (all or nothing)")
    importing.add_argument("file", nargs="?", type=Path, metavar="FILE", help="code,name,short_name,kind file")
    importing.add_argument("--default", action="store_true", help="import the shipped list of the 32 OPDs")
    importing.add_argument("--extended", action="store_true", help="with --default: also kelurahan, RSUD, bagian")
    importing.add_argument("--dry-run", action="store_true", help="check the file and print the report only")
    actions.add_parser("list", help="every OPD with its kind and whether it is active")
    for action, verb in (("deactivate", "stop"), ("activate", "resume")):
        parser = actions.add_parser(action, help=f"{verb} asking an OPD in new campaigns")
        parser.add_argument("code", metavar="CODE")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    """Run one `monev opd` action; returns the exit code."""
    if args.opd_command == "import":
        return await _import(app, _import_file(args), dry_run=args.dry_run)
    if args.opd_command == "list":
        return await _list(app)
    return await _set_active(app, args.code, active=args.opd_command == "activate")


def _import_file(args: argparse.Namespace) -> Path:
    if (args.file is None) == (not args.default):
        raise CliRejected("give either FILE or --default")
    if args.extended and not args.default:
        raise CliRejected("--extended goes with --default")
    return registry.default_opd_file(args.extended) if args.default else Path(args.file)


async def _import(app: MonevApp, path: Path, *, dry_run: bool) -> int:
    try:
        rows = registry.parse_opd_file(path)
    except registry.ImportFileError as error:
        raise CliRejected(str(error)) from None
    # Check before creating the CLI person, so a rejected file leaves the database exactly as it was.
    writes = not dry_run and not registry.validate_opd_rows(rows)
    acting = await cli_acting(app) if writes else _NOBODY
    unit = app.services.db.write() if writes else app.services.db.read()
    async with unit as session:
        report = await registry.import_opds(
            session, rows, acting=acting, now=app.now(), dry_run=dry_run, file_name=path.name
        )
    if not report.accepted:
        for rejection in report.rejections:
            print(f"line {rejection.line}, column {rejection.column}: {rejection.reason}")
        print("nothing was imported")
        return 1
    prefix = "dry run: " if dry_run else ""
    print(f"{prefix}added {report.added}, updated {report.updated}, unchanged {report.unchanged}")
    return 0


async def _list(app: MonevApp) -> int:
    async with app.services.db.read() as session:
        opds = await registry.list_opds(session)
    if not opds:
        print("no OPDs yet: run `monev opd import --default`")
        return 0
    table = [("CODE", "KIND", "ACTIVE", "SHORT NAME")]
    table += [(o.code, o.kind, "yes" if o.active else "no", o.short_name) for o in opds]
    widths = [max(len(row[column]) for row in table) for column in range(3)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0


async def _set_active(app: MonevApp, code: str, *, active: bool) -> int:
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            opd = await registry.set_opd_active(session, code, active, acting=acting, now=app.now())
    print(f"{opd.code} ({opd.short_name}) is {'active' if opd.active else 'inactive'}")
    return 0
