"""The `i` panel: token kinds and their cost, activity, context, facts, and the node's advice.

Three columns (tokens, activity, facts) on a wide terminal, two on a narrow
one (activity under the tokens); the advice, with its arithmetic, below them.
The facts column is info_facts.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
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
from tokentree.app.widgets.info_facts import fact_table
from tokentree.core.advice import Advice
from tokentree.core.attribution import Activity
from tokentree.core.breakdown import TOKEN_KINDS, Breakdown
from tokentree.core.budgets import BudgetUse
from tokentree.core.tree import Kind, Node
from tokentree.core.view import LABEL_TITLE, MIX_LETTERS, cost_text, mix_order

MAX_OTHER = 3  # "other" tools / MCP servers listed by name
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
        Text(cost_text(totals), style="bold"),
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
