"""`split_text`: long replies split below Telegram's limit into parts that are each valid HTML."""

from __future__ import annotations

import functools
import html
import random
import re

import pytest

from bot.conversation.core import MAX_MESSAGE_CHARS, split_text

_TAG = re.compile(r"<(/?)([a-z]+)[^<>]*>")
_PIECE = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);|[\s\S]")


@functools.lru_cache(maxsize=8)  # the whole text is checked once per limit
def styled_characters(part: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each visible character with the tags around it; fails on a broken tag, entity or nesting."""
    open_tags: list[str] = []
    styled: list[tuple[str, tuple[str, ...]]] = []
    for piece in _PIECE.findall(part):
        if piece.startswith("<"):
            tag = _TAG.fullmatch(piece)
            assert tag, f"broken tag {piece!r} in {part!r}"
            closing, name = tag.groups()
            if closing:
                assert open_tags and open_tags[-1] == name, f"</{name}> closes nothing in {part!r}"
                open_tags.pop()
            else:
                open_tags.append(name)
        elif piece == "<" or piece == ">":
            pytest.fail(f"a bare {piece!r} in {part!r}")
        elif piece == "&":
            pytest.fail(f"a cut entity in {part!r}")
        else:
            styled.append((html.unescape(piece), tuple(open_tags)))
    assert open_tags == [], f"{open_tags} left open in {part!r}"
    return tuple(styled)


def assert_valid_split(text: str, parts: list[str], limit: int) -> None:
    """Every part fits and is valid on its own; together they say the same, styled the same.

    Whitespace is left out of the comparison: a cut drops the line break it falls on, and a part with nothing
    visible is not sent (Telegram refuses it).
    """
    assert all(0 < len(part) <= limit for part in parts), [len(p) for p in parts]
    original = [c for c in styled_characters(text) if not c[0].isspace()]
    joined = [c for part in parts for c in styled_characters(part) if not c[0].isspace()]
    assert joined == original


def test_short_text_is_one_part_unchanged() -> None:
    assert split_text("<b>Halo</b> &amp; selamat") == ["<b>Halo</b> &amp; selamat"]


def test_parts_split_at_line_breaks_and_stay_below_telegrams_limit() -> None:
    text = "\n".join(f"<b>{n:03}</b> Dinas &amp; Badan <i>{'x' * 60}</i>" for n in range(200))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert "\n".join(parts) == text  # every cut fell on a line break, and only dropped that line break
    assert_valid_split(text, parts, MAX_MESSAGE_CHARS)


def test_a_cut_never_falls_inside_an_entity() -> None:
    text = "a" * 8 + "&amp;" + "b" * 20
    parts = split_text(text, limit=10)
    assert parts[0] == "a" * 8  # "&amp;" does not fit after it, and is not cut in two
    assert parts[1].startswith("&amp;")
    assert_valid_split(text, parts, 10)


def test_a_cut_never_falls_inside_a_tag() -> None:
    text = "a" * 8 + "<b>tebal</b>" + "b" * 30
    parts = split_text(text, limit=10)
    assert parts[:3] == ["a" * 8, "<b>teb</b>", "<b>al</b>b"]
    assert_valid_split(text, parts, 10)


def test_a_span_cut_in_two_is_closed_and_reopened() -> None:
    text = "<b>" + "tebal " * 10 + "</b>akhir"
    parts = split_text(text, limit=30)
    assert all(p.startswith("<b>") for p in parts[:-1])
    assert all(p.endswith("</b>") for p in parts[:-1])
    assert_valid_split(text, parts, 30)


def test_nested_spans_and_a_code_block_across_lines() -> None:
    text = "Judul\n<code>" + "\n".join(f"baris {n} &lt;isi&gt;" for n in range(30)) + "</code>\n<b><i>akhir</i></b>"
    parts = split_text(text, limit=60)
    assert len(parts) > 3
    assert all(p.count("<code>") == p.count("</code>") for p in parts)
    assert_valid_split(text, parts, 60)


def test_plain_long_lines_are_cut_hard_as_before() -> None:
    assert [len(p) for p in split_text("x" * 2500, limit=1000)] == [1000, 1000, 500]


def _random_reply(rng: random.Random) -> str:
    words = ["Dinas", "Kesehatan", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "I.01", "—", "Pontianak", "😀"]
    pieces: list[str] = []
    for _ in range(rng.randint(5, 60)):
        kind = rng.random()
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        if kind < 0.2:
            pieces.append(f"<b>{text}</b>")
        elif kind < 0.35:
            pieces.append(f"<i>{text} <code>{rng.choice(words)}</code></i>")
        elif kind < 0.45:
            pieces.append(f"<code>{text}\n{text}</code>")
        elif kind < 0.6:
            pieces.append("\n")
        else:
            pieces.append(text + " ")
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(30))
def test_every_cut_point_gives_valid_parts(seed: int) -> None:
    """Property-style: random replies of tags, entities and lines, split at many limits from small to large.

    32 is the smallest limit that always leaves room for one entity inside `<i><code>` with its closing tags.
    """
    rng = random.Random(seed)
    text = _random_reply(rng)
    limits = [*range(32, 200), *range(200, len(text) + 2, 23)]
    for limit in limits:
        assert_valid_split(text, split_text(text, limit=limit), limit)
