"""People and access in chat: registration, /saya, /undang, /cabut, /serahkan, and their one-time buttons."""

from __future__ import annotations

from typing import Any

from bot.conversation import payloads
from bot.conversation.commands import commands_for
from bot.conversation.core import Reply
from bot.conversation.handling import Context, Registry
from bot.domain.enums import OPD_SCOPED_ROLES, Role
from bot.errors import DomainError
from bot.services import access, actions, bot_state, broadcast, identity, invites, menus, people
from bot.services.invites import IssuedInvite, RedeemStatus, Redemption
from handlers import questions

STAFF_ROLE_WORDS = {
    "tim": Role.TIM,
    "admin": Role.ADMIN,
    "sekretariat": Role.SEKRETARIAT,
    "kasi": Role.KASI,
    "kabid": Role.KABID,
}
OPD_ROLE_WORDS = {"opd": Role.OPD, "kepala_opd": Role.KEPALA_OPD}


async def start(ctx: Context) -> Reply | list[Reply]:
    """`/start` greets; `/start KODE` (a Telegram deep link) registers."""
    if ctx.request.args:
        return await register_with_code(ctx, ctx.request.args[0])
    actor = ctx.actor
    roles = sorted(role.value for role in actor.roles)
    return ctx.reply("umum/mulai", name=ctx.request.sender_name, registered=actor.is_registered, roles=roles)


async def daftar(ctx: Context) -> Reply | list[Reply]:
    """`/daftar KODE`."""
    if not ctx.request.args:
        return ctx.reply("pendaftaran/cara")
    return await register_with_code(ctx, "".join(ctx.request.args))


async def plain_text(ctx: Context) -> Reply | list[Reply]:
    """Text outside a flow: a bare invite code from someone not yet registered is `/daftar KODE`; a liaison's text
    is a question for the admins and the Kasi (handlers.questions)."""
    text = ctx.request.text or ""
    if invites.normalize_code(text) is not None:  # a code once registered is no question for the admins either
        return await register_with_code(ctx, text) if not ctx.actor.is_registered else ctx.reply("umum/tidak_mengerti")
    relayed = await questions.relay_or_answer(ctx)  # a liaison's question, or an answer replying to one
    return relayed if relayed is not None else ctx.reply("umum/tidak_mengerti")


async def register_with_code(ctx: Context, code_text: str) -> Reply | list[Reply]:
    request = ctx.request
    session = await ctx.session()
    result = await invites.redeem(
        session,
        code_text=code_text,
        channel=request.channel,
        external_id=request.sender_id,
        display_name=request.sender_name,
        username=None,
        acting=ctx.acting(),
        now=ctx.now,
        phone=request.sender_phone,
    )
    if result.status == RedeemStatus.LOCKED:
        if result.just_locked:
            await _lockout_notices(ctx)
        return ctx.reply("pendaftaran/terkunci", until=result.locked_until)
    if result.status == RedeemStatus.ALREADY:
        return ctx.reply("pendaftaran/sudah_terdaftar")
    if result.status == RedeemStatus.LINKED:
        return ctx.reply("pendaftaran/tertaut")
    if not result.ok:
        return ctx.reply("pendaftaran/gagal", status=result.status.value)
    await _registration_notices(ctx, result)
    assert result.person_id is not None
    # Every role the person holds now (a registration may add to earlier ones), as their new menu lists them.
    commands = commands_for(await menus.roles_of(session, result.person_id))
    return ctx.reply(
        "pendaftaran/berhasil",
        role=_role(result),
        opd_name=result.opd_name,
        channel=request.channel,  # only Telegram shows a command menu
        commands=commands,
        helps={c.name: ctx.services.renderer.plain(c.help_template) for c in commands},
    )


def _role(result: Redemption) -> str:
    assert result.role is not None
    return result.role.value


async def _registration_notices(ctx: Context, result: Redemption) -> None:
    """Tell the admins; ask the issuer of a hand-over code about the old liaisons; send open invitations."""
    session = await ctx.session()
    for admin in await people.people_with_roles(session, [Role.ADMIN]):
        if admin != result.person_id:
            await ctx.notify(
                admin,
                "pendaftaran/pemberitahuan_admin",
                name=ctx.request.sender_name or "-",
                role=_role(result),
                opd_name=result.opd_name,
            )
    issuer = result.handover_issuer_id
    if issuer is not None and result.previous_liaisons:
        # One decision: "keep all" expires the "revoke" buttons, and a revocation expires "keep all".
        keep_token, zone = actions.new_token(), ctx.services.settings.timezone
        buttons = [
            [
                await actions.action_button(
                    session,
                    ctx.label(
                        "tombol/cabut_penghubung_lama",
                        name=old.name,
                        since=old.since.astimezone(zone).date(),
                        chat_tail=old.chat_tail,
                    ),
                    kind="handover_revoke",
                    person_id=issuer,
                    now=ctx.now,
                    target=old.person_id,
                    opd=result.opd_code,
                    keep=keep_token,
                )
            ]
            for old in result.previous_liaisons[:7]
        ]
        keep = await actions.action_button(
            session,
            ctx.label("tombol/biarkan_semua_aktif"),
            kind="handover_keep",
            person_id=issuer,
            now=ctx.now,
            token=keep_token,
            siblings=[actions.token_of(row[0]) for row in buttons],
        )
        await ctx.notify(
            issuer,
            "pendaftaran/serah_terima_tanya",
            buttons=[*buttons, [keep]],
            name=ctx.request.sender_name or "-",
            opd_name=result.opd_name,
            previous=[old.name for old in result.previous_liaisons],
        )
    if result.role == Role.OPD and result.person_id is not None and result.opd_code:
        await broadcast.invite_new_liaison(session, result.person_id, result.opd_code, ctx.now)


async def _lockout_notices(ctx: Context) -> None:
    session = await ctx.session()
    for admin in await people.people_with_roles(session, [Role.ADMIN]):
        unlock = await actions.action_button(
            session,
            ctx.label("tombol/buka_blokir"),
            kind="unlock_chat",
            person_id=admin,
            now=ctx.now,
            channel=ctx.request.channel,
            chat=ctx.request.sender_id,
        )
        await ctx.notify(
            admin,
            "pendaftaran/terkunci_admin",
            buttons=[[unlock]],
            channel=ctx.request.channel,
            chat=ctx.request.sender_id,
            name=ctx.request.sender_name or "-",
        )


async def saya(ctx: Context) -> Reply:
    """Who am I: name and active assignments."""
    actor = ctx.actor
    if actor.person_id is None:
        return ctx.reply("orang/saya", person=None, revoked=None)
    session = await ctx.session()
    (person,) = await people.describe_people(session, [actor.person_id])
    revoked = None if person.assignments else await people.last_revocation(session, actor.person_id)
    return ctx.reply("orang/saya", person=person, revoked=revoked)


async def undang(ctx: Context) -> Reply:
    """`/undang OPD_CODE [opd|kepala_opd]`, `/undang tim|admin|sekretariat|kasi|kabid`."""
    args = [a.lower() for a in ctx.request.args]
    if not args or len(args) > 2:
        return ctx.reply("undangan/cara")
    role, opd_code = _invite_target(args)
    if role is None:
        return ctx.reply("undangan/cara")
    return await _issue(ctx, role, opd_code, handover=False)


def _invite_target(args: list[str]) -> tuple[Role | None, str | None]:
    if len(args) == 1 and args[0] in STAFF_ROLE_WORDS:
        return STAFF_ROLE_WORDS[args[0]], None
    role = OPD_ROLE_WORDS.get(args[1]) if len(args) == 2 else Role.OPD
    return role, args[0].upper()


async def serahkan(ctx: Context) -> Reply:
    """`/serahkan OPD_CODE`: a hand-over code for a new liaison; the old one is dealt with on registration."""
    if len(ctx.request.args) != 1:
        return ctx.reply("undangan/cara_serahkan")
    return await _issue(ctx, Role.OPD, ctx.request.args[0].upper(), handover=True)


async def _issue(ctx: Context, role: Role, opd_code: str | None, *, handover: bool) -> Reply:
    actor = ctx.actor
    session = await ctx.session()
    (invite,) = await invites.issue_invites(
        session,
        acting=ctx.acting(access.issuing_role(actor, role)),
        role=role,
        opd_code=opd_code if role in OPD_SCOPED_ROLES else None,
        now=ctx.now,
        issuer_roles=actor.roles,
        handover=handover,
    )
    username = await bot_state.recall(session, bot_state.TELEGRAM_USERNAME)
    return _code_reply(ctx, invite, username)


def _code_reply(ctx: Context, invite: IssuedInvite, username: str | None) -> Reply:
    link = invites.deep_link(username, invite.code) if username else None
    return ctx.reply(
        "undangan/kode",
        code=invite.shown,
        role=invite.role.value if invite.role else "tautan",
        opd_code=invite.opd_code,
        expires_at=invite.expires_at,
        link=link,
        handover=invite.handover,
    )


async def cabut(ctx: Context) -> Reply | list[Reply]:
    """`/cabut` lists who the sender may revoke; `/cabut ID` revokes at once."""
    actor = ctx.actor
    session = await ctx.session()
    if not ctx.request.args:
        everyone = await people.describe_people(session)
        listed = [p for p in everyone if access.may_revoke_any_of(actor, (a.role for a in p.assignments))]
        return ctx.reply("orang/daftar_cabut", people=listed)
    target = payloads.parse_id(ctx.request.args[0])
    if target is None or len(ctx.request.args) > 1:
        return ctx.reply("orang/cara_cabut")
    result = await people.revoke_person(session, target, acting=ctx.acting(), revoker_roles=actor.roles, now=ctx.now)
    return ctx.reply("orang/dicabut", result=result)


async def handover_revoke(ctx: Context, params: dict[str, Any]) -> Reply | list[Reply]:
    if "keep" in params:  # "keep all" no longer holds
        await actions.expire(await ctx.session(), [str(params["keep"])], ctx.now)
    result = await people.revoke_person(
        await ctx.session(),
        int(params["target"]),
        acting=ctx.acting(),
        revoker_roles=ctx.actor.roles,
        now=ctx.now,
        opd_code=params.get("opd"),
    )
    return ctx.reply("orang/dicabut", result=result)


async def handover_keep(ctx: Context, params: dict[str, Any]) -> Reply:
    await actions.expire(await ctx.session(), [str(t) for t in params.get("siblings", [])], ctx.now)
    return ctx.reply("pendaftaran/serah_terima_biarkan")


async def unlock_chat(ctx: Context, params: dict[str, Any]) -> Reply:
    cleared = await invites.clear_attempts(
        await ctx.session(), str(params["channel"]), str(params["chat"]), acting=ctx.acting(), now=ctx.now
    )
    if not cleared:
        raise DomainError("umum/sudah_diproses")
    # The chat belongs to nobody registered yet: it gets a person of its own, so the outbox can tell it.
    session = await ctx.session()
    person_id = await identity.ensure_chat_person(session, str(params["channel"]), str(params["chat"]), ctx.now)
    await ctx.notify(person_id, "pendaftaran/boleh_coba_lagi")
    return ctx.reply("pendaftaran/blokir_dibuka", chat=params["chat"])


def register(registry: Registry) -> None:
    registry.command("start", start)
    registry.command("daftar", daftar)
    registry.text = plain_text
    registry.command("saya", saya)
    registry.command("undang", undang)
    registry.command("serahkan", serahkan)
    registry.command("cabut", cabut)
    registry.action("handover_revoke", handover_revoke, roles=access.HANDOVER_DECIDERS)
    registry.action("handover_keep", handover_keep, roles=access.HANDOVER_DECIDERS)
    registry.action("unlock_chat", unlock_chat, roles=access.CHAT_UNLOCKERS)
