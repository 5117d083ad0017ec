"""The evidence's text and its automatic check: which files still need reading, what was read, each version's
findings, and the search over the text of a campaign's evidence (`/cari`).

Text is kept once per content hash (a file filed in two versions is read once). A reading is recorded as begun
before it starts, so a reading a crash cut short is seen at the next start and tried once more; a file that
stopped its reader twice is recorded unreadable instead of stopping it a third time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, and_, exists, func, literal_column, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.enums import Role
from bot.services import audit, bot_state, people
from bot.services.audit import Acting
from bot.services.evidence_checks import Filed, Finding, Rules, check_document, check_screenshot, near_copy
from bot.services.evidence_reading import ReadText, signature
from storage.models import (
    Campaign,
    CampaignItem,
    EvidenceCheck,
    EvidenceFinding,
    EvidenceText,
    Opd,
    SubmissionFile,
    SubmissionVersion,
)

READING, READ, UNREADABLE = "reading", "read", "unreadable"
# bot_state: every file of the versions up to this id has its text; every version up to this id was checked.
READ_MARK, CHECK_MARK = "evidence_read_through", "evidence_checked_through"
MAX_ATTEMPTS = 2
# The marks around matched words in a snippet: control characters no text contains, turned into <b> after escaping.
MARK_START, MARK_END = "\x02", "\x03"
SEARCH_PAGE = 5
HEADLINE_OPTIONS = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=18, MinWords=6, MaxFragments=1"
MAX_QUERY_WORDS = 8


# --- reading ---------------------------------------------------------------------------------------------------


async def _mark(session: AsyncSession, key: str) -> int:
    return int(await bot_state.recall(session, key) or 0)


async def files_to_read(session: AsyncSession, now: datetime, *, limit: int) -> list[str]:
    """Hashes of filed evidence with no text yet, oldest version first; readings cut short are given up after two.

    Only versions after a mark are looked at (every file of the versions up to it has its text), so the job's
    question every few seconds stays as cheap with 75,000 versions as with ten.
    """
    await session.execute(
        update(EvidenceText)
        .where(EvidenceText.state == READING, EvidenceText.attempts >= MAX_ATTEMPTS)
        .values(state=UNREADABLE, reason="pembacaan berhenti di tengah jalan dua kali", read_at=now)
    )
    mark = await _mark(session, READ_MARK)
    done = exists().where(EvidenceText.sha256 == SubmissionFile.sha256, EvidenceText.state != READING)
    rows = (
        await session.execute(
            select(SubmissionFile.sha256, func.min(SubmissionFile.version_id).label("first"))
            .where(SubmissionFile.version_id > mark, ~done)
            .group_by(SubmissionFile.sha256)
            .order_by(literal_column("first"))
            .limit(limit)
        )
    ).all()
    if rows:
        through = rows[0][1] - 1
    else:
        through = await session.scalar(select(func.max(SubmissionFile.version_id))) or 0
    if through > mark:
        await bot_state.remember(session, READ_MARK, str(through), now)
    await _advance_check_mark(session, now)
    return [sha256 for sha256, _ in rows]


async def begin_reading(session: AsyncSession, sha256: str, now: datetime) -> None:
    """Recorded before the reading starts (and committed), so a crash leaves a trace the next run sees."""
    row = await session.get(EvidenceText, sha256)
    if row is None:
        session.add(EvidenceText(sha256=sha256, state=READING, body="", attempts=1, started_at=now))
    else:
        row.state, row.attempts, row.started_at = READING, row.attempts + 1, now


async def record_reading(session: AsyncSession, sha256: str, result: ReadText, now: datetime) -> None:
    """Keep what was read, and index it for `/cari`."""
    row = await session.get_one(EvidenceText, sha256)
    row.state = result.state
    row.method = result.method
    row.pages = result.pages
    row.ocr_confidence = result.ocr_confidence
    row.reason = result.reason
    row.body = result.body
    row.signature = signature(result.body) if result.state == READ else None
    row.screenshot = result.screenshot
    row.read_at = now
    if session.get_bind().dialect.name == "sqlite":  # PostgreSQL indexes the column itself (migration 0017)
        await session.execute(text("DELETE FROM evidence_search WHERE sha256 = :sha"), {"sha": sha256})
        if result.body:
            await session.execute(
                text("INSERT INTO evidence_search (sha256, body) VALUES (:sha, :body)"),
                {"sha": sha256, "body": result.body},
            )


@dataclass(frozen=True)
class TextView:
    sha256: str
    state: str
    method: str | None
    pages: int | None
    ocr_confidence: int | None
    reason: str | None
    attempts: int
    body: str


async def text_of(session: AsyncSession, sha256: str) -> TextView | None:
    row = await session.get(EvidenceText, sha256)
    if row is None:
        return None
    return TextView(
        row.sha256, row.state, row.method, row.pages, row.ocr_confidence, row.reason, row.attempts, row.body
    )


# --- the check -------------------------------------------------------------------------------------------------


async def versions_to_check(session: AsyncSession, *, limit: int) -> list[int]:
    """Versions whose files are all read (or found unreadable) and that were not checked yet, oldest first."""
    unread = (
        select(SubmissionFile.version_id)
        .outerjoin(EvidenceText, EvidenceText.sha256 == SubmissionFile.sha256)
        .where(
            SubmissionFile.version_id == SubmissionVersion.id,
            or_(EvidenceText.sha256.is_(None), EvidenceText.state == READING),
        )
        .exists()
    )
    rows = await session.scalars(
        select(SubmissionVersion.id)
        .where(SubmissionVersion.id > await _mark(session, CHECK_MARK), ~unread, ~_checked())
        .order_by(SubmissionVersion.id)
        .limit(limit)
    )
    return list(rows.all())


def _checked() -> Exists:
    return select(EvidenceCheck.version_id).where(EvidenceCheck.version_id == SubmissionVersion.id).exists()


async def _advance_check_mark(session: AsyncSession, now: datetime) -> None:
    mark = await _mark(session, CHECK_MARK)
    first = await session.scalar(select(func.min(SubmissionVersion.id)).where(SubmissionVersion.id > mark, ~_checked()))
    through = first - 1 if first is not None else await session.scalar(select(func.max(SubmissionVersion.id))) or 0
    if through > mark:
        await bot_state.remember(session, CHECK_MARK, str(through), now)


@dataclass(frozen=True)
class FindingView:
    check: str
    code: str
    details: dict[str, Any]
    file_name: str | None


@dataclass(frozen=True)
class CheckedVersion:
    """A version after its automatic check: whom to tell, and what was found."""

    version_id: int
    campaign_id: int
    campaign_title: str
    opd_id: int
    opd_code: str
    opd_name: str
    item_code: str
    item_title: str
    number: int
    findings: tuple[FindingView, ...]
    recipients: tuple[int, ...]  # the uploader, or the OPD's liaisons for a version filed on its behalf


async def check_version(session: AsyncSession, version_id: int, rules: Rules, *, now: datetime) -> CheckedVersion:
    """Run the item's checks on one version's read text and keep the findings (once per version)."""
    version, campaign, item, opd = (
        await session.execute(
            select(SubmissionVersion, Campaign, CampaignItem, Opd)
            .join(Campaign, Campaign.id == SubmissionVersion.campaign_id)
            .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
            .join(Opd, Opd.id == SubmissionVersion.opd_id)
            .where(SubmissionVersion.id == version_id)
        )
    ).one()
    files = (
        await session.execute(
            select(SubmissionFile.sha256, SubmissionFile.file_name, EvidenceText)
            .join(EvidenceText, EvidenceText.sha256 == SubmissionFile.sha256)
            .where(SubmissionFile.version_id == version_id)
            .order_by(SubmissionFile.position)
        )
    ).all()
    profile = rules.profile_for(campaign.framework, item.code, item.title, item.description)
    year = campaign.deadline.year
    findings: list[Finding] = []
    documents = []
    others = await _filed_elsewhere(session, campaign.id, opd.id, item.id, version_id)
    for sha256, file_name, read in files:
        if read.state != READ:
            findings.append(Finding("terbaca", "tidak_terbaca", {"berkas": file_name, "alasan": read.reason}, sha256))
            continue
        if read.screenshot:
            findings += check_screenshot(read.body, rules, sha256)
        else:
            documents.append(read.body)
        findings += near_copy(read.signature, others, sha256)
    if documents:
        findings += check_document("\n".join(documents), profile, year, rules)
    session.add(EvidenceCheck(version_id=version_id, checked_at=now))
    names = {sha256: file_name for sha256, file_name, _ in files}
    for finding in findings:
        session.add(
            EvidenceFinding(
                version_id=version_id,
                check=finding.check,
                code=finding.code,
                sha256=finding.sha256,
                details=json.dumps(dict(finding.details), ensure_ascii=False),
            )
        )
    await audit.record(
        session,
        Acting(None, None),
        "evidence_check",
        now,
        object_type="submission_version",
        object_id=version_id,
        checks=sorted({f.check for f in findings}),
    )
    if version.on_behalf:
        recipients = tuple(await people.people_with_roles(session, [Role.OPD], opd.id))
    else:
        recipients = (version.uploaded_by_person_id,)
    views = tuple(
        FindingView(f.check, f.code, dict(f.details), names.get(f.sha256) if f.sha256 else None) for f in findings
    )
    return CheckedVersion(
        version_id,
        campaign.id,
        campaign.title,
        opd.id,
        opd.code,
        opd.name,
        item.code,
        item.title,
        version.number,
        views,
        recipients,
    )


async def _filed_elsewhere(
    session: AsyncSession, campaign_id: int, opd_id: int, item_id: int, version_id: int
) -> list[Filed]:
    """Signatures of the files filed before this version by another OPD or for another item (what a copy copies)."""
    rows = await session.execute(
        select(EvidenceText.signature, Opd.name, CampaignItem.code, SubmissionVersion.number)
        .join(SubmissionFile, SubmissionFile.sha256 == EvidenceText.sha256)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionFile.version_id)
        .join(Opd, Opd.id == SubmissionVersion.opd_id)
        .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
        .where(
            SubmissionVersion.campaign_id == campaign_id,
            SubmissionVersion.id < version_id,
            EvidenceText.signature.is_not(None),
            ~and_(SubmissionVersion.opd_id == opd_id, SubmissionVersion.campaign_item_id == item_id),
        )
    )
    return [Filed(sig, name, code, number) for sig, name, code, number in rows.all() if sig]


async def findings_of(session: AsyncSession, version_id: int) -> tuple[FindingView, ...] | None:
    """A version's findings for the reviewer; None while its files are still being read."""
    if await session.get(EvidenceCheck, version_id) is None:
        return None
    rows = await session.execute(
        select(EvidenceFinding, SubmissionFile.file_name)
        .outerjoin(
            SubmissionFile,
            and_(
                SubmissionFile.version_id == EvidenceFinding.version_id,
                SubmissionFile.sha256 == EvidenceFinding.sha256,
            ),
        )
        .where(EvidenceFinding.version_id == version_id)
        .order_by(EvidenceFinding.id)
    )
    return tuple(FindingView(f.check, f.code, json.loads(f.details), name) for f, name in rows.all())


# --- search ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    version_id: int
    opd_code: str
    opd_name: str
    item_code: str
    number: int
    file_name: str
    sha256: str
    snippet: str  # plain text with MARK_START/MARK_END around the matched words (the template escapes, then marks)


@dataclass(frozen=True)
class SearchPage:
    words: tuple[str, ...]
    hits: tuple[Hit, ...]
    page: int
    more: bool


def query_words(args: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The words searched for: letters and digits only (no query syntax reaches the index), at most eight."""
    words = [w for arg in args for w in re.findall(r"\w+", arg.lower())]
    return tuple(dict.fromkeys(words))[:MAX_QUERY_WORDS]


async def search(session: AsyncSession, campaign_id: int, words: tuple[str, ...], *, page: int = 0) -> SearchPage:
    """The campaign's evidence whose text has every word, newest first, one page at a time.

    The page is chosen first; snippets are made for its few rows alone, since making one for each of tens of
    thousands of matches would cost seconds.
    """
    if not words:
        return SearchPage(words, (), 0, False)
    sqlite = session.get_bind().dialect.name == "sqlite"
    located = (
        select(
            SubmissionVersion.id,
            Opd.code,
            Opd.name,
            CampaignItem.code,
            SubmissionVersion.number,
            SubmissionFile.file_name,
            SubmissionFile.sha256,
        )
        .select_from(SubmissionFile)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionFile.version_id)
        .join(Opd, Opd.id == SubmissionVersion.opd_id)
        .join(CampaignItem, CampaignItem.id == SubmissionVersion.campaign_item_id)
        .where(SubmissionVersion.campaign_id == campaign_id)
    )
    if sqlite:
        # Newest text first, in the index's own order: SQLite walks the matches from the last one read and stops
        # at the page's end, so a word found in tens of thousands of files costs no more than a rare one.
        match = " ".join(f'"{w}"' for w in words)  # each word quoted: a phrase of one, never an operator
        hits = (
            text("SELECT rowid AS hit_row, sha256 AS hit_sha FROM evidence_search WHERE evidence_search MATCH :match")
            .bindparams(match=match)
            .columns(literal_column("hit_row"), literal_column("hit_sha"))
            .subquery("hits")
        )
        # Only the index's order: a second sort key would make SQLite sort every match before the first page.
        query = (
            located.add_columns(hits.c.hit_row)
            .join(hits, hits.c.hit_sha == SubmissionFile.sha256)
            .order_by(hits.c.hit_row.desc())
        )
    else:
        tsquery = func.plainto_tsquery("simple", " ".join(words))
        query = (
            located.join(EvidenceText, EvidenceText.sha256 == SubmissionFile.sha256)
            .add_columns(EvidenceText.sha256)  # where the snippet comes from (SQLite: the index row)
            .where(func.to_tsvector("simple", EvidenceText.body).op("@@")(tsquery))
            .order_by(EvidenceText.read_at.desc(), SubmissionVersion.id.desc(), SubmissionFile.position)
        )
    query = query.offset(page * SEARCH_PAGE).limit(SEARCH_PAGE + 1)
    rows = (await session.execute(query)).all()
    shown = rows[:SEARCH_PAGE]
    snippets = await _snippets(session, sqlite, words, sorted({row[7] for row in shown}))
    hits_ = tuple(
        Hit(version, opd_code, opd_name, item_code, number, name, sha256, snippets.get(key, ""))
        for version, opd_code, opd_name, item_code, number, name, sha256, key in shown
    )
    return SearchPage(words, hits_, page, len(rows) > SEARCH_PAGE)


async def _snippets(session: AsyncSession, sqlite: bool, words: tuple[str, ...], keys: list[Any]) -> dict[Any, str]:
    """Snippets of the page's texts, by index row (SQLite: a lookup by rowid, not a scan of the matches) or hash."""
    if not keys:
        return {}
    names = {f"k{n}": key for n, key in enumerate(keys)}
    listed = ", ".join(f":{name}" for name in names)
    if sqlite:
        statement = text(
            "SELECT rowid, snippet(evidence_search, 1, :start, :end, '…', 14) FROM evidence_search "
            f"WHERE evidence_search MATCH :match AND rowid IN ({listed})"
        ).bindparams(start=MARK_START, end=MARK_END, match=" ".join(f'"{w}"' for w in words), **names)
    else:
        statement = text(
            "SELECT sha256, ts_headline('simple', body, plainto_tsquery('simple', :match), :options) "
            f"FROM evidence_text WHERE sha256 IN ({listed})"
        ).bindparams(match=" ".join(words), options=HEADLINE_OPTIONS, **names)
    return {key: snippet for key, snippet in (await session.execute(statement)).all()}
