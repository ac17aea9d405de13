"""OpenCode: its SQLite database (read while it is written) and the older JSON storage files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
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
    assert [c.timestamp for c in calls] == [  # each message's time.created, not its rows'
        _at(1).timestamp(),
        _at(1).timestamp(),
        _at(3).timestamp(),
        _at(6).timestamp(),
    ]
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


def test_migrated_messages_keep_their_own_time_not_the_migration_day(harness: Harness) -> None:
    """The JSON-to-database migration writes every row on the day it runs; each call happened
    when its message was created, in the database copy and the JSON copy alike."""
    storage = harness.data / "storage"
    store = OpenCodeStore(harness.data)
    messages = _session_with_sub_agent(store)
    for message, parts in messages:
        opencode_storage(storage, message, parts)
    opencode_session_file(storage, ROOT)
    opencode_session_file(storage, CHILD, parent=ROOT)
    migrated = ms(T0 + timedelta(days=40))
    for table in ("message", "part"):
        store.db.execute(f"UPDATE {table} SET time_created = ?, time_updated = ?", (migrated,) * 2)
    store.close()
    created = {message["id"]: message["time"]["created"] / 1000 for message, _ in messages}
    calls = harness.calls()
    assert [(c.key, c.timestamp) for c in calls] == [
        ("opencode:msg_02:0", _at(1).timestamp()),
        ("opencode:msg_02:1", _at(1).timestamp()),
        ("opencode:msg_03:0", _at(3).timestamp()),
        ("opencode:msg_05:0", _at(6).timestamp()),
    ]
    assert all(c.timestamp == created[c.key.split(":")[1]] for c in calls)
    copies = harness.index.db.execute("SELECT key, ts FROM copies ORDER BY key").fetchall()
    assert len(copies) == 8  # each call from the database and from its JSON file
    assert all(ts == created[key.split(":")[1]] for key, ts in copies)
    assert harness.totals() == (4, 525, 200, 2900, 217, 50)


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
    # a part row's own time is not the call's: even an implausible one skips nothing
    store.db.execute("UPDATE part SET time_created = ? WHERE message_id = 'msg_06'", (ms(far),))
    store.assistant("msg_07", ROOT, _at(7), [opencode_usage(40, 4, read=400)])
    calls = harness.calls()
    assert harness.totals() == (4, 167, 0, 1400, 19, 0)
    assert [c.key for c in calls] == [
        "opencode:msg_02:0",
        "opencode:msg_02:5",
        "opencode:msg_06:0",
        "opencode:msg_07:0",
    ]
    assert calls[2].timestamp == _at(6).timestamp()
    assert len(harness.index.prompts(harness.scope())) == 1
    [diagnostics] = harness.index.diagnostics(harness.scope())
    assert diagnostics.skipped == {BAD_TOKENS: 5, BAD_TIMESTAMP: 3}
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


# --- OpenCode 2: `session_message` beside the frozen v1 tables --------------------------------

OLD = "ses_old"
_V2_SESSION_COLUMNS = (
    "fork_boundary text",
    "time_idle integer",
    "idle_outcome text",
    "time_suspended integer",
    "resume_attempts integer",
)
_SESSION_MESSAGE = """
CREATE TABLE `session_message` (
    `id` text PRIMARY KEY,
    `session_id` text NOT NULL,
    `type` text NOT NULL,
    `seq` integer NOT NULL,
    `time_created` integer NOT NULL,
    `time_updated` integer NOT NULL,
    `data` text NOT NULL
);
CREATE UNIQUE INDEX `session_message_session_seq_idx` ON `session_message` (`session_id`, `seq`);
"""


def _v2_assistant(
    when: datetime,
    usage: dict | None,
    *,
    tools: Sequence[tuple[str, dict]] = (),
    model: str = "claude-sonnet-4-5",
    provider: str = "anthropic",
) -> dict:
    """An OpenCode 2 assistant row's data, one step: no usage while it streams, no token total."""
    content: list[dict] = [{"type": "text", "id": "txt_1", "text": "On it."}]
    content += [
        {
            "type": "tool",
            "id": f"call_{number}",
            "name": name,
            "state": {"status": "completed", "input": arguments, "content": []},
            "time": {"created": ms(when)},
        }
        for number, (name, arguments) in enumerate(tools)
    ]
    data: dict = {
        "type": "assistant",
        "agent": "build",
        "model": {"id": model, "providerID": provider},
        "content": content,
        "time": {"created": ms(when)},
    }
    if usage is not None:
        tokens = {name: count for name, count in usage.items() if name != "total"}
        data |= {"finish": "stop", "cost": 0.02, "tokens": tokens}
        data["time"]["completed"] = ms(when) + 4000
    return data


class OpenCode2Store(OpenCodeStore):
    """An `opencode.db` upgraded to OpenCode 2 (FORMATS.md §9.4): the v1 tables keep what they
    held; messages go to `session_message`, sessions to `session` (early 2.x builds, with new
    columns) or to `session_v2` (later builds), as `upgrade` is told."""

    def upgrade(self, session_table: str) -> None:
        self.session_table = session_table
        self.seq: Counter[str] = Counter()
        if session_table == "session_v2":
            self.db.execute("CREATE TABLE session_v2 AS SELECT * FROM session WHERE 0")
        for column in _V2_SESSION_COLUMNS:
            self.db.execute(f"ALTER TABLE {session_table} ADD COLUMN {column}")
        self.db.executescript(_SESSION_MESSAGE)

    def v2_session(
        self, session_id: str, when: datetime, parent: str | None = None, directory: str = ""
    ) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO {self.session_table}(id, project_id, parent_id, slug,"
            " directory, title, version, time_created, time_updated)"
            " VALUES (?, 'proj_1', ?, ?, ?, 'a title', '2.0.25', ?, ?)",
            (session_id, parent, session_id, directory or "/home/dev/shop", ms(when), ms(when)),
        )

    def row(self, row_id: str, session: str, data: dict, written: datetime | None = None) -> None:
        """A new row, of the data's type, written when its message was created or at `written`."""
        self.seq[session] += 1
        moment = ms(written) if written else data["time"]["created"]
        values = (row_id, session, data["type"], self.seq[session], moment, moment)
        self.db.execute(
            "INSERT INTO session_message VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*values, orjson.dumps(data).decode()),
        )

    def rewrite(self, row_id: str, data: dict, written: datetime) -> None:
        self.db.execute(
            "UPDATE session_message SET data = ?, time_updated = ? WHERE id = ?",
            (orjson.dumps(data).decode(), ms(written), row_id),
        )

    def v2_user(self, row_id: str, session: str, when: datetime) -> None:
        data = {"type": "user", "text": "fix it", "files": [], "agents": [], "references": []}
        self.row(row_id, session, {**data, "time": {"created": ms(when)}})

    def backfill(self, session: str, messages: Sequence[dict], written: datetime) -> None:
        """OpenCode 2's copies of a session's v1 messages, under new ids; tokens lose `total`."""
        ordered = sorted(messages, key=lambda message: (message["time"]["created"], message["id"]))
        for ordinal, message in enumerate(ordered):
            digest = hashlib.sha256(f"{session}/{message['id']}".encode()).hexdigest()[:24]
            data: dict = {"type": message["role"], "time": {"created": message["time"]["created"]}}
            if message["role"] == "assistant":
                tokens = {k: v for k, v in message["tokens"].items() if k != "total"}
                data |= {
                    "agent": "build",
                    "model": {"id": message["modelID"], "providerID": message["providerID"]},
                    "content": [],
                    "cost": message["cost"],
                    "tokens": tokens,
                }
            self.row(f"evt_legacy_backfill_m_{ordinal:08d}_{digest}", session, data, written)


def _split_session(store: OpenCode2Store, session_table: str) -> dict:
    """A session begun in OpenCode 1 (three calls) and continued in OpenCode 2 (two calls and a
    step still streaming), its v1 messages backfilled; a v2 sub-agent (one call); an older v1
    session not backfilled (one call). The v2 session rows say the project moved to /srv/shop.

    Returns the older session's message, which OpenCode 2 has not copied yet."""
    store.session(OLD, _at(-31))
    older, _ = store.assistant("msg_00", OLD, _at(-30), [opencode_usage(7, 11, read=500)])
    store.session(ROOT, T0)
    v1_user = store.user("msg_01", ROOT, _at(0))
    two_steps, _ = store.assistant(
        "msg_02",
        ROOT,
        _at(1),
        [opencode_usage(100, 50, 10, read=1000, write=200), opencode_usage(20, 30, read=1300)],
        tools=[[("read", {"filePath": "/home/dev/shop/src/app.py"})]],
    )
    one_step, _ = store.assistant("msg_03", ROOT, _at(3), [opencode_usage(5, 7, read=1400)])
    store.upgrade(session_table)
    store.v2_session(ROOT, T0, directory="/srv/shop")
    store.v2_session(CHILD, _at(15), parent=ROOT, directory="/srv/shop")
    store.backfill(ROOT, [v1_user, two_steps, one_step], written=_at(9))
    store.v2_user("evt_user_10", ROOT, _at(10))
    edit = ("edit", {"filePath": "/srv/shop/src/cart.py", "oldString": "x"})
    usage = opencode_usage(40, 60, 20, read=1500, write=100)
    store.row("msg_v2_11", ROOT, _v2_assistant(_at(11), usage, tools=[edit]))
    store.row("msg_v2_12", ROOT, _v2_assistant(_at(12), opencode_usage(8, 90, read=1700)))
    switched = {"type": "model-switched", "model": {"id": "gpt-5"}, "time": {"created": 1}}
    store.row("evt_model_13", ROOT, switched, written=_at(13))
    store.row("msg_v2_14", ROOT, _v2_assistant(_at(14), None))  # streaming: no usage yet
    store.v2_user("evt_user_15", CHILD, _at(15))  # the sub-agent's task, not a prompt
    usage = opencode_usage(300, 40, read=600)
    store.row("msg_v2_16", CHILD, _v2_assistant(_at(16), usage, model="gpt-5", provider="openai"))
    return older


@pytest.mark.parametrize("session_table", ["session", "session_v2"])
def test_a_session_split_between_opencode_1_and_2_counts_each_call_once(
    harness: Harness, session_table: str
) -> None:
    """v1 messages, OpenCode 2's backfilled copies of them and native v2 rows: the copies are
    skipped, every call counts once, each at its message's time.created."""
    store = OpenCode2Store(harness.data)
    _split_session(store, session_table)
    calls = harness.calls()
    assert harness.totals() == (7, 480, 300, 8000, 318, 30)
    assert [(c.key, c.timestamp) for c in calls] == [
        ("opencode:msg_00:0", _at(-30).timestamp()),
        ("opencode:msg_02:0", _at(1).timestamp()),
        ("opencode:msg_02:1", _at(1).timestamp()),
        ("opencode:msg_03:0", _at(3).timestamp()),
        ("opencode:msg_v2_11:0", _at(11).timestamp()),
        ("opencode:msg_v2_12:0", _at(12).timestamp()),
        ("opencode:msg_v2_16:0", _at(16).timestamp()),
    ]
    assert [c.session_id for c in calls] == [OLD] + [ROOT] * 6
    assert [c.subagent for c in calls] == [False] * 6 + [True]
    assert [c.model for c in calls] == ["claude-sonnet-4-5"] * 6 + ["gpt-5"]
    # v1 messages name their folder; v2 ones take their session's, the v2 row's
    assert [c.project for c in calls] == ["/home/dev/shop"] * 4 + ["/srv/shop"] * 3
    assert [c.tools for c in calls][3:5] == [(), ("edit cart.py",)]
    assert [c.source_cost for c in calls] == [0.01] * 4 + [0.02] * 3
    assert not any(c.unpriced for c in calls)
    prompts = harness.index.prompts(harness.scope())
    assert [prompt.timestamp for prompt in prompts] == [_at(0).timestamp(), _at(10).timestamp()]
    store.close()


def test_opencode_2_rows_are_read_on_from_their_change_mark(harness: Harness) -> None:
    """A step that ends rewrites its row in place; a backfill may come after a read: the step
    counts once, the copies never."""
    store = OpenCode2Store(harness.data)
    older = _split_session(store, "session_v2")
    assert harness.totals()[0] == 7
    ended = _v2_assistant(_at(14), opencode_usage(3, 9, read=1800))
    store.rewrite("msg_v2_14", ended, written=_at(17))  # after the sub-agent it waited for
    store.backfill(OLD, [older], written=_at(20))
    stats = harness.update()
    assert stats.files_read == 1
    assert harness.totals() == (8, 483, 300, 9800, 327, 30)
    assert harness.copies() == 8
    assert harness.calls()[-2].key == "opencode:msg_v2_14:0"
    assert harness.update().files_read == 0
    store.close()


def test_an_opencode_2_row_under_its_v1_id_counts_once(harness: Harness) -> None:
    """Should a build keep the v1 id, the v1 message, which holds every step, counts alone."""
    store = OpenCode2Store(harness.data)
    store.session(ROOT, T0)
    steps = [opencode_usage(20, 30), opencode_usage(100, 50, read=1000)]
    store.assistant("msg_02", ROOT, _at(1), steps)
    store.upgrade("session_v2")
    store.row("msg_02", ROOT, _v2_assistant(_at(1), steps[-1]))
    assert harness.totals() == (2, 120, 0, 1000, 80, 0)
    store.close()


def test_a_database_with_only_opencode_2_tables_is_read(harness: Harness) -> None:
    store = OpenCode2Store(harness.data)
    store.upgrade("session_v2")
    for table in ("part", "message", "session"):
        store.db.execute(f"DROP TABLE {table}")
    store.v2_session(ROOT, T0)
    store.v2_user("evt_user_1", ROOT, _at(0))
    usage = opencode_usage(12, 34, 5, read=678, write=9)
    store.row("msg_v2_2", ROOT, _v2_assistant(_at(1), usage))
    [call] = harness.calls()
    assert harness.totals() == (1, 12, 9, 678, 39, 5)
    assert (call.session_id, call.project) == (ROOT, "/home/dev/shop")
    assert call.timestamp == _at(1).timestamp()
    assert len(harness.index.prompts(harness.scope())) == 1
    store.close()
