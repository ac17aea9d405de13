"""The live line's arithmetic (5-hour blocks, today, burn rate, limits)"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tokentree.core.live import (
    BLOCK,
    Thresholds,
    blocks,
    limits,
    recent,
    summarize,
)
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.tree import Calendar

UTC_CALENDAR = Calendar(UTC)


def ts(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC).timestamp()


def call(
    when: float,
    *,
    session: str = "s1",
    cost: float = 1.0,
    prompt: int = 1000,
    output: int = 100,
    project: str = "/home/dev/atlas",
    key: str | None = None,
    unpriced: bool = False,
) -> ApiCall:
    return ApiCall(
        "claude-code",
        key or f"{session}-{when}",
        session,
        project,
        when,
        "claude-sonnet-4-5-20250929",
        Tokens(input=prompt, output=output),
        cost=cost,
        unpriced=unpriced,
    )


# --- 5-hour blocks, as ccusage makes them ---------------------------------------------------------


def test_a_block_starts_at_the_hour_of_its_first_call_and_lasts_five_hours() -> None:
    times = [ts(20, 10, 20), ts(20, 11), ts(20, 14, 59)]
    assert blocks(times) == [(ts(20, 10), ts(20, 14, 59))]


def test_a_call_after_the_end_or_after_a_five_hour_pause_starts_a_new_block() -> None:
    times = [ts(20, 10, 20), ts(20, 15, 1), ts(20, 15, 30), ts(20, 20, 45)]
    # 15:01 is past 10:00 + 5 h; 20:45 comes 5 h 15 m after 15:30: each starts a block
    assert blocks(times) == [
        (ts(20, 10), ts(20, 10, 20)),
        (ts(20, 15), ts(20, 15, 30)),
        (ts(20, 20), ts(20, 20, 45)),
    ]
    assert blocks([]) == []


def test_the_block_running_now_is_found_and_an_ended_one_is_not() -> None:
    data = recent([call(ts(20, 10, 20)), call(ts(20, 11, 5))])
    assert data.block_at(ts(20, 12)) == (ts(20, 10), ts(20, 11, 5))
    assert data.block_at(ts(20, 15)) is None  # 10:00 + 5 h
    assert data.block_at(ts(20, 9)) is None


# --- the summary at a moment ------------------------------------------------------------------


def test_today_block_rate_and_projection_at_a_given_moment() -> None:
    calls = [
        call(ts(19, 23, 50), cost=5.0),  # yesterday, and the block before
        call(ts(20, 9, 10), cost=2.0, prompt=10_000),
        call(ts(20, 10, 40), cost=1.0, prompt=20_000),
        call(ts(20, 11, 5), cost=3.0, prompt=30_000, output=1_000),
    ]
    now = ts(20, 11, 20)
    summary = summarize(recent(calls), UTC_CALENDAR, now)
    assert summary.today.calls == 3 and summary.today.cost == pytest.approx(6.0)
    assert summary.today.tokens == 10_100 + 20_100 + 31_000
    block = summary.block
    assert block is not None and (block.start, block.end) == (ts(20, 9), ts(20, 14))
    assert block.usage.calls == 3 and block.usage.cost == pytest.approx(6.0)
    assert block.left(now) == 2 * 3600 + 40 * 60
    assert block.last_30m.calls == 1  # 10:50 to 11:20: the 10:40 call is out, 11:05 is in
    assert block.cost_per_hour == pytest.approx(6.0)  # $3 in half an hour


def test_the_rate_window_is_the_last_half_hour() -> None:
    calls = [call(ts(20, 10, 40), cost=1.0), call(ts(20, 11, 5), cost=3.0, output=1_100)]
    summary = summarize(recent(calls), UTC_CALENDAR, ts(20, 11, 20))
    block = summary.block
    assert block is not None
    assert block.last_30m.calls == 1 and block.cost_per_hour == pytest.approx(6.0)
    assert block.tokens_per_minute == pytest.approx(2_100 / 30)
    # $4 so far, $6/h for the 3 h 40 m left of the 10:00–15:00 block
    assert block.projected_cost(ts(20, 11, 20)) == pytest.approx(4.0 + 6.0 * (3 + 40 / 60))


def test_today_is_the_local_day_of_now() -> None:
    tokyo = Calendar(ZoneInfo("Asia/Tokyo"))
    calls = [call(ts(19, 14, 30)), call(ts(19, 15, 30))]  # 23:30 and 00:30 in Tokyo
    summary = summarize(recent(calls), tokyo, ts(19, 16))
    assert summary.today.calls == 1


def test_busy_sessions_are_coloured_by_the_context_of_their_newest_call() -> None:
    calls = [
        call(ts(20, 10), session="a", prompt=50_000),
        call(ts(20, 11), session="a", prompt=170_000, project="/home/dev/atlas"),
        call(ts(20, 11, 10), session="b", prompt=120_000, project="/home/dev/web"),
        call(ts(20, 10, 30), session="c", prompt=10_000),  # 50 minutes ago: not live
    ]
    summary = summarize(recent(calls), UTC_CALENDAR, ts(20, 11, 20), thresholds=Thresholds())
    assert [(b.pulse.name, b.tone) for b in summary.busy] == [("web", "warn"), ("atlas", "high")]
    assert summary.tones == {"claude-code:b": "warn", "claude-code:a": "high"}
    calm = summarize(
        recent(calls), UTC_CALENDAR, ts(20, 11, 20), thresholds=Thresholds(200_000, 300_000)
    )
    assert {b.tone for b in calm.busy} == {"ok"}


def test_codex_limits_that_have_reset_since_are_not_shown() -> None:
    logged = {
        "observed_at": ts(20, 9),
        "five_hour": {"used_percent": 23.0, "window_minutes": 300, "resets_at": ts(20, 12)},
        "weekly": {"used_percent": 41.0, "window_minutes": 10080, "resets_at": ts(23, 0)},
    }
    older = {**logged, "observed_at": ts(19, 9)}
    history = (older, logged)  # the newest counts
    assert [(x.name, x.used_percent) for x in limits(history, ts(20, 11))] == [
        ("5h", 23.0),
        ("week", 41.0),
    ]
    assert [x.name for x in limits(history, ts(20, 13))] == ["week"]
    assert limits((), ts(20, 13)) == ()
    flat = {"observed_at": ts(20, 9), "five_hour": {"used_percent": 5.0, "resets_at": None}}
    assert [x.name for x in limits((flat,), ts(20, 13))] == ["5h"]  # no reset time: 5 h from seen
    assert limits((flat,), ts(20, 9) + BLOCK) == ()


def test_nothing_recent_means_nothing_to_show() -> None:
    summary = summarize(recent([]), UTC_CALENDAR, ts(20, 11))
    assert summary.today.calls == 0 and summary.block is None and summary.busy == ()
