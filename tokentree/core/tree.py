"""Week > Day > Session > Turn > Call: the tree every view and export reads.

Calls are bucketed in the user's time zone; a session that crosses midnight
appears under each day with that day's calls. A turn starts at a real user
prompt and holds every call of its session until the next one, sub-agent
calls included.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from tokentree.core.records import ApiCall, Fidelity, Prompt

QUARTER_HOUR = 900  # every UTC offset in use is a multiple of 15 minutes


class Kind(StrEnum):
    ALL = "all"
    WEEK = "week"
    DAY = "day"
    SESSION = "session"
    TURN = "turn"
    CALL = "call"


CHILD_KIND = {
    Kind.ALL: Kind.WEEK,
    Kind.WEEK: Kind.DAY,
    Kind.DAY: Kind.SESSION,
    Kind.SESSION: Kind.TURN,
    Kind.TURN: Kind.CALL,
}


@dataclass(slots=True)
class Totals:
    """Everything a node aggregates; the parts always add up to the parent's."""

    calls: int = 0
    input: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0
    reasoning: int = 0
    cost: float = 0.0
    unpriced_calls: int = 0
    lower_bound_calls: int = 0
    estimated_calls: int = 0
    subagent_calls: int = 0
    missing_calls: int = 0  # their source file was deleted; kept from the index

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write + self.cache_read

    @property
    def total(self) -> int:
        return self.prompt + self.output

    @property
    def cache_hit(self) -> float | None:
        """Share of the prompt served from cache; None when nothing was sent."""
        return self.cache_read / self.prompt if self.prompt else None

    def add_call(self, call: ApiCall) -> None:
        t = call.tokens
        self.calls += 1
        self.input += t.input
        self.cache_write_5m += t.cache_write_5m
        self.cache_write_1h += t.cache_write_1h
        self.cache_read += t.cache_read
        self.output += t.output
        self.reasoning += t.reasoning
        self.cost += call.cost
        self.unpriced_calls += call.unpriced
        self.lower_bound_calls += call.fidelity is Fidelity.LOWER_BOUND
        self.estimated_calls += call.fidelity is Fidelity.ESTIMATED
        self.subagent_calls += call.subagent
        self.missing_calls += call.file_missing

    def add(self, other: Totals) -> None:
        for name in Totals.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True, eq=False)
class Node:
    """One row of the tree. `key` is unique among siblings; keys joined by '/' make a path."""

    kind: Kind
    key: str
    label: str
    start: float
    end: float
    totals: Totals = field(default_factory=Totals)
    children: list[Node] = field(default_factory=list)
    sessions: int = 0
    turns: int = 0
    models: Counter[str] = field(default_factory=Counter)
    call: ApiCall | None = None
    source: str = ""
    session_id: str = ""
    project: str = ""

    def child(self, key: str) -> Node | None:
        return next((node for node in self.children if node.key == key), None)

    def find(self, path: str) -> Node | None:
        """The node at `path` ('2026-W47/2026-11-21/…'); '' is this node."""
        node: Node | None = self
        for key in filter(None, path.split("/")):
            node = node.child(key) if node else None
        return node

    def walk(self) -> Iterable[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Calendar:
    """How timestamps become days and weeks for this user."""

    zone: tzinfo
    week_start: int = 0  # 0 = Monday … 6 = Sunday

    def day(self, timestamp: float) -> date:
        return datetime.fromtimestamp(timestamp, self.zone).date()

    def week_of(self, day: date) -> date:
        return day - timedelta(days=(day.weekday() - self.week_start) % 7)

    def day_start(self, day: date) -> float:
        """The first instant of a local day (DST-safe)."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp()


def build_tree(
    calls: Sequence[ApiCall], prompts: Sequence[Prompt], calendar: Calendar, label: str = "All time"
) -> Node:
    """The whole tree, aggregates filled in, children in time order."""
    turn_starts = _turn_starts(prompts)
    day_of = _day_cache(calendar)
    grouped: dict[date, dict[date, dict[tuple[str, str], dict[int, list[ApiCall]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    )
    for call in calls:
        day = day_of(call.timestamp)
        starts = turn_starts.get((call.source, call.session_id), ())
        turn = bisect_right(starts, call.timestamp)
        grouped[calendar.week_of(day)][day][(call.source, call.session_id)][turn].append(call)
    root = Node(Kind.ALL, "", label, 0.0, 0.0)
    for week_start, days in sorted(grouped.items()):
        week = _node(Kind.WEEK, week_key(week_start), week_label(week_start))
        for day, sessions in sorted(days.items()):
            day_node = _node(Kind.DAY, day.isoformat(), day_label(day))
            for (source, session_id), turns in sessions.items():
                starts = turn_starts.get((source, session_id), ())
                session = _session_node(source, session_id, turns, starts, calendar.zone)
                day_node.children.append(session)
            day_node.children.sort(key=lambda node: node.start)
            week.children.append(day_node)
        root.children.append(week)
    _aggregate(root, calendar.zone)
    return root


def _turn_starts(prompts: Iterable[Prompt]) -> dict[tuple[str, str], list[float]]:
    starts: dict[tuple[str, str], set[float]] = defaultdict(set)
    for prompt in prompts:
        starts[(prompt.source, prompt.session_id)].add(prompt.timestamp)
    return {key: sorted(values) for key, values in starts.items()}


def _day_cache(calendar: Calendar) -> Callable[[float], date]:
    """Local day of a timestamp, computed once per UTC quarter hour."""
    cache: dict[int, date] = {}

    def day_of(timestamp: float) -> date:
        slot = int(timestamp // QUARTER_HOUR)
        found = cache.get(slot)
        if found is None:
            found = cache[slot] = calendar.day(slot * QUARTER_HOUR)
        return found

    return day_of


def _node(kind: Kind, key: str, label: str) -> Node:
    return Node(kind, key, label, 0.0, 0.0)


def _session_node(
    source: str,
    session_id: str,
    turns: dict[int, list[ApiCall]],
    starts: Sequence[float],
    zone: tzinfo,
) -> Node:
    session = Node(Kind.SESSION, f"{source}:{session_id}", "", 0.0, 0.0)
    session.source, session.session_id = source, session_id
    for number, calls in sorted(turns.items()):
        calls.sort(key=lambda call: call.timestamp)
        began = starts[number - 1] if number > 0 else calls[0].timestamp
        turn = Node(Kind.TURN, str(number), "", began, 0.0)
        for call in calls:
            leaf = Node(Kind.CALL, call.key, call_label(call, zone), call.timestamp, call.timestamp)
            leaf.call = call
            leaf.totals.add_call(call)
            leaf.models[call.model] += 1
            turn.children.append(leaf)
        session.children.append(turn)
        session.project = session.project or next((c.project for c in calls if c.project), "")
    return session


def _aggregate(node: Node, zone: tzinfo) -> set[tuple[str, str]]:
    """Fill totals, spans, models and counts bottom-up; returns the sessions below."""
    if node.kind is Kind.CALL:
        assert node.call is not None
        return {(node.call.source, node.call.session_id)}
    sessions: set[tuple[str, str]] = set()
    starts, ends = [], []
    for child in node.children:
        sessions |= _aggregate(child, zone)
        node.totals.add(child.totals)
        node.models.update(child.models)
        node.turns += 1 if child.kind is Kind.TURN else child.turns
        starts.append(child.start)
        ends.append(child.end)
    if node.kind is not Kind.TURN:
        node.start = min(starts, default=0.0)
    node.end = max(ends, default=node.start)
    node.sessions = len(sessions)
    if node.kind is Kind.TURN:
        node.label = turn_label(node, zone)
    elif node.kind is Kind.SESSION:
        node.label = session_label(node, zone)
    return sessions


# --- labels: read at a glance, built from metadata only ------------------------------------------


def week_key(week_start: date) -> str:
    year, week, _ = (week_start + timedelta(days=(7 - week_start.weekday()) % 7)).isocalendar()
    return f"{year}-W{week:02d}"


def week_label(week_start: date) -> str:
    end = week_start + timedelta(days=6)
    tail = f"{end.day}" if end.month == week_start.month else f"{end:%b} {end.day}"
    return f"{week_key(week_start)}  {week_start:%b} {week_start.day}–{tail}"


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


_DATE_SUFFIX = re.compile(r"-\d{8}$")


def short_model(model: str) -> str:
    """'claude-opus-4-5-20251101' → 'opus-4.5'; other names lose only a date suffix."""
    name = _DATE_SUFFIX.sub("", model)
    if name.startswith("claude-"):
        name = name.removeprefix("claude-")
        name = re.sub(r"-(\d+)-(\d+)$", r"-\1.\2", name)
    return name


def _clock(timestamp: float, zone: tzinfo, seconds: bool = False) -> str:
    return datetime.fromtimestamp(timestamp, zone).strftime("%H:%M:%S" if seconds else "%H:%M")


def session_label(node: Node, zone: tzinfo) -> str:
    project = node.project.rstrip("/").rsplit("/", 1)[-1] or node.session_id[:8]
    models = " + ".join(short_model(model) for model, _ in node.models.most_common(2))
    return f"{project} · {_clock(node.start, zone)}–{_clock(node.end, zone)} · {models}"


def turn_label(node: Node, zone: tzinfo) -> str:
    tools: Counter[str] = Counter()
    for leaf in node.children:
        if leaf.call is not None:
            tools.update(tool.split(" ", 1)[0] for tool in leaf.call.tools)
    mix = " ".join(f"{name}×{count}" for name, count in tools.most_common(4))
    head = f"#{node.key} {_clock(node.start, zone)}" if node.key != "0" else "before first prompt"
    return f"{head} · {mix}" if mix else head


def call_label(call: ApiCall, zone: tzinfo) -> str:
    parts = [_clock(call.timestamp, zone, seconds=True), short_model(call.model)]
    if call.tools:
        more = len(call.tools) - 1
        parts.append(call.tools[0] + (f" +{more}" if more else ""))
    return " ".join(parts)
