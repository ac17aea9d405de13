"""The frame every modal panel shares: centred, rounded, titled like the info panel."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

Result = TypeVar("Result")


class PanelScreen(ModalScreen[Result]):
    """A modal screen whose one container (class `panel`) is drawn as a framed box;
    a subclass sets only the box's width and what goes in it."""

    DEFAULT_CSS = """
    PanelScreen { align: center middle; }
    PanelScreen > .panel {
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        border-title-color: $text-accent;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    """

    def action_close(self) -> None:
        self.dismiss(None)
