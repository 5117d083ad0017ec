"""What `/kampanye #ID` and `monev campaign show` display about one campaign, gathered once for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import CampaignState
from bot.services import broadcast, campaigns, items, overview, reminders
from bot.services.broadcast import BroadcastReport
from bot.services.calendar import load_calendar
from bot.services.campaigns import CampaignDetail
from bot.services.timeline import StepProgress, step_progress
from bot.settings import Settings


@dataclass(frozen=True)
class CampaignView:
    detail: CampaignDetail
    steps: tuple[StepProgress, ...]
    minutes_per_day: int
    report: BroadcastReport
    framework: str  # the framework's name as people read it
    late: tuple[str, ...]  # OPDs past their effective deadline with required items missing (while it collects)
    reminders: tuple[reminders.PlannedPoint, ...] = ()  # the reminder schedule while it collects


async def campaign_view(session: AsyncSession, settings: Settings, campaign_id: int, now: datetime) -> CampaignView:
    detail = await campaigns.campaign_detail(session, campaign_id)
    first = detail.events[0].at.year if detail.events else now.year
    calendar = await load_calendar(session, settings, range(first, now.year + 1))
    return CampaignView(
        detail=detail,
        steps=tuple(step_progress(detail.events, calendar, now)),
        minutes_per_day=calendar.minutes_per_day,
        report=await broadcast.delivery_report(session, campaign_id),
        framework=items.FRAMEWORKS.get(detail.summary.framework or "", "daftar item impor"),
        late=await _late_opds(session, detail, now),
        reminders=(
            await reminders.campaign_schedule(session, settings, campaign_id, now)
            if detail.state == CampaignState.OPEN
            else ()
        ),
    )


async def _late_opds(session: AsyncSession, detail: CampaignDetail, now: datetime) -> tuple[str, ...]:
    if detail.state not in (CampaignState.OPEN, CampaignState.CLOSED):
        return ()
    standings = (await overview.campaign_overview(session, detail.id)).standings
    return tuple(sorted(s.opd_code for s in standings if s.late(now)))
