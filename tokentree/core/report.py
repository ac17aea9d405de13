"""The headless report: sums per day, week, session, project, model or source.

Summed in SQL from stored costs, so a warm report builds no call objects and
imports neither pricing nor the UI.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tokentree.core.index import QUARTER_HOUR_GROUP, Index, Scope
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.tree import Calendar, week_key

REPORT_SCHEMA = "tokentree.report/1"
GROUPS = ("day", "week", "session", "project", "model", "source")
_SUMMED = (
    "calls",
    "input",
    "cache_write",
    "cache_read",
    "output",
    "reasoning",
    "cost_usd",
    "unpriced_calls",
)


def build_report(index: Index, scope: Scope, group_by: str, calendar: Calendar, zone: str) -> dict:
    """The report document (`tokentree.report/1`), as plain data ready for JSON."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0] * len(_SUMMED))
    if group_by in ("day", "week"):
        for slot, *values in index.sums(scope, QUARTER_HOUR_GROUP):
            day = calendar.day(slot * QUARTER_HOUR)
            key = day.isoformat() if group_by == "day" else week_key(calendar.week_of(day))
            _add(sums[key], values)
    else:
        for key, *values in index.sums(scope, group_by):
            _add(sums[str(key)], values)
    rows = [_row(key, values) for key, values in sums.items()]
    if group_by in ("day", "week"):
        rows.sort(key=lambda row: row["key"])
    else:
        rows.sort(key=lambda row: (-row["cost_usd"], -row["total"], row["key"]))
    totals = [0] * len(_SUMMED)
    for values in sums.values():
        _add(totals, values)
    return {
        "schema": REPORT_SCHEMA,
        "group_by": group_by,
        "timezone": zone,
        "rows": rows,
        "totals": {k: v for k, v in _row("", totals).items() if k != "key"},
    }


def _add(into: list[Any], values: list[Any]) -> None:
    for position, value in enumerate(values):
        into[position] += value or 0


def _row(key: str, values: list[Any]) -> dict[str, Any]:
    calls, fresh, cache_write, cache_read, output, reasoning, cost, unpriced = values
    prompt = fresh + cache_write + cache_read
    return {
        "key": key,
        "calls": int(calls),
        "input": int(fresh),
        "cache_write": int(cache_write),
        "cache_read": int(cache_read),
        "output": int(output),
        "reasoning": int(reasoning),
        "total": int(prompt + output),
        "cost_usd": round(float(cost), 6),
        "cache_hit": round(cache_read / prompt, 6) if prompt else None,
        "unpriced_calls": int(unpriced),
    }
