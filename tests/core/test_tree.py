"""The tree: days and weeks in the user's zone, turns from prompts, aggregates that add up."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tokentree.core.records import ApiCall, Prompt, Tokens
from tokentree.core.tree import Calendar, Kind, build_tree, short_model, week_key

UTC_CAL = Calendar(ZoneInfo("UTC"))


def call(
    when: str,
    *,
    session: str = "s1",
    output: int = 10,
    key: str | None = None,
    tools: tuple[str, ...] = (),
    subagent: bool = False,
    cost: float = 0.01,
    model: str = "claude-sonnet-4-5-20250929",
) -> ApiCall:
    moment = datetime.fromisoformat(when)
    return ApiCall(
        source="claude-code",
        key=key or f"{session}:{when}",
        session_id=session,
        project="/home/dev/atlas",
        timestamp=moment.timestamp(),
        model=model,
        tokens=Tokens(input=1, cache_read=100, output=output),
        tools=tools,
        subagent=subagent,
        cost=cost,
    )


def prompt(when: str, session: str = "s1") -> Prompt:
    return Prompt("claude-code", session, datetime.fromisoformat(when).timestamp())


def _days(tree) -> list[str]:
    return [day.key for week in tree.children for day in week.children]


def test_days_follow_the_time_zone_at_midnight() -> None:
    calls = [call("2026-11-20T22:59:00+00:00"), call("2026-11-20T23:01:00+00:00")]
    assert _days(build_tree(calls, [], UTC_CAL)) == ["2026-11-20"]
    berlin = Calendar(ZoneInfo("Europe/Berlin"))  # UTC+1 in November
    assert _days(build_tree(calls, [], berlin)) == ["2026-11-20", "2026-11-21"]


def test_days_follow_dst_changes() -> None:
    """New York leaves DST on 2026-11-01: midnight moves from 04:00 to 05:00 UTC."""
    new_york = Calendar(ZoneInfo("America/New_York"))
    calls = [
        call("2026-10-31T03:59:00+00:00"),  # Oct 30, 23:59 EDT
        call("2026-10-31T04:00:00+00:00"),  # Oct 31, 00:00 EDT
        call("2026-11-02T04:59:00+00:00"),  # Nov 1, 23:59 EST
        call("2026-11-02T05:00:00+00:00"),  # Nov 2, 00:00 EST
    ]
    assert _days(build_tree(calls, [], new_york)) == [
        "2026-10-30",
        "2026-10-31",
        "2026-11-01",
        "2026-11-02",
    ]
    assert new_york.day_start(date(2026, 11, 2)) == datetime(2026, 11, 2, 5, tzinfo=UTC).timestamp()


def test_half_hour_zones_bucket_correctly() -> None:
    kolkata = Calendar(ZoneInfo("Asia/Kolkata"))  # UTC+5:30
    calls = [call("2026-11-20T18:29:00+00:00"), call("2026-11-20T18:31:00+00:00")]
    assert _days(build_tree(calls, [], kolkata)) == ["2026-11-20", "2026-11-21"]


def test_weeks_follow_the_week_start() -> None:
    sunday = call("2026-11-22T12:00:00+00:00")  # a Sunday
    monday = call("2026-11-23T12:00:00+00:00")
    iso = build_tree([sunday, monday], [], UTC_CAL)
    assert [w.key for w in iso.children] == ["2026-W47", "2026-W48"]
    assert iso.children[0].label == "2026-W47  Nov 16–22"
    us = build_tree([sunday, monday], [], Calendar(ZoneInfo("UTC"), week_start=6))
    assert [len(w.children) for w in us.children] == [2]
    assert us.children[0].label.endswith("Nov 22–28")
    assert week_key(date(2025, 12, 29)) == "2026-W01"


def test_a_session_across_midnight_appears_under_each_day() -> None:
    calls = [
        call("2026-11-20T23:30:00+00:00", output=5),
        call("2026-11-21T00:40:00+00:00", output=7),
    ]
    tree = build_tree(calls, [prompt("2026-11-20T23:29:00+00:00")], UTC_CAL)
    days = tree.children[0].children
    assert [[s.key for s in d.children] for d in days] == [["claude-code:s1"]] * 2
    assert [d.totals.output for d in days] == [5, 7]
    assert tree.children[0].sessions == 1 and tree.sessions == 1


def test_turns_start_at_prompts_and_hold_sub_agent_calls() -> None:
    calls = [
        call("2026-11-20T09:00:00+00:00", key="warmup"),
        call("2026-11-20T09:01:00+00:00", key="a", tools=("Read app.py", "Read b.py")),
        call("2026-11-20T09:02:00+00:00", key="b", tools=("Task Explore",)),
        call("2026-11-20T09:02:30+00:00", key="sub", subagent=True, tools=("Grep",)),
        call("2026-11-20T09:10:00+00:00", key="c", tools=("Edit app.py",)),
    ]
    prompts = [
        prompt("2026-11-20T09:00:30+00:00"),
        prompt("2026-11-20T09:09:00+00:00"),
        prompt("2026-11-20T09:09:00+00:00"),
    ]  # a resumed copy of the same prompt
    session = build_tree(calls, prompts, UTC_CAL).find("2026-W47/2026-11-20/claude-code:s1")
    assert session is not None and session.kind is Kind.SESSION
    assert [[leaf.key for leaf in turn.children] for turn in session.children] == [
        ["warmup"],
        ["a", "b", "sub"],
        ["c"],
    ]
    assert session.turns == 3
    assert session.children[1].label == "#1 09:00 · Read×2 Task×1 Grep×1"
    assert session.children[1].totals.subagent_calls == 1
    assert session.label == "atlas · 09:00–09:10 · sonnet-4.5"


def test_aggregates_add_up_at_every_level() -> None:
    calls = [
        call(
            f"2026-11-{d:02d}T{h:02d}:00:00+00:00", session=f"s{d % 3}", output=d * h, cost=d * 0.5
        )
        for d in range(1, 28)
        for h in (1, 13, 23)
    ]
    tree = build_tree(calls, [], UTC_CAL)
    assert tree.totals.calls == len(calls)
    assert tree.totals.output == sum(c.tokens.output for c in calls)
    for node in tree.walk():
        if node.children:
            assert node.totals.calls == sum(child.totals.calls for child in node.children)
            assert abs(node.totals.cost - sum(c.totals.cost for c in node.children)) < 1e-9
    assert tree.totals.cache_hit == 100 / 101


def test_short_model_names() -> None:
    assert short_model("claude-opus-4-5-20251101") == "opus-4.5"
    assert short_model("claude-sonnet-4-5-20250929") == "sonnet-4.5"
    assert short_model("claude-opus-4-6") == "opus-4.6"
    assert short_model("gpt-5-codex") == "gpt-5-codex"
