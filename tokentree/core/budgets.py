"""Budgets: how much of each limit the current day, week or month has used, and where a
straight line through it so far ends at the period's close.

Pure arithmetic over the index's sums; the clock is passed in, so a test can stop it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from tokentree import format as fmt
from tokentree.core.index import Index, Scope
from tokentree.core.sources import SOURCE_ALIASES
from tokentree.core.tree import ABOVE_SESSIONS, Calendar, Kind, Node, project_folder

Period = Literal["day", "week", "month"]
WARN_SHARE = 0.8
"""From this share of a limit on, a budget is close to it."""


@dataclass(frozen=True)
class Budget:
    """One `[[budget]]` table of config.toml: a limit in dollars or tokens per period, for all
    usage or one project (its folder or the folder's name) or one source."""

    period: Period
    usd: float | None = None
    tokens: int | None = None
    project: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if (self.usd is None) == (self.tokens is None):
            raise ValueError("a budget sets one of usd or tokens")
        if (self.usd or self.tokens or 0) <= 0:
            raise ValueError("a budget's limit is above zero")

    @property
    def name(self) -> str:
        """ "month · atlas · $200", for a table or a status line."""
        limit = f"${self.usd:,.0f}" if self.usd is not None else f"{self.tokens:,} tokens"
        return " · ".join(filter(None, (self.period, self.project, self.source, limit)))

    def counts_all_of(self, project: str, source: str) -> bool:
        """Whether this budget counts every call of a row of `project` and `source` ("" where
        the row has several or none): a filter the row cannot answer leaves it in doubt."""
        if self.project is not None and (
            not project or self.project not in (project, project_folder(project))
        ):
            return False
        wanted = SOURCE_ALIASES.get(self.source.lower()) if self.source else None
        return self.source is None or (bool(source) and source == wanted)


@dataclass(frozen=True)
class BudgetUse:
    """A budget over its current period, as of `now`."""

    budget: Budget
    start: float  # the period's first instant
    end: float  # the next period's first instant
    now: float = field(compare=False)  # the forecast's; a view stamps its own clock (at())
    used: float = 0.0  # dollars or tokens, as the budget counts
    unpriced_calls: int = 0  # calls with no known price: a dollar budget's use is a lower bound

    def at(self, now: float) -> BudgetUse:
        return replace(self, now=now)

    @property
    def used_amount(self) -> str:
        """The use as this budget counts it; a dollar use with unpriced calls is a lower bound."""
        lower = self.unpriced_calls and self.budget.usd is not None
        return ("≥" if lower else "") + self.amount(self.used)

    def amount(self, value: float) -> str:
        """`value` as this budget counts: dollars or tokens."""
        return fmt.cost(value) if self.budget.usd is not None else fmt.tokens(int(value))

    @property
    def limit(self) -> float:
        budget = self.budget
        return float(budget.usd if budget.usd is not None else budget.tokens or 0)

    @property
    def share(self) -> float:
        return self.used / self.limit

    @property
    def forecast(self) -> float:
        """The use at the period's end if it goes on at the pace so far."""
        elapsed = max(self.now - self.start, 1.0)
        return self.used * (self.end - self.start) / elapsed

    @property
    def state(self) -> Literal["ok", "near", "over"]:
        if self.used > self.limit:
            return "over"
        return "near" if self.share >= WARN_SHARE else "ok"


def period_bounds(period: Period, now: float, calendar: Calendar) -> tuple[float, float]:
    """The local day, week (from the user's week start) or month `now` falls in."""
    today = calendar.day(now)
    if period == "day":
        first, after = today, today + timedelta(days=1)
    elif period == "week":
        first = calendar.week_of(today)
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return calendar.day_start(first), calendar.day_start(after)


def budget_uses(
    index: Index, scope: Scope, budgets: Sequence[Budget], calendar: Calendar, now: float
) -> list[BudgetUse]:
    """Each budget's use in its current period, read from the index's sums (no call is read)."""
    uses = []
    for budget in budgets:
        start, end = period_bounds(budget.period, now, calendar)
        wanted = SOURCE_ALIASES.get(budget.source.lower()) if budget.source else None
        sources = tuple(s for s in scope.sources if budget.source is None or s == wanted)
        span = replace(scope, sources=sources, since=start, until=end)
        used = unpriced = 0.0
        for project, _, fresh, written, read, output, _, cost, no_price in index.sums(
            span, "project"
        ):
            if budget.project is None or budget.project in (project, project_folder(project)):
                used += cost if budget.usd is not None else fresh + written + read + output
                unpriced += no_price
        uses.append(BudgetUse(budget, start, end, now, used, int(unpriced)))
    return uses


def current(uses: Sequence[BudgetUse], now: float) -> list[BudgetUse]:
    """The uses whose period still runs at `now`, forecast from `now` (a view's clock moves on
    between two reads of the index)."""
    return [use.at(now) for use in uses if now < use.end]


def budgets_for(
    uses: Sequence[BudgetUse], node: Node, session: Node | None = None
) -> list[BudgetUse]:
    """The budgets a row of the view is clearly under: every one at the root; on a day, week or
    month row, the unfiltered budget of that very period; on a project or source row, and on a
    session and what is below it (`session`), the budgets of its project or source."""
    if node.kind is Kind.ALL:
        return list(uses)
    if node.kind in ABOVE_SESSIONS and node.kind not in (Kind.PROJECT, Kind.SOURCE):
        return [
            use
            for use in uses
            if use.budget.project is None
            and use.budget.source is None
            and use.budget.period == node.kind.value
            and use.start <= node.start
            and node.end < use.end
        ]
    row = session if session is not None else node
    return [
        use
        for use in uses
        if (use.budget.project is not None or use.budget.source is not None)
        and use.budget.counts_all_of(row.project, row.source)
    ]


def row_share(use: BudgetUse, node: Node) -> float | None:
    """A session's, turn's or call's part of the budget's limit, where all of it lies in the
    budget's period (and the budget counts it: see `budgets_for`)."""
    if node.kind in ABOVE_SESSIONS or not (use.start <= node.start and node.end < use.end):
        return None
    totals = node.totals
    return (totals.cost if use.budget.usd is not None else totals.total) / use.limit
