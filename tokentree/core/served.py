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

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from tokentree.core.attribution import Activity, Bucket
from tokentree.core.index.reader import Reads
from tokentree.core.index.scope import Scope
from tokentree.core.overview import Splits
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.rows import SUM_NAMES
from tokentree.core.tree import (
    Calendar,
    Kind,
    Node,
    Totals,
    build_tree,
    day_label,
    project_name,
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
TOTAL_SUMS = (*(f"sum({name})" for name in SUM_NAMES), "sum(calls * missing)")
"""The SQL sums of the rollup that fill Totals, in _TOTALS order."""
_COST = _TOTALS.index("cost")


Keep = Callable[[str, int, dict[int, bytes], int], None]
"""Stores a view's fresh days (Index.keep_days): view, generation, records by day, first day."""


@dataclass(eq=False)
class ServedTree:
    """A served tree's root, the activity of its weeks and days (and the root), and what it
    was served from; `sessions` holds each day's session keys (weeks count them once), and
    `generation` the index's change log as it was served."""

    root: Node
    activity: dict[Node, Activity]
    sessions: dict[str, set[str]]
    reads: Reads
    scope: Scope
    calendar: Calendar
    generation: int = 0
    keep: Keep | None = None
    records: dict[str, Any] = field(default_factory=dict)
    """Each day's record (by key), see `_records`."""

    @property
    def view(self) -> str:
        return view_of(self.scope, self.calendar)

    def stamp(self, day: str) -> str | None:
        """A day's stamp: a digest of its record, the same while its calls are."""
        record = self.records.get(day)
        if record is None:
            return None
        return hashlib.blake2b(orjson.dumps(_settled(record)), digest_size=12).hexdigest()

    def splits(self) -> Splits:
        """The whole tree's cost by source, model and project, from its days' records."""
        by_source, by_model, by_project = Counter[str](), Counter[str](), Counter[str]()
        for record in self.records.values():
            for model, *sums in record["models"]:
                by_model[model] += sums[_COST]
            for source, cost in record["sources"]:
                by_source[source] += cost
            for project, cost in record["projects"]:
                by_project[project_name(project)] += cost
        return by_source, by_model, by_project

    def grown(self) -> ServedTree:
        """This tree brought up to date: the days from the earliest change on served again,
        the days before shared (opened ones stay open); itself when nothing changed."""
        generation, since = self.reads.changed(self.scope, self.generation)
        if since is None:
            return self
        if since == -math.inf:
            return served_tree(self.reads, self.scope, self.calendar, self.root.label, self.keep)
        calendar = self.calendar
        cut = calendar.day(since)
        fresh = _fresh_days(self, generation, _number(cut))
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
        records = {key: self.records[key] for key in sessions}
        days = _Days(
            [*kept, *fresh.days],
            sessions | fresh.sessions,
            activity | fresh.activity,
            records | fresh.records,
        )
        return _assembled(days, replace(self, generation=generation), shared)


@dataclass
class _Days:
    days: list[Node]
    sessions: dict[str, set[str]]
    activity: dict[Node, Activity]
    records: dict[str, Any]


def served_tree(
    reads: Reads,
    scope: Scope,
    calendar: Calendar,
    label: str = "All time",
    keep: Keep | None = None,
) -> ServedTree:
    """The root, weeks and days of the scope, from the index's sums; days load when opened.

    The days a view kept (`keep` stores them) are taken as kept up to the
    earliest change since; only the days from there on are summed again.
    """
    seen, stored = reads.kept_days(scope, view_of(scope, calendar))
    generation, since = reads.changed(scope, seen)
    root = Node(Kind.ALL, "", label, 0.0, 0.0)
    template = ServedTree(root, {}, {}, reads, scope, calendar, generation, keep)
    records = {number: orjson.loads(record) for number, record in stored.items()}
    if since is not None:
        first = _FIRST if since == -math.inf else _number(calendar.day(since))
        records = {number: record for number, record in records.items() if number < first}
        records |= _fresh_records(template, generation, first)
    found = _days_of(records, reads, scope, calendar)
    return _assembled(found, template)


def view_of(scope: Scope, calendar: Calendar) -> str:
    """The name a scope seen in the calendar's zone keeps its days under."""
    zone = getattr(calendar.zone, "key", None) or str(calendar.zone)
    named = [RECORD_FORMAT, scope.roots, scope.sources, scope.since, scope.until, zone]
    if scope.only is not None:
        named.append(repr(scope.only))
    return orjson.dumps(named).decode()


RECORD_FORMAT = 2  # 2: the cache waste summed
"""Changes with what a day's record holds: days kept in another format are served again."""
_FIRST = -(2**40)
"""A day number before any day: serve all of them."""


def _number(day: date) -> int:
    return day.toordinal() - _EPOCH


def _fresh_records(tree: ServedTree, generation: int, first: int) -> dict[int, Any]:
    """The records of the tree's days from day `first` on, summed now, and kept."""
    scope, calendar = tree.scope, tree.calendar
    since = -math.inf if first == _FIRST else calendar.day_start(_day(first))
    part = replace(scope, since=max(since, scope.since or -math.inf))
    if part.since == -math.inf:
        part = replace(part, since=None)
    records = _records(tree.reads, part, calendar)
    if tree.keep is not None:
        encoded = {number: orjson.dumps(record) for number, record in records.items()}
        tree.keep(view_of(scope, calendar), generation, encoded, first)
    return records


def _fresh_days(tree: ServedTree, generation: int, first: int) -> _Days:
    records = _fresh_records(tree, generation, first)
    return _days_of(records, tree.reads, tree.scope, tree.calendar)


def _day(number: int) -> date:
    return date.fromordinal(_EPOCH + number)


def _records(reads: Reads, part: Scope, calendar: Calendar) -> dict[int, Any]:
    """Each local day of `part` with calls, as a record (plain data, kept as JSON): its sums
    per model, its sessions, its first and last call, its activity per bucket, its cost per
    source and project."""
    day_sql = local_day_sql(calendar, _utc_days(reads, part))
    records: dict[int, Any] = {}
    for day_number, model, *sums in reads.grouped(part, [day_sql, "model"], TOTAL_SUMS):
        record = records.setdefault(day_number, _new_record())
        record["models"].append([model, *sums])
    for day_number, source, session, _ in reads.grouped(
        part, [day_sql, "source", "session"], ["sum(calls)"]
    ):
        records[day_number]["sessions"].append(f"{source}:{session}")
    for column in ("source", "project"):  # the overview's cost splits
        for day_number, name, cost in reads.grouped(part, [day_sql, column], ["sum(cost)"]):
            records[day_number][f"{column}s"].append([name, cost])
    _set_spans(reads, part, calendar, records, day_sql)
    for (day_number, code), (tokens, cost) in reads.activity(part, [day_sql]).items():
        if day_number in records:
            records[day_number]["activity"].append([code, tokens, cost])
    return records


def _new_record() -> dict[str, Any]:
    return {"span": [0.0, 0.0], "sessions": []} | {key: [] for key in _SUMMED}


_SUMMED = ("models", "activity", "sources", "projects")


def _settled(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its sums to the nano-dollar: the same calls summed in another order (a
    day served alone, or with the whole history) give the same settled record."""
    return record | {
        key: [[round(v, 9) if isinstance(v, float) else v for v in row] for row in record[key]]
        for key in _SUMMED
    }


def _days_of(records: dict[int, Any], reads: Reads, scope: Scope, calendar: Calendar) -> _Days:
    """The day nodes of these records, in time order; a day loads its sessions from the whole
    `scope` when opened (their turns are numbered by every prompt)."""
    days: list[Node] = []
    sessions: dict[str, set[str]] = {}
    activity: dict[Node, Activity] = {}
    by_key: dict[str, Any] = {}
    for day_number in sorted(records):
        record, day = records[day_number], _day(day_number)
        by_key[day.isoformat()] = record
        node = Node(Kind.DAY, day.isoformat(), day_label(day), *record["span"])
        node._turns = None
        node._loader = _day_loader(reads, scope, calendar, day)
        for model, *sums in record["models"]:
            add_sums(node.totals, sums)
            node.models[model] += sums[0]
        days.append(node)
        sessions[node.key] = set(record["sessions"])
        if record["activity"]:
            part = activity[node] = Activity()
            for code, tokens, cost in record["activity"]:
                bucket = Bucket.of_code(code)
                part.tokens[bucket] = tokens
                part.cost[bucket] = cost
    return _Days(days, sessions, activity, by_key)


def _assembled(found: _Days, template: ServedTree, shared: Sequence[Node] = ()) -> ServedTree:
    """Weeks over these days (in time order), after the `shared` weeks before them (kept
    whole from the last tree), and the root over all; their sums added up."""
    calendar, sessions, activity = template.calendar, found.sessions, found.activity
    root = Node(Kind.ALL, "", template.root.label, 0.0, 0.0)
    root._turns = None
    root.children.extend(shared)
    everyone = {key for week in shared for day in week.children for key in sessions[day.key]}
    weeks: dict[date, tuple[Node, set[str]]] = {}
    for day_node in found.days:
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
        merge_served(week, len(keys), activity)
        everyone |= keys
    merge_served(root, len(everyone), activity)
    return replace(template, root=root, activity=activity, sessions=sessions, records=found.records)


def add_sums(totals: Totals, sums: Sequence[Any]) -> None:
    for name, value in zip(_TOTALS, sums, strict=True):
        setattr(totals, name, getattr(totals, name) + value)


def merge_served(node: Node, sessions: int, activity: dict[Node, Activity]) -> None:
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
    reads: Reads, scope: Scope, calendar: Calendar, records: dict[int, Any], day_sql: str
) -> None:
    """Each day's first and last call; asked of the copies where a copy that does not
    count could be the one the rollup's times came from."""
    for day_number, first, last in reads.grouped(scope, [day_sql], ["min(first)", "max(last)"]):
        records[day_number]["span"] = [first, last]
    doubtful = {
        day_number
        for day_number, ts in reads.loser_times(scope, [day_sql])
        if day_number in records and ts in records[day_number]["span"]
    }
    for day_number in doubtful:
        span = reads.span(_day_scope(scope, calendar, _day(day_number)))
        if span is not None:
            records[day_number]["span"] = list(span)


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
