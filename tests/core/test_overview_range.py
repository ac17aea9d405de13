"""The range selector's arithmetic (`in_range`: every part summed again from the days it
keeps) and the charts drawn from it: heat levels, legend bounds, the log axis, the peak."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import claude_call, claude_prompt
from tests.builders import write as write_lines
from tokentree.cli import main
from tokentree.core.overview import RANGES, in_range, next_range
from tokentree.core.overview_charts import SHADES, calendar, heat_level, plain, shade_limits, trend
from tokentree.core.schemas import ReportDocument


def part(cost: float, model: str, project: str, sessions: int = 1) -> dict:
    return {
        "cost_usd": cost,
        "tokens": int(cost * 1000),
        "calls": 2,
        "unpriced_calls": 0,
        "sessions": sessions,
        "by_source": {"claude-code": cost},
        "by_model": {model: cost},
        "by_project": {project: cost},
        "activity": {"reading": {"tokens": int(cost * 1000), "cost_usd": cost}},
        "estimated": {"calls": 0, "tokens": 0, "cost_usd": 0.0, "unpriced_calls": 0},
    }


def advice(node: str, saving: float = 1.0) -> dict:
    return {"rule": "r", "title": "T", "node": node, "where": "", "message": "m",
            "saving_usd": saving, "evidence": {}}  # fmt: skip


DAILY = {
    "2025-01-06": part(100.0, "opus", "old"),  # outside a year back from 2026-03-31
    "2025-06-02": part(10.0, "opus", "atlas"),
    "2026-01-05": part(4.0, "sonnet", "atlas", sessions=2),
    "2026-03-30": part(2.0, "sonnet", "web"),
    "2026-03-31": part(1.0, "haiku", "web"),
}
DATA = {
    "week_start": 0,
    "filter": "",
    "lead": None,
    "daily": DAILY,
    "top_advice": [advice("2025-W02/2025-01-06/s"), advice("2026-W14/2026-03-30/s")],
    "notes": [advice("2025-W23", 0.0), advice("2026-W14", 0.0), advice("", 0.0)],
    "advice_by_rule": [{"rule": "r", "title": "T", "count": 2, "saving_usd": 2.0}],
}


def test_ranges_cycle_in_order() -> None:
    assert list(RANGES) == ["90d", "180d", "1y", "all"]
    assert [next_range(key) for key in RANGES] == ["180d", "1y", "all", "90d"]


def test_a_range_sums_every_part_over_its_days_only() -> None:
    found = in_range(DATA, "90d")  # 2026-01-01 … 2026-03-31
    assert found["range"] == {
        "key": "90d", "title": "90 days", "days": 90, "first": "2026-01-01", "last": "2026-03-31",
    }  # fmt: skip
    assert found["days"] == {"2026-01-05": 4.0, "2026-03-30": 2.0, "2026-03-31": 1.0}
    assert (found["start"], found["end"]) == ("2026-01-05", "2026-03-31")
    assert found["cost_usd"] == 7.0 and found["tokens"] == 7000 and found["calls"] == 6
    assert found["sessions"] == 4
    assert found["by_model"] == [
        {"name": "sonnet", "cost_usd": 6.0, "share": pytest.approx(6 / 7, abs=1e-6)},
        {"name": "haiku", "cost_usd": 1.0, "share": pytest.approx(1 / 7, abs=1e-6)},
    ]
    assert [item["name"] for item in found["by_project"]] == ["atlas", "web"]
    assert found["activity"] == {"reading": {"tokens": 7000, "cost_usd": 7.0}}
    assert found["daily"].keys() == found["days"].keys()
    # the weeks run from the range's first day's week, empty ones too
    assert found["weeks"][0] == {"week": "2026-W01", "start": "2025-12-29", "cost_usd": 0}
    assert found["weeks"][1]["cost_usd"] == 4.0 and len(found["weeks"]) == 14
    assert found["peak_week"] == "2026-W02"
    assert found["windows"]["week_usd"] == 3.0 and found["windows"]["span_days"] == 86
    assert found["last_days"][-1]["average_usd"] == pytest.approx(3 / 7, abs=1e-6)
    assert found["scale"]["tokens"] == 7000
    assert [item["node"] for item in found["top_advice"]] == ["2026-W14/2026-03-30/s"]
    assert [item["node"] for item in found["notes"]] == ["2026-W14", ""]
    assert found["advice_by_rule"] == []  # a count over the whole period: left out


def test_each_range_reaches_back_its_days_and_all_keeps_everything() -> None:
    costs = {key: in_range(DATA, key)["cost_usd"] for key in RANGES}
    assert costs == {"90d": 7.0, "180d": 7.0, "1y": 17.0, "all": 117.0}
    assert in_range(DATA, "1y")["range"]["first"] == "2025-04-01"
    whole = in_range(DATA, "all")
    assert whole["range"]["first"] == "2025-01-06" and whole["advice_by_rule"]
    assert len(whole["top_advice"]) == 2 and len(whole["notes"]) == 3


def test_narrowing_again_changes_nothing_and_no_days_is_empty() -> None:
    once = in_range(DATA, "1y")
    assert in_range(once, "90d") == in_range(DATA, "90d")
    empty = in_range({**DATA, "daily": {}}, "90d")
    assert empty["days"] == {} and empty["cost_usd"] == 0 and empty["weeks"] == []
    assert empty["start"] is None and empty["windows"]["last_day"] is None


def test_heat_levels_are_even_in_log_cost_and_each_has_its_own_glyph() -> None:
    limits = shade_limits([1.0, 10_000.0])
    assert limits == pytest.approx((10.0, 100.0, 1000.0))
    assert [heat_level(cost, limits) for cost in (1, 9.9, 11, 99, 101, 999, 1001, 10_000)] == [
        1, 1, 2, 2, 3, 3, 4, 4,
    ]  # fmt: skip
    assert len(set(SHADES)) == 4
    assert shade_limits([5.0, 5.0]) == (5.0, 5.0, 5.0)  # one level: all days alike
    assert heat_level(5.0, (5.0, 5.0, 5.0)) == 4


def test_the_calendar_has_a_row_per_weekday_and_a_legend_with_bounds() -> None:
    found = in_range(DATA, "90d")
    lines = plain(calendar(found, 60))
    assert lines[0].strip().startswith("Jan") and lines[1].startswith("Mo")
    assert lines[1][3] == " " and lines[4][3] == "·"  # 29 Dec: before the range; 1 Jan: none
    assert lines[1][5] in SHADES  # 5 Jan: spent
    legend = "\n".join(lines[8:])
    assert "daily spend, log scale" in legend
    assert "░ $1.00–$1.41" in legend and "█ $2.83–$4.00" in legend
    roles = {role for line in calendar(found, 60) for _, role in line}
    assert {"heat1", "heat4", "none"} <= roles


def test_the_trend_has_a_log_axis_and_marks_its_peak() -> None:
    found = in_range(DATA, "all")
    lines = plain(trend(found, 40, height=6))
    assert "▼ peak 2025-W02 $100" in lines[0] or "peak 2025-W02 $100 ▼" in lines[0]
    axis = [line[:8].strip() for line in lines[1:8]]
    assert axis[0] == "$100 ┤" and axis[-1] == "$1 └"  # a tick per power of ten
    assert "$10 ┤" in axis
    assert lines[-1].split() == ["2025-W02", "2026-W14", "3", "weeks", "a", "column,", "each",
                                 "their", "mean"]  # fmt: skip
    roles = {role for line in trend(found, 80) for _, role in line}
    assert {"peak", "bar", "axis"} <= roles
    assert trend(in_range({**DATA, "daily": {}}, "all"), 80) == []


def test_report_overview_range_in_text_and_json(isolated_home, capsys) -> None:
    project = isolated_home / ".claude" / "projects" / "-home-dev-atlas"
    days = (datetime(2025, 3, 2, 9, tzinfo=UTC), datetime(2026, 11, 19, 9, tzinfo=UTC))
    for number, day in enumerate(days):
        session = f"s{number}"
        write_lines(
            project / f"{session}.jsonl",
            claude_prompt(day, session=session),
            claude_call(f"m{number}", day + timedelta(seconds=5), session=session, cache_write=9),
        )
    assert main(["report", "--json", "--overview"]) == 0
    whole = json.loads(capsys.readouterr().out)["overview"]
    assert main(["report", "--json", "--overview", "--range", "90d"]) == 0
    document = json.loads(capsys.readouterr().out)
    ReportDocument.model_validate(document)
    narrowed = document["overview"]
    assert narrowed["range"]["key"] == "90d" and list(narrowed["days"]) == ["2026-11-19"]
    assert narrowed["cost_usd"] == pytest.approx(whole["cost_usd"] / 2)
    assert narrowed == in_range(whole, "90d")  # the screen's `r` and the flag agree
    assert main(["report", "--tz", "UTC", "--overview", "--range", "90d"]) == 0
    out = capsys.readouterr().out
    assert "Overview  2026-11-19 – 2026-11-19 · last 90 days" in out
    assert "Weekly trend · log scale" in out and "What drove it" in out and "Last 1 days" in out
