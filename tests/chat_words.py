"""Words that must never reach a chat: role codes, the local operators' login names, English and technical words.

Texts people read are in Bahasa Indonesia as local government writes it (issue 12, item 15): roles by their names
("Penghubung OPD", not `opd`), the console and CLI operators as "operator server", never `console:root`.
"""

from __future__ import annotations

import re
from typing import Any

# Each pattern with what it catches. `opd)` is a role code in brackets ("Langkah 3 (opd)"); `ELF` the technical
# name of a Linux program; "also called" English left in shipped data ("DPRKP (also called …)").
DENYLIST: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("role code", re.compile(r"(?<!/)\bopd\)")),
    ("console login name", re.compile(r"\bconsole:")),
    ("CLI login name", re.compile(r"\bcli:")),
    ("English", re.compile(r"also called", re.IGNORECASE)),
    ("technical word", re.compile(r"\bELF\b")),
)


def offending(text: str) -> list[str]:
    """What of the denylist `text` contains, as 'kind: match' (empty: the text is clean)."""
    return [f"{kind}: {m.group(0)!r}" for kind, pattern in DENYLIST for m in pattern.finditer(text)]


def chat_texts(messages: list[dict[str, Any]]) -> list[str]:
    """Every text a person reads in these Bot API messages: texts, captions, button labels."""
    texts: list[str] = []
    for message in messages:
        texts.append(str(message.get("text", message.get("caption", ""))))
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            texts.extend(str(button.get("text", "")) for button in row)
    return texts
