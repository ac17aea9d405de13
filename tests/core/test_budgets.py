"""Budgets: the period `now` falls in, the use read from the index, the forecast and the check."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.builders import claude_call, codex_context, codex_meta, codex_tokens, write
from tokentree.cli import main
from tokentree.core.budgets import (
    Budget,
    BudgetUse,
    budget_uses,
    budgets_for,
    current,
    period_bounds,
    row_share,
)
from tokentree.core.index import Index, Scope
from tokentree.core.live import LIVE_SESSION
from tokentree.core.sources import explicit_roots, find_files
from tokentree.core.tree import Calendar, Kind, Node, Totals
from tokentree.workspace import DEMO_NOW

UTC_CALENDAR = Calendar(ZoneInfo("UTC"))
SUNDAY_WEEKS = Calendar(ZoneInfo("UTC"), week_start=6)
SONNET = {"input": 3.0, "output": 15.0}  # USD per million tokens (user price file)


def ts(day: int, hour: int = 0, month: int = 11) -> float:
    return datetime(2026, month, day, hour, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("period", "calendar", "now", "bounds"),
    [
        ("day", UTC_CALENDAR, ts(18, 13), (ts(18), ts(19))),
        ("week", UTC_CALENDAR, ts(18, 13), (ts(16), ts(23))),  # Wednesday: from Monday 16th
        ("week", SUNDAY_WEEKS, ts(18, 13), (ts(15), ts(22))),
        ("month", UTC_CALENDAR, ts(18, 13), (ts(1), ts(1, month=12))),
        ("month", UTC_CALENDAR, ts(31, 23, month=12), (ts(1, month=12), 1798761600.0)),
    ],
)
def test_a_period_is_the_local_day_week_or_month_now_falls_in(
    period: str, calendar: Calendar, now: float, bounds: tuple[float, float]
) -> None:
    assert period_bounds(period, now, calendar) == bounds


def test_a_period_follows_the_time_zone() -> None:
    tokyo = Calendar(ZoneInfo("Asia/Tokyo"))
    start, end = period_bounds("day", ts(18, 20), tokyo)  # 05:00 on the 19th in Tokyo
    assert (start, end) == (ts(18, 15), ts(19, 15))


def test_the_forecast_is_the_pace_so_far_to_the_periods_end() -> None:
    budget = Budget("week", usd=100)
    use = BudgetUse(budget, start=0.0, end=7 * 86_400.0, now=2 * 86_400.0, used=40.0)
    assert (use.share, use.forecast, use.state) == (0.4, 140.0, "ok")
    assert BudgetUse(budget, 0.0, 10.0, 5.0, 85.0).state == "near"
    assert BudgetUse(budget, 0.0, 10.0, 5.0, 100.5).state == "over"


@pytest.mark.parametrize("fields", [{}, {"usd": 5, "tokens": 10}, {"usd": 0}, {"tokens": -1}])
def test_a_budget_sets_one_limit_above_zero(fields: dict) -> None:
    with pytest.raises(ValueError):
        Budget("day", **fields)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Claude Code in two projects and Codex, on 17 and 18 November 2026."""
    atlas = tmp_path / "projects" / "-home-dev-atlas"
    write(
        atlas / "a.jsonl",
        claude_call("m1", datetime(2026, 11, 17, 9, tzinfo=UTC), input=1000, output=100),
        claude_call("m2", datetime(2026, 11, 18, 9, tzinfo=UTC), input=2000, output=200),
    )
    write(
        tmp_path / "projects" / "-home-dev-notes" / "n.jsonl",
        claude_call(
            "m3", datetime(2026, 11, 18, 10, tzinfo=UTC), input=500, output=50, cwd="/home/notes"
        ),
    )
    write(
        tmp_path / "sessions" / "rollout-2026-11-18T11-00-00-x.jsonl",
        codex_meta("x", datetime(2026, 11, 18, 11, tzinfo=UTC)),
        codex_context(datetime(2026, 11, 18, 11, tzinfo=UTC), model="gpt-5"),
        codex_tokens(datetime(2026, 11, 18, 11, 1, tzinfo=UTC), (4000, 0, 400, 0)),
    )
    return tmp_path


def _uses(logs: Path, *budgets: Budget, now: float = ts(18, 12)) -> list[BudgetUse]:
    from tokentree.core.pricing import PriceBook

    roots = explicit_roots([logs])
    index = Index(None, prices=PriceBook({"claude-sonnet-4-5-20250929": SONNET}))
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope((str(logs),), ("claude-code", "codex"))
    return budget_uses(index, scope, budgets, UTC_CALENDAR, now)


def test_a_budget_counts_its_period_project_and_source(logs: Path) -> None:
    day_tokens, week_tokens, atlas, claude, notes_usd = _uses(
        logs,
        Budget("day", tokens=10_000),
        Budget("week", tokens=10_000),
        Budget("week", tokens=10_000, project="atlas"),
        Budget("day", tokens=10_000, source="claude"),
        Budget("day", usd=1, project="/home/notes"),
    )
    assert day_tokens.used == 2200 + 550 + 4400  # the 17th is another day
    assert week_tokens.used == 1100 + 2200 + 550 + 4400
    assert atlas.used == 1100 + 2200
    assert claude.used == 2200 + 550
    assert notes_usd.used == pytest.approx((500 * 3 + 50 * 15) / 1e6)
    assert day_tokens.forecast == pytest.approx(7150 * 2)  # noon: half the day gone


def test_budget_check_exits_1_when_a_budget_is_over(
    isolated_home: Path, capsys: pytest.CaptureFixture
) -> None:
    """The command reads the clock: the log holds a call made a minute ago."""
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[[budget]]\nperiod = "day"\ntokens = 1_000\n', encoding="utf-8")
    logs = isolated_home / "logs"
    recent = datetime.fromtimestamp(time.time() - 60, UTC)
    write(logs / "projects" / "-p" / "s.jsonl", claude_call("m1", recent, input=900, output=99))
    assert main(["budget", "--check", str(logs)]) == 0
    assert "day · 1,000 tokens" in capsys.readouterr().out
    write(logs / "projects" / "-p" / "t.jsonl", claude_call("m2", recent, input=5, output=5))
    assert main(["budget", "--check", "--json", str(logs)]) == 1
    (use,) = json.loads(capsys.readouterr().out)
    assert (use["used"], use["state"], use["unit"]) == (1009, "over", "tokens")


def test_the_demo_runs_on_its_last_evening_so_a_low_budget_is_over(
    isolated_home: Path, capsys: pytest.CaptureFixture
) -> None:
    """As a new user tries it: a budget set low, then --demo."""
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[[budget]]\nperiod = "week"\nusd = 1\n', encoding="utf-8")
    assert main(["budget", "--check", "--demo"]) == 1
    assert "OVER" in capsys.readouterr().out
    assert main(["report", "--json", "--by", "session", "--demo"]) == 0
    last = max(row["end"] for row in json.loads(capsys.readouterr().out)["rows"])
    ended = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
    assert 0 < DEMO_NOW - ended < LIVE_SESSION  # its last session is still running


def _node(kind: Kind, start: float, end: float, cost: float = 0.0, **fields: str) -> Node:
    return Node(kind, "k", "label", start, end, Totals(calls=1, cost=cost, input=500), **fields)


MONTH, ATLAS_WEEK, CODEX_DAY, ATLAS_CODEX = (
    BudgetUse(Budget("month", usd=200), ts(1), ts(1, month=12), ts(18, 12), 90.0),
    BudgetUse(Budget("week", usd=50, project="atlas"), ts(16), ts(23), ts(18, 12), 20.0),
    BudgetUse(Budget("day", tokens=1000, source="codex"), ts(18), ts(19), ts(18, 12), 400.0),
    BudgetUse(Budget("day", usd=5, project="atlas", source="codex"), ts(18), ts(19), ts(18, 12)),
)
USES = (MONTH, ATLAS_WEEK, CODEX_DAY, ATLAS_CODEX)


def test_the_root_is_under_every_budget_a_period_row_under_its_own_periods() -> None:
    assert budgets_for(USES, _node(Kind.ALL, ts(2), ts(18))) == list(USES)
    november = _node(Kind.MONTH, ts(2), ts(18))
    assert budgets_for(USES, november) == [MONTH]
    assert budgets_for(USES, _node(Kind.MONTH, ts(2, month=10), ts(9, month=10))) == []
    assert budgets_for(USES, _node(Kind.WEEK, ts(16), ts(18))) == []  # only a project's week
    assert budgets_for(USES, _node(Kind.DAY, ts(18), ts(18, 10))) == []  # only a source's day


def test_a_session_and_its_rows_are_under_their_projects_and_sources_budgets() -> None:
    claude = _node(Kind.SESSION, ts(18, 9), ts(18, 10), 4.0, project="/home/dev/atlas")
    claude.source = "claude-code"
    codex = _node(Kind.SESSION, ts(18, 9), ts(18, 10), project="/home/dev/atlas")
    codex.source = "codex"
    assert budgets_for(USES, claude) == [ATLAS_WEEK]
    assert budgets_for(USES, codex) == [ATLAS_WEEK, CODEX_DAY, ATLAS_CODEX]
    turn = _node(Kind.TURN, ts(18, 9), ts(18, 9) + 1800, 1.0)
    assert budgets_for(USES, turn, session=codex) == [ATLAS_WEEK, CODEX_DAY, ATLAS_CODEX]
    assert row_share(ATLAS_WEEK, claude) == pytest.approx(4.0 / 50)
    assert row_share(CODEX_DAY, turn) == pytest.approx(500 / 1000)  # tokens counted
    earlier = _node(Kind.SESSION, ts(15, 9), ts(16, 1), 4.0, project="/home/dev/atlas")
    assert row_share(ATLAS_WEEK, earlier) is None  # began before the budget's week


def test_a_project_or_source_row_is_under_the_budgets_it_answers_alone() -> None:
    atlas = _node(Kind.PROJECT, ts(2), ts(18), project="/home/dev/atlas")
    codex = _node(Kind.SOURCE, ts(2), ts(18), source="codex")
    assert budgets_for(USES, atlas) == [ATLAS_WEEK]  # not the one of atlas's Codex calls only
    assert budgets_for(USES, codex) == [CODEX_DAY]
    assert row_share(ATLAS_WEEK, atlas) is None


def test_a_view_forecasts_its_budgets_from_its_own_clock() -> None:
    (later,) = current((MONTH, CODEX_DAY), ts(20, 12))  # the day budget's period is over
    assert later.now == ts(20, 12) and later.forecast == pytest.approx(90.0 * 30 / 19.5)
    lower = replace(MONTH, unpriced_calls=2)
    assert (MONTH.used_amount, lower.used_amount, CODEX_DAY.used_amount) == (
        "$90.00",
        "≥$90.00",
        "400",
    )
