"""The one access rule for what a person holds from earlier (buttons, batches), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from bot.conversation.payloads import MAX_ID
from bot.errors import DomainError
from bot.services import actions, campaigns, conversations, identity, people, submissions
from bot.services.audit import Acting
from storage.database import Database
from storage.models import AuditEntry, BatchStatus, PendingAction, Role, RoleAssignment, UploadBatch
from tests.test_submissions import NOW, open_campaign

UNLOCK = {"unlock_chat": frozenset({Role.ADMIN})}


async def person_with(db: Database, chat: str, role: Role, *opds: str) -> int:
    async with db.write() as session:
        person = await identity.ensure_local_person(session, "telegram", chat, NOW)
        for opd in opds or (None,):
            await identity.ensure_assignment(session, person, role, opd, NOW)
    return person


async def button_for(db: Database, person: int, kind: str = "unlock_chat") -> str:
    async with db.write() as session:
        button = await actions.action_button(session, "Buka blokir", kind=kind, person_id=person, now=NOW)
    return button.payload.removeprefix("act:")


async def test_a_button_is_refused_once_its_role_is_gone_even_without_the_revoke_service(db: Database) -> None:
    admin = await person_with(db, "100", Role.ADMIN)
    token = await button_for(db, admin)
    async with db.write() as session:  # as a revocation committing between "resolve the sender" and the press
        await session.execute(update(RoleAssignment).where(RoleAssignment.person_id == admin).values(revoked_at=NOW))
    with pytest.raises(DomainError) as refused:
        async with db.write() as session:
            await actions.take_action(session, token, admin, NOW, UNLOCK)
    assert refused.value.template == "umum/peran_tidak_aktif" and refused.value.audit_action == "access_refused"

    kasi = await person_with(db, "110", Role.KASI)  # a role the kind does not accept
    with pytest.raises(DomainError, match="umum/peran_tidak_aktif"):
        async with db.write() as session:
            await actions.take_action(session, await button_for(db, kasi), kasi, NOW, UNLOCK)

    other = await person_with(db, "120", Role.ADMIN)
    async with db.write() as session:
        taken = await actions.take_action(session, await button_for(db, other), other, NOW, UNLOCK)
    assert taken.kind == "unlock_chat" and taken.actor.roles == {Role.ADMIN}


async def test_revocation_cancels_buttons_and_the_batches_no_remaining_role_covers(db: Database) -> None:
    dinkes, _ = await open_campaign(db)
    liaison = await person_with(db, "501", Role.OPD, "DINKES", "DISKOMINFO")
    async with db.write() as session:
        diskominfo = await submissions.scope_for(session, "DISKOMINFO")
        assert diskominfo is not None
        opened = {}
        for name, scope in (("dinkes", dinkes), ("diskominfo", diskominfo), ("unchosen", None)):
            opened[name] = await submissions.open_batch(
                session, scope=scope, channel="telegram", chat_id="501", person_id=liaison, kind="kirim", now=NOW
            )
        cli = Acting(await identity.ensure_local_person(session, "cli", "root", NOW), "cli", "cli")
    await button_for(db, liaison, kind="handover_keep")
    async with db.write() as session:
        await conversations.begin(session, "telegram", "501", person_id=liaison, flow="kmp_baru", step="judul", now=NOW)

    async with db.write() as session:
        partial = await people.revoke_person(
            session, liaison, acting=cli, revoker_roles=None, now=NOW, opd_code="DINKES"
        )
    assert partial.cancelled_batches == (opened["dinkes"],) and partial.cancelled_buttons == 1
    async with db.read() as session:
        assert await conversations.current(session, "telegram", "501") is None
    assert await states(db) == {
        opened["dinkes"]: BatchStatus.CANCELLED.value,
        opened["diskominfo"]: BatchStatus.COLLECTING.value,
        opened["unchosen"]: BatchStatus.COLLECTING.value,  # still a liaison (of DISKOMINFO): may still choose
    }
    async with db.write() as session:
        full = await people.revoke_person(session, liaison, acting=cli, revoker_roles=None, now=NOW)
        cancelled_buttons = await session.scalar(select(PendingAction.expires_at))
        logged = (await session.scalars(select(AuditEntry.action).where(AuditEntry.action == "revoke_cancel"))).all()
    assert set(full.cancelled_batches) == {opened["diskominfo"], opened["unchosen"]}
    assert set((await states(db)).values()) == {BatchStatus.CANCELLED.value}
    assert cancelled_buttons == NOW
    assert logged == ["revoke_cancel", "revoke_cancel"]


async def test_the_batch_loader_checks_owner_role_and_opd(db: Database) -> None:
    scope, _ = await open_campaign(db)
    liaison = await person_with(db, "501", Role.OPD, "BAPENDA")  # a liaison, but of another OPD
    async with db.write() as session:
        batch = await submissions.open_batch(
            session, scope=scope, channel="telegram", chat_id="501", person_id=liaison, kind="kirim", now=NOW
        )
    for presser, template in ((None, "umum/tombol_bukan_untuk_anda"), (liaison, "umum/peran_tidak_aktif")):
        with pytest.raises(DomainError) as refused:
            async with db.write() as session:
                await submissions.load_open_batch(session, batch, presser)
        assert refused.value.template == template
    await person_with(db, "501", Role.OPD, "DINKES")
    async with db.write() as session:
        _, actor = await submissions.load_open_batch(session, batch, liaison)
    assert {a.opd_code for a in actor.assignments} == {"BAPENDA", "DINKES"}


async def test_ids_at_the_integer_limit_name_nothing_on_either_database(db: Database) -> None:
    admin = await person_with(db, "100", Role.ADMIN)
    async with db.write() as session:
        with pytest.raises(DomainError, match="umum/tombol_bukan_untuk_anda"):
            await submissions.load_open_batch(session, MAX_ID, admin)
        with pytest.raises(DomainError, match="orang/tidak_dikenal"):
            await people.revoke_person(session, MAX_ID, acting=Acting(admin, "admin"), revoker_roles=None, now=NOW)
        with pytest.raises(DomainError):
            await campaigns.campaign_detail(session, MAX_ID)
    if not db.is_sqlite:  # why the bound is PostgreSQL's `integer`, not 64 bits: one more cannot even be sent
        with pytest.raises(DBAPIError):
            async with db.read() as session:
                await session.get(UploadBatch, MAX_ID + 1)


async def states(db: Database) -> dict[int, str]:
    async with db.read() as session:
        return {b.id: b.status for b in (await session.scalars(select(UploadBatch))).all()}


async def test_on_postgresql_an_action_waits_for_a_revocation_in_flight_and_is_refused(postgres_url: str) -> None:
    from storage import migrate
    from tests.conftest import truncate_all

    db = Database(postgres_url)
    try:
        await migrate.upgrade(db)
        await truncate_all(db)
        admin = await person_with(db, "100", Role.ADMIN)
        token = await button_for(db, admin)
        async with db.write() as revoking:
            cli = Acting(await identity.ensure_local_person(revoking, "cli", "root", NOW), "cli", "cli")
            await people.revoke_person(revoking, admin, acting=cli, revoker_roles=None, now=NOW)
            pressing = asyncio.create_task(press(db, token, admin))
            await until_waiting_for_a_lock(db)  # the press reads the assignments and must wait for this commit
        with pytest.raises(DomainError, match="umum/peran_tidak_aktif"):
            await pressing
    finally:
        await db.dispose()


async def press(db: Database, token: str, person: int) -> actions.TakenAction:
    async with db.write() as session:
        return await actions.take_action(session, token, person, NOW, UNLOCK)


async def until_waiting_for_a_lock(db: Database) -> None:
    async with asyncio.timeout(20):
        while True:
            async with db.read() as session:
                waiting = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.05)
