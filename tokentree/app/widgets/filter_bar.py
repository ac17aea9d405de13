"""`/`: a one-line input that filters the current list as you type."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Enter keeps the filter and returns to the list; Esc clears it."""

    DEFAULT_CSS = """
    FilterBar {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    FilterBar:focus { border: none; }
    """
    BINDINGS = [Binding("escape", "cancel", "clear the filter", show=False)]

    @dataclass
    class Cancelled(Message):
        filter_bar: FilterBar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: part of a label, project, model or tool", id=id)

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self))
