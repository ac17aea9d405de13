"""What a node would have cost otherwise: on the cheaper model of each call's family, or at
standard speed instead of a fast tier.

Each call is priced again at its own day's rates, as the index priced it; a call that cannot
be priced the other way keeps its own cost and is counted, so a total is never made up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from tokentree import format as fmt
from tokentree.core.pricing import PriceBook, Pricing
from tokentree.core.records import ApiCall

if TYPE_CHECKING:  # the advice package loads every rule: only its settings' type here
    from tokentree.core.advice.settings import ModelChoice


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The node's calls priced another way, against what they cost."""

    way: str  # "on claude-sonnet-4-5", "at standard speed"
    cost: float
    actual: float
    kept: int = 0  # calls that could not be priced that way: at their own cost

    @property
    def text(self) -> str:
        """ "on claude-sonnet-4-5: $2.10 instead of $9.80"."""
        note = f" ({self.kept:,} calls as they were)" if self.kept else ""
        return f"{self.way}: {fmt.cost(self.cost)} instead of {fmt.cost(self.actual)}{note}"


def what_ifs(
    calls: Sequence[ApiCall], prices: PriceBook, model_choice: ModelChoice
) -> list[WhatIf]:
    """The node's cost on the cheaper model of each call's family (as `model_choice` names
    them) and at standard speed, where either changes anything."""
    priced = [call for call in calls if not call.unpriced]
    found = []
    cheaper = cache(model_choice.cheaper)
    moved = {cheaper(call.model) for call in priced} - {None}
    if moved:
        way = f"on {moved.pop()}" if len(moved) == 1 else "on each family's cheaper model"
        found.append(_priced(way, priced, prices, lambda c: (cheaper(c.model), "")))
    if any(call.speed for call in priced):
        found.append(_priced("at standard speed", priced, prices, lambda c: (c.model, "")))
    return found


def _priced(
    way: str,
    calls: Iterable[ApiCall],
    prices: PriceBook,
    how: Callable[[ApiCall], tuple[str | None, str]],
) -> WhatIf:
    cost = actual = 0.0
    kept = 0
    for call in calls:
        actual += call.cost
        model, speed = how(call)
        if model is None:
            cost += call.cost
            continue
        other, pricing = prices.price_of(
            model, call.source, call.timestamp, speed, call.tokens, call.web_searches
        )
        if pricing is Pricing.UNPRICED:
            kept += 1
            other = call.cost
        cost += other
    return WhatIf(way, cost, actual, kept)
