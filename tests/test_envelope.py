"""The message envelope: plain parameters, stored and read back, rendered as the views render, and target choice."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import MonevApp
from bot.channels.console import ConsoleChannel
from bot.conversation.core import Actor, Button, OutgoingDocument, Reply
from bot.conversation.envelope import Document, Envelope, EnvelopeButton, Label, plain
from bot.conversation.templating import Renderer
from bot.domain.enums import CampaignState, MeetingState, ReviewDecision, ReviewReason, Role, Rsvp
from bot.messaging.delivery import Identity
from bot.messaging.outbox_dispatch import OutboxDispatcher
from bot.services import lease, outbox
from bot.services.broadcast import BroadcastReport, OpdReach
from bot.services.campaigns import CampaignDetail, CampaignSummary, InvitationTarget, OpdItems
from bot.services.deadlines import Extension
from bot.services.items import ItemSpec
from bot.services.meetings import InviteeView, MeetingView
from bot.services.people import AssignmentView
from bot.services.review import Decision, Digest, DigestLine
from bot.services.submissions import Receipt, ReceiptFile, Scope
from storage.models import ChannelIdentity, OutboxMessage, Person

WIB = ZoneInfo("Asia/Pontianak")
NOW = datetime(2026, 6, 1, 9, 30, tzinfo=WIB)


def detail() -> CampaignDetail:
    spec = ItemSpec("I.01", "Kebijakan internal SPBE", "SK", True, Decimal("1.5"), ("DINKES",), (), None, None, 1)
    return CampaignDetail(
        summary=CampaignSummary(7, "Evaluasi <Mandiri> & SPBE", CampaignState.OPEN, NOW + timedelta(days=30), None),
        created_by=1,
        submitted_by=2,
        signed_by=None,
        items=(spec,),
        opds=(OpdItems("DINKES", "Dinas Kesehatan", ("I.01",)), OpdItems("BPBD", "BPBD", ())),
        events=(),
        draft_letter=("ab" * 32, "draf.pdf"),
        signed_letter=None,
    )


def receipt(late: bool) -> Receipt:
    scope = Scope(7, "Evaluasi", CampaignState.OPEN, NOW, 3, "DINKES", "Dinas Kesehatan & KB")
    files = (ReceiptFile("sk <final>.pdf", 1536, "cd" * 32),)
    return Receipt(scope, "I.01", "Kebijakan", 2, False, late, files, 1, "Budi", True)


def invitation() -> InvitationTarget:
    items = (("I.01", "Kebijakan"), ("I.02", "Rencana\ninduk"))
    return InvitationTarget(5, 3, "DINKES", "Dinas Kesehatan", items, 7, "Evaluasi 2026", NOW, None)


# Every template the outbox queues today, with the views its call site passes.
def decision(kind: ReviewDecision, reason: ReviewReason | None, note: str | None) -> Decision:
    return Decision(
        3,
        "Evaluasi SPBE",
        "DINKES",
        "Dinas Kesehatan",
        "I.01",
        "Kebijakan <SPBE>",
        2,
        kind,
        reason,
        note,
        "Andi Pratama",
        (5,),
    )


def meeting() -> MeetingView:
    invitees = (
        InviteeView(4, "Rina <Tim>", Rsvp.HADIR, None, NOW),
        InviteeView(5, "Budi", Rsvp.DIWAKILKAN, "Siti & Ani", NOW),
        InviteeView(6, "Joko", None, None, None),
    )
    return MeetingView(
        7, 3, "Evaluasi <SPBE> & Pemdi", NOW + timedelta(days=3), 180, "Ruang Rapat Pontive Center",
        "Analisis <data> & paparan", 2, "Andi", MeetingState.SCHEDULED, None, None, invitees,
    )  # fmt: skip


QUEUED = [
    ("kampanye/untuk_kabid", {"c": detail()}),
    ("kampanye/hasil_disposisi", {"c": detail(), "approved": False, "note": "Lengkapi <lampiran> & tanda tangan"}),
    ("kampanye/draf_surat", {"c": detail().summary}),
    ("kampanye/permintaan_data", {"t": invitation()}),
    ("kampanye/undangan_keterangan", {"t": invitation()}),
    (
        "kampanye/laporan_kirim",
        {
            "c": detail(),
            "report": BroadcastReport((OpdReach("DINKES", "Dinas Kesehatan", 2, 1, 1, 0),), ("DISHUB",)),
            "may_invite": False,
        },
    ),
    ("unggah/tanda_terima", {"r": receipt(late=True)}),
    ("unggah/atas_nama", {"r": receipt(late=False)}),
    (
        "orang/pemberitahuan_dicabut",
        {"revoked": (AssignmentView(4, Role.OPD, "DINKES", "Dinas Kesehatan"),), "batal": 1},
    ),
    *[
        ("tinjau/hasil", {"d": decision(kind, reason, note)})
        for kind, reason, note in (
            (ReviewDecision.ACCEPTED, None, None),
            (ReviewDecision.REVISION_REQUESTED, ReviewReason.TIDAK_LENGKAP, "Lampirkan <SK> & tanda tangan"),
            (ReviewDecision.REOPENED, None, "OPD mengganti SK"),
        )
    ],
    ("tinjau/ringkasan", {"d": Digest((DigestLine(3, "Evaluasi <SPBE> & Pemdi", 2, 5),), (4, 5))}),
    *[
        (
            "tenggat/diperpanjang",
            {"e": Extension(3, "Evaluasi <SPBE>", opd, NOW, NOW, "Surat <Kadis> & lampiran", "Andi", (5,))},
        )
        for opd in ("DINKES", None)
    ],
    ("pendaftaran/serah_terima_tanya", {"name": "Ani", "opd_name": "Dinkes", "previous": ["Budi", "Citra"]}),
    ("rapat/undangan", {"m": meeting()}),
    ("rapat/jadwal_diubah", {"m": meeting(), "sebelumnya": NOW}),
    ("rapat/pembatalan", {"m": meeting()}),
    *[
        ("rapat/pengingat", {"m": meeting(), "jenis": kind, "i": meeting().invitees[n]})
        for kind, n in (("hari", 1), ("jam", 2))
    ],
    ("rapat/peralatan", {"m": meeting()}),
]


@pytest.mark.parametrize(("template", "params"), QUEUED, ids=[t for t, _ in QUEUED])
def test_a_stored_message_renders_exactly_as_its_views_rendered_directly(template: str, params: dict[str, Any]) -> None:
    renderer = Renderer(WIB)
    message = Envelope.of("pemberitahuan", template, **params)
    stored = Envelope.from_json(json.loads(json.dumps(message.to_json())))
    assert stored == message
    assert stored.render(renderer).text == renderer.render(template, **params)


def test_views_become_plain_values_with_their_properties_and_nothing_else_is_queued() -> None:
    value = plain(detail())
    assert isinstance(value, dict)
    assert value["id"] == 7 and value["state"] == "open"  # properties, read like fields by the templates
    assert value["summary"] == {
        "id": 7,
        "title": "Evaluasi <Mandiri> & SPBE",
        "state": "open",
        "deadline": "2026-07-01T09:30:00+07:00",
        "framework": None,
    }
    assert value["opds"] == [
        {"code": "DINKES", "name": "Dinas Kesehatan", "items": ["I.01"]},
        {"code": "BPBD", "name": "BPBD", "items": []},
    ]
    assert plain({"day": date(2026, 8, 17), "weight": Decimal("2.50")}) == {"day": "2026-08-17", "weight": "2.50"}
    with pytest.raises(TypeError, match="Person"):
        plain({"p": Person(display_name="x", created_at=NOW)})
    with pytest.raises(TypeError):
        Envelope.of("pemberitahuan", "umum/tidak_dikenal", when=lambda: None)


def test_labels_are_rendered_when_the_message_goes_out_and_payloads_checked_when_it_is_queued() -> None:
    renderer = Renderer(WIB)
    message = Envelope.of(
        "disposisi",
        "kampanye/draf_surat",
        buttons=[[EnvelopeButton(Label("tombol/opd", {"code": "DINKES"}), "kir:1:o:DINKES")], [Button("Batal", "x")]],
        document=Document("ef" * 32, "draf.pdf"),
        c=detail().summary,
    )
    reply = Envelope.from_json(message.to_json()).render(renderer)
    assert reply.buttons == (
        (Button(renderer.plain("tombol/opd", code="DINKES"), "kir:1:o:DINKES"),),
        (Button("Batal", "x"),),
    )
    assert reply.text == "Draf surat: Evaluasi &lt;Mandiri&gt; &amp; SPBE"
    assert reply.document == OutgoingDocument("ef" * 32, "draf.pdf", reply.text)
    with pytest.raises(ValueError, match="64 bytes"):
        EnvelopeButton(Label(text="Terlalu panjang"), "x" * 65)
    with pytest.raises(ValueError):
        Label()


def test_whatsapp_gets_the_kinds_template_key_and_single_line_parameters() -> None:
    invite = Envelope.of("undangan", "kampanye/permintaan_data", t=invitation())
    assert invite.whatsapp_template == "undangan"
    assert Envelope.of("disposisi", "kampanye/untuk_kabid", c=detail()).whatsapp_template == "pemberitahuan"
    flat = invite.template_parameters()
    assert flat["t.title"] == "Evaluasi 2026"
    assert flat["t.items"] == "2"  # a list becomes its count
    assert all("\n" not in value for value in flat.values())
    named = Envelope("undangan", "kampanye/permintaan_data", {}, whatsapp_params={"judul": "Evaluasi\n2026"})
    assert named.template_parameters() == {"judul": "Evaluasi 2026"}


def test_a_reply_rendered_before_the_envelope_goes_out_unchanged() -> None:
    old = Reply("<b>Lama</b>", buttons=((Button("Lihat", "kmp:3"),),), document=OutgoingDocument("aa" * 32, "a.pdf"))
    message = Envelope.from_reply("undangan", old, "undangan")
    assert Envelope.from_json(message.to_json()) == message
    rendered = message.render(Renderer(WIB))
    assert (rendered.text, rendered.buttons) == (old.text, old.buttons)
    assert rendered.document is not None and rendered.document.sha256 == "aa" * 32


class OutsideTheWindow:
    """A stand-in for WhatsApp: it can deliver only the kinds that have a template while the window is closed."""

    def __init__(self, with_template: set[str]) -> None:
        self.with_template = with_template
        self.delivered: list[tuple[str, Identity]] = []

    async def send(self, chat_id: str, reply: Reply) -> None:
        raise AssertionError("the test sends no direct reply")

    async def deliver(self, message: Envelope, identity: Identity) -> None:
        self.delivered.append((message.kind, identity))

    def can_deliver(self, kind: str, identity: Identity, now: datetime) -> bool:
        return kind in self.with_template


async def test_target_choice_takes_the_first_identity_whose_channel_can_deliver_the_kind_now(app: MonevApp) -> None:
    db = app.services.db
    now = app.now()
    async with db.write() as session:
        person = Person(display_name="Ibu Sari", created_at=now)
        session.add(person)
        await session.flush()
        for channel, external_id, last in (("whatsapp", "62811", now), ("console", "sari", now - timedelta(hours=1))):
            session.add(
                ChannelIdentity(
                    person_id=person.id, channel=channel, external_id=external_id, created_at=now, last_inbound_at=last
                )
            )
        for kind in ("undangan", "disposisi"):
            message = Envelope.of(kind, "kampanye/draf_surat", c=detail().summary)
            await outbox.enqueue(session, person_id=person.id, message=message, now=now)
        grant = await lease.hold_lease(session, "test", now, timedelta(seconds=30))
    assert grant is not None
    whatsapp = OutsideTheWindow(with_template={"undangan"})
    out = io.StringIO()
    console = ConsoleChannel(app.dispatcher, Actor(person.id, "Ibu Sari"), "sari", out, app.now)
    dispatcher = OutboxDispatcher(app.services, {"whatsapp": whatsapp, "console": console}, app.now)
    dispatcher.start(grant.fence)
    assert await dispatcher.deliver_due() == 2

    assert [(kind, identity.chat_id) for kind, identity in whatsapp.delivered] == [("undangan", "62811")]
    assert whatsapp.delivered[0][1] == Identity("whatsapp", "62811", person.id, "Ibu Sari", now)
    assert out.getvalue() == "[kepada Ibu Sari]\nDraf surat: Evaluasi <Mandiri> & SPBE\n"
    async with db.read() as session:
        rows = (
            await session.execute(select(OutboxMessage.kind, OutboxMessage.channel).order_by(OutboxMessage.id))
        ).all()
    assert [tuple(r) for r in rows] == [("undangan", "whatsapp"), ("disposisi", "console")]


async def test_a_menu_goes_to_the_chat_it_names_and_nowhere_else(app: MonevApp) -> None:
    db = app.services.db
    now = app.now()
    menu = Envelope.menu("telegram", "4242", ["kabid", "opd"])
    assert Envelope.from_json(menu.to_json()) == menu
    assert (menu.chat, menu.menu_roles) == (("telegram", "4242"), ["kabid", "opd"])
    async with db.write() as session:
        person = Person(display_name="Ibu Sari", created_at=now)
        session.add(person)
        await session.flush()
        # The console account is the most recent: an ordinary message would go there, a menu does not.
        for channel, external_id, last in (("telegram", "4242", now - timedelta(hours=1)), ("console", "sari", now)):
            session.add(
                ChannelIdentity(
                    person_id=person.id, channel=channel, external_id=external_id, created_at=now, last_inbound_at=last
                )
            )
        await outbox.enqueue(session, person_id=person.id, message=menu, now=now)
        grant = await lease.hold_lease(session, "test", now, timedelta(seconds=30))
    assert grant is not None
    telegram = OutsideTheWindow(with_template=set())  # its can_deliver is not asked: the menu names its chat
    out = io.StringIO()
    console = ConsoleChannel(app.dispatcher, Actor(person.id, "Ibu Sari"), "sari", out, app.now)
    dispatcher = OutboxDispatcher(app.services, {"telegram": telegram, "console": console}, app.now)
    dispatcher.start(grant.fence)
    assert await dispatcher.deliver_due() == 1
    assert telegram.delivered == [("menu", Identity("telegram", "4242", person.id, None, None))]
    assert out.getvalue() == ""
