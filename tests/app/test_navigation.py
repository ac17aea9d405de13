"""Driving the view with keys, as a user would: move, descend, go back, sort, bar, graph, filter."""

from __future__ import annotations

import pytest

from tests.app.conftest import SIZE, keys_of, make_app, ready, settle
from tokentree.app.app import GG_WINDOW
from tokentree.app.messages import Posted
from tokentree.app.widgets.usage_table import UsageTable
from tokentree.core.tree import Kind
from tokentree.core.view import Graph
from tokentree.live.events import IndexProgressed, TreeUpdated


async def test_the_root_lists_weeks_biggest_first(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await ready(app)
        assert app.table.listing.node.kind is Kind.ALL
        assert keys_of(app) == ["2026-W47", "2026-W46"]
        assert app.table.current.key == "2026-W47"
        assert app.snapshot.tree.totals.calls == 18


async def test_descend_and_come_back_to_where_you_were(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter")  # week W47: days
        assert app.path == ("2026-W47",)
        assert app.table.listing.node.kind is Kind.WEEK
        await pilot.press("j")
        second_day = app.table.current.key
        await pilot.press("right")  # sessions of that day, cursor on the first
        assert app.path == ("2026-W47", second_day) and app.table.cursor == 0
        await pilot.press("l")  # turns of the first session
        assert app.table.listing.node.kind is Kind.SESSION
        await pilot.press("enter")  # calls of the first turn
        assert app.table.listing.node.kind is Kind.TURN
        await pilot.press("enter")  # a call has no children: its info opens
        assert app.info.display and app.info.node is app.table.current
        await pilot.press("escape")
        assert not app.info.display
        await pilot.press("h", "backspace")
        assert app.path == ("2026-W47", second_day)
        await pilot.press("left")
        assert app.path == ("2026-W47",) and app.table.current.key == second_day
        await pilot.press("left", "left")  # going up from the root does nothing
        assert app.path == () and app.table.current.key == "2026-W47"


async def test_cursor_keys_move_page_and_jump(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(100, 12)) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter", "C", "home", "enter")  # a 4-call turn
        calls = app.table.rows
        assert app.table.cursor == 0 and len(calls) >= 4
        await pilot.press("down", "j")
        assert app.table.cursor == 2
        await pilot.press("up", "k", "k")
        assert app.table.cursor == 0
        await pilot.press("end")
        assert app.table.cursor == len(calls) - 1
        await pilot.press("home", "pagedown")
        assert app.table.cursor == min(len(calls) - 1, app.table.visible_rows)
        await pilot.press("pageup")
        assert app.table.cursor == 0
        await pilot.click(UsageTable, offset=(10, 3))  # line 0 is the header: row 2
        assert app.table.cursor == 2
        await pilot.click(UsageTable, offset=(10, 3), times=2)  # a call: double click = info
        assert app.info.display and app.info.node is app.table.current


SORTS = [
    ("s", lambda n: n.totals.cost, True),
    ("t", lambda n: n.totals.total, True),
    ("c", lambda n: n.totals.cache_hit, True),
    ("n", lambda n: n.start, False),
    ("C", lambda n: n.totals.calls, True),
]


@pytest.mark.parametrize(("key", "value", "descending"), SORTS, ids=[k for k, _, _ in SORTS])
async def test_every_sort_key_and_its_reversal(usage_logs, key, value, descending) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter")  # W47, 17 Nov, session bbbb: 3 turns
        assert app.table.listing.node.kind is Kind.SESSION and len(app.table.rows) == 3
        if key == "s":  # cost is the default: pressing s first reverses it
            await pilot.press("s")
            descending = not descending
        else:
            await pilot.press(key)
        values = [value(row) for row in app.table.rows]
        assert values == sorted(values, reverse=descending)
        assert len(set(values)) == 3, "the fixture gives each turn a distinct value"
        await pilot.press(key)
        assert [value(row) for row in app.table.rows] == values[::-1]


async def test_sorting_keeps_the_cursor_on_the_same_row(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter", "j")
        chosen = app.table.current.key
        for key in "tcnCs":
            await pilot.press(key)
            assert app.table.current.key == chosen


async def test_bar_metric_and_graph_modes(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        root = app.snapshot.tree
        first = app.table.rows[0]
        assert app.table.listing.share(first) == pytest.approx(first.totals.cost / root.totals.cost)
        await pilot.press("a")
        listing = app.table.listing
        assert listing.share(listing.rows[0]) == pytest.approx(
            listing.rows[0].totals.total / root.totals.total
        )
        assert "Bar (tokens)" in app.table.render_line(0).text
        assert app.table.graph is Graph.BOTH
        await pilot.press("g")
        await pilot.pause(GG_WINDOW + 0.1)  # a lone g: not the first of gg
        assert app.table.graph is Graph.BAR and "%" not in app.table.render_line(0).text
        await pilot.press("g")
        await pilot.pause(GG_WINDOW + 0.1)
        assert app.table.graph is Graph.PERCENT and "Bar" not in app.table.render_line(0).text
        await pilot.press("g")
        await pilot.pause(GG_WINDOW + 0.1)
        assert app.table.graph is Graph.BOTH


async def test_help_opens_and_view_keys_wait_under_it(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        order = keys_of(app)
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("n")  # not a sort while help is up
        app.post_message(Posted(TreeUpdated(app.snapshot)))  # a live refresh arrives meanwhile
        app.post_message(Posted(IndexProgressed(5, 10)))
        await settle(app)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0] and keys_of(app) == order


async def test_theme_toggles_between_dark_and_light(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        dark = app.theme
        await pilot.press("T")
        assert app.theme == "textual-light" != dark
        await pilot.press("T")
        assert app.theme == "textual-dark"


async def test_q_quits_and_stops_the_index_thread(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("q")
        await settle(app)
    assert app.indexer.stopped and app.analyser.stopped and app.return_code == 0
