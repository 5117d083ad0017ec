"""The self-assessment arithmetic on hand-computed cases: the index, sub-indices, predicates and the ranking."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import scoring
from bot.domain.scoring import FRAMEWORK_59_2020, FRAMEWORK_PEMDI, EvidenceState, ScoredIndicator
from bot.services.items import framework_items


def framework(name: str, levels: dict[int, int | None] | int | None) -> list[ScoredIndicator]:
    """The shipped framework's indicators with a level each (a number for all, or per indicator number)."""
    return [
        ScoredIndicator(
            spec.code,
            spec.weight or Decimal(0),
            spec.aspect,
            spec.domain,
            levels if not isinstance(levels, dict) else levels[int(spec.code[2:])],
        )
        for spec in framework_items(name)
    ]


def two_indicators(value: Decimal) -> list[ScoredIndicator]:
    """Two indicators whose index is exactly `value` (two decimals): level a+1 weighs w, level a weighs 100-w."""
    whole = int(value)
    w = (value - whole) * 100
    return [
        ScoredIndicator("I.01", w, "A", None, whole + 1 if whole < 5 else 5),
        ScoredIndicator("I.02", Decimal(100) - w, "A", None, whole),
    ]


@pytest.mark.parametrize("name", [FRAMEWORK_59_2020, FRAMEWORK_PEMDI])
def test_all_ones_and_all_fives(name: str) -> None:
    ones = scoring.index(name, framework(name, 1))
    fives = scoring.index(name, framework(name, 5))
    assert (ones.value, ones.predicate, ones.missing) == (Decimal(1), "Kurang", 0)
    assert (fives.value, fives.predicate) == (Decimal(5), "Memuaskan")
    assert all(g.value == Decimal(1) for g in scoring.groups(framework(name, 1), "aspect"))


def test_mixed_59_2020_by_domain() -> None:
    # Domain 1 (10 × 1.30 = 13) at 3, domain 2 (10 × 2.50 = 25) at 2, domain 3 (11 × 1.50 = 16.5) at 4,
    # domain 4 (10 × 2.75 + 6 × 3.00 = 45.5) at 1: (39 + 50 + 66 + 45.5) / 100 = 2.005, Cukup.
    by_domain = {1: 3, 2: 2, 3: 4, 4: 1}
    domain_of = {spec.code: spec.domain for spec in framework_items(FRAMEWORK_59_2020)}
    numbers = {name: n for n, name in enumerate(dict.fromkeys(domain_of.values()), start=1)}
    levels: dict[int, int | None] = {int(code[2:]): by_domain[numbers[d or ""]] for code, d in domain_of.items()}
    indicators = framework(FRAMEWORK_59_2020, levels)
    result = scoring.index(FRAMEWORK_59_2020, indicators)
    assert result.value == Decimal("2.005") and result.predicate == "Cukup"
    assert scoring.shown(result.value) == Decimal("2.00")
    domains = scoring.groups(indicators, "domain")
    assert [(g.name, g.weight, g.value) for g in domains] == [
        ("Kebijakan Internal SPBE", Decimal("13.00"), Decimal(3)),
        ("Tata Kelola SPBE", Decimal("25.00"), Decimal(2)),
        ("Manajemen SPBE", Decimal("16.50"), Decimal(4)),
        ("Layanan SPBE", Decimal("45.50"), Decimal(1)),
    ]
    assert len(scoring.groups(indicators, "aspect")) == 8


def test_mixed_pemdi_and_an_aspect_of_mixed_levels() -> None:
    # 1-4 (20) at 4 = 80, 5-8 (15) at 3 = 45, 9-12 (15) at 2 = 30, 13-18 (25) at 5 = 125, 19-20 (25) at 1 = 25:
    # 305 / 100 = 3.05, Baik.
    levels: dict[int, int | None] = {n: 4 if n <= 4 else 3 if n <= 8 else 2 if n <= 12 else 5 if n <= 18 else 1
                                     for n in range(1, 21)}  # fmt: skip
    result = scoring.index(FRAMEWORK_PEMDI, framework(FRAMEWORK_PEMDI, levels))
    assert (result.value, result.predicate) == (Decimal("3.05"), "Baik")
    # Aspect Data: 5 (5.00) at 4, 6 (3.00) at 2, 7 (3.00) at 1, 8 (4.00) at 3: (20 + 6 + 3 + 12) / 15 = 41/15.
    levels.update({5: 4, 6: 2, 7: 1, 8: 3})
    data = next(g for g in scoring.groups(framework(FRAMEWORK_PEMDI, levels), "aspect") if g.name == "Data")
    assert data.value == Decimal(41) / Decimal(15) and data.weight == Decimal(15) and data.indicators == 4
    assert scoring.groups(framework(FRAMEWORK_PEMDI, levels), "domain") == ()


BOUNDARIES = [
    (FRAMEWORK_59_2020, "4.20", "Memuaskan", "Sangat Baik"),
    (FRAMEWORK_59_2020, "3.50", "Sangat Baik", "Baik"),
    (FRAMEWORK_59_2020, "2.60", "Baik", "Cukup"),
    (FRAMEWORK_59_2020, "1.80", "Cukup", "Kurang"),
    (FRAMEWORK_PEMDI, "4.00", "Memuaskan", "Sangat Baik"),
    (FRAMEWORK_PEMDI, "3.50", "Sangat Baik", "Baik"),
    (FRAMEWORK_PEMDI, "2.50", "Baik", "Cukup"),
    (FRAMEWORK_PEMDI, "1.50", "Cukup", "Kurang"),
]


@pytest.mark.parametrize(("name", "bound", "at", "below"), BOUNDARIES)
def test_each_predicate_boundary(name: str, bound: str, at: str, below: str) -> None:
    exactly = scoring.index(name, two_indicators(Decimal(bound)))
    just_below = scoring.index(name, two_indicators(Decimal(bound) - Decimal("0.01")))
    assert (exactly.value, exactly.predicate) == (Decimal(bound), at)
    assert (just_below.value, just_below.predicate) == (Decimal(bound) - Decimal("0.01"), below)
    assert scoring.predicate(name, Decimal(bound) - Decimal("0.0001")) == below


def test_a_value_just_under_a_bound_never_shows_the_bound() -> None:
    value = Decimal("4.1950")
    assert scoring.predicate(FRAMEWORK_59_2020, value) == "Sangat Baik"
    assert scoring.shown(value) == Decimal("4.19")


def test_missing_levels_give_no_index_but_the_number_missing() -> None:
    levels: dict[int, int | None] = {n: 3 for n in range(1, 21)}
    levels.update({2: None, 19: None, 20: None})
    indicators = framework(FRAMEWORK_PEMDI, levels)
    result = scoring.index(FRAMEWORK_PEMDI, indicators)
    assert (result.value, result.predicate, result.missing, result.complete) == (None, None, 3, False)
    aspects = {g.name: g for g in scoring.groups(indicators, "aspect")}
    assert aspects["Tata Kelola dan Manajemen"].value is None and aspects["Tata Kelola dan Manajemen"].missing == 1
    assert aspects["Data"].value == Decimal(3)
    assert scoring.index(FRAMEWORK_PEMDI, []).value is None


def test_ranking_by_gain_per_level_leaves_out_level_5_and_unscored_and_marks_evidence() -> None:
    indicators = [
        ScoredIndicator("I.01", Decimal("5.00"), "A", None, 3, EvidenceState.ACCEPTED),
        ScoredIndicator("I.02", Decimal("3.00"), "A", None, 1, EvidenceState.MISSING),
        ScoredIndicator("I.03", Decimal("5.00"), "A", None, 5, EvidenceState.ACCEPTED),
        ScoredIndicator("I.04", Decimal("5.00"), "B", None, 2, EvidenceState.RETURNED),
        ScoredIndicator("I.05", Decimal("15.00"), "B", None, None, EvidenceState.WAITING),
    ]
    ranked = scoring.ranking(indicators)
    assert [(g.code, g.per_level, g.headroom) for g in ranked] == [
        ("I.04", Decimal("0.05"), Decimal("0.15")),  # same gain as I.01, lower level first
        ("I.01", Decimal("0.05"), Decimal("0.10")),
        ("I.02", Decimal("0.03"), Decimal("0.12")),
    ]
    assert [g.evidence.needs_attention for g in ranked] == [True, False, True]


def test_levels_names_sources_and_evidence_states() -> None:
    assert scoring.level_name(FRAMEWORK_59_2020, "Kebijakan Internal SPBE", 4) == "Terpadu dan Terukur"
    assert scoring.level_name(FRAMEWORK_59_2020, "Layanan SPBE", 3) == "Transaksi"
    assert scoring.level_name(FRAMEWORK_PEMDI, None, 3) is None
    assert [scoring.parse_level(t) for t in ("3", " 5 ", "4.0", "0", "6", "x", "2.5", "٣")] == [
        3,
        5,
        4,
        None,
        None,
        None,
        None,
        None,
    ]
    assert [scoring.needs_source(FRAMEWORK_PEMDI, c) for c in ("I.04", "I.05", "I.07", "I.08")] == [
        False, True, True, False,
    ]  # fmt: skip
    assert not scoring.needs_source(FRAMEWORK_59_2020, "I.05")
    state = scoring.evidence_state
    assert state(0, []) is EvidenceState.NOT_REQUESTED
    assert state(2, ["accepted", "accepted"]) is EvidenceState.ACCEPTED
    assert state(2, ["accepted", None]) is EvidenceState.MISSING
    assert state(2, ["submitted", "accepted"]) is EvidenceState.WAITING
    assert state(2, [None, "revision_requested"]) is EvidenceState.RETURNED


@pytest.mark.parametrize("name", [FRAMEWORK_59_2020, FRAMEWORK_PEMDI])
def test_the_shipped_weights_add_up_to_100(name: str) -> None:
    assert sum((spec.weight or Decimal(0) for spec in framework_items(name)), Decimal(0)) == Decimal(100)
