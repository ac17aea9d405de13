"""`e`: choose where the subtree's JSON goes; an existing file is replaced only when confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from tokentree.app.screens.panel import PanelScreen


@dataclass(frozen=True)
class ExportRequest:
    target: str
    overwrite: bool


class ExportScreen(PanelScreen[ExportRequest | None]):
    """Enter (or Export) confirms; a second Enter confirms replacing an existing file."""

    DEFAULT_CSS = """
    ExportScreen > .panel { width: 76; }
    ExportScreen #summary { color: $text-muted; margin-bottom: 1; width: 100%; }
    ExportScreen Input { margin-bottom: 0; }
    ExportScreen #warning { color: $text-warning; height: auto; width: 100%; }
    ExportScreen Horizontal { height: auto; align-horizontal: center; margin-top: 1; }
    ExportScreen Button { margin: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, summary: str, default_target: str) -> None:
        super().__init__()
        self.summary = summary
        self.default_target = default_target
        self.confirmed: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel") as box:
            box.border_title = "Export this subtree"
            yield Label(self.summary, id="summary")
            yield Input(self.default_target, id="target", placeholder="file name")
            yield Label("", id="warning")
            with Horizontal():
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")

    @property
    def target(self) -> str:
        return self.query_one("#target", Input).value.strip()

    @on(Input.Changed, "#target")
    def _forget_confirmation(self) -> None:
        self.confirmed = None
        self.query_one("#warning", Label).update("")
        self.query_one("#export", Button).label = "Export"

    @on(Input.Submitted, "#target")
    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        target = self.target
        warning = self.query_one("#warning", Label)
        if not target or target == "-":
            warning.update("Give a file name.")
            return
        path = Path(target).expanduser()
        if path.is_dir():
            warning.update(f"{target} is a folder; name a file in it.")
            return
        if path.exists() and self.confirmed != target:
            self.confirmed = target
            warning.update(f"{target} exists. Enter again to replace it, Esc to cancel.")
            self.query_one("#export", Button).label = "Replace"
            return
        self.dismiss(ExportRequest(target, overwrite=self.confirmed == target))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
