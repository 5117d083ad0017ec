"""`monev campaign create|list|show|assign`: campaigns from the command line (operators, English)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.app import MonevApp
from bot.channels.console import to_plain_text
from bot.cli.support import CliRejected, cli_acting, cli_time, refusals_as_rejections
from bot.dates import DateParseError, parse_moment
from bot.services import campaigns, items, registry
from bot.services.campaign_view import campaign_view
from bot.services.filetypes import looks_like_pdf
from bot.services.safe_text import has_control_characters

NAME = "campaign"


def add_parser(commands: Any) -> None:
    group = commands.add_parser("campaign", help="campaigns: create, list, show, assign")
    actions = group.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a draft campaign")
    create.add_argument("--title", required=True)
    create.add_argument("--framework", choices=list(items.FRAMEWORKS), help="a shipped framework with its assignments")
    create.add_argument("--deadline", required=True, metavar="DATE[THH:MM]", help="a date alone means 23:59 local")
    create.add_argument("--items", type=Path, metavar="FILE", help="import items (kode,judul,deskripsi,wajib,opd)")
    create.add_argument("--opd", metavar="CODE,CODE", help="only these OPDs (default: every OPD the items name)")
    create.add_argument("--letter", type=Path, metavar="FILE.pdf", help="the draft invitation letter")
    create.add_argument("--dry-run", action="store_true", help="with --items: check the file only")
    actions.add_parser("list", help="every campaign with its state")
    show = actions.add_parser("show", help="one campaign: OPDs, items and the SOP timeline")
    show.add_argument("campaign_id", type=int, metavar="ID")
    assign = actions.add_parser("assign", help="set which OPDs answer an item (draft campaigns only)")
    assign.add_argument("campaign_id", type=int, metavar="ID")
    assign.add_argument("--item", required=True, metavar="CODE")
    assign.add_argument("--opd", required=True, metavar="CODE,CODE")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    command = args.campaign_command
    if command == "create":
        return await _create(app, args)
    if command == "list":
        async with app.services.db.read() as session:
            for c in await campaigns.list_campaigns(session):
                deadline = cli_time(c.deadline, app.settings.timezone)
                print(f"{c.id:>4}  {c.state.value:<21}  {c.title}  (deadline {deadline})")
        return 0
    if command == "show":
        return await _show(app, args.campaign_id)
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            spec = await campaigns.assign_item(
                session, args.campaign_id, args.item, _codes(args.opd), acting=acting, now=app.now()
            )
    print(f"{spec.code} is now asked of {', '.join(spec.opd_codes)}")
    return 0


async def _create(app: MonevApp, args: argparse.Namespace) -> int:
    if (args.framework is None) == (args.items is None):
        raise CliRejected("give either --framework or --items")
    if has_control_characters(args.title):
        raise CliRejected("--title: must be one line, without line breaks or other control characters")
    try:
        deadline = parse_moment(args.deadline.replace("T", " "), app.settings.timezone)
    except DateParseError as error:
        raise CliRejected(f"--deadline: {error}") from None
    specs = items.framework_items(args.framework) if args.framework else await _imported_items(app, args.items)
    if args.dry_run:
        print(f"dry run: {len(specs)} items accepted")
        return 0
    letter = None
    if args.letter:
        if not args.letter.exists():
            raise CliRejected(f"--letter: {args.letter} does not exist")
        if not args.letter.is_file() or not looks_like_pdf(args.letter):
            raise CliRejected(f"--letter: {args.letter} is not a PDF")
        letter = (app.services.files.store_file(args.letter), args.letter.name)
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            campaign_id = await campaigns.create_campaign(
                session,
                title=args.title,
                framework=args.framework,
                items=specs,
                deadline=deadline,
                opd_codes=_codes(args.opd) if args.opd else None,
                acting=acting,
                now=app.now(),
                letter=letter,
            )
    print(
        f"campaign {campaign_id} created as draft: {len(specs)} items, deadline "
        f"{cli_time(deadline, app.settings.timezone)}"
    )
    return 0


async def _imported_items(app: MonevApp, path: Path) -> list[items.ItemSpec]:
    try:
        rows = items.parse_item_file(path)
    except items.ItemFileError as error:
        raise CliRejected(str(error)) from None
    async with app.services.db.read() as session:
        opds = await registry.list_opds(session)
    specs, rejections = items.validate_item_rows(rows, [o.code for o in opds], [o.code for o in opds if o.active])
    if rejections:
        for rejection in rejections:
            print(f"line {rejection.line}, column {rejection.column}: {rejection.reason}")
        raise CliRejected("nothing was imported")
    return specs


async def _show(app: MonevApp, campaign_id: int) -> int:
    with refusals_as_rejections(app):
        async with app.services.db.read() as session:
            view = await campaign_view(session, app.settings, campaign_id, app.now())
    text = app.services.renderer.render("kampanye/rincian", v=view, c=view.detail)
    print(to_plain_text(text))
    return 0


def _codes(text: str) -> list[str]:
    return [code for code in text.replace(";", ",").replace(" ", ",").split(",") if code]
