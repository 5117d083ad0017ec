"""Each `monev shell --as ROLE[:OPD]` is a console person of its own: one role, never a liaison anyone counts,
and the notices addressed to it print in its next session, once."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import MonevApp, build_app
from bot.cli.support import cli_acting
from bot.conversation.envelope import MENU_KIND
from bot.services import broadcast, campaigns, people, registry
from storage.models import ChannelIdentity, DeliveryAttempt, Opd, OutboxMessage, Person, Role, RoleAssignment
from tests.e2e.broadcast_world import open_broadcast
from tests.e2e.harness import bot_settings, registered, running_bot
from tests.fake_telegram.server import FakeBotAPI

pytestmark = pytest.mark.e2e


async def shell(app: MonevApp, role: Role, opd: str | None, script: str = "") -> str:
    """One `monev shell --as ROLE[:OPD]` session reading `script`; what it printed."""
    out = io.StringIO()
    console = await app.console(role, opd, out)
    await console.run(io.StringIO(script))
    return out.getvalue()


async def with_opds(app: MonevApp) -> None:
    acting = await cli_acting(app)
    async with app.services.db.write() as session:
        await registry.load_default_if_empty(session, acting=acting, now=app.now())


async def console_persons(app: MonevApp) -> dict[str, tuple[str, list[tuple[str, str | None]]]]:
    """Each console identity's person: its name and active roles."""
    async with app.services.db.read() as session:
        rows = (
            await session.execute(
                select(ChannelIdentity.external_id, Person.display_name, RoleAssignment.role, Opd.code)
                .join(Person, Person.id == ChannelIdentity.person_id)
                .outerjoin(
                    RoleAssignment,
                    (RoleAssignment.person_id == Person.id) & RoleAssignment.revoked_at.is_(None),
                )
                .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
                .where(ChannelIdentity.channel == "console")
            )
        ).all()
    found: dict[str, tuple[str, list[tuple[str, str | None]]]] = {}
    for external_id, name, role, opd in rows:
        found.setdefault(external_id, (name, []))[1].append((role, opd))
    return found


async def test_a_shell_as_a_liaison_then_as_kasi_makes_two_persons_the_second_holding_only_kasi(
    app: MonevApp,
) -> None:
    await with_opds(app)
    await shell(app, Role.OPD, "DINKES", "/start\n")
    printed = await shell(app, Role.KASI, None, "/start\n")

    persons = await console_persons(app)
    assert len(persons) == 2, persons
    (liaison,) = [p for p in persons.values() if ("opd", "DINKES") in p[1]]
    (kasi,) = [p for p in persons.values() if ("kasi", None) in p[1]]
    assert liaison[1] == [("opd", "DINKES")] and kasi[1] == [("kasi", None)]
    assert liaison[0] == "operator server (Penghubung OPD DINKES)"
    assert kasi[0] == "operator server (Kasi PK&AI)"
    assert all(external_id.endswith(("/opd:DINKES", "/kasi")) for external_id in persons), persons
    assert "Penghubung OPD" not in printed, printed  # the Kasi's session knows nothing of the liaison role

    await shell(app, Role.OPD, "DINKES", "/start\n")  # the same role again: the same person
    assert await console_persons(app) == persons


async def test_a_console_liaison_counts_neither_in_opd_nor_in_the_broadcast(app: MonevApp, tmp_path: Path) -> None:
    await with_opds(app)
    await shell(app, Role.OPD, "DINKES")  # the operator tries the liaison's view before the campaign opens
    world = await open_broadcast(app.settings, {"DINKES": 1}, now=app.now())

    async with app.services.db.read() as session:
        invited = set(await session.scalars(select(OutboxMessage.person_id).where(OutboxMessage.kind == "undangan")))
        reach = await campaigns.broadcast_reach(session, world.campaign_id)
        report = await broadcast.delivery_report(session, world.campaign_id)
        liaisons = await people.liaisons_by_opd(session)
    assert len(invited) == 1, invited  # the Telegram liaison only: no invitation queued for the console
    assert reach.liaisons == 1
    assert report.liaisons == 1 and report.without_liaison == ()
    assert liaisons == {"DINKES": ["opd-500001"]}

    printed = await shell(app, Role.ADMIN, None, "/opd DINKES\n")
    assert "opd-500001" in printed and "operator server" not in printed, printed


async def test_a_notice_to_a_console_admin_waits_for_its_next_shell_and_prints_once(
    fake_telegram: FakeBotAPI, tmp_path: Path
) -> None:
    settings = bot_settings(fake_telegram, tmp_path)
    setup = build_app(settings)
    await setup.prepare()
    await with_opds(setup)
    await shell(setup, Role.ADMIN, None)  # the admin has used the console before
    await setup.close()

    async with running_bot(settings) as bot:  # `monev run` with Telegram only: no console channel
        await registered(fake_telegram, bot, 4101, Role.TIM)
        assert bot.runtime.outbox is not None
        await bot.runtime.outbox.deliver_due()  # a dispatch round that cannot print anywhere
        async with bot.app.services.db.read() as session:
            (status,) = (
                await session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind != MENU_KIND))
            ).all()
        assert status == "pending"  # waits for the console, not given up as unreachable

        assert "[kepada" not in await shell(bot.app, Role.KASI, None)  # not the Kasi's
        first = await shell(bot.app, Role.ADMIN, None, "/start\n")
        second = await shell(bot.app, Role.ADMIN, None, "/start\n")

        async with bot.app.services.db.read() as session:
            message = (await session.scalars(select(OutboxMessage).where(OutboxMessage.kind != MENU_KIND))).one()
            attempts = (
                await session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message.id))
            ).all()
    assert first.startswith("[kepada operator server (Admin Diskominfo)]\n"), first
    assert "Tim4101" in first.splitlines()[1], first
    assert "[kepada" not in second, second
    assert (message.status, message.channel) == ("sent", "console")
    assert [(a.outcome, a.channel) for a in attempts] == [("sent", "console")]
    assert message.sent_at is not None and message.sent_at - bot.app.now() < timedelta(minutes=1)
