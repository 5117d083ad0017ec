"""`monev export recap|package|ba|score-template --campaign ID --out FILE`: the recap workbook, the evidence
package, the Berita Acara and the scores template on disk."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, check_output, cli_acting, refusals_as_rejections
from bot.services import score_import, scores
from bot.services.berita_acara import record_ba_export
from bot.services.exports import ba as ba_export
from bot.services.exports import produce

NAME = "export"


def add_parser(commands: Any) -> None:
    group = commands.add_parser("export", help="a campaign's recap workbook or evidence package")
    actions = group.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    for name, text in (
        ("recap", "the recap workbook (.xlsx): Ringkasan, Matriks, Berkas, Linimasa"),
        ("package", "the evidence package (.zip): accepted files per indikator and per OPD, manifest, SHA256SUMS"),
        ("ba", "the Berita Acara (.docx): the meeting, attendance, completeness per OPD, the index, signatures"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--campaign", type=int, required=True, metavar="ID")
        action.add_argument("--out", type=Path, required=True, metavar="FILE")
    template = actions.add_parser("score-template", help="the scores file to fill in (.xlsx): every indicator")
    template.add_argument("--campaign", type=int, required=True, metavar="ID")
    template.add_argument("--out", type=Path, required=True, metavar="FILE.xlsx")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    """Build the export next to `--out`, then rename it into place (a failure leaves no partial file)."""
    out = check_output(args.out)
    if args.export_command == "ba":
        return await _berita_acara(app, args.campaign, out)
    if args.export_command == "score-template":
        return await _score_template(app, args.campaign, out)
    kind = produce.RECAP if args.export_command == "recap" else produce.PACKAGE
    part = out.with_name(f".{out.name}.part")
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        try:
            built = await produce.build(
                app.services.db, app.services.files, app.settings, args.campaign, kind, part, app.now()
            )
            os.replace(part, out)
        except OSError as error:
            part.unlink(missing_ok=True)
            raise CliRejected(f"--out: could not write {out} ({error.strerror or error})") from None
    async with app.services.db.write() as session:
        await produce.record_export(session, built, acting=acting, now=app.now(), name=out.name, kept=out.absolute())
    if kind == produce.RECAP:
        print(
            f"recap workbook of campaign #{built.campaign_id} {built.title!r} written to {out}: "
            f"{built.opds} OPDs, {built.files} file rows, {built.size} bytes"
        )
    else:
        print(
            f"evidence package of campaign #{built.campaign_id} {built.title!r} written to {out}: "
            f"{built.evidence} accepted items, {built.files} files in both layouts, {built.size} bytes"
        )
    return 0


async def _berita_acara(app: MonevApp, campaign_id: int, out: Path) -> int:
    part = out.with_name(f".{out.name}.part")
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        try:
            built = await ba_export.build_ba(app.services.db, app.settings, campaign_id, part, app.now())
            os.replace(part, out)
        except OSError as error:
            part.unlink(missing_ok=True)
            raise CliRejected(f"--out: could not write {out} ({error.strerror or error})") from None
    async with app.services.db.write() as session:
        await record_ba_export(session, campaign_id, out.name, built.size, acting=acting, now=app.now())
    print(
        f"Berita Acara of campaign #{campaign_id} {built.title!r} written to {out}: "
        f"index {built.index} ({built.predicate}, a simulation), {built.size} bytes"
    )
    return 0


async def _score_template(app: MonevApp, campaign_id: int, out: Path) -> int:
    """The campaign's indicators (current scores in) for `monev score import`; written whole or not at all."""
    with refusals_as_rejections(app):
        async with app.services.db.read() as session:
            sheet = await scores.score_sheet(session, campaign_id)
    part = out.with_name(f".{out.name}.part")
    try:
        rows = score_import.write_score_template(sheet, part)
        os.replace(part, out)
    except OSError as error:
        part.unlink(missing_ok=True)
        raise CliRejected(f"--out: could not write {out} ({error.strerror or error})") from None
    print(f"score template of campaign #{sheet.campaign_id} {sheet.title!r} written to {out}: {rows} indicators")
    return 0
