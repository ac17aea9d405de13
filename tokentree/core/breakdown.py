"""Where a node's cost comes from: each token kind at its own rate, per model, per source file.

The index stores one cost per call; the info panel wants the parts, so the
calls below a node are priced again kind by kind with the same price book.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tokentree.core.pricing import PER_MILLION, PriceBook, Rates
from tokentree.core.records import ApiCall
from tokentree.core.tree import Node
from tokentree.core.whatif import WhatIf, what_ifs

if TYPE_CHECKING:  # the advice package loads every rule: only its settings' type here
    from tokentree.core.advice.settings import ModelChoice

TOKEN_KINDS = (
    ("input", "input (uncached)"),
    ("cache_write_5m", "cache write 5m"),
    ("cache_write_1h", "cache write 1h"),
    ("cache_read", "cache read"),
    ("output", "output"),
)


@dataclass(slots=True)
class Breakdown:
    """Per-kind cost, cost per model and the files a node's calls were read from."""

    cost_by_kind: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0.0))
    cost_by_model: Counter[str] = field(default_factory=Counter)
    calls_by_source: Counter[str] = field(default_factory=Counter)
    files: dict[str, bool] = field(default_factory=dict)  # path → removed since indexing
    origins: set[str] = field(default_factory=set)  # where the rates came from
    unpriced_models: set[str] = field(default_factory=set)
    long_context_calls: int = 0
    web_search_cost: float = 0.0  # billed per search, apart from the tokens
    what_if: list[WhatIf] = field(default_factory=list)  # the calls priced other ways


_KINDS = tuple(name for name, _ in TOKEN_KINDS)


def calls_below(node: Node) -> list[ApiCall]:
    return [leaf.call for leaf in node.walk() if leaf.call is not None]


def breakdown(node: Node, prices: PriceBook, model_choice: ModelChoice | None = None) -> Breakdown:
    """Price every call below `node` kind by kind, at the price of its (UTC) day; with
    `model_choice` (each family's cheaper model), the other ways too (whatif.py)."""
    result = Breakdown()
    calls = calls_below(node)
    if model_choice is not None:
        result.what_if = what_ifs(calls, prices, model_choice)
    for call in calls:
        result.calls_by_source[call.source] += 1
        if call.file:
            result.files[call.file] = result.files.get(call.file, False) or call.file_missing
        day = datetime.fromtimestamp(call.timestamp, UTC).date()
        rates = prices.rates(call.model, call.source, day, call.speed)
        if rates is None:
            result.unpriced_models.add(call.model)
            continue
        applied = rates.for_prompt(call.tokens.prompt)
        result.long_context_calls += applied is not rates
        result.origins.add(rates.origin)
        _add_kinds(result, call, applied)
        searches = call.web_searches * rates.web_search
        result.web_search_cost += searches
        result.cost_by_model[call.model] += searches
    return result


def _add_kinds(result: Breakdown, call: ApiCall, rates: Rates) -> None:
    tokens = call.tokens
    total = 0.0
    for name in _KINDS:
        cost = getattr(tokens, name) * getattr(rates, name) / PER_MILLION
        result.cost_by_kind[name] += cost
        total += cost
    result.cost_by_model[call.model] += total
