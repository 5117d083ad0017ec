"""Templates: Bahasa Indonesia dates, escaping of untrusted values, and the strict renderer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jinja2
import pytest

from bot.conversation.templating import Renderer, date_in_words, file_size_in_words

WIB = ZoneInfo("Asia/Pontianak")


def test_dates_are_echoed_in_words_in_wib() -> None:
    moment = datetime(2026, 5, 29, 16, 59, tzinfo=UTC)
    assert date_in_words(moment, WIB) == "Jumat, 29 Mei 2026 pukul 23.59 WIB"
    assert date_in_words(datetime(2026, 8, 17, 8, 0, tzinfo=WIB), WIB) == "Senin, 17 Agustus 2026 pukul 08.00 WIB"


def test_file_sizes_in_words() -> None:
    assert file_size_in_words(512) == "512 B"
    assert file_size_in_words(1536) == "1,5 KB"
    assert file_size_in_words(5 * 1024 * 1024) == "5,0 MB"


def test_untrusted_values_are_escaped() -> None:
    renderer = Renderer(WIB)
    text = renderer.render("konsol/berkas_tidak_ada", path="<script>&x</script>.pdf")
    assert "<script>" not in text
    assert "&lt;script&gt;&amp;x&lt;/script&gt;.pdf" in text


def test_missing_values_fail_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        Renderer(WIB).render("umum/perintah_tidak_dikenal")


def test_templates_use_only_the_allowed_tags() -> None:
    renderer = Renderer(WIB)
    allowed = {"b", "i", "code"}
    for name in renderer.names():
        source = (renderer.env.loader.get_source(renderer.env, f"{name}.txt.j2"))[0]  # type: ignore[union-attr]
        tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9-]*)", source))
        assert tags <= allowed, f"{name} uses {tags - allowed}"
        assert not re.search(r"&(?![a-z]+;|#\d+;)", source), f"{name} has a bare &"
