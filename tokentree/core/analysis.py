"""One tree's activity, advice and overview: the one place the three are composed.

The view's analysis thread and `report --overview` both call `analyse`, so the
two cannot drift apart (which rules see which attribution, which week start the
overview uses).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokentree.core.advice import AdviceReport, AdviceSettings, advise
from tokentree.core.attribution import Attribution
from tokentree.core.overview import build_overview
from tokentree.core.pricing import PriceBook
from tokentree.core.tree import Node


@dataclass(frozen=True, eq=False)
class Analysis:
    """A tree's activity per node, its advice and its overview; never changed once made."""

    tree: Node
    generation: int  # of the snapshot whose tree this is (0 outside the live view)
    attribution: Attribution
    advice: AdviceReport
    overview: dict[str, Any]
    seconds: float = 0.0

    def counterpart(self, path: Sequence[str]) -> Node | None:
        """The node at `path` in the analysed tree (which may be a refresh behind the view)."""
        node: Node | None = self.tree
        for key in path:
            node = node.child(key) if node is not None else None
        return node


def analyse(
    tree: Node,
    prices: PriceBook,
    settings: AdviceSettings,
    week_start: int,
    generation: int = 0,
) -> Analysis:
    """Attribute the tree's activity, advise on it, and sum both up in the overview."""
    started = time.perf_counter()
    attribution = Attribution(tree)
    advice = advise(tree, prices, settings, attribution)
    overview = build_overview(tree, attribution, advice, week_start)
    seconds = time.perf_counter() - started
    return Analysis(tree, generation, attribution, advice, overview, seconds)
