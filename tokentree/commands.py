"""What `report` and `export` print or write, given an up-to-date workspace."""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from tokentree import config
from tokentree import format as fmt
from tokentree.core.export import ExportError, export_chunks, write_export
from tokentree.core.report import build_report
from tokentree.workspace import UsageError, Workspace

if TYPE_CHECKING:
    from tokentree.core.budgets import BudgetUse

_COLUMNS = (
    ("calls", "Calls"),
    ("input", "Input"),
    ("cache_write", "Cache wr"),
    ("cache_read", "Cache rd"),
    ("output", "Output"),
    ("total", "Total"),
    ("cache_hit", "Cache"),
    ("cost_usd", "Cost"),
)


def report(
    workspace: Workspace,
    group_by: str,
    *,
    as_json: bool,
    diagnostics: bool,
    overview: bool = False,
    overview_range: str = "all",
    ledgers: Sequence[str] = (),
    receipts: bool = False,
) -> int:
    if ledgers or workspace.settings.machines or group_by == "machine":
        from tokentree.ledger_commands import machines_report  # DuckDB: only for this

        return machines_report(workspace, group_by, ledgers, as_json=as_json)
    document = build_report(
        workspace.index, workspace.scope, group_by, workspace.calendar, workspace.zone_name
    )
    if group_by == "month" and workspace.settings.plan is not None:
        _add_plan(document, workspace.settings.plan)
    data = _overview(workspace, overview_range) if overview else None
    if data is not None:
        document["overview"] = data  # only with --overview: the plain shape stays as it was
    if receipts:
        document["receipts"] = _receipts(workspace, group_by)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        print(report_table(document))
        from tokentree.core.receipts import estimated_note, render_receipts

        note = estimated_note(workspace.index, workspace.scope)
        if note:
            print(note)
        if receipts:
            print()
            print("\n".join(render_receipts(document["receipts"])))
        if data is not None:
            from tokentree.core.overview_text import render_overview

            print()
            print("\n".join(render_overview(data, shutil.get_terminal_size((100, 24)).columns)))
    if diagnostics:
        _print_diagnostics(workspace)
    else:
        _print_skipped_summary(workspace)
    return 0


def _add_plan(document: dict[str, Any], plan: config.Plan) -> None:
    """Each month's API-equivalent cost against the plan's price."""
    document["plan"] = {"name": plan.name, "usd_per_month": plan.usd_per_month}
    for row in document["rows"]:
        row["plan_multiple"] = round(row["cost_usd"] / plan.usd_per_month, 3)


def _receipts(workspace: Workspace, group_by: str) -> dict[str, Any]:
    """Exact and estimated side by side per period and source (`--receipts`)."""
    from tokentree.core.receipts import build_receipts

    if group_by not in ("day", "week", "month"):
        raise UsageError("--receipts lists days, weeks or months: use --by day, week or month")
    return build_receipts(workspace.index, workspace.scope, group_by, workspace.calendar)


def _overview(workspace: Workspace, range_key: str) -> dict[str, Any]:
    """The period at a glance, narrowed to the range: from the served tree, so only
    `--overview` pays for it."""
    from tokentree.core.advice.digest import KeptDigests
    from tokentree.core.analysis import analyse_served
    from tokentree.core.overview import in_range

    index, week_start = workspace.index, workspace.calendar.week_start
    served = workspace.served()
    settings, digests = workspace.settings.advice_settings(), KeptDigests()
    analysis = analyse_served(
        served, index.prices, settings, week_start, digests, index.keep_advice
    )
    return in_range(analysis.overview, range_key)


def export(workspace: Workspace, node_path: str, target: str, overwrite: bool) -> int:
    served = workspace.served()
    node = served.root.find(node_path)
    if node is None:
        raise UsageError(
            f"no node at {node_path!r}; top-level keys: "
            + ", ".join(child.key for child in served.root.children[:8])
        )
    chunks = export_chunks(
        node,
        node_path,
        workspace.zone_name,
        prices=workspace.index.prices,
        advice_settings=workspace.settings.advice_settings(),
        activity=served.activity,
        plan=workspace.settings.plan,
        calendar=workspace.calendar,
    )
    try:
        written = write_export(chunks, target, overwrite=overwrite)
    except ExportError as error:
        raise UsageError(str(error)) from error
    if target != "-":
        print(f"wrote {target} ({written:,} bytes, schema tokentree.export/1)", file=sys.stderr)
    return 0


def index(workspace: Workspace, *, check: bool, rebuild: bool) -> int:
    """`tokentree index`: the index is up to date by now; check or rebuild what it derives."""
    stats = workspace.stats
    print(
        f"index: {workspace.files_in_scope:,} log files in scope, {stats.files_read:,} read now"
        f" ({stats.bytes_read / 2**20:,.1f} MB)",
        file=sys.stderr,
    )
    if rebuild:
        workspace.index.rebuild()
        print("index: sums and left-out copies derived again from the copies", file=sys.stderr)
    if not (check or rebuild):
        return 0
    problems = workspace.index.check()
    for problem in problems:
        print(f"index: {problem}")
    if problems:
        print("index: run `tokentree index --rebuild` to derive them again")
        return 1
    print("index: consistent (sums and left-out copies equal a fresh derivation)")
    return 0


def handoff(workspace: Workspace, session: str, target: str, overwrite: bool) -> int:
    """`tokentree handoff SESSION`: the handoff prompt of the session whose id starts so."""
    from tokentree.core.advice import advise
    from tokentree.core.handoff import handoff_text
    from tokentree.core.tree import Kind, build_tree

    index, scope = workspace.index, workspace.scope
    found = [
        facts for facts in index.session_facts(scope) if facts[0].split(" ")[1].startswith(session)
    ]
    if len(found) != 1:
        names = ", ".join(key.split(" ")[1][:12] for key, *_ in found[:5])
        raise UsageError(
            f"no session id starts with {session!r}"
            if not found
            else f"{len(found)} sessions start with {session!r} ({names}…): give more of the id"
        )
    key, _, first, last = found[0]
    source, session_id = key.split(" ", 1)
    span = replace(scope, since=first, until=math.nextafter(last, math.inf))
    calls = [c for c in index.calls(span) if (c.source, c.session_id) == (source, session_id)]
    tree = build_tree(calls, index.prompts(scope, [(source, session_id)]), workspace.calendar)
    node = next(node for node in tree.walk() if node.kind is Kind.SESSION)
    about = advise(tree, index.prices, workspace.settings.advice_settings())
    items = [item for item in about.items if item.node.kind in (Kind.SESSION, Kind.TURN)]
    text = handoff_text(node, calls, items, workspace.calendar.zone)
    try:
        write_export([text.encode()], target, overwrite=overwrite)
    except ExportError as error:
        raise UsageError(str(error)) from error
    if target != "-":
        print(f"wrote the handoff of {source} {session_id} to {target}", file=sys.stderr)
    return 0


def statusline(workspace: Workspace, raw: bytes, *, now: float) -> int:
    """`tokentree statusline`: always a line and exit 0, since anything else blanks the bar."""
    from tokentree.core.budgets import budget_uses
    from tokentree.statusline import colour_wanted, status_input, status_line

    settings = workspace.settings
    uses = budget_uses(workspace.index, workspace.scope, settings.budget, workspace.calendar, now)
    thresholds = settings.context_thresholds()
    status = status_input(raw)
    print(status_line(workspace, status, now, thresholds, uses, colour=colour_wanted()))
    return 0


def budget(workspace: Workspace, *, check: bool, as_json: bool, now: float) -> int:
    """`tokentree budget`: each budget's use this period and its forecast; with `check`, exit 1
    when any is over its limit (for cron, CI and hooks)."""
    from tokentree.core.budgets import budget_uses

    budgets = workspace.settings.budget
    uses = budget_uses(workspace.index, workspace.scope, budgets, workspace.calendar, now)
    if as_json:
        document = [_budget_dict(use) for use in uses]
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    elif not uses:
        print(f"no budgets set: add [[budget]] tables to {config.config_path()} (see README)")
    else:
        print(_budget_table(uses, workspace))
    return 1 if check and any(use.state == "over" for use in uses) else 0


def _budget_dict(use: BudgetUse) -> dict[str, Any]:
    return {
        "budget": use.budget.name,
        "period": use.budget.period,
        "start": fmt.utc_iso(use.start),
        "end": fmt.utc_iso(use.end),
        "unit": "usd" if use.budget.usd is not None else "tokens",
        "used": round(use.used, 6),
        "limit": use.limit,
        "share": round(use.share, 6),
        "forecast": round(use.forecast, 6),
        "state": use.state,
        "unpriced_calls": use.unpriced_calls,
    }


def _budget_table(uses: list[BudgetUse], workspace: Workspace) -> str:
    zone = workspace.calendar.zone
    rows = [["Budget", "Period", "Used", "Limit", "Use", "Forecast", ""]]
    for use in uses:
        used = use.amount(use.used)
        if use.unpriced_calls and use.budget.usd is not None:
            used = f"≥{used}"
        first = datetime.fromtimestamp(use.start, zone)
        last = datetime.fromtimestamp(use.end - 1, zone)
        rows.append(
            [
                use.budget.name,
                f"{first:%b} {first.day}–{last:%b} {last.day}",
                used,
                use.amount(use.limit),
                f"{use.share:.0%}",
                use.amount(use.forecast),
                {"ok": "ok", "near": "near the limit", "over": "OVER"}[use.state],
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i in (0, 1, 6) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return "\n".join([lines[0], *lines[1:], "forecast: the pace so far, to the period's end"])


def report_table(document: dict[str, Any]) -> str:
    """The report as text; a Waste column only where some cache was wasted."""
    wasted = document["totals"].get("cache_waste_usd", 0) > 0
    titles = [title for _, title in _COLUMNS] + (["Waste"] if wasted else [])
    header = [document["group_by"].capitalize(), *titles]
    body = [[row.get("label") or row["key"], *_cells(row, wasted)] for row in document["rows"]]
    totals = ["Total", *_cells(document["totals"], wasted)]
    key_width = min(max([len(header[0]), len(totals[0])] + [len(r[0]) for r in body]), 48)
    widths = [key_width] + [
        max(len(line[i]) for line in [header, totals, *body]) for i in range(1, len(header))
    ]

    def line(cells: list[str]) -> str:
        key = cells[0] if len(cells[0]) <= key_width else "…" + cells[0][-key_width + 1 :]
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([key.ljust(key_width), *rest])

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(header), rule, *(line(row) for row in body), rule, line(totals)]
    unpriced = document["totals"]["unpriced_calls"]
    if unpriced:
        lines.append(f"≥ cost is a lower bound: {unpriced:,} calls used models with no known price")
    if wasted:
        lines.append("waste: what history sent again after a cache miss cost over cache reads")
    plan = document.get("plan")
    if plan:
        for row in document["rows"]:
            lines.append(
                f"{row['key']}: {fmt.cost(row['cost_usd'])} of usage on the {plan['name']} plan"
                f" ({fmt.cost(plan['usd_per_month'])}/month): {row['plan_multiple']:.1f}×"
            )
    lines.append(f"times in {document['timezone']}")
    return "\n".join(lines)


def _cells(row: dict[str, Any], wasted: bool = False) -> list[str]:
    cells = [
        f"{row['calls']:,}",
        *(f"{row[name]:,}" for name in ("input", "cache_write", "cache_read", "output", "total")),
        fmt.percent(row["cache_hit"]),
        fmt.cost(row["cost_usd"], unpriced=row["unpriced_calls"], calls=row["calls"]),
    ]
    if wasted:
        waste = row.get("cache_waste_usd", 0)
        cells.append(fmt.cost(waste) if waste > 0 else "·")
    return cells


def _print_skipped_summary(workspace: Workspace) -> None:
    health = workspace.index.health(workspace.scope)
    parts = []
    if health.skipped_lines:
        parts.append(
            f"skipped {health.skipped_lines:,} unreadable lines in {health.skipped_files:,} files"
        )
    if health.removed_files:
        parts.append(f"{health.removed_files:,} log files were deleted (their calls are kept)")
    if parts:
        print(f"tokentree: {'; '.join(parts)} (--diagnostics lists them)", file=sys.stderr)


def _print_diagnostics(workspace: Workspace) -> None:
    found = workspace.index.diagnostics(workspace.scope)
    out = sys.stderr
    print(f"\nDiagnostics: {workspace.files_in_scope:,} log files in scope", file=out)
    for problem in workspace.notices:
        print(f"  ! {problem}", file=out)
    if not found:
        print("  nothing skipped, nothing pending, no file removed", file=out)
    for item in found:
        notes = [f"{count:,} × {reason}" for reason, count in sorted(item.skipped.items())]
        if item.pending_bytes:
            notes.append(f"{item.pending_bytes:,} bytes of a half-written last line pending")
        if item.missing:
            notes.append("file removed; its calls are kept")
        print(f"  {item.path} [{item.source}]: {'; '.join(notes)}", file=out)
