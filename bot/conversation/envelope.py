"""The message envelope: a channel-neutral outbox message, rendered by each channel when it goes out.

An envelope names what to say, not how a platform shows it: the message kind, a template of `templates/` with
its parameters (plain JSON values only, so a row can wait in the outbox across a restart and an upgrade),
buttons whose labels are `templates/tombol/` names (or fixed texts), a stored document by its sha256, and the
WhatsApp template key that the kind uses outside the 24-hour window. Because it is rendered at delivery, a queued
message goes out in the wording the templates have when it is sent.

`Envelope.render` gives the neutral `Reply` (text in our small HTML subset, labels as text) that every channel
turns into its platform form in the same function it uses for direct replies: Telegram HTML, console plain text,
WhatsApp (`*bold*`, lists of 10 rows, reply buttons of 20 characters) next.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.conversation.core import Button, OutgoingDocument, Reply
from bot.conversation.templating import Renderer

# A value an envelope may carry: what JSON holds. Views become dicts (see `plain`), times ISO 8601 strings.
JSON = str | int | float | bool | None | list["JSON"] | dict[str, "JSON"]

# The WhatsApp template each kind uses outside the 24-hour window (CONTRACT.md, MONEV_WHATSAPP_TEMPLATES); a kind
# without one of its own uses the generic notice, and its free-form message follows when the person replies.
TEMPLATE_KEYS = {
    "undangan": "undangan",
    "permintaan_data": "undangan",
    "laporan_kirim": "pemberitahuan",
    "hasil_tinjauan": "hasil_tinjauan",
    "rapat": "rapat",
}
DEFAULT_TEMPLATE_KEY = "pemberitahuan"
# A chat's command menu: no text anyone reads, but queued like a message so it is durable, in order with the
# person's other messages, fenced and rate-limited. It names its chat (a menu belongs to one chat, and a purged
# person's chat id is gone from their identities) and the roles held; the channel lists the commands of those
# roles when it delivers (as templates are rendered then); a channel without menus ignores it.
MENU_KIND = "menu"


def plain(value: Any) -> JSON:
    """A template parameter as plain JSON: a frozen view becomes a dict of its fields and properties.

    Enums become their values, dates and times ISO 8601 strings (the `tanggal` and `hari` filters read them),
    decimals strings, tuples lists. Anything else (an ORM row, a function) is refused, so nothing that cannot be
    stored is queued.
    """
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):  # exact, and printed as the Decimal prints (an item's weight)
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in _properties(type(value)):  # e.g. `CampaignDetail.id`, which templates read like a field
            data[name] = plain(getattr(value, name))
        return data
    raise TypeError(f"{type(value).__name__} is not a plain template parameter")


def _properties(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name, member in vars(klass).items() if isinstance(member, property)]


def plain_params(params: Mapping[str, Any]) -> dict[str, JSON]:
    return {name: plain(value) for name, value in params.items()}


@dataclass(frozen=True)
class Label:
    """A button label: a `templates/tombol/` template and its parameters, or a fixed text."""

    template: str | None = None
    params: Mapping[str, JSON] = field(default_factory=dict)
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.template is None) == (self.text is None):
            raise ValueError("a label is a template or a text")

    def render(self, renderer: Renderer) -> str:
        return self.text if self.text is not None else renderer.plain(self.template or "", **self.params)


@dataclass(frozen=True)
class EnvelopeButton:
    """A button of a queued message: its label and the payload the bot reads back."""

    label: Label
    payload: str
    description: str | None = None

    def __post_init__(self) -> None:
        Button("-", self.payload)  # the same payload rule as a reply's button, checked when it is queued

    @classmethod
    def of(cls, button: Button) -> EnvelopeButton:
        """A prepared button (its label already text), e.g. a one-time action button."""
        return cls(Label(text=button.label), button.payload, button.description)


@dataclass(frozen=True)
class Document:
    """A file of the store, sent under its original name; the message's own text is its caption."""

    sha256: str
    file_name: str


@dataclass(frozen=True)
class Envelope:
    """One outbox message, whatever channel will carry it (see the module docstring)."""

    kind: str
    template: str | None
    params: Mapping[str, JSON] = field(default_factory=dict)
    buttons: tuple[tuple[EnvelopeButton, ...], ...] = ()
    document: Document | None = None
    # A fixed text in place of a template: messages queued before the envelope existed (already rendered).
    text: str | None = None
    whatsapp_template: str = ""
    # The WhatsApp template's parameters, when a kind names them; else they are derived from `params`.
    whatsapp_params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.template is None) == (self.text is None):
            raise ValueError("a message is a template or a text")
        if not self.whatsapp_template:
            object.__setattr__(self, "whatsapp_template", TEMPLATE_KEYS.get(self.kind, DEFAULT_TEMPLATE_KEY))

    @classmethod
    def of(
        cls,
        kind: str,
        template: str,
        /,
        *,
        buttons: Sequence[Sequence[EnvelopeButton | Button]] = (),
        document: Document | None = None,
        **params: Any,
    ) -> Envelope:
        """A message from a template and its parameters (views are turned into plain values here)."""
        return cls(kind, template, plain_params(params), _rows(buttons), document)

    @classmethod
    def from_reply(cls, kind: str, reply: Reply, whatsapp_template: str = "") -> Envelope:
        """A message already rendered (an outbox row written before the envelope): sent as it is."""
        document = Document(reply.document.sha256, reply.document.file_name) if reply.document else None
        return cls(kind, None, {}, _rows(reply.buttons), document, reply.text, whatsapp_template)

    @classmethod
    def menu(cls, channel: str, chat_id: str, roles: Sequence[str]) -> Envelope:
        """A chat's command menu: the commands of these roles; no role left means the default menu again."""
        held: list[JSON] = [*sorted(roles)]
        return cls(MENU_KIND, None, {"channel": channel, "chat_id": chat_id, "roles": held}, text="")

    @property
    def chat(self) -> tuple[str, str] | None:
        """The (channel, chat id) a menu is for; other messages go to whichever account of the person fits."""
        channel, chat_id = self.params.get("channel"), self.params.get("chat_id")
        if self.kind != MENU_KIND or not isinstance(channel, str) or not isinstance(chat_id, str):
            return None
        return channel, chat_id

    @property
    def menu_roles(self) -> list[str]:
        """The roles whose commands a menu lists (role values, as the database stores them)."""
        roles = self.params.get("roles") if self.kind == MENU_KIND else None
        return [str(r) for r in roles] if isinstance(roles, list) else []

    def render(self, renderer: Renderer) -> Reply:
        """The neutral reply every channel sends (text in our HTML subset, labels as text): one render per message."""
        text = self.text if self.text is not None else renderer.render(self.template or "", **self.params)
        buttons = tuple(
            tuple(Button(b.label.render(renderer), b.payload, b.description) for b in row) for row in self.buttons
        )
        document = OutgoingDocument(self.document.sha256, self.document.file_name, text) if self.document else None
        return Reply(text, buttons=buttons, document=document)

    def template_parameters(self) -> dict[str, str]:
        """The WhatsApp template's parameters: single-line (WhatsApp forbids newlines in them), lists as counts.

        Named by their path in `params` (`t.title`, `t.items`); the template file lists which ones it uses, in
        order (CONTRACT.md, MONEV_WHATSAPP_TEMPLATES).
        """
        if self.whatsapp_params:
            return {name: single_line(value) for name, value in self.whatsapp_params.items()}
        flat: dict[str, str] = {}
        _flatten(self.params, "", flat)
        return flat

    def to_json(self) -> dict[str, JSON]:
        data: dict[str, JSON] = {"kind": self.kind, "whatsapp": self.whatsapp_template}
        if self.template is not None:
            data["template"] = self.template
            data["params"] = dict(self.params)
        else:
            data["text"] = self.text
            if self.params:  # a menu's chat and roles
                data["params"] = dict(self.params)
        if self.buttons:
            data["buttons"] = [[_button_json(b) for b in row] for row in self.buttons]
        if self.document:
            data["document"] = [self.document.sha256, self.document.file_name]
        if self.whatsapp_params:
            data["whatsapp_params"] = dict(self.whatsapp_params)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Envelope:
        buttons = tuple(tuple(_button_from_json(b) for b in row) for row in data.get("buttons", ()))
        document = Document(*data["document"]) if data.get("document") else None
        return cls(
            str(data["kind"]),
            data.get("template"),
            dict(data.get("params") or {}),
            buttons,
            document,
            data.get("text"),
            str(data.get("whatsapp") or ""),
            dict(data.get("whatsapp_params") or {}),
        )


def _rows(buttons: Sequence[Sequence[EnvelopeButton | Button]]) -> tuple[tuple[EnvelopeButton, ...], ...]:
    return tuple(tuple(b if isinstance(b, EnvelopeButton) else EnvelopeButton.of(b) for b in row) for row in buttons)


def _button_json(button: EnvelopeButton) -> dict[str, JSON]:
    label = button.label
    data: dict[str, JSON] = {"payload": button.payload}
    if label.template is not None:
        data["label"] = label.template
        data["params"] = dict(label.params)
    else:
        data["text"] = label.text
    if button.description is not None:
        data["description"] = button.description
    return data


def _button_from_json(data: Mapping[str, Any]) -> EnvelopeButton:
    if "label" in data:
        label = Label(template=str(data["label"]), params=dict(data.get("params") or {}))
    else:
        label = Label(text=str(data["text"]))
    return EnvelopeButton(label, str(data["payload"]), data.get("description"))


def single_line(value: JSON | Mapping[str, Any]) -> str:
    """One WhatsApp template parameter: whitespace runs (newlines included) become one space; lists a count."""
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if value is None:
        return "-"
    return " ".join(str(value).split()) or "-"


def _flatten(params: Mapping[str, JSON], prefix: str, into: dict[str, str]) -> None:
    for name, value in params.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            _flatten(value, f"{path}.", into)
        else:
            into[path] = single_line(value)
