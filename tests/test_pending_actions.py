"""Button tokens (`pending_action`): expired ones are purged by the daily purge job, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.app import MonevApp, build_channels
from bot.runtime import Runtime
from bot.services import actions, identity
from storage.database import Database
from storage.models import PendingAction

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


async def _buttons(db: Database, person_id: int, ages: dict[str, timedelta]) -> dict[str, str]:
    """One button per label, created `age` before NOW with the default lifetime; returns label → token."""
    tokens: dict[str, str] = {}
    async with db.write() as session:
        for label, age in ages.items():
            button = await actions.action_button(session, label, kind="unlock", person_id=person_id, now=NOW - age)
            tokens[label] = button.payload.removeprefix(f"{actions.PREFIX}:")
    return tokens


async def _remaining(db: Database) -> set[str]:
    async with db.read() as session:
        return set((await session.scalars(select(PendingAction.token))).all())


async def _person(db: Database) -> int:
    async with db.write() as session:
        return await identity.ensure_local_person(session, "cli", "root", NOW)


async def test_expired_tokens_are_purged_and_live_ones_kept(db: Database) -> None:
    person = await _person(db)
    ttl, grace = actions.DEFAULT_TTL, actions.PURGE_AFTER_EXPIRY
    tokens = await _buttons(
        db,
        person,
        {
            "fresh": timedelta(hours=1),
            "expired recently": ttl + timedelta(days=1),  # a late press still answers "kedaluwarsa"
            "expired long ago": ttl + grace + timedelta(minutes=1),
            "used and long gone": ttl + grace + timedelta(days=60),
        },
    )
    async with db.write() as session:  # pressed long ago
        await session.execute(
            update(PendingAction)
            .where(PendingAction.token == tokens["used and long gone"])
            .values(used_at=NOW - ttl - grace - timedelta(days=59))
        )
    async with db.write() as session:
        purged = await actions.purge_expired_actions(session, NOW)
    assert purged == 2
    assert await _remaining(db) == {tokens["fresh"], tokens["expired recently"]}
    async with db.write() as session:
        assert await actions.purge_expired_actions(session, NOW) == 0  # nothing left to purge: idempotent


async def test_the_daily_purge_job_purges_expired_tokens(app: MonevApp) -> None:
    db = app.services.db
    person = await _person(db)
    tokens = await _buttons(
        db, person, {"old": actions.DEFAULT_TTL + actions.PURGE_AFTER_EXPIRY + timedelta(days=1), "new": timedelta(0)}
    )
    Runtime(app, build_channels(app))  # registers the jobs `monev run` schedules
    await app.scheduler.run_now("journal-purge", NOW)
    assert await _remaining(db) == {tokens["new"]}
