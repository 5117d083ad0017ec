"""People and access as services on SQLite and PostgreSQL: codes, lockout, revocation, purge, the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.conversation.envelope import MENU_KIND, Envelope
from bot.domain.enums import OPD_SCOPED_ROLES
from bot.errors import DomainError
from bot.services import audit, identity, invites, journal, people, registry
from bot.services.audit import Acting
from bot.services.invites import RedeemStatus
from storage.database import Database
from storage.models import AuditEntry, ChannelIdentity, OutboxMessage, Person, Role

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


async def setup(db: Database) -> Acting:
    async with db.write() as session:
        cli = await identity.ensure_local_person(session, "cli", "root", NOW)
        acting = Acting(cli, "cli", "cli")
        await registry.import_opds(
            session, registry.parse_opd_file(registry.default_opd_file()), acting=acting, now=NOW
        )
    return acting


async def mint(
    db: Database, acting: Acting, role: Role | None, opd: str | None = None, *, now: datetime = NOW, **options: object
) -> str:
    async with db.write() as session:
        (invite,) = await invites.issue_invites(
            session, acting=acting, role=role, opd_code=opd, now=now, issuer_roles=None, **options
        )
    return invite.code


async def redeem(db: Database, code: str, chat: str, *, now: datetime = NOW, name: str = "Budi") -> invites.Redemption:
    async with db.write() as session:
        return await invites.redeem(
            session,
            code_text=code,
            channel="telegram",
            external_id=chat,
            display_name=name,
            username=None,
            acting=Acting(None, None, "telegram", "1"),
            now=now,
        )


def test_codes_are_crockford_base32_grouped_and_forgiving() -> None:
    code = invites.new_code()
    assert len(code) * 5 >= 80 and set(code) <= set(invites.ALPHABET)
    shown = invites.format_code(code)
    assert shown.count("-") == 4 and all(len(group) == 4 for group in shown.split("-"))
    assert invites.normalize_code(shown.lower()) == code
    assert invites.normalize_code(" ".join(shown.split("-"))) == code
    assert invites.normalize_code("OOOO-IIII-LLLL-0000-1111") == "00001111111100001111"
    assert invites.normalize_code("UUUU-0000-0000-0000-0000") is None  # U is not in the alphabet
    assert invites.normalize_code("0000") is None


async def test_codes_are_stored_only_as_hashes(db: Database) -> None:
    acting = await setup(db)
    code = await mint(db, acting, Role.ADMIN)
    async with db.read() as session:
        dump = " ".join(str(v) for row in (await session.execute(text("SELECT * FROM invite"))).all() for v in row)
    assert code not in dump and invites.hash_code(code) in dump


async def test_a_code_registers_once_and_expires(db: Database) -> None:
    acting = await setup(db)
    code = await mint(db, acting, Role.OPD, "diskominfo")
    result = await redeem(db, code, "501")
    assert result.status == RedeemStatus.REGISTERED and result.opd_code == "DISKOMINFO"
    assert (await redeem(db, code, "502")).status == RedeemStatus.USED
    old = await mint(db, acting, Role.TIM, now=NOW - timedelta(days=8))
    assert (await redeem(db, old, "503")).status == RedeemStatus.EXPIRED
    short = await mint(db, acting, Role.TIM, days=1)
    assert (await redeem(db, short, "504", now=NOW + timedelta(hours=23))).status == RedeemStatus.REGISTERED


async def test_five_failures_lock_the_chat_for_an_hour_from_the_first(db: Database) -> None:
    await setup(db)
    for minute in range(4):
        result = await redeem(db, "0000-0000-0000-0000-0000", "666", now=NOW + timedelta(minutes=minute * 10))
        assert result.status == RedeemStatus.UNKNOWN
    fifth = await redeem(db, "0000-0000-0000-0000-0000", "666", now=NOW + timedelta(minutes=40))
    assert fifth.status == RedeemStatus.LOCKED and fifth.just_locked
    assert fifth.locked_until == NOW + timedelta(hours=1)
    later = await redeem(db, "0000-0000-0000-0000-0000", "666", now=NOW + timedelta(minutes=59))
    assert later.status == RedeemStatus.LOCKED and not later.just_locked
    assert (await redeem(db, "x", "667", now=NOW + timedelta(minutes=59))).status == RedeemStatus.UNKNOWN
    # after the hour the chat may try again; one more failure still makes five within the hour (09:10-10:01)
    after = await redeem(db, "0000-0000-0000-0000-0000", "666", now=NOW + timedelta(minutes=61))
    assert after.status == RedeemStatus.LOCKED and after.just_locked
    assert after.locked_until == NOW + timedelta(minutes=70)
    async with db.write() as session:
        await invites.clear_attempts(session, "telegram", "666", acting=Acting(None, "cli"), now=NOW)
    assert (await redeem(db, "0000-0000-0000-0000-0000", "666", now=NOW + timedelta(minutes=62))).status == (
        RedeemStatus.UNKNOWN
    )


async def test_separation_of_duties_is_enforced_by_the_service(db: Database) -> None:
    acting = await setup(db)
    cases = [
        ({Role.ADMIN}, Role.KABID, False),
        ({Role.ADMIN}, Role.KASI, False),
        ({Role.ADMIN}, Role.OPD, True),
        ({Role.KASI}, Role.KABID, False),
        ({Role.KASI}, Role.ADMIN, True),
        ({Role.KABID}, Role.KABID, True),
        ({Role.KABID}, Role.OPD, False),
        ({Role.OPD}, Role.OPD, False),
        ({Role.SEKRETARIAT}, Role.TIM, False),
    ]
    for issuer, role, allowed in cases:
        async with db.write() as session:
            try:
                opd_code = "DINKES" if role in OPD_SCOPED_ROLES else None  # only these roles name an OPD
                await invites.issue_invites(
                    session, acting=acting, role=role, opd_code=opd_code, now=NOW, issuer_roles=frozenset(issuer)
                )
                assert allowed, (issuer, role)
            except DomainError as refusal:
                assert not allowed and refusal.template == "undangan/tidak_boleh", (issuer, role)


async def test_revocation_is_limited_to_what_the_revoker_may_issue(db: Database) -> None:
    acting = await setup(db)
    kasi = (await redeem(db, await mint(db, acting, Role.KASI), "701")).person_id
    liaison = (await redeem(db, await mint(db, acting, Role.OPD, "DINKES"), "702")).person_id
    assert kasi and liaison
    async with db.write() as session:
        with pytest.raises(DomainError) as refused:
            await people.revoke_person(session, kasi, acting=acting, revoker_roles=frozenset({Role.ADMIN}), now=NOW)
    assert refused.value.template == "orang/tidak_boleh_cabut"
    async with db.write() as session:
        done = await people.revoke_person(
            session, liaison, acting=acting, revoker_roles=frozenset({Role.ADMIN}), now=NOW
        )
    assert [a.role for a in done.revoked] == [Role.OPD]
    async with db.read() as session:
        actor = await identity.resolve_actor(session, "telegram", "702")
        kasi_actor = await identity.resolve_actor(session, "telegram", "701")
    assert not actor.is_registered and kasi_actor.roles == {Role.KASI}


async def test_purge_redacts_and_the_audit_shows_a_pseudonym(db: Database) -> None:
    acting = await setup(db)
    code = await mint(db, acting, Role.OPD, "DINKES")
    async with db.write() as session:
        await journal.record_inbound(session, "telegram", "9", "801", {"from": {"first_name": "Budi"}}, NOW)
    person = (await redeem(db, code, "801", name="Budi Santoso")).person_id
    assert person
    async with db.write() as session:
        await people.purge_person(session, person, acting=acting, now=NOW)
    async with db.read() as session:
        assert (await session.get_one(Person, person)).display_name is None
        ids = (
            await session.scalars(select(ChannelIdentity.external_id).where(ChannelIdentity.person_id == person))
        ).all()
        (row,) = await journal.rows_to_resume(session, "telegram")
        exported = list(await audit.export_rows(session))
    assert ids and all(i.startswith("purged-") for i in ids)
    assert row.payload is None
    registration = [r for r in exported if r[4] == "registration"]
    assert registration and registration[0][2] == f"pengguna-{person}"
    assert "Budi" not in " ".join(" ".join(r) for r in exported)


async def test_the_audit_log_refuses_update_and_delete(db: Database) -> None:
    acting = await setup(db)
    for statement in (update(AuditEntry).values(action="forged"), delete(AuditEntry)):
        with pytest.raises(DBAPIError) as refused:
            async with db.write() as session:
                await session.execute(statement)
        assert "append-only" in str(refused.value)
    async with db.read() as session:
        entries = (await session.execute(select(AuditEntry.action, AuditEntry.actor_person_id))).all()
    assert [tuple(e) for e in entries] == [("opd_import", acting.person_id)]  # the one entry, unchanged


async def menus_queued(db: Database, person_id: int) -> list[tuple[str, str, list[str]]]:
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.person_id == person_id, OutboxMessage.kind == MENU_KIND)
                .order_by(OutboxMessage.id)
            )
        ).all()
    envelopes = [Envelope.from_json(json.loads(r.payload)) for r in rows if r.payload]  # a purge nulls the rest
    return [(*e.chat, e.menu_roles) for e in envelopes if e.chat]


async def test_each_change_of_roles_queues_the_chat_its_menu_even_a_purge(db: Database) -> None:
    acting = await setup(db)
    person = (await redeem(db, await mint(db, acting, Role.KABID), "901")).person_id
    assert person
    assert (await redeem(db, await mint(db, acting, Role.OPD, "DINKES"), "901")).status == RedeemStatus.REGISTERED
    async with db.write() as session:  # the admin revokes the liaison role and keeps the Kabid one
        await people.revoke_person(session, person, acting=acting, revoker_roles=frozenset({Role.ADMIN}), now=NOW)
    assert await menus_queued(db, person) == [
        ("telegram", "901", ["kabid"]),
        ("telegram", "901", ["kabid", "opd"]),
        ("telegram", "901", ["kabid"]),
    ]
    async with db.write() as session:
        await people.purge_person(session, person, acting=acting, now=NOW)
    # The chat is named although the purge redacted it from the identity: its menu goes back to the default.
    assert await menus_queued(db, person) == [("telegram", "901", [])]


@pytest.mark.parametrize(
    ("written", "number"),
    [("+62 812-3456-7009", "6281234567009"), ("0812 3456 7009", "6281234567009"), ("6281234567009", "6281234567009")],
)
def test_a_whatsapp_number_is_written_as_whatsapp_writes_it(written: str, number: str) -> None:
    assert people.whatsapp_number(written) == number


async def test_a_kepala_opd_added_by_number_is_audited_and_a_bad_number_or_opd_changes_nothing(db: Database) -> None:
    acting = await setup(db)
    async with db.write() as session:
        person = await people.add_by_phone(
            session,
            role=Role.KEPALA_OPD,
            opd_code="dinkes",
            phone="0812-3456-7009",
            name=" Budi  Santoso ",
            acting=acting,
            now=NOW,
        )
    for phone, opd, refusal in (
        ("0812-ABC", "DINKES", "orang/nomor_tidak_sah"),
        ("+6281234567009", "DINKES", "orang/nomor_sudah_terdaftar"),
        ("6281200000000", "TIDAKADA", "identitas/opd_tidak_dikenal"),
    ):
        with pytest.raises(DomainError) as caught:
            async with db.write() as session:
                await people.add_by_phone(
                    session, role=Role.KEPALA_OPD, opd_code=opd, phone=phone, name="Orang Lain", acting=acting, now=NOW
                )
        assert caught.value.template == refusal
    async with db.read() as session:
        accounts = (await session.scalars(select(ChannelIdentity).where(ChannelIdentity.channel == "whatsapp"))).all()
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "person_added"))).all()
        name = await session.scalar(select(Person.display_name).where(Person.id == person))
        actor = await identity.resolve_actor(session, "whatsapp", "ID.123", "6281234567009")
    assert [(a.person_id, a.external_id, a.phone) for a in accounts] == [(person, "6281234567009", "6281234567009")]
    assert [(e.object_id, e.actor_person_id) for e in entries] == [(str(person), acting.person_id)]
    assert name == "Budi Santoso"
    assert actor.person_id == person and [a.role for a in actor.assignments] == [Role.KEPALA_OPD]
