"""Button payloads and numeric arguments: the known forms become typed values, everything else None."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.conversation import payloads
from bot.conversation.payloads import (
    MAX_ID,
    ActionPress,
    BatchPress,
    CampaignPress,
    CampaignRef,
    MeetingPress,
    OpdPress,
    OverviewPress,
    ProgressPress,
    campaign_ref,
    parse_action,
    parse_batch,
    parse_campaign,
    parse_id,
    parse_meeting,
    parse_number,
    parse_opd,
    parse_overview,
    parse_progress,
)
from bot.domain.enums import ReviewReason

# What the bot's own buttons carry, and what each must read back as.
GOOD = [
    (parse_action, "act:Ab3_-x9QpLm2Zk7w", ActionPress("Ab3_-x9QpLm2Zk7w")),
    (parse_action, "act:" + "a" * 32, ActionPress("a" * 32)),
    (parse_batch, "kir:12:I.13", BatchPress(12, "item", item_code="I.13")),
    (parse_batch, "kir:12:p:0", BatchPress(12, "page", page=0)),
    (parse_batch, "kir:12:p:3", BatchPress(12, "page", page=3)),
    (parse_batch, "kir:12:s", BatchPress(12, "done")),
    (parse_batch, "kir:12:x", BatchPress(12, "cancel")),
    (parse_batch, "kir:12:o:DINKES", BatchPress(12, "opd", opd_code="DINKES")),
    (parse_batch, f"kir:{MAX_ID}:s", BatchPress(MAX_ID, "done")),
    (parse_batch, "kir:12:c:3", BatchPress(12, "campaign", campaign_id=3)),
    (parse_progress, "sta:s:3:DINKES", ProgressPress("status", 3, "DINKES")),
    (parse_progress, "sta:r:3:DINKES", ProgressPress("riwayat", 3, "DINKES")),
    (parse_opd, "opd:p:2", OpdPress(page=2)),
    (parse_opd, "opd:d:DISKOMINFO", OpdPress(opd_code="DISKOMINFO")),
    (parse_campaign, "kmp:v:7", CampaignPress("v", campaign_id=7)),
    (parse_campaign, "kmp:ubah:7", CampaignPress("ubah", campaign_id=7)),
    (parse_campaign, "kmp:surat:7", CampaignPress("surat", campaign_id=7)),
    (parse_campaign, "kmp:ttd:7", CampaignPress("ttd", campaign_id=7)),
    (parse_campaign, "kmp:baru", CampaignPress("baru")),
    (parse_campaign, "kmp:baru:ulang", CampaignPress("baru", key="ulang")),
    (parse_campaign, "kmp:fw:pemdi", CampaignPress("fw", key="pemdi")),
    (parse_campaign, "kmp:opd:semua", CampaignPress("opd", key="semua")),
    (parse_overview, "sts:3:p:0", OverviewPress(3, page=0)),
    (parse_overview, "sts:3:p:2", OverviewPress(3, page=2)),
    (parse_overview, "sts:3:o:DINKES", OverviewPress(3, opd_code="DINKES")),
    (parse_overview, f"sts:{MAX_ID}:o:{'Z' * 32}", OverviewPress(MAX_ID, opd_code="Z" * 32)),
    (parse_meeting, "rpt:k:3", MeetingPress("campaign", 3)),
    (parse_meeting, "rpt:p", MeetingPress("place")),
    (parse_meeting, "rpt:t", MeetingPress("tim")),
    (parse_meeting, "rpt:m:7", MeetingPress("show", 7)),
    (parse_meeting, "rpt:u:7", MeetingPress("reschedule", 7)),
    (parse_meeting, "rpt:x:7", MeetingPress("cancel", 7)),
    (parse_meeting, f"rpt:w:{MAX_ID}", MeetingPress("times", MAX_ID)),
]

BAD = {
    parse_meeting: [
        "rpt:",
        "rpt",
        "rpt:k",
        "rpt:k:0",
        "rpt:m:-1",
        "rpt:m:2147483648",
        "rpt:u:\u00b2",
        "rpt:p:1",
        "rpt:t:x",
        "rpt:z:1",
        "rpt:m:1:2",
        "kmp:v:1",
    ],
    parse_action: ["act:", "act:" + "a" * 33, "act:\u00ff\u00ff", "act:../x", "act:a:b", "act", "kir:1:s", ""],
    parse_batch: [
        "kir:2147483648:s",
        "kir:999999999999999999999:I.13",
        "kir:0:s",
        "kir:-1:s",
        "kir:+1:s",
        "kir: 1:s",
        "kir:#1:s",
        "kir:\u00b2:s",
        "kir:\u0661:s",
        "kir:1:p:10000",
        "kir:1:p:-3",
        "kir:1:p:",
        "kir:1:p",
        "kir:1:o:",
        "kir:1:o:dinkes",
        "kir:1:o:DINKES:lagi",
        "kir:1:s:x",
        "kir:1:i.13",
        "kir:1:\u00c4\u00d6",
        "kir:1:" + "A" * 17,
        "kir:1",
        "kir:",
        "kir",
        "kir:1:I.13:x",
        "kir:1:" + "I" * 60,
        " kir:1:s",
        "act:1:s",
        "kir:1:c:",
        "kir:1:c:0",
        "kir:1:c:-2",
        "kir:1:c:2147483648",
        "kir:1:c:1:2",
    ],
    parse_progress: [
        "sta:s:3",
        "sta:x:3:DINKES",
        "sta:s:0:DINKES",
        "sta:s:#3:DINKES",
        "sta:s:3:dinkes",
        "sta:s:3:DINKES:x",
        "sta:s:99999999999:DINKES",
        "sta:",
        "kir:1:s",
    ],
    parse_opd: [
        "opd:p:-1",
        "opd:p:\u00b2",
        "opd:p:99999999999",
        "opd:d:",
        "opd:d:" + "Z" * 50,
        "opd:d:D\u0130NKES",
        "opd:x:1",
        "opd:p",
        "opd:d:A:B",
    ],
    parse_campaign: [
        "kmp:v:99999999999999999999",
        "kmp:v:-1",
        "kmp:v:\u00b2",
        "kmp:v:",
        "kmp:v:1:2",
        "kmp:ubah:abc",
        "kmp:ttd:",
        "kmp:fw:",
        "kmp:fw:ZZ",
        "kmp:opd:" + "x" * 17,
        "kmp:zz",
        "kmp:baru:1",
        "kmp:",
        "kmp",
    ],
    parse_overview: [
        "sts:0:p:0",
        "sts:2147483648:p:0",
        "sts:-1:p:0",
        "sts:\u00b2:p:0",
        "sts:3:p:-1",
        "sts:3:p:10000",
        "sts:3:p:",
        "sts:3:o:",
        "sts:3:o:dinkes",
        "sts:3:o:D\u0130NKES",
        "sts:3:o:DINKES:lagi",
        "sts:3:x:1",
        "sts:3:p",
        "sts:3",
        "sts:",
        "sts",
        "opd:3:p:0",
    ],
}


@pytest.mark.parametrize(("parse", "data", "expected"), GOOD, ids=[data for _, data, _ in GOOD])
def test_the_bots_own_buttons_read_back(parse, data, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse(data) == expected


@pytest.mark.parametrize(
    ("parse", "data"), [(p, d) for p, cases in BAD.items() for d in cases], ids=lambda v: getattr(v, "__name__", v)
)
def test_anything_else_is_refused(parse, data) -> None:  # type: ignore[no-untyped-def]
    assert parse(data) is None


def test_payloads_are_frozen() -> None:
    press = BatchPress(1, "done")
    with pytest.raises(AttributeError):
        press.batch_id = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("#12", 12),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("99999999999999999999", None),
        ("9223372036854775807", None),
        ("0", None),
        ("-5", None),
        ("+5", None),
        ("#", None),
        ("", None),
        ("\u00b2", None),
        ("\u0661\u0662", None),
        ("1 2", None),
        ("12a", None),
        ("##12", None),
    ],
)
def test_ids_are_ascii_digits_within_the_integer_range(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_numbers_keep_their_bounds() -> None:
    assert parse_number("0") == 0 and parse_number("999", maximum=999) == 999
    assert parse_number("1000", maximum=999) is None and parse_number("00000000001") is None


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ((), CampaignRef(None, ())),
        (("DINKES", "#3"), CampaignRef(3, ("DINKES",))),
        (("#3", "I.13", "Perwal"), CampaignRef(3, ("I.13", "Perwal"))),
        (("I.13", "#3", "#4"), CampaignRef(3, ("I.13", "#4"))),
        (("#x", "I.13"), CampaignRef(None, ("#x", "I.13"))),  # no id: left for the command to refuse
        (("#0",), CampaignRef(None, ("#0",))),
        (("#2147483648",), CampaignRef(None, ("#2147483648",))),
    ],
)
def test_an_id_among_the_words_names_the_campaign(words: tuple[str, ...], expected: CampaignRef) -> None:
    assert campaign_ref(words) == expected


def test_extension_arguments_take_an_optional_time_and_need_a_reason() -> None:
    zone = ZoneInfo("Asia/Pontianak")
    one = payloads.parse_extension(["dinkes", "2026-10-15", "14:00", "surat", "Kepala"], zone)
    assert one == payloads.ExtensionArgs("DINKES", datetime(2026, 10, 15, 14, 0, tzinfo=zone), "surat Kepala")
    every = payloads.parse_extension(["semua", "15-10-2026", "libur"], zone)
    assert every == payloads.ExtensionArgs(None, datetime(2026, 10, 15, 23, 59, tzinfo=zone), "libur")
    for words in (["DINKES", "2026-10-15"], ["DINKES", "besok", "x"], ["dinas kesehatan!", "2026-10-15", "x"], []):
        assert payloads.parse_extension(words, zone) is None, words


def test_review_payloads() -> None:
    assert payloads.parse_review_reason("tnj:a:tidak_lengkap") is ReviewReason.TIDAK_LENGKAP
    assert payloads.parse_review_queue("tnj:q:12") == 12
    for forged in ("tnj:a:lain", "tnj:q:x", "tnj:q:99999999999", "tnj:a", "tnj:q:1:2", "tnj:a:tidak_lengkap:1"):
        assert payloads.parse_review_reason(forged) is None and payloads.parse_review_queue(forged) is None, forged


def test_the_recap_workbook_button_names_one_campaign_id() -> None:
    assert payloads.parse_recap_workbook("rkp:x:12") == 12
    for forged in ("rkp:x:", "rkp:x:0", "rkp:x:-1", "rkp:x:12:3", "rkp:y:12", "rkp:x:٣", f"rkp:x:{2**31}", "kmp:x:1"):
        assert payloads.parse_recap_workbook(forged) is None, forged
