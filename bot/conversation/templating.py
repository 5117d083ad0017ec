"""Rendering of every user-visible text from `templates/**/*.txt.j2` (Bahasa Indonesia)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import markupsafe

import templates
from bot.domain.scoring import shown

TEMPLATES_DIR = Path(templates.__file__).parent

_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_ZONE_NAMES = {
    "Asia/Pontianak": "WIB",
    "Asia/Jakarta": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


def date_in_words(moment: datetime | str, zone: ZoneInfo) -> str:
    """'Jumat, 29 Mei 2026 pukul 23.59 WIB' — how the bot echoes every date back.

    A queued message (bot.conversation.envelope) carries its times as ISO 8601 strings: read them back.
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(zone)
    label = _ZONE_NAMES.get(zone.key, local.tzname() or zone.key)
    return f"{_DAYS[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} {label}"


def time_in_words(moment: datetime | str, zone: ZoneInfo) -> str:
    """'12.00 WIB' — the time of day alone, e.g. when a meeting that starts in words ends."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(zone)
    return f"{local:%H.%M} {_ZONE_NAMES.get(zone.key, local.tzname() or zone.key)}"


def day_in_words(day: date | str) -> str:
    """'Kamis, 24 Desember 2026' — a day without a time (holidays)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def file_size_in_words(size: int) -> str:
    """Human file sizes the Indonesian way: '1,5 MB'."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            text = f"{value:.0f}" if unit == "B" else f"{value:.1f}"
            return f"{text.replace('.', ',')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def percent_in_words(value: Decimal | float | int) -> str:
    """'2,5%', '5%': a weight as people read it, without the database's trailing zeros ('5,000%')."""
    text = format(Decimal(str(value)).normalize(), "f")
    return f"{text.replace('.', ',')}%"


def index_in_words(value: Decimal | str) -> str:
    """'3,75': an index or sub-index to two decimals, rounded down (bot.domain.scoring.shown), with a comma."""
    return format(shown(Decimal(str(value))), "f").replace(".", ",")


# The trusted local operators' persons are named `console:<unix user>` and `cli:<unix user>` for the audit; in a
# chat they are the server's operator, not a login name.
_LOCAL_OPERATOR = re.compile(r"(?:console|cli):[^\s:]+")


def person_in_words(name: str | None) -> str:
    """A person's name as a chat shows it: the console and CLI operators read 'operator server'."""
    if name is None:
        return ""
    return "operator server" if _LOCAL_OPERATOR.fullmatch(name) else name


class _Environment(jinja2.Environment):
    """`x.items` reads the key of a dict before its method: a queued message's views are plain dicts."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


# The marks bot.services.evidence puts around the words a search matched (control characters no text holds).
MARK_START, MARK_END = "\x02", "\x03"


def marked_in_bold(snippet: str) -> markupsafe.Markup:
    """A search snippet: the text escaped, the matched words in <b>."""
    escaped = str(markupsafe.escape(" ".join(snippet.split())))  # the snippet's line breaks read as spaces
    return markupsafe.Markup(escaped.replace(MARK_START, "<b>").replace(MARK_END, "</b>"))


class Renderer:
    """One Jinja2 environment: strict undefined, trimmed blocks, and autoescaping on for every template."""

    def __init__(self, zone: ZoneInfo, directory: Path = TEMPLATES_DIR) -> None:
        self.zone = zone
        # select_autoescape would skip *.txt.j2; our texts go out as Telegram HTML, so escape everything.
        self.env = self._environment(directory, autoescape=True)
        # Button labels and command help are plain text on every channel (Telegram shows a label as typed):
        # escaping would show "&amp;" in a name. Where a plain text goes into a message, that template escapes it.
        self.plain_env = self._environment(directory, autoescape=False)

    def _environment(self, directory: Path, *, autoescape: bool) -> jinja2.Environment:
        env = _Environment(
            loader=jinja2.FileSystemLoader(directory),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=autoescape,
            keep_trailing_newline=False,
        )
        env.filters["tanggal"] = lambda moment: date_in_words(moment, self.zone)
        env.filters["jam"] = lambda moment: time_in_words(moment, self.zone)
        env.filters["ukuran"] = file_size_in_words
        env.filters["hari"] = day_in_words
        env.filters["persen"] = percent_in_words
        env.filters["indeks"] = index_in_words
        env.filters["orang"] = person_in_words
        env.filters["sorot"] = marked_in_bold
        return env

    def render(self, template: str, /, **context: Any) -> str:
        """Render `templates/<name>.txt.j2` to a message text."""
        return self.env.get_template(f"{template}.txt.j2").render(**context).strip()

    def plain(self, template: str, /, **context: Any) -> str:
        """Render a plain-text template (`tombol/…` button labels, `perintah/…` command help): nothing escaped."""
        return self.plain_env.get_template(f"{template}.txt.j2").render(**context).strip()

    def names(self) -> list[str]:
        """Every template name, for tests that render them all."""
        return sorted(n.removesuffix(".txt.j2") for n in self.env.list_templates() if n.endswith(".txt.j2"))
