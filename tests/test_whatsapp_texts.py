"""WhatsApp's side of the texts: our HTML in WhatsApp formatting, and which messages are commands without a slash."""

from __future__ import annotations

import pytest

from bot.channels.whatsapp.convert import command_of
from bot.channels.whatsapp.format import to_whatsapp


@pytest.mark.parametrize(
    ("html", "whatsapp"),
    [
        ("<b>Tenggat</b>: <i>Jumat</i>", "*Tenggat*: _Jumat_"),
        ("Kode <code>I.13</code>", "Kode ```I.13```"),
        ("<b> Kelengkapan </b>", " *Kelengkapan* "),  # marks hug the text, or WhatsApp shows them as typed
        ("<b>Dinas <i>Kesehatan</i></b>", "*Dinas _Kesehatan_*"),
        ("PK&amp;AI &lt;Diskominfo&gt; &quot;Pontianak&quot; &#39;x&#39;", "PK&AI <Diskominfo> \"Pontianak\" 'x'"),
        ("<b>&lt;b&gt;</b>", "*<b>*"),  # an escaped tag in a name stays text
        ("<b></b>kosong", "kosong"),
    ],
)
def test_html_becomes_whatsapp_formatting(html: str, whatsapp: str) -> None:
    assert to_whatsapp(html) == whatsapp


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/status", ("status", ())),
        ("status", ("status", ())),
        ("Status DINKES #2", ("status", ("DINKES", "#2"))),
        ("daftar K7QM2X9D", ("daftar", ("K7QM2X9D",))),
        ("bantuan", ("bantuan", ())),
        ("status berkas saya bagaimana ya?", (None, ())),  # more words than /status takes: free text
        ("daftar ulang besok pagi", (None, ())),
        ("buka DINKES I.13 berkas salah kirim", ("buka", ("DINKES", "I.13", "berkas", "salah", "kirim"))),  # ALASAN
        ("terima kasih", (None, ())),
        ("", (None, ())),
    ],
)
def test_commands_without_the_slash_are_only_a_command_word_and_its_arguments(
    text: str, command: tuple[str | None, tuple[str, ...]]
) -> None:
    assert command_of(text) == command
