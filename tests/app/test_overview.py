"""The overview screen drawn: snapshots at 80×24 and 120×40 in both themes, and the range
selector (`r`), whose every press narrows the totals to the sums over that range's days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.app.conftest import HAIKU, OPUS, SONNET, _claude_session, make_app, ready, settle
from tokentree import format as fmt
from tokentree.app.screens.overview import OverviewScreen
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
        _claude_session(
            projects / f"-home-dev-{project}" / f"{session}.jsonl",
            session,
            f"/home/dev/{project}",
            [(start, calls)],
        )


@pytest.fixture
def long_logs(isolated_home: Path) -> Path:
    write_long_logs(isolated_home)
    return isolated_home


def _after(*keys: str):
    async def run_before(pilot) -> None:
        await ready(pilot.app)
        await pilot.press("o", *keys)
        await settle(pilot.app)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_overview_drawn(snap_compare, long_logs, size, theme) -> None:
    keys = ("T",) if theme == "light" else ()
    assert snap_compare(make_app(), terminal_size=size, run_before=_after(*keys))


def test_the_overview_a_year_back_at_120_columns(snap_compare, long_logs) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_after("r", "r", "r"))


def _text(screen: OverviewScreen) -> str:
    return "\n".join(line for part in screen.parts for line in plain(part.lines(part.size.width)))


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
            text = _text(screen)
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
