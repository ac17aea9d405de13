"""A saved tree as the view shows it: grouped (`b`) and filtered (`/`) from its own rows.

A live view asks the index to sum each grouping and filter; a saved tree has no
index, but it holds every call row, so both are summed here from those: a month
or the days are the saved days grouped again, a project, model or source lists
its days narrowed to its calls, and a filter keeps the calls it matches. A saved
tree of one session or turn has no days to group: it is shown as saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from tokentree.core.attribution import calls_of
from tokentree.core.grouping import (
    GROUP_KIND,
    ViewTree,
    group_key,
    group_label,
    month_label,
    root_label,
    sources_matching,
)
from tokentree.core.records import ApiCall
from tokentree.core.tree import Calendar, Grouping, Kind, Node, project_name, short_model

Keep = Callable[[ApiCall], bool]
_HOLDS_DAYS = (Kind.ALL, Kind.WEEK, Kind.MONTH, Kind.DAY)
_COLUMN: dict[Grouping, Callable[[ApiCall], str]] = {
    Grouping.PROJECT: lambda call: call.project,
    Grouping.MODEL: lambda call: call.model,
    Grouping.SOURCE: lambda call: call.source,
    Grouping.MACHINE: lambda call: "",  # a saved call keeps no machine: one row
}


def saved_view(root: Node, calendar: Calendar, grouping: Grouping, needle: str = "") -> ViewTree:
    """The saved tree under `root` grouped by `grouping` and narrowed to the calls `needle`
    matches. Its `grouping` is week (as saved) where the tree holds no days to group."""
    needle = needle.strip()
    shown = root
    if needle:
        shown = narrowed(root, matcher(needle)) or _emptied(root)
    if grouping is Grouping.WEEK or next(_days(root), None) is None:
        label = root_label(root.label, Grouping.WEEK, needle)
        return ViewTree(replace(shown, _label=label), {}, calendar, Grouping.WEEK, needle)
    days = list(_days(shown))
    if grouping is Grouping.DAY:
        rows = days
    elif grouping is Grouping.MONTH:
        rows = _months(days)
    else:
        rows = _groups(days, grouping)
    top = summed(Kind.ALL, "", root_label(root.label, grouping, needle), rows)
    return ViewTree(top, {}, calendar, grouping, needle)


def matcher(needle: str) -> Keep:
    """The calls whose source, project folder, model or a tool label holds `needle`
    (case-insensitively): what the live view's filter matches (grouping.call_filter)."""
    text = needle.strip().casefold()
    sources = set(sources_matching(text))

    def keep(call: ApiCall) -> bool:
        return (
            call.source in sources
            or text in project_name(call.project).casefold()
            or text in call.model.casefold()
            or text in short_model(call.model).casefold()
            or any(text in tool.casefold() for tool in call.tools)
        )

    return keep


def narrowed(node: Node, keep: Keep) -> Node | None:
    """The subtree of the calls `keep` takes, summed again; the node itself where it takes
    them all, None where it takes none."""
    if node.call is not None:
        return node if keep(node.call) else None
    kept = [part for child in node.children if (part := narrowed(child, keep)) is not None]
    if not kept:
        return None
    if len(kept) == len(node.children):
        if all(a is b for a, b in zip(kept, node.children, strict=True)):
            return node
    part = summed(node.kind, node.key, node.label, kept)
    part.source, part.session_id, part.project = node.source, node.session_id, node.project
    if node.kind is Kind.TURN:
        part.start = node.start  # its prompt, which no call row holds
    elif node.kind is Kind.DAY:  # spans its calls, as tree.build_tree's days do
        part.start = min(call.timestamp for call in calls_of(part))
    return part


def summed(kind: Kind, key: str, label: str, children: Sequence[Node]) -> Node:
    """A node over `children`: their totals, models, turns and span, and its sessions counted
    once however many days they cross."""
    node = Node(kind, key, label, 0.0, 0.0)
    for child in children:
        node.totals.add(child.totals)
        node.models.update(child.models)
    node._children = list(children)
    node.turns = len(children) if kind is Kind.SESSION else sum(c.turns for c in children)
    if children:
        node.start = min(child.start for child in children)
        node.end = max(child.end for child in children)
    node.sessions = len(set(_sessions(children)))
    return node


def _sessions(nodes: Iterable[Node]) -> Iterator[tuple[str, str]]:
    for node in nodes:
        if node.kind is Kind.SESSION:
            yield node.source, node.session_id
        elif node.call is not None:
            yield node.call.source, node.call.session_id
        else:
            yield from _sessions(node.children)


def _days(node: Node) -> Iterator[Node]:
    if node.kind is Kind.DAY:
        yield node
    elif node.kind in _HOLDS_DAYS:
        for child in node.children:
            yield from _days(child)


def _months(days: Sequence[Node]) -> list[Node]:
    by_month: dict[str, list[Node]] = {}
    for day in days:
        by_month.setdefault(day.key[:7], []).append(day)
    return [summed(Kind.MONTH, key, month_label(key), part) for key, part in by_month.items()]


def _groups(days: Sequence[Node], grouping: Grouping) -> list[Node]:
    """One row per project, model, source (or machine), holding the days narrowed to its
    calls."""
    column = _COLUMN[grouping]
    values = dict.fromkeys(column(call) for day in days for call in calls_of(day))
    rows = []
    for value in values:
        below = [part for day in days if (part := narrowed(day, _equals(column, value)))]
        row = summed(GROUP_KIND[grouping], group_key(value), group_label(grouping, value), below)
        row.project = value if grouping is Grouping.PROJECT else ""
        row.source = value if grouping is Grouping.SOURCE else ""
        rows.append(row)
    return rows


def _equals(column: Callable[[ApiCall], str], value: str) -> Keep:
    return lambda call: column(call) == value


def _emptied(root: Node) -> Node:
    """The root with nothing below it: a filter that matches no call."""
    return Node(root.kind, root.key, root.label, root.start, root.end)
