"""The headless report: sums per day, week, session, project, model or source.

Summed in SQL from the index's rollup (stored costs and cache waste), so a warm
report builds no call objects and imports neither pricing nor the UI.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from tokentree import format as fmt
from tokentree.core.index import QUARTER_HOUR_GROUP, Index, Scope
from tokentree.core.index.index import GROUP_KEYS
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.tree import Calendar, project_name, week_key

REPORT_SCHEMA = "tokentree.report/1"
GROUPS = ("day", "week", "month", "session", "project", "model", "source")
TIME_GROUPS = ("day", "week", "month")
_SUMMED = (
    ("calls", "sum(calls)"),
    ("input", "sum(input)"),
    ("cache_write", "sum(cache_write_5m + cache_write_1h)"),
    ("cache_read", "sum(cache_read)"),
    ("output", "sum(output)"),
    ("reasoning", "sum(reasoning)"),
    ("cost_usd", "round(sum(cost), 9)"),
    ("unpriced_calls", "sum(unpriced)"),
    ("cache_waste_usd", "round(sum(cache_waste), 9)"),
)
"""Each figure of a row and its SQL over the index's rollup (rows.ROLLUP_COLUMNS)."""
_SQL = tuple(sql for _, sql in _SUMMED)


def build_report(index: Index, scope: Scope, group_by: str, calendar: Calendar, zone: str) -> dict:
    """The report document (`tokentree.report/1`), as plain data ready for JSON."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0] * len(_SUMMED))
    sessions: dict[str, dict[str, Any]] = {}
    if group_by in TIME_GROUPS:
        for slot, *values in index.grouped(scope, [GROUP_KEYS[QUARTER_HOUR_GROUP]], _SQL):
            _add(sums[period_key(calendar, calendar.day(slot * QUARTER_HOUR), group_by)], values)
    else:
        for key, *values in index.grouped(scope, [GROUP_KEYS[group_by]], _SQL):
            _add(sums[str(key)], values)
        if group_by == "session":
            for key, project, first, last in index.session_facts(scope):
                sessions[key] = _session_facts(key, project, first, last, calendar)
    rows = [_row(key, values) | sessions.get(key, {}) for key, values in sums.items()]
    sort_rows(rows, group_by)
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


def period_key(calendar: Calendar, day: date, group_by: str) -> str:
    """The key of the day, week or month that `day` falls in: 2026-11-20, 2026-W47, 2026-11."""
    if group_by == "week":
        return week_key(calendar.week_of(day))
    return day.isoformat()[: 7 if group_by == "month" else 10]


def sort_rows(rows: list[dict[str, Any]], group_by: str) -> None:
    """Periods in time order; any other grouping dearest first."""
    if group_by in TIME_GROUPS:
        rows.sort(key=lambda row: row["key"])
    else:
        rows.sort(key=lambda row: (-row["cost_usd"], -row["total"], row["key"]))


def _session_facts(
    key: str, project: str, first: float | None, last: float | None, calendar: Calendar
) -> dict[str, Any]:
    """A session row's words: `key` is "source session-id"."""
    source, _, session = key.partition(" ")
    folder = project_name(project)
    started = datetime.fromtimestamp(first, calendar.zone) if first is not None else None
    when = f" {started:%Y-%m-%d %H:%M}" if started else ""
    return {
        "label": f"{source} · {folder} · {session[:8]}{when}",
        "project": project,
        "start": None if first is None else fmt.utc_iso(first),
        "end": None if last is None else fmt.utc_iso(last),
    }


def _add(into: list[Any], values: list[Any]) -> None:
    for position, value in enumerate(values):
        into[position] += value or 0


def _row(key: str, values: list[Any]) -> dict[str, Any]:
    *counts, waste = values
    return usage_row(key, *counts) | {"cache_waste_usd": round(float(waste), 6)}


def usage_row(
    key: str,
    calls: float,
    fresh: float,
    cache_write: float,
    cache_read: float,
    output: float,
    reasoning: float,
    cost: float,
    unpriced: float,
) -> dict[str, Any]:
    """A row's figures from its summed columns, as the report and the ledger report show them."""
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
