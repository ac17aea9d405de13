"""What a node would have cost otherwise: on the cheaper model of each call's family, or at
standard speed instead of a fast tier.

Each call is priced again at its own day's rates, as the index priced it; a call that cannot
be priced the other way keeps its own cost and is counted, so a total is never made up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from tokentree import format as fmt
from tokentree.core.pricing import PriceBook, Pricing
from tokentree.core.records import ApiCall

if TYPE_CHECKING:  # the advice package loads every rule: only its settings' type here
    from tokentree.core.advice.settings import ModelChoice

STANDARD = "at standard speed"


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

    def as_dict(self) -> dict[str, object]:
        """The export's form: the way, both costs, the saving and the calls kept as they were."""
        return {
            "way": self.way,
            "cost_usd": round(self.cost, 6),
            "actual_usd": round(self.actual, 6),
            "saving_usd": round(self.actual - self.cost, 6),
            "kept_calls": self.kept,
        }


@dataclass(slots=True)
class Repricing:
    """Running sums of priced calls, each also priced the other ways. Sums of parts add up
    (`+=`), so an export prices a session at a time and a year without holding its calls."""

    prices: PriceBook
    cheaper: Callable[[str], str | None]  # each family's cheaper model (ModelChoice.cheaper)
    actual: float = 0.0
    on_cheaper: float = 0.0
    cheaper_kept: int = 0
    moved_to: set[str] = field(default_factory=set)
    at_standard: float = 0.0
    standard_kept: int = 0
    fast_calls: int = 0

    def add(self, calls: Iterable[ApiCall]) -> Repricing:
        for call in calls:
            if call.unpriced:
                continue
            self.actual += call.cost
            model = self.cheaper(call.model)
            if model is None:
                self.on_cheaper += call.cost
            else:
                self.moved_to.add(model)
                cost, kept = self._priced(call, model)
                self.on_cheaper += cost
                self.cheaper_kept += kept
            if call.speed:
                self.fast_calls += 1
                cost, kept = self._priced(call, call.model)
                self.at_standard += cost
                self.standard_kept += kept
            else:
                self.at_standard += call.cost
        return self

    def __iadd__(self, other: Repricing) -> Repricing:
        self.actual += other.actual
        self.on_cheaper += other.on_cheaper
        self.cheaper_kept += other.cheaper_kept
        self.moved_to |= other.moved_to
        self.at_standard += other.at_standard
        self.standard_kept += other.standard_kept
        self.fast_calls += other.fast_calls
        return self

    def results(self) -> list[WhatIf]:
        """On the cheaper models and at standard speed, each where it changes anything."""
        found = []
        if self.moved_to:
            only = next(iter(self.moved_to)) if len(self.moved_to) == 1 else None
            way = f"on {only}" if only else "on each family's cheaper model"
            found.append(WhatIf(way, self.on_cheaper, self.actual, self.cheaper_kept))
        if self.fast_calls:
            found.append(WhatIf(STANDARD, self.at_standard, self.actual, self.standard_kept))
        return found

    def _priced(self, call: ApiCall, model: str) -> tuple[float, int]:
        """The call on `model` at standard speed; its own cost (and 1 kept) where unpriced."""
        cost, pricing = self.prices.price_of(
            model, call.source, call.timestamp, "", call.tokens, call.web_searches
        )
        return (call.cost, 1) if pricing is Pricing.UNPRICED else (cost, 0)


def what_ifs(
    calls: Sequence[ApiCall], prices: PriceBook, model_choice: ModelChoice
) -> list[WhatIf]:
    """The node's cost on the cheaper model of each call's family (as `model_choice` names
    them) and at standard speed, where either changes anything."""
    return Repricing(prices, cache(model_choice.cheaper)).add(calls).results()
