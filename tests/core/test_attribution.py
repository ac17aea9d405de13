"""Activity attribution: every source's tools land in the documented class, and the parts of
every node add up to its totals exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentree.core.attribution import (
    CLASS_HELP,
    CLASSES,
    Attribution,
    activity_of,
    activity_split,
    call_activity,
    carried,
    carried_share,
    context_curve,
    largest_remainder,
    mix,
    new_material,
    split_call,
    tool_bucket,
)
from tokentree.core.records import ApiCall, Prompt, Tokens
from tokentree.core.tree import Calendar, Kind, build_tree

T0 = datetime(2026, 11, 19, 9, 0, tzinfo=UTC).timestamp()
TOKENS = Tokens(input=10, cache_write_5m=100, cache_read=1_000, output=50)


def make_call(
    seconds: float,
    tools: tuple[str, ...] = (),
    *,
    session: str = "s1",
    tokens: Tokens = TOKENS,
    cost: float = 0.01,
    subagent: bool = False,
    file: str = "/logs/s1.jsonl",
) -> ApiCall:
    return ApiCall(
        source="claude-code",
        key=f"{session}:{seconds}",
        session_id=session,
        project="/home/dev/atlas",
        timestamp=T0 + seconds,
        model="claude-opus-4-5-20251101",
        tokens=tokens,
        tools=tools,
        subagent=subagent,
        cost=cost,
        file=file,
    )


@pytest.mark.parametrize(
    ("label", "activity"),
    [
        # Claude Code
        ("Read app.py", "reading"),
        ("Grep", "reading"),
        ("Glob", "reading"),
        ("Edit app.py", "editing"),
        ("Write notes.md", "editing"),
        ("MultiEdit x.py", "editing"),
        ("Bash make", "commands"),
        ("Bash pytest", "testing"),
        ("Bash git", "git"),
        ("Bash rg", "reading"),
        ("WebFetch docs.example.com", "web"),
        ("WebSearch", "web"),
        ("TodoWrite", "planning"),
        ("Task Explore", "delegation"),
        ("Agent general-purpose", "delegation"),
        ("mcp__github__create_issue", "git"),
        ("mcp__playwright__browser_click", "web"),
        ("mcp__linear__create_ticket", "other"),
        ("SlashCommand", "other"),
        # Codex
        ("shell rg", "reading"),
        ("shell sed", "reading"),
        ("shell pytest", "testing"),
        ("shell_command git", "git"),
        ("exec_command cargo", "commands"),
        ("apply_patch x.py", "editing"),
        ("shell apply_patch", "editing"),
        ("update_plan", "planning"),
        ("web_search", "web"),
        ("view_image", "reading"),
        # Gemini CLI
        ("read_file app.py", "reading"),
        ("read_many_files", "reading"),
        ("list_directory", "reading"),
        ("grep_search", "reading"),
        ("glob", "reading"),
        ("write_file a.py", "editing"),
        ("replace a.py", "editing"),
        ("run_shell_command npm", "commands"),
        ("run_shell_command jest", "testing"),
        ("web_fetch example.com", "web"),
        ("google_web_search", "web"),
        ("write_todos", "planning"),
        # OpenCode
        ("read app.ts", "reading"),
        ("list", "reading"),
        ("grep", "reading"),
        ("edit app.ts", "editing"),
        ("write app.ts", "editing"),
        ("bash vitest", "testing"),
        ("bash ls", "reading"),
        ("webfetch example.com", "web"),
        ("todowrite", "planning"),
        ("task general", "delegation"),
    ],
)
def test_tool_labels_of_every_source_land_in_their_class(label: str, activity: str) -> None:
    assert tool_bucket(label).activity == activity


def test_other_is_kept_by_mcp_server_or_tool_name() -> None:
    assert tool_bucket("mcp__linear__create_ticket").detail == "mcp:linear"
    assert tool_bucket("SlashCommand").detail == "SlashCommand"
    assert set(CLASS_HELP) == set(CLASSES)


def test_where_a_call_ran_decides_before_its_tools() -> None:
    compaction = make_call(0, file="/p/s1/subagents/agent-acompact-1a2b.jsonl", subagent=True)
    assert call_activity(compaction) == "compaction"
    assert call_activity(make_call(1, ("Read a.py",), subagent=True)) == "delegation"
    assert call_activity(make_call(2)) == "conversation"
    assert call_activity(make_call(3, ("Read a.py", "Edit a.py", "Edit b.py"))) == "editing"
    assert call_activity(make_call(4, ("Read a.py", "Edit a.py"))) == "reading"  # tie: order


def test_a_calls_activity_in_words_is_split_as_its_cost_is() -> None:
    assert activity_split(make_call(0, ("Read a.py",))) == "reading"
    assert activity_split(make_call(1, ("Read a.py", "Edit a.py"))) == "reading 50% · editing 50%"
    three = make_call(2, ("Edit a.py", "Read a.py", "Edit b.py"))
    assert activity_split(three) == "editing 67% · reading 33%"


def test_a_call_with_several_tools_is_split_by_largest_remainder() -> None:
    tokens = Tokens(input=1, cache_read=9, output=0)  # 10 tokens over 3 tools
    parts = split_call(make_call(0, ("Read a.py", "Read b.py", "Bash pytest"), tokens=tokens))
    assert [(bucket.activity, count) for bucket, count, _ in parts] == [
        ("reading", 7),  # 6.67 → 6, and the leftover unit: the larger fraction
        ("testing", 3),  # 3.33 → 3
    ]
    assert math.isclose(sum(cost for _, _, cost in parts), 0.01)


def test_largest_remainder_is_exact_and_deterministic() -> None:
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert largest_remainder(0, [2, 1]) == [0, 0]
    assert largest_remainder(7, [0, 0]) == [7, 0]


@given(st.integers(0, 10**12), st.lists(st.integers(0, 50), min_size=1, max_size=8))
def test_largest_remainder_parts_sum_and_stay_within_one_of_the_exact_share(
    total: int, weights: list[int]
) -> None:
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    if sum(weights):
        for part, weight in zip(parts, weights, strict=True):
            assert abs(part - total * weight / sum(weights)) < 1


LABELS = [
    "Read app.py",
    "Edit app.py",
    "Bash pytest",
    "Bash git",
    "shell rg",
    "apply_patch x.py",
    "Task Explore",
    "TodoWrite",
    "WebFetch example.com",
    "mcp__linear__create",
    "mcp__github__pr",
    "Mystery",
    "read_file a.py",
    "bash ls",
]

calls_strategy = st.lists(
    st.tuples(
        st.integers(0, 14 * 86_400),  # when
        st.sampled_from(["s1", "s2", "s3"]),
        st.lists(st.sampled_from(LABELS), max_size=5).map(tuple),
        st.tuples(*[st.integers(0, 2_000_000)] * 5),
        st.floats(0, 50, allow_nan=False),
        st.sampled_from(["main", "subagent", "compaction"]),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(calls_strategy, st.lists(st.integers(0, 14 * 86_400), max_size=10))
def test_activity_parts_always_add_up_to_every_node(raw: list, prompt_times: list[int]) -> None:
    calls = [
        ApiCall(
            source="claude-code",
            key=f"k{i}",
            session_id=session,
            project="/home/dev/atlas",
            timestamp=T0 + when,
            model="m",
            tokens=Tokens(*numbers),
            tools=tools,
            subagent=where != "main",
            cost=cost,
            file="/p/agent-acompact-1.jsonl" if where == "compaction" else "/p/s.jsonl",
        )
        for i, (when, session, tools, numbers, cost, where) in enumerate(raw)
    ]
    prompts = [Prompt("claude-code", "s1", T0 + when) for when in prompt_times]
    tree = build_tree(calls, prompts, Calendar(ZoneInfo("Europe/Berlin")))
    attribution = Attribution(tree)
    for node in tree.walk():  # builds every call row too: those are attributed on demand
        classes = attribution[node].classes()
        assert sum(tokens for tokens, _ in classes.values()) == node.totals.total
        assert math.isclose(
            sum(cost for _, cost in classes.values()), node.totals.cost, rel_tol=1e-9, abs_tol=1e-9
        )
        assert list(classes) == [name for name in CLASSES if name in classes]
        other = attribution[node].other()
        assert sum(tokens for tokens, _ in other.values()) == classes.get("other", (0, 0))[0]


def test_export_shape_of_activity_and_the_dominant_class() -> None:
    calls = [
        make_call(0, ("Read a.py",), cost=0.30),
        make_call(60, ("Edit a.py",), cost=0.10),
        make_call(120, cost=0.05),
    ]
    tree = build_tree(calls, [], Calendar(ZoneInfo("UTC")))
    activity = activity_of(tree)
    assert activity.dominant() == "reading"
    assert mix(activity, ("reading", "editing", "commands", "conversation")) == "▆▂ ▁"
    assert activity.as_dict() == {
        "reading": {"tokens": 1_160, "cost_usd": 0.3},
        "editing": {"tokens": 1_160, "cost_usd": 0.1},
        "conversation": {"tokens": 1_160, "cost_usd": 0.05},
    }


def test_attribution_does_not_build_call_rows() -> None:
    tree = build_tree([make_call(0, ("Read a.py",))], [], Calendar(ZoneInfo("UTC")))
    Attribution(tree)
    turn = tree.children[0].children[0].children[0].children[0]
    assert turn.kind is Kind.TURN and turn._unbuilt_calls is not None


def test_context_accounting_separates_history_from_new_material() -> None:
    first = make_call(0, tokens=Tokens(input=5, cache_write_5m=20_000, output=100))
    second = make_call(30, tokens=Tokens(input=5, cache_write_5m=1_000, cache_read=20_000))
    sub = make_call(40, tokens=Tokens(input=5, cache_write_5m=3_000), subagent=True)
    third = make_call(60, tokens=Tokens(input=5, cache_write_5m=500, cache_read=21_000))
    assert (carried(second), new_material(second)) == (20_000, 1_005)
    assert carried_share(third) == pytest.approx(21_000 / 21_505)
    tree = build_tree([first, second, sub, third], [], Calendar(ZoneInfo("UTC")))
    session = tree.children[0].children[0].children[0]
    curve = context_curve(session)
    assert [(point.prompt, point.carried) for point in curve] == [
        (20_005, 0),
        (21_005, 20_000),
        (21_505, 21_000),
    ]  # the sub-agent's own small context is left out
