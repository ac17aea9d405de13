"""`tokentree -f FILE`: a saved export in the view, read-only, as `ncdu -f` opens a saved scan.

The app is the usual one with the live parts left out: the saved tree is
posted once where the indexer would post its first, nothing is watched, the
live line stays empty, and grouping and the filter are summed from the saved
rows (core/saved_view.py). Every other key works on it as on a live tree.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tokentree.app.app import TokenTreeApp, run_app
from tokentree.core.live import DEFAULT_THRESHOLDS, Thresholds
from tokentree.core.saved import SavedTree, SavedTreeError, read_saved
from tokentree.core.saved_view import saved_view
from tokentree.core.tree import Grouping, Node
from tokentree.live.events import TreeUpdated
from tokentree.live.snapshot import Snapshot
from tokentree.workspace import Choices, UsageError, Workspace, prepare_workspace


class SavedTreeApp(TokenTreeApp):
    """The view over a saved tree: no indexer, no watcher, nothing written but exports."""

    def __init__(
        self,
        workspace: Workspace,
        saved: SavedTree,
        name: str,
        *,
        clock: Callable[[], float] = time.time,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        grouping: Grouping | None = None,
    ) -> None:
        super().__init__(
            workspace,
            f"read-only: {name}",
            live=False,
            clock=clock,
            thresholds=thresholds,
            grouping=grouping,
        )
        self.saved = saved

    def _index(self) -> None:
        """The saved tree, posted once where the indexer would post its first."""
        self._post_event(TreeUpdated(Snapshot(self.saved.root, 1, True, 0)))

    def _tick(self) -> None:
        """No live line: nothing is being read."""

    def _regroup(self, *, keep_screen_row: bool) -> None:
        view = saved_view(self.saved.root, self.workspace.calendar, self.grouping, self.needle)
        if view.grouping is not self.grouping:
            self.notify(
                f"This saved tree holds no days to group by {self.grouping.value}:"
                " it is shown as saved.",
                severity="warning",
            )
        self._view_ready(view, 1, keep_screen_row)

    def _show_status(self, snapshot: Snapshot) -> None:
        saved = f" · saved {self.saved.generated_at[:16].replace('T', ' ')} UTC"
        self.status.set_status(f"read-only{saved if self.saved.generated_at else ''}", "busy")

    def _node_path(self, chain: list[Node]) -> str:
        """The path in the tree the file was exported from: the saved root's, then below it."""
        return "/".join(filter(None, [self.saved.node_path, super()._node_path(chain)]))


def open_saved(target: str) -> tuple[SavedTree, str]:
    """The saved tree in `target` ('-': stdin, read whole), and what the header calls it;
    raises UsageError (one line) for a file that cannot be read or is not an export."""
    name = "stdin" if target == "-" else target
    try:
        data = sys.stdin.buffer.read() if target == "-" else Path(target).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from error
    try:
        return read_saved(data), name
    except SavedTreeError as error:
        raise UsageError(f"{name}: {error}") from error


def create_saved_app(
    saved: SavedTree,
    name: str,
    choices: Choices,
    env: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    by: str | None = None,
) -> SavedTreeApp:
    """The read-only app over `saved`: days in its export's time zone unless --tz says
    otherwise, and no index opened (one in memory serves the prices)."""
    timezone = choices.timezone or saved.timezone
    only_calendar = Choices(timezone=timezone, week_start=choices.week_start, use_cache=False)
    workspace = prepare_workspace(only_calendar, env)
    return SavedTreeApp(
        workspace,
        saved,
        name,
        clock=clock,
        thresholds=workspace.settings.context_thresholds(),
        grouping=Grouping(by) if by else None,
    )


def run_saved(target: str, choices: Choices, *, by: str | None = None) -> int:
    """`tokentree -f FILE`: read the export, then show it until quit."""
    saved, name = open_saved(target)
    if target == "-":
        _terminal_as_stdin()
    return run_app(create_saved_app(saved, name, choices, by=by))


def _terminal_as_stdin() -> None:
    """Textual reads keys from descriptor 0: once a piped export is read, the terminal takes
    the pipe's place there (as `less` does)."""
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY)
    except OSError as error:
        raise UsageError(
            "-f - read the export from stdin, but the view needs a terminal for its keys"
            " and there is none (no /dev/tty): save the export to a file and give its name"
        ) from error
    os.dup2(terminal, 0)
    os.close(terminal)
