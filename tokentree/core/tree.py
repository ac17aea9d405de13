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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import cache, partial

from tokentree.core.records import QUARTER_HOUR, ApiCall, Fidelity, Prompt

Clock = Callable[[float, bool], str]
"""Local 'HH:MM' (or 'HH:MM:SS' when asked) of a timestamp."""


class Kind(StrEnum):
    ALL = "all"
    WEEK = "week"
    MONTH = "month"
    DAY = "day"
    PROJECT = "project"
    MODEL = "model"
    SOURCE = "source"
    MACHINE = "machine"
    SESSION = "session"
    TURN = "turn"
    CALL = "call"


CHILD_KIND = {
    Kind.ALL: Kind.WEEK,
    Kind.WEEK: Kind.DAY,
    Kind.MONTH: Kind.DAY,
    Kind.DAY: Kind.SESSION,
    Kind.PROJECT: Kind.SESSION,
    Kind.MODEL: Kind.DAY,
    Kind.SOURCE: Kind.DAY,
    Kind.MACHINE: Kind.DAY,
    Kind.SESSION: Kind.TURN,
    Kind.TURN: Kind.CALL,
}
"""What a node of each kind holds (the view's groupings below the top: core/grouping.py)."""
ABOVE_SESSIONS = frozenset(
    kind for kind in Kind if kind not in (Kind.SESSION, Kind.TURN, Kind.CALL)
)
"""The kinds that group sessions: they count sessions, and sum their children."""


class Grouping(StrEnum):
    """What the view's top level lists; `b` cycles them in this order."""

    WEEK = "week"
    MONTH = "month"
    DAY = "day"
    PROJECT = "project"
    MODEL = "model"
    SOURCE = "source"
    MACHINE = "machine"  # other machines' ledgers in the view (config `machines`)

    def next(self, skipped: Collection[Grouping] = ()) -> Grouping:
        """The grouping after this one, less the `skipped` (machine, when the view holds this
        machine's calls alone)."""
        members = [member for member in Grouping if member is self or member not in skipped]
        return members[(members.index(self) + 1) % len(members)]


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
    rewound_calls: int = 0  # undone in the chat afterwards, still paid for
    fast_calls: int = 0  # billed in a fast mode, at its own rates
    web_searches: int = 0  # server-side web searches, billed per search on top of tokens
    source_cost_calls: int = 0  # calls whose assistant logged its own cost (OpenCode)
    source_cost: float = 0.0  # what the assistant itself logged for them
    source_cost_ours: float = 0.0  # our cost of those same calls, to compare with
    cache_waste: float = 0.0  # USD of history sent again without the cache (cache_misses.py)

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
        self.add_calls((call,))

    def add_calls(self, calls: Iterable[ApiCall]) -> None:
        """Add calls up in local variables, then once here: a warm start adds every call."""
        count = fresh = write_5m = write_1h = cache_read = output = reasoning = 0
        unpriced = lower_bound = estimated = subagent = missing = rewound = fast = searches = 0
        cost = waste = 0.0
        for call in calls:
            t = call.tokens
            count += 1
            fresh += t.input
            write_5m += t.cache_write_5m
            write_1h += t.cache_write_1h
            cache_read += t.cache_read
            output += t.output
            reasoning += t.reasoning
            cost += call.cost
            unpriced += call.unpriced
            lower_bound += call.fidelity is Fidelity.LOWER_BOUND
            estimated += call.fidelity is Fidelity.ESTIMATED
            subagent += call.subagent
            missing += call.file_missing
            rewound += call.rewound
            fast += call.speed == "fast"
            searches += call.web_searches
            waste += call.cache_waste
            if call.source_cost is not None:
                self.source_cost_calls += 1
                self.source_cost += call.source_cost
                self.source_cost_ours += call.cost
        self.calls += count
        self.input += fresh
        self.cache_write_5m += write_5m
        self.cache_write_1h += write_1h
        self.cache_read += cache_read
        self.output += output
        self.reasoning += reasoning
        self.cost += cost
        self.unpriced_calls += unpriced
        self.lower_bound_calls += lower_bound
        self.estimated_calls += estimated
        self.subagent_calls += subagent
        self.missing_calls += missing
        self.rewound_calls += rewound
        self.fast_calls += fast
        self.web_searches += searches
        self.cache_waste += waste

    def add(self, other: Totals) -> None:
        self.calls += other.calls
        self.input += other.input
        self.cache_write_5m += other.cache_write_5m
        self.cache_write_1h += other.cache_write_1h
        self.cache_read += other.cache_read
        self.output += other.output
        self.reasoning += other.reasoning
        self.cost += other.cost
        self.unpriced_calls += other.unpriced_calls
        self.lower_bound_calls += other.lower_bound_calls
        self.estimated_calls += other.estimated_calls
        self.subagent_calls += other.subagent_calls
        self.missing_calls += other.missing_calls
        self.rewound_calls += other.rewound_calls
        self.fast_calls += other.fast_calls
        self.web_searches += other.web_searches
        self.source_cost_calls += other.source_cost_calls
        self.source_cost += other.source_cost
        self.source_cost_ours += other.source_cost_ours
        self.cache_waste += other.cache_waste


@dataclass(slots=True, eq=False)
class Node:
    """One row of the tree. `key` is unique among siblings; keys joined by '/' make a path."""

    kind: Kind
    key: str
    _label: str
    start: float
    end: float
    totals: Totals = field(default_factory=Totals)
    sessions: int = 0
    _turns: int | None = 0
    models: Counter[str] = field(default_factory=Counter)
    call: ApiCall | None = None
    machines: int = 0  # the machines its calls were made on, where more than this one
    source: str = ""
    session_id: str = ""
    project: str = ""
    _children: list[Node] = field(default_factory=list, repr=False)
    _unbuilt_calls: tuple[list[ApiCall], Clock] | None = field(default=None, repr=False)
    _label_of: Callable[[], str] | None = field(default=None, repr=False)
    _loader: Callable[[], list[Node]] | None = field(default=None, repr=False)
    _loaded: bool = field(default=False, repr=False)

    @property
    def label(self) -> str:
        """A turn's label (its tool mix) is made the first time it is asked for: most never are."""
        if self._label_of is not None:
            self._label = self._label_of()
            self._label_of = None  # after: another thread may be reading the label
        return self._label

    @label.setter
    def label(self, value: str) -> None:
        self._label, self._label_of = value, None

    @property
    def children(self) -> list[Node]:
        """A turn's call rows are made the first time they are asked for: most never are;
        so are a served day's sessions (served.py)."""
        if self._unbuilt_calls is not None:
            calls, clock = self._unbuilt_calls
            self._children = [_call_node(call, clock) for call in calls]
            self._unbuilt_calls = None  # only now: another thread may be reading the calls
        elif self._loader is not None and not self._loaded:
            self._children = self._loader()
            self._loaded = True
        return self._children

    @property
    def loaded(self) -> bool:
        """Whether the children are at hand (a served day's are read when first asked for)."""
        return self._loader is None or self._loaded

    def unload(self) -> None:
        """Drop a served day's children, read again when next asked for: a pass over a year
        (advice, an export) holds one day at a time."""
        if self._loader is not None:
            self._loaded, self._children = False, []

    @property
    def turns(self) -> int:
        """Turns with calls below this node; a served node counts its children's when asked."""
        if self._turns is None:
            return sum(child.turns for child in self.children)
        return self._turns

    @turns.setter
    def turns(self, value: int) -> None:
        self._turns = value

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
        return week_of(day, self.week_start)

    def day_start(self, day: date) -> float:
        """The first instant of a local day (DST-safe)."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp()


def build_tree(
    calls: Sequence[ApiCall], prompts: Sequence[Prompt], calendar: Calendar, label: str = "All time"
) -> Node:
    """The whole tree, aggregates filled in, children in time order."""
    turn_starts = _turn_starts(prompts)
    day_of = _day_cache(calendar)
    clock = _clock_cache(calendar.zone)
    by_day: dict[date, dict[tuple[str, str], dict[int, list[ApiCall]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for call in calls:
        session = (call.source, call.session_id)
        turn = bisect_right(turn_starts.get(session, ()), call.timestamp)
        by_day[day_of(call.timestamp)][session][turn].append(call)
    grouped: dict[date, dict[date, dict[tuple[str, str], dict[int, list[ApiCall]]]]] = {}
    for day, day_sessions in by_day.items():
        grouped.setdefault(calendar.week_of(day), {})[day] = day_sessions
    root = Node(Kind.ALL, "", label, 0.0, 0.0)
    all_sessions: set[tuple[str, str]] = set()
    for week_start, days in sorted(grouped.items()):
        week = _node(Kind.WEEK, week_key(week_start), week_label(week_start))
        week_sessions: set[tuple[str, str]] = set()
        for day, sessions in sorted(days.items()):
            day_node = _node(Kind.DAY, day.isoformat(), day_label(day))
            for (source, session_id), turns in sessions.items():
                starts = turn_starts.get((source, session_id), ())
                day_node.children.append(_session_node(source, session_id, turns, starts, clock))
            day_node.children.sort(key=lambda node: node.start)
            _merge_children(day_node, len(sessions))
            # a day spans its calls (a turn it continues may have begun the day before)
            day_node.start = min(  # each turn's calls were sorted by _session_node
                calls[0].timestamp for turns in sessions.values() for calls in turns.values()
            )
            week_sessions.update(sessions)
            week.children.append(day_node)
        _merge_children(week, len(week_sessions))
        all_sessions |= week_sessions
        root.children.append(week)
    _merge_children(root, len(all_sessions))
    return root


def build_sessions(
    calls: Sequence[ApiCall], prompts: Sequence[Prompt], calendar: Calendar
) -> list[Node]:
    """Each session whole, across the days it spans (a project's sessions), oldest first."""
    turn_starts = _turn_starts(prompts)
    clock = _clock_cache(calendar.zone)
    by_session: dict[tuple[str, str], dict[int, list[ApiCall]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for call in calls:
        session = (call.source, call.session_id)
        by_session[session][bisect_right(turn_starts.get(session, ()), call.timestamp)].append(call)
    nodes = [
        _session_node(source, session_id, turns, turn_starts.get((source, session_id), ()), clock)
        for (source, session_id), turns in by_session.items()
    ]
    return sorted(nodes, key=lambda node: node.start)


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


def _clock_cache(zone: tzinfo) -> Clock:
    """Local 'HH:MM[:SS]' of a timestamp; the zone's offset is looked up once per quarter hour."""
    offsets: dict[int, float] = {}

    def clock(timestamp: float, seconds: bool = False) -> str:
        slot = int(timestamp // QUARTER_HOUR)
        offset = offsets.get(slot)
        if offset is None:
            moment = datetime.fromtimestamp(slot * QUARTER_HOUR, zone)
            offset = offsets[slot] = (moment.utcoffset() or timedelta()).total_seconds()
        minutes, second = divmod(int(timestamp + offset) % 86_400, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}" if seconds else f"{hour:02d}:{minute:02d}"

    return clock


def _node(kind: Kind, key: str, label: str) -> Node:
    return Node(kind, key, label, 0.0, 0.0)


def _session_node(
    source: str,
    session_id: str,
    turns: dict[int, list[ApiCall]],
    starts: Sequence[float],
    clock: Clock,
) -> Node:
    """A session's turns and calls; turns sum their calls directly, the session its turns."""
    session = Node(Kind.SESSION, f"{source}:{session_id}", "", 0.0, 0.0)
    session.source, session.session_id = source, session_id
    for number, calls in sorted(turns.items()):
        calls.sort(key=lambda call: call.timestamp)
        began = starts[number - 1] if number > 0 else calls[0].timestamp
        turn = Node(Kind.TURN, str(number), "", began, calls[-1].timestamp, sessions=1)
        turn._unbuilt_calls = (calls, clock)
        turn.totals.add_calls(calls)
        turn.models.update(call.model for call in calls)
        turn._label_of = partial(turn_label, number, began, calls, clock)
        session.children.append(turn)
        session.project = session.project or next((c.project for c in calls if c.project), "")
    _merge_children(session, 1)
    session.start = session.children[0].start if session.children else 0.0
    session.turns = len(session.children)
    session.label = session_label(session, clock)
    return session


def _call_node(call: ApiCall, clock: Clock) -> Node:
    leaf = Node(
        Kind.CALL,
        call.key,
        call_label(call, clock),
        call.timestamp,
        call.timestamp,
        sessions=1,
        call=call,
    )
    leaf.totals.add_call(call)
    leaf.models[call.model] = 1
    return leaf


def _merge_children(node: Node, sessions: int) -> None:
    """Sum the children's totals, models, turns and time span into `node`."""
    for child in node.children:
        node.totals.add(child.totals)
        node.models.update(child.models)
        node.turns += child.turns
    if node.children:
        node.start = min(child.start for child in node.children)
        node.end = max(child.end for child in node.children)
    node.sessions = sessions


def days_below(node: Node) -> Iterator[Node]:
    """The day nodes at or below a root, week or day, in order, without opening a day."""
    if node.kind is Kind.DAY:
        yield node
    elif node.kind in (Kind.ALL, Kind.WEEK):
        for child in node.children:
            yield from days_below(child)


def closer(node: Node) -> Callable[[Node], None]:
    """For a pass over every day below `node` (advice, an export): drops each day it opened
    once done with it, and leaves the days that were open before (the view's) as they are."""
    open_before = {id(day) for day in days_below(node) if day.loaded}

    def done_with(day: Node) -> None:
        if id(day) not in open_before:
            day.unload()

    return done_with


# --- labels: read at a glance, built from metadata only ------------------------------------------


def week_of(day: date, week_start: int) -> date:
    """The first day of the week that holds `day`, weeks starting on `week_start` (0 = Monday)."""
    return day - timedelta(days=(day.weekday() - week_start) % 7)


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


def project_folder(project: str) -> str:
    """A project's folder name ("atlas" for /home/dev/atlas), or "" when none was logged."""
    return project.rstrip("/").rsplit("/", 1)[-1]


def project_name(project: str) -> str:
    return project_folder(project) or "(no project)"


@cache
def short_model(model: str) -> str:
    """'claude-opus-4-5-20251101' → 'opus-4.5'; other names lose only a date suffix."""
    name = _DATE_SUFFIX.sub("", model)
    if name.startswith("claude-"):
        name = name.removeprefix("claude-")
        name = re.sub(r"-(\d+)-(\d+)$", r"-\1.\2", name)
    return name


def session_label(node: Node, clock: Clock) -> str:
    project = project_folder(node.project) or node.session_id[:8]
    models = " + ".join(short_model(model) for model, _ in node.models.most_common(2))
    return f"{project} · {clock(node.start, False)}–{clock(node.end, False)} · {models}"


def turn_label(number: int, began: float, calls: Iterable[ApiCall], clock: Clock) -> str:
    tools = Counter(tool.split(" ", 1)[0] for call in calls for tool in call.tools)
    mix = " ".join(f"{name}×{count}" for name, count in tools.most_common(4))
    head = f"#{number} {clock(began, False)}" if number else "before first prompt"
    return f"{head} · {mix}" if mix else head


def call_label(call: ApiCall, clock: Clock) -> str:
    label = f"{clock(call.timestamp, True)} {short_model(call.model)}"
    if call.tools:
        more = len(call.tools) - 1
        label += f" {call.tools[0]} +{more}" if more else f" {call.tools[0]}"
    return label
