"""The index thread's work: refresh the index, build trees, post snapshots; never touch widgets.

One thread owns the workspace (its SQLite connection is used by one thread at a
time). It reads the logs in batches, posts a partial tree after a batch when the
last tree was not served too recently, then waits for the file watcher to say a
log changed. Trees are served by the index (core/served.py), so a warm start
over a year posts its first tree in a few queries. A live refresh reads only the
new bytes and serves again only the days from the first change on (tree.py);
trees are posted at most a few times a second, and not at all when nothing
shown changed (a half-written line). `stop()` makes it
return promptly: a check in every progress and batch callback, and the reader
processes of a big first index are ended.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from tokentree.core.budgets import BudgetUse, budget_uses
from tokentree.core.index import BATCH_BYTES, FileHealth
from tokentree.core.pricing import PriceBook
from tokentree.live.events import Event, IndexFailed, IndexProgressed, TreeUpdated
from tokentree.live.snapshot import Snapshot
from tokentree.live.tree import LiveTree
from tokentree.workspace import Workspace

PROGRESS_INTERVAL = 0.1  # seconds between progress messages
LIVE_WAIT = 0.25  # how often the idle loop looks at the stop flag
FIRST_RETRY = 5.0  # seconds before a failed first refresh is tried again (what it stored stays)
MIN_INTERVAL = 0.25  # between two trees: a busy session updates the view four times a second


class Extras(NamedTuple):
    """What a snapshot carries besides the tree; posted again when it changes."""

    health: FileHealth
    limits: tuple[Mapping[str, Any], ...]  # Index.rate_limits
    budgets: tuple[BudgetUse, ...] = ()  # the config's, in their current periods


class Stopped(Exception):
    """Raised inside the index's callbacks to abandon a refresh when the app quits."""


class Indexer:
    """Refreshes the workspace and posts what the UI shows; runs on one worker thread."""

    def __init__(
        self,
        workspace: Workspace,
        post: Callable[[Event], object],
        *,
        batch_bytes: int = BATCH_BYTES,
        clock: Callable[[], float] = time.monotonic,
        trees: LiveTree | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.workspace = workspace
        self.post = post
        self.batch_bytes = batch_bytes
        self.clock = clock
        self.now = now  # the date budgets' periods are found by: the app's (tests pin it)
        self.trees = trees or LiveTree(workspace)
        self.generation = 0
        self.refreshes = 0  # finished refreshes, posted or not
        self.last_refresh = -1.0  # when the last finished one started: it saw what was on disk
        self.reading = False
        self._serving = False  # the tree of a refresh is being served and posted
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._next_progress = 0.0
        self._next_tree = 0.0
        self._read_all = False
        self._warm = False  # the price data is loaded (see _warm_up)
        self._shown: Extras | None = None  # last posted
        self._failure = ""  # the error of the last refresh, if it failed (posted once)
        self._retry_at = 0.0  # when a failed first refresh is tried again
        self._cancelled: Callable[[], bool] = lambda: False

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or self._cancelled()

    def stop(self) -> None:
        """Ask the thread to return; safe to call from any thread, more than once."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._dirty.set()
        if self.reading:
            _end_reader_processes()

    @property
    def busy(self) -> bool:
        """Reading the logs and serving what changed, or about to: a change is waiting."""
        return self.reading or self._serving or self._dirty.is_set()

    def mark_dirty(self) -> None:
        """A log changed on disk: refresh soon (called by the file watcher)."""
        self._dirty.set()

    def run(self, *, live: bool = True, cancelled: Callable[[], bool] | None = None) -> None:
        """The first refresh, then (when live) a refresh after each change until stopped.

        `cancelled` is polled too (the worker's flag), so the thread ends with the app.
        """
        if cancelled is not None:
            self._cancelled = cancelled
        try:
            self._attempt()
            while live and not self.stopped:
                if self._failure and not self.refreshes and self.clock() >= self._retry_at:
                    self._dirty.set()  # no tree yet, so no watcher: try the first one again
                if not self._dirty.wait(LIVE_WAIT) or self.stopped:
                    self._warm_up()
                    continue
                # the watcher reports a burst once it is over; a busy session appends every
                # few seconds: rebuild at most a third of the time
                self._pause(self._next_tree - self.clock())
                self._dirty.clear()
                self._attempt()
        except Stopped:
            pass
        finally:
            self.workspace.index.close()

    def _attempt(self) -> None:
        """One refresh. A failure is shown in the status line, once until a refresh succeeds;
        the last tree stays, and the next change tries again (a killed reader, a full disk:
        the view goes on following the logs once the cause is gone), or, before the first
        tree, FIRST_RETRY seconds later."""
        try:
            self._refresh(first=self.refreshes == 0)
        except Stopped:
            raise
        except Exception as error:
            failure = f"{type(error).__name__}: {error}"
            if not self.stopped and failure != self._failure:
                self.post(IndexFailed(failure))
            self._failure = failure
            self._shown = None  # the next tree is posted, whatever changed: it clears the error
            self._retry_at = self.clock() + FIRST_RETRY
        else:
            self._failure = ""

    def _warm_up(self) -> None:
        """Idle after the first tree: load the price data now, or the first live call of a
        day the index has no rates for would wait for it (0.25 s)."""
        if not self._warm:
            self._warm = True
            PriceBook.preload()

    def _refresh(self, *, first: bool) -> None:
        started = self.clock()
        self.reading = True
        self._read_all = False
        try:
            self.workspace.refresh(
                self._progress, batch_bytes=self.batch_bytes, on_batch=self._batch_stored
            )
        finally:
            self.reading = False
        self._check()
        self._serving = True
        try:
            if first:
                self._post_tree(complete=True)
            else:
                self._post_growth()
        finally:
            self._serving = False
        self.refreshes += 1
        self.last_refresh = started

    def _post_growth(self) -> None:
        """After a live refresh: regrow the changed days, post only if something shown changed."""
        started = self.clock()
        extras = self._extras()
        # this refresh's changes or another instance's, a log that went or came back included
        grew = self.trees.update()
        if grew or extras != self._shown:
            self._post(extras, complete=True, started=started)

    def _pause(self, seconds: float) -> None:
        """Sleep, but wake up to stop (the worker's flag is polled, not signalled)."""
        until = self.clock() + seconds
        while (left := until - self.clock()) > 0:
            self._stop.wait(min(left, LIVE_WAIT))
            self._check()

    def _check(self) -> None:
        if self.stopped:
            raise Stopped

    def _progress(self, done: int, total: int) -> None:
        self._check()
        self._read_all = done >= total
        now = self.clock()
        if now >= self._next_progress or done >= total:
            self._next_progress = now + PROGRESS_INTERVAL
            self.post(IndexProgressed(done, total))

    def _batch_stored(self) -> None:
        """Show partial results, but spend at most about a third of the time building trees."""
        self._check()
        if not self._read_all and self.clock() >= self._next_tree:  # the last batch: see _refresh
            self._post_tree(complete=False)

    def _post_tree(self, *, complete: bool) -> None:
        """Serve everything again (a first index, partial or complete) and post it."""
        started = self.clock()
        self.trees.build()
        self._post(self._extras(), complete=complete, started=started)

    def _extras(self) -> Extras:
        workspace = self.workspace
        index, scope = workspace.index, workspace.scope
        budgets = budget_uses(
            index, scope, workspace.settings.budget, workspace.calendar, self.now()
        )
        return Extras(index.health(scope), index.rate_limits(scope), tuple(budgets))

    def _post(self, extras: Extras, *, complete: bool, started: float) -> None:
        self._check()
        served = self.trees.served
        assert served is not None
        self.generation += 1
        snapshot = Snapshot(
            tree=served.root,
            served=served,
            generation=self.generation,
            complete=complete,
            files=self.workspace.files_in_scope,
            rate_limits=extras.limits,
            health=extras.health,
            budgets=extras.budgets,
            notices=tuple(self.workspace.notices),
            recent=self.trees.recent,
        )
        self._shown = extras
        self.post(TreeUpdated(snapshot))
        finished = self.clock()
        # spend at most a third of the time building trees, and post at most four a second
        self._next_tree = finished + max(2 * (finished - started), MIN_INTERVAL)


def _end_reader_processes() -> None:
    """End the parse processes of a big first index, so quitting does not wait for them.

    The index reads big jobs in forked reader processes, which would read every
    file given them first; they are the only multiprocessing children this
    process has. The refresh then fails with ReadersEnded, which the stopped
    indexer ignores, and the stored batches stay committed.
    """
    for child in multiprocessing.active_children():
        child.terminate()
