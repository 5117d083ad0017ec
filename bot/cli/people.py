"""`monev people list|add|revoke|purge|unlock`: people and their access, from the trusted CLI."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import MonevApp
from bot.cli.support import CliRejected, cli_acting, refusals_as_rejections
from bot.domain.enums import Role
from bot.services import invites, people

NAME = "people"


def add_parser(commands: Any) -> None:
    group = commands.add_parser("people", help="people: list, add, revoke, purge, unlock")
    actions = group.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="people with their channels and active roles")
    listing.add_argument("--opd", metavar="CODE", help="only people assigned to this OPD")
    for name, text in (
        ("revoke", "revoke every active role of a person, at once"),
        ("purge", "redact a person's names and chat ids (UU 27/2022); the audit keeps a pseudonym"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("person_id", type=int, metavar="ID")
    add = actions.add_parser("add", help="add a person by WhatsApp number with a role (a Kepala OPD), audited")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help="the role, e.g. kepala_opd")
    add.add_argument("--opd", metavar="CODE", help="the OPD of an OPD role")
    add.add_argument("--wa", required=True, metavar="PHONE", help="the WhatsApp number, e.g. 6281234567890")
    add.add_argument("--name", required=True, metavar="N", help="the person's name as messages address them")
    unlock = actions.add_parser("unlock", help="clear the failed-code lockout of a chat")
    unlock.add_argument("chat", metavar="CHAT", help="the chat id, optionally as CHANNEL:ID (default telegram)")


async def run(app: MonevApp, args: argparse.Namespace) -> int:
    if args.people_command == "list":
        return await _list(app, args.opd)
    acting = await cli_acting(app)
    with refusals_as_rejections(app):
        async with app.services.db.write() as session:
            if args.people_command == "revoke":
                result = await people.revoke_person(
                    session, args.person_id, acting=acting, revoker_roles=None, now=app.now()
                )
                print(f"revoked {len(result.revoked)} role(s) of person {args.person_id}")
            elif args.people_command == "add":
                person_id = await people.add_by_phone(
                    session,
                    role=Role(args.role),
                    opd_code=args.opd,
                    phone=args.wa,
                    name=args.name,
                    acting=acting,
                    now=app.now(),
                )
                print(f"person {person_id} added as {args.role}; WhatsApp messages go to the number until they write")
            elif args.people_command == "purge":
                await people.purge_person(session, args.person_id, acting=acting, now=app.now())
                print(f"person {args.person_id} purged; the audit log now shows pengguna-{args.person_id}")
            else:
                channel, _, chat = args.chat.rpartition(":")
                if not chat:
                    raise CliRejected("usage: monev people unlock CHAT")
                cleared = await invites.clear_attempts(
                    session, channel or "telegram", chat, acting=acting, now=app.now()
                )
                if not cleared:  # rolled back: nothing was cleared, so nothing is audited
                    raise CliRejected(f"no failed code attempts to clear for {channel or 'telegram'}:{chat}")
                print(f"lockout cleared for {channel or 'telegram'}:{chat} ({cleared} failed attempt(s))")
    return 0


async def _list(app: MonevApp, opd_code: str | None) -> int:
    async with app.services.db.read() as session:
        listed = await people.describe_people(session)
    code = opd_code.upper() if opd_code else None
    for person in listed:
        if code and not any(a.opd_code == code for a in person.assignments):
            continue
        roles = ", ".join(f"{a.role.value}{':' + a.opd_code if a.opd_code else ''}" for a in person.assignments)
        print(
            f"{person.id:>5}  {person.name:<30}  {','.join(person.channels) or '-':<18}  {roles or '(no active role)'}"
        )
    return 0
