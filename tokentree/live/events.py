"""What the live threads and the watcher report: small, past-tense events carrying immutable data.

They are plain dataclasses, so the live package needs no Textual; the app wraps
each in one message (`app.messages.Posted`). `newest_only` marks the events
that carry the whole picture: a newer one waiting in the queue replaces an
older one rather than being handled after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from tokentree.core.analysis import Analysis
    from tokentree.live.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class IndexProgressed:
    """Bytes read so far in the current refresh."""

    newest_only: ClassVar[bool] = True
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class TreeUpdated:
    """A new tree to show (partial while `snapshot.complete` is False)."""

    newest_only: ClassVar[bool] = True
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class TreeAnalysed:
    """Activity, advice and the overview of a tree the view has shown (or an older one)."""

    newest_only: ClassVar[bool] = True
    analysis: Analysis


@dataclass(frozen=True, slots=True)
class AnalysisFailed:
    """Attributing or advising on a tree raised; the last analysis stays on screen."""

    newest_only: ClassVar[bool] = False
    error: str


@dataclass(frozen=True, slots=True)
class IndexFailed:
    """A refresh stopped with an error; the last snapshot stays on screen."""

    newest_only: ClassVar[bool] = False
    error: str


@dataclass(frozen=True, slots=True)
class WatchChanged:
    """How the logs are followed changed: `live`, or `polling` (and why, in `note`)."""

    newest_only: ClassVar[bool] = True
    state: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class WatchFailed:
    """The system cannot watch the logs (`reason`); the watcher polls instead."""

    newest_only: ClassVar[bool] = False
    reason: str


@dataclass(frozen=True, slots=True)
class LedgerFailed:
    """This machine's ledger could not be written into the shared folder (ledger_timer.py)."""

    newest_only: ClassVar[bool] = False
    error: str


Event = (
    IndexProgressed
    | TreeUpdated
    | TreeAnalysed
    | AnalysisFailed
    | IndexFailed
    | WatchChanged
    | WatchFailed
    | LedgerFailed
)
