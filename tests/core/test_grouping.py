"""The view grouped by month, day, project, model or source, and the carried filter.

Every grouping of every filter must hold exactly the calls it says: each row's
figures equal those of a tree built from its own calls alone (picked here in
Python, the way a user reads the rule), children add up to their parent, and
the activity of a group is that of its calls.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.builders import claude_call, write
from tests.core.test_served import _same_activity, _same_node, _same_totals
from tokentree.core.attribution import Attribution
from tokentree.core.grouping import ViewTree, call_filter, root_label, view_tree
from tokentree.core.index import Index, Scope
from tokentree.core.records import ApiCall
from tokentree.core.served import ServedTree, served_tree
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import (
    Calendar,
    Grouping,
    Kind,
    Node,
    Totals,
    build_tree,
    project_name,
    short_model,
)

NEEDLES = ("", "opus", "bash", "codex", "atlas", "Read")


def _served(demo: tuple[Index, Scope, Calendar]) -> ServedTree:
    index, scope, calendar = demo
    return served_tree(index.reader(), scope, calendar)


def _matches(needle: str) -> Callable[[ApiCall], bool]:
    """The filter's rule, in plain Python: source, project folder, model or a tool label."""
    text = needle.casefold()

    def match(call: ApiCall) -> bool:
        source = SOURCES[call.source]
        words = [call.source, source.title, *source.aliases, project_name(call.project)]
        words += [call.model, short_model(call.model), *call.tools]
        return any(text in word.casefold() for word in words)

    return match


def _calls(demo: tuple[Index, Scope, Calendar], needle: str = "") -> list[ApiCall]:
    index, scope, _ = demo
    return [call for call in index.calls(scope) if _matches(needle)(call)]


def _built(demo: tuple[Index, Scope, Calendar], calls: list[ApiCall], label: str = "") -> Node:
    index, scope, calendar = demo
    return build_tree(calls, index.prompts(scope), calendar, label or "All time")


def _summed(nodes: list[Node]) -> Totals:
    total = Totals()
    for node in nodes:
        total.add(node.totals)
    return total


@pytest.mark.parametrize("needle", NEEDLES)
def test_a_filtered_tree_is_the_tree_of_the_calls_it_matches(demo, needle: str) -> None:
    wanted = _built(demo, _calls(demo, needle), root_label("All time", Grouping.WEEK, needle))
    view = view_tree(_served(demo), Grouping.WEEK, needle)
    assert view.root.label == ("All time" if not needle else f"All time · /{needle}")
    assert 0 < view.root.totals.calls <= 596
    _same_node(wanted, view.root, depth=5)  # down to every call
    built, found = Attribution(wanted), Attribution(view.root, view.activity)
    for week, other in zip(wanted.children, view.root.children, strict=True):
        _same_activity(built, found, week, other)


def test_the_filter_matches_each_kind_of_name(demo) -> None:
    index, scope, _ = demo
    reads = index.reader()
    assert call_filter(reads, scope, "codex").any_of[0] == ("source", ("codex",))
    models = dict(call_filter(reads, scope, "opus-4.5").any_of)["model"]
    assert models == ("claude-opus-4-5-20251101",)  # by its short name too
    assert dict(call_filter(reads, scope, "atlas").any_of)["project"]
    assert view_tree(_served(demo), Grouping.WEEK, "no such thing").root.totals.calls == 0


@pytest.mark.parametrize("needle", ("", "opus"))
@pytest.mark.parametrize("grouping", (Grouping.MONTH, Grouping.DAY))
def test_months_and_days_hold_the_served_days(demo, grouping: Grouping, needle: str) -> None:
    calls = _calls(demo, needle)
    wanted = _built(demo, calls)
    view = view_tree(_served(demo), grouping, needle)
    _same_totals(wanted.totals, view.root.totals)
    days = [day for week in wanted.children for day in week.children]
    if grouping is Grouping.DAY:
        assert [day.key for day in view.root.children] == [day.key for day in days]
        found = view.root.children
    else:
        months = sorted({day.key[:7] for day in days})
        assert [month.key for month in view.root.children] == months
        assert all(month.kind is Kind.MONTH for month in view.root.children)
        for month in view.root.children:
            inside = [day for day in days if day.key.startswith(month.key)]
            _same_totals(_summed(inside), month.totals)
            sessions = {session.key for day in inside for session in day.children}
            assert month.sessions == len(sessions)
        found = [day for month in view.root.children for day in month.children]
    for day, other in zip(days, found, strict=True):
        _same_node(day, other, depth=3)
    assert view.root.children[0].label in ("October 2026", "Mon 26 Oct")


COLUMN: dict[Grouping, Callable[[ApiCall], str]] = {
    Grouping.PROJECT: lambda call: call.project,
    Grouping.MODEL: lambda call: call.model,
    Grouping.SOURCE: lambda call: call.source,
}


@pytest.mark.parametrize("needle", ("", "bash"))
@pytest.mark.parametrize("grouping", tuple(COLUMN))
def test_each_group_holds_its_own_calls(demo, grouping: Grouping, needle: str) -> None:
    calls = _calls(demo, needle)
    view = view_tree(_served(demo), grouping, needle)
    by_value: dict[str, list[ApiCall]] = defaultdict(list)
    for call in calls:
        by_value[COLUMN[grouping](call)].append(call)
    assert len(view.root.children) == len(by_value)
    _same_totals(_summed(view.root.children), view.root.totals)
    attribution = Attribution(view.root, view.activity)
    for group in view.root.children:
        own = next(calls for value, calls in by_value.items() if group.key == _key(value))
        wanted = _built(demo, own)
        _same_totals(wanted.totals, group.totals)
        assert (group.start, group.end) == (wanted.start, wanted.end)
        assert group.sessions == wanted.sessions
        assert +group.models == +wanted.models
        _same_activity(Attribution(wanted), attribution, wanted, group)
        assert not group.loaded  # children are served when the group is opened
        _same_totals(_summed(group.children), group.totals)
        _same_children(grouping, wanted, group)


def _key(value: str) -> str:
    return value.replace("/", "∕") or "-"


def _same_children(grouping: Grouping, wanted: Node, group: Node) -> None:
    """A model's or a source's days as the tree of its calls has them; a project's sessions
    whole, each the sum of its parts of the days it spans."""
    days = [day for week in wanted.children for day in week.children]
    if grouping is not Grouping.PROJECT:
        for day, other in zip(days, group.children, strict=True):
            _same_node(day, other, depth=4)
        return
    parts: dict[str, list[Node]] = defaultdict(list)
    for day in days:
        for session in day.children:
            parts[session.key].append(session)
    assert sorted(parts) == sorted(session.key for session in group.children)
    for session in group.children:
        _same_totals(_summed(parts[session.key]), session.totals)
        assert session.turns == len(
            {turn.key for part in parts[session.key] for turn in part.children}
        )
        assert " · " in session.label and session.label[:3] in (
            "Mon",
            "Tue",
            "Wed",
            "Thu",
            "Fri",
            "Sat",
            "Sun",
        )


def test_advice_is_found_by_the_week_path_in_unfiltered_time_groupings(demo) -> None:
    served = _served(demo)
    week = served.root.children[-1]
    day = week.children[0]
    session = day.children[0]
    by_month = view_tree(served, Grouping.MONTH)
    month = next(m for m in by_month.root.children if day in m.children)
    wanted = f"{week.key}/{day.key}/{session.key}"
    assert by_month.advice_path([by_month.root, month, day, session]) == wanted
    assert by_month.advice_path([by_month.root, month]) is None
    by_week = view_tree(served, Grouping.WEEK)
    assert by_week.advice_path([by_week.root, week, day, session]) == wanted
    assert by_week.advice_path([by_week.root]) == ""
    assert view_tree(served, Grouping.WEEK, "opus").advice_path([by_week.root, week]) is None
    by_model = view_tree(served, Grouping.MODEL)
    assert by_model.advice_path([by_model.root, by_model.root.children[0]]) is None


def test_grouping_cycles_through_every_kind() -> None:
    seen = [Grouping.WEEK]
    while (following := seen[-1].next()) is not Grouping.WEEK:
        seen.append(following)
    assert seen == list(Grouping)


def test_a_group_stays_exact_when_a_copy_of_a_call_does_not_count(tmp_path: Path) -> None:
    """Two folders hold the same session: the scope of both counts each call once, in every
    grouping (the sums are of counted copies only)."""
    lines = [claude_call(f"m{n}", f"2026-11-2{n}T10:00:00Z", session="s1") for n in range(3)]
    for folder in ("a", "b"):
        write(tmp_path / folder / "projects" / "p" / "s1.jsonl", *lines)
    roots = explicit_roots([tmp_path / "a", tmp_path / "b"])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))
    served = served_tree(index.reader(), scope, Calendar(ZoneInfo("UTC")))
    assert served.root.totals.calls == 3
    for grouping in Grouping:
        view: ViewTree = view_tree(served, grouping)
        assert view.root.totals.calls == 3
        assert sum(node.totals.calls for node in view.root.children) == 3
        assert math.isclose(_summed(view.root.children).cost, served.root.totals.cost)
