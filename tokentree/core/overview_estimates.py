"""Exact and estimated side by side per day, for the overview.

A chat app imported from its export (`Source.estimated`) has estimated tokens: the overview
keeps each day's estimated calls apart (`estimated` of a day's part) so it can show them
beside the exact ones, as the receipts do per source, never one figure for both.
"""

from __future__ import annotations

from typing import Any

from tokentree.core.attribution import calls_of
from tokentree.core.sources import SOURCES
from tokentree.core.tree import Node, Totals

ESTIMATED = tuple(name for name, source in SOURCES.items() if source.estimated)
"""The sources whose tokens are estimates (chat apps), in declaration order."""
COUNTS = ("calls", "tokens", "cost_usd", "unpriced_calls")
SIDE_DAYS = 30  # the side-by-side table's length: the last days with estimated calls


def no_counts() -> dict[str, Any]:
    """The counts of no calls: what a day's or a period's part starts from."""
    return {"calls": 0, "tokens": 0, "cost_usd": 0.0, "unpriced_calls": 0}


def counts_of(totals: Totals) -> dict[str, Any]:
    """A day part's counts from a node's or a query's totals."""
    return {
        "calls": totals.calls,
        "tokens": totals.total,
        "cost_usd": totals.cost,
        "unpriced_calls": totals.unpriced_calls,
    }


def estimated_of(day: Node) -> dict[str, Any]:
    """The counts of a built day's estimated calls (a served day's come from the index:
    reading its calls would load it)."""
    totals = Totals()
    totals.add_calls(call for call in calls_of(day) if call.source in ESTIMATED)
    return counts_of(totals)


def add_counts(into: dict[str, Any], part: dict[str, Any]) -> None:
    for name in COUNTS:
        into[name] += part[name]


def side_by_side(daily: dict[str, dict[str, Any]], count: int = SIDE_DAYS) -> list[dict[str, Any]]:
    """The last `count` days with estimated calls, each with its exact counts (the day's less
    its estimated) beside them; empty when the days hold no estimate."""
    rows = []
    for day, part in sorted(daily.items()):
        estimated = part["estimated"]
        if not estimated["calls"]:
            continue
        exact = {name: part[name] - estimated[name] for name in COUNTS}
        rows.append(
            {"day": day, "exact": rounded_counts(exact), "estimated": rounded_counts(estimated)}
        )
    return rows[-count:]


def rounded_counts(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts with their cost to the micro-dollar, as reports write it."""
    return counts | {"cost_usd": round(counts["cost_usd"], 6)}
