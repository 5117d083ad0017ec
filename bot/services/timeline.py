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
SIGNED_LETTER_STEP = 2  # the sekretariat's step: the signed letter, then the broadcast
# Events beyond the CSV's start and end: a returned plan ends the Kabid's step and restarts the Kasi's.
RESTARTED_BY = {0: ("returned",)}
ENDED_BY = {1: ("returned",)}


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


def sop_step(number: int) -> SopStep:
    return next(step for step in sop_steps() if step.step == number)


def step_progress(events: Sequence[EventView], calendar: WorkingCalendar, now: datetime) -> list[StepProgress]:
    """Measure each step over its latest run: from its last start to the first end after that start.

    A plan the Kabid returns goes back to step 0: the return ends step 1 and starts step 0 again, so after a
    return the timeline shows step 0 running (measured from the return) and, once resubmitted, step 1 measured
    from the last submission. A step that has started but not ended is measured until `now`.
    """
    day_minutes = calendar.minutes_per_day
    result = []
    for step in sop_steps():
        starts = {step.start_event, *RESTARTED_BY.get(step.step, ())}
        ends = {step.end_event, *ENDED_BY.get(step.step, ())}
        # By position, not time: events of one instant (a script, a test) keep their recorded order.
        first = next((i for i in range(len(events) - 1, -1, -1) if events[i].kind in starts), None)
        started = events[first].at if first is not None else None
        ended = None
        if first is not None:
            ended = next((e.at for e in events[first + 1 :] if e.kind in ends), None)
        minutes = calendar.working_minutes_between(started, ended or now) if started else None
        target = step.target * (1 if step.unit == "working_minutes" else day_minutes)
        result.append(StepProgress(step, started, ended, minutes, target))
    return result
