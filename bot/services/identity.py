"""Who is talking: resolve a channel identity to a person and their active assignments."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.conversation.core import Actor, Assignment
from bot.domain.enums import OPD_SCOPED_ROLES, Channel, Role
from bot.errors import DomainError
from storage.models import ChannelIdentity, Opd, Person, RoleAssignment

# The server's own operators: the console (`monev shell`) and the CLI act as persons of their own, on these
# channels only. They try and run the bot; they are never anyone's liaison.
LOCAL_CHANNELS = (Channel.CONSOLE.value, Channel.CLI.value)


def is_local_operator(person_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """SQL: the person stands for a server operator (has a console or CLI identity)."""
    local = aliased(ChannelIdentity)  # its own name: a query that joins ChannelIdentity must not correlate it away
    return exists().where(local.person_id == person_id, local.channel.in_(LOCAL_CHANNELS))


def counts_as_liaison() -> ColumnElement[bool]:
    """SQL on `RoleAssignment`: an active liaison's assignment, the one rule behind every liaison count and list.

    A console person trying `--as opd:KODE` holds the role for that session's person, but is no OPD's liaison:
    not in `/opd`, the broadcast, its delivery report or a hand-over.
    """
    return and_(
        RoleAssignment.role == Role.OPD.value,
        RoleAssignment.revoked_at.is_(None),
        ~is_local_operator(RoleAssignment.person_id),
    )


def not_a_local_liaison() -> ColumnElement[bool]:
    """SQL on `RoleAssignment`: any assignment but a local operator's liaison role (for queries of several roles)."""
    return or_(RoleAssignment.role != Role.OPD.value, ~is_local_operator(RoleAssignment.person_id))


def _actor_statement(*, by_phone: bool) -> Any:
    """The person with their active assignments, one row each: one statement, built once (it runs per update)."""
    external_id: Any = bindparam("external_id")
    matches = ChannelIdentity.external_id == external_id
    if by_phone:
        phone: Any = bindparam("phone")
        matches = or_(matches, and_(ChannelIdentity.external_id == phone, ChannelIdentity.phone == phone))
    return (
        select(ChannelIdentity.id, Person.id, Person.display_name, RoleAssignment.role, RoleAssignment.opd_id, Opd.code)
        .join(ChannelIdentity, ChannelIdentity.person_id == Person.id)
        .outerjoin(RoleAssignment, and_(RoleAssignment.person_id == Person.id, RoleAssignment.revoked_at.is_(None)))
        .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
        .where(ChannelIdentity.channel == bindparam("channel"), matches)
        .order_by((ChannelIdentity.external_id != external_id), ChannelIdentity.id, RoleAssignment.id)
    )


_ACTOR = _actor_statement(by_phone=False)
_ACTOR_BY_PHONE = _actor_statement(by_phone=True)


async def resolve_actor(session: AsyncSession, channel: str, external_id: str, phone: str | None = None) -> Actor:
    """The person behind (channel, external id) with their active assignments; unknown people get none.

    A WhatsApp account added by number (`monev people add --wa`) is found by the sender's phone until its first
    message gives it the business-scoped user id (`touch`).
    """
    by_phone = bool(phone and channel == Channel.WHATSAPP.value)
    parameters = {"channel": channel, "external_id": external_id, "phone": phone}
    rows = (await session.execute(_ACTOR_BY_PHONE if by_phone else _ACTOR, parameters)).all()
    if not rows:
        return Actor(person_id=None, display_name=None)
    first = rows[0]
    assignments = tuple(
        Assignment(Role(r.role), r.opd_id, r.code) for r in rows if r[0] == first[0] and r.role is not None
    )
    return Actor(person_id=first[1], display_name=first.display_name, assignments=assignments)


async def _assignments(session: AsyncSession, person_id: int, *, lock: bool = False) -> tuple[Assignment, ...]:
    query = (
        select(RoleAssignment.role, RoleAssignment.opd_id, Opd.code)
        .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
        .where(RoleAssignment.person_id == person_id, RoleAssignment.revoked_at.is_(None))
        .order_by(RoleAssignment.id)
    )
    if lock:  # FOR SHARE OF role_assignment on PostgreSQL; SQLite's one writer already serialises
        query = query.with_for_update(read=True, of=RoleAssignment)
    rows = await session.execute(query)
    return tuple(Assignment(Role(r.role), r.opd_id, r.code) for r in rows)


async def authorize(
    session: AsyncSession, person_id: int | None, roles: Collection[Role], *, opd_id: int | None = None
) -> Actor:
    """The one access rule for acting on what a person holds from earlier: a button, a batch, a job's work.

    The assignments are re-read now, in the action's own transaction, so a revocation that committed a moment
    ago counts; on PostgreSQL the rows are share-locked, so a revocation running now waits for this action to
    commit. Allowed when the person holds one of `roles` (an OPD-scoped role: for `opd_id`, when given).
    Returns the person with their current assignments, for the action to act as.
    """
    current = await _assignments(session, person_id, lock=True) if person_id is not None else ()
    allowed = any(
        a.role in roles and (opd_id is None or a.role not in OPD_SCOPED_ROLES or a.opd_id == opd_id) for a in current
    )
    if not allowed:
        raise DomainError("umum/peran_tidak_aktif", audit_action="access_refused", roles=",".join(sorted(roles)))
    name = await session.scalar(select(Person.display_name).where(Person.id == person_id))
    return Actor(person_id=person_id, display_name=name, assignments=current)


async def person_of_identity(
    session: AsyncSession, channel: str, external_id: str, display_name: str | None, now: datetime
) -> int:
    """The person behind (channel, external id), created with `display_name` and that identity on first use."""
    existing = await session.scalar(
        select(ChannelIdentity.person_id).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if existing is not None:
        return existing
    person = Person(display_name=display_name, created_at=now)
    session.add(person)
    await session.flush()
    session.add(ChannelIdentity(person_id=person.id, channel=channel, external_id=external_id, created_at=now))
    await session.flush()
    return person.id


async def ensure_chat_person(session: AsyncSession, channel: str, external_id: str, now: datetime) -> int:
    """The person behind a chat, created bare (no name, no role) when the chat belongs to nobody yet.

    A chat an admin unlocked must be told so before its owner registers; `/daftar` later gives this person the
    role (and the name) instead of making another.
    """
    return await person_of_identity(session, channel, external_id, None, now)


async def ensure_local_person(session: AsyncSession, channel: str, unix_user: str, now: datetime) -> int:
    """The person standing for a local operator (`console:<user>` or `cli:<user>`), created on first use."""
    return await person_of_identity(session, channel, unix_user, f"{channel}:{unix_user}", now)


def console_external_id(unix_user: str, role: Role, opd_code: str | None) -> str:
    """`root/kasi`, `root/opd:DINKES`: one console person per unix user, role and OPD."""
    return f"{unix_user}/{role.value}" + (f":{opd_code.upper()}" if opd_code else "")


async def ensure_console_person(
    session: AsyncSession, unix_user: str, role: Role, opd_code: str | None, name: str, now: datetime
) -> Actor:
    """The console person of one `monev shell --as ROLE[:OPD]`, created on first use, holding exactly that role.

    Each role (and OPD) is a person of its own, so trying a role never gives it to the server's operator for
    good, and a later session as another role holds only its own. Refuses unknown or missing OPDs.
    """
    external_id = console_external_id(unix_user, role, opd_code)
    person_id = await person_of_identity(session, Channel.CONSOLE.value, external_id, name, now)
    assignment = await ensure_assignment(session, person_id, role, opd_code, now)
    return Actor(person_id, name, (assignment,))


async def ensure_assignment(
    session: AsyncSession, person_id: int, role: Role, opd_code: str | None, now: datetime
) -> Assignment:
    """Give a trusted local person a role (the console's `--as`); refuses unknown or missing OPDs."""
    opd: Opd | None = None
    if role in OPD_SCOPED_ROLES and not opd_code:
        raise DomainError("identitas/opd_wajib", role=role.value)
    if opd_code and role not in OPD_SCOPED_ROLES:
        raise DomainError("identitas/opd_tidak_berlaku", role=role.value)
    if opd_code:
        opd = await session.scalar(select(Opd).where(Opd.code == opd_code.upper()))
        if opd is None:
            raise DomainError("identitas/opd_tidak_dikenal", code=opd_code.upper())
    opd_id = opd.id if opd else None
    current = await session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.person_id == person_id,
            RoleAssignment.role == role.value,
            RoleAssignment.opd_id.is_(None) if opd_id is None else RoleAssignment.opd_id == opd_id,
            RoleAssignment.revoked_at.is_(None),
        )
    )
    if current is None:
        session.add(RoleAssignment(person_id=person_id, role=role.value, opd_id=opd_id, granted_at=now))
        await session.flush()
    return Assignment(role, opd_id, opd.code if opd else None)


async def touch(
    session: AsyncSession, channel: str, external_id: str, now: datetime, *, phone: str | None = None
) -> None:
    """Remember when this account last wrote to us; writing again also clears an unreachable mark.

    A WhatsApp account's phone number is kept as WhatsApp last gave it (it may come later, or change).
    """
    values: dict[str, object] = {"last_inbound_at": now, "unreachable_at": None}
    if phone is not None:
        values["phone"] = phone
    result = await session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
        .values(**values)
    )
    if not result.rowcount and phone and channel == Channel.WHATSAPP.value:  # type: ignore[attr-defined]
        # The first message of an account added by number: from now on it is keyed by the user id, as pywa does.
        await session.execute(
            update(ChannelIdentity)
            .where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_id == phone,
                ChannelIdentity.phone == phone,
            )
            .values(external_id=external_id, **values)
        )
