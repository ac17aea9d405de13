"""The live line's arithmetic (5-hour blocks, today, burn rate, limits) and the tree splice."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
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
from tokentree.core.records import ApiCall, Prompt, Tokens
from tokentree.core.splice import splice
from tokentree.core.tree import Calendar, Node, build_tree

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
    assert [(x.name, x.used_percent) for x in limits(logged, ts(20, 11))] == [
        ("5h", 23.0),
        ("week", 41.0),
    ]
    assert [x.name for x in limits(logged, ts(20, 13))] == ["week"]
    assert limits(None, ts(20, 13)) == ()
    flat = {"observed_at": ts(20, 9), "five_hour": {"used_percent": 5.0, "resets_at": None}}
    assert [x.name for x in limits(flat, ts(20, 13))] == ["5h"]  # no reset time: 5 h from seen
    assert limits(flat, ts(20, 9) + BLOCK) == ()


def test_nothing_recent_means_nothing_to_show() -> None:
    summary = summarize(recent([]), UTC_CALENDAR, ts(20, 11))
    assert summary.today.calls == 0 and summary.block is None and summary.busy == ()


# --- the splice: a live refresh regrows only the days from the change on --------------------------


def _random_history(seed: int) -> tuple[list[ApiCall], list[Prompt]]:
    rng = random.Random(seed)
    calls: list[ApiCall] = []
    prompts: list[Prompt] = []
    start = ts(2, 20)
    for number in range(40):
        session = f"s{number}"
        moment = start + rng.uniform(0, 21 * 86_400)
        for _turn in range(rng.randint(1, 4)):
            prompts.append(Prompt("claude-code", session, moment))
            for _ in range(rng.randint(1, 6)):
                moment += rng.uniform(10, 3 * 3600)  # sessions cross midnight now and then
                calls.append(
                    call(
                        moment, session=session, cost=rng.uniform(0, 2), project=f"/p/{number % 5}"
                    )
                )
    return calls, prompts


def _same(a: Node, b: Node, path: str = "") -> None:
    here = f"{path}/{a.key}"
    assert (a.kind, a.key, a.label, a.start, a.end) == (b.kind, b.key, b.label, b.start, b.end), (
        here
    )
    assert (a.sessions, a.turns, a.models) == (b.sessions, b.turns, b.models), here
    assert a.totals.calls == b.totals.calls and a.totals.total == b.totals.total, here
    assert a.totals.cost == pytest.approx(b.totals.cost), here
    assert [c.key for c in a.children] == [c.key for c in b.children], here
    for x, y in zip(a.children, b.children, strict=True):
        _same(x, y, here)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_spliced_tree_equals_a_full_build(seed: int) -> None:
    calls, prompts = _random_history(seed)
    full = build_tree(calls, prompts, UTC_CALENDAR)
    for since in (date(2026, 11, 3), date(2026, 11, 10), date(2026, 11, 16), date(2026, 11, 30)):
        cut = UTC_CALENDAR.day_start(since)
        rng = random.Random(seed)
        old_calls = [c for c in calls if c.timestamp < cut or rng.random() < 0.5]  # some unseen
        old = build_tree(old_calls, prompts, UTC_CALENDAR)
        fresh = build_tree([c for c in calls if c.timestamp >= cut], prompts, UTC_CALENDAR)
        spliced = splice(old, fresh, since)
        _same(spliced, full)
        unchanged = [w for w in old.children if w.children[-1].key < since.isoformat()]
        assert all(any(w is s for s in spliced.children) for w in unchanged), "shared, not copied"


def test_splicing_into_an_empty_tree_and_from_before_everything() -> None:
    calls, prompts = _random_history(4)
    full = build_tree(calls, prompts, UTC_CALENDAR)
    empty = build_tree([], [], UTC_CALENDAR)
    _same(splice(empty, full, date(2026, 1, 1)), full)
    _same(splice(full, full, date(2026, 1, 1)), full)
    _same(splice(full, build_tree([], [], UTC_CALENDAR), date(2027, 1, 1)), full)
