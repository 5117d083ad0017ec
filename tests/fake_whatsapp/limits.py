"""What the Cloud API refuses in a message, and its throughput caps, so the bot's tests mean something."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import JSON, GraphError, invalid_parameter, known_error

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
CAPTION_MAX = 1024
HEADER_FOOTER_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10
LIST_SECTIONS_MAX = 10
LIST_BUTTON_MAX = 20
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
SENDABLE_TYPES = ("text", "interactive", "document", "image", "template")
# Meta refuses template parameters with a newline or tab, or more than four spaces in a row.
BAD_TEMPLATE_PARAM = re.compile(r"[\n\t]| {5,}")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass(frozen=True)
class Limits:
    """Cloud API throughput: messages per second per business number, and the per-user pair limit.

    Meta allows one message every 6 seconds to the same user, tolerating bursts (about 45 in 6 s).
    """

    messages_per_sec: float = 80
    pair_burst: int = 45
    pair_per_sec: float = 1 / 6


@dataclass(frozen=True)
class TemplateSpec:
    """An approved template: name, language code and its body text with `{{1}}`-style placeholders."""

    name: str
    language: str
    body: str

    @property
    def param_count(self) -> int:
        """How many body parameters a send must carry."""
        return len(set(PLACEHOLDER.findall(self.body)))

    def render(self, params: list[str]) -> str:
        """The body as the user reads it."""
        return PLACEHOLDER.sub(
            lambda m: params[int(m.group(1)) - 1] if int(m.group(1)) <= len(params) else "", self.body
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def check_length(what: str, value: Any, maximum: int, minimum: int = 1) -> None:
    """Refuse a missing, empty or too long text field like the Cloud API does."""
    if not isinstance(value, str) or not minimum <= len(value) <= maximum:
        length = len(value) if isinstance(value, str) else 0
        raise invalid_parameter(f"{what} length invalid ({length}). Min length: {minimum}, Max length: {maximum}")


def required(what: str) -> GraphError:
    """(#100) for a missing parameter."""
    return known_error(100, f"The parameter {what} is required.")


def validate_message(
    body: JSON, media_exists: Callable[[str], bool], templates: dict[tuple[str, str], TemplateSpec]
) -> None:
    """Raise the GraphError the real API answers for a message it would not send."""
    if body.get("messaging_product") != "whatsapp":
        raise required("messaging_product")
    if not body.get("to") and not body.get("recipient"):
        raise required("to")
    kind = body.get("type", "text")
    if kind not in SENDABLE_TYPES:
        raise known_error(100, f'Param type must be one of {{{", ".join(SENDABLE_TYPES)}}} - got "{kind}".')
    content = body.get(kind)
    if not isinstance(content, dict):
        raise required(kind)
    if kind == "text":
        if not _text(content.get("body")):
            raise required("text['body']")
        if len(content["body"]) > TEXT_MAX:
            raise known_error(100, f"Param text['body'] must be at most {TEXT_MAX} characters long.")
    elif kind == "interactive":
        _validate_interactive(content, media_exists)
    elif kind in ("document", "image"):
        _validate_media(kind, content, media_exists)
    else:
        _validate_template(content, templates)


def _validate_interactive(content: JSON, media_exists: Callable[[str], bool]) -> None:
    body = content.get("body")
    if not isinstance(body, dict):
        raise required("interactive['body']")
    check_length("Body text", body.get("text"), INTERACTIVE_BODY_MAX)
    if "footer" in content:
        check_length("Footer text", (content["footer"] or {}).get("text"), HEADER_FOOTER_MAX)
    header = content.get("header")
    if isinstance(header, dict) and header.get("type") == "text":
        check_length("Header text", header.get("text"), HEADER_FOOTER_MAX)
    elif isinstance(header, dict) and header.get("type") in ("document", "image"):
        _validate_media(header["type"], header.get(header["type"]) or {}, media_exists)
    action = content.get("action")
    if not isinstance(action, dict):
        raise required("interactive['action']")
    if content.get("type") == "button":
        _validate_buttons(action.get("buttons"))
    elif content.get("type") == "list":
        _validate_list(action)
    else:
        raise known_error(
            100, f"Param interactive['type'] must be one of {{button, list}} - got {content.get('type')!r}."
        )


def _validate_buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX:
        count = len(buttons) if isinstance(buttons, list) else 0
        raise invalid_parameter(f"Buttons count is invalid ({count}). Min count: 1, Max count: {BUTTONS_MAX}")
    ids, titles = [], []
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) and button.get("type") == "reply" else None
        if not isinstance(reply, dict):
            raise required("interactive['action']['buttons'][]['reply']")
        check_length("Button title", reply.get("title"), BUTTON_TITLE_MAX)
        check_length("Button id", reply.get("id"), BUTTON_ID_MAX)
        ids.append(reply["id"])
        titles.append(reply["title"])
    if len(set(ids)) != len(ids):
        raise invalid_parameter("Duplicate buttons: button ids must be unique")
    if len(set(titles)) != len(titles):
        raise invalid_parameter("Duplicate buttons: button titles must be unique")


def _validate_list(action: JSON) -> None:
    check_length("Button", action.get("button"), LIST_BUTTON_MAX)
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= LIST_SECTIONS_MAX:
        raise invalid_parameter(f"Sections count is invalid. Min count: 1, Max count: {LIST_SECTIONS_MAX}")
    rows = [row for section in sections for row in (section.get("rows") or [])]
    if not 1 <= len(rows) <= LIST_ROWS_MAX:
        raise invalid_parameter(f"Total row count exceed max allowed count: {LIST_ROWS_MAX}")
    for section in sections:
        if len(sections) > 1 or "title" in section:
            check_length("Section title", section.get("title"), SECTION_TITLE_MAX)
    for row in rows:
        check_length("Row id", row.get("id"), ROW_ID_MAX)
        check_length("Row title", row.get("title"), ROW_TITLE_MAX)
        if "description" in row:
            check_length("Row description", row.get("description"), ROW_DESCRIPTION_MAX, minimum=0)
    ids = [row["id"] for row in rows]
    if len(set(ids)) != len(ids):
        raise invalid_parameter("Row ids must be unique")


def _validate_media(kind: str, content: JSON, media_exists: Callable[[str], bool]) -> None:
    if ("id" in content) == ("link" in content):
        raise known_error(100, f"Param {kind} must have exactly one of {kind}['id'] or {kind}['link'].")
    if "id" in content and not media_exists(str(content["id"])):
        raise known_error(100, f"Param {kind}['id'] is not a valid whatsapp business account media attachment ID")
    if "caption" in content:
        check_length("Caption", content["caption"], CAPTION_MAX, minimum=0)


def _validate_template(content: JSON, templates: dict[tuple[str, str], TemplateSpec]) -> None:
    name = _text(content.get("name"))
    language = content.get("language")
    code = _text(language.get("code")) if isinstance(language, dict) else ""
    if not name or not code:
        raise required("template['name'] and template['language']['code']")
    spec = templates.get((name, code))
    if spec is None:
        raise known_error(132001, f"template name ({name}) does not exist in {code}")
    params = template_params(content)
    if len(params) != spec.param_count:
        raise known_error(
            132000,
            f"body: number of localizable_params ({len(params)}) does not match the expected"
            f" number of params ({spec.param_count})",
        )
    for param in params:
        if BAD_TEMPLATE_PARAM.findall(param):
            raise known_error(100, "Param text cannot have new-line/tab characters or more than 4 consecutive spaces")


def template_params(content: JSON) -> list[str]:
    """The body parameters' texts of a template send, in order."""
    params: list[str] = []
    for component in content.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "body":
            for param in component.get("parameters") or []:
                params.append(_text(param.get("text")) if isinstance(param, dict) else "")
    return params
