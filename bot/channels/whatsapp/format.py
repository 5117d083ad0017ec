"""Our templates' HTML (<b>, <i>, <code>, entities) in WhatsApp's own formatting: *bold*, _italic_, ```mono```."""

from __future__ import annotations

import html
import re

_MARKS = {"b": "*", "strong": "*", "i": "_", "em": "_", "code": "```", "pre": "```"}
# An innermost span: a tag of ours with no tag inside it (spans are converted inside out).
_SPAN = re.compile(r"<(b|strong|i|em|code|pre)>([^<]*)</\1>")
_ANY_TAG = re.compile(r"<[^<>]*>")


def to_whatsapp(text: str) -> str:
    """Convert one message's HTML; the marks hug the text (WhatsApp ignores `* bold *`), entities are unescaped."""
    previous = None
    while previous != text:
        previous, text = text, _SPAN.sub(_mark, text)
    return html.unescape(_ANY_TAG.sub("", text))


def _mark(match: re.Match[str]) -> str:
    mark, inner = _MARKS[match.group(1)], match.group(2)
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"
