"""The info panel's facts column: one (name, value) row for each thing known about the row.

Time and counts, models, the session and its context curve, sources, log files,
where the prices came from, what-if, flags, Codex's limits and the budgets the
row is under; a call adds its tools, activity, carried context and cache miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tokentree import format as fmt
from tokentree.core.attribution import (
    activity_split,
    carried,
    carried_share,
    context_curve,
    new_material,
    turn_calls,
)
from tokentree.core.breakdown import TOKEN_KINDS, Breakdown
from tokentree.core.budgets import BudgetUse, budgets_for, row_share
from tokentree.core.cache_misses import cache_miss_text
from tokentree.core.live import limits_at
from tokentree.core.overview import sparkline
from tokentree.core.pricing import shown_origin
from tokentree.core.tree import ABOVE_SESSIONS, Kind, Node, project_folder, short_model
from tokentree.core.view import FLAGS, own_cost_differs

MAX_FILES = 3  # log files listed by name
CURVE_WIDTH = 40  # glyphs of the context sparkline


def fact_table(
    node: Node,
    parent_chain: Sequence[Node],
    found: Breakdown | None,
    rate_limits: Sequence[Mapping[str, Any]],
    zone: tzinfo,
    budgets: Sequence[BudgetUse] = (),
) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    rows = facts(node, parent_chain, found, rate_limits, zone)
    under = budgets_text(node, parent_chain, budgets)
    if under is not None:
        rows.append(("budgets", under))
    for name, value in rows:
        table.add_row(name, value)
    return table


def facts(
    node: Node,
    parent_chain: Sequence[Node],
    found: Breakdown | None,
    rate_limits: Sequence[Mapping[str, Any]],
    zone: tzinfo,
) -> list[tuple[str, RenderableType]]:
    rows: list[tuple[str, RenderableType]] = [("time", span(node.start, node.end, zone))]
    totals = node.totals
    if node.call is not None:
        call = node.call
        rows.append(("tools", Text("\n".join(call.tools) or "none")))
        rows.append(("activity", activity_split(call)))
        session = next((n for n in parent_chain if n.kind is Kind.SESSION), None)
        if session is not None:
            rows.append(("session", f"{_project(session)} · {session.session_id[:8]}…"))
        rows.append(("prompt sent", f"{call.tokens.prompt:,} tok"))
        share = carried_share(call)
        if share is not None:
            rows.append(("context carried", f"{carried(call):,} tok ({share:.0%} of the prompt)"))
            rows.append(("new material", f"{new_material(call):,} tok (uncached + cache writes)"))
        if call.cache_miss:
            rows.append(("cache miss", cache_miss_text(call.cache_miss, call.cache_waste)))
        if call.subagent:
            rows.append(("sub-agent", "yes (or compaction)"))
    else:
        counts = [fmt.counted(totals.calls, "call")]
        if node.kind in ABOVE_SESSIONS or node.kind is Kind.SESSION:
            counts.insert(0, fmt.counted(node.turns, "turn"))
        if node.kind in ABOVE_SESSIONS:
            counts.insert(0, fmt.counted(node.sessions, "session"))
        rows.append(("counts", " · ".join(counts)))
        rows.append(("models", models_text(node, found)))
    if node.kind is Kind.SESSION:
        rows.append(("project", node.project or "(not logged)"))
        rows.append(("session id", f"{node.source} {node.session_id}"))
    if node.kind in (Kind.SESSION, Kind.TURN):
        curve = context_text(node)
        if curve is not None:
            rows.append(("context", curve))
    if found is not None:
        if len(found.calls_by_source) > 1 or node.kind in ABOVE_SESSIONS:
            rows.append(("sources", sources_text(found)))
        rows.append(("log files", files_text(found)))
        prices = prices_text(node, found)
        if prices:
            rows.append(("prices", prices))
        if found.long_context_calls:
            calls = fmt.counted(found.long_context_calls, "call")
            rows.append(("long context", f"{calls} at the tier rate"))
        if found.what_if:
            rows.append(("what if", "\n".join(item.text for item in found.what_if)))
    flags = flags_text(node)
    if flags.plain:
        rows.append(("flags", flags))
    logged = limits_at(rate_limits, node.end) if node.end else None
    if logged and found is not None and found.calls_by_source.get("codex"):
        rows.append(("codex limits", limits_text(logged, zone)))
    return rows


def budgets_text(
    node: Node, parent_chain: Sequence[Node], uses: Sequence[BudgetUse]
) -> Text | None:
    """Each budget the row is under: its use, limit and forecast to the period's end, as the
    live line has them; a session's, turn's or call's own part of the limit where it lies in
    the period."""
    session = next((n for n in (node, *reversed(parent_chain)) if n.kind is Kind.SESSION), None)
    text = Text()
    for use in budgets_for(uses, node, session):
        if text.plain:
            text.append("\n")
        text.append(use.budget.name, style="" if use.state == "ok" else "bold")
        text.append(f": {use.used_amount} ({use.share:.0%}), forecast {use.amount(use.forecast)}")
        if use.state != "ok":
            text.append(" over" if use.state == "over" else " near the limit", style="bold")
        share = row_share(use, node)
        if share is not None:
            text.append(f"\n  this {node.kind.value}: {share:.0%} of the limit", style="dim")
    return text if text.plain else None


def prices_text(node: Node, found: Breakdown) -> str:
    """Where the prices came from, saying which are estimates; notes on stand-in rates only for
    the token kinds this node used."""
    used = [name for name, _ in TOKEN_KINDS if getattr(node.totals, name)]
    shown = [shown_origin(origin, used) for origin in sorted(found.origins)]
    if len(shown) == 1:
        return shown[0][0]
    if shown:
        estimated = sum(guess for _, guess in shown)
        counts = f"{len(shown)} model-days" + (f", {estimated} estimated" if estimated else "")
        return f"genai-prices ({counts})"
    if node.call is not None and found.unpriced_models:
        return f"none known for {node.call.model}: unpriced"
    return ""


def context_text(node: Node) -> Text | None:
    """The context each main-thread call sent, as a sparkline: growth, compactions, resets."""
    if node.kind is Kind.SESSION:
        prompts = [point.prompt for point in context_curve(node)]
    else:
        prompts = [call.tokens.prompt for call in turn_calls(node) if not call.subagent]
    if not prompts:
        return None
    text = Text(sparkline(downsample(prompts, CURVE_WIDTH)), style="bold")
    calls = fmt.counted(len(prompts), "main-thread call")
    text.append(
        f"\npeak {fmt.tokens(max(prompts))} · last {fmt.tokens(prompts[-1])} · {calls}",
        style="dim",
    )
    return text


def downsample(values: Sequence[int], width: int) -> list[float]:
    """At most `width` values: the largest of each run, so no peak is lost."""
    if len(values) <= width:
        return [float(value) for value in values]
    step = len(values) / width
    return [
        float(max(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]))
        for i in range(width)
    ]


def span(start: float, end: float, zone: tzinfo) -> str:
    if not start:
        return "–"
    first = datetime.fromtimestamp(start, zone)
    last = datetime.fromtimestamp(end or start, zone)
    head = f"{first:%a} {first.day} {first:%b %H:%M:%S}"
    if end <= start:
        return head
    if last.date() == first.date():
        tail = f"{last:%H:%M:%S}"
    else:
        tail = f"{last:%a} {last.day} {last:%b %H:%M:%S}"
    return f"{head} → {tail} ({duration(end - start)})"


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def models_text(node: Node, found: Breakdown | None) -> Text:
    parts = []
    for model, calls in node.models.most_common(4):
        part = f"{short_model(model)} ×{calls:,}"
        cost = 0.0 if found is None else found.cost_by_model.get(model, 0.0)
        unpriced = found is not None and model in found.unpriced_models
        if found is not None and node.totals.cost > 0 and (cost or not unpriced):
            part += f" ({cost / node.totals.cost * 100:.0f}% $)"
        if unpriced:
            part += " (unpriced)"
        parts.append(part)
    more = len(node.models) - 4
    if more > 0:
        parts.append(f"+{more} more")
    return Text("\n".join(parts))


def sources_text(found: Breakdown) -> str:
    return " · ".join(f"{source} {calls:,}" for source, calls in found.calls_by_source.items())


def files_text(found: Breakdown) -> Text:
    removed = sum(found.files.values())
    if len(found.files) > MAX_FILES:
        text = fmt.counted(len(found.files), "file")
        return Text(text + (f" ({removed:,} removed, calls kept)" if removed else ""))
    lines = [
        Path(path).name + (" (removed, calls kept)" if gone else "")
        for path, gone in sorted(found.files.items())
    ]
    return Text("\n".join(lines) or "–")


def flags_text(node: Node) -> Text:
    text = Text()
    for flag in FLAGS:
        count = flag.count(node.totals)
        if count:
            if text.plain:
                text.append("\n")
            text.append(f"{flag.glyph} {count:,} {flag.name}", style="bold")
            text.append(f": {flag.meaning}", style="dim")
    totals = node.totals
    if totals.source_cost_calls:  # the assistant's own figure beside ours, always
        if text.plain:
            text.append("\n")
        text.append(
            f"OpenCode's own cost ${totals.source_cost:,.4f}"
            f" vs ours ${totals.source_cost_ours:,.4f}"
            f" for {fmt.counted(totals.source_cost_calls, 'call')}",
            style="bold" if own_cost_differs(totals) else "",
        )
    return text


def limits_text(limits: Mapping[str, Any], zone: tzinfo) -> str:
    seen = datetime.fromtimestamp(limits["observed_at"], zone)
    parts = []
    for name, title in (("five_hour", "5 h"), ("weekly", "weekly")):
        window = limits.get(name)
        if not window:
            continue
        text = f"{title} {window['used_percent']:.0f}% used"
        if window.get("resets_at"):
            resets = datetime.fromtimestamp(window["resets_at"], zone)
            text += f", resets {resets:%a} {resets.day} {resets:%b %H:%M}"
        parts.append(text)
    return " · ".join(parts) + f"\n(as logged {seen:%a} {seen.day} {seen:%b %H:%M})"


def _project(session: Node) -> str:
    return project_folder(session.project) or session.session_id[:8]
