"""`tokentree -f FILE`: a saved export in the view, read-only, with the view's keys working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import NOW, SIZE, ready, settle
from tokentree.app.saved_tree import SavedTreeApp, create_saved_app, open_saved
from tokentree.app.screens.export import ExportScreen
from tokentree.cli import main
from tokentree.core.tree import Grouping, Kind
from tokentree.workspace import Choices


@pytest.fixture
def saved_file(usage_logs: Path, tmp_path: Path, capsys) -> Path:
    """The whole tree of the usage logs, saved as `tokentree export` saves it."""
    target = tmp_path / "saved.json"
    assert main(["export", "--tz", "UTC", "-o", str(target)]) == 0
    capsys.readouterr()
    return target


def saved_app(path: Path) -> SavedTreeApp:
    saved, name = open_saved(str(path))
    return create_saved_app(saved, name, Choices(), clock=NOW.timestamp)


async def test_a_saved_tree_opens_read_only_and_the_keys_work(
    saved_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = json.loads(saved_file.read_text())
    monkeypatch.chdir(tmp_path)
    app = saved_app(saved_file)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert app.path_bar.reading == f"read-only: {saved_file}"
        assert app.status.status.startswith("read-only · saved ")
        assert not app.indexer.reading and app.watch_state == "off"
        root = app.view.root
        assert root.totals.calls == original["root"]["calls"]
        assert [row.key for row in app.table.listing.rows] == ["2026-W47", "2026-W46"]  # by cost

        await pilot.press("n")  # by time, then the other way round
        by_time = [row.key for row in app.table.listing.rows]
        await pilot.press("n")
        assert [row.key for row in app.table.listing.rows] == by_time[::-1]
        await pilot.press("s")
        assert [row.key for row in app.table.listing.rows] == ["2026-W47", "2026-W46"]
        week = app.table.current.key
        await pilot.press("enter")
        assert app.path == (week,) and app.table.listing.node.kind is Kind.WEEK
        await pilot.press("left")
        assert app.path == () and app.table.current.key == week

        await pilot.press("i")
        await settle(app)
        assert app.info.display and app.info.node is app.table.current

        await pilot.press("escape", "slash")
        await pilot.press(*"sonnet", "enter")
        await settle(app)
        assert app.needle == "sonnet" and app.view.root.label == "All time · /sonnet"
        assert all(
            "sonnet" in node.call.model for node in app.view.root.walk() if node.call is not None
        )
        await pilot.press("escape")
        await settle(app)
        assert app.needle == "" and app.view.root.totals.calls == original["root"]["calls"]

        await pilot.press("b")  # by month: the saved days grouped again
        await settle(app)
        assert app.view.grouping is Grouping.MONTH
        assert [row.key for row in app.table.listing.rows] == ["2026-11"]
        while app.grouping is not Grouping.WEEK:
            await pilot.press("b")
        await settle(app)

        # a session, exported again: the same node as in the first export
        week = app.table.listing.rows[0].key
        await pilot.press("enter", "enter")
        day = app.path[-1]
        session = app.table.current
        assert session.kind is Kind.SESSION
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        await pilot.press("enter")
        await settle(app)
        again = json.loads(Path(app.last_export).read_text())
    assert again["node_path"] == f"{week}/{day}/{session.key}"
    first = _find(original["root"], again["node_path"])
    assert again["root"] == first


def _find(node: dict, path: str) -> dict:
    for key in path.split("/"):
        node = next(child for child in node["children"] if child["key"] == key)
    return node


async def test_grouping_a_saved_session_says_it_needs_days(
    saved_file: Path, tmp_path: Path
) -> None:
    document = json.loads(saved_file.read_text())
    session = document["root"]["children"][0]["children"][0]["children"][0]
    one = tmp_path / "session.json"
    one.write_text(json.dumps(dict(document, root=session, node_path="x/y/" + session["key"])))
    app = saved_app(one)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert app.view.root.kind is Kind.SESSION
        await pilot.press("b")
        await settle(app)
        assert app.view.grouping is Grouping.WEEK
        assert any("no days to group" in str(n.message) for n in app._notifications)
