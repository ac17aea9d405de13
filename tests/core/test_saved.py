"""Saved trees (`tokentree -f`): an export read back, grouped and filtered as the live view is.

The bundled sample logs are exported whole, read back, and exported again: the
two documents must be the same. Each grouping and filter of the saved tree must
list the rows, with the figures, that the live view's index-summed ones list.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from tests.core.conftest import DEMO_ZONE
from tokentree.cli import main
from tokentree.core.export import export_document
from tokentree.core.grouping import view_tree
from tokentree.core.index import Index, Scope
from tokentree.core.saved import SavedTree, SavedTreeError, read_saved
from tokentree.core.saved_view import saved_view
from tokentree.core.served import ServedTree, served_tree
from tokentree.core.tree import Calendar, Grouping, Kind, Node, build_tree

NEEDLES = ("", "opus", "bash", "codex", "atlas", "Read", "no-such-thing")


@pytest.fixture(scope="module")
def tree(demo: tuple[Index, Scope, Calendar]) -> Node:
    index, scope, calendar = demo
    return build_tree(index.calls(scope), index.prompts(scope), calendar)


@pytest.fixture(scope="module")
def exported(demo: tuple[Index, Scope, Calendar], tree: Node) -> dict:
    return export_document(tree, "", DEMO_ZONE, prices=demo[0].prices)


@pytest.fixture(scope="module")
def saved(exported: dict) -> SavedTree:
    return read_saved(orjson.dumps(exported))


def test_a_saved_tree_exports_again_to_the_same_document(
    demo: tuple[Index, Scope, Calendar], exported: dict, saved: SavedTree
) -> None:
    assert (saved.timezone, saved.node_path) == (DEMO_ZONE, "")
    again = export_document(saved.root, "", DEMO_ZONE, prices=demo[0].prices)
    _same(again["root"], exported["root"])
    calls = [node for node in saved.root.walk() if node.kind is Kind.CALL]
    assert len(calls) == saved.root.totals.calls == exported["root"]["calls"]
    assert all(node.call is not None and node.call.session_id for node in calls)


def test_a_saved_subtree_exports_again_as_the_original_did(demo, tree: Node) -> None:
    week = tree.children[-1]
    path = f"{week.key}/{week.children[0].key}"
    first = export_document(tree.find(path), path, DEMO_ZONE, prices=demo[0].prices)
    found = read_saved(orjson.dumps(first))
    assert found.node_path == path
    assert found.root.kind is Kind.DAY and found.root.totals.calls == first["root"]["calls"]
    again = export_document(found.root, found.node_path, DEMO_ZONE, prices=demo[0].prices)
    _same(again["root"], first["root"])


def _same(again: object, first: object, where: str = "") -> None:
    """Equal, but for the last digits of sums of costs: a saved call's cost is rounded to
    the micro-dollar, so what is summed again from them may differ there."""
    if isinstance(first, dict):
        assert isinstance(again, dict) and again.keys() == first.keys(), where
        for key, value in first.items():
            _same(again[key], value, f"{where}/{key}")
    elif isinstance(first, list):
        assert isinstance(again, list) and len(again) == len(first), where
        for number, (one, other) in enumerate(zip(again, first, strict=True)):
            _same(one, other, f"{where}[{number}]")
    elif isinstance(first, float):
        assert math.isclose(again, first, abs_tol=1e-4), where  # type: ignore[arg-type]
    else:
        assert again == first, where


def _rows(root: Node) -> dict[str, tuple]:
    return {
        child.key: (
            child.kind,
            child.label,
            child.totals.calls,
            child.totals.total,
            child.sessions,
            dict(child.models),
            child.start,
            child.end,
        )
        for child in root.children
    }


@pytest.mark.parametrize("needle", NEEDLES)
@pytest.mark.parametrize("grouping", list(Grouping))
def test_each_grouping_and_filter_lists_what_the_live_view_lists(
    demo: tuple[Index, Scope, Calendar], saved: SavedTree, grouping: Grouping, needle: str
) -> None:
    index, scope, calendar = demo
    live = view_tree(served_tree(index.reader(), scope, calendar), grouping, needle)
    shown = saved_view(saved.root, calendar, grouping, needle)
    assert (shown.grouping, shown.needle, shown.root.label) == (grouping, needle, live.root.label)
    assert _rows(shown.root) == _rows(live.root)
    for row in shown.root.children:  # summed again from costs saved to the micro-dollar
        assert math.isclose(row.totals.cost, live.root.child(row.key).totals.cost, abs_tol=1e-4)
    assert shown.root.totals.calls == live.root.totals.calls
    assert shown.root.totals.calls == sum(row.totals.calls for row in shown.root.children)


def test_rows_below_a_group_hold_only_its_calls(saved: SavedTree, demo) -> None:
    by_model = saved_view(saved.root, demo[2], Grouping.MODEL, "atlas")
    for group in by_model.root.children:
        calls = [node.call for node in group.walk() if node.call is not None]
        assert len(calls) == group.totals.calls
        assert {call.model for call in calls} == {group.key}
        assert all("atlas" in call.project for call in calls)


def test_a_saved_session_is_shown_as_saved_whatever_the_grouping(saved: SavedTree, demo) -> None:
    session = saved.root.children[0].children[0].children[0]
    assert session.kind is Kind.SESSION
    shown = saved_view(session, demo[2], Grouping.PROJECT)
    assert shown.grouping is Grouping.WEEK and shown.root.children == session.children
    filtered = saved_view(session, demo[2], Grouping.WEEK, "no-such-thing")
    assert filtered.root.children == [] and filtered.root.label.endswith("/no-such-thing")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a tokentree.export/1 document"),
        (b'{"schema": "tokentree.report/1"}', "its schema is 'tokentree.report/1'"),
        (b'{"schema": "tokentree.export/1"}', "no 'root'"),
        (b'{"schema": "tokentree.export/1", "timezone": "UTC", "root": []}', "at the root"),
    ],
)
def test_a_foreign_or_broken_document_is_one_line(data: bytes, said: str) -> None:
    with pytest.raises(SavedTreeError) as raised:
        read_saved(data)
    assert said in str(raised.value) and "\n" not in str(raised.value)


def test_a_damaged_node_says_where(exported: dict) -> None:
    document = orjson.loads(orjson.dumps(exported))
    week = document["root"]["children"][0]
    day = week["children"][0]
    del day["children"][0]["calls"]
    with pytest.raises(SavedTreeError) as raised:
        read_saved(orjson.dumps(document))
    session = day["children"][0]["key"]
    assert f"at {week['key']}/{day['key']}/{session}: no 'calls'" in str(raised.value)


def test_the_command_line_says_one_line_and_exits_2(tmp_path: Path, capsys) -> None:
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(b'{"schema": "tokentree.export/1", "root": {"kind": "all"}')
    foreign = tmp_path / "foreign.json"
    foreign.write_bytes(b'{"hello": "world"}')
    for target, said in (
        (damaged, "not JSON"),
        (foreign, "not a tokentree.export/1 document"),
        (tmp_path / "missing.json", "cannot read"),
    ):
        assert main(["-f", str(target)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and said in err, err
        assert err.startswith("tokentree: ")
    assert main(["-f", str(foreign), "--demo"]) == 2
    assert "does not combine" in capsys.readouterr().err


def test_a_served_tree_can_be_saved_too(demo) -> None:
    """`tokentree export` writes the served tree: its days open as they are written."""
    index, scope, calendar = demo
    served: ServedTree = served_tree(index.reader(), scope, calendar)
    document = export_document(served.root, "", DEMO_ZONE, prices=index.prices)
    found = read_saved(orjson.dumps(document))
    assert found.root.totals.calls == served.root.totals.calls
