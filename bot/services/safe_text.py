"""Text people type (names, titles, notes, file names), made safe to show to others.

Bidirectional controls can make `laporan<RLO>fdp.exe` read "laporanexe.pdf"; zero-width characters make two
different names look alike; control characters break one-line layouts (and, on a terminal, can move the cursor or
change colours). Every service that stores a person-supplied text for display passes it through `display_text`.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates, and the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)] + ["\u061c"]
)
# Zero-width space, joiner and non-joiner, the left-to-right and right-to-left marks, the word joiner and the
# invisible operators, the Mongolian vowel separator, and the byte-order mark (a zero-width no-break space).
ZERO_WIDTH = frozenset(
    [chr(c) for c in range(0x200B, 0x2010)] + [chr(c) for c in range(0x2060, 0x2065)] + ["\u180e", "\ufeff"]
)
INVISIBLE = BIDI_CONTROLS | ZERO_WIDTH
# Line and paragraph separators end a line like a newline does.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def without_invisible(text: str) -> str:
    """`text` without bidi controls and zero-width characters (for checks that refuse control characters)."""
    return "".join(char for char in text if char not in INVISIBLE)


def display_text(text: str, *, multiline: bool = False) -> str:
    """`text` without bidi controls, zero-width characters and control characters.

    Line breaks become spaces, unless `multiline` (then every kind of line break becomes "\\n"); a tab becomes a
    space; other control characters are dropped. Leading and trailing white space is left to the caller.
    """
    text = text.replace("\r\n", "\n")
    kept: list[str] = []
    for char in text:
        if char in INVISIBLE:
            continue
        if char in _LINE_BREAKS:
            kept.append("\n" if multiline else " ")
        elif char == "\t":
            kept.append(" ")
        elif unicodedata.category(char) != "Cc":
            kept.append(char)
    return "".join(kept)


def has_control_characters(text: str) -> bool:
    """Whether a text meant as one line holds a line break or another control character (the CLI refuses these)."""
    return any(char in _LINE_BREAKS or unicodedata.category(char) == "Cc" for char in text)
