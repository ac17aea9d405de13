"""Keeps the served tree current as the logs grow: the weeks and days again from the first
change on, and the live line's recent calls.

Runs on the indexer thread. The tree is served by the index (core/served.py):
weeks and days from its sums, a day's sessions read when the view opens it,
so a start costs a few queries whatever the history, and the app holds what
is on screen. After a refresh the index's change log tells the earliest call
any instance decided again since the tree was served; only the days from
that one on are served again, the days before are shared with the last tree
(opened ones stay open). A change that may reach everything serves the whole
tree again.
"""

from __future__ import annotations

import math
from dataclasses import replace

from tokentree.core import live
from tokentree.core.index.reader import IndexReader
from tokentree.core.served import ServedTree, served_tree
from tokentree.core.tree import Node
from tokentree.workspace import Workspace


class LiveTree:
    """The served tree of a workspace and the live line's recent calls, refresh by refresh."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.served: ServedTree | None = None
        self.recent = live.Recent()
        self.full_builds = 0  # how many times everything was served (tests, benchmark)
        self._reader: IndexReader | None = None

    @property
    def tree(self) -> Node | None:
        return self.served.root if self.served else None

    def build(self) -> Node:
        """Serve everything from the index (the first tree, and after a change that may reach
        everything); a new connection each time: a damaged index may have been made anew."""
        workspace = self.workspace
        self._reader = workspace.index.reader()
        self.served = served_tree(
            self._reader,
            workspace.scope,
            workspace.calendar,
            workspace.root_label,
            keep=workspace.index.keep_days,
        )
        self._keep_recent()
        self.full_builds += 1
        return self.served.root

    def update(self) -> bool:
        """Bring the tree up to date with what any instance stored since it was served; False
        when nothing in the index changed."""
        if self.served is None:
            self.build()
            return True
        generation, since = self.served.reads.changed(self.workspace.scope, self.served.generation)
        if since is None:
            return False
        if since == -math.inf:
            self.build()
            return True
        self.served = self.served.grown()
        self._keep_recent()
        return True

    def _keep_recent(self) -> None:
        """The calls of the last two days before the newest one, for the live line."""
        assert self.served is not None and self._reader is not None
        scope, newest = self.workspace.scope, self.served.root.end
        if not self.served.root.totals.calls:
            self.recent = live.Recent()
            return
        since = max(newest - live.LOOKBACK, scope.since if scope.since is not None else -math.inf)
        self.recent = live.recent(self._reader.calls(replace(scope, since=since)))
