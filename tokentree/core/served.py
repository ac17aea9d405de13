"""The tree served by the index: weeks and days from its sums, a day's sessions when opened.

Building the whole tree reads every call: seconds and hundreds of MB for a
heavy user's year. A served tree reads the index's rollup instead, grouped
by local day in SQL (a few queries, whatever the history), and a day's
sessions, turns and calls are read and built the first time that day is
opened, by the same code that builds a whole tree (`build_tree`), so they are
the same rows. Activity comes from the index's activity sums the same way.

Weeks and days are exact: sums, models and sessions come from the rollup less
the copies that do not count; a day's first and last call too (a day whose
first or last time belongs to a copy that does not count asks the copies).
Turns below a day are counted when asked for, which reads that day.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from tokentree.core.attribution import Activity, Bucket
from tokentree.core.index.reader import Reads
from tokentree.core.index.scope import Scope
from tokentree.core.overview import Splits, project_name
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.rows import SUM_NAMES
from tokentree.core.tree import (
    Calendar,
    Kind,
    Node,
    Totals,
    build_tree,
    day_label,
    week_key,
    week_label,
)

SLOTS_PER_DAY = 86_400 // QUARTER_HOUR
_EPOCH = date(1970, 1, 1).toordinal()
_TOTAL_OF = {"unpriced": "unpriced_calls", "lower_bound": "lower_bound_calls"}
_TOTAL_OF |= {"estimated": "estimated_calls", "subagent": "subagent_calls"}
_TOTAL_OF |= {"rewound": "rewound_calls", "fast": "fast_calls"}
_TOTALS = (*(_TOTAL_OF.get(name, name) for name in SUM_NAMES), "missing_calls")
"""The Totals field each rollup sum fills, then the calls of removed logs."""
_SUMS = (*(f"sum({name})" for name in SUM_NAMES), "sum(calls * missing)")
"""The SQL sums of the rollup that fill Totals, in _TOTALS order."""


@dataclass(eq=False)
class ServedTree:
    """A served tree's root, the activity of its weeks and days (and the root), and what it
    was served from; `sessions` holds each day's session keys (weeks count them once)."""

    root: Node
    activity: dict[Node, Activity]
    sessions: dict[str, set[str]]
    reads: Reads
    scope: Scope
    calendar: Calendar

    def splits(self) -> Splits:
        """The whole tree's cost by source, model and project, summed by the index."""
        by_source, by_model, by_project = Counter[str](), Counter[str](), Counter[str]()
        for found, column in ((by_source, "source"), (by_model, "model")):
            for name, cost in self.reads.grouped(self.scope, [column], ["sum(cost)"]):
                found[name] += cost
        for project, cost in self.reads.grouped(self.scope, ["project"], ["sum(cost)"]):
            by_project[project_name(project)] += cost
        return by_source, by_model, by_project

    def grown(self, since: float) -> ServedTree:
        """This tree with its days from the one holding `since` on served again (a live
        refresh changed no call before `since`); the days before are shared."""
        scope, calendar = self.scope, self.calendar
        cut = calendar.day(since)
        fresh = _served_days(
            self.reads,
            replace(scope, since=max(calendar.day_start(cut), scope.since or -math.inf)),
            scope,
            calendar,
        )
        cut_week = week_key(calendar.week_of(cut))
        shared = [week for week in self.root.children if week.key < cut_week]
        kept = [
            day
            for week in self.root.children
            if week.key == cut_week
            for day in week.children
            if day.key < cut.isoformat()
        ]
        still = [*shared, *kept, *(day for week in shared for day in week.children)]
        sessions = {node.key: self.sessions[node.key] for node in still if node.kind is Kind.DAY}
        activity = {node: self.activity[node] for node in still if node in self.activity}
        return _assembled(
            [*kept, *fresh.days],
            sessions | fresh.sessions,
            activity | fresh.activity,
            self,
            shared,
        )


@dataclass
class _Days:
    days: list[Node]
    sessions: dict[str, set[str]]
    activity: dict[Node, Activity]


def served_tree(
    reads: Reads, scope: Scope, calendar: Calendar, label: str = "All time"
) -> ServedTree:
    """The root, weeks and days of the scope, from the index's sums; days load when opened."""
    found = _served_days(reads, scope, scope, calendar)
    template = ServedTree(Node(Kind.ALL, "", label, 0.0, 0.0), {}, {}, reads, scope, calendar)
    return _assembled(found.days, found.sessions, found.activity, template)


def _served_days(reads: Reads, part: Scope, scope: Scope, calendar: Calendar) -> _Days:
    """The days of `part` (the scope, or its newest days) with their sums; a day loads its
    sessions from the whole `scope` (their turns are numbered by every prompt)."""
    day_sql = local_day_sql(calendar, _utc_days(reads, part))
    days: dict[int, Node] = {}
    for day_number, model, *sums in reads.grouped(part, [day_sql, "model"], _SUMS):
        node = days.get(day_number)
        if node is None:
            day = date.fromordinal(_EPOCH + day_number)
            node = days[day_number] = Node(Kind.DAY, day.isoformat(), day_label(day), 0.0, 0.0)
            node._turns = None
            node._loader = _day_loader(reads, scope, calendar, day)
        _add(node.totals, sums)
        node.models[model] += sums[0]
    sessions: dict[str, set[str]] = defaultdict(set)
    for day_number, source, session, _ in reads.grouped(
        part, [day_sql, "source", "session"], ["sum(calls)"]
    ):
        sessions[days[day_number].key].add(f"{source}:{session}")
    _set_spans(reads, part, calendar, days, day_sql)
    activity = _day_activity(reads, part, days, day_sql)
    return _Days([days[number] for number in sorted(days)], sessions, activity)


def _assembled(
    days: list[Node],
    sessions: dict[str, set[str]],
    activity: dict[Node, Activity],
    template: ServedTree,
    shared: Sequence[Node] = (),
) -> ServedTree:
    """Weeks over these days (in time order), after the `shared` weeks before them (kept
    whole from the last tree), and the root over all; their sums added up."""
    calendar = template.calendar
    root = Node(Kind.ALL, "", template.root.label, 0.0, 0.0)
    root._turns = None
    root.children.extend(shared)
    everyone = {key for week in shared for day in week.children for key in sessions[day.key]}
    weeks: dict[date, tuple[Node, set[str]]] = {}
    for day_node in days:
        keys = sessions.get(day_node.key, set())
        day_node.sessions = len(keys)
        starts = calendar.week_of(date.fromisoformat(day_node.key))
        if starts not in weeks:
            week = Node(Kind.WEEK, week_key(starts), week_label(starts), 0.0, 0.0)
            week._turns = None
            weeks[starts] = (week, set())
            root.children.append(week)
        week, week_keys = weeks[starts]
        week.children.append(day_node)
        week_keys |= keys
    for week, keys in weeks.values():
        _merge(week, len(keys), activity)
        everyone |= keys
    _merge(root, len(everyone), activity)
    return ServedTree(root, activity, sessions, template.reads, template.scope, template.calendar)


def _add(totals: Totals, sums: Sequence[Any]) -> None:
    for name, value in zip(_TOTALS, sums, strict=True):
        setattr(totals, name, getattr(totals, name) + value)


def _merge(node: Node, sessions: int, activity: dict[Node, Activity]) -> None:
    """A week's or the root's sums, models, span and activity from its children's."""
    summed = activity.setdefault(node, Activity())
    for child in node.children:
        node.totals.add(child.totals)
        node.models.update(child.models)
        summed.add(activity.setdefault(child, Activity()))
    node.start = min((child.start for child in node.children), default=0.0)
    node.end = max((child.end for child in node.children), default=0.0)
    node.sessions = sessions


def _utc_days(reads: Reads, scope: Scope) -> list[int]:
    return sorted(row[0] for row in reads.grouped(scope, [f"slot / {SLOTS_PER_DAY}"], ["1"]))


def local_day_sql(calendar: Calendar, utc_days: Sequence[int]) -> str:
    """SQL of the local day number (days since 1970-01-01) of a rollup `slot`, for the
    calendar's zone: its UTC offset, piece by piece over the UTC days that have calls."""
    pieces: list[tuple[int, int]] = []  # (first slot, offset in slots from there on)
    for utc_day in utc_days:
        first, after = utc_day * SLOTS_PER_DAY, (utc_day + 1) * SLOTS_PER_DAY
        for slot in (first, _change(calendar, first, after)):
            if slot is not None and (not pieces or pieces[-1][1] != _offset(calendar, slot)):
                pieces.append((slot, _offset(calendar, slot)))
    local = f"slot + {pieces[-1][1] if pieces else 0}"
    if len(pieces) > 1:
        cases = " ".join(
            f"WHEN slot < {start} THEN slot + {shift}"
            for (_, shift), (start, _) in zip(pieces, pieces[1:], strict=False)
        )
        local = f"CASE {cases} ELSE {local} END"
    whole = SLOTS_PER_DAY
    return f"((({local}) - ((({local}) % {whole}) + {whole}) % {whole}) / {whole})"


def _offset(calendar: Calendar, slot: int) -> int:
    """The zone's UTC offset at the start of a quarter hour, in quarter hours."""
    moment = datetime.fromtimestamp(slot * QUARTER_HOUR, calendar.zone)
    return int((moment.utcoffset() or timedelta()).total_seconds()) // QUARTER_HOUR


def _change(calendar: Calendar, first: int, after: int) -> int | None:
    """The first quarter hour in [first, after) with another offset than `first`'s (a day
    changes its offset at most once), or None."""
    start = _offset(calendar, first)
    if _offset(calendar, after - 1) == start:
        return None
    low, high = first, after - 1  # offset(low) == start != offset(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _offset(calendar, middle) == start else (low, middle)
    return high


def _set_spans(
    reads: Reads, scope: Scope, calendar: Calendar, days: dict[int, Node], day_sql: str
) -> None:
    """Each day's first and last call; asked of the copies where a copy that does not
    count could be the one the rollup's times came from."""
    for day_number, first, last in reads.grouped(scope, [day_sql], ["min(first)", "max(last)"]):
        days[day_number].start, days[day_number].end = first, last
    doubtful = {
        day_number
        for day_number, ts in reads.loser_times(scope, [day_sql])
        if day_number in days and ts in (days[day_number].start, days[day_number].end)
    }
    for day_number in doubtful:
        span = reads.span(_day_scope(scope, calendar, date.fromordinal(_EPOCH + day_number)))
        if span is not None:
            days[day_number].start, days[day_number].end = span


def _day_activity(
    reads: Reads, scope: Scope, days: dict[int, Node], day_sql: str
) -> dict[Node, Activity]:
    activity: dict[Node, Activity] = {}
    for (day_number, code), (tokens, cost) in reads.activity(scope, [day_sql]).items():
        node = days.get(day_number)
        if node is not None:
            part = activity.setdefault(node, Activity())
            bucket = Bucket.of_code(code)
            part.tokens[bucket] = tokens
            part.cost[bucket] = cost
    return activity


def _day_scope(scope: Scope, calendar: Calendar, day: date) -> Scope:
    since = calendar.day_start(day)
    until = calendar.day_start(day + timedelta(days=1))
    return replace(
        scope,
        since=max(since, -math.inf if scope.since is None else scope.since),
        until=min(until, math.inf if scope.until is None else scope.until),
    )


def _day_loader(
    reads: Reads, scope: Scope, calendar: Calendar, day: date
) -> Callable[[], list[Node]]:
    """Reads the day's calls and its sessions' prompts, and builds its sessions as a whole
    tree would (turns are numbered by all the session's prompts in scope)."""

    def load() -> list[Node]:
        calls = reads.calls(_day_scope(scope, calendar, day))
        prompts = reads.prompts(scope, {(call.source, call.session_id) for call in calls})
        tree = build_tree(calls, prompts, calendar)
        return [
            session
            for week in tree.children
            for built in week.children
            for session in built.children
        ]

    return load
