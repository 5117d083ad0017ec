"""The recap's picture: kelengkapan and terverifikasi per OPD as horizontal bars, sized for a phone screen.

Drawn with matplotlib's Agg backend (no display, no global pyplot state: one `Figure` per call, so two threads
may draw at once). It is CPU work of a second or so for hundreds of OPDs: callers run it in a thread
(`asyncio.to_thread`), never on the event loop. The message's text stays complete without it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services.recap import ChartRow

MAX_BARS = 40  # beyond this a phone shows a blur: the furthest behind are drawn, the rest named in a note
WIDTH_INCHES = 7.2
DPI = 150
COMPLETE_COLOUR = "#4C9BE8"
VERIFIED_COLOUR = "#1B7F3B"


def render_chart(title: str, rows: Sequence[ChartRow], *, max_bars: int = MAX_BARS) -> bytes:
    """A PNG of the OPDs furthest behind first (`rows` as the recap sorts them), at most `max_bars` of them."""
    # Imported here, not at the top: matplotlib takes a second or more to import on a loaded machine, and every
    # start of the bot (a restart answers its journal first) would pay for it before any recap is drawn.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    shown = list(rows[:max_bars])
    height = max(4.0, 1.6 + 0.42 * max(len(shown), 1))
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Furthest behind at the top: matplotlib draws the first bar at the bottom, so the rows go in reversed.
    labels = [r.opd_code for r in reversed(shown)]
    positions = range(len(shown))
    axes.barh(
        [p + 0.2 for p in positions],
        [r.complete_percent for r in reversed(shown)],
        height=0.4,
        color=COMPLETE_COLOUR,
        label="Kelengkapan",
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [r.verified_percent for r in reversed(shown)],
        height=0.4,
        color=VERIFIED_COLOUR,
        label="Terverifikasi",
    )
    axes.set_yticks(list(positions), labels, fontsize=13)
    axes.set_xlim(0, 100)
    axes.set_xlabel("persen item wajib", fontsize=13)
    axes.tick_params(axis="x", labelsize=12)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize=12)
    note = f" ({len(shown)} OPD paling tertinggal dari {len(rows)})" if len(rows) > len(shown) else ""
    axes.set_title(f"{title}{note}", fontsize=14, loc="left", wrap=True)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
