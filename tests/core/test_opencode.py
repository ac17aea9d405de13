"""OpenCode: its SQLite database (read while it is written) and the older JSON storage files."""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.builders import (
    OpenCodeStore,
    ms,
    opencode_session_file,
    opencode_storage,
    opencode_usage,
    token_totals,
)
from tokentree.core.index import Index, Scope
from tokentree.core.sources import default_roots, find_files, opencode, sniff
from tokentree.core.sources.base import BAD_TIMESTAMP, BAD_TOKENS

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
ROOT, CHILD = "ses_root", "ses_child"


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Harness:
    """An index on disk over a fake OpenCode data dir."""

    def __init__(self, home: Path) -> None:
        self.data = home / ".local" / "share" / "opencode"
        self.roots = default_roots(
            {"XDG_DATA_HOME": str(home / ".local/share")}, home, ["opencode"]
        )
        self.index = Index(home / "index.sqlite")

    def update(self):
        found = find_files(self.roots)
        return self.index.update(found.files, self.roots)

    def scope(self) -> Scope:
        return Scope(tuple(str(root.path) for root in self.roots), (opencode.NAME,))

    def calls(self):
        self.update()
        return sorted(self.index.calls(self.scope()), key=lambda call: (call.timestamp, call.key))

    def totals(self) -> tuple[int, ...]:
        kinds = ("input", "cache_write", "cache_read", "output", "reasoning")
        return token_totals(self.calls(), kinds)

    def copies(self) -> int:
        return self.index.db.execute("SELECT count(*) FROM copies").fetchone()[0]


@pytest.fixture
def harness(isolated_home: Path) -> Harness:
    return Harness(isolated_home)


def _session_with_sub_agent(store: OpenCodeStore) -> tuple[tuple[dict, list[dict]], ...]:
    """A root session with a two-step response, an old response whose parts are gone, one still
    streaming, and a child session (a task sub-agent) with one response."""
    store.session(ROOT, T0)
    store.session(CHILD, _at(5), parent=ROOT)
    store.user("msg_01", ROOT, _at(0))
    two_steps = store.assistant(
        "msg_02",
        ROOT,
        _at(1),
        [opencode_usage(100, 50, 10, read=1000, write=200), opencode_usage(20, 30, read=1300)],
        tools=[
            [("read", {"filePath": "/home/dev/shop/src/app.py"})],
            [("bash", {"command": "pytest -q tests/", "description": "run the tests"})],
        ],
    )
    old = store.assistant("msg_03", ROOT, _at(3), [], tokens=opencode_usage(5, 7))
    store.user("msg_04", CHILD, _at(5))
    child = store.assistant(
        "msg_05",
        CHILD,
        _at(6),
        [opencode_usage(400, 80, 40, read=600)],
        tools=[[("webfetch", {"url": "https://docs.python.org/3/library/sqlite3.html"})]],
        model="gpt-5",
        provider="openai",
    )
    store.assistant("msg_06", ROOT, _at(9), [], finished=False)  # streaming: no usage yet
    return two_steps, old, child


def test_the_database_gives_one_call_per_step(harness: Harness) -> None:
    store = OpenCodeStore(harness.data)
    _session_with_sub_agent(store)
    calls = harness.calls()
    # input excludes cache already; reasoning is billed as output
    assert harness.totals() == (4, 525, 200, 2900, 217, 50)
    assert [c.key for c in calls] == [
        "opencode:msg_02:0",
        "opencode:msg_02:1",
        "opencode:msg_03:0",
        "opencode:msg_05:0",
    ]
    assert [c.tools for c in calls] == [
        ("read app.py",),
        ("bash pytest",),
        (),
        ("webfetch docs.python.org",),
    ]
    assert {c.session_id for c in calls} == {ROOT}  # the child session joins its root
    assert [c.subagent for c in calls] == [False, False, False, True]
    assert [c.model for c in calls] == ["claude-sonnet-4-5"] * 3 + ["gpt-5"]
    assert {c.project for c in calls} == {"/home/dev/shop"}
    assert calls[0].timestamp == _at(1).timestamp() + 1  # the step's own time
    assert not any(c.unpriced for c in calls)
    assert [c.source_cost for c in calls] == [0.01, 0.01, None, 0.01]  # OpenCode's own, kept
    sonnet = (100 * 3 + 200 * 3.75 + 1000 * 0.3 + 60 * 15) / 1e6
    assert calls[0].cost == pytest.approx(sonnet, abs=1e-9)
    assert len(harness.index.prompts(harness.scope())) == 1  # the child's task is no prompt
    store.close()


def test_the_database_is_read_on_from_its_change_marks_while_opencode_writes(
    harness: Harness,
) -> None:
    """Writes land in the WAL first: the main file does not change, the index still notices,
    and asks only for rows updated since its last read, never forgetting what it read."""
    store = OpenCodeStore(harness.data)
    _session_with_sub_agent(store)
    assert harness.totals()[0] == 4
    main_file = os.stat(store.path)
    store.db.execute("BEGIN")
    store.user("msg_07", ROOT, _at(20))
    store.assistant(
        "msg_08",
        ROOT,
        _at(21),
        [opencode_usage(10, 20, read=3000)],
        tools=[[("edit", {"filePath": "/home/dev/shop/src/cart.py", "oldString": "x"})]],
    )
    store.db.execute("COMMIT")
    assert os.stat(store.path).st_mtime_ns == main_file.st_mtime_ns
    assert os.path.getsize(f"{store.path}-wal") > 0
    stats = harness.update()
    assert (stats.files_read, stats.files_reread) == (1, 0)
    assert stats.new_copies <= 2  # the new call, and at most the one at the old mark again
    assert harness.totals() == (5, 535, 200, 5900, 237, 50)
    assert harness.copies() == 5
    assert harness.calls()[-1].tools == ("edit cart.py",)
    assert len(harness.index.prompts(harness.scope())) == 2
    assert harness.update().files_read == 0  # nothing changed: not even opened
    store.close()


def test_a_step_finished_later_is_counted_once_with_its_tools(harness: Harness) -> None:
    store = OpenCodeStore(harness.data)
    store.session(ROOT, T0)
    store.assistant("msg_02", ROOT, _at(1), [opencode_usage(100, 10)])
    streaming = {
        "role": "assistant",
        "time": {"created": ms(_at(2))},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "cost": 0,
        "tokens": opencode_usage(0, 0),
    }
    store.db.execute(
        "INSERT INTO message VALUES ('msg_03', ?, ?, ?, ?)",
        (ROOT, ms(_at(2)), ms(_at(2)), orjson.dumps(streaming).decode()),
    )
    moment = ms(_at(2)) + 500
    store.db.execute(
        "INSERT INTO part VALUES ('prt_a', 'msg_03', ?, ?, ?, ?)",
        (ROOT, moment, moment, '{"type":"tool","tool":"glob","state":{"input":{"pattern":"*"}}}'),
    )
    assert harness.totals()[0] == 1  # the second response has not finished a step yet
    store.db.execute(
        "INSERT INTO part VALUES ('prt_b', 'msg_03', ?, ?, ?, ?)",
        (
            ROOT,
            moment + 900,
            moment + 900,
            '{"type":"step-finish","reason":"tool-calls","cost":0,"tokens":{"input":7,'
            '"output":3,"reasoning":0,"cache":{"read":90,"write":0}}}',
        ),
    )
    calls = harness.calls()
    assert harness.totals() == (2, 107, 0, 90, 13, 0)
    assert calls[-1].tools == ("glob",)
    store.close()


def test_reverted_messages_stay_counted(harness: Harness) -> None:
    """A revert deletes messages from OpenCode's database; the calls were still paid for."""
    store = OpenCodeStore(harness.data)
    _session_with_sub_agent(store)
    assert harness.totals()[0] == 4
    store.db.execute("DELETE FROM part WHERE message_id = 'msg_02'")
    store.db.execute("DELETE FROM message WHERE id = 'msg_02'")
    store.assistant("msg_09", ROOT, _at(30), [opencode_usage(1, 1)])
    assert harness.totals() == (5, 526, 200, 2900, 218, 50)
    store.close()


def test_json_storage_and_database_copies_count_once(harness: Harness) -> None:
    """Older OpenCode wrote JSON files; the migration copied them into the database and kept
    them. A message only in the JSON files (the database was started later) still counts."""
    storage = harness.data / "storage"
    store = OpenCodeStore(harness.data)
    two_steps, old, child = _session_with_sub_agent(store)
    for message, parts in (two_steps, old, child):
        opencode_storage(storage, message, parts)
    opencode_session_file(storage, ROOT)
    opencode_session_file(storage, CHILD, parent=ROOT)
    only_json = {
        "id": "msg_00",
        "sessionID": CHILD,
        "role": "assistant",
        "time": {"created": int(_at(-60).timestamp() * 1000), "completed": 1},
        "modelID": "claude-haiku-4-5",
        "providerID": "anthropic",
        "path": {"cwd": "/home/dev/shop", "root": "/home/dev/shop"},
        "cost": 0.0,
        "tokens": opencode_usage(11, 22, read=33),
    }
    opencode_storage(storage, only_json)
    store.close()
    (harness.data / "snapshot" / "abc").mkdir(parents=True)  # git snapshots: never walked
    (harness.data / "snapshot" / "abc" / "x.json").write_text('{"sessionID":"s","role":"user"}')
    calls = harness.calls()
    assert harness.totals() == (5, 536, 200, 2933, 239, 50)
    assert harness.copies() == 9  # four calls copied in both, one only in JSON
    assert calls[0].key == "opencode:msg_00:0"
    assert (calls[0].session_id, calls[0].subagent) == (ROOT, True)
    assert [c.tools for c in calls[1:3]] == [("read app.py",), ("bash pytest",)]
    files = {Path(file.path).name for file in find_files(harness.roots).files}
    assert files == {"opencode.db", "msg_00.json", "msg_02.json", "msg_03.json", "msg_05.json"}


def test_json_storage_alone(harness: Harness) -> None:
    storage = harness.data / "storage"
    store = OpenCodeStore(harness.data / "scratch")
    two_steps, _, _ = _session_with_sub_agent(store)
    store.close()
    opencode_storage(storage, *two_steps)
    opencode_session_file(storage, ROOT)
    user = {"id": "msg_01", "sessionID": ROOT, "role": "user", "time": {"created": ms(T0)}}
    assert sniff(str(opencode_storage(storage, user))) == opencode.NAME
    calls = harness.calls()
    assert harness.totals() == (2, 120, 200, 2300, 90, 10)
    assert {c.timestamp for c in calls} == {_at(1).timestamp()}  # parts carry no time here
    assert len(harness.index.prompts(harness.scope())) == 1


def test_a_busy_database_is_retried_later(harness: Harness, monkeypatch) -> None:
    monkeypatch.setattr(opencode, "BUSY_TIMEOUT", 0.05)
    store = OpenCodeStore(harness.data)
    store.session(ROOT, T0)
    store.assistant("msg_02", ROOT, _at(1), [opencode_usage(100, 10)])
    store.db.execute("PRAGMA journal_mode = DELETE")  # no WAL: a writer locks readers out
    store.db.execute("BEGIN EXCLUSIVE")
    stats = harness.update()
    assert stats.files_read == 0
    assert any("will retry" in problem for problem in stats.problems)
    store.db.execute("COMMIT")
    assert harness.totals()[0] == 1
    store.close()


def test_a_database_that_is_not_opencodes_is_skipped(harness: Harness) -> None:
    harness.data.mkdir(parents=True)
    other = sqlite3.connect(harness.data / "opencode-beta.db")
    other.execute("CREATE TABLE notes(x)")
    other.commit()
    other.close()
    stats = harness.update()
    assert not stats.problems and harness.totals()[0] == 0
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {"not an OpenCode database": 1}
    assert sniff(str(harness.data / "opencode-beta.db")) == opencode.NAME


def test_unpriced_zero_usage_and_router_model_ids(harness: Harness) -> None:
    store = OpenCodeStore(harness.data)
    store.session(ROOT, T0)
    store.assistant(
        "msg_02",
        ROOT,
        _at(1),
        [opencode_usage(1000, 100)],
        model="anthropic/claude-sonnet-4.5",
        provider="openrouter",
    )
    store.assistant("msg_03", ROOT, _at(2), [opencode_usage(0, 0)])  # usage not reported
    routed, silent = harness.calls()
    assert routed.cost == pytest.approx((1000 * 3 + 100 * 15) / 1e6, abs=1e-9)
    assert silent.unpriced and silent.cost == 0  # unknown, not free
    store.close()


def test_discovery(tmp_path: Path) -> None:
    assert opencode.discover({}, tmp_path) == [tmp_path / ".local/share/opencode"]
    assert opencode.discover({"XDG_DATA_HOME": "/x/data"}, tmp_path) == [Path("/x/data/opencode")]
    assert opencode.discover({"OPENCODE_DATA_DIR": "/a, /b", "XDG_DATA_HOME": "/x"}, tmp_path) == [
        Path("/a"),
        Path("/b"),
    ]


def test_a_session_table_without_a_dropped_column_still_reads(harness: Harness) -> None:
    """Newer schemas drop columns (`session.directory`): the others are still read."""
    store = OpenCodeStore(harness.data)
    _session_with_sub_agent(store)
    store.db.execute("DROP INDEX session_project_idx")
    store.db.execute("ALTER TABLE session DROP COLUMN directory")
    assert harness.totals() == (4, 525, 200, 2900, 217, 50)
    assert {c.session_id for c in harness.calls()} == {ROOT}
    store.close()


def test_opencodes_own_cost_is_kept_beside_ours_in_the_export(harness: Harness) -> None:
    from zoneinfo import ZoneInfo

    from tokentree.core.export import node_dict
    from tokentree.core.tree import Calendar, build_tree

    store = OpenCodeStore(harness.data)
    _session_with_sub_agent(store)
    calls = harness.calls()
    store.close()
    tree = build_tree(calls, [], Calendar(ZoneInfo("UTC")))
    exported = node_dict(tree)
    ours = sum(call.cost for call in calls if call.source_cost is not None)
    assert exported["source_cost_usd"] == pytest.approx(0.03)
    assert exported["source_cost_ours_usd"] == pytest.approx(ours, abs=1e-6)
    assert exported["rewound_calls"] == 0


def test_bad_counts_and_times_skip_their_steps_and_the_others_count_exactly(
    harness: Harness,
) -> None:
    """A missing or null count is 0, as before; a bool, a negative or a huge one is refused."""
    far, old = datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)
    store = OpenCodeStore(harness.data)
    store.session(ROOT, T0)
    store.user("msg_01", ROOT, _at(0))
    store.user("msg_00", ROOT, old)  # not a prompt
    quiet = opencode_usage(7, 3)
    quiet["reasoning"] = None
    del quiet["cache"]
    store.assistant(
        "msg_02",
        ROOT,
        _at(1),
        [
            opencode_usage(100, 10, read=1000),
            opencode_usage(2**63, 10),
            opencode_usage(100, -1),
            opencode_usage(100, 10, reasoning=True),
            opencode_usage(100, 10, write=1.5),
            quiet,
        ],
    )
    store.assistant("msg_03", ROOT, _at(3), [], tokens=opencode_usage(5, 2**53))  # no parts
    store.assistant("msg_04", ROOT, far, [opencode_usage(100, 10)])
    store.assistant("msg_05", ROOT, old, [opencode_usage(100, 10)])
    store.assistant("msg_06", ROOT, _at(6), [opencode_usage(20, 2)])
    store.db.execute("UPDATE part SET time_created = ? WHERE message_id = 'msg_06'", (ms(far),))
    store.assistant("msg_07", ROOT, _at(7), [opencode_usage(40, 4, read=400)])
    calls = harness.calls()
    assert harness.totals() == (3, 147, 0, 1400, 17, 0)
    assert [c.key for c in calls] == ["opencode:msg_02:0", "opencode:msg_02:5", "opencode:msg_07:0"]
    assert len(harness.index.prompts(harness.scope())) == 1
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {BAD_TOKENS: 5, BAD_TIMESTAMP: 4}
    store.close()


def test_json_storage_skips_a_message_with_a_bad_time_or_count(harness: Harness) -> None:
    storage = harness.data / "storage"
    opencode_session_file(storage, ROOT)
    good = {
        "id": "msg_02",
        "sessionID": ROOT,
        "role": "assistant",
        "time": {"created": ms(_at(1)), "completed": ms(_at(2))},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "tokens": opencode_usage(11, 22, read=33),
    }
    opencode_storage(storage, good)
    opencode_storage(storage, good | {"id": "msg_03", "time": {"created": 9e15, "completed": 1}})
    opencode_storage(storage, good | {"id": "msg_04", "tokens": opencode_usage(-11, 22)})
    assert harness.totals() == (1, 11, 0, 33, 22, 0)
    skipped: Counter[str] = Counter()
    for diagnostics in harness.index.diagnostics(harness.scope()):
        skipped.update(diagnostics.skipped)
    assert skipped == {BAD_TIMESTAMP: 1, BAD_TOKENS: 1}
