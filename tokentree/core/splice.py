"""Regrow a built tree from one day on, sharing every node before it.

A live refresh adds the newest calls. Building the whole tree again costs
seconds on a year of logs; building the days from the changed one on costs
milliseconds. A day's rows depend only on that day's calls and on its
sessions' prompts (which number the turns), so the old tree's days before
that day are exactly what a full build would make again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

# the same aggregation build_tree uses, so a spliced tree adds up exactly as a built one
from tokentree.core.tree import Kind, Node, _merge_children, _node


def splice(old: Node, fresh: Node, since: date) -> Node:
    """`old` with its days from `since` on replaced by `fresh`'s.

    `fresh` must be built from every call on or after the local day `since`
    (with all prompts); the result then equals a full build as long as no
    call before `since` changed. `old` and `fresh` are not modified.
    """
    cut = since.isoformat()
    fresh_weeks = {week.key: week for week in fresh.children}
    weeks: list[Node] = []
    for week in old.children:
        kept = [day for day in week.children if day.key < cut]
        replacement = fresh_weeks.pop(week.key, None)
        if len(kept) == len(week.children) and replacement is None:
            weeks.append(week)  # wholly before `since`: shared, not copied
        elif not kept and replacement is not None:
            weeks.append(replacement)
        elif kept or replacement is not None:
            weeks.append(_regrown(week, [*kept, *(replacement.children if replacement else [])]))
    weeks.extend(fresh_weeks.values())
    weeks.sort(key=lambda week: week.children[0].key)
    return _regrown(old, weeks)


def _regrown(template: Node, children: Sequence[Node]) -> Node:
    """A new node like `template` over `children`, its aggregates summed again."""
    node = _node(template.kind, template.key, template.label)
    node.children.extend(children)
    _merge_children(node, len(session_keys(node)))
    return node


def session_keys(node: Node) -> set[str]:
    """The sessions under a root, week or day node (a session counts once however many days)."""
    days: list[Node] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if item.kind is Kind.DAY:
            days.append(item)
        elif item.kind in (Kind.ALL, Kind.WEEK):
            stack.extend(item.children)
    return {session.key for day in days for session in day.children}
