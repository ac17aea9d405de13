"""Grouping the view (`b`, `--by`) and the filter that carries (`/`), driven with keys.

The usage logs: Claude Code in atlas (11, 17 Nov) and web (17 Nov), Codex in
billing on 12 and 20 Nov, 18 calls in all.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.app.conftest import ALL_CALLS, NOW, SIZE, keys_of, make_app, ready, settle
from tokentree.app.app import FILTER_PAUSE, TokenTreeApp, create_app
from tokentree.app.widgets.bars import crumb
from tokentree.core.tree import Grouping, Kind, Node
from tokentree.core.view import default_sort
from tokentree.workspace import Choices


def calls_below(node: Node) -> list[Node]:
    return [leaf for leaf in node.walk() if leaf.kind is Kind.CALL]


async def typed(app: TokenTreeApp) -> None:
    """Past the pause after typing, and the view the filter asked for is on screen."""
    await asyncio.sleep(FILTER_PAUSE + 0.1)
    await settle(app)


async def test_b_cycles_the_top_level_and_every_grouping_adds_up(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        seen = []
        for grouping, kind in (
            (Grouping.MONTH, Kind.MONTH),
            (Grouping.DAY, Kind.DAY),
            (Grouping.PROJECT, Kind.PROJECT),
            (Grouping.MODEL, Kind.MODEL),
            (Grouping.SOURCE, Kind.SOURCE),
        ):
            await pilot.press("b")
            await settle(app)
            assert app.grouping is grouping and app.table.listing.child_kind is kind
            assert sum(row.totals.calls for row in app.table.rows) == ALL_CALLS
            assert crumb(app.view.root).endswith(f"by {grouping.value}")
            seen.append([row.label for row in app.table.rows])
        assert sorted(seen[0]) == ["November 2026"]
        assert sorted(seen[2]) == ["atlas", "billing", "web"]
        assert sorted(seen[4]) == ["Claude Code", "Codex"]
        await pilot.press("b")
        await settle(app)
        assert app.grouping is Grouping.WEEK and sorted(keys_of(app)) == ["2026-W46", "2026-W47"]


async def test_a_project_opens_on_its_sessions_whole_and_a_model_on_its_days(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("b", "b", "b")  # project
        await settle(app)
        atlas = next(row for row in app.table.rows if row.label == "atlas")
        app.table.cursor = app.table.rows.index(atlas)
        read_on: list[str] = []
        load = atlas._loader
        assert load is not None and not atlas.loaded

        def watched() -> list[Node]:
            read_on.append(threading.current_thread().name)
            return load()

        atlas._loader = watched
        await pilot.press("enter")  # its sessions are read off the UI thread
        await settle(app)
        assert read_on and read_on[0] != threading.main_thread().name
        assert app.table.listing.child_kind is Kind.SESSION
        assert len(app.table.rows) == 2 and sum(r.totals.calls for r in app.table.rows) == 12
        assert all(row.label.split()[0] in ("Wed", "Tue") for row in app.table.rows)
        await pilot.press("enter")
        assert app.table.listing.child_kind is Kind.TURN
        await pilot.press("left", "left", "b")  # model
        await settle(app)
        haiku = next(row for row in app.table.rows if row.label == "haiku-4.5")
        app.table.cursor = app.table.rows.index(haiku)
        await pilot.press("enter")
        assert app.table.listing.child_kind is Kind.DAY and keys_of(app) == ["2026-11-17"]
        await pilot.press("enter")  # its sessions hold its calls alone
        assert sum(row.totals.calls for row in app.table.rows) == 3
        assert {leaf.call.model for row in app.table.rows for leaf in calls_below(row)} == {
            "claude-haiku-4-5-20251001"
        }


async def test_the_filter_carries_down_with_totals_of_what_matches(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("slash", *"haiku")
        assert app.filter_bar.has_focus
        await typed(app)
        assert app.needle == "haiku" and crumb(app.view.root).endswith("/haiku")
        root = app.view.root
        assert root.totals.calls == 3 and keys_of(app) == ["2026-W47"]
        await pilot.press("enter")  # the filter stays; the list has the keys again
        assert app.table.has_focus and not app.filter_bar.display
        await pilot.press("enter")  # W47: only the day with Haiku calls, summed anew
        assert keys_of(app) == ["2026-11-17"]
        day = app.table.rows[0]
        assert day.totals.calls == 3 and day.totals.cost == root.totals.cost
        await pilot.press("enter")
        assert sum(row.totals.calls for row in app.table.rows) == 3  # two sessions' Haiku calls
        assert app.path_bar.chain[0] is app.view.root  # the breadcrumbs show it
        await pilot.press("slash", *"zzz")
        await typed(app)
        assert app.view.root.totals.calls == 0 and "Nothing here matches" in app.table.empty_text
        await pilot.press("escape")
        await settle(app)
        assert app.needle == "" and app.view.root.totals.calls == ALL_CALLS
        assert app.table.has_focus


async def test_a_filter_applies_to_every_grouping(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("slash", *"codex", "enter")
        await settle(app)
        assert app.view.root.totals.calls == 4  # the two Codex sessions' calls
        await pilot.press("b", "b", "b")  # by project: Codex worked in billing only
        await settle(app)
        assert [row.label for row in app.table.rows] == ["billing"]
        assert crumb(app.view.root).endswith("by project · /codex")
        await pilot.press("escape")
        await settle(app)
        assert sum(row.totals.calls for row in app.table.rows) == ALL_CALLS


async def test_by_on_the_command_line_opens_on_that_grouping(usage_logs) -> None:
    app = create_app(Choices(timezone="UTC"), live=False, clock=NOW.timestamp, by="source")
    async with app.run_test(size=SIZE):
        await ready(app)
        await settle(app)
        assert app.table.listing.child_kind is Kind.SOURCE
        assert sorted(row.label for row in app.table.rows) == ["Claude Code", "Codex"]


@pytest.mark.calendar_order
async def test_weeks_months_and_days_list_newest_first_until_sorted(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        assert keys_of(app) == ["2026-W47", "2026-W46"]
        await pilot.press("enter")
        assert keys_of(app) == ["2026-11-20", "2026-11-17"]
        await pilot.press("enter")  # sessions: biggest first
        costs = [row.totals.cost for row in app.table.rows]
        assert costs == sorted(costs, reverse=True) and app.sort == default_sort(Kind.SESSION)
        await pilot.press("left", "left", "b", "b")  # by day
        await settle(app)
        assert keys_of(app) == ["2026-11-20", "2026-11-17", "2026-11-12", "2026-11-11"]
