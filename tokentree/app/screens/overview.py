"""`o`: the period at a glance, drawn: calendar heatmap, weekly trend, drivers, quick windows,
scale, the last 30 days (exact and estimated side by side where chat apps were imported) and
the top advice; `r` narrows every part to 90 days, 180 days or a year (scrollable). It is of
the view's calls: a filter's alone (summed off the UI thread), its drivers led by the view's
grouping."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.worker import get_current_worker

from tokentree.app.messages import OverviewBuilt
from tokentree.app.screens.panel import PanelScreen
from tokentree.app.widgets.overview_drawing import OverviewDrawing
from tokentree.core.analysis import view_lead, view_overview
from tokentree.core.grouping import ViewTree
from tokentree.core.overview import RANGES, in_range, next_range, viewed
from tokentree.core.overview_text import PARTS

WAITING = "Analysing the logs… (activity and advice follow the tree)"
SUMMING = "Summing the calls “{}” matches…"


class OverviewScreen(PanelScreen[None]):
    """Closed by any of Esc, o, q; follows the newest analysis (a filtered view's newest tree)
    while it is open, in the range chosen with `r`."""

    DEFAULT_CSS = """
    OverviewScreen > .panel { width: 100%; max-width: 124; }
    OverviewScreen #waiting { color: $muted-text; }
    """
    BINDINGS = [
        Binding("escape,o,q", "close", "close"),
        Binding("r", "cycle_range", "range"),
    ]

    def __init__(
        self, whole: dict[str, Any] | None, view: ViewTree | None = None, week_start: int = 0
    ) -> None:
        super().__init__()
        self.whole = whole  # the newest analysis's overview: every call, with the advice
        self.view = view
        self.week_start = week_start
        self.data: dict[str, Any] | None = None  # what is drawn: the whole's, or the filter's
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
        self.follow(self.view)

    @property
    def needle(self) -> str:
        """The filter whose calls are shown ("": every call)."""
        view = self.view
        return view.needle if view is not None and view.served is not None else ""

    def show(self, whole: dict[str, Any] | None) -> None:
        """A newer analysis arrived: draw it in the same range (not over a filter's calls)."""
        self.whole = whole
        if not self.needle:
            self._show_whole()

    def follow(self, view: ViewTree | None) -> None:
        """The view was made again (a new snapshot): a filter's overview is summed again."""
        self.view = view
        if self.needle and view is not None:
            self._summarise(view)
        else:
            self._show_whole()

    def _show_whole(self) -> None:
        lead = None if self.view is None else view_lead(self.view)
        self.data = None if self.whole is None else viewed(self.whole, "", lead)
        self._draw()

    @work(thread=True, exclusive=True, exit_on_error=False, group="overview")
    def _summarise(self, view: ViewTree) -> None:
        """Sums the filter's calls by day (the index, and each day's parts: a year's worth)."""
        data = view_overview(view, self.week_start)
        if not get_current_worker().is_cancelled:
            self.post_message(OverviewBuilt(view, data))

    def on_overview_built(self, message: OverviewBuilt) -> None:
        if message.view is self.view:  # not one of a view since replaced
            self.data = message.overview
            self._draw()

    def action_cycle_range(self) -> None:
        """90 days → 180 days → 1 year → all → 90 days."""
        self.range = next_range(self.range)
        self._draw()

    def _draw(self) -> None:
        shown = None if self.data is None else in_range(self.data, self.range)
        title = RANGES[self.range][0]
        needle = self.needle
        self.scroller.border_title = (
            "Overview · "
            + ("the whole period" if self.range == "all" else f"last {title}")
            + (f" · /{needle}" if needle else "")
        )
        self.waiting.update(SUMMING.format(needle) if needle else WAITING)
        self.waiting.display = shown is None
        header, *rest = self.parts
        header.show(shown)
        for part in rest:  # a range without usage: the header says so, alone
            part.show(shown if shown and shown["days"] else None)
