"""Button payloads and numeric command arguments, read into small typed values before anything acts on them.

Callback data comes back from the chat and anyone can forge it, so nothing reads it with `split` and `int`
alone: each prefix has its few known forms, ids are ASCII digits within the database's integer range, and
whatever does not fit is `None` (the caller answers "Tombol ini sudah tidak berlaku" or the command's usage).

The prefixes: `act:TOKEN` (a one-time action, bot.services.actions), `kir:` (intake, handlers.intake), `opd:`
(the OPD list, handlers.opd), `kmp:` (campaigns, handlers.campaigns), `sta:` (which campaign `/status` or
`/riwayat` shows, handlers.progress), `berkas:` (a version's files for staff, handlers.progress), `sts:`
(the campaign overview, handlers.progress), `tnj:a:REASON` (a reason for a revision request) and `tnj:q:ID`
(the review digest's button into `/tinjau #ID`), both handlers.review; `rpt:` (the coordination meeting,
handlers.meetings); `rkp:x:ID` (the recap's workbook button, handlers.recap); `nil:` (the self-assessment
scores, handlers.scores).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.conversation.core import MAX_PAYLOAD_BYTES
from bot.dates import DateParseError, parse_moment
from bot.domain.enums import ReviewReason
from bot.services.items import CODE_PATTERN as ITEM_CODE
from bot.services.registry import CODE_PATTERN as OPD_CODE

# Every id column is an `integer` on PostgreSQL (signed 32 bits), the narrower of our two databases: a larger
# id cannot name a row, and asyncpg refuses to send it at all.
MAX_ID = 2**31 - 1
MAX_PAGE = 9_999
MAX_DIGITS = 10
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")  # secrets.token_urlsafe's alphabet; the column holds 32
_KEY = re.compile(r"[a-z0-9]{1,16}")


def parse_number(text: str, *, maximum: int = MAX_ID, minimum: int = 0) -> int | None:
    """A whole number written in ASCII digits (no sign, no spaces), within [minimum, maximum]."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


def parse_id(text: str) -> int | None:
    """A database id typed by a person or carried by a button: `12` or `#12`."""
    return parse_number(text.removeprefix("#"), minimum=1)


@dataclass(frozen=True)
class ActionPress:
    """`act:TOKEN`: a one-time action button."""

    token: str


BatchVerb = Literal["item", "page", "done", "cancel", "opd", "campaign"]


@dataclass(frozen=True)
class BatchPress:
    """`kir:BATCH:ITEM`, `kir:BATCH:p:PAGE`, `kir:BATCH:s` (Selesai), `kir:BATCH:x` (Batal), `kir:BATCH:o:OPD`,
    `kir:BATCH:c:CAMPAIGN` (which campaign, when the OPD has two open)."""

    batch_id: int
    verb: BatchVerb
    item_code: str | None = None
    page: int | None = None
    opd_code: str | None = None
    campaign_id: int | None = None


ProgressView = Literal["status", "riwayat"]


@dataclass(frozen=True)
class ProgressPress:
    """`sta:s:CAMPAIGN:OPD` (`/status`) or `sta:r:CAMPAIGN:OPD` (`/riwayat`) of one campaign, chosen by button."""

    view: ProgressView
    campaign_id: int
    opd_code: str


@dataclass(frozen=True)
class CampaignRef:
    """Words typed after a command or in a caption, with the campaign an `#ID` among them names taken out."""

    campaign_id: int | None
    words: tuple[str, ...]


@dataclass(frozen=True)
class OpdPress:
    """`opd:p:PAGE` pages the OPD list, `opd:d:OPD` shows one OPD."""

    page: int | None = None
    opd_code: str | None = None


@dataclass(frozen=True)
class OverviewPress:
    """`sts:CAMPAIGN:p:PAGE` shows a page of the campaign overview, `sts:CAMPAIGN:o:OPD` one OPD's checklist."""

    campaign_id: int
    page: int | None = None
    opd_code: str | None = None


CampaignKind = Literal["v", "baru", "fw", "opd", "ubah", "surat", "ttd", "ba"]
_WITH_ID: dict[str, CampaignKind] = {"v": "v", "ubah": "ubah", "surat": "surat", "ttd": "ttd", "ba": "ba"}
_WITH_KEY: dict[str, CampaignKind] = {"fw": "fw", "opd": "opd"}


@dataclass(frozen=True)
class CampaignPress:
    """`kmp:v|ubah|surat|ttd|ba:ID`, `kmp:baru`, `kmp:fw:KEY`, `kmp:opd:semua`."""

    kind: CampaignKind
    campaign_id: int | None = None
    key: str | None = None


def _fields(data: str, prefix: str) -> list[str] | None:
    """The `:`-separated fields after `prefix:`, for data a button of ours could have carried."""
    if not data.isascii() or len(data) > MAX_PAYLOAD_BYTES or not data.startswith(f"{prefix}:"):
        return None
    return data[len(prefix) + 1 :].split(":")


def parse_action(data: str) -> ActionPress | None:
    """`act:TOKEN`, the token in secrets.token_urlsafe's alphabet."""
    fields = _fields(data, "act")
    if fields is None or len(fields) != 1 or not _TOKEN.fullmatch(fields[0]):
        return None
    return ActionPress(fields[0])


def parse_review_reason(data: str) -> ReviewReason | None:
    """`tnj:a:REASON`: one reason of the short list a reviewer may add to a revision request."""
    fields = _fields(data, "tnj")
    if fields is None or len(fields) != 2 or fields[0] != "a":
        return None
    try:
        return ReviewReason(fields[1])
    except ValueError:
        return None


def parse_recap_workbook(data: str) -> int | None:
    """`rkp:x:CAMPAIGN`: the recap's "Unduh rekap lengkap" (not a one-time action: a download changes nothing)."""
    fields = _fields(data, "rkp")
    if fields is None or len(fields) != 2 or fields[0] != "x":
        return None
    return parse_id(fields[1])


def parse_review_queue(data: str) -> int | None:
    """`tnj:q:CAMPAIGN`: the review digest's button into `/tinjau #CAMPAIGN`."""
    fields = _fields(data, "tnj")
    if fields is None or len(fields) != 2 or fields[0] != "q" or not fields[1].isdigit():
        return None
    return parse_id(fields[1])


@dataclass(frozen=True)
class ExtensionArgs:
    """`/perpanjang OPD_CODE|semua TANGGAL [JAM] ALASAN`: `opd_code` None means every OPD."""

    opd_code: str | None
    deadline: datetime
    reason: str


def parse_extension(words: Sequence[str], zone: ZoneInfo) -> ExtensionArgs | None:
    """The words after `/perpanjang` (an `#ID` already taken out); None when they do not fit the form."""
    if len(words) < 3:
        return None
    target = words[0].upper()
    if target != "SEMUA" and not OPD_CODE.fullmatch(target):
        return None
    for used in (2, 1):  # a time after the day is part of the moment, else it starts the reason
        try:
            deadline = parse_moment(" ".join(words[1 : 1 + used]), zone)
        except DateParseError:
            continue
        reason = " ".join(words[1 + used :]).strip()
        if not reason:
            return None
        return ExtensionArgs(None if target == "SEMUA" else target, deadline, reason)
    return None


@dataclass(frozen=True)
class ReminderTarget:
    """`/ingatkan`'s one word: an OPD code, or every OPD (`opd_code=None`: "semua", or nothing written)."""

    opd_code: str | None


def parse_reminder_target(words: Sequence[str]) -> ReminderTarget | None:
    """The words after `/ingatkan`; None when they are neither one OPD code nor "semua"."""
    if not words:
        return ReminderTarget(None)
    if len(words) != 1:
        return None
    target = words[0].upper()
    if target == "SEMUA":
        return ReminderTarget(None)
    return ReminderTarget(target) if OPD_CODE.fullmatch(target) else None


def parse_batch(data: str) -> BatchPress | None:
    """One of the five `kir:` forms; item and OPD codes as the registry and the item import allow them."""
    fields = _fields(data, "kir")
    if fields is None or not 2 <= len(fields) <= 3:
        return None
    batch_id = parse_number(fields[0], minimum=1)
    if batch_id is None:
        return None
    verb, rest = fields[1], fields[2:]
    if verb == "s" and not rest:
        return BatchPress(batch_id, "done")
    if verb == "x" and not rest:
        return BatchPress(batch_id, "cancel")
    if verb == "p" and rest:
        page = parse_number(rest[0], maximum=MAX_PAGE)
        return BatchPress(batch_id, "page", page=page) if page is not None else None
    if verb == "o" and rest and OPD_CODE.fullmatch(rest[0]):
        return BatchPress(batch_id, "opd", opd_code=rest[0])
    if verb == "c" and rest:
        campaign_id = parse_number(rest[0], minimum=1)
        return BatchPress(batch_id, "campaign", campaign_id=campaign_id) if campaign_id is not None else None
    if not rest and ITEM_CODE.fullmatch(verb):
        return BatchPress(batch_id, "item", item_code=verb)
    return None


def parse_progress(data: str) -> ProgressPress | None:
    """`sta:s:ID:OPD` or `sta:r:ID:OPD`."""
    fields = _fields(data, "sta")
    if fields is None or len(fields) != 3 or fields[0] not in ("s", "r") or not OPD_CODE.fullmatch(fields[2]):
        return None
    campaign_id = parse_number(fields[1], minimum=1)
    if campaign_id is None:
        return None
    return ProgressPress("status" if fields[0] == "s" else "riwayat", campaign_id, fields[2])


def campaign_ref(words: Sequence[str]) -> CampaignRef:
    """`/status DINKES #3`, a caption `#3 I.13`: the first `#ID` names the campaign, the other words stay in order.

    A `#…` that is no id stays among the words, so the command refuses it as it refuses any unknown word.
    """
    for n, word in enumerate(words):
        if word.startswith("#") and (campaign_id := parse_id(word)) is not None:
            return CampaignRef(campaign_id, (*words[:n], *words[n + 1 :]))
    return CampaignRef(None, tuple(words))


def parse_opd(data: str) -> OpdPress | None:
    """`opd:p:PAGE` or `opd:d:OPD`."""
    fields = _fields(data, "opd")
    if fields is None or len(fields) != 2:
        return None
    kind, value = fields
    if kind == "p":
        page = parse_number(value, maximum=MAX_PAGE)
        return OpdPress(page=page) if page is not None else None
    if kind == "d" and OPD_CODE.fullmatch(value):
        return OpdPress(opd_code=value)
    return None


def parse_campaign(data: str) -> CampaignPress | None:
    """One of the nine `kmp:` forms (which flows a key may answer is the handler's business)."""
    fields = _fields(data, "kmp")
    if fields is None or not 1 <= len(fields) <= 2:
        return None
    kind, value = fields[0], (fields[1] if len(fields) == 2 else None)
    if kind == "baru" and value in (None, "ulang"):  # `kmp:baru:ulang`: discard the half-made plan and start again
        return CampaignPress("baru", key=value)
    if kind in _WITH_ID and value is not None:
        campaign_id = parse_number(value, minimum=1)
        return CampaignPress(_WITH_ID[kind], campaign_id=campaign_id) if campaign_id is not None else None
    if kind in _WITH_KEY and value is not None and _KEY.fullmatch(value):
        return CampaignPress(_WITH_KEY[kind], key=value)
    return None


def parse_overview(data: str) -> OverviewPress | None:
    """`sts:CAMPAIGN:p:PAGE` or `sts:CAMPAIGN:o:OPD`."""
    fields = _fields(data, "sts")
    if fields is None or len(fields) != 3:
        return None
    campaign_id = parse_number(fields[0], minimum=1)
    kind, value = fields[1], fields[2]
    if campaign_id is None:
        return None
    if kind == "p":
        page = parse_number(value, maximum=MAX_PAGE)
        return OverviewPress(campaign_id, page=page) if page is not None else None
    if kind == "o" and OPD_CODE.fullmatch(value):
        return OverviewPress(campaign_id, opd_code=value)
    return None


@dataclass(frozen=True)
class VersionFilesPress:
    """`berkas:CAMPAIGN:OPD:ITEM:NUMBER`: staff open the files of one version from `/riwayat` or `/status`."""

    campaign_id: int
    opd_code: str
    item_code: str
    number: int


def parse_version_files(data: str) -> VersionFilesPress | None:
    fields = _fields(data, "berkas")
    if fields is None or len(fields) != 4:
        return None
    campaign_id, number = parse_number(fields[0], minimum=1), parse_number(fields[3], minimum=1, maximum=9_999)
    if campaign_id is None or number is None or not OPD_CODE.fullmatch(fields[1]) or not ITEM_CODE.fullmatch(fields[2]):
        return None
    return VersionFilesPress(campaign_id, fields[1], fields[2], number)


MeetingVerb = Literal["campaign", "place", "tim", "show", "reschedule", "cancel", "times"]
_MEETING_WITH_ID: dict[str, MeetingVerb] = {
    "k": "campaign",
    "m": "show",
    "u": "reschedule",
    "x": "cancel",
    "w": "times",
}
_MEETING_BARE: dict[str, MeetingVerb] = {"p": "place", "t": "tim"}


@dataclass(frozen=True)
class MeetingPress:
    """`rpt:k:CAMPAIGN` (which campaign), `rpt:p` (the default place), `rpt:t` (invite the whole Tim SPBE),
    `rpt:m:MEETING` (the attendance list), `rpt:u:MEETING` (reschedule), `rpt:x:MEETING` (cancel, asks first),
    `rpt:w:MEETING` (type the actual start and end)."""

    verb: MeetingVerb
    id: int | None = None


def parse_meeting(data: str) -> MeetingPress | None:
    fields = _fields(data, "rpt")
    if fields is None:
        return None
    if len(fields) == 1 and fields[0] in _MEETING_BARE:
        return MeetingPress(_MEETING_BARE[fields[0]])
    if len(fields) == 2 and fields[0] in _MEETING_WITH_ID:
        number = parse_number(fields[1], minimum=1)
        return MeetingPress(_MEETING_WITH_ID[fields[0]], number) if number is not None else None
    return None


AnnouncementVerb = Literal["campaign", "no_document", "all_opds"]


@dataclass(frozen=True)
class AnnouncementPress:
    """`umm:k:CAMPAIGN` (which campaign), `umm:l` (no document), `umm:s` (every OPD of the campaign)."""

    verb: AnnouncementVerb
    id: int | None = None


def parse_announcement(data: str) -> AnnouncementPress | None:
    fields = _fields(data, "umm")
    if fields is None:
        return None
    if fields == ["l"]:
        return AnnouncementPress("no_document")
    if fields == ["s"]:
        return AnnouncementPress("all_opds")
    if len(fields) == 2 and fields[0] == "k":
        number = parse_number(fields[1], minimum=1)
        return AnnouncementPress("campaign", number) if number is not None else None
    return None


def parse_question(data: str) -> int | None:
    """`tny:QUESTION`: "Balas" under a liaison's question; the question's id."""
    fields = _fields(data, "tny")
    if fields is None or len(fields) != 1:
        return None
    return parse_number(fields[0], minimum=1)


ScoreVerb = Literal["campaign", "page", "indicator", "level", "ranking", "import"]


@dataclass(frozen=True)
class ScorePress:
    """`nil:k:CAMPAIGN` (the summary), `nil:i:CAMPAIGN:PAGE` (a page of indicators), `nil:d:CAMPAIGN:ITEM` (one
    indicator), `nil:l:CAMPAIGN:ITEM:LEVEL` (a level chosen), `nil:r:CAMPAIGN` (the ranking), `nil:m:CAMPAIGN`
    (import a file). A level is any one digit here: the service says which are allowed."""

    verb: ScoreVerb
    campaign_id: int
    page: int | None = None
    item_code: str | None = None
    level: int | None = None


_SCORE_BARE: dict[str, ScoreVerb] = {"k": "campaign", "r": "ranking", "m": "import"}


def parse_score(data: str) -> ScorePress | None:
    fields = _fields(data, "nil")
    if fields is None or len(fields) < 2:
        return None
    verb, campaign_id, rest = fields[0], parse_number(fields[1], minimum=1), fields[2:]
    if campaign_id is None:
        return None
    if verb in _SCORE_BARE and not rest:
        return ScorePress(_SCORE_BARE[verb], campaign_id)
    if verb == "i" and len(rest) == 1 and (page := parse_number(rest[0], maximum=MAX_PAGE)) is not None:
        return ScorePress("page", campaign_id, page=page)
    if verb == "d" and len(rest) == 1 and ITEM_CODE.fullmatch(rest[0]):
        return ScorePress("indicator", campaign_id, item_code=rest[0])
    if verb == "l" and len(rest) == 2 and ITEM_CODE.fullmatch(rest[0]):
        level = parse_number(rest[1], maximum=9)
        return ScorePress("level", campaign_id, item_code=rest[0], level=level) if level is not None else None
    return None
