"""The index thread on its own: partial trees during a long read, a prompt stop, errors posted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from tokentree.config import Settings
from tokentree.core.index import FileHealth, UpdateStats
from tokentree.core.live import Recent
from tokentree.core.tree import Kind, Node
from tokentree.live import indexer as indexer_module
from tokentree.live.events import IndexFailed, IndexProgressed, TreeUpdated
from tokentree.live.indexer import Indexer


@dataclass
class FakeIndex:
    closed: bool = False

    def rate_limits(self, scope: object) -> tuple[()]:
        return ()

    def health(self, scope: object) -> FileHealth:
        return FileHealth()

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeWorkspace:
    """Reads `batches` batches of 10 MB, or forever; fails when told to."""

    batches: int = 3
    fail: bool = False
    index: FakeIndex = field(default_factory=FakeIndex)
    scope: object = None
    notices: list[str] = field(default_factory=list)
    files_in_scope: int = 7
    settings: Settings = field(default_factory=Settings)
    calendar: object = None
    stored: int = 0
    now: float = 0.0  # a fake clock: a batch takes a second to read, a tree one to build
    refreshed: int = 0  # refreshes begun

    def refresh(self, progress, *, batch_bytes, on_batch) -> UpdateStats:
        self.refreshed += 1
        if self.fail:
            raise OSError("disk on fire")
        total = self.batches * 10
        step = 0
        while self.batches < 0 or step < self.batches:
            step += 1
            self.now += 1
            progress(min(step * 10, total), total)
            self.stored += 1
            on_batch()
            time.sleep(0.001)
        return UpdateStats(files_read=1)

    def tree(self) -> Node:
        self.now += 1
        root = Node(Kind.ALL, "", "All time", 0.0, 0.0)
        root.totals.calls = self.stored
        return root


@dataclass
class FakeTrees:
    """Stands in for LiveTree: every build asks the fake workspace for a whole tree."""

    workspace: FakeWorkspace
    tree: Node | None = None
    recent: Recent = field(default_factory=Recent)

    @property
    def served(self) -> SimpleNamespace | None:
        return None if self.tree is None else SimpleNamespace(root=self.tree)

    def build(self) -> Node:
        self.tree = self.workspace.tree()
        return self.tree

    def update(self) -> bool:
        self.build()
        return True


def indexer_for(workspace: FakeWorkspace, posted: list[object], **options) -> Indexer:
    return Indexer(workspace, posted.append, trees=FakeTrees(workspace), **options)  # type: ignore[arg-type]


def test_a_long_read_posts_partial_trees_then_a_complete_one() -> None:
    posted: list[object] = []
    workspace = FakeWorkspace(batches=5)
    indexer = indexer_for(workspace, posted, clock=lambda: workspace.now)
    indexer.run(live=False)
    trees = [m.snapshot for m in posted if isinstance(m, TreeUpdated)]
    assert [t.complete for t in trees] == [False, False, True]
    # batch 1 builds (t=1→2), 2 waits until t=4, 3 builds, 4 waits, 5 is the last: the final tree
    assert [t.tree.totals.calls for t in trees] == [1, 3, 5]
    assert [t.generation for t in trees] == [1, 2, 3] and trees[-1].files == 7
    assert [m.done for m in posted if isinstance(m, IndexProgressed)][-1] == 50
    assert indexer.workspace.index.closed


def test_stop_ends_an_endless_read_promptly() -> None:
    posted: list[object] = []
    workspace = FakeWorkspace(batches=-1)
    indexer = indexer_for(workspace, posted)
    thread = threading.Thread(target=indexer.run)
    thread.start()
    time.sleep(0.05)
    indexer.stop()
    thread.join(timeout=2)
    assert not thread.is_alive() and workspace.index.closed
    assert not any(isinstance(m, IndexFailed) for m in posted)


def test_a_failed_read_is_posted_not_raised() -> None:
    posted: list[object] = []
    indexer_for(FakeWorkspace(fail=True), posted).run(live=False)
    [failure] = posted
    assert isinstance(failure, IndexFailed) and "disk on fire" in failure.error


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the indexer did not get there"
        time.sleep(0.01)


def _shown(posted: list[object]) -> list[str]:
    """What the view was told, in order: a complete tree, or a failure."""
    return [
        "failed" if isinstance(m, IndexFailed) else "tree"
        for m in posted
        if isinstance(m, IndexFailed) or (isinstance(m, TreeUpdated) and m.snapshot.complete)
    ]


def test_a_failing_live_refresh_is_posted_once_and_the_next_change_tries_again() -> None:
    """A live refresh that fails (a killed reader, a full disk) is shown once, however often
    it fails; the view goes on following the logs, and the first refresh that works again
    posts a tree (which clears the error)."""
    posted: list[object] = []
    workspace = FakeWorkspace(batches=1)
    indexer = indexer_for(workspace, posted)
    thread = threading.Thread(target=indexer.run)
    thread.start()
    try:
        _wait_until(lambda: indexer.refreshes == 1)
        workspace.fail = True
        for attempts in (2, 3):
            indexer.mark_dirty()
            _wait_until(lambda n=attempts: workspace.refreshed == n and not indexer.reading)
        workspace.fail = False
        indexer.mark_dirty()
        _wait_until(lambda: indexer.refreshes == 2)
    finally:
        indexer.stop()
        thread.join(timeout=5)
    assert _shown(posted) == ["tree", "failed", "tree"]
    assert not thread.is_alive() and workspace.index.closed


def test_a_failed_first_refresh_is_tried_again_until_a_tree_is_shown(monkeypatch) -> None:
    """Before the first tree no watcher reports changes: the first refresh is tried again
    on a timer (what a killed build stored stays), its error shown once."""
    monkeypatch.setattr(indexer_module, "FIRST_RETRY", 0.02)
    posted: list[object] = []
    workspace = FakeWorkspace(batches=1, fail=True)
    indexer = indexer_for(workspace, posted)
    thread = threading.Thread(target=indexer.run)
    thread.start()
    try:
        _wait_until(lambda: workspace.refreshed >= 3)
        workspace.fail = False
        _wait_until(lambda: indexer.refreshes == 1)
    finally:
        indexer.stop()
        thread.join(timeout=5)
    assert _shown(posted) == ["failed", "tree"]
