"""An immutable picture of the index, built on the indexer thread and read by the UI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentree.core.budgets import BudgetUse
from tokentree.core.index import FileHealth
from tokentree.core.live import Recent
from tokentree.core.served import ServedTree
from tokentree.core.tree import Node


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The tree and what the status line and info panel need; never changed once posted.

    The tree's nodes are plain dataclasses: nobody mutates them after the
    indexer hands them over, so the UI and info workers may read them freely.
    """

    tree: Node
    generation: int
    complete: bool  # False while a long first index is still being read
    files: int
    rate_limits: tuple[Mapping[str, Any], ...] = ()  # oldest first: see live.limits_at
    budgets: tuple[BudgetUse, ...] = ()  # the config's budgets in their current periods
    health: FileHealth = FileHealth()  # lines skipped, logs removed
    notices: tuple[str, ...] = ()
    recent: Recent = Recent()  # the last two days' calls, for the live line
    served: ServedTree | None = None  # what `tree` was served from: its activity and splits
