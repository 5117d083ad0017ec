"""Console persons as services, on SQLite and PostgreSQL: one person per shell role, never a liaison, and the
shell's own take of their messages (compare-and-set, once)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from bot.conversation.core import Reply
from bot.conversation.envelope import Envelope
from bot.errors import DomainError
from bot.services import identity, outbox, people, registry
from bot.services.audit import Acting
from storage import migrate
from storage.database import Database
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    DeliveryAttempt,
    Opd,
    OutboxMessage,
    Person,
    Role,
    RoleAssignment,
)

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


async def with_opds(db: Database) -> dict[str, int]:
    async with db.write() as session:
        cli = await identity.ensure_local_person(session, "cli", "root", NOW)
        rows = registry.parse_opd_file(registry.default_opd_file())
        await registry.import_opds(session, rows, acting=Acting(cli, "cli", "cli"), now=NOW)
        return {code: opd_id for code, opd_id in (await session.execute(select(Opd.code, Opd.id))).all()}


async def on_telegram(db: Database, chat: str, name: str, role: Role, opd_id: int | None = None) -> int:
    async with db.write() as session:
        person = Person(display_name=name, created_at=NOW)
        session.add(person)
        await session.flush()
        session.add(ChannelIdentity(person_id=person.id, channel="telegram", external_id=chat, created_at=NOW))
        session.add(RoleAssignment(person_id=person.id, role=role.value, opd_id=opd_id, granted_at=NOW))
        return int(person.id)


async def console_person(db: Database, role: Role, opd: str | None = None, user: str = "root") -> int:
    async with db.write() as session:
        actor = await identity.ensure_console_person(session, user, role, opd, f"operator server ({role})", NOW)
    assert actor.person_id is not None and [a.role for a in actor.assignments] == [role]
    return actor.person_id


async def test_a_server_operator_holding_the_liaison_role_is_nobodys_liaison(db: Database) -> None:
    opds = await with_opds(db)
    liaison = await on_telegram(db, "501", "Ibu Sari", Role.OPD, opds["DINKES"])
    admin = await on_telegram(db, "502", "Pak Budi", Role.ADMIN)
    tried = await console_person(db, Role.OPD, "DINKES")
    console_admin = await console_person(db, Role.ADMIN)
    async with db.write() as session:  # the CLI's person with the role by hand: a local operator as well
        cli = await identity.ensure_local_person(session, "cli", "root", NOW)
        session.add(RoleAssignment(person_id=cli, role=Role.OPD.value, opd_id=opds["DINKES"], granted_at=NOW))

    async with db.read() as session:
        assert await people.liaisons_by_opd(session) == {"DINKES": ["Ibu Sari"]}
        assert await people.people_with_roles(session, [Role.OPD], opds["DINKES"]) == [liaison]
        assert await people.people_with_roles(session, [Role.OPD, Role.ADMIN]) == sorted(
            [liaison, admin, console_admin]
        )
        liaisons = await session.scalar(
            select(func.count()).select_from(RoleAssignment).where(identity.counts_as_liaison())
        )
    assert liaisons == 1
    assert tried not in (liaison, admin, console_admin)


async def test_each_role_and_opd_is_a_console_person_of_its_own(db: Database) -> None:
    await with_opds(db)
    dinkes = await console_person(db, Role.OPD, "DINKES")
    assert await console_person(db, Role.OPD, "dinkes") == dinkes  # the same session again: the same person
    others = {await console_person(db, Role.OPD, "DISKOMINFO"), await console_person(db, Role.KASI)}
    other_user = await console_person(db, Role.KASI, user="sari")
    assert len({dinkes, *others, other_user}) == 4
    async with db.read() as session:
        external = set(
            (
                await session.scalars(select(ChannelIdentity.external_id).where(ChannelIdentity.channel == "console"))
            ).all()
        )
    assert external == {"root/opd:DINKES", "root/opd:DISKOMINFO", "root/kasi", "sari/kasi"}


async def test_an_unknown_opd_makes_no_console_person(db: Database) -> None:
    await with_opds(db)
    with pytest.raises(DomainError) as refused:
        async with db.write() as session:
            await identity.ensure_console_person(session, "root", Role.OPD, "TIDAKADA", "operator server", NOW)
    assert refused.value.template == "identitas/opd_tidak_dikenal"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1  # the CLI's own


async def test_the_shell_takes_a_console_persons_waiting_messages_once_and_leaves_the_dispatchers(db: Database) -> None:
    await with_opds(db)
    kabid = await console_person(db, Role.KABID)
    kasi = await console_person(db, Role.KASI)
    async with db.write() as session:
        ids = [
            await outbox.enqueue(
                session, person_id=person, message=Envelope.from_reply("pemberitahuan", Reply(text)), now=NOW
            )
            for person, text in ((kabid, "satu"), (kabid, "dua"), (kabid, "nanti"), (kabid, "dikirim"), (kasi, "lain"))
        ]
        later, claimed = ids[2], ids[3]
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == later).values(not_before=NOW + timedelta(hours=1))
        )
        # One the dispatcher of a runtime with the console channel has claimed: it finishes it, not the shell.
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == claimed).values(status="sending"))

    async with db.write() as session:
        taken = await outbox.take_for_console(session, kabid, "root/kabid", NOW)
    async with db.write() as session:
        again = await outbox.take_for_console(session, kabid, "root/kabid", NOW)
    assert [m.envelope.text for m in taken] == ["satu", "dua"] and again == []

    async with db.read() as session:
        rows = (await session.execute(select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.chat_id))).all()
        attempts = (await session.execute(select(DeliveryAttempt.message_id, DeliveryAttempt.outcome))).all()
    assert sorted(rows) == [
        (ids[0], "sent", "root/kabid"),
        (ids[1], "sent", "root/kabid"),
        (later, "pending", None),
        (claimed, "sending", None),
        (ids[4], "pending", None),  # the Kasi's, for the Kasi's shell
    ]
    assert sorted(attempts) == [(ids[0], "sent"), (ids[1], "sent")]


async def test_the_upgrade_retires_the_shared_console_person_of_older_shells(db: Database) -> None:
    opds = await with_opds(db)

    def back_to_0011(connection: Connection) -> None:
        command.downgrade(migrate.alembic_config(connection), "0011")

    async with db.engine.begin() as connection:
        await connection.run_sync(back_to_0011)
    async with db.write() as session:  # what `monev shell --as opd:DINKES` then `--as kasi` left before
        old = await identity.ensure_local_person(session, "console", "root", NOW)
        for role, opd_id in ((Role.OPD, opds["DINKES"]), (Role.KASI, None)):
            session.add(RoleAssignment(person_id=old, role=role.value, opd_id=opd_id, granted_at=NOW))
        # The columns of revision 0011 only (the model has grown since): a core insert names just these.
        message = Envelope.from_reply("pemberitahuan", Reply("x"))
        await session.execute(
            insert(OutboxMessage).values(
                person_id=old,
                kind=message.kind,
                template_key=message.whatsapp_template,
                payload=json.dumps(message.to_json()),
                status="pending",
                not_before=NOW,
                created_at=NOW,
            )
        )
    liaison = await on_telegram(db, "501", "Ibu Sari", Role.OPD, opds["DINKES"])
    tried = await console_person(db, Role.OPD, "DINKES")  # a new shell's person: untouched by the upgrade

    await migrate.upgrade(db)
    async with db.read() as session:
        active = (
            await session.execute(
                select(RoleAssignment.person_id, RoleAssignment.role).where(RoleAssignment.revoked_at.is_(None))
            )
        ).all()
        revocations = (
            await session.execute(
                select(AuditEntry.actor_person_id, AuditEntry.object_id, AuditEntry.details).where(
                    AuditEntry.action == "revoke"
                )
            )
        ).all()
        waiting = await session.scalar(select(OutboxMessage.status).where(OutboxMessage.person_id == old))
    assert sorted(active) == sorted([(liaison, "opd"), (tried, "opd")])
    assert sorted(revocations) == [
        (None, str(old), '{"opd": "DINKES", "reason": "console_person_per_role", "role_revoked": "opd"}'),
        (None, str(old), '{"opd": null, "reason": "console_person_per_role", "role_revoked": "kasi"}'),
    ]
    assert waiting == "unreachable"
