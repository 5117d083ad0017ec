"""`monev kirim`: evidence that reached Diskominfo outside the chat (e-mail, paper, above the chat's size limit).

Trusted like every CLI command, filed on the OPD's behalf with the chat's checks (content, item, campaign) and
no size limit but the server's own; the receipt goes to the OPD's liaisons through the outbox.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, refusals_as_rejections
from bot.domain.enums import Channel
from bot.services import submissions, uploads
from bot.services.submissions import Receipt, Scope
from handlers.intake import tell_liaisons
from storage.filestore import Blob

NAME = "kirim"


def add_parser(commands: Any) -> None:
    """Add `monev kirim` to the top-level subparsers."""
    kirim = commands.add_parser(
        "kirim", help="file evidence on behalf of an OPD (documents that came by e-mail, on paper or too large)"
    )
    kirim.add_argument("--opd", required=True, metavar="CODE", help="the OPD the evidence is for")
    kirim.add_argument("--item", required=True, metavar="KODE", help="the item it answers, e.g. I.13 or 13")
    kirim.add_argument("--campaign", type=int, metavar="ID", help="needed when the OPD has two campaigns open")
    kirim.add_argument("files", nargs="+", type=Path, metavar="FILE", help="one version: every file given")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    """File the files as one version of the item; prints the receipt in English; returns the exit code."""
    paths = [_readable(path) for path in args.files]
    opd_code = args.opd.strip().upper()
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.read() as session:
            scope = await _scope(session, opd_code, args.campaign)
        files = [_admitted(app, path) for path in paths]  # judged by content before the write lock
        async with app.services.db.write() as session:
            receipt = await submissions.file_on_behalf(
                session, scope, args.item, files, channel=Channel.CLI.value, acting=acting, now=app.now()
            )
            told = await tell_liaisons(app.services, receipt, app.now(), session=session, with_receipt=True)
    _print_receipt(receipt, told)
    return 0


def _readable(path: Path) -> Path:
    if not path.is_file():
        raise CliRejected(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    return path


async def _scope(session: AsyncSession, opd_code: str, campaign_id: int | None) -> Scope:
    """The campaign the files go to: the one named, else the OPD's one open campaign (or the one just closed)."""
    if campaign_id is not None:
        named = await submissions.scope_in(session, opd_code, campaign_id)
        if named is None:
            raise CliRejected(f"campaign #{campaign_id} does not collect evidence from {opd_code}")
        return named
    scopes = await submissions.open_scopes(session, opd_code)
    if not scopes:
        raise CliRejected(f"no campaign collects evidence from {opd_code}")
    if len(scopes) > 1:
        ids = ", ".join(f"#{s.campaign_id}" for s in scopes)
        raise CliRejected(f"{opd_code} has items open in campaigns {ids}: name one with --campaign")
    return scopes[0]


def _admitted(app: MonevApp, path: Path) -> tuple[Blob, str]:
    """The file staged, judged by its content and admitted into the store (a refusal names the file)."""
    name = uploads.clean_file_name(path.name, fallback="berkas")
    files = app.services.files
    try:
        staged = files.stage_file(path)
    except OSError as error:
        raise CliRejected(f"{path}: cannot read it ({error.strerror or error})") from None
    return uploads.admit_checked(files, staged, name), name


def _print_receipt(receipt: Receipt, told: int) -> None:
    scope = receipt.scope
    head = (
        f"{scope.opd_code} ({scope.opd_name}), campaign #{scope.campaign_id} {scope.title!r}, item {receipt.item_code}"
    )
    if receipt.duplicate:
        print(f"{head}: the same files are already version {receipt.version}; no new version")
    else:
        print(f"{head}: filed as version {receipt.version}{' (late)' if receipt.late else ''} on the OPD's behalf")
    for f in receipt.files:
        print(f"  {f.name}  {f.size} bytes  sha256 {f.sha256[:8]}")
    print(f"required items still missing: {receipt.missing_required}; liaisons told: {told}")
