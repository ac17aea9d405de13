"""The overview screen drawn: snapshots at 80×24 and 120×40 in both themes (and NO_COLOR), the
range selector (`r`), whose every press narrows the totals to the sums over that range's days,
the view's filter and grouping, and exact and estimated side by side."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.app.conftest import (
    ALL_CALLS,
    HAIKU,
    OPUS,
    SONNET,
    after,
    claude_session,
    make_app,
    overview_text,
    ready,
    settle,
)
from tests.chat_exports import chatgpt_conversations, write_export
from tokentree import format as fmt
from tokentree.app.screens.overview import OverviewScreen
from tokentree.cli import main
from tokentree.core.overview import RANGES, in_range
from tokentree.core.overview_charts import plain

LAST = date(2026, 11, 19)
SPARSE = [date(2025, 9, 3), date(2025, 12, 15), date(2026, 1, 10), date(2026, 3, 2)]
SPARSE += [date(2026, 6, 15), date(2026, 8, 30)]
CUTS = {"90d": date(2026, 8, 22), "180d": date(2026, 5, 24), "1y": date(2025, 11, 20)}


def write_long_logs(home: Path) -> None:
    """Fourteen months of Claude Code: a few days long ago, most of the last seven weeks,
    one session a day whose size swings over two orders of magnitude."""
    dense = [LAST - timedelta(days=n) for n in range(50) if n % 7 not in (2, 5)]
    projects = home / ".claude" / "projects"
    read = (("Read", {"file_path": "/home/dev/atlas/app.py"}),)
    edit = (("Edit", {"file_path": "/home/dev/atlas/app.py"}),)
    test = (("Bash", {"command": "pytest -q"}),)
    for number, day in enumerate(sorted(SPARSE + dense)):
        size = 2_000 * (1 + (number * 37) % 23) ** 2 // 3
        project, model = [("atlas", OPUS), ("web", SONNET), ("atlas", HAIKU)][number % 3]
        session = f"{number:04x}beef-0000-4000-8000-{number:012x}"  # ids start unique
        start = datetime(day.year, day.month, day.day, 9 + number % 9, tzinfo=UTC)
        tools = (edit, test)[number % 2]
        calls = [
            dict(model=model, input=200, cache_write=size, output=300 + size // 50, tools=read),
            dict(model=model, input=20, cache_read=size, output=900, tools=tools),
        ]
        claude_session(
            projects / f"-home-dev-{project}" / f"{session}.jsonl",
            session,
            f"/home/dev/{project}",
            [(start, calls)],
        )


@pytest.fixture
def long_logs(isolated_home: Path) -> Path:
    write_long_logs(isolated_home)
    return isolated_home


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_overview_drawn(snap_compare, long_logs, size, theme) -> None:
    keys = ("T",) if theme == "light" else ()
    assert snap_compare(make_app(), terminal_size=size, run_before=after("o", *keys))


def test_the_overview_a_year_back_at_120_columns(snap_compare, long_logs) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=after("o", "r", "r", "r"))


async def test_each_press_of_r_narrows_every_part_to_the_sums_over_its_days(long_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        days = {
            date.fromisoformat(day.key): day.totals
            for week in app.snapshot.tree.children
            for day in week.children
        }
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, OverviewScreen) and screen.range == "all"
        seen = set()
        for key in ("90d", "180d", "1y", "all"):
            await pilot.press("r")
            await settle(app)
            assert screen.range == key
            cut = CUTS.get(key, min(days))
            inside = [totals for day, totals in days.items() if day >= cut]
            cost = sum(totals.cost for totals in inside)
            tokens = sum(totals.total for totals in inside)
            text = overview_text(screen)
            header = text.splitlines()[0]
            assert f"{fmt.cost(cost)} · {fmt.tokens(tokens)} tokens" in header, key
            assert f"{len(inside)} sessions" in header  # one session a day
            shown = in_range(screen.data, key)
            assert shown["cost_usd"] == pytest.approx(cost, abs=1e-6)
            assert sum(item["cost_usd"] for item in shown["by_model"]) == pytest.approx(cost)
            assert min(shown["days"]) == min(day for day in days if day >= cut).isoformat()
            title = "the whole period" if key == "all" else f"last {RANGES[key][0]}"
            assert screen.scroller.border_title == f"Overview · {title}"
            seen.add(header)
        assert len(seen) == 4  # every range its own totals
        assert "2025-W36" in text and "peak 2026-W42" in text  # all weeks again


async def test_the_overview_never_draws_past_its_box_or_under_its_scrollbar(long_logs) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app)
        await pilot.press("o")
        await settle(app)
        screen = app.screen
        inner = screen.scroller.scrollable_content_region
        assert screen.scroller.show_vertical_scrollbar  # it is longer than the screen
        for part in screen.parts:
            assert part.region.right <= inner.right
            width = part.size.width
            assert all(len(line) <= width for line in plain(part.lines(width))), part.id
        await pilot.press("end")
        assert screen.scroller.scroll_y > 0


async def test_the_overview_is_of_the_filtered_calls_until_the_filter_is_cleared(
    usage_logs,
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await pilot.press("slash", *"opus", "enter")
        await settle(app)
        totals = app.view.root.totals
        assert app.needle == "opus" and 0 < totals.calls < ALL_CALLS
        await pilot.press("o")
        await settle(app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        assert screen.scroller.border_title == "Overview · the whole period · /opus"
        shown = in_range(screen.data, "all")
        assert (shown["filter"], shown["calls"], shown["tokens"]) == (
            "opus",
            totals.calls,
            totals.total,
        )
        assert shown["cost_usd"] == pytest.approx(totals.cost, abs=1e-6)
        assert [item["name"] for item in shown["by_model"]] == [OPUS]
        assert shown["top_advice"] == [] and shown["notes"] == []  # advice is about all calls
        header = overview_text(screen).splitlines()[0]
        assert "/opus" in header and f"{fmt.cost(totals.cost)} · " in header
        await pilot.press("r")  # the range narrows the filter's calls too
        await settle(app)
        assert screen.scroller.border_title == "Overview · last 90 days · /opus"
        await pilot.press("escape", "escape")  # the overview, then the filter
        await settle(app)
        assert app.needle == "" and app.view.root.totals.calls == ALL_CALLS
        await pilot.press("o")
        await settle(app)
        screen = app.screen
        assert screen.scroller.border_title == "Overview · the whole period"
        whole = in_range(screen.data, "all")
        assert whole["filter"] == "" and whole["calls"] == ALL_CALLS
        assert whole["cost_usd"] == pytest.approx(app.view.root.totals.cost, abs=1e-6)


async def test_the_drivers_lead_with_the_views_grouping(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)

        async def first_driver() -> str:
            await pilot.press("o")
            await settle(app)
            drivers = next(part for part in app.screen.parts if part.id == "overview-drivers")
            section = plain(drivers.lines(drivers.size.width))[1].split()[0]
            await pilot.press("escape")
            return section

        assert await first_driver() == "activity"  # by week
        found = []
        for _ in range(5):  # month, day, project, model, source
            await pilot.press("b")
            await settle(app)
            found.append(await first_driver())
        assert found == ["activity", "activity", "projects", "models", "sources"]


def test_the_overview_without_colour(snap_compare, long_logs, monkeypatch) -> None:
    """NO_COLOR: every level of the calendar still reads, by its glyph."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=after("o"))


async def test_the_screen_puts_exact_and_estimated_side_by_side(usage_logs, tmp_path) -> None:
    """A ChatGPT export imported beside the logs: its day's row in the screen's table."""
    export = write_export(tmp_path / "chatgpt.zip", chatgpt_conversations())
    assert main(["import", "chatgpt", str(export)]) == 0
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app)
        await pilot.press("o")
        await settle(app)
        table = next(part for part in app.screen.parts if part.id == "overview-estimates")
        lines = plain(table.lines(table.size.width))
        assert lines[0] == "Exact and estimated, per day"
        days = [line.split()[0] for line in lines[2:] if line.startswith("  ")]
        assert days == ["2026-11-20", "2026-11-21", "range"]
        assert all("~" in line for line in lines[2:5])
        await pilot.press("escape", "slash", *"chatgpt", "enter")  # its calls alone: all estimated
        await settle(app)
        await pilot.press("o")
        await settle(app)
        shown = in_range(app.screen.data, "all")
        assert shown["filter"] == "chatgpt" and shown["calls"] == app.view.root.totals.calls == 4
        assert shown["estimated"]["calls"] == 4 and shown["estimated"]["tokens"] == shown["tokens"]
