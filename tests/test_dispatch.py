"""The neutral core: routing, roles, bad input and the error path, on the real app and database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from bot.app import MonevApp
from bot.conversation.commands import COMMANDS, Command
from bot.conversation.core import Actor, Assignment, Button, Reply, Request, page_of, parse_command, split_text
from bot.conversation.dispatch import Dispatcher
from bot.conversation.handling import Context, Registry
from bot.conversation.templating import Renderer
from bot.errors import DomainError
from bot.services import audit, identity
from bot.services.groups import hint_due
from handlers import build_registry
from storage.models import ChannelIdentity, Role

ADMIN = Actor(1, "Admin", (Assignment(Role.ADMIN),))
_RENDERER = Renderer(ZoneInfo("Asia/Pontianak"))
PAGING = (_RENDERER.plain("tombol/sebelumnya"), _RENDERER.plain("tombol/berikutnya"))
GUEST = Actor(None, None)


def request(text: str | None = None, *, actor: Actor = ADMIN, private: bool = True, **fields: object) -> Request:
    command, args = parse_command(text) if text else (None, ())
    return Request(
        channel="test",
        chat_id="42",
        sender_id="42",
        received_at=datetime.now().astimezone(),
        actor=actor,
        command=command,
        args=args,
        text=text,
        is_private=private,
        **fields,  # type: ignore[arg-type]
    )


async def answer(app: MonevApp, req: Request) -> list[str]:
    return [reply.text for reply in await app.dispatcher.handle(req, app.now())]


def test_every_command_has_a_handler_and_every_handler_a_command() -> None:
    registry = build_registry()
    assert set(registry.commands) == {c.name for c in COMMANDS}


async def test_start_and_help(app: MonevApp) -> None:
    (welcome,) = await answer(app, request("/start", actor=GUEST))
    assert "Anda belum terdaftar" in welcome
    (help_text,) = await answer(app, request("/bantuan"))
    assert "/start" in help_text and "/batal" in help_text
    (cancel,) = await answer(app, request("/batal"))
    assert "Tidak ada proses" in cancel


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/perintahaneh", "tidak dikenal"),
        ("   ", "kosong"),
        ("x" * 5000, "terlalu panjang"),
        ("halo bot", "belum memahami"),
    ],
)
async def test_bad_input_gets_a_short_answer(app: MonevApp, text: str, expected: str) -> None:
    (reply,) = await answer(app, request(text))
    assert expected in reply
    assert len(reply) < 300


async def test_unsupported_content_and_stale_buttons(app: MonevApp) -> None:
    (reply,) = await answer(app, request(None))
    assert "belum bisa saya proses" in reply
    (stale,) = await answer(app, request(None, payload="tidakada:1"))
    assert "tidak berlaku" in stale


async def test_groups_get_only_the_private_chat_hint(app: MonevApp) -> None:
    # Talk not addressed to the bot is not answered (and does not use up the hint).
    assert await answer(app, request("ngobrol saja", private=False, addressed=False)) == []
    assert await answer(app, request("/help", private=False)) == ["Silakan chat pribadi dengan bot ini."]
    assert await answer(app, request("/help", private=False)) == []  # once an hour per person and group


async def test_unknown_senders_are_resolved_to_unregistered_actors(app: MonevApp) -> None:
    (reply,) = await answer(app, request("/start", actor=None))  # type: ignore[arg-type]
    assert "belum terdaftar" in reply


async def _explode(ctx: Context) -> Reply:
    raise RuntimeError("secret internals")


async def _refuse(ctx: Context) -> Reply:
    raise DomainError("umum/tidak_berwenang", name="rahasia", registered=True)


async def _buttons(ctx: Context) -> Reply:
    return Reply("pilih", buttons=((Button("Satu", "pilih:1"), Button("Dua", "pilih:2")),))


async def test_errors_become_polite_replies(app: MonevApp, caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry()
    registry.command("meledak", _explode)
    registry.command("tolak", _refuse)
    table = (Command("meledak"), Command("tolak"))
    dispatcher = Dispatcher(app.services, registry, table)
    with caplog.at_level(logging.ERROR):
        (crash,) = await dispatcher.handle(request("/meledak"), app.now())
    assert "Maaf, terjadi kesalahan" in crash.text and "secret internals" not in crash.text
    assert "secret internals" in caplog.text  # logged with the traceback for us
    (refusal,) = await dispatcher.handle(request("/tolak"), app.now())
    assert "<code>/rahasia</code>" in refusal.text


async def test_roles_are_checked_before_the_handler_runs(app: MonevApp) -> None:
    async with app.services.db.write() as session:
        person_id = await identity.ensure_local_person(session, "console", "uji", app.now())
        admin = Actor(
            person_id, "uji", (await identity.ensure_assignment(session, person_id, Role.ADMIN, None, app.now()),)
        )
    registry = Registry()
    registry.command("rahasia", _explode)
    table = (Command("rahasia", roles=frozenset({Role.KABID})),)
    dispatcher = Dispatcher(app.services, registry, table)
    (reply,) = await dispatcher.handle(request("/rahasia", actor=admin), app.now())
    assert "tidak tersedia untuk peran Anda" in reply.text
    async with app.services.db.read() as session:
        rows = list(await audit.export_rows(session))
    assert [(r[2], r[3], r[4], r[6]) for r in rows] == [("console:uji", "admin", "command_refused", "rahasia")]


def test_parse_command() -> None:
    assert parse_command("/START@monev_bot KODE-1 x") == ("start", ("KODE-1", "x"))
    assert parse_command("halo") == (None, ())
    assert parse_command("/") == (None, ())
    assert parse_command("/../etc") == (None, ())


def test_split_text_keeps_parts_below_the_limit_at_line_breaks() -> None:
    text = "\n".join(f"baris {n:04d} " + "x" * 50 for n in range(200))
    parts = split_text(text, limit=1000)
    assert all(len(part) <= 1000 for part in parts)
    assert "\n".join(parts) == text
    assert all(part.startswith("baris ") for part in parts)
    long_line = "y" * 2500
    assert [len(p) for p in split_text(long_line, limit=1000)] == [1000, 1000, 500]


def test_button_payloads_are_bounded() -> None:
    with pytest.raises(ValueError):
        Button("x", "a" * 65)
    with pytest.raises(ValueError):
        Button("x", "pilih:é")


def test_long_choice_lists_page_by_seven() -> None:
    first = page_of(16, 0, lambda n: f"x:p:{n}", labels=PAGING)
    assert (first.start, first.end, first.count) == (0, 7, 3)
    assert [b.payload for b in first.paging] == ["x:p:1"]
    middle = page_of(16, 1, lambda n: f"x:p:{n}", labels=PAGING)
    assert [b.payload for b in middle.paging] == ["x:p:0", "x:p:2"]
    last = page_of(16, 99, lambda n: f"x:p:{n}", labels=PAGING)  # a stale page number is clamped
    assert (last.number, last.start, last.end, [b.label for b in last.paging]) == (2, 14, 16, ["« Sebelumnya"])
    assert page_of(3, 0, str, labels=PAGING).paging == ()


def test_the_group_hint_is_due_once_an_hour() -> None:
    at = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    assert hint_due(None, at)
    assert not hint_due(at, at + timedelta(minutes=59, seconds=59))
    assert hint_due(at, at + timedelta(hours=1))


async def _write_then_refuse(ctx: Context) -> Reply:
    await identity.ensure_local_person(await ctx.session(), "console", "sementara", ctx.now)
    raise DomainError("umum/tidak_berwenang", audit_action="forged_button", name="rahasia", registered=True)


async def test_a_refusal_is_recorded_in_the_handlers_own_transaction(app: MonevApp) -> None:
    """The handler's writes are undone, the refusal and the caller's mark land in one transaction, not two."""
    registry = Registry()
    registry.command("tolak", _write_then_refuse)
    dispatcher = Dispatcher(app.services, registry, (Command("tolak"),))
    marked: list[list[Reply]] = []

    async def on_done(session: object, replies: list[Reply]) -> None:
        marked.append(replies)

    begins: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("BEGIN") or statement.startswith("SAVEPOINT") or statement.startswith("ROLLBACK"):
            begins.append(statement.split()[0])

    engine = app.services.db.engine.sync_engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    try:
        (refusal,) = await dispatcher.run(request("/tolak", actor=GUEST), app.now(), on_done=on_done)
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)
    assert "<code>/rahasia</code>" in refusal.text and marked == [[refusal]]
    if app.services.db.is_sqlite:  # PostgreSQL's BEGIN is the driver's own and not seen here
        assert begins.count("BEGIN") == 1
    async with app.services.db.read() as session:
        undone = select(func.count()).select_from(ChannelIdentity).where(ChannelIdentity.external_id == "sementara")
        assert await session.scalar(undone) == 0
        rows = list(await audit.export_rows(session))
    assert [r[4] for r in rows] == ["forged_button"]
