"""The deadline rule: an OPD's effective deadline is the campaign's, or the latest extension that applies to it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime


def effective_deadline(campaign_deadline: datetime, extensions: Iterable[datetime | None] = ()) -> datetime:
    """The campaign deadline or the furthest extension for the OPD (its own, or one for every OPD).

    The furthest wins rather than the newest: a campaign-wide extension recorded after an OPD's own longer one
    never takes that OPD's extra days away.
    """
    return max([campaign_deadline, *(e for e in extensions if e is not None)])


def is_late(at: datetime, deadline: datetime) -> bool:
    """An upload after the effective deadline is still accepted, and marked *terlambat*."""
    return at > deadline
