"""People: who holds which role, revocation, purge, and who to notify."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.envelope import Envelope
from bot.domain.enums import Channel, Role
from bot.errors import DomainError
from bot.services import actions, audit, conversations, menus, outbox, submissions
from bot.services.audit import Acting
from bot.services.identity import counts_as_liaison, ensure_assignment, not_a_local_liaison
from bot.services.invites import issuable_by
from storage.models import AuditEntry, ChannelIdentity, InboundEvent, Opd, Person, RoleAssignment


@dataclass(frozen=True)
class AssignmentView:
    id: int
    role: Role
    opd_code: str | None
    opd_name: str | None


@dataclass(frozen=True)
class PersonView:
    id: int
    name: str
    channels: tuple[str, ...]
    assignments: tuple[AssignmentView, ...]
    purged: bool


async def describe_people(session: AsyncSession, person_ids: Iterable[int] | None = None) -> list[PersonView]:
    """People with their channels and active assignments, in three queries whatever their number."""
    query = select(Person).order_by(Person.id)
    if person_ids is not None:
        query = query.where(Person.id.in_(list(person_ids)))
    persons = (await session.scalars(query)).all()
    ids = [p.id for p in persons]
    channels: dict[int, list[str]] = {}
    for person_id, channel in (
        await session.execute(
            select(ChannelIdentity.person_id, ChannelIdentity.channel).where(ChannelIdentity.person_id.in_(ids))
        )
    ).all():
        channels.setdefault(person_id, []).append(channel)
    roles: dict[int, list[AssignmentView]] = {}
    for row in (
        await session.execute(
            select(RoleAssignment.id, RoleAssignment.person_id, RoleAssignment.role, Opd.code, Opd.name)
            .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
            .where(RoleAssignment.person_id.in_(ids), RoleAssignment.revoked_at.is_(None))
            .order_by(RoleAssignment.id)
        )
    ).all():
        roles.setdefault(row.person_id, []).append(AssignmentView(row.id, Role(row.role), row.code, row.name))
    return [
        PersonView(
            p.id,
            audit.actor_label(p.id, p.display_name, p.purged_at is not None),
            tuple(sorted(set(channels.get(p.id, [])))),
            tuple(roles.get(p.id, [])),
            p.purged_at is not None,
        )
        for p in persons
    ]


async def people_with_roles(session: AsyncSession, roles: Iterable[Role], opd_id: int | None = None) -> list[int]:
    """Ids of people holding any of `roles` (for one OPD, if given), e.g. the admins to notify.

    A console person is told as any other (its shell shows it), except as a liaison: it is nobody's.
    """
    query = (
        select(RoleAssignment.person_id)
        .where(
            RoleAssignment.role.in_([r.value for r in roles]),
            RoleAssignment.revoked_at.is_(None),
            not_a_local_liaison(),
        )
        .distinct()
        .order_by(RoleAssignment.person_id)
    )
    if opd_id is not None:
        query = query.where(RoleAssignment.opd_id == opd_id)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class Revocation:
    person_id: int
    name: str
    revoked: tuple[AssignmentView, ...]
    kept: tuple[AssignmentView, ...]
    cancelled_batches: tuple[int, ...] = ()
    cancelled_buttons: int = 0


async def revoke_person(
    session: AsyncSession,
    person_id: int,
    *,
    acting: Acting,
    revoker_roles: frozenset[Role] | None,
    now: datetime,
    opd_code: str | None = None,
) -> Revocation:
    """Revoke, at once, the person's assignments the revoker may issue (all of them for the trusted CLI).

    What the person still holds goes with them: every unused button, any guided flow they are in, and every
    open batch the remaining roles no longer cover (a liaison kept for another OPD keeps that OPD's batches).
    """
    found = await describe_people(session, [person_id])
    if not found:
        raise DomainError("orang/tidak_dikenal", person_id=person_id)
    person = found[0]
    allowed = None if revoker_roles is None else issuable_by(revoker_roles)
    chosen = [a for a in person.assignments if opd_code is None or a.opd_code == opd_code]
    revocable = tuple(a for a in chosen if allowed is None or a.role in allowed)
    kept = tuple(a for a in person.assignments if a not in revocable)
    if not revocable:
        if chosen:
            raise DomainError(
                "orang/tidak_boleh_cabut", audit_action="revoke_refused", name=person.name, person_id=person_id
            )
        raise DomainError("orang/tanpa_peran", name=person.name)
    await session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.id.in_([a.id for a in revocable]))
        .values(revoked_at=now, revoked_by_person_id=acting.person_id)
    )
    for assignment in revocable:
        await audit.record(
            session,
            acting,
            "revoke",
            now,
            object_type="person",
            object_id=person_id,
            role_revoked=assignment.role.value,
            opd=assignment.opd_code,
        )
    batches, buttons = await _cancel_holdings(session, person_id, acting, now)
    # Told the same way whoever revokes (a chat's /cabut, a hand-over, `monev people revoke`).
    notice = Envelope.of("pemberitahuan", "orang/pemberitahuan_dicabut", revoked=revocable, batal=len(batches))
    await outbox.enqueue(session, person_id=person_id, message=notice, now=now)
    await menus.queue_menus(session, person_id, now)
    return Revocation(person_id, person.name, revocable, kept, batches, buttons)


@dataclass(frozen=True)
class LastRevocation:
    """What a person without roles is told by /saya: their access was revoked, by which role, when."""

    role: Role
    opd_name: str | None
    by_role: str | None  # the revoker's role as the audit log holds it ("cli" for the server's operator)
    at: datetime


async def last_revocation(session: AsyncSession, person_id: int) -> LastRevocation | None:
    """The person's most recent revoked role, or None for someone who never held one."""
    row = (
        await session.execute(
            select(RoleAssignment.role, Opd.name, RoleAssignment.revoked_at, RoleAssignment.revoked_by_person_id)
            .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
            .where(RoleAssignment.person_id == person_id, RoleAssignment.revoked_at.is_not(None))
            .order_by(RoleAssignment.revoked_at.desc(), RoleAssignment.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    role, opd_name, at, _revoker = row
    if at is None:  # not possible (the query asks for revoked rows), but the type does not know
        return None
    by_role = await session.scalar(
        select(AuditEntry.role)
        .where(AuditEntry.action == "revoke", AuditEntry.object_id == str(person_id), AuditEntry.at == at)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return LastRevocation(Role(role), opd_name, by_role, at)


async def _cancel_holdings(
    session: AsyncSession, person_id: int, acting: Acting, now: datetime
) -> tuple[tuple[int, ...], int]:
    """Cancel the person's unused buttons, flows and the open batches they may no longer file; audited when any."""
    batches = tuple(await submissions.cancel_unauthorized_batches(session, person_id))
    buttons = await actions.cancel_for_person(session, person_id, now)
    flows = await conversations.finish_for_person(session, person_id)
    if batches or buttons or flows:
        await audit.record(
            session,
            acting,
            "revoke_cancel",
            now,
            object_type="person",
            object_id=person_id,
            batches=list(batches),
            buttons=buttons,
            flows=flows,
        )
    return batches, buttons


async def purge_person(session: AsyncSession, person_id: int, *, acting: Acting, now: datetime) -> None:
    """UU 27/2022: redact names and channel ids, null their journal payloads; the audit keeps a pseudonym."""
    person = await session.get(Person, person_id)
    if person is None:
        raise DomainError("orang/tidak_dikenal", person_id=person_id)
    identities = (await session.scalars(select(ChannelIdentity).where(ChannelIdentity.person_id == person_id))).all()
    chats = [(i.channel, i.external_id) for i in identities]
    menu_chats = await menus.menu_chats(session, person_id)  # before they are redacted
    for chat_channel, chat_id in chats:
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.channel == chat_channel, InboundEvent.chat_key == chat_id)
            .values(payload=None)
        )
    for identity in identities:
        identity.external_id = f"purged-{identity.id}"
        identity.username = None
        identity.phone = None
    person.display_name = None
    person.purged_at = now
    await outbox.purge_payloads(session, person_id)
    await session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.person_id == person_id, RoleAssignment.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_person_id=acting.person_id)
    )
    await _cancel_holdings(session, person_id, acting, now)
    # After the payloads are nulled: the one message left names the chat, to take the staff menu off it.
    await menus.queue_menus(session, person_id, now, chats=menu_chats)
    await audit.record(session, acting, "purge", now, object_type="person", object_id=person_id)


async def add_by_phone(
    session: AsyncSession, *, role: Role, opd_code: str | None, phone: str, name: str, acting: Acting, now: datetime
) -> int:
    """A person the trusted CLI adds by WhatsApp number (a Kepala OPD, who registers by no code), with their role.

    The account is keyed by the number until the person first writes: that message, whose `wa_id` is the
    number, gives it the business-scoped user id (`identity.touch`). Until then messages go to the number,
    outside the 24-hour window only as templates.
    """
    number = whatsapp_number(phone)
    if not name.strip():
        raise DomainError("orang/nama_wajib")
    taken = await session.scalar(
        select(ChannelIdentity.person_id).where(
            ChannelIdentity.channel == Channel.WHATSAPP.value,
            (ChannelIdentity.external_id == number) | (ChannelIdentity.phone == number),
        )
    )
    if taken is not None:
        raise DomainError("orang/nomor_sudah_terdaftar", phone=number, person_id=taken)
    person = Person(display_name=" ".join(name.split())[:255], created_at=now)
    session.add(person)
    await session.flush()
    session.add(
        ChannelIdentity(
            person_id=person.id, channel=Channel.WHATSAPP.value, external_id=number, phone=number, created_at=now
        )
    )
    assignment = await ensure_assignment(session, person.id, role, opd_code, now)
    await audit.record(
        session,
        acting,
        "person_added",
        now,
        object_type="person",
        object_id=person.id,
        role=role.value,
        opd=assignment.opd_code,
        channel=Channel.WHATSAPP.value,
    )
    return person.id


def whatsapp_number(phone: str) -> str:
    """A phone number as WhatsApp's `wa_id` writes it: country code and digits (`0812…` is read as `62812…`)."""
    digits = re.sub(r"[\s().-]", "", phone.strip()).removeprefix("+")
    if digits.startswith("0"):
        digits = "62" + digits[1:]  # a local Indonesian number
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise DomainError("orang/nomor_tidak_sah", phone=phone.strip()[:32])
    return digits


async def liaisons_by_opd(session: AsyncSession) -> dict[str, list[str]]:
    """Registered liaisons (`opd` role) per OPD code, in one query."""
    rows = await session.execute(
        select(Opd.code, Person.id, Person.display_name)
        .join(RoleAssignment, RoleAssignment.opd_id == Opd.id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(counts_as_liaison())
        .order_by(Opd.code, Person.id)
    )
    result: dict[str, list[str]] = {}
    for code, person_id, name in rows.all():
        result.setdefault(code, []).append(name or f"pengguna-{person_id}")
    return result


async def opd_codes_of(session: AsyncSession, person_id: int) -> list[str]:
    """The OPDs a person is an active liaison of."""
    rows = await session.scalars(
        select(Opd.code)
        .join(RoleAssignment, RoleAssignment.opd_id == Opd.id)
        .where(
            RoleAssignment.person_id == person_id,
            RoleAssignment.role == Role.OPD.value,
            RoleAssignment.revoked_at.is_(None),
        )
        .order_by(Opd.code)
    )
    return list(rows.all())
