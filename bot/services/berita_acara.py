"""The Berita Acara (BA) of the evaluasi mandiri (SOP step 6): what it says, the Word document, the signed PDF.

The document is a docxtpl template (Jinja2 inside Word): the packaged `templates/dokumen/berita-acara.docx`, or
the city's own `<MONEV_DATA_DIR>/templates/berita-acara.docx` when that file exists (same names, see
tests/berita_acara_template.py). A BA needs the held coordination meeting (its date, place, agenda and attendance)
and a complete self-assessment (the index); otherwise it is refused with what is missing. The signed BA, a PDF
uploaded inside the flow of its button on `/kegiatan #ID`, is stored and ends step 6 (`ba_signed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import templates
from bot.conversation.templating import date_in_words, day_in_words, person_in_words, time_in_words
from bot.domain.enums import CampaignState, MeetingState, Role, Rsvp
from bot.errors import DomainError
from bot.services import audit
from bot.services.audit import Acting
from bot.services.campaigns import _event, _load
from bot.services.items import FRAMEWORKS
from bot.services.meetings import meeting_view
from bot.services.overview import campaign_overview
from bot.services.scores import ScoreSheet, score_sheet
from bot.services.uploads import clean_file_name, register_blob
from storage.filestore import Blob
from storage.models import Meeting, Opd, Person, RoleAssignment, SignedBeritaAcara

TEMPLATE_NAME = "berita-acara.docx"
DEFAULT_TEMPLATE = Path(templates.__file__).parent / "dokumen" / TEMPLATE_NAME
CITY_TEMPLATE_DIR = "templates"
# Where a BA may be made: after collection, once the meeting may have been held; and after finalizing, for the package.
BA_STATES = (CampaignState.CLOSED, CampaignState.RECAPPED, CampaignState.FINALIZED)
SIGNED_BA_STATE = CampaignState.RECAPPED  # the SOP's order: the recap (4), the meeting (5), then the BA (6)
BA_SIGNED_EVENT = "ba_signed"
BLANK_NAME = "(..............................)"  # a signature line whose signer the bot does not know
SIMULATION_NOTE = "Nilai di atas adalah simulasi hasil penilaian mandiri; nilai resmi ditetapkan oleh asesor nasional."
ROLE_NAMES = {
    Role.ADMIN.value: "Admin Diskominfo",
    Role.KASI.value: "Kasi PK&AI",
    Role.KABID.value: "Kabid TKPBET",
    Role.SEKRETARIAT.value: "Sekretariat Dinas",
    Role.TIM.value: "Tim SPBE",
    Role.OPD.value: "Penghubung OPD",
    Role.KEPALA_OPD.value: "Kepala OPD",
}


@dataclass(frozen=True)
class Attendee:
    name: str
    position: str  # roles and OPDs as people say them ("Tim SPBE", "Penghubung OPD DINKES")
    presence: str  # "Hadir" or "Diwakilkan oleh …"


@dataclass(frozen=True)
class OpdRow:
    code: str
    name: str
    required: int
    complete: int
    verified: int
    percent: int


@dataclass(frozen=True)
class AspectRow:
    name: str
    index: str  # "3,25": as the document prints it


@dataclass(frozen=True)
class BaScores:
    """The self-assessment as the BA states it (a simulation: the official score comes from the assessors)."""

    index: str
    predicate: str
    aspects: tuple[AspectRow, ...]


@dataclass(frozen=True)
class BaMeeting:
    day: str
    place: str
    agenda: str
    start: str
    end: str


@dataclass(frozen=True)
class BeritaAcara:
    campaign_id: int
    title: str
    year: int
    framework: str
    meeting: BaMeeting
    attendees: tuple[Attendee, ...]
    opds: tuple[OpdRow, ...]
    scores: BaScores
    kasi: str
    kabid: str
    sekda: str
    made: str

    def context(self) -> dict[str, Any]:
        """The names the template uses (tests/berita_acara_template.py lists where each goes)."""
        return {
            "tahun": self.year,
            "judul": self.title,
            "kegiatan": self.campaign_id,
            "kerangka": self.framework,
            "rapat": {
                "tanggal": self.meeting.day,
                "tempat": self.meeting.place,
                "agenda": self.meeting.agenda,
                "mulai": self.meeting.start,
                "selesai": self.meeting.end,
            },
            "hadir": [
                {"no": n, "nama": a.name, "jabatan": a.position, "kehadiran": a.presence}
                for n, a in enumerate(self.attendees, start=1)
            ],
            "opd": [
                {
                    "no": n,
                    "kode": o.code,
                    "nama": o.name,
                    "wajib": o.required,
                    "lengkap": o.complete,
                    "terverifikasi": o.verified,
                    "persen": f"{o.percent}%",
                }
                for n, o in enumerate(self.opds, start=1)
            ],
            "indeks": self.scores.index,
            "predikat": self.scores.predicate,
            "aspek": [{"no": n, "nama": a.name, "indeks": a.index} for n, a in enumerate(self.scores.aspects, 1)],
            "catatan_simulasi": SIMULATION_NOTE,
            "ttd": {"kasi": self.kasi, "kabid": self.kabid, "sekda": self.sekda},
            "dibuat": self.made,
        }


def template_path(data_dir: Path) -> Path:
    """The city's template when it has put one in its data dir, else the packaged one."""
    city = data_dir / CITY_TEMPLATE_DIR / TEMPLATE_NAME
    return city if city.is_file() else DEFAULT_TEMPLATE


def write_ba(ba: BeritaAcara, template: Path, target: BinaryIO) -> None:
    """Render the BA into `target` (synchronous: call it in a thread)."""
    from docxtpl import DocxTemplate  # python-docx and lxml: only when a BA is written

    document = DocxTemplate(str(template))
    document.render(ba.context(), autoescape=True)
    document.save(target)


def file_name(campaign_id: int, now: datetime, zone: ZoneInfo) -> str:
    return f"berita-acara-kegiatan-{campaign_id}-{now.astimezone(zone):%Y%m%d-%H%M}.docx"


def decimal_in_words(value: Decimal | float) -> str:
    """'3,25': two decimals, the Indonesian way."""
    return f"{value:.2f}".replace(".", ",")


def ba_scores(sheet: ScoreSheet) -> BaScores:
    """The index, predicate and per-aspect table; refused without levels, without weights or while any is missing."""
    campaign_id = sheet.campaign_id
    if not any(r.level is not None for r in sheet.rows):
        raise DomainError("ba/belum_ada_nilai", id=campaign_id)
    if not sheet.has_weights or sheet.index is None:
        raise DomainError("ba/tanpa_bobot", id=campaign_id)
    if sheet.index.value is None:
        raise DomainError("ba/nilai_belum_lengkap", id=campaign_id, jumlah=sheet.index.missing)
    aspects = tuple(AspectRow(g.name, decimal_in_words(g.value) if g.value is not None else "-") for g in sheet.aspects)
    return BaScores(decimal_in_words(sheet.index.value), sheet.index.predicate or "-", aspects)


async def berita_acara(session: AsyncSession, campaign_id: int, zone: ZoneInfo, now: datetime) -> BeritaAcara:
    """What the BA of `campaign_id` says: the held meeting and who attended, completeness per OPD, the scores."""
    campaign = await _load(session, campaign_id)
    if CampaignState(campaign.state) not in BA_STATES:
        raise DomainError("ba/belum_waktunya", id=campaign_id)
    meeting = await _held_meeting(session, campaign_id)
    scores = ba_scores(await score_sheet(session, campaign_id))
    overview = await campaign_overview(session, campaign_id)
    opds = tuple(
        OpdRow(s.opd_code, s.opd_name, s.required, s.complete, s.verified, s.percent(s.complete))
        for s in sorted(overview.standings, key=lambda s: s.opd_code)
    )
    assert meeting.actual_start is not None and meeting.actual_end is not None  # a held meeting has both
    start = meeting.actual_start.astimezone(zone)
    return BeritaAcara(
        campaign_id=campaign_id,
        title=campaign.title,
        year=start.year,
        framework=FRAMEWORKS.get(campaign.framework or "", "item impor"),
        meeting=BaMeeting(
            day_in_words(start.date()),
            meeting.place,
            " ".join(meeting.agenda.split()),
            time_in_words(meeting.actual_start, zone),
            time_in_words(meeting.actual_end, zone),
        ),
        attendees=await _attendees(session, meeting.id),
        opds=opds,
        scores=scores,
        kasi=await _holder_name(session, Role.KASI),
        kabid=await _holder_name(session, Role.KABID),
        sekda=BLANK_NAME,
        made=date_in_words(now, zone).split(" pukul ")[0],
    )


async def _held_meeting(session: AsyncSession, campaign_id: int) -> Meeting:
    meeting = await session.scalar(
        select(Meeting)
        .where(Meeting.campaign_id == campaign_id, Meeting.state == MeetingState.HELD.value)
        .order_by(Meeting.actual_end.desc(), Meeting.id.desc())
        .limit(1)
    )
    if meeting is None:
        raise DomainError("ba/tanpa_rapat", id=campaign_id)
    return meeting


async def _attendees(session: AsyncSession, meeting_id: int) -> tuple[Attendee, ...]:
    """Who came (or sent someone), by name, with their roles and OPDs; those who declined or never answered not."""
    view = await meeting_view(session, meeting_id)
    came = [i for i in view.invitees if i.rsvp in (Rsvp.HADIR, Rsvp.DIWAKILKAN)]
    positions = await _positions(session, [i.person_id for i in came])
    return tuple(
        Attendee(
            person_in_words(i.name),
            positions.get(i.person_id, "-"),
            "Hadir" if i.rsvp is Rsvp.HADIR else f"Diwakilkan oleh {i.representative or '-'}",
        )
        for i in came
    )


async def _positions(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(
        select(RoleAssignment.person_id, RoleAssignment.role, Opd.code)
        .outerjoin(Opd, Opd.id == RoleAssignment.opd_id)
        .where(RoleAssignment.person_id.in_(person_ids), RoleAssignment.revoked_at.is_(None))
        .order_by(RoleAssignment.person_id, RoleAssignment.id)
    )
    held: dict[int, list[str]] = {}
    for person_id, role, opd_code in rows.all():
        name = ROLE_NAMES.get(role, role)
        held.setdefault(person_id, []).append(f"{name} {opd_code}" if opd_code else name)
    return {person_id: ", ".join(names) for person_id, names in held.items()}


async def _holder_name(session: AsyncSession, role: Role) -> str:
    """The name of whoever holds `role` (the longest-standing holder), or a blank line to sign on."""
    name = await session.scalar(
        select(Person.display_name)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == role.value, RoleAssignment.revoked_at.is_(None), Person.purged_at.is_(None))
        .order_by(RoleAssignment.granted_at, RoleAssignment.id)
        .limit(1)
    )
    shown = person_in_words(name)
    return shown if shown and shown != "operator server" else BLANK_NAME


# -- the signed BA -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedBa:
    campaign_id: int
    sha256: str
    name: str
    uploaded_at: datetime


async def record_signed_ba(
    session: AsyncSession, campaign_id: int, blob: Blob, name: str, *, acting: Acting, now: datetime
) -> SignedBa:
    """The BA signed by the Sekda arrives (a PDF): stored, and step 6 ends. A later upload replaces it."""
    campaign = await _load(session, campaign_id)
    if campaign.state != SIGNED_BA_STATE.value:
        raise DomainError("ba/ttd_belum_waktunya", id=campaign_id)
    await _held_meeting(session, campaign_id)
    if acting.person_id is None:
        raise DomainError("umum/tombol_bukan_untuk_anda")
    await register_blob(session, blob, now)
    shown = clean_file_name(name, fallback="berita-acara.pdf")
    row = SignedBeritaAcara(
        campaign_id=campaign_id,
        sha256=blob.sha256,
        file_name=shown,
        uploaded_by_person_id=acting.person_id,
        uploaded_at=now,
    )
    session.add(row)
    await _event(session, campaign, BA_SIGNED_EVENT, acting, now, sha256=blob.sha256, name=shown)
    return SignedBa(campaign_id, blob.sha256, shown, now)


async def signed_ba(session: AsyncSession, campaign_id: int) -> SignedBa | None:
    """The latest signed BA of the campaign, if any."""
    row = await session.scalar(
        select(SignedBeritaAcara)
        .where(SignedBeritaAcara.campaign_id == campaign_id)
        .order_by(SignedBeritaAcara.id.desc())
        .limit(1)
    )
    return SignedBa(row.campaign_id, row.sha256, row.file_name, row.uploaded_at) if row else None


async def record_ba_export(
    session: AsyncSession, campaign_id: int, name: str, size: int, *, acting: Acting, now: datetime
) -> None:
    """The audit row of a generated BA (chat or CLI)."""
    await audit.record(
        session, acting, "export_ba", now, object_type="campaign", object_id=campaign_id, name=name, size=size
    )
