"""The `i` panel: token kinds and their cost, activity, context, facts, and the node's advice.

Three columns (tokens, activity, facts) on a wide terminal, two on a narrow
one (activity under the tokens); the advice, with its arithmetic, below them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.visual import VisualType
from textual.widgets import Static

from tokentree import format as fmt
from tokentree.app.widgets.advice_bar import bullet, by_saving, sentence
from tokentree.core.advice import Advice
from tokentree.core.attribution import (
    Activity,
    call_buckets,
    carried,
    carried_share,
    context_curve,
    new_material,
    turn_calls,
)
from tokentree.core.breakdown import TOKEN_KINDS, Breakdown
from tokentree.core.budgets import BudgetUse, budgets_for, row_share
from tokentree.core.cache_misses import IDLE, MODEL_SWITCH, NOT_CACHED
from tokentree.core.live import limits_at
from tokentree.core.overview import sparkline
from tokentree.core.pricing import shown_origin
from tokentree.core.records import ApiCall
from tokentree.core.tree import ABOVE_SESSIONS, Kind, Node, project_folder, short_model
from tokentree.core.view import FLAGS, LABEL_TITLE, MIX_LETTERS, mix_order, own_cost_differs

MAX_FILES = 3
MAX_OTHER = 3  # "other" tools / MCP servers listed by name
CURVE_WIDTH = 40  # glyphs of the context sparkline
WIDE = 150  # from this width on, activity gets a column of its own


class InfoPanel(VerticalScroll, can_focus=False):
    """Details of the selected row; the per-kind costs arrive from a worker a moment later.

    A scrolling frame around the text: on a short terminal the activity, flags
    and advice are below the fold (the wheel, or the app's J/K, scroll there).
    """

    DEFAULT_CSS = """
    InfoPanel {
        height: auto;
        max-height: 60%;
        scrollbar-size-vertical: 1;
        border: round $primary;
        border-title-color: $text-accent;
        border-title-style: bold;
        padding: 0 1;
        background: $surface;
    }
    InfoPanel > Static { height: auto; }
    """

    def __init__(self, zone: tzinfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zone = zone
        self.node: Node | None = None
        self.body = Static()

    def compose(self) -> ComposeResult:
        yield self.body

    @property
    def content(self) -> VisualType:
        """What the panel shows (for tests and screenshots)."""
        return self.body.content

    def show(
        self,
        node: Node,
        parent_chain: Sequence[Node],
        found: Breakdown | None,
        rate_limits: Sequence[Mapping[str, Any]],
        activity: Activity | None = None,
        advice: Sequence[Advice] = (),
        analysing: bool = False,
        budgets: Sequence[BudgetUse] = (),
    ) -> None:
        """`activity` and `advice` come from the analysis (None and `analysing` until it is in);
        `budgets`: every budget's use now, of which the panel shows those the row is under."""
        if self.node is None or node.key != self.node.key:
            self.scroll_home(animate=False)  # another row: read it from the top
        self.node = node
        self.border_title = title(node, parent_chain)
        tokens = token_table(node, found)
        facts = fact_table(node, parent_chain, found, rate_limits, self.zone, budgets)
        classes = None
        if node.call is None:
            classes = activity_table(activity, analysing, node.totals.unpriced_calls > 0)
        self.body.update(Columns(tokens, classes, facts, advice_text(advice)))


class Columns:
    """Tokens | activity | facts, advice below, when wide; else tokens over activity beside
    facts over advice, which keeps the two columns about as tall as each other."""

    def __init__(
        self,
        tokens: RenderableType,
        activity: RenderableType | None,
        facts: RenderableType,
        advice: RenderableType | None,
    ) -> None:
        self.tokens, self.activity, self.facts, self.advice = tokens, activity, facts, advice

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        grid = Table.grid(padding=(0, 3), expand=False)
        wide = self.activity is not None and options.max_width >= WIDE
        if wide:
            cells: list[RenderableType] = [self.tokens, self.activity, self.facts]
        else:
            cells = [
                _stack(self.tokens, self.activity),
                _stack(self.facts, self.advice),
            ]
        for _ in cells:
            grid.add_column()
        grid.add_row(*cells)
        yield grid
        if wide and self.advice is not None:
            yield Text("")
            yield self.advice


def _stack(top: RenderableType, below: RenderableType | None) -> RenderableType:
    return top if below is None else Group(top, Text(""), below)


def title(node: Node, parent_chain: Sequence[Node]) -> str:
    if node.kind is Kind.CALL and node.call is not None:
        call = node.call
        return f"Call {node.label.split(' ', 1)[0]} · {call.model} · {call.fidelity.value}"
    if node.kind is Kind.SESSION:
        return f"Session · {node.label} · {node.source}"
    if node.kind is Kind.ALL:
        return node.label  # "All time", or the range --since/--until chose
    return f"{LABEL_TITLE[node.kind]} · {node.label}"


def token_table(node: Node, found: Breakdown | None) -> RenderableType:
    totals = node.totals
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    table.add_column(justify="right")
    table.add_row(Text("tokens by kind", style="bold"), Text("tokens", style="dim"), "cost")
    unpriced = totals.unpriced_calls > 0
    for name, label in TOKEN_KINDS:
        count = getattr(totals, name)
        cost = None if found is None else found.cost_by_kind[name]
        table.add_row(label, f"{count:,}", part_cost(cost, count, unpriced))
    if totals.reasoning:
        claude_only = found is not None and set(found.calls_by_source) == {"claude-code"}
        part = "thinking" if claude_only else "reasoning"
        table.add_row(Text(f"  of which {part}", style="dim"), f"{totals.reasoning:,}", "")
    if totals.web_searches:
        cost = None if found is None else found.web_search_cost
        table.add_row("web searches", f"{totals.web_searches:,}", part_cost(cost, 1, unpriced))
    table.add_row(
        Text("total", style="bold"),
        Text(f"{totals.total:,}", style="bold"),
        Text(
            fmt.cost(totals.cost, unpriced=totals.unpriced_calls, calls=totals.calls),
            style="bold",
        ),
    )
    table.add_row("cache hit", fmt.percent(totals.cache_hit), "")
    if totals.cache_waste and node.call is None:
        table.add_row("cache waste", "", fmt.cost(totals.cache_waste))
    return table


def part_cost(cost: float | None, count: int, unpriced: bool) -> str:
    """One part of a node's cost: "…" until it is worked out, "–" where there is nothing to
    price or (`unpriced`: the node holds calls with no known price) nothing of it was priced,
    so the tokens of unpriced calls never read as free."""
    if cost is None:
        return "…"
    if not count or (unpriced and not cost):
        return "–"
    return fmt.cost(cost)


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


def activity_table(
    activity: Activity | None, analysing: bool, unpriced: bool = False
) -> RenderableType:
    """Tokens and cost per activity class, costliest first, each with its Mix-column letter;
    `unpriced`: some calls below have no price, so a class may have tokens but no cost."""
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    table.add_column(justify="right")
    table.add_column(justify="right", style="dim")
    table.add_row(Text("activity", style="bold"), Text("tokens", style="dim"), "cost", "")
    if activity is None:
        table.add_row(Text("analysing…" if analysing else "–", style="dim"), "", "", "")
        return table
    classes = activity.classes()
    by_cost = any(cost > 0 for _, cost in classes.values())
    whole = sum(part[by_cost] for part in classes.values())
    for name in mix_order(classes, limit=len(classes)):
        tokens, cost = classes[name]
        share = classes[name][by_cost] / whole if whole else 0.0
        label = f"{MIX_LETTERS.get(name, '?')} {name}"
        table.add_row(label, fmt.tokens(tokens), part_cost(cost, tokens, unpriced), f"{share:.0%}")
        if name == "other":
            details = list(activity.other().items())
            for detail, (count, dollars) in details[:MAX_OTHER]:
                table.add_row(
                    Text(f"    {detail or '(unnamed)'}", style="dim"),
                    Text(fmt.tokens(count), style="dim"),
                    Text(part_cost(dollars, count, unpriced), style="dim"),
                    "",
                )
            if len(details) > MAX_OTHER:
                more = Text(f"    +{len(details) - MAX_OTHER} more", style="dim")
                table.add_row(more, "", "", "")
    return table


def activity_split(call: ApiCall) -> str:
    """What the call was doing, split as its cost is split between classes (by its tools):
    "reading 50% · editing 50%", or one class."""
    counts: dict[str, int] = {}
    for bucket, count in call_buckets(call):
        counts[bucket.activity] = counts.get(bucket.activity, 0) + count
    if len(counts) == 1:
        return next(iter(counts))
    whole = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: -item[1])  # ties stay in class order
    return " · ".join(f"{name} {count / whole:.0%}" for name, count in ranked)


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


def advice_text(items: Sequence[Advice]) -> RenderableType | None:
    """Each piece of advice: title and saving, the message, and the saving's arithmetic."""
    if not items:
        return None
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for item in by_saving(items):
        text = Text(item.title, style="bold")
        if item.saving_usd > 0:
            text.append(f"  ≈ ${item.saving_usd:,.2f} saved", style="bold")
        text.append("\n" + sentence(item.message))
        formula = item.evidence.get("formula", "")
        if formula and item.saving_usd > 0:
            text.append(f"\nformula: {formula}", style="dim")
        grid.add_row(Text(bullet(item), style="bold"), text)
    return grid


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


MISS_WORDS = {
    IDLE: "idle past the cache's lifetime",
    MODEL_SWITCH: "model switched (each model has its own cache)",
    NOT_CACHED: "cache not used (the prompt's start changed, or it was dropped)",
}


def cache_miss_text(cause: str, waste: float = 0.0) -> str:
    """Why the cache missed in words: Claude's logged reason ("tools_changed 89018") or what
    tokentree saw; and what sending the history again cost over cache reads."""
    reason, _, missed = cause.partition(" ")
    text = MISS_WORDS.get(reason, reason.replace("_", " "))
    if missed.isdigit():
        text += f", ≈{int(missed):,} tok not cached (Claude's estimate)"
    if waste:
        text += f"; {fmt.cost(waste)} over a cache hit"
    return text


def _project(session: Node) -> str:
    return project_folder(session.project) or session.session_id[:8]
