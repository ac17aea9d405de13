"""A reader's staged batch: its copies merged per file, and their sums as the index's own."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import claude_call, jsonl
from tokentree.core.activity_sums import activity_of
from tokentree.core.pricing import PriceBook, Pricing
from tokentree.core.reading import parser_for
from tokentree.core.records import Fidelity
from tokentree.core.rows import TOOL_SEPARATOR, Row, call_rows, rollup_of
from tokentree.core.staging import HELD_ROWS, Stage

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def staged(stage: Stage) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.deserialize(stage.finish())
    return db


def rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Sums of floats in another order differ in the last bit (as derive.check rounds them)."""
    return sorted(
        tuple(round(value, 9) if isinstance(value, float) else value for value in row)
        for row in rows
    )


def copies() -> st.SearchStrategy[Row]:
    """Rows of every kind the sums treat apart: unpriced, estimated, lower bounds, fast, a
    source's own cost, sub-agents, rewound, tools in one bucket or split."""
    tools = st.lists(st.sampled_from(["Read", "Edit", "Bash", "Glob", "WebFetch"]), max_size=3)
    return st.builds(
        lambda key, *values: (f"k{key}", f"f{key}", *values),
        st.integers(0, 40),
        st.integers(0, 3),  # rank
        st.integers(0, 1),  # subagent
        st.sampled_from(["claude-code", "codex"]),
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(["/p", "/q"]),
        st.floats(1.7e9, 1.7e9 + 7200, allow_nan=False).map(lambda ts: round(ts, 3)),
        st.sampled_from(["opus", "sonnet"]),
        *[st.integers(0, 10**9)] * 6,  # the tokens
        tools.map(TOOL_SEPARATOR.join),
        st.sampled_from([fidelity.value for fidelity in Fidelity]),
        st.floats(0, 50, allow_nan=False),
        st.sampled_from([int(pricing) for pricing in Pricing]),
        st.integers(0, 1),  # rewound
        st.none() | st.floats(0, 50, allow_nan=False),
        st.sampled_from(["standard", "fast"]),
        st.integers(0, 3),  # web searches
        st.sampled_from(["", "reading", "editing", "conversation", "other/mcp:x"]),
        st.sampled_from(["", "expired"]),
        st.floats(0, 5, allow_nan=False),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.lists(copies(), max_size=12)), max_size=6))
def test_a_reader_s_sums_are_the_sums_the_index_derives(
    reads: list[tuple[int, list[Row]]],
) -> None:
    """The rollup and activity a reader stages are the rows the index's own SQL gives for the
    same copies, merged ones included (a file read from its start takes them as they are),
    whether the copies were held and summed in Python or, past `held_rows` (one huge
    transcript), staged as they came and summed in SQL: the two give the same database."""
    tables = []
    for held_rows in (HELD_ROWS, 2):
        stage = Stage(held_rows=held_rows)
        for file_id, rows in sorted(reads, key=lambda read: read[0]):
            stage.add(file_id, rows)
        db = staged(stage)
        rollup = rounded(db.execute("SELECT * FROM staged_rollup").fetchall())
        activity = rounded(db.execute("SELECT * FROM staged_activity").fetchall())
        assert rollup == rounded(db.execute(rollup_of("staged")).fetchall())
        assert activity == rounded(activity_of(db, "staged"))
        tables.append((db.execute("SELECT * FROM staged ORDER BY id").fetchall(), rollup, activity))
    assert tables[0] == tables[1]


def test_the_staged_activity_is_what_activity_of_sums() -> None:
    """Parsed calls whose tools fall in one bucket or in several (split): the staged activity
    is the rows activity_of() gives for the same copies."""
    stage = Stage()
    parse = parser_for("claude-code")
    lines = [
        claude_call("msg_a", T0, tools=(("Read", {"file_path": "a.py"}),)),
        claude_call("msg_b", T0 + timedelta(minutes=1), tools=(("Read", {"file_path": "b.py"}),)),
        claude_call("msg_c", T0 + timedelta(minutes=2), tools=(("Edit", {}), ("Glob", {}))),
        claude_call("msg_d", T0 + timedelta(minutes=3), tools=(("Edit", {}), ("Glob", {}))),
        claude_call("msg_e", T0 + timedelta(minutes=40)),
    ]
    parsed = parse([jsonl(line).rstrip(b"\n") for line in lines], {}, "/logs/s.jsonl")
    stage.add(7, call_rows(parsed.calls, parsed.ranks, PriceBook(), parsed.families))
    db = staged(stage)
    activity = db.execute("SELECT * FROM staged_activity").fetchall()
    assert rounded(activity) == rounded(activity_of(db, "staged"))
    assert {row[6] for row in activity} == {"reading", "editing", "conversation"}


def test_a_file_staged_in_blocks_keeps_one_merged_copy_of_a_repeated_call() -> None:
    """A response met again later in the same file (its next block, or a resumed session's
    repeat) is merged into the row already staged: the fullest usage and every tool."""
    book = PriceBook()
    stage = Stage()
    parse = parser_for("claude-code")
    for line in (
        claude_call("msg_a", T0, output=3),
        claude_call("msg_b", T0 + timedelta(minutes=1), output=4),
        claude_call("msg_a", T0, output=50, tools=(("Glob", {}),)),
    ):
        parsed = parse([jsonl(line).rstrip(b"\n")], {}, "/logs/s.jsonl")
        stage.add(7, call_rows(parsed.calls, parsed.ranks, book, parsed.families))
    rows = staged(stage).execute("SELECT key, output, tools FROM staged ORDER BY key").fetchall()
    assert [(key.split(":")[0], output, tools) for key, output, tools in rows] == [
        ("msg_a", 50, "Glob"),
        ("msg_b", 4, ""),
    ]
