"""What a finalized campaign's evidence package holds beyond the evidence: the scores, the BA, the signed BA, a summary.

They are read in the export's read unit (`read_final`) and made into files in its thread (`final_files`), under
`hasil/` in the ZIP, each in `manifest.csv` and `SHA256SUMS` like every other entry.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.templating import Renderer
from bot.domain.enums import CampaignState
from bot.services.berita_acara import BeritaAcara, SignedBa, berita_acara, signed_ba, template_path, write_ba
from bot.services.exports.package import ExtraFile
from bot.services.finalization import FINALIZED_EVENT
from bot.services.scores import ScoreSheet, score_sheet
from bot.settings import Settings
from storage.models import Campaign, CampaignEvent

FOLDER = "hasil"
SCORE_COLUMNS = ("indikator", "nama", "aspek", "domain", "bobot", "level", "penjelasan", "sumber")


@dataclass(frozen=True)
class FinalDocuments:
    ba: BeritaAcara
    sheet: ScoreSheet
    signed: SignedBa
    finalized_at: datetime
    template: Path


async def read_final(
    session: AsyncSession, settings: Settings, campaign_id: int, now: datetime
) -> FinalDocuments | None:
    """The finalized campaign's documents; None for a campaign not finalized (its package is the evidence alone)."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.FINALIZED.value:
        return None
    signed = await signed_ba(session, campaign_id)
    finalized_at = await session.scalar(
        select(CampaignEvent.at)
        .where(CampaignEvent.campaign_id == campaign_id, CampaignEvent.kind == FINALIZED_EVENT)
        .order_by(CampaignEvent.id.desc())
        .limit(1)
    )
    if signed is None or finalized_at is None:  # finalizing needs both: not a state this code writes
        return None
    return FinalDocuments(
        await berita_acara(session, campaign_id, settings.timezone, now),
        await score_sheet(session, campaign_id),
        signed,
        finalized_at,
        template_path(settings.data_dir),
    )


def final_files(final: FinalDocuments, zone: ZoneInfo) -> list[ExtraFile]:
    """The files of `hasil/` (synchronous: the BA is rendered here, in the export's thread)."""
    campaign_id = final.ba.campaign_id
    document = io.BytesIO()
    write_ba(final.ba, final.template, document)
    summary = Renderer(zone).plain("ba/ringkasan", ba=final.ba, signed=final.signed, selesai=final.finalized_at)
    return [
        ExtraFile(f"{FOLDER}/nilai-kegiatan-{campaign_id}.csv", "nilai.csv", content=_scores_csv(final.sheet)),
        ExtraFile(
            f"{FOLDER}/berita-acara-kegiatan-{campaign_id}.docx", "berita-acara.docx", content=document.getvalue()
        ),
        ExtraFile(f"{FOLDER}/berita-acara-bertanda-tangan.pdf", final.signed.name, sha256=final.signed.sha256),
        ExtraFile(f"{FOLDER}/ringkasan.txt", "ringkasan.txt", content=(summary + "\n").encode("utf-8")),
    ]


def _scores_csv(sheet: ScoreSheet) -> bytes:
    text = io.StringIO(newline="")
    rows = csv.writer(text)
    rows.writerow(SCORE_COLUMNS)
    for r in sheet.rows:
        weight = format(r.weight.normalize(), "f") if r.weight is not None else ""
        rows.writerow(
            [r.code, r.name, r.aspect or "", r.domain or "", weight, r.level or "", r.penjelasan or "", r.source or ""]
        )
    return text.getvalue().encode("utf-8")
