"""The conversation fuzzed: random sequences of commands, arguments, free text, button payloads (seen, stale and
forged), captions, file names and small files, as every role, through the console channel against a real database.

The world (a few OPDs, one console person per role, an open campaign with versions, a draft) is built once per
process through the services, then copied (SQLite file and data directory) for every sequence. Each step is one
console request handled by the real dispatcher (`ConsoleChannel._request_of` and `Dispatcher.handle`, what
`monev shell` runs per line), then the upload-batches job as the scheduler would run it. After every step:

- nothing failed (no apology, no ERROR log) and no reply shows technical text; a reply exists unless the step is
  a file added to a /kirim session that is still collecting (answered when it closes, through the outbox);
- nothing of another OPD reaches an OPD person (their replies and waiting messages);
- every change of the state tables is one the sender's roles may make, by the command table's roles of the
  commands that make it; OPD people change only their own OPD's versions; a new role comes with a code redeemed;
- every state change has its audit entry in the same step;
- completeness and verification (`submissions.progress`, `overview.campaign_overview`) equal what the version
  rows say, recomputed here by hand.

MONEV_FUZZ_EXAMPLES sets the sequences per test function (four functions with different seeds, so xdist spreads
them; CI runs the default, 4 x 50 = 200 sequences of 30 steps).
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import re
import shutil
import sqlite3
import string
import struct
import tempfile
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.app import MonevApp, build_app
from bot.channels.console import ConsoleChannel
from bot.conversation.commands import COMMANDS, EVERYONE, find_command
from bot.conversation.core import Actor, Reply, Request
from bot.domain.enums import OPD_SCOPED_ROLES, Channel, ReviewDecision, ReviewReason, Role
from bot.services import actions, broadcast, campaigns, identity, items, overview, registry, review, submissions
from bot.services.audit import Acting
from bot.settings import Settings
from jobs import upload_batches
from tests.conftest import make_settings
from tests.e2e.broadcast_world import tagged_pdf
from tests.schema_template import seed_sqlite

STATS: Counter[str] = Counter()
EXAMPLES = int(os.environ.get("MONEV_FUZZ_EXAMPLES", "50"))
STEPS = 30
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, two weeks before the deadline

OPD_CODES = ("DINSOS", "DISHUB", "DINKES")  # A and B have liaisons, C only versions filed on behalf
ITEM_CODES = ("I.01", "I.02", "I.03")


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")
    )


FILE_CONTENTS = {
    "pdf": tagged_pdf(b"fuzz"),
    "png": _png(),
    "junk": bytes(range(256)) * 2,
    "empty": b"",
}

# Text a person must never read: a traceback, an exception, Python's or Jinja's leftovers.
TECHNICAL = re.compile(
    r"Traceback|Exception|Error\b|\bNone\b|\bnull\b|Undefined|\{\{|\}\}|\{%|object at 0x|sqlalchemy|asyncpg|"
    r"KeyError|ValueError|TypeError|IntegrityError"
)
INVITE_CODE = re.compile(r"\b[0-9A-Z]{4}(?:[- ]?[0-9A-Z]{4}){4}\b")


# -- the world -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    key: str  # the console's unix user: one chat per person
    role: Role | None  # None: a chat nobody registered
    opd_code: str | None = None

    @property
    def external_id(self) -> str | None:
        return identity.console_external_id(self.key, self.role, self.opd_code) if self.role else None


PERSONAS = (
    Persona("admin", Role.ADMIN),
    Persona("kasi", Role.KASI),
    Persona("kabid", Role.KABID),
    Persona("sekretariat", Role.SEKRETARIAT),
    Persona("tim", Role.TIM),
    Persona("opda", Role.OPD, OPD_CODES[0]),
    Persona("opdb", Role.OPD, OPD_CODES[1]),
    Persona("kepala", Role.KEPALA_OPD, OPD_CODES[0]),
    Persona("tamu", None),
)


@dataclass(frozen=True)
class Template:
    database: Path
    data_dir: Path
    open_campaign: int
    draft_campaign: int
    opds: dict[str, tuple[str, str]]  # code → (name, short name)
    file_names: dict[str, tuple[str, ...]]  # OPD code → the file names of its versions


_template: Template | None = None


def world_settings(root: Path) -> Settings:
    return make_settings(root / "data", MONEV_DATABASE_URL=f"sqlite+aiosqlite:///{root / 'monev.sqlite3'}")


async def _build_world(root: Path) -> Template:
    settings = world_settings(root)
    await seed_sqlite(settings.database_url)
    app = build_app(settings, clock=lambda: START)
    await app.prepare()
    now = START - timedelta(days=3)
    file_names: dict[str, list[str]] = {code: [] for code in OPD_CODES}
    try:
        async with app.services.db.write() as session:
            cli = Acting(await identity.ensure_local_person(session, "cli", "fuzz", now), "cli", "cli")
            rows = [r for r in registry.parse_opd_file(registry.default_opd_file()) if r.code in OPD_CODES]
            assert len(rows) == len(OPD_CODES)
            await registry.import_opds(session, rows, acting=cli, now=now)
            acting: dict[str, Acting] = {}
            for persona in PERSONAS:
                if persona.role is None:
                    continue
                name = app.services.renderer.plain("konsol/nama_orang", role=persona.role.value, opd=persona.opd_code)
                actor = await identity.ensure_console_person(
                    session, persona.key, persona.role, persona.opd_code, name, now
                )
                acting[persona.key] = Acting(actor.person_id, persona.role.value, Channel.CONSOLE.value)
            a, b, c = OPD_CODES
            specs = [
                items.ItemSpec("I.01", "Kebijakan internal SPBE", "SK", True, None, (a, b, c), (), None, None, 1),
                items.ItemSpec("I.02", "Rencana induk SPBE", "", True, Decimal(2), (a, b), (), None, None, 2),
                items.ItemSpec("I.03", "Arsitektur SPBE", "", False, None, (a, c), (), None, None, 3),
            ]
            kasi, kabid, secretary = acting["kasi"], acting["kabid"], acting["sekretariat"]
            open_id = await campaigns.create_campaign(
                session,
                title="Evaluasi Mandiri SPBE 2026",
                framework=None,
                items=specs,
                deadline=START + timedelta(days=14),
                opd_codes=list(OPD_CODES),
                acting=kasi,
                now=now,
            )
            await campaigns.submit_to_kabid(session, open_id, acting=kasi, now=now)
            await campaigns.decide(session, open_id, approve=True, note=None, acting=kabid, now=now)
            letter = app.services.files.store_bytes(tagged_pdf(b"undangan"))
            await campaigns.record_signed_letter(session, open_id, letter, "undangan.pdf", acting=secretary, now=now)
            await campaigns.open_campaign(session, open_id, acting=secretary, now=now)
            await broadcast.invite_all(session, open_id, now)
            draft_id = await campaigns.create_campaign(
                session,
                title="Monev Lanjutan SPBE 2026",
                framework=None,
                items=specs[:1],
                deadline=START + timedelta(days=40),
                opd_codes=[a, b],
                acting=kasi,
                now=now,
            )
            # Versions filed on behalf (the service the CLI uses), then reviewed: every state appears.
            versions = {}
            for opd_code, item_code in ((a, "I.01"), (b, "I.01"), (b, "I.02"), (c, "I.01"), (c, "I.03")):
                scope = await submissions.scope_in(session, opd_code, open_id)
                assert scope is not None
                name = f"bukti-{opd_code.lower()}-{item_code.replace('.', '')}.pdf"
                blob = app.services.files.store_bytes(tagged_pdf(name.encode()))
                receipt = await submissions.file_on_behalf(
                    session, scope, item_code, [(blob, name)], channel="cli", acting=kasi, now=now
                )
                versions[(opd_code, item_code)] = receipt
                file_names[opd_code].append(name)
            version_ids = dict(
                (
                    await session.execute(
                        text(
                            "SELECT o.code || '/' || i.code, v.id FROM submission_version v "
                            "JOIN opd o ON o.id = v.opd_id JOIN campaign_item i "
                            "ON i.id = v.campaign_item_id"
                        )
                    )
                ).all()
            )
            await review.decide(
                session,
                open_id,
                version_ids[f"{a}/I.01"],
                ReviewDecision.ACCEPTED,
                note=None,
                reason=None,
                acting=kasi,
                now=now,
            )
            await review.decide(
                session,
                open_id,
                version_ids[f"{b}/I.01"],
                ReviewDecision.REVISION_REQUESTED,
                note="Mohon lampirkan SK yang sudah ditandatangani.",
                reason=ReviewReason.TIDAK_LENGKAP,
                acting=kasi,
                now=now,
            )
            opds = {r.code: (r.name, r.short_name) for r in rows}
    finally:
        await app.close()
    return Template(
        root / "monev.sqlite3",
        root / "data",
        open_id,
        draft_id,
        opds,
        {code: tuple(names) for code, names in file_names.items()},
    )


async def world_template() -> Template:
    global _template
    if _template is None:
        _template = await _build_world(Path(tempfile.mkdtemp(prefix="monev-fuzz-world-")))
    return _template


# -- the steps -----------------------------------------------------------------------------------------------


def command_names() -> list[str]:
    """Every command and alias of the table, read when the test runs (commands added later are fuzzed too)."""
    return sorted({name for c in COMMANDS for name in (c.name, *c.aliases)})


def argument(template: Template) -> st.SearchStrategy[str]:
    codes = [*OPD_CODES, "TIDAKADA", "dinsos", "semua", "SEMUA"]
    words = [
        "paket",
        "tambah",
        "hapus",
        "opd",
        "kepala_opd",
        "tim",
        "admin",
        "kasi",
        "kabid",
        "sekretariat",
        "ya",
        "tidak",
        "selesai",
        "batal",
        "semua",
    ]
    dates = [
        "16-03-2026",
        "2026-03-20",
        "31-02-2026",
        "32/13/2026",
        "besok",
        "kemarin",
        "01-01-1900",
        "31-12-9999",
        "20/03/2026",
        "23:59",
        "25:61",
        "08.00",
    ]
    ids = [
        f"#{template.open_campaign}",
        f"#{template.draft_campaign}",
        "#0",
        "#-1",
        "#999999",
        "#99999999999",
        "#",
        "#abc",
        str(template.open_campaign),
        "1",
        "2",
        "3",
        "999999",
    ]
    return st.one_of(
        st.sampled_from(codes),
        st.sampled_from([*ITEM_CODES, "I.99", "X.01", "i.01", "I01", "1.01"]),
        st.sampled_from(words),
        st.sampled_from(dates),
        st.sampled_from(ids),
        st.sampled_from(["<b>tebal</b>", "<script>alert(1)</script>", "&amp;", "</code>", "{{ x }}", "%s", "'; --"]),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=30),
        st.text(alphabet=string.ascii_letters + string.digits, min_size=200, max_size=300),
    )


_PLACEHOLDER = re.compile(r"\[[^\]]*\]|\S+")


def usage_arguments(usage: str, template: Template, seen: Seen) -> st.SearchStrategy[list[str]]:
    """Arguments as a command's usage in the table writes them (`KODE_OPD|semua TANGGAL [JAM] ALASAN [#ID]`),
    read at run time: each placeholder becomes a value of its kind, optional ones sometimes left out."""
    forms = [form.strip() for form in usage.split(" | ")] if usage else [""]

    def value(word: str) -> st.SearchStrategy[str]:
        choices = [value_of(part) for part in word.split("|")]
        return st.one_of(*choices)

    def value_of(word: str) -> st.SearchStrategy[str]:
        if word == "KODE_OPD":
            return st.sampled_from(OPD_CODES)
        if word == "KODE_ITEM":
            return st.sampled_from(ITEM_CODES)
        if word == "KODE":
            return st.sampled_from(seen.codes) if seen.codes else st.just("K7QM2X9DK7QM2X9DK7QM")
        if word == "#ID":
            return st.sampled_from([f"#{template.open_campaign}", f"#{template.draft_campaign}", "#77"])
        if word == "ID":
            return st.sampled_from(["1", "2", "3", "4", "5"])
        if word == "TANGGAL":
            return st.sampled_from(["20-03-2026", "2026-03-25", "10-03-2026", "01-03-2026", "30-02-2026"])
        if word == "JAM":
            return st.sampled_from(["15:00", "23:59"])
        if word in ("ALASAN", "KATA…", "keterangan"):
            return st.sampled_from(["Perlu waktu tambahan", "SK", "rapat <b>dinas</b>", "ULP & PPK"])
        return st.just(word)  # a literal: tambah, paket, semua, a role name

    def form_strategy(form: str) -> st.SearchStrategy[list[str]]:
        parts: list[st.SearchStrategy[list[str]]] = []
        for word in _PLACEHOLDER.findall(form):
            if word.startswith("["):
                inner = [w for w in word.strip("[]").split() if w]
                optional = st.tuples(*(value(w) for w in inner)).map(list)
                parts.append(st.one_of(st.just([]), optional))
            else:
                parts.append(value(word).map(lambda v: [v]))
        return st.tuples(*parts).map(lambda groups: [v for g in groups for v in g]) if parts else st.just([])

    return st.one_of(*(form_strategy(f) for f in forms))


def free_text(seen_codes: list[str]) -> st.SearchStrategy[str]:
    choices: list[st.SearchStrategy[str]] = [
        st.sampled_from(
            [
                "ya",
                "tidak",
                "batal",
                "selesai",
                "halo",
                "I.01",
                "DINSOS",
                "",
                "   ",
                "/",
                "//x",
                "/@bot",
                "<b>x</b> & <i>",
                "1",
                "0",
                "Terima kasih 🙏",
                "العربية",
                "𝕳𝖊𝖑𝖑𝖔",
            ]
        ),
        st.text(max_size=80),
        st.text(alphabet=string.ascii_letters, min_size=4090, max_size=4200),
    ]
    if seen_codes:
        choices.append(st.sampled_from(seen_codes))
    return st.one_of(*choices)


def forged_payload(prefixes: list[str]) -> st.SearchStrategy[str]:
    field_ = st.one_of(
        st.sampled_from(
            [
                "s",
                "x",
                "p",
                "o",
                "c",
                "a",
                "q",
                "d",
                "baru",
                "ulang",
                "1",
                "2",
                "0",
                "-1",
                "2147483648",
                "99999999999",
                *OPD_CODES,
                "I.01",
                "belum",
            ]
        ),
        st.integers(min_value=0, max_value=40).map(str),
        st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=32),
    )
    structured = st.tuples(st.sampled_from(prefixes), st.lists(field_, max_size=4)).map(
        lambda parts: ":".join([parts[0], *parts[1]])[:64]
    )
    raw = st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
    return st.one_of(structured, structured, raw, st.text(max_size=64))


FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "dokumen.pdf",
            "../../etc/passwd.pdf",
            "..\\..\\windows\\system32.pdf",
            "/etc/shadow",
            ".pdf",
            "a" * 300 + ".pdf",
            "sk final (revisi) ✓.pdf",
            "<b>surat</b>.pdf",
            "laporan.PDF",
            "foto.png",
            "nul\x00byte.pdf",
            "",
            "CON.pdf",
        ]
    ),
    st.text(max_size=40).map(lambda s: s + ".pdf"),
)


@dataclass
class Seen:
    """What the sequence has shown so far: buttons (by person) and invite codes."""

    payloads: list[tuple[str, str]] = field(default_factory=list)  # (payload, persona key that saw it)
    codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    persona: Persona
    kind: str  # command, text, press, forged, file
    line: str = ""  # what the request carries, for the failure message and the echo check
    payload: str | None = None
    file_kind: str | None = None
    file_name: str | None = None
    caption: str | None = None


def draw_step(data: st.DataObject, template: Template, seen: Seen, prefixes: list[str]) -> Step:
    persona = data.draw(st.sampled_from(PERSONAS), label="persona")
    kinds = ["command"] * 5 + ["text"] * 2 + ["forged"] * 2 + ["file"] * 2 + (["press"] * 5 if seen.payloads else [])
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind == "command":
        name = data.draw(
            st.one_of(st.sampled_from(command_names()), st.sampled_from(["perintahaneh", "HELP", "start@monevbot"]))
        )
        command = find_command(name.lower())
        if command is not None and data.draw(st.booleans(), label="as its usage says"):
            allowed = [p for p in PERSONAS if command.allows({p.role} if p.role else set())]
            persona = data.draw(st.sampled_from(allowed or PERSONAS), label="persona of usage")
            args = data.draw(usage_arguments(command.usage, template, seen), label="usage args")
        else:
            args = data.draw(st.lists(argument(template), max_size=5), label="args")
        return Step(persona, kind, " ".join([f"/{name}", *args]))
    if kind == "text":
        return Step(persona, kind, data.draw(free_text(seen.codes), label="text"))
    if kind == "press":
        # Mostly one of the latest buttons (a flow goes on), sometimes any seen before (stale).
        pool = seen.payloads[-6:] if data.draw(st.booleans(), label="recent") else seen.payloads
        payload, owner = data.draw(st.sampled_from(pool), label="seen payload")
        # Mostly the person who saw it (valid, or stale when pressed again), sometimes someone else.
        if data.draw(st.booleans(), label="someone else"):
            persona = data.draw(st.sampled_from(PERSONAS), label="presser")
        else:
            persona = next(p for p in PERSONAS if p.key == owner)
        return Step(persona, kind, payload, payload=payload)
    if kind == "forged":
        payload = data.draw(forged_payload(prefixes), label="forged payload")
        return Step(persona, kind, payload, payload=payload)
    if data.draw(st.booleans(), label="from a liaison"):
        persona = data.draw(st.sampled_from([p for p in PERSONAS if p.role is Role.OPD]), label="liaison")
    file_kind = data.draw(st.sampled_from(["pdf", "pdf", *sorted(FILE_CONTENTS)]), label="file kind")
    name = data.draw(FILE_NAMES, label="file name")
    caption = data.draw(
        st.one_of(st.none(), st.sampled_from([*ITEM_CODES, "I.99", f"{OPD_CODES[1]} I.01"]), st.text(max_size=60)),
        label="caption",
    )
    return Step(
        persona,
        kind,
        f"[file {file_kind} {name!r}] {caption or ''}",
        file_kind=file_kind,
        file_name=name,
        caption=caption,
    )


# -- the state and its invariants ----------------------------------------------------------------------------

# The state tables, each with the columns that are not state (a reviewer's claim on a version is a lock).
STATE_TABLES: dict[str, tuple[str, ...]] = {
    "campaign": (),
    "campaign_item": (),
    "campaign_opd": (),
    "item_assignment": (),
    "submission_version": ("review_claimed_by_person_id", "review_claimed_until"),
    "submission_review": (),
    "deadline_extension": (),
    "holiday_override": (),
    "meeting": (),
    "meeting_invitee": (),
    "invite": (),
    "role_assignment": (),
    "person": (),
    "opd": (),
}

# Which commands make which change, so the roles allowed come from the command table. "insert", "delete" or the
# changed column; "*": any change of the table.
CHANGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("campaign", "*"): ("kegiatan", "perpanjang"),
    ("campaign_item", "*"): ("kegiatan",),
    ("campaign_opd", "*"): ("kegiatan",),
    ("item_assignment", "*"): ("kegiatan",),
    ("submission_version", "insert"): ("kirim",),
    ("submission_version", "superseded_by_number"): ("kirim",),
    ("submission_version", "*"): ("tinjau", "buka"),
    ("submission_review", "*"): ("tinjau", "buka"),
    ("deadline_extension", "*"): ("perpanjang",),
    ("holiday_override", "*"): ("libur",),
    ("meeting", "*"): ("rapat",),
    ("meeting_invitee", "*"): ("rapat",),
    ("invite", "insert"): ("undang", "serahkan"),
    ("invite", "revoked_at"): ("cabut", "serahkan"),
    ("invite", "*"): ("start", "daftar"),  # redeeming marks it used
    ("role_assignment", "insert"): ("start", "daftar"),
    ("role_assignment", "*"): ("cabut", "serahkan", "start", "daftar"),  # a handover revokes the predecessor
    ("person", "*"): ("start", "daftar"),
    ("opd", "*"): ("opd",),  # the OPD list's buttons deactivate and reactivate one
}

Rows = dict[str, dict[Any, dict[str, Any]]]


def snapshot(reader: sqlite3.Connection) -> tuple[Rows, int, int]:
    """The state tables, the audit count and the outbox count, read straight from the SQLite file.

    A plain `sqlite3` connection beside the bot's (WAL: readers never block it) costs microseconds a query,
    where the bot's async driver costs a thread hop each: the snapshots would be most of the run.
    """
    rows: Rows = {}
    for table, ignored in STATE_TABLES.items():
        cursor = reader.execute(f"SELECT * FROM {table}")  # noqa: S608 - our own table names
        keys = [d[0] for d in cursor.description]
        by_key: dict[Any, dict[str, Any]] = {}
        for row in cursor:
            values = dict(zip(keys, row, strict=True))
            pk = tuple(row) if "id" not in values else values["id"]
            by_key[pk] = {k: v for k, v in values.items() if k not in ignored}
        rows[table] = by_key
    (audits,) = reader.execute("SELECT count(*) FROM audit_entry").fetchone()
    (outbox,) = reader.execute("SELECT count(*) FROM outbox_message").fetchone()
    return rows, audits, outbox


@dataclass(frozen=True)
class Change:
    table: str
    kind: str  # insert, delete, or the changed column
    row: dict[str, Any]


def diff(before: Rows, after: Rows) -> list[Change]:
    changes: list[Change] = []
    for table in STATE_TABLES:
        old, new = before[table], after[table]
        for key in new.keys() - old.keys():
            changes.append(Change(table, "insert", new[key]))
        for key in old.keys() - new.keys():
            changes.append(Change(table, "delete", old[key]))
        for key in old.keys() & new.keys():
            for column, value in new[key].items():
                if old[key][column] != value:
                    changes.append(Change(table, column, new[key]))
    return changes


def roles_for(change: Change) -> frozenset[Role] | None:
    """The roles the command table allows for the commands that make this change; None: everyone."""
    names = CHANGES.get((change.table, change.kind)) or CHANGES.get((change.table, "*"), ())
    held: set[Role] = set()
    for name in names:
        command = find_command(name)
        assert command is not None, name
        if command.roles is EVERYONE:
            return None
        held |= command.roles
    return frozenset(held)


@dataclass
class Checker:
    template: Template
    app: MonevApp
    opd_ids: dict[int, str] = field(default_factory=dict)

    async def load(self) -> None:
        async with self.app.services.db.read() as session:
            self.opd_ids = dict((await session.execute(text("SELECT id, code FROM opd"))).all())

    def leaks(self, persona: Persona, shown: str, sent: str) -> list[str]:
        """What of another OPD this OPD person was shown: codes, names and file names it did not type itself."""
        found = []
        own = self.template.opds[persona.opd_code or ""]
        for code, (name, short) in self.template.opds.items():
            if code == persona.opd_code:
                continue
            for name_ in self.template.file_names[code]:
                if name_ in shown and name_ not in sent:
                    found.append(name_)
            if code.lower() in sent.lower():
                continue  # the person typed it: a refusal may name it back
            if re.search(rf"\b{re.escape(code)}\b", shown):
                found.append(code)
            for words in (name, short):
                if len(words) >= 5 and words in shown and words not in own[0]:
                    found.append(words)
        return found

    def check_changes(self, step: Step, actor: Actor, changes: list[Change], audits_grew: bool) -> list[str]:
        problems = []
        if changes and not audits_grew:
            problems.append(f"state changed without an audit entry: {changes}")
        held = actor.roles
        own_opds = {a.opd_id for a in actor.assignments if a.role in OPD_SCOPED_ROLES}
        staff_upload = bool(held & {Role.ADMIN, Role.KASI})
        redeemed = [c.row for c in changes if c.table == "invite" and c.kind == "used_at"]
        for change in changes:
            allowed = roles_for(change)
            if allowed is not None and not held & allowed:
                problems.append(f"{sorted(r.value for r in held) or 'unregistered'} made {change}")
            if change.table == "submission_version" and change.kind == "insert":
                if not change.row["on_behalf"] and change.row["opd_id"] not in own_opds:
                    problems.append(f"a version for another OPD: {change}")
                if change.row["on_behalf"] and not staff_upload:
                    problems.append(f"a version on behalf by a non-staff sender: {change}")
            if change.table == "role_assignment" and change.kind == "insert":
                backed = any(r["role"] == change.row["role"] and r["opd_id"] == change.row["opd_id"] for r in redeemed)
                if not backed:
                    problems.append(f"a role without a redeemed code: {change}")
        return problems

    async def completeness(self) -> list[str]:
        """`progress` and the overview against the version rows, counted here from the raw rows."""
        problems = []
        async with self.app.services.db.read() as session:
            assigned = (
                await session.execute(
                    text(
                        "SELECT i.campaign_id, a.opd_id, i.id, i.required FROM item_assignment a "
                        "JOIN campaign_item i ON i.id = a.campaign_item_id"
                    )
                )
            ).all()
            versions = (
                await session.execute(
                    text("SELECT campaign_item_id, opd_id, number, review_state FROM submission_version")
                )
            ).all()
            latest: dict[tuple[int, int], tuple[int, str]] = {}
            for item_id, opd_id, number, state in versions:
                if (item_id, opd_id) not in latest or latest[(item_id, opd_id)][0] < number:
                    latest[(item_id, opd_id)] = (number, state)
            expected: dict[tuple[int, int], list[int]] = {}
            for campaign_id, opd_id, item_id, required in assigned:
                figures = expected.setdefault((campaign_id, opd_id), [0, 0, 0])
                if not required:
                    continue
                state = latest.get((item_id, opd_id), (0, "none"))[1]
                figures[0] += 1
                figures[1] += state in ("submitted", "accepted")
                figures[2] += state == "accepted"
            campaign_ids = sorted({c for c, _ in expected})
            for campaign_id in campaign_ids:
                seen = await overview.campaign_overview(session, campaign_id)
                for standing in seen.standings:
                    opd_id = next(i for i, c in self.opd_ids.items() if c == standing.opd_code)
                    got = [standing.required, standing.complete, standing.verified]
                    if got != expected.get((campaign_id, opd_id), [0, 0, 0]):
                        problems.append(f"overview #{campaign_id} {standing.opd_code}: {got} != {expected}")
                for (cid, opd_id), figures in expected.items():
                    if cid != campaign_id:
                        continue
                    scope = await submissions.scope_in(session, self.opd_ids[opd_id], campaign_id, viewing=True)
                    if scope is None:
                        continue  # a draft: not viewable yet
                    state = await submissions.progress(session, scope)
                    got = [state.required, state.complete, state.verified]
                    if got != figures:
                        problems.append(f"progress #{campaign_id} {self.opd_ids[opd_id]}: {got} != {figures}")
        return problems


class Errors(logging.Handler):
    """Every record above INFO: an unhandled exception (the dispatcher logs it before apologising), or a warning."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def error_log() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# -- one sequence ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def fresh_world() -> AsyncIterator[tuple[MonevApp, Template, Clock, Path]]:
    """A copy of the world (database and files) for one sequence, with the app on it."""
    template = await world_template()
    root = Path(tempfile.mkdtemp(prefix="monev-fuzz-"))
    shutil.copyfile(template.database, root / "monev.sqlite3")
    shutil.copytree(template.data_dir, root / "data")
    clock = Clock()
    app = build_app(world_settings(root), clock=clock)
    try:
        yield app, template, clock, root
    finally:
        await app.close()
        shutil.rmtree(root, ignore_errors=True)


async def run_sequence(data: st.DataObject) -> None:
    async with fresh_world() as (app, template, clock, root):
        await _run(app, template, clock, data, root)


async def console_of(app: MonevApp, persona: Persona, out: io.StringIO, clock: Clock) -> ConsoleChannel:
    """The console of one persona, acting as the person is now."""
    async with app.services.db.read() as session:
        actor = await identity.resolve_actor(session, Channel.CONSOLE.value, persona.external_id or "")
    return ConsoleChannel(app.dispatcher, actor, persona.key, out, clock, identity_id=persona.external_id)


async def _run(app: MonevApp, template: Template, clock: Clock, data: st.DataObject, root: Path) -> None:
    checker = Checker(template, app)
    await checker.load()
    outs = {p.key: io.StringIO() for p in PERSONAS}
    consoles = {
        p.key: ConsoleChannel(app.dispatcher, Actor(None, None), p.key, outs[p.key], clock, identity_id=p.external_id)
        for p in PERSONAS
    }
    prefixes = sorted({*app.dispatcher.registry.buttons, actions.PREFIX})
    files_dir = root / "sent"
    files_dir.mkdir()
    with closing(sqlite3.connect(root / "monev.sqlite3", isolation_level=None)) as reader:
        await _steps(app, checker, clock, data, reader, consoles, outs, Seen(), prefixes, files_dir)


async def _steps(
    app: MonevApp,
    checker: Checker,
    clock: Clock,
    data: st.DataObject,
    reader: sqlite3.Connection,
    consoles: dict[str, ConsoleChannel],
    outs: dict[str, io.StringIO],
    seen: Seen,
    prefixes: list[str],
    files_dir: Path,
) -> None:
    template = checker.template
    state, audits, outbox = snapshot(reader)
    with error_log() as errors:
        for number in range(1, STEPS + 1):
            step = draw_step(data, template, seen, prefixes)
            clock.now += timedelta(seconds=data.draw(st.sampled_from([1, 5, 60, 700, 3 * 3600]), label="pause"))
            console = consoles[step.persona.key]
            async with app.services.db.read() as session:
                if step.persona.external_id is not None:
                    actor = await identity.resolve_actor(session, Channel.CONSOLE.value, step.persona.external_id)
                else:
                    actor = await identity.resolve_actor(session, Channel.CONSOLE.value, console.chat_id)
            console.actor = actor
            request = _request(console, step, number, files_dir)
            before_out = len(outs[step.persona.key].getvalue())
            replies = await app.dispatcher.handle(request, clock.now)
            for reply in replies:
                console._print(reply)  # the console's own printing, as `handle_line` does
            await console.show_waiting()
            context = f"step {number} as {step.persona.key} ({step.kind}): {step.line[:300]!r}"
            assert not errors.records, f"{context}: {[r.getMessage() for r in errors.records]}"
            _check_replies(step, replies, context)
            if not replies:
                assert step.kind == "file", f"{context}: no reply"
            _remember(seen, step.persona, replies)

            after, audits_after, _ = snapshot(reader)
            changes = diff(state, after)
            STATS.update(f"{c.table}.{c.kind}" for c in [*changes])
            STATS.update(f"reply:{r.text[:50]}" for r in replies)
            problems = checker.check_changes(step, actor, changes, audits_after > audits)
            assert not problems, f"{context}: {problems}"
            # The scheduler's job for quiet uploads, acting for each batch's sender.
            await upload_batches.run(clock.now, app.services)
            job_state, job_audits, outbox_after = snapshot(reader)
            job_changes = diff(after, job_state)
            assert not errors.records, f"{context} (upload job): {[r.getMessage() for r in errors.records]}"
            assert not job_changes or job_audits > audits_after, f"{context}: the job changed {job_changes} unaudited"
            for change in job_changes:
                assert change.table == "submission_version", f"{context}: the upload job changed {change}"
            # The waiting messages of the OPD people (a review, a receipt) are checked as they would read them.
            for persona in PERSONAS:
                if persona.role in OPD_SCOPED_ROLES and outbox_after > outbox:
                    await consoles[persona.key].show_waiting()
            for persona in PERSONAS:
                if persona.role in OPD_SCOPED_ROLES:
                    shown = outs[persona.key].getvalue()
                    start = before_out if persona is step.persona else 0
                    leaked = checker.leaks(persona, shown[start:], step.line if persona is step.persona else "")
                    assert not leaked, f"{context}: {persona.key} was shown {leaked}"
                    outs[persona.key].seek(0)
                    outs[persona.key].truncate()
                    if persona is step.persona:
                        before_out = 0
            if any(c.table == "submission_version" for c in [*changes, *job_changes]) or number == STEPS:
                problems = await checker.completeness()
                assert not problems, f"{context}: {problems}"
            state, audits, outbox = job_state, job_audits, outbox_after


def _request(console: ConsoleChannel, step: Step, number: int, files_dir: Path) -> Request:
    received = console.clock()
    if step.payload is not None:
        return console._request_of({"payload": step.payload}, received_at=received, message_id=str(number))
    if step.kind != "file":
        return console._request_of({"text": step.line}, received_at=received, message_id=str(number))
    path = files_dir / f"{number}.bin"
    path.write_bytes(FILE_CONTENTS[step.file_kind or "pdf"])
    request = console._request_of(
        {"file": str(path), "size": path.stat().st_size, "caption": step.caption},
        received_at=received,
        message_id=str(number),
    )
    # The name as a chat app would send it (the console can only send a path's own name).
    (attachment,) = request.attachments
    return replace(request, attachments=(replace(attachment, file_name=step.file_name),))


def _check_replies(step: Step, replies: list[Reply], context: str) -> None:
    for reply in replies:
        words = " ".join([reply.text, *(b.label for row in reply.buttons for b in row)])
        assert "Maaf, terjadi kesalahan di sistem" not in words, f"{context}: apologised"
        sent = step.line
        technical = [m for m in TECHNICAL.findall(words) if m not in sent]
        assert not technical, f"{context}: technical text {technical} in {reply.text[:500]!r}"
        assert reply.text.strip(), f"{context}: an empty reply"


def _remember(seen: Seen, persona: Persona, replies: list[Reply]) -> None:
    for reply in replies:
        for row in reply.buttons:
            for button in row:
                if (button.payload, persona.key) not in seen.payloads:
                    seen.payloads.append((button.payload, persona.key))
        seen.codes.extend(code for code in INVITE_CODE.findall(reply.text) if code not in seen.codes)


if os.environ.get("MONEV_FUZZ_STATS"):
    atexit.register(lambda: print("\n".join(f"{n:5} {k!r}" for k, n in STATS.most_common(400))))

# -- the tests: four seeds, so xdist spreads them ---------------------------------------------------------------


def fuzz_settings() -> Any:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=False,
        database=None,
        # Shrinking a 30-step sequence takes minutes; MONEV_FUZZ_SHRINK=0 reports the first failure as drawn.
        phases=[Phase.explicit, Phase.reuse, Phase.generate]
        + ([Phase.shrink] if os.environ.get("MONEV_FUZZ_SHRINK", "1") != "0" else []),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.timeout(900)
@seed(2301)
@fuzz_settings()
@given(data=st.data())
async def test_fuzz_conversation_seed_1(data: st.DataObject) -> None:
    await run_sequence(data)


@pytest.mark.timeout(900)
@seed(2302)
@fuzz_settings()
@given(data=st.data())
async def test_fuzz_conversation_seed_2(data: st.DataObject) -> None:
    await run_sequence(data)


@pytest.mark.timeout(900)
@seed(2303)
@fuzz_settings()
@given(data=st.data())
async def test_fuzz_conversation_seed_3(data: st.DataObject) -> None:
    await run_sequence(data)


@pytest.mark.timeout(900)
@seed(2304)
@fuzz_settings()
@given(data=st.data())
async def test_fuzz_conversation_seed_4(data: st.DataObject) -> None:
    await run_sequence(data)


# -- what the fuzzer found, each pinned by a test of its own ----------------------------------------------------


async def test_item_shows_a_liaison_only_its_own_opd() -> None:
    """`/item I.03` from the liaison of an OPD not asked for it listed the OPDs that are; `/item I.01` listed
    every other OPD asked for it. A liaison reads only the items asked of their OPD, and only their OPD."""
    liaison = next(p for p in PERSONAS if p.key == "opdb")
    out = io.StringIO()
    async with fresh_world() as (app, _, clock, _root):
        console = await console_of(app, liaison, out, clock)
        await console.handle_line("/item I.03")
        await console.handle_line("/item I.01")
    shown = out.getvalue()
    others = [code for code in OPD_CODES if code != liaison.opd_code]
    assert not [code for code in others if code in shown], shown
    assert "Item I.03 tidak ditemukan" in shown, shown
    assert f"Diminta dari: {liaison.opd_code}" in shown, shown
