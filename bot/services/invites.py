"""Invite codes: issue (with separation of duties), list, revoke, and redeem them to register a person."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import OPD_SCOPED_ROLES, Role
from bot.errors import DomainError
from bot.services import audit, menus
from bot.services.audit import Acting
from bot.services.identity import counts_as_liaison
from bot.services.safe_text import display_text
from storage.models import ChannelIdentity, CodeAttempt, Invite, Opd, Person, RoleAssignment

# Crockford base32: no I, L, O or U, so codes survive being read aloud or typed from paper.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 20  # 100 bits
DEFAULT_DAYS = 7
LOCKOUT_ATTEMPTS = 5
LOCKOUT_WINDOW = timedelta(hours=1)

# Who may mint which role (DESIGN §2, CONTRACT.md): nobody mints the role that disposes their own plan.
ISSUABLE: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.OPD, Role.KEPALA_OPD, Role.TIM}),
    Role.KASI: frozenset({Role.OPD, Role.KEPALA_OPD, Role.TIM, Role.ADMIN, Role.SEKRETARIAT}),
    Role.KABID: frozenset({Role.ADMIN, Role.SEKRETARIAT, Role.KASI, Role.KABID}),
}


def issuers_of(role: Role) -> frozenset[Role]:
    """The roles whose holders may issue codes for `role` (the CLI aside, which issues anything)."""
    return frozenset(issuer for issuer, issuable in ISSUABLE.items() if role in issuable)


def issuable_by(roles: frozenset[Role]) -> frozenset[Role]:
    """Every role the holder of `roles` may issue codes for (and so revoke)."""
    return frozenset().union(*(ISSUABLE.get(role, frozenset()) for role in roles))


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """`K7QM-2X9D-…` as shown to people."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(text: str) -> str | None:
    """Case-insensitive, hyphens and spaces optional, O/I/L read as 0/1; None if it cannot be a code."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def hash_code(code: str) -> str:
    # Codes carry 100 random bits, so a plain SHA-256 cannot be reversed by guessing.
    return hashlib.sha256(code.encode()).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


@dataclass(frozen=True)
class IssuedInvite:
    """A new code: the plain code exists only here, to be shown once."""

    id: int
    code: str
    role: Role | None
    opd_code: str | None
    expires_at: datetime
    handover: bool = False

    @property
    def shown(self) -> str:
        return format_code(self.code)


async def issue_invites(
    session: AsyncSession,
    *,
    acting: Acting,
    role: Role | None,
    opd_code: str | None,
    now: datetime,
    issuer_roles: frozenset[Role] | None,
    count: int = 1,
    days: int = DEFAULT_DAYS,
    link_person_id: int | None = None,
    handover: bool = False,
) -> list[IssuedInvite]:
    """Mint codes; `issuer_roles=None` is the trusted CLI (bootstrap). Raises DomainError when not allowed."""
    if not 1 <= count <= 100 or not 1 <= days <= 90:
        raise DomainError("undangan/jumlah_tidak_sah")
    if issuer_roles is not None and (role is None or role not in issuable_by(issuer_roles)):
        raise DomainError("undangan/tidak_boleh", audit_action="invite_refused", role=role.value if role else "tautan")
    opd: Opd | None = None
    if opd_code and role is not None and role not in OPD_SCOPED_ROLES:
        raise DomainError("undangan/opd_tidak_berlaku", role=role.value)
    if role in OPD_SCOPED_ROLES:
        if not opd_code:
            raise DomainError("undangan/opd_wajib", role=role.value if role else "")
        opd = await session.scalar(select(Opd).where(Opd.code == opd_code.upper()))
        if opd is None:
            raise DomainError("registry/opd_tidak_dikenal", code=opd_code.upper())
        if not opd.active:
            raise DomainError("undangan/opd_nonaktif", code=opd.code)
    if link_person_id is not None and await session.get(Person, link_person_id) is None:
        raise DomainError("orang/tidak_dikenal", person_id=link_person_id)
    issued = []
    for _ in range(count):
        code = new_code()
        invite = Invite(
            code_hash=hash_code(code),
            role=role.value if role else None,
            opd_id=opd.id if opd else None,
            link_person_id=link_person_id,
            handover=handover,
            created_by_person_id=acting.person_id,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        session.add(invite)
        await session.flush()
        await audit.record(
            session,
            acting,
            "invite_issue",
            now,
            object_type="invite",
            object_id=invite.id,
            role=invite.role,
            opd=opd.code if opd else None,
            handover=handover,
            link_person_id=link_person_id,
        )
        issued.append(IssuedInvite(invite.id, code, role, opd.code if opd else None, invite.expires_at, handover))
    return issued


@dataclass(frozen=True)
class InviteSummary:
    id: int
    role: str | None
    opd_code: str | None
    status: str
    expires_at: datetime
    handover: bool
    link_person_id: int | None


def invite_status(invite: Invite, now: datetime) -> str:
    if invite.revoked_at is not None:
        return "dicabut"
    if invite.used_at is not None:
        return "terpakai"
    if invite.expires_at <= now:
        return "kedaluwarsa"
    return "aktif"


async def list_invites(session: AsyncSession, now: datetime) -> list[InviteSummary]:
    rows = await session.execute(select(Invite, Opd.code).outerjoin(Opd, Opd.id == Invite.opd_id).order_by(Invite.id))
    return [
        InviteSummary(i.id, i.role, code, invite_status(i, now), i.expires_at, i.handover, i.link_person_id)
        for i, code in rows.all()
    ]


async def revoke_invite(session: AsyncSession, invite_id: int, *, acting: Acting, now: datetime) -> None:
    invite = await session.get(Invite, invite_id)
    if invite is None:
        raise DomainError("undangan/tidak_dikenal", invite_id=invite_id)
    if invite.used_at is not None or invite.revoked_at is not None:
        raise DomainError("undangan/tidak_bisa_dicabut", invite_id=invite_id, status=invite_status(invite, now))
    revoked = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.used_at.is_(None), Invite.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if not revoked.rowcount:  # type: ignore[attr-defined]
        raise DomainError("umum/sudah_diproses")  # redeemed or revoked a moment ago
    await audit.record(session, acting, "invite_revoke", now, object_type="invite", object_id=invite_id)


class RedeemStatus(StrEnum):
    REGISTERED = "registered"
    LINKED = "linked"
    ALREADY = "already"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    IDENTITY_TAKEN = "identity_taken"
    LOCKED = "locked"


@dataclass(frozen=True)
class PreviousLiaison:
    """A liaison the hand-over may replace, told apart from a namesake by the day they registered."""

    person_id: int
    name: str
    since: datetime
    chat_tail: str  # the last digits of their chat account, for two liaisons of one name registered the same day


@dataclass(frozen=True)
class Redemption:
    """What happened to a code; failures are results, not exceptions, so the failed attempt is kept."""

    status: RedeemStatus
    person_id: int | None = None
    role: Role | None = None
    opd_code: str | None = None
    opd_name: str | None = None
    locked_until: datetime | None = None
    just_locked: bool = False
    handover_issuer_id: int | None = None
    previous_liaisons: tuple[PreviousLiaison, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status in (RedeemStatus.REGISTERED, RedeemStatus.LINKED)


async def locked_until(session: AsyncSession, channel: str, chat_id: str, now: datetime) -> datetime | None:
    """When a chat with 5 failed codes within the hour may try again (an hour from its first failure)."""
    window = await session.execute(
        select(func.count(), func.min(CodeAttempt.attempted_at)).where(
            CodeAttempt.channel == channel,
            CodeAttempt.chat_id == chat_id,
            CodeAttempt.cleared_at.is_(None),
            CodeAttempt.attempted_at > now - LOCKOUT_WINDOW,
        )
    )
    count, first = window.one()
    if count >= LOCKOUT_ATTEMPTS and first is not None:
        return first + LOCKOUT_WINDOW
    return None


async def clear_attempts(session: AsyncSession, channel: str, chat_id: str, *, acting: Acting, now: datetime) -> int:
    """Lift a lockout (an admin's button, or `monev people unlock CHAT`)."""
    result = await session.execute(
        update(CodeAttempt)
        .where(CodeAttempt.channel == channel, CodeAttempt.chat_id == chat_id, CodeAttempt.cleared_at.is_(None))
        .values(cleared_at=now)
    )
    cleared = int(result.rowcount)  # type: ignore[attr-defined]
    await audit.record(session, acting, "lockout_clear", now, object_type="chat", object_id=f"{channel}:{chat_id}")
    return cleared


async def redeem(
    session: AsyncSession,
    *,
    code_text: str,
    channel: str,
    external_id: str,
    display_name: str | None,
    username: str | None,
    acting: Acting,
    now: datetime,
    phone: str | None = None,
) -> Redemption:
    """Register (or link a channel for) the sender with a code; every failure counts towards the lockout."""
    until = await locked_until(session, channel, external_id, now)
    if until is not None:
        return Redemption(RedeemStatus.LOCKED, locked_until=until)
    code = normalize_code(code_text)
    invite = await session.scalar(select(Invite).where(Invite.code_hash == hash_code(code))) if code else None
    failure = _failure_of(invite, now)
    if failure is not None:
        return await _record_failure(session, failure, channel, external_id, acting, now)
    assert invite is not None
    identity = await session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
    )
    if invite.link_person_id is not None:
        return await _link(session, invite, identity, channel, external_id, username, acting, now, phone)
    role = Role(invite.role or "")
    opd = await session.get(Opd, invite.opd_id) if invite.opd_id else None
    if identity is not None:
        same = await session.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.person_id == identity.person_id,
                RoleAssignment.role == role.value,
                RoleAssignment.opd_id.is_(None) if opd is None else RoleAssignment.opd_id == opd.id,
                RoleAssignment.revoked_at.is_(None),
            )
        )
        if same is not None:
            opd_code, opd_name = (opd.code, opd.name) if opd else (None, None)
            return Redemption(RedeemStatus.ALREADY, identity.person_id, role, opd_code, opd_name)
    if not await _claim(session, invite, now):
        return await _record_failure(session, RedeemStatus.USED, channel, external_id, acting, now)
    person_id = identity.person_id if identity else await _new_person(session, display_name, now)
    name = display_text(display_name or "").strip()[:255]
    if identity is not None and name:  # a chat that was only unlocked has no name yet
        await session.execute(
            update(Person).where(Person.id == person_id, Person.display_name.is_(None)).values(display_name=name)
        )
    if identity is None:
        session.add(
            ChannelIdentity(
                person_id=person_id,
                channel=channel,
                external_id=external_id,
                username=username,
                phone=phone,
                created_at=now,
                last_inbound_at=now,  # the code came in a message from this account just now
            )
        )
    session.add(
        RoleAssignment(
            person_id=person_id,
            role=role.value,
            opd_id=opd.id if opd else None,
            granted_by_person_id=invite.created_by_person_id,
            granted_at=now,
        )
    )
    invite.used_by_person_id = person_id
    registrant = Acting(person_id, role.value, acting.channel, acting.chat_message_id)
    await audit.record(
        session,
        registrant,
        "registration",
        now,
        object_type="person",
        object_id=person_id,
        invite_id=invite.id,
        opd=opd.code if opd else None,
        handover=invite.handover,
    )
    await menus.queue_menus(session, person_id, now)
    previous = await _other_liaisons(session, opd.id, person_id) if (opd and invite.handover) else ()
    return Redemption(
        RedeemStatus.REGISTERED,
        person_id,
        role,
        opd.code if opd else None,
        opd.name if opd else None,
        handover_issuer_id=invite.created_by_person_id if invite.handover else None,
        previous_liaisons=previous,
    )


async def _claim(session: AsyncSession, invite: Invite, now: datetime) -> bool:
    """Use the code, if still unused and unrevoked: the check and the write are one conditional UPDATE.

    Two people redeeming one forwarded code both find it unused; only one UPDATE matches (on PostgreSQL the
    second waits for the first to commit), so only one registers and the other is told the code is used.
    """
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now)
        .values(used_at=now)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _failure_of(invite: Invite | None, now: datetime) -> RedeemStatus | None:
    if invite is None:
        return RedeemStatus.UNKNOWN
    if invite.revoked_at is not None:
        return RedeemStatus.REVOKED
    if invite.used_at is not None:
        return RedeemStatus.USED
    if invite.expires_at <= now:
        return RedeemStatus.EXPIRED
    return None


async def _record_failure(
    session: AsyncSession, status: RedeemStatus, channel: str, chat_id: str, acting: Acting, now: datetime
) -> Redemption:
    session.add(CodeAttempt(channel=channel, chat_id=chat_id, attempted_at=now))
    await session.flush()
    await audit.record(
        session,
        acting,
        "registration_refused",
        now,
        object_type="chat",
        object_id=f"{channel}:{chat_id}",
        reason=status.value,
    )
    until = await locked_until(session, channel, chat_id, now)
    if until is not None:
        await audit.record(session, acting, "lockout", now, object_type="chat", object_id=f"{channel}:{chat_id}")
        return Redemption(RedeemStatus.LOCKED, locked_until=until, just_locked=True)
    return Redemption(status)


async def _new_person(session: AsyncSession, display_name: str | None, now: datetime) -> int:
    person = Person(display_name=display_text(display_name or "").strip()[:255] or None, created_at=now)
    session.add(person)
    await session.flush()
    return person.id


async def _link(
    session: AsyncSession,
    invite: Invite,
    identity: ChannelIdentity | None,
    channel: str,
    external_id: str,
    username: str | None,
    acting: Acting,
    now: datetime,
    phone: str | None = None,
) -> Redemption:
    """A `--person` code: attach this channel account to an existing person."""
    target = invite.link_person_id
    assert target is not None
    if identity is not None and identity.person_id == target:
        return Redemption(RedeemStatus.ALREADY, target)
    if identity is not None:
        return Redemption(RedeemStatus.IDENTITY_TAKEN)
    if not await _claim(session, invite, now):
        return await _record_failure(session, RedeemStatus.USED, channel, external_id, acting, now)
    session.add(
        ChannelIdentity(
            person_id=target,
            channel=channel,
            external_id=external_id,
            username=username,
            phone=phone,
            created_at=now,
            last_inbound_at=now,
        )
    )
    invite.used_by_person_id = target
    await audit.record(
        session,
        Acting(target, None, acting.channel, acting.chat_message_id),
        "identity_link",
        now,
        object_type="person",
        object_id=target,
        invite_id=invite.id,
        channel_linked=channel,
    )
    if channel in menus.MENU_CHANNELS:  # the person's other chats have their menu already
        await menus.queue_menus(session, target, now, chats=[(channel, external_id)])
    return Redemption(RedeemStatus.LINKED, target)


async def _other_liaisons(session: AsyncSession, opd_id: int, new_person_id: int) -> tuple[PreviousLiaison, ...]:
    rows = await session.execute(
        select(
            Person.id, Person.display_name, func.min(RoleAssignment.granted_at), func.max(ChannelIdentity.external_id)
        )
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .outerjoin(ChannelIdentity, ChannelIdentity.person_id == Person.id)
        .where(
            RoleAssignment.opd_id == opd_id,
            counts_as_liaison(),
            Person.id != new_person_id,
        )
        .group_by(Person.id, Person.display_name)
        .order_by(Person.id)
    )
    return tuple(
        PreviousLiaison(pid, name or f"pengguna-{pid}", since, (chat or "")[-4:])
        for pid, name, since, chat in rows.all()
    )
