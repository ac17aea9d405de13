"""`o`: the period at a glance, drawn: calendar heatmap, weekly trend, drivers, quick windows,
scale, the last 30 days and the top advice; `r` narrows every part to 90 days, 180 days or
a year (scrollable)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tokentree.app.screens.panel import PanelScreen
from tokentree.app.widgets.overview_drawing import OverviewDrawing
from tokentree.core.overview import RANGES, in_range, next_range
from tokentree.core.overview_text import PARTS

WAITING = "Analysing the logs… (activity and advice follow the tree)"


class OverviewScreen(PanelScreen[None]):
    """Closed by any of Esc, o, q; follows the newest analysis while it is open, in the range
    chosen with `r`."""

    DEFAULT_CSS = """
    OverviewScreen > .panel { width: 100%; max-width: 124; }
    OverviewScreen #waiting { color: $muted-text; }
    """
    BINDINGS = [
        Binding("escape,o,q", "close", "close"),
        Binding("r", "cycle_range", "range"),
    ]

    def __init__(self, data: dict[str, Any] | None) -> None:
        super().__init__()
        self.data = data
        self.range = "all"
        self.waiting = Static(WAITING, id="waiting")
        self.parts = [  # ids of their own: the app's CSS styles #table, #advice, #info
            OverviewDrawing(title, draw, id=f"overview-{name}") for name, title, draw in PARTS
        ]
        self.parts[0].add_class("-first")
        self.scroller = VerticalScroll(classes="panel")

    def compose(self) -> ComposeResult:
        with self.scroller as scroll:
            scroll.border_subtitle = "r range · T theme · Esc close"
            yield self.waiting
            yield from self.parts

    def on_mount(self) -> None:
        self._draw()

    def show(self, data: dict[str, Any] | None) -> None:
        """A newer analysis arrived: draw it in the same range."""
        self.data = data
        self._draw()

    def action_cycle_range(self) -> None:
        """90 days → 180 days → 1 year → all → 90 days."""
        self.range = next_range(self.range)
        self._draw()

    def _draw(self) -> None:
        shown = None if self.data is None else in_range(self.data, self.range)
        title = RANGES[self.range][0]
        self.scroller.border_title = "Overview · " + (
            "the whole period" if self.range == "all" else f"last {title}"
        )
        self.waiting.display = shown is None
        header, *rest = self.parts
        header.show(shown)
        for part in rest:  # a range without usage: the header says so, alone
            part.show(shown if shown and shown["days"] else None)
