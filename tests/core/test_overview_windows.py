"""The overview's arithmetic: quick windows, the 7-day moving average and the daily table."""

from __future__ import annotations

import pytest

from tokentree.core.overview import daily_table, moving_average, windows
from tokentree.core.overview_charts import plain
from tokentree.core.overview_text import daily_lines


def test_the_moving_average_is_trailing_and_starts_on_the_first_day() -> None:
    values = [7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 14.0, 7.0]
    averages = moving_average(values)
    assert averages[:3] == [7.0, 3.5, pytest.approx(7 / 3)]
    assert averages[6] == pytest.approx(1.0)  # 7 / 7
    assert averages[7] == pytest.approx(2.0)  # the first 7.0 has left the window: 14 / 7
    assert averages[8] == pytest.approx(3.0)  # (14 + 7) / 7
    assert moving_average([]) == []
    assert moving_average([1.0, 2.0, 3.0], window=2) == [1.0, 1.5, 2.5]


def test_windows_count_back_from_the_last_day_with_empty_days_as_zero() -> None:
    days = {"2026-10-01": 100.0, "2026-11-01": 5.0, "2026-11-25": 2.0, "2026-11-30": 1.0}
    assert windows(days) == {
        "last_day": "2026-11-30",
        "day_usd": 1.0,
        "week_usd": 3.0,  # 11-24 … 11-30
        "month_usd": 8.0,  # 11-01 … 11-30
        "peak_day": "2026-10-01",
        "peak_usd": 100.0,
        "active_days": 4,
        "span_days": 61,
    }
    assert windows({})["last_day"] is None


def test_the_daily_table_is_the_last_30_days_with_averages_reaching_back() -> None:
    days = {f"2026-10-{n:02d}": 7.0 for n in range(1, 32)} | {"2026-11-09": 14.0}
    table = daily_table(days)
    assert len(table) == 30 and table[0]["day"] == "2026-10-11" and table[-1]["day"] == "2026-11-09"
    assert table[0] == {"day": "2026-10-11", "cost_usd": 7.0, "average_usd": 7.0}  # 7 full days
    assert table[-2] == {"day": "2026-11-08", "cost_usd": 0.0, "average_usd": 0.0}
    assert table[-1]["average_usd"] == pytest.approx(2.0)  # 14 / 7
    short = daily_table({"2026-11-01": 3.0, "2026-11-03": 6.0})
    assert [(row["day"], row["average_usd"]) for row in short] == [
        ("2026-11-01", 3.0),
        ("2026-11-02", 1.5),
        ("2026-11-03", 3.0),
    ]


def test_the_daily_lines_draw_spend_and_average() -> None:
    lines = plain(daily_lines(daily_table({"2026-11-01": 3.0, "2026-11-03": 6.0}), bar_width=6))
    assert lines[0].startswith("Last 3 days") and "7-day avg" in lines[0]
    assert lines[2] == f"  2026-11-02  {'·':>9}  {'$1.50':>9}    │"  # no spend: the average alone
    assert lines[3].endswith("███┃██")  # $6 fills the bar, its $3 average sits inside it
