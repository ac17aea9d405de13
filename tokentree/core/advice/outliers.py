"""Where the money went: the period's oversized turns, and a session or project taking an
outsized share of it. Tallies like period_rules: they keep numbers of each session in the
pass (a cost per turn, the facts of the few biggest turns, a cost per session and period)."""

from __future__ import annotations

from bisect import insort
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokentree import format as fmt
from tokentree.core.advice.context import (
    Context,
    Place,
    Session,
    median,
    period_name,
    prompt,
)
from tokentree.core.advice.digest import Part, place_of
from tokentree.core.advice.report import join
from tokentree.core.attribution import turn_calls
from tokentree.core.pricing import PER_MILLION
from tokentree.core.records import ApiCall
from tokentree.core.tree import Kind, Node, project_name


@dataclass(slots=True)
class _BigTurn:
    """What the message about one of the biggest turns says, read while its day was loaded."""

    place: Place
    cost: float
    order: int
    calls: int
    dominant: str
    dominant_cost: float
    kinds: dict[str, float]
    peak: int
    tools: str


def _big_data(big: _BigTurn) -> list[Any]:
    return [big.place, *(getattr(big, name) for name in _BigTurn.__slots__[1:])]


def _big_of(data: list[Any], offset: int) -> _BigTurn:
    """A big turn of a session's part; its order counted in the whole pass (from 1)."""
    place, cost, order, *rest = data
    return _BigTurn(place_of(place), cost, offset + order + 1, *rest)


class TurnTally:
    """oversized_turns: every turn's cost for the median, and the facts of the biggest few."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.costs: list[float] = []
        self.top: list[_BigTurn] = []
        """The biggest turns so far, biggest first (the earlier of two that cost the same)."""

    def part(self, session: Session) -> Part:
        """Every turn's cost, and the facts of the session's biggest few (the period's
        biggest are among them)."""
        top = self.context.settings.oversized_turns.top
        costs = [turn.totals.cost for turn in session.turns]
        biggest = sorted(range(len(costs)), key=lambda number: (-costs[number], number))[:top]
        facts = [self._facts(session, session.turns[number], number) for number in biggest]
        return [costs, [_big_data(big) for big in facts]]

    def add_part(self, part: Part) -> None:
        costs, bigs = part
        top = self.context.settings.oversized_turns.top
        offset = len(self.costs)
        self.costs += costs
        for data in bigs:
            if len(self.top) < top or (self.top and data[1] > self.top[-1].cost):
                big = _big_of(data, offset)  # only now: a year's sessions have 30k big turns
                insort(self.top, big, key=lambda big: (-big.cost, big.order))
                del self.top[top:]

    def _facts(self, session: Session, turn: Node, order: int) -> _BigTurn:
        context = self.context
        calls = turn_calls(turn)
        activity = context.activity(turn)
        dominant = activity.dominant() or "conversation"
        kinds = self._cost_by_kind(calls)
        tools = Counter(label.split(" ", 1)[0] for call in calls for label in call.tools)
        place = Place(
            context.keep(turn),
            join(session.place.path, turn.key),
            f"{session.place.where} · turn #{turn.key}",
        )
        return _BigTurn(
            place,
            turn.totals.cost,
            order,
            len(calls),
            dominant,
            activity.classes().get(dominant, (0, 0.0))[1],
            kinds,
            max((prompt(call.tokens) for call in calls), default=0),
            " ".join(f"{name}×{count}" for name, count in tools.most_common(3)),
        )

    def _cost_by_kind(self, calls: Iterable[ApiCall]) -> dict[str, float]:
        kinds = dict.fromkeys(("input", "cache_write", "cache_read", "output"), 0.0)
        for call in calls:
            rates = self.context.rates(call)
            if rates is None:
                continue
            t = call.tokens
            kinds["input"] += t.input * rates.input / PER_MILLION
            kinds["cache_write"] += (
                t.cache_write_5m * rates.cache_write_5m + t.cache_write_1h * rates.cache_write_1h
            ) / PER_MILLION
            kinds["cache_read"] += t.cache_read * rates.cache_read / PER_MILLION
            kinds["output"] += t.output * rates.output / PER_MILLION
        return kinds

    def finish(self) -> None:
        s = self.context.settings.oversized_turns
        if len(self.costs) < s.min_turns:
            return
        middle = median(self.costs)
        if middle <= 0:
            return
        for big in self.top:
            cost = big.cost
            if cost < s.min_factor * middle:
                break
            share = big.dominant_cost / cost
            kind, kind_cost = max(big.kinds.items(), key=lambda item: item[1])
            turn = big.place.node.key
            message = (
                f"turn #{turn} cost ${cost:,.2f}, {cost / middle:.0f}× your median turn "
                f"(${middle:,.2f}): {big.calls} calls, {big.dominant} {share:.0%} of it"
                + (f" ({big.tools})" if big.tools else "")
                + f"; {kind.replace('_', ' ')} made {kind_cost / cost:.0%} of the cost, "
                f"context up to {fmt.tokens(big.peak)}."
            )
            evidence = {
                "cost_usd": round(cost, 6),
                "median_turn_usd": round(middle, 6),
                "factor": round(cost / middle, 2),
                "calls": big.calls,
                "dominant_activity": big.dominant,
                "dominant_share": round(share, 6),
                "cost_by_kind": {name: round(value, 6) for name, value in big.kinds.items()},
                "peak_context": big.peak,
            }
            self.context.emit("oversized_turns", big.place, message, evidence)


class _Part(NamedTuple):
    """A session's part of a period (a session that crosses midnight has one per day)."""

    cost: float
    path: str
    where: str


@dataclass(slots=True)
class _Period:
    node: Node
    path: str
    sessions: dict[tuple[str, str], list[_Part]] = field(default_factory=lambda: defaultdict(list))
    projects: Counter[str] = field(default_factory=Counter)


class ConcentrationTally:
    """concentration: each session's cost in the whole range and in its week."""

    def __init__(self, context: Context) -> None:
        self.context = context
        root = context.root
        self.periods: list[_Period] = []
        self.weeks: dict[str, _Period] = {}
        if root.kind in (Kind.ALL, Kind.WEEK):
            self.periods.append(_Period(root, context.base_path))
        if root.kind is Kind.ALL and len(root.children) > 1:
            for week in root.children:
                self.weeks[week.key] = _Period(week, join(context.base_path, week.key))
            self.periods += self.weeks.values()

    def part(self, session: Session) -> Part:
        node, place, week = session.node, session.place, session.week
        key = None if week is None else week.key
        cost = node.totals.cost
        return [cost, place.path, place.where, node.source, node.session_id, node.project, key]

    def add_part(self, data: Part) -> None:
        if not self.periods:
            return
        cost, path, where, source, session_id, project, week_key = data
        part = _Part(cost, path, where)
        week = self.weeks.get(week_key) if week_key is not None else None
        for period in (self.periods[0], week):
            if period is not None:
                period.sessions[(source, session_id)].append(part)
                period.projects[project] += part.cost

    def finish(self) -> None:
        for period in self.periods:
            self._period(period)

    def _period(self, period: _Period) -> None:
        s = self.context.settings.concentration
        total = period.node.totals.cost
        by_session, by_project = period.sessions, period.projects
        if total <= 0 or len(by_session) < s.min_sessions:
            return
        place = Place(period.node, period.path, period.node.label)
        parts = max(by_session.values(), key=lambda parts: sum(p.cost for p in parts))
        cost = sum(part.cost for part in parts)
        if cost / total >= s.session_share:
            biggest = max(parts, key=lambda part: part.cost)
            report = self.context.report
            inside = sum(item.saving_usd for part in parts for item in report.for_path(part.path))
            message = (
                f"one session took {cost / total:.0%} of {period_name(period.node)}: "
                f"{biggest.where} (${cost:,.2f} of ${total:,.2f})"
                + (f"; its advice would save ≈ ${inside:,.2f}." if inside else ".")
            )
            evidence = {
                "session": biggest.path,
                "share": round(cost / total, 6),
                "cost_usd": round(cost, 6),
                "period_cost_usd": round(total, 6),
                "sessions_in_period": len(by_session),
                "advice_saving_usd": round(inside, 6),
            }
            self.context.emit("concentration", place, message, evidence)
        if len(by_project) >= 3:
            project, cost = by_project.most_common(1)[0]
            if cost / total >= s.project_share:
                message = (
                    f"one project took {cost / total:.0%} of {period_name(period.node)}: "
                    f"{project_name(project)} (${cost:,.2f} of ${total:,.2f}, "
                    f"{len(by_project)} projects)."
                )
                evidence = {
                    "project": project,
                    "share": round(cost / total, 6),
                    "cost_usd": round(cost, 6),
                    "period_cost_usd": round(total, 6),
                }
                self.context.emit("concentration", place, message, evidence)
