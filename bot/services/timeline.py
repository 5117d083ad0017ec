"""The SOP timeline: each step's target (mutu baku) against the actual time, in working time."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import bot.data
from bot.services.calendar import WorkingCalendar
from bot.services.campaigns import EventView

SOP_STEPS_FILE = Path(bot.data.__file__).parent / "sop-steps.csv"


@dataclass(frozen=True)
class SopStep:
    step: int
    actor_role: str
    activity: str
    start_event: str
    end_event: str
    target: int
    unit: str  # working_days or working_minutes
    output: str


@dataclass(frozen=True)
class StepProgress:
    """One SOP step of one campaign: when it started and ended, and how long that took in working time."""

    step: SopStep
    started: datetime | None
    ended: datetime | None
    working_minutes: int | None  # until `ended`, or until now while the step runs
    target_minutes: int

    @property
    def over_target(self) -> bool:
        return self.working_minutes is not None and self.working_minutes > self.target_minutes


@cache
def sop_steps() -> tuple[SopStep, ...]:
    with SOP_STEPS_FILE.open(encoding="utf-8") as handle:
        return tuple(
            SopStep(
                int(row["step"]),
                row["actor_role"],
                row["activity"],
                row["start_event"],
                row["end_event"],
                int(row["target"]),
                row["unit"],
                row["output"],
            )
            for row in csv.DictReader(handle)
        )


def step_progress(events: Sequence[EventView], calendar: WorkingCalendar, now: datetime) -> list[StepProgress]:
    """Measure each step: it ends at the first `end_event`, and starts at the last `start_event` before that.

    So a plan returned by the Kabid and submitted again is measured from its last submission; a step that has
    started but not ended is measured until `now`.
    """
    day_minutes = calendar.minutes_per_day
    result = []
    for step in sop_steps():
        ends = [e.at for e in events if e.kind == step.end_event]
        ended = ends[0] if ends else None
        starts = [e.at for e in events if e.kind == step.start_event and (ended is None or e.at <= ended)]
        started = starts[-1] if starts else None
        minutes = calendar.working_minutes_between(started, ended or now) if started else None
        target = step.target * (1 if step.unit == "working_minutes" else day_minutes)
        result.append(StepProgress(step, started, ended, minutes, target))
    return result
