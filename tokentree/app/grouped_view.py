"""The view's tree: the snapshot's grouped (`b`) and filtered (`/`) as asked; at once when it
is the served tree or its days grouped again, else summed by the index off the UI thread."""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from tokentree.app.messages import ViewBuilt
from tokentree.app.screens.overview import OverviewScreen
from tokentree.core.attribution import Attribution
from tokentree.core.grouping import GROUP_KIND, ViewTree, view_tree
from tokentree.core.tree import Grouping, Node


class GroupedView:
    """TokenTreeApp's view tree, made again for each snapshot, grouping and filter (a part of
    the app: its state is the app's, set in TokenTreeApp.__init__)."""

    def _regroup(self, *, keep_screen_row: bool) -> None:
        """The view of the snapshot as grouped and filtered now: at once when it is the served
        tree itself or its days grouped again; else summed by the index, off the UI thread."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        served = snapshot.served
        at_once = self.grouping not in GROUP_KIND and not self.needle
        if served is None or (at_once and self.workspace.machine is None):  # machines: counted
            if served is None:
                shown = ViewTree(snapshot.tree, {}, self.workspace.calendar)
            else:
                shown = view_tree(served, self.grouping, machine=self.workspace.machine)
            self._view_ready(shown, snapshot.generation, keep_screen_row)
            return
        self.status.set_status(f"{self._view_doing()}…", "busy")
        self._build_view(snapshot.generation, keep_screen_row)

    def _view_doing(self) -> str:
        doing = [f"grouping by {self.grouping.value}"] if self.grouping in GROUP_KIND else []
        doing += [f"filtering “{self.needle}”"] if self.needle else []
        return " and ".join(doing) or "counting machines"

    @work(thread=True, exclusive=True, exit_on_error=False, group="view")
    def _build_view(self, generation: int, keep_screen_row: bool) -> None:
        snapshot, grouping, needle = self.snapshot, self.grouping, self.needle
        assert snapshot is not None and snapshot.served is not None
        shown = view_tree(snapshot.served, grouping, needle, self.workspace.machine)
        if not get_current_worker().is_cancelled:
            self.post_message(ViewBuilt(shown, generation, keep_screen_row))

    def on_view_built(self, message: ViewBuilt) -> None:
        view = message.view
        if (view.grouping, view.needle) == (self.grouping, self.needle):  # not a stale one
            self._view_ready(view, message.generation, message.keep_screen_row)
            if self.snapshot is not None and self.snapshot.complete:
                self._show_status(self.snapshot)

    def _view_ready(self, view: ViewTree, generation: int, keep_screen_row: bool) -> None:
        self.view = view
        self._views += 1
        self.attribution = Attribution(view.root, view.activity)
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen):
                screen.follow(view)
        current = self.table.current
        self._show(select=current.key if current else None, keep_screen_row=keep_screen_row)

    def action_cycle_grouping(self) -> None:
        """b: the top level by week, month, day, project, model, source, machine (with other
        machines' ledgers in the view), and around."""
        alone = self.workspace.machine is None
        self.grouping = self.grouping.next(skipped=(Grouping.MACHINE,) if alone else ())
        self.path = ()
        self._regroup(keep_screen_row=False)
        self._remember()

    def _advice_path(self, chain: list[Node]) -> str | None:
        """Where the advice about the chain's last node is kept; None where none applies."""
        return self.view.advice_path(chain) if self.view is not None else None
