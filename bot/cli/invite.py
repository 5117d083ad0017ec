"""`monev invite`: mint invite codes from the trusted CLI (works with zero admins), list and revoke them."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, cli_time, refusals_as_rejections
from bot.domain.enums import Role
from bot.services import bot_state, invites

NAME = "invite"


def add_parser(commands: Any) -> None:
    group = commands.add_parser(
        "invite",
        help="invite codes: `invite --role ROLE [--opd CODE]`, `invite --person ID`, `invite list`, `invite revoke ID`",
    )
    group.add_argument("action", nargs="?", choices=["list", "revoke"], help="list or revoke codes")
    group.add_argument("invite_id", nargs="?", type=int, metavar="ID", help="with revoke: the code's id")
    group.add_argument("--role", choices=[r.value for r in Role], help="the role the code grants")
    group.add_argument("--opd", metavar="CODE", help="the OPD, for the opd and kepala_opd roles")
    group.add_argument("--person", type=int, metavar="ID", help="a code that links another chat account to a person")
    group.add_argument("--count", type=int, default=1, help="how many codes (default 1)")
    group.add_argument("--days", type=int, default=invites.DEFAULT_DAYS, help="days until the codes expire")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    if args.action == "list":
        return await _list(app)
    if args.action == "revoke":
        if args.invite_id is None:
            raise CliRejected("usage: monev invite revoke ID")
        acting = await cli_acting(app)
        with refusals_as_rejections(app):
            async with app.services.db.write() as session:
                await invites.revoke_invite(session, args.invite_id, acting=acting, now=app.now())
        print(f"invite {args.invite_id} revoked")
        return 0
    if (args.role is None) == (args.person is None):
        raise CliRejected("give either --role ROLE [--opd CODE] or --person ID")
    return await _issue(app, args)


async def _issue(app: MonevApp, args: argparse.Namespace) -> int:
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            issued = await invites.issue_invites(
                session,
                acting=acting,
                role=Role(args.role) if args.role else None,
                opd_code=args.opd,
                now=app.now(),
                issuer_roles=None,  # the CLI is trusted: this is how the first admin gets in
                count=args.count,
                days=args.days,
                link_person_id=args.person,
            )
            username = await bot_state.recall(session, bot_state.TELEGRAM_USERNAME)
    for invite in issued:
        target = invite.role.value if invite.role else f"link to person {args.person}"
        expires = cli_time(invite.expires_at, app.settings.timezone)
        print(f"{invite.shown}  {target}{' ' + invite.opd_code if invite.opd_code else ''}  until {expires}")
        if username:
            print(f"  {invites.deep_link(username, invite.code)}")
    if not username:
        print("(the Telegram deep link is printed once the bot has run with MONEV_TELEGRAM_TOKEN)")
    return 0


async def _list(app: MonevApp) -> int:
    async with app.services.db.read() as session:
        listed = await invites.list_invites(session, app.now())
    if not listed:
        print("no invite codes yet")
    for invite in listed:
        target = invite.role or f"link to person {invite.link_person_id}"
        opd = f" {invite.opd_code}" if invite.opd_code else ""
        handover = " (hand-over)" if invite.handover else ""
        expires = invite.expires_at.astimezone(app.settings.timezone).strftime("%Y-%m-%d %H:%M")
        print(f"{invite.id:>5}  {invite.status:<11}  {target}{opd}{handover}  expires {expires}")
    return 0
