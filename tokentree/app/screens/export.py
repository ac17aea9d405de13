"""`e`: choose where the subtree's JSON goes; an existing file is replaced only when confirmed.

The dialog stays up while the file is written, so whatever goes wrong (a bad
name, a file in the way, a full disk) is said in the same place, under the name.
"""

from __future__ import annotations

from collections.abc import Callable
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


class ExportScreen(PanelScreen[None]):
    """Enter (or Export) confirms; a second Enter confirms replacing an existing file.

    `write` starts writing (in a worker); the app then dismisses the dialog or calls `failed`.
    """

    DEFAULT_CSS = """
    ExportScreen > .panel { width: 76; }
    ExportScreen #summary { color: $text-muted; margin-bottom: 1; width: 100%; }
    ExportScreen Input { margin-bottom: 0; }
    ExportScreen #warning { color: $text-warning; height: auto; width: 100%; }
    ExportScreen #warning.error { color: $text-error; text-style: bold; }
    ExportScreen Horizontal { height: auto; align-horizontal: center; margin-top: 1; }
    ExportScreen Button { margin: 0 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self, summary: str, default_target: str, write: Callable[[ExportRequest], object]
    ) -> None:
        super().__init__()
        self.summary = summary
        self.default_target = default_target
        self.write = write
        self.confirmed: str | None = None
        self.writing = False

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

    def _say(self, text: str, *, error: bool = False) -> None:
        warning = self.query_one("#warning", Label)
        warning.update(text)
        warning.set_class(error, "error")

    @on(Input.Changed, "#target")
    def _forget_confirmation(self, event: Input.Changed) -> None:
        event.stop()  # the app's filter bar is an Input too: its handlers are not for this one
        self.confirmed = None
        self._say("")
        self.query_one("#export", Button).label = "Export"

    @on(Input.Submitted, "#target")
    @on(Button.Pressed, "#export")
    def _export(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        if self.writing:
            return
        target = self.target
        if not target or target == "-":
            self._say("Give a file name.", error=True)
            return
        path = Path(target).expanduser()
        if path.is_dir():
            self._say(f"{target} is a folder; name a file in it.", error=True)
            return
        if path.exists() and self.confirmed != target:
            self.confirmed = target
            self._say(f"{target} exists. Enter again to replace it, Esc to cancel.")
            self.query_one("#export", Button).label = "Replace"
            return
        self.writing = True
        self._say(f"Writing {target}…")
        self.write(ExportRequest(target, overwrite=self.confirmed == target))

    def failed(self, error: str) -> None:
        """Writing failed: say why here, and let another name be tried."""
        self.writing = False
        self.confirmed = None
        self.query_one("#export", Button).label = "Export"
        self._say(f"Export failed: {error}", error=True)
        self.query_one("#target", Input).focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
