"""The view grouped another way, and narrowed to the calls a filter matches.

The served tree (served.py) is Week > Day > Session > Turn > Call. A view may
group its top level by month or by day instead (the same day nodes, grouped
again), or by project, model, source or machine: one row each, summed by the
index in SQL, whose rows below are served from that group's calls alone (a
model's, a source's or a machine's days; a project's sessions, whole). A filter
narrows the whole tree to the calls whose model, project, source, machine or
tools hold its text: the index sums those calls alone (`Scope.only`), so every
total below is theirs and the parts add up to the whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from tokentree.core.attribution import Activity, Bucket
from tokentree.core.index.reader import Reads
from tokentree.core.index.scope import CallFilter, Scope
from tokentree.core.served import TOTAL_SUMS, ServedTree, add_sums, merge_served, served_tree
from tokentree.core.sources import SOURCES
from tokentree.core.tree import (
    Calendar,
    Grouping,
    Kind,
    Node,
    build_sessions,
    project_name,
    short_model,
    week_key,
)

GROUP_KIND = {
    Grouping.PROJECT: Kind.PROJECT,
    Grouping.MODEL: Kind.MODEL,
    Grouping.SOURCE: Kind.SOURCE,
    Grouping.MACHINE: Kind.MACHINE,
}
"""The groupings of one row per value of a column, and the kind of those rows."""


@dataclass(frozen=True, eq=False)
class ViewTree:
    """What the view lists: its root and the activity known for its nodes (a group's days
    add theirs when they are first opened), grouped and filtered as asked."""

    root: Node
    activity: dict[Node, Activity]
    calendar: Calendar
    grouping: Grouping = Grouping.WEEK
    needle: str = ""
    served: ServedTree | None = None
    """The served tree of the calls it counts (Week > Day, whatever the grouping): what its
    overview is summed from (analysis.view_overview); None for a tree not served."""

    def advice_path(self, chain: Sequence[Node]) -> str | None:
        """Where the advice about the chain's last node is kept (the Week > Day path), or
        None: advice is about all of a node's calls, not the few a filter or a group of
        another kind leaves, so it is shown in unfiltered time groupings only."""
        if self.needle or self.grouping in GROUP_KIND:
            return None
        for position, node in enumerate(chain):
            if node.kind is Kind.DAY:
                week = week_key(self.calendar.week_of(date.fromisoformat(node.key)))
                return "/".join([week, *(below.key for below in chain[position:])])
        if any(node.kind is Kind.MONTH for node in chain):
            return None
        return "/".join(node.key for node in chain[1:])


def view_tree(
    served: ServedTree, grouping: Grouping, needle: str = "", machine: str | None = None
) -> ViewTree:
    """The served tree as the view shows it: grouped by `grouping`, of the calls `needle`
    matches (all of them when it is empty). `machine`: this machine's label when other
    machines' ledgers are in the index's scope (None: this machine's logs alone), which makes
    machines a filter's match and the root say how many it covers."""
    needle = needle.strip()
    label = root_label(served.root.label, grouping, needle)
    if needle:
        only = call_filter(served.reads, served.scope, needle, machine)
        scope = replace(served.scope, only=only)
        served = served_tree(served.reads, scope, served.calendar, label)
    if grouping in GROUP_KIND:
        view = _by_column(served, grouping, needle, label, machine or "")
    else:
        root, activity = served.root, dict(served.activity)
        if grouping is not Grouping.WEEK:
            root = _by_time(served, grouping is Grouping.MONTH, activity, label)
        view = ViewTree(root, activity, served.calendar, grouping, needle, served=served)
    if machine is not None:
        view.root.machines = len(served.reads.grouped(served.scope, ["machine"], ["sum(calls)"]))
    return view


def root_label(label: str, grouping: Grouping, needle: str) -> str:
    """The root's name in the breadcrumbs, with the grouping and the filter while they hold:
    'All time · by project · /opus'."""
    parts = [label]
    if grouping is not Grouping.WEEK:
        parts.append(f"by {grouping.value}")
    if needle:
        parts.append(f"/{needle}")
    return " · ".join(parts)


def call_filter(reads: Reads, scope: Scope, needle: str, machine: str | None = None) -> CallFilter:
    """The calls whose source, project folder, model or a tool label holds `needle`
    (case-insensitively): the carried filter; with other machines' calls in scope (this one's
    label `machine`), also those of a machine whose label holds it."""
    text = needle.casefold()
    sources = sources_matching(text)
    projects = tuple(
        project
        for project, _ in reads.grouped(scope, ["project"], ["sum(calls)"])
        if text in project_name(project).casefold()
    )
    models = tuple(
        model
        for model, _ in reads.grouped(scope, ["model"], ["sum(calls)"])
        if text in model.casefold() or text in short_model(model).casefold()
    )
    any_of = (("source", sources), ("project", projects), ("model", models))
    if machine is not None:
        machines = tuple(
            value
            for value, _ in reads.grouped(scope, ["machine"], ["sum(calls)"])
            if text in (value or machine).casefold()
        )
        any_of += (("machine", machines),)
    return CallFilter(any_of=any_of, tool=text)


def sources_matching(text: str) -> tuple[str, ...]:
    """The sources whose name, title or an alias holds `text` (already casefolded)."""
    return tuple(
        name
        for name, source in SOURCES.items()
        if any(text in word.casefold() for word in (name, source.title, *source.aliases))
    )


# --- by month or day: the served days, grouped again -----------------------------------------


def _by_time(
    served: ServedTree, by_month: bool, activity: dict[Node, Activity], label: str
) -> Node:
    root = _new_root(served.root, label)
    activity[root] = activity.get(served.root, Activity())
    days = [day for week in served.root.children for day in week.children]
    if not by_month:
        root.children.extend(days)
        return root
    months: dict[str, tuple[Node, set[str]]] = {}
    for day in days:
        key = day.key[:7]
        if key not in months:
            month = Node(Kind.MONTH, key, month_label(key), 0.0, 0.0)
            month._turns = None  # counted from its days when asked
            months[key] = (month, set())
            root.children.append(month)
        month, sessions = months[key]
        month.children.append(day)
        sessions |= served.sessions.get(day.key, set())
    for month, sessions in months.values():
        merge_served(month, len(sessions), activity)
    return root


def month_label(key: str) -> str:
    """'2026-11' → 'November 2026'."""
    return f"{date.fromisoformat(key + '-01'):%B %Y}"


def _new_root(served_root: Node, label: str) -> Node:
    """A root over the same calls as the served one: its sums, span and session count."""
    root = Node(Kind.ALL, "", label, served_root.start, served_root.end)
    root.totals.add(served_root.totals)
    root.models.update(served_root.models)
    root.sessions = served_root.sessions
    root._turns = None
    return root


# --- by project, model, source or machine: one row each, served from its own calls ----------


def _by_column(
    served: ServedTree, grouping: Grouping, needle: str, label: str, machine: str = ""
) -> ViewTree:
    """One row per value of the grouping's column, summed by the index (its rollup and
    activity have the column), whose children are served from the calls of that value when
    first opened. A group whose first or last time may be a copy's that does not count asks
    the copies, as a served day does."""
    reads, column, kind = served.reads, grouping.value, GROUP_KIND[grouping]
    counted = served.scope
    root = _new_root(served.root, label)
    view = ViewTree(root, {}, served.calendar, grouping, needle, served=served)
    view.activity[root] = served.activity.get(served.root, Activity())
    groups: dict[str, Node] = {}
    for value, *sums, first, last in reads.grouped(
        counted, [column], [*TOTAL_SUMS, "min(first)", "max(last)"]
    ):
        shown = (value or machine) if grouping is Grouping.MACHINE else value
        node = Node(kind, group_key(shown), group_label(grouping, shown), first, last)
        add_sums(node.totals, sums)
        node._turns = None
        node.project = value if grouping is Grouping.PROJECT else ""
        node.source = value if grouping is Grouping.SOURCE else ""
        narrowed = replace(counted, only=(counted.only or CallFilter()).narrowed(column, value))
        node._loader = _group_loader(view, node, served, narrowed)
        groups[value] = node
    for value, model, calls in reads.grouped(counted, [column, "model"], ["sum(calls)"]):
        groups[value].models[model] += calls
    sessions: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for value, source, session, _ in reads.grouped(
        counted, [column, "source", "session"], ["sum(calls)"]
    ):
        sessions[value].add((source, session))
    for (value, code), (tokens, cost) in reads.activity(counted, [column]).items():
        part = view.activity.setdefault(groups[value], Activity())
        bucket = Bucket.of_code(code)
        part.tokens[bucket] = tokens
        part.cost[bucket] = cost
    doubtful = {
        value
        for value, ts in reads.loser_times(counted, [column])
        if value in groups and ts in (groups[value].start, groups[value].end)
    }
    for value in doubtful:
        only = (counted.only or CallFilter()).narrowed(column, value)
        span = reads.span(replace(counted, only=only))
        if span is not None:
            groups[value].start, groups[value].end = span
    for value, node in groups.items():
        node.sessions = len(sessions[value])
        root.children.append(node)
    return view


def group_key(value: str) -> str:
    """A group's key in a path: its value, with no '/' (a project's folder has them)."""
    return value.replace("/", "∕") or "-"


def group_label(grouping: Grouping, value: str) -> str:
    if grouping is Grouping.PROJECT:
        return project_name(value)
    if grouping is Grouping.MODEL:
        short = short_model(value) if value else "(no model)"
        return short
    if grouping is Grouping.MACHINE:  # '': this machine, its label unknown here
        return value or "this machine"
    source = SOURCES.get(value)
    return source.title if source else value


def _group_loader(
    view: ViewTree, group: Node, served: ServedTree, narrowed: Scope
) -> Callable[[], list[Node]]:
    """A project's sessions, whole (turns numbered by all their prompts); a model's, a
    source's or a machine's days, served from its calls alone, their activity added to the
    view's."""

    def load() -> list[Node]:
        if group.kind is Kind.PROJECT:
            calls = served.reads.calls(narrowed)
            sessions = {(call.source, call.session_id) for call in calls}
            prompts = served.reads.prompts(served.scope, sessions)
            nodes = build_sessions(calls, prompts, served.calendar)
            for node in nodes:
                node.label = dated_session_label(node, served.calendar)
            return nodes
        below = served_tree(served.reads, narrowed, served.calendar, group.label)
        view.activity.update(below.activity)
        return [day for week in below.root.children for day in week.children]

    return load


def dated_session_label(node: Node, calendar: Calendar) -> str:
    """A session listed without its day above it: 'Fri 21 Nov 09:36–11:02 · opus-4.5'."""
    start = datetime.fromtimestamp(node.start, calendar.zone)
    end = datetime.fromtimestamp(node.end, calendar.zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a} {end.day} {end:%b %H:%M}"
    models = " + ".join(short_model(model) for model, _ in node.models.most_common(2))
    return f"{start:%a} {start.day} {start:%b %H:%M}–{until} · {models}"
