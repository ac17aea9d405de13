"""Receipts: per day (week, month) and source, exact and estimated tokens and cost side by side.

A source's numbers are exact when it logs its tokens and estimated when its
declaration says so (a chat app imported from its export): the two are summed
apart, never into one figure. Summed in SQL from the rollup, one query per
source, like the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from tokentree import format as fmt
from tokentree.core.index import QUARTER_HOUR_GROUP, Index, Scope
from tokentree.core.overview_estimates import ESTIMATED, add_counts, no_counts, rounded_counts
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.report import period_key
from tokentree.core.sources.estimated import CHARS_PER_TOKEN
from tokentree.core.tree import Calendar

KINDS = ("exact", "estimated")
_EMPTY = "–"


def build_receipts(index: Index, scope: Scope, group_by: str, calendar: Calendar) -> dict:
    """Rows of (period, source) with its tokens and cost in the exact or the estimated column,
    each period's subtotals and the grand totals (`receipts` of `tokentree.report/1`)."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for source in scope.sources:
        for slot, calls, fresh, write, read, output, _, cost, unpriced in index.sums(
            replace(scope, sources=(source,)), QUARTER_HOUR_GROUP
        ):
            period = period_key(calendar, calendar.day(slot * QUARTER_HOUR), group_by)
            into = sums[(period, source)]
            tokens = (fresh or 0) + (write or 0) + (read or 0) + (output or 0)
            for position, value in enumerate((calls, tokens, cost, unpriced)):
                into[position] += value or 0
    rows = []
    periods: dict[str, dict[str, dict[str, Any]]] = {}
    totals = {kind: no_counts() for kind in KINDS}
    ordered = sorted(
        sums.items(), key=lambda item: (item[0][0], KINDS.index(_kind(item[0][1])), item[0][1])
    )
    for (period, source), (calls, tokens, cost, unpriced) in ordered:
        if not calls:
            continue
        kind = _kind(source)
        part = {
            "calls": int(calls),
            "tokens": int(tokens),
            "cost_usd": round(float(cost), 6),
            "unpriced_calls": int(unpriced),
        }
        rows.append({"period": period, "source": source, "kind": kind, **part})
        day = periods.setdefault(period, {k: no_counts() for k in KINDS})
        add_counts(day[kind], part)
        add_counts(totals[kind], part)
    return {
        "group_by": group_by,
        "chars_per_token": CHARS_PER_TOKEN,
        "rows": rows,
        "periods": [{"period": key, **_rounded(value)} for key, value in periods.items()],
        "totals": _rounded(totals),
    }


def estimated_note(index: Index, scope: Scope) -> str | None:
    """The plain report's flag on totals that hold estimates: which sources, how many calls."""
    estimated = tuple(source for source in scope.sources if _kind(source) == "estimated")
    if not estimated:
        return None
    rows = index.sums(replace(scope, sources=estimated), "source")
    calls = sum(row[1] or 0 for row in rows)
    if not calls:
        return None
    names = ", ".join(sorted(str(row[0]) for row in rows))
    return (
        f"~ includes {calls:,} estimated calls ({names}: tokens estimated from exported text);"
        " --receipts shows them apart"
    )


def _kind(source: str) -> str:
    """Exact unless the source's declaration says its counts are estimates."""
    return KINDS[source in ESTIMATED]


def _rounded(parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {kind: rounded_counts(part) for kind, part in parts.items()}


def render_receipts(receipts: dict) -> list[str]:
    """The receipts as a text table: a line per period and source, a subtotal per period
    that has more than one, estimated figures marked `~`."""
    header = [receipts["group_by"].capitalize(), "Source", "Exact tokens", "Exact cost"]
    header += ["~Est. tokens", "~Est. cost"]
    table = [header]
    subtotals = {entry["period"]: entry for entry in receipts["periods"]}
    rows = receipts["rows"]
    for position, row in enumerate(rows):
        first = position == 0 or rows[position - 1]["period"] != row["period"]
        table.append([row["period"] if first else "", row["source"], *_cells({row["kind"]: row})])
        last = position + 1 == len(rows) or rows[position + 1]["period"] != row["period"]
        if last and not first:
            table.append(["", "all", *_cells(subtotals[row["period"]])])
    table.append(["Total", "", *_cells(receipts["totals"])])
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]

    def line(cells: list[str]) -> str:
        left = [cell.ljust(width) for cell, width in zip(cells[:2], widths[:2], strict=True)]
        right = [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(table[0]), rule, *(line(cells) for cells in table[1:-1]), rule, line(table[-1])]
    if receipts["totals"]["estimated"]["calls"]:
        lines.append(
            f"~ estimated from chat exports' text ({receipts['chars_per_token']} characters a"
            " token, the history sent again with each message), kept apart from the exact"
        )
    return lines


def _cells(parts: dict[str, dict[str, Any]]) -> list[str]:
    cells = []
    for kind, mark in (("exact", ""), ("estimated", "~")):
        part = parts.get(kind)
        if not part or not part["calls"]:
            cells += [_EMPTY, _EMPTY]
            continue
        cost = fmt.cost(part["cost_usd"], unpriced=part["unpriced_calls"], calls=part["calls"])
        cells += [f"{mark}{part['tokens']:,}", cost if cost == "unpriced" else f"{mark}{cost}"]
    return cells
