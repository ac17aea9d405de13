"""The app's messages: the live package's events wrapped for Textual, and the app's own results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from tokentree.core.breakdown import Breakdown
from tokentree.core.grouping import ViewTree
from tokentree.live.events import Event


@dataclass
class Posted(Message):
    """An event of the live package (a thread's report), delivered on the app's loop.

    When the UI falls behind, a newer event of a `newest_only` kind waiting in
    the queue replaces this one rather than being handled after it.
    """

    event: Event

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, Posted)
            and type(message.event) is type(self.event)
            and self.event.newest_only
        )


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


@dataclass
class OverviewBuilt(Message):
    """The overview of `view`'s calls (its filter's), summed off the UI thread (None: the view
    is not served by the index)."""

    view: ViewTree
    overview: dict[str, Any] | None


@dataclass
class ViewBuilt(Message):
    """The snapshot of `generation`, grouped and filtered (by a worker: the index sums it)."""

    view: ViewTree
    generation: int
    keep_screen_row: bool
