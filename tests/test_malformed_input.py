"""The malformed-input corpus through the real InboundProcessor and journal, fast, on SQLite and PostgreSQL.

tests/e2e/test_malformed_input.py sends the same corpus over the fake Bot API; this variant skips the transport so
the PostgreSQL leg (whose ids are 32-bit) runs too.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.app import MonevApp
from bot.conversation.core import Request, parse_command
from bot.messaging.inbound import InboundProcessor
from bot.services import campaigns, identity, items, journal, registry
from bot.services.audit import Acting
from storage.models import Campaign, InboundEvent, Role
from tests.e2e.test_malformed_input import BAD_COMMANDS, FORGED_PAYLOADS, INDONESIAN, TECHNICAL

ROLES: dict[str, tuple[Role, str | None] | None] = {
    "unregistered": None,
    "opd": (Role.OPD, "DINKES"),
    "kepala_opd": (Role.KEPALA_OPD, "DINKES"),
    "admin": (Role.ADMIN, None),
    "kasi": (Role.KASI, None),
    "kabid": (Role.KABID, None),
    "sekretariat": (Role.SEKRETARIAT, None),
    "tim": (Role.TIM, None),
}


async def prepare_world(app: MonevApp) -> None:
    """The OPDs, an open campaign for every OPD, and one person per role (chat = the role's name)."""
    now = app.now()
    async with app.services.db.write() as session:
        cli = Acting(await identity.ensure_local_person(session, "cli", "root", now), "cli", "cli")
        await registry.import_opds(session, registry.parse_opd_file(registry.default_opd_file()), acting=cli, now=now)
        framework = "permenpanrb-8-2026-pemdi"
        campaign_id = await campaigns.create_campaign(
            session, title="Monev 2026", framework=framework, items=items.framework_items(framework),
            deadline=now + timedelta(days=7), opd_codes=None, acting=cli, now=now,
        )  # fmt: skip
        (await session.get_one(Campaign, campaign_id)).state = "open"
        for chat, held in ROLES.items():
            person = await identity.ensure_local_person(session, "test", chat, now)
            if held is not None:
                await identity.ensure_assignment(session, person, held[0], held[1], now)


def corpus(chat: str, at: datetime) -> list[Request]:
    """Every forged press and bad command of the corpus, from `chat` (the actor is left for the dispatcher)."""
    presses = [Request("test", chat, chat, at, payload=data) for data in FORGED_PAYLOADS]
    return presses + [_command(chat, at, text) for text in BAD_COMMANDS]


def _command(chat: str, at: datetime, text: str) -> Request:
    command, args = parse_command(text)
    return Request("test", chat, chat, at, command=command, args=args, text=text)


@pytest.mark.parametrize("role", list(ROLES))
async def test_the_corpus_fails_no_journal_row_and_logs_no_error(
    app: MonevApp, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    await prepare_world(app)
    processor = InboundProcessor(app.dispatcher, app.now)
    caplog.set_level(logging.INFO)
    for n, request in enumerate(corpus(role, app.now())):
        async with app.services.db.write() as session:
            row_id = await journal.record_inbound(session, "test", f"{role}-{n}", role, {"n": n}, app.now())
            assert row_id is not None
            row = await journal.load_row_by_id(session, row_id)
        assert row is not None
        await processor.process(row, request)

    async with app.services.db.read() as session:
        rows = (await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all()
    assert len(rows) == len(FORGED_PAYLOADS) + len(BAD_COMMANDS)
    assert [(r.update_key, r.last_error) for r in rows if r.attempts or r.status != "done"] == []
    apology = app.dispatcher.apology().text
    for event in rows:
        texts = [reply["text"] for reply in json.loads(event.replies or "[]")]
        assert texts, event.update_key
        for text in texts:
            assert text != apology and INDONESIAN.search(text), (event.update_key, text)
            assert not any(word in text for word in TECHNICAL), (event.update_key, text)
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or (r.levelno >= logging.WARNING and r.exc_info)]
    assert loud == [], [r.getMessage() for r in loud]
