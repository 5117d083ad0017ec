"""The self-assessment (SOP step 6): the Tim SPBE's proposed level per indicator, and the score sheet built on it.

A score is one row per indicator of a campaign (`campaign_score`), set and changed by an admin, the Kasi or a
member of the Tim while the campaign collects or has been closed or recapped. The sheet joins the campaign's items
(weights from the campaign's own copy, aspect and domain from the shipped framework), the scores, and what the OPDs
sent per indicator, and runs the pure arithmetic of `bot.domain.scoring` over it. The index is a simulation: the
official one comes from the national assessors.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import scoring
from bot.domain.enums import CampaignState, Channel, ReviewState, Role
from bot.domain.scoring import EvidenceState, Gain, GroupIndex, IndexResult, ScoredIndicator
from bot.errors import DomainError
from bot.services import audit, overview
from bot.services.audit import Acting
from bot.services.items import FRAMEWORKS, framework_items
from bot.services.safe_text import display_text
from storage.models import Campaign, CampaignItem, CampaignScore, ItemAssignment, Opd, Person

SCORERS = frozenset({Role.ADMIN, Role.KASI, Role.TIM})
# Scores are proposals the Tim may start while the OPDs still send (they see what is in so far) and revise after
# the close and the recap, up to the Berita Acara; before the invitations nothing is in, and a finalized campaign's
# scores are the signed BA's, so neither takes a score.
SCORING_STATES = (CampaignState.OPEN, CampaignState.CLOSED, CampaignState.RECAPPED)
PENJELASAN_MAX, SOURCE_MAX = 2000, 300


class ScoreOutcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ScoringCampaign:
    campaign_id: int
    title: str
    framework: str | None


@dataclass(frozen=True)
class ScoreRow:
    """One indicator of the sheet: what it is, its weight and group, its level (None: not scored yet), its evidence."""

    code: str
    name: str
    position: int
    aspect: str | None
    domain: str | None
    weight: Decimal | None
    level: int | None
    level_name: str | None  # the level's name in the indicator's domain (59/2020); None for Pemdi or no level
    penjelasan: str | None
    source: str | None  # Pemdi 5-7: the other agency's assessment the level comes from
    needs_source: bool
    evidence: EvidenceState
    accepted_opds: tuple[str, ...]  # codes of the OPDs whose latest version of the item is accepted
    requested_opds: tuple[str, ...]  # codes of the OPDs asked for the item
    recorded_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ScoreSheet:
    """A campaign's scores and the simulation computed from them (index None when the items carry no weights)."""

    campaign_id: int
    title: str
    state: CampaignState
    framework: str | None
    rows: tuple[ScoreRow, ...]
    has_weights: bool
    index: IndexResult | None
    aspects: tuple[GroupIndex, ...]
    domains: tuple[GroupIndex, ...]  # 59/2020 only; empty for Pemdi (no domains) and without weights
    ranking: tuple[Gain, ...]

    @property
    def missing(self) -> int:
        """How many indicators have no level yet."""
        return sum(1 for r in self.rows if r.level is None)

    @property
    def scored(self) -> int:
        return len(self.rows) - self.missing

    @property
    def predicate(self) -> str | None:
        return self.index.predicate if self.index is not None else None

    @property
    def framework_name(self) -> str | None:
        return FRAMEWORKS.get(self.framework) if self.framework else None

    def row(self, code: str) -> ScoreRow | None:
        wanted = code.strip().upper()
        return next((r for r in self.rows if r.code == wanted), None)


@dataclass(frozen=True)
class ScoreChange:
    """What one recorded score did: added, updated (with the level before) or nothing (same values)."""

    code: str
    level: int
    previous_level: int | None
    outcome: ScoreOutcome


def scoring_role(held: Collection[Role]) -> Role | None:
    """The role a score is recorded in (admin, then Kasi, then Tim); None for anyone else."""
    return next((r for r in (Role.ADMIN, Role.KASI, Role.TIM) if r in held), None)


def require_scorer(acting: Acting) -> int:
    """The acting person, when they score in one of SCORERS' roles or from the CLI (trusted, CONTRACT "CLI")."""
    trusted = acting.role == Channel.CLI.value
    if acting.person_id is None or not (trusted or acting.role in {r.value for r in SCORERS}):
        raise DomainError("nilai/tidak_berwenang")
    return acting.person_id


def require_viewer(held: Collection[Role], data: str) -> None:
    """The `nil:` buttons are for the roles that score; anyone else forged one."""
    if not SCORERS.intersection(held):
        raise DomainError("umum/tombol_bukan_untuk_anda", audit_action="forged_button", data=data[:64])


async def scoring_campaigns(session: AsyncSession) -> list[ScoringCampaign]:
    """The campaigns that take scores now, newest first."""
    rows = await session.execute(
        select(Campaign.id, Campaign.title, Campaign.framework)
        .where(Campaign.state.in_([s.value for s in SCORING_STATES]))
        .order_by(Campaign.id.desc())
    )
    return [ScoringCampaign(campaign_id, title, framework) for campaign_id, title, framework in rows.all()]


async def require_scoring(session: AsyncSession, campaign_id: int) -> ScoringCampaign:
    """The campaign, when it takes scores; otherwise a refusal naming why."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    if CampaignState(campaign.state) not in SCORING_STATES:
        raise DomainError("nilai/kegiatan_belum_siap", id=campaign_id, judul=campaign.title)
    return ScoringCampaign(campaign.id, campaign.title, campaign.framework)


def clean_penjelasan(text: str) -> str:
    """The explanation as stored: control characters out, line breaks kept, 1-2000 characters."""
    cleaned = display_text(text, multiline=True).strip()
    if not cleaned or len(cleaned) > PENJELASAN_MAX:
        raise DomainError("nilai/penjelasan_tidak_sah", maksimum=PENJELASAN_MAX)
    return cleaned


def clean_source(text: str) -> str:
    cleaned = " ".join(display_text(text).split())
    if not cleaned or len(cleaned) > SOURCE_MAX:
        raise DomainError("nilai/sumber_tidak_sah", maksimum=SOURCE_MAX)
    return cleaned


def require_level(level: int) -> int:
    if not scoring.is_level(level):
        raise DomainError("nilai/level_salah", level=level)
    return level


async def require_indicator(session: AsyncSession, campaign_id: int, code: str) -> CampaignItem:
    """The campaign's item with that code (case-insensitive); another code is refused."""
    wanted = code.strip().upper()
    item = await session.scalar(
        select(CampaignItem).where(CampaignItem.campaign_id == campaign_id, CampaignItem.code == wanted)
    )
    if item is None:
        raise DomainError("nilai/indikator_tidak_dikenal", kode=display_text(code.strip())[:32])
    return item


async def record_score(
    session: AsyncSession,
    campaign_id: int,
    code: str,
    level: int,
    penjelasan: str,
    *,
    source: str | None = None,
    acting: Acting,
    now: datetime,
) -> ScoreChange:
    """Set an indicator's proposed level and explanation (and, Pemdi 5-7, its source); audited unless unchanged."""
    person_id = require_scorer(acting)
    campaign = await require_scoring(session, campaign_id)
    item = await require_indicator(session, campaign_id, code)
    require_level(level)
    explanation = clean_penjelasan(penjelasan)
    if scoring.needs_source(campaign.framework, item.code):
        if source is None:
            raise DomainError("nilai/sumber_wajib", kode=item.code)
        origin: str | None = clean_source(source)
    else:
        origin = None
    score = await session.scalar(
        select(CampaignScore).where(CampaignScore.campaign_id == campaign_id, CampaignScore.item_code == item.code)
    )
    if score is None:
        session.add(
            CampaignScore(
                campaign_id=campaign_id,
                item_code=item.code,
                level=level,
                penjelasan=explanation,
                source=origin,
                recorded_by_person_id=person_id,
                recorded_at=now,
                updated_at=now,
            )
        )
        change = ScoreChange(item.code, level, None, ScoreOutcome.ADDED)
    elif (score.level, score.penjelasan, score.source) == (level, explanation, origin):
        return ScoreChange(item.code, level, score.level, ScoreOutcome.UNCHANGED)
    else:
        change = ScoreChange(item.code, level, score.level, ScoreOutcome.UPDATED)
        score.level, score.penjelasan, score.source = level, explanation, origin
        score.recorded_by_person_id, score.updated_at = person_id, now
    await session.flush()
    await audit.record(
        session,
        acting,
        "score_recorded",
        now,
        object_type="campaign",
        object_id=campaign_id,
        indikator=item.code,
        level=level,
        sebelumnya=change.previous_level,
        sumber=origin,
    )
    return change


async def score_sheet(session: AsyncSession, campaign_id: int) -> ScoreSheet:
    """Every indicator of the campaign with its score and evidence, and the simulation (four queries)."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError("kampanye/tidak_dikenal", id=campaign_id)
    framework = campaign.framework
    shipped = {spec.code: spec for spec in framework_items(framework)} if framework in FRAMEWORKS else {}
    items = (
        await session.scalars(
            select(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(CampaignItem.position)
        )
    ).all()
    scores = {
        score.item_code: (score, name)
        for score, name in (
            await session.execute(
                select(CampaignScore, Person.display_name)
                .join(Person, Person.id == CampaignScore.recorded_by_person_id)
                .where(CampaignScore.campaign_id == campaign_id)
            )
        ).all()
    }
    requested, latest = await _evidence(session, campaign_id)
    rows: list[ScoreRow] = []
    for item in items:
        spec = shipped.get(item.code)
        aspect, domain = (spec.aspect, spec.domain) if spec is not None else (None, None)
        score, recorder = scores.get(item.code, (None, None))
        asked = requested.get(item.id, ())
        states = latest.get(item.id, {})
        level = score.level if score is not None else None
        rows.append(
            ScoreRow(
                code=item.code,
                name=item.title,
                position=item.position,
                aspect=aspect,
                domain=domain,
                weight=item.weight,
                level=level,
                level_name=scoring.level_name(framework, domain, level) if level is not None else None,
                penjelasan=score.penjelasan if score is not None else None,
                source=score.source if score is not None else None,
                needs_source=scoring.needs_source(framework, item.code),
                evidence=scoring.evidence_state(len(asked), (states.get(opd) for opd in asked)),
                accepted_opds=tuple(opd for opd in asked if states.get(opd) == ReviewState.ACCEPTED.value),
                requested_opds=asked,
                recorded_by=recorder,
                updated_at=score.updated_at if score is not None else None,
            )
        )
    return _sheet(campaign, tuple(rows))


def _sheet(campaign: Campaign, rows: tuple[ScoreRow, ...]) -> ScoreSheet:
    # Imported items carry no weight (CONTRACT "Score import"): such a campaign shows scores but no index.
    has_weights = bool(rows) and all(r.weight is not None for r in rows)
    indicators = [
        ScoredIndicator(r.code, r.weight or Decimal(0), r.aspect, r.domain, r.level, r.evidence) for r in rows
    ]
    framework = campaign.framework
    return ScoreSheet(
        campaign_id=campaign.id,
        title=campaign.title,
        state=CampaignState(campaign.state),
        framework=framework,
        rows=rows,
        has_weights=has_weights,
        index=scoring.index(framework, indicators) if has_weights else None,
        aspects=scoring.groups(indicators, "aspect") if has_weights else (),
        domains=scoring.groups(indicators, "domain") if has_weights else (),
        ranking=scoring.ranking(indicators) if has_weights else (),
    )


async def _evidence(
    session: AsyncSession, campaign_id: int
) -> tuple[dict[int, tuple[str, ...]], dict[int, dict[str, str]]]:
    """Per item: the OPDs asked (codes, sorted) and each OPD's latest version's review state."""
    requested: dict[int, list[str]] = {}
    for item_id, opd_code in (
        await session.execute(
            select(ItemAssignment.campaign_item_id, Opd.code)
            .join(CampaignItem, CampaignItem.id == ItemAssignment.campaign_item_id)
            .join(Opd, Opd.id == ItemAssignment.opd_id)
            .where(CampaignItem.campaign_id == campaign_id)
            .order_by(Opd.code)
        )
    ).all():
        requested.setdefault(item_id, []).append(opd_code)
    states = overview.latest_version_states(campaign_id)
    latest: dict[int, dict[str, str]] = {}
    for item_id, opd_code, state in (
        await session.execute(
            select(states.c.campaign_item_id, Opd.code, states.c.review_state).join(Opd, Opd.id == states.c.opd_id)
        )
    ).all():
        latest.setdefault(item_id, {})[opd_code] = state
    return {item_id: tuple(codes) for item_id, codes in requested.items()}, latest
