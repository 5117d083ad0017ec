"""The self-assessment arithmetic: the index, the sub-indices, the predicate and the ranking of what to raise first.

Pure functions over plain values (shared/reference/README.md, "Facts for computing scores"):
- index = Σ(level × weight) / 100, only when every indicator has a level;
- the sub-index of an aspect (and for 59/2020 a domain) = Σ(level × weight) / Σ(weight) over its indicators;
- the predicate per framework, lower bounds inclusive;
- the ranking of indicators below level 5 by the index one more level would gain (weight / 100).

Everything is `Decimal`: the weights have two decimals, so the index is exact and a boundary such as 4.2 is met
exactly, never missed by a float's 4.199999.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

FRAMEWORK_59_2020 = "permenpanrb-59-2020"
FRAMEWORK_PEMDI = "permenpanrb-8-2026-pemdi"
MIN_LEVEL, MAX_LEVEL = 1, 5
LEVELS = tuple(range(MIN_LEVEL, MAX_LEVEL + 1))
HUNDRED = Decimal(100)

# Lower bounds, highest first; anything below the last is "Kurang".
PREDICATE_BOUNDS: dict[str, tuple[tuple[Decimal, str], ...]] = {
    FRAMEWORK_59_2020: (
        (Decimal("4.2"), "Memuaskan"),
        (Decimal("3.5"), "Sangat Baik"),
        (Decimal("2.6"), "Baik"),
        (Decimal("1.8"), "Cukup"),
    ),
    FRAMEWORK_PEMDI: (
        (Decimal("4.0"), "Memuaskan"),
        (Decimal("3.5"), "Sangat Baik"),
        (Decimal("2.5"), "Baik"),
        (Decimal("1.5"), "Cukup"),
    ),
}
LOWEST_PREDICATE = "Kurang"

# 59/2020's level names: domains 1-3 (policy, governance, management) and domain 4 (services) differ.
LEVEL_NAMES_GOVERNANCE = ("Rintisan", "Terkelola", "Terdefinisi", "Terpadu dan Terukur", "Optimum")
LEVEL_NAMES_SERVICE = ("Informasi", "Interaksi", "Transaksi", "Kolaborasi", "Optimalisasi")
SERVICE_DOMAIN_59 = "Layanan SPBE"
# Pemdi indicators 5-7 take their values from other agencies' assessments (Satu Data Indonesia, SJIG, EPSS).
PEMDI_EXTERNAL_CODES = frozenset({"I.05", "I.06", "I.07"})


class EvidenceState(StrEnum):
    """What the OPDs sent for one indicator, as the ranking marks it (the worst OPD decides)."""

    ACCEPTED = "accepted"  # every assigned OPD's latest version is accepted
    WAITING = "waiting"  # everything sent, some not reviewed yet
    RETURNED = "returned"  # some OPD's latest version was returned for revision
    MISSING = "missing"  # some assigned OPD sent nothing
    NOT_REQUESTED = "not_requested"  # no OPD is asked (e.g. Pemdi 5-7)

    @property
    def needs_attention(self) -> bool:
        return self in (EvidenceState.RETURNED, EvidenceState.MISSING)


@dataclass(frozen=True)
class ScoredIndicator:
    """One indicator as the arithmetic sees it: its weight (percent), its group and its level (None: not scored)."""

    code: str
    weight: Decimal
    aspect: str | None
    domain: str | None
    level: int | None
    evidence: EvidenceState = EvidenceState.NOT_REQUESTED


@dataclass(frozen=True)
class IndexResult:
    """The index when every indicator has a level; otherwise `value` is None and `missing` says how many lack one."""

    value: Decimal | None
    missing: int
    predicate: str | None

    @property
    def complete(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class GroupIndex:
    """The sub-index of an aspect or a domain: None until every indicator of the group has a level."""

    name: str
    weight: Decimal  # Σ weight of the group's indicators (percent of the index)
    indicators: int
    missing: int
    value: Decimal | None


@dataclass(frozen=True)
class Gain:
    """One indicator of the ranking: one level more raises the index by `per_level` (up to `headroom` at level 5)."""

    code: str
    level: int
    per_level: Decimal
    headroom: Decimal
    evidence: EvidenceState


def is_level(value: int) -> bool:
    return MIN_LEVEL <= value <= MAX_LEVEL


def parse_level(text: str) -> int | None:
    """A level as typed ("3", " 4 ", "3.0" from a spreadsheet); None when it is not a whole number 1-5."""
    cleaned = text.strip()
    if cleaned.endswith(".0"):
        cleaned = cleaned[:-2]
    if not cleaned.isdigit() or not cleaned.isascii():
        return None
    level = int(cleaned)
    return level if is_level(level) else None


def predicate(framework: str, value: Decimal) -> str:
    """The predicate of an index value under a framework's bounds (lower bound inclusive)."""
    for bound, name in PREDICATE_BOUNDS[framework]:
        if value >= bound:
            return name
    return LOWEST_PREDICATE


def index(framework: str | None, indicators: Sequence[ScoredIndicator]) -> IndexResult:
    """Σ(level × weight) / 100 when every indicator has a level; the predicate when the framework is known."""
    missing = sum(1 for i in indicators if i.level is None)
    if missing or not indicators:
        return IndexResult(value=None, missing=missing, predicate=None)
    value = sum((Decimal(i.level or 0) * i.weight for i in indicators), Decimal(0)) / HUNDRED
    named = predicate(framework, value) if framework in PREDICATE_BOUNDS else None
    return IndexResult(value=value, missing=0, predicate=named)


def sub_index(indicators: Iterable[ScoredIndicator]) -> Decimal | None:
    """Σ(level × weight) / Σ(weight) over a group; None when one lacks a level or the group weighs nothing."""
    group = list(indicators)
    total = sum((i.weight for i in group), Decimal(0))
    if not group or total == 0 or any(i.level is None for i in group):
        return None
    return sum((Decimal(i.level or 0) * i.weight for i in group), Decimal(0)) / total


def groups(indicators: Sequence[ScoredIndicator], by: str) -> tuple[GroupIndex, ...]:
    """The sub-index per aspect (`by="aspect"`) or per domain (`by="domain"`), in the indicators' order."""
    order: dict[str, list[ScoredIndicator]] = {}
    for indicator in indicators:
        name = indicator.aspect if by == "aspect" else indicator.domain
        if name:
            order.setdefault(name, []).append(indicator)
    return tuple(
        GroupIndex(
            name=name,
            weight=sum((i.weight for i in members), Decimal(0)),
            indicators=len(members),
            missing=sum(1 for i in members if i.level is None),
            value=sub_index(members),
        )
        for name, members in order.items()
    )


def ranking(indicators: Sequence[ScoredIndicator]) -> tuple[Gain, ...]:
    """Scored indicators below level 5, the largest gain per level raised first (then the lower level, then order).

    An indicator without a level is left out: it needs a level before it can be raised.
    """
    gains = [
        (
            -(i.weight / HUNDRED),
            i.level,
            position,
            Gain(
                code=i.code,
                level=i.level,
                per_level=i.weight / HUNDRED,
                headroom=(MAX_LEVEL - i.level) * i.weight / HUNDRED,
                evidence=i.evidence,
            ),
        )
        for position, i in enumerate(indicators)
        if i.level is not None and i.level < MAX_LEVEL
    ]
    return tuple(gain for *_, gain in sorted(gains, key=lambda g: (g[0], g[1], g[2])))


def level_names(framework: str | None, domain: str | None) -> tuple[str, ...] | None:
    """The five level names of an indicator's domain; None when the framework names none (Pemdi: "Level N")."""
    if framework != FRAMEWORK_59_2020:
        return None
    return LEVEL_NAMES_SERVICE if domain == SERVICE_DOMAIN_59 else LEVEL_NAMES_GOVERNANCE


def level_name(framework: str | None, domain: str | None, level: int) -> str | None:
    names = level_names(framework, domain)
    return names[level - 1] if names is not None and is_level(level) else None


def needs_source(framework: str | None, code: str) -> bool:
    """Pemdi 5-7 are scored from another agency's assessment, whose name is recorded with the level."""
    return framework == FRAMEWORK_PEMDI and code in PEMDI_EXTERNAL_CODES


def shown(value: Decimal) -> Decimal:
    """An index for people: two decimals, rounded down, so 4.1950 shows 4.19 beside "Sangat Baik", never 4.20."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def evidence_state(requested: int, latest_states: Iterable[str | None]) -> EvidenceState:
    """The indicator's evidence from each assigned OPD's latest review state (None: that OPD sent nothing)."""
    if requested == 0:
        return EvidenceState.NOT_REQUESTED
    states = list(latest_states)
    if "revision_requested" in states:
        return EvidenceState.RETURNED
    if None in states or len(states) < requested:
        return EvidenceState.MISSING
    if all(s == "accepted" for s in states):
        return EvidenceState.ACCEPTED
    return EvidenceState.WAITING
