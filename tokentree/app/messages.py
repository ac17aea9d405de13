"""What the indexer thread tells the app: small, past-tense events carrying immutable data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tokentree.app.snapshot import Snapshot
from tokentree.core.breakdown import Breakdown

if TYPE_CHECKING:
    from tokentree.app.analysis import Analysis


@dataclass
class IndexProgressed(Message):
    """Bytes read so far in the current refresh; only the newest one matters."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IndexProgressed)


@dataclass
class TreeUpdated(Message):
    """A new tree to show (partial while `snapshot.complete` is False).

    Each snapshot is the whole picture: when the UI falls behind, a newer one
    waiting in the queue replaces this one rather than being drawn after it.
    """

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TreeUpdated)


@dataclass
class TreeAnalysed(Message):
    """Activity, advice and the overview of a tree the view has shown (or an older one).

    Only the newest matters: one waiting in the queue is replaced by the next.
    """

    analysis: Analysis

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TreeAnalysed)


@dataclass
class AnalysisFailed(Message):
    """Attributing or advising on a tree raised; the last analysis stays on screen."""

    error: str


@dataclass
class IndexFailed(Message):
    """A refresh stopped with an error; the last snapshot stays on screen."""

    error: str


@dataclass
class BreakdownPriced(Message):
    """The per-kind costs of the node at `key` (generation, path) are ready."""

    key: tuple[int, tuple[str, ...]]
    breakdown: Breakdown


@dataclass
class ExportFinished(Message):
    """An export was written (`size` bytes), or not (`error`)."""

    target: str
    size: int
    error: str
