"""What a terminal user's fingers expect: Ctrl+C, G and gg, clicks, the palette, remembered
choices, and export errors said where the export was asked for."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.app.conftest import SIZE, make_app, ready, settle
from tokentree import config
from tokentree.app.app import GG_WINDOW
from tokentree.app.screens.export import ExportScreen
from tokentree.app.widgets.bars import PathBar
from tokentree.app.widgets.usage_table import UsageTable
from tokentree.core.tree import Grouping, Kind
from tokentree.core.view import BarMetric, Graph, SortKey, default_sort


async def test_ctrl_c_quits(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("ctrl+c")
        await settle(app)
    assert app.indexer.stopped and app.return_code == 0


async def test_capital_g_goes_to_the_last_row_and_gg_to_the_first(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(100, 12)) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter", "C", "home", "enter")  # a 4-call turn
        rows = len(app.table.rows)
        assert rows >= 4 and app.table.cursor == 0
        await pilot.press("G")
        assert app.table.cursor == rows - 1
        await pilot.press("g", "g")
        assert app.table.cursor == 0
        await asyncio.sleep(GG_WINDOW + 0.2)
        assert app.table.graph is Graph.BOTH, "gg is not also a press of g"


async def test_a_lone_g_cycles_the_graph_after_a_moment(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("j", "g")
        assert app.table.graph is Graph.BOTH  # it might still become gg
        await asyncio.sleep(GG_WINDOW + 0.2)
        assert app.table.graph is Graph.BAR and app.table.cursor == 1


def title_x(app, key: SortKey) -> int:
    app.table.render_line(0)
    return next(start for start, _, found in app.table._header_spans if found is key) + 1


async def test_clicking_a_column_title_sorts_by_it_and_again_reverses(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter")  # a session's 3 turns
        await pilot.click(UsageTable, offset=(title_x(app, SortKey.TOKENS), 0))
        tokens = [row.totals.total for row in app.table.rows]
        assert app.sort.key is SortKey.TOKENS and tokens == sorted(tokens, reverse=True)
        assert "Tokens▼" in app.table.render_line(0).text
        await pilot.click(UsageTable, offset=(title_x(app, SortKey.TOKENS), 0))
        assert [row.totals.total for row in app.table.rows] == tokens[::-1]
        await pilot.click(UsageTable, offset=(title_x(app, SortKey.TIME), 0))
        starts = [row.start for row in app.table.rows]
        assert app.sort.key is SortKey.TIME and starts == sorted(starts)


async def test_clicking_a_breadcrumb_goes_up_to_it(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter")  # All time › W47 › 17 Nov › a session
        week, day = app.path[:2]
        text = app.path_bar.crumbs(200)
        await pilot.click(PathBar, offset=(1 + text.index("17 Nov"), 2))
        assert app.path == (week, day)
        await pilot.click(PathBar, offset=(2, 2))  # the root
        assert app.path == () and app.table.current.key == week


async def test_the_command_palette_has_the_views_actions(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("ctrl+p", *"sort by tokens")
        await asyncio.sleep(0.3)  # the palette searches in a worker
        await pilot.press("enter")
        await settle(app)
        assert app.sort.key is SortKey.TOKENS
        await pilot.press("ctrl+p", *"overview")
        await asyncio.sleep(0.3)
        await pilot.press("enter")
        await settle(app)
        assert type(app.screen).__name__ == "OverviewScreen"


@pytest.mark.calendar_order
async def test_theme_sort_bar_graph_and_grouping_are_remembered(usage_logs) -> None:
    state = config.state_path()
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"someday": 1}))  # a later version's key
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "C")  # a week's days: by count, for days only
        await pilot.press("left", "t", "t", "a", "T", "g")  # the weeks: by tokens, ascending
        await asyncio.sleep(GG_WINDOW + 0.2)
        await pilot.press("b")  # by month
        await settle(app)
    saved = json.loads(state.read_text())
    assert saved["someday"] == 1 and saved["theme"] == "textual-light"
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await ready(again)
        await settle(again)
        assert again.theme == "textual-light" and again.grouping is Grouping.MONTH
        assert again.bar_metric is BarMetric.TOKENS and again.table.graph is Graph.BAR
        assert again.sort == default_sort(Kind.MONTH)  # months were never sorted
        await pilot.press("b", "b", "b", "b", "b")  # round to weeks again
        await settle(again)
        assert (again.sort.key, again.sort.descending) == (SortKey.TOKENS, False)
        tokens = [row.totals.total for row in again.table.rows]
        assert tokens == sorted(tokens)
        await pilot.press("enter")
        assert again.sort.key is SortKey.COUNT


@pytest.mark.calendar_order
async def test_a_damaged_or_unwritable_state_file_is_ignored(usage_logs) -> None:
    state = config.state_path()
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert app.sort == default_sort(Kind.WEEK) and app.theme == "textual-dark"
        state.unlink()
        state.parent.rmdir()
        state.parent.write_text("a file where the folder should be")
        await pilot.press("t")  # saving fails quietly
        await settle(app)
        assert app.sort.key is SortKey.TOKENS
        await pilot.press("q")
    assert app.return_code == 0


async def test_export_errors_are_said_inside_the_dialog(usage_logs, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        dialog.query_one("#target").value = "no-such-folder/out.json"
        await pilot.press("enter")
        await settle(app)
        assert app.screen is dialog, "the dialog stays to say what went wrong"
        warning = str(dialog.query_one("#warning").content)
        assert warning.startswith("Export failed: cannot write no-such-folder/out.json")
        assert dialog.query_one("#warning").has_class("error") and not app._notifications
        dialog.query_one("#target").value = "out.json"  # another name works
        await pilot.press("enter")
        await settle(app)
        assert app.screen is app.screen_stack[0] and Path("out.json").exists()
