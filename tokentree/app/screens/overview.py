"""`o`: the whole period at a glance, as `report --overview` prints it (scrollable)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tokentree.app.screens.panel import PanelScreen
from tokentree.core.overview import render_overview

HEADINGS = ("Overview", "Top advice", "Notes", "All advice")


def overview_text(data: dict[str, Any] | None, width: int) -> Text:
    """The overview's lines, headings in bold; a note while the first analysis runs."""
    if data is None:
        return Text("Analysing the logs… (activity and advice follow the tree)", style="dim")
    text = Text()
    for number, line in enumerate(render_overview(data, max(40, width))):
        if number:
            text.append("\n")
        text.append(line, style="bold" if line.startswith(HEADINGS) else "")
    return text


class OverviewScreen(PanelScreen[None]):
    """Closed by any of Esc, o, q; follows the newest analysis while it is open."""

    DEFAULT_CSS = """
    OverviewScreen > .panel { width: 100%; max-width: 124; }
    OverviewScreen Static { width: auto; }
    """
    BINDINGS = [Binding("escape,o,q", "close", "close")]

    def __init__(self, data: dict[str, Any] | None) -> None:
        super().__init__()
        self.data = data
        self.body = Static(id="overview")
        self.scroller = VerticalScroll(classes="panel")

    def compose(self) -> ComposeResult:
        with self.scroller as scroll:
            scroll.border_title = "Overview · the whole period"
            scroll.border_subtitle = "Esc to close"
            yield self.body

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self, _event: events.Resize) -> None:
        self._draw()

    def show(self, data: dict[str, Any] | None) -> None:
        """A newer analysis arrived."""
        self.data = data
        self._draw()

    def _draw(self) -> None:
        # the box's width less its border, padding and scrollbar
        width = min(self.size.width, 124) - 5
        self.body.update(overview_text(self.data, width))
