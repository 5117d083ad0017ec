"""Guided flows in chat, with their state in the database so a restart loses nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation


@dataclass(frozen=True)
class FlowState:
    """Where a chat stands in a flow: the flow's name, its step and what was collected so far.

    Storage stays plain (a step's value, JSON data); each flow reads them into its own step StrEnum and a frozen
    dataclass for its data (handlers/campaigns.py: `Step`, `NewCampaign`, `ForCampaign`).
    """

    flow: str
    step: str
    person_id: int
    data: dict[str, Any] = field(default_factory=dict)


async def current(session: AsyncSession, channel: str, chat_id: str) -> FlowState | None:
    row = await session.get(Conversation, (channel, chat_id))
    if row is None:
        return None
    return FlowState(row.flow, row.step, row.person_id, json.loads(row.data))


async def begin(
    session: AsyncSession,
    channel: str,
    chat_id: str,
    *,
    person_id: int,
    flow: str,
    step: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> FlowState:
    """Start a flow, replacing whatever flow the chat was in; `step` may be a member of the flow's StrEnum."""
    step = str(step)  # the step's value, as stored
    await finish(session, channel, chat_id)
    state = FlowState(flow, step, person_id, data or {})
    session.add(
        Conversation(
            channel=channel,
            chat_id=chat_id,
            person_id=person_id,
            flow=flow,
            step=step,
            data=json.dumps(state.data),
            updated_at=now,
        )
    )
    return state


async def advance(
    session: AsyncSession, channel: str, chat_id: str, *, step: str, data: dict[str, Any], now: datetime
) -> FlowState:
    """Move the chat's flow to its next step with the data collected so far."""
    step = str(step)
    row = await session.get_one(Conversation, (channel, chat_id))
    row.step, row.data, row.updated_at = step, json.dumps(data), now
    return FlowState(row.flow, step, row.person_id, data)


async def finish(session: AsyncSession, channel: str, chat_id: str) -> bool:
    """End the chat's flow (done, or /batal); True if there was one."""
    result = await session.execute(
        delete(Conversation).where(Conversation.channel == channel, Conversation.chat_id == chat_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_for_person(session: AsyncSession, person_id: int) -> int:
    """Revocation: end every flow the person is in (it would act in a role they may no longer hold)."""
    result = await session.execute(delete(Conversation).where(Conversation.person_id == person_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
