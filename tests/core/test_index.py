"""The persistent index: incremental reads, dedup across files, history kept, robust storage."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import (
    agent_progress_copy,
    append,
    claude_call,
    claude_prompt,
    jsonl,
    write,
)
from tests.conftest import REAL_SAMPLES
from tokentree.core import tail
from tokentree.core.index import FileHealth, Index, Scope, derive
from tokentree.core.index.store import INDEXES
from tokentree.core.sources import SOURCES, Root, default_roots, find_files

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Harness:
    """An index on disk over a fake Claude Code / Codex home."""

    def __init__(self, home: Path, db: Path | None = None) -> None:
        self.home = home
        self.db = db or home / "index.sqlite"
        env = {"CLAUDE_CONFIG_DIR": str(home / ".claude"), "CODEX_HOME": str(home / ".codex")}
        self.roots = default_roots(env, home)
        self.projects = home / ".claude" / "projects" / "-home-dev-atlas"

    def update(self, index: Index | None = None) -> Index:
        index = index or Index(self.db)
        found = find_files(self.roots)
        index.update(found.files, self.roots)
        return index

    def scope(self) -> Scope:
        return Scope(tuple(str(r.path) for r in self.roots), ("claude-code", "codex"))

    def calls(self, index: Index | None = None):
        index = index or self.update()
        calls = index.calls(self.scope())
        _assert_rollup_matches(index, self.scope(), calls)
        return calls

    def totals(self, index: Index | None = None) -> tuple[int, ...]:
        calls = self.calls(index)
        return (
            len(calls),
            *(
                sum(getattr(c.tokens, k) for c in calls)
                for k in ("input", "cache_write", "cache_read", "output")
            ),
        )


def _assert_rollup_matches(index: Index, scope: Scope, calls) -> None:
    """The report's rollup always equals the sum of the counted calls."""
    by_session: dict[str, list] = {}
    for call in calls:
        sums = by_session.setdefault(f"{call.source} {call.session_id}", [0] * 6 + [0.0, 0])
        t = call.tokens
        for position, value in enumerate(
            (
                1,
                t.input,
                t.cache_write,
                t.cache_read,
                t.output,
                t.reasoning,
                call.cost,
                int(call.unpriced),
            )
        ):
            sums[position] += value
    rolled = {row[0]: list(row[1:]) for row in index.sums(scope, "session")}
    assert rolled.keys() == by_session.keys()
    for session, sums in by_session.items():
        assert rolled[session][:6] == sums[:6] and rolled[session][7] == sums[7]
        assert abs(rolled[session][6] - sums[6]) < 1e-9


def _sample_bytes() -> bytes:
    return (REAL_SAMPLES / "claude_code" / "spotter_tool_heavy.jsonl").read_bytes()


def _snapshot(index: Index, harness: Harness) -> list[tuple]:
    return sorted(
        (c.key, c.tokens, c.tools, c.timestamp, c.session_id) for c in harness.calls(index)
    )


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=39_000), min_size=1, max_size=12))
def test_appending_in_random_chunks_equals_one_pass(cuts: list[int]) -> None:
    """Split anywhere, mid-line and mid-UTF-8: the index ends up exactly as one read of it."""
    import tempfile

    data = (
        _sample_bytes()
        + "é€😀".encode() * 0
        + jsonl(claude_call("msg_utf8", T0, tools=(("Read", {"file_path": "/src/héllo€.py"}),)))
    )
    with tempfile.TemporaryDirectory() as folder:
        whole = Harness(Path(folder) / "whole")
        write(whole.projects / "s.jsonl")
        (whole.projects / "s.jsonl").write_bytes(data)
        expected = _snapshot(whole.update(), whole)

        chunked = Harness(Path(folder) / "chunked")
        target = chunked.projects / "s.jsonl"
        write(target)
        index = Index(chunked.db)
        position = 0
        for cut in sorted(set(cuts)) + [len(data)]:
            append(target, data[position:cut])
            position = max(position, cut)
            chunked.update(index)
        assert _snapshot(index, chunked) == expected
        assert len(expected) == 5


def test_a_split_multibyte_character_waits_for_the_rest(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    line = jsonl(claude_call("msg_1", T0, tools=(("Read", {"file_path": "/src/naïve€.py"}),)))
    cut = line.index("€".encode()) + 1
    target = harness.projects / "s.jsonl"
    write(target)
    append(target, line[:cut])
    index = harness.update()
    assert harness.calls(index) == []
    append(target, line[cut:])
    [call] = harness.calls(harness.update(index))
    assert call.tools == ("Read naïve€.py",)


def test_half_written_last_line_is_read_once_complete(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    target = write(harness.projects / "s.jsonl", claude_call("msg_1", T0, output=5))
    line = jsonl(claude_call("msg_2", T0 + timedelta(seconds=5), output=7))
    append(target, line[:40])
    index = harness.update()
    assert harness.totals(index)[0] == 1
    [diagnostic] = index.diagnostics(harness.scope())
    assert diagnostic.pending_bytes == 40 and diagnostic.skipped == {}
    append(target, line[40:])
    assert harness.totals(harness.update(index)) == (2, 20, 0, 0, 12)
    assert index.diagnostics(harness.scope()) == []


def test_resumed_session_copies_count_once(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    first = [claude_call(f"msg_{i}", T0 + timedelta(minutes=i), output=100) for i in range(3)]
    write(harness.projects / "old.jsonl", claude_prompt(T0), *first)
    resumed = [dict(line, sessionId="new-session") for line in first]
    write(
        harness.projects / "new.jsonl",
        *resumed,
        claude_call("msg_new", T0 + timedelta(hours=1), session="new-session"),
    )
    calls = harness.calls()
    assert len(calls) == 4
    assert sum(c.tokens.output for c in calls) == 400


def test_copies_met_in_later_batches_of_a_first_build_count_once(isolated_home: Path) -> None:
    """Each file its own batch: a copy read after its first copy was written and let go."""
    harness = Harness(isolated_home)
    source = REAL_SAMPLES / "claude_code"
    shutil.copytree(source, harness.projects)
    resumed = [
        dict(line, sessionId="resumed")
        for line in map(orjson.loads, _sample_bytes().splitlines())
        if line.get("type") == "assistant"
    ]
    write(harness.projects / "zz-resumed.jsonl", *resumed)
    expected = _snapshot(harness.update(Index(None)), harness)
    index = Index(None)
    found = find_files(harness.roots)
    index.update(found.files, harness.roots, batch_bytes=1)
    assert _snapshot(index, harness) == expected


def test_copies_staged_with_ids_already_taken_get_new_ones(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group of files holds more calls than the ids it was given: the next group's ids are
    taken when it is stored, and its copies are given new ones."""
    from tokentree.core import reading

    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    expected = _snapshot(harness.update(Index(None)), harness)
    monkeypatch.setattr(reading, "ID_BYTES", 10**9)
    monkeypatch.setattr(reading, "IDS_LEAST", 1)
    index = Index(None)
    found = find_files(harness.roots)
    index.update(found.files, harness.roots, batch_bytes=1)
    assert _snapshot(index, harness) == expected
    assert index.check() == []


def test_a_first_build_gives_back_its_page_cache_and_syncs_again(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build runs unsynced with a big page cache, and out of WAL mode while no other
    connection is open; the index that stays open (the view's, for hours) is back on
    SQLite's own settings and in WAL mode, whether the build ends or fails."""
    from tokentree.core.index.store import COLD_CACHE_SIZE, DEFAULT_CACHE_SIZE

    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    index = Index(harness.db)
    during: list[tuple[int, int]] = []
    store = index._store

    def watched(*args, **kwargs):
        during.append(_settings(index))
        raise OSError("disk full")

    monkeypatch.setattr(index, "_store", watched)
    with pytest.raises(OSError):
        harness.update(index)
    assert during == [(COLD_CACHE_SIZE, 0, "delete")]
    assert _settings(index) == (DEFAULT_CACHE_SIZE, 1, "wal")
    monkeypatch.setattr(index, "_store", store)
    harness.update(index)
    assert _settings(index) == (DEFAULT_CACHE_SIZE, 1, "wal")
    assert index.check() == []


def _settings(index: Index) -> tuple[int, int, str]:
    """(cache_size, synchronous, journal_mode) of the index's connection."""
    return tuple(
        index.db.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("cache_size", "synchronous", "journal_mode")
    )


def test_a_first_build_keeps_wal_mode_while_another_connection_is_open(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance with the file open (reading, or waiting to write) would be locked out
    of a file in rollback-journal mode: the first build then writes through the WAL, and at
    once, without waiting for the other to close."""
    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    index = Index(harness.db)
    other = sqlite3.connect(harness.db)
    other.execute("BEGIN")
    other.execute("SELECT count(*) FROM files").fetchone()  # a reader in the middle of a read
    modes: list[str] = []
    store = index._store

    def watched(*args, **kwargs):
        modes.append(_settings(index)[2])
        return store(*args, **kwargs)

    monkeypatch.setattr(index, "_store", watched)
    started = time.monotonic()
    harness.update(index)
    assert modes and set(modes) == {"wal"} and time.monotonic() - started < 30
    other.rollback()
    other.close()
    assert _settings(index)[2] == "wal" and index.check() == []
    assert _snapshot(index, harness) == _snapshot(harness.update(Index(None)), harness)


def test_content_blocks_of_one_response_count_once_with_the_fullest_usage(
    isolated_home: Path,
) -> None:
    harness = Harness(isolated_home)
    thinking = claude_call("msg_1", T0, output=3, version="2.1.38")
    tool = claude_call(
        "msg_1",
        T0,
        output=173,
        version="2.1.38",
        tools=(("Bash", {"command": "pytest -q tests/"}),),
    )
    write(harness.projects / "s.jsonl", thinking, tool)
    [call] = harness.calls()
    assert call.tokens.output == 173
    assert call.tools == ("Bash pytest",)
    assert call.fidelity.value == "lower-bound"


def test_a_log_read_many_times_completes_earlier_calls_in_place(isolated_home: Path) -> None:
    """A response whose blocks span two reads of its file is one copy, merged as one read of
    the whole file would give: the fullest usage and every tool."""
    harness = Harness(isolated_home)
    log = write(harness.projects / "s.jsonl", claude_prompt(T0))
    index = Index(harness.db)
    reads = 12
    for i in range(reads):
        when = T0 + timedelta(minutes=i)
        append(log, jsonl(claude_call(f"msg_{i}", when, output=3)))
        harness.update(index)
        append(log, jsonl(claude_call(f"msg_{i}", when, output=50, tools=(("Glob", {}),))))
    calls = harness.calls(harness.update(index))
    assert len(calls) == reads
    assert {(c.tokens.output, c.tools) for c in calls} == {(50, ("Glob",))}
    assert index.db.execute("SELECT count(*) FROM copies").fetchone()[0] == reads
    assert index.check() == []


def test_agent_progress_copies_count_only_without_the_sub_agent_file(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    sub_lines = [
        claude_call(f"msg_sub{i}", T0 + timedelta(seconds=i), sidechain=True, output=50)
        for i in range(2)
    ]
    parent = write(
        harness.projects / f"{'p' * 8}.jsonl",
        claude_prompt(T0 - timedelta(seconds=5)),
        claude_call(
            "msg_main", T0 - timedelta(seconds=1), tools=(("Task", {"subagent_type": "Explore"}),)
        ),
        *(agent_progress_copy(line, T0) for line in sub_lines),
    )
    assert parent.exists()
    only_copies = harness.calls()
    assert len(only_copies) == 3
    subagent_file = write(
        harness.projects / "pppppppp" / "subagents" / "agent-a1b2c3.jsonl", *sub_lines
    )
    index = harness.update()
    calls = harness.calls(index)
    assert len(calls) == 3
    winners = {c.key: c.file for c in calls}
    assert winners["msg_sub0:req_msg_sub0"] == str(subagent_file)
    assert sum(c.subagent for c in calls) == 2


def test_deleted_source_file_keeps_its_calls(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    target = write(harness.projects / "s.jsonl", claude_call("msg_1", T0, output=42))
    index = harness.update()
    target.unlink()
    calls = harness.calls(harness.update(index))
    assert [(c.tokens.output, c.file_missing) for c in calls] == [(42, True)]
    [diagnostic] = index.diagnostics(harness.scope())
    assert diagnostic.missing


def test_health_sums_the_diagnostics_of_the_scope(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    gone = write(harness.projects / "gone.jsonl", claude_call("msg_1", T0))
    broken = b'{"type":"assistant","usage"'
    write(harness.projects / "bad.jsonl", broken, claude_call("msg_2", T0), broken, broken)
    write(harness.projects / "fine.jsonl", claude_call("msg_3", T0))
    index = harness.update()
    gone.unlink()
    harness.update(index)
    health = index.health(harness.scope())
    assert health == FileHealth(skipped_lines=3, skipped_files=1, removed_files=1)
    elsewhere = Scope((str(isolated_home / "elsewhere"),), harness.scope().sources)
    assert index.health(elsewhere) == FileHealth()


def test_truncated_or_replaced_file_is_read_afresh(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    target = write(harness.projects / "s.jsonl", claude_call("msg_1", T0), claude_call("msg_2", T0))
    index = harness.update()
    assert harness.totals(index)[0] == 2
    write(target, claude_call("msg_3", T0, output=1))
    assert [c.key for c in harness.calls(harness.update(index))] == ["msg_3:req_msg_3"]


def test_a_source_whose_reader_reads_more_has_its_logs_read_again(
    isolated_home: Path, monkeypatch
) -> None:
    """Stored copies are what the reader of their day saw: a new reader reads them afresh.
    A log deleted since keeps the calls read from it then."""
    harness = Harness(isolated_home)
    write(harness.projects / "kept.jsonl", claude_call("msg_1", T0, output=5))
    gone = write(harness.projects / "gone.jsonl", claude_call("msg_2", T0, output=7))
    index = harness.update()
    gone.unlink()
    harness.update(index)
    newer = replace(SOURCES["claude-code"], version=SOURCES["claude-code"].version + 1)
    monkeypatch.setitem(SOURCES, "claude-code", newer)
    found = find_files(harness.roots)
    stats = index.update(found.files, harness.roots)
    assert stats.files_reread == 1
    calls = sorted(harness.calls(index), key=lambda call: call.key)
    assert [(c.tokens.output, c.file_missing) for c in calls] == [(5, False), (7, True)]
    assert index.update(found.files, harness.roots).files_reread == 0  # once


def test_unchanged_files_are_not_read_again(isolated_home: Path, monkeypatch) -> None:
    harness = Harness(isolated_home)
    write(harness.projects / "s.jsonl", claude_call("msg_1", T0))
    index = harness.update()
    reads = []
    original = tail.open_log
    monkeypatch.setattr(tail, "open_log", lambda *a: reads.append(a) or original(*a))
    found = find_files(harness.roots)
    stats = index.update(found.files, harness.roots)
    assert reads == [] and stats.files_read == 0


def test_malformed_binary_and_wrongly_typed_lines_are_skipped_and_counted(
    isolated_home: Path,
) -> None:
    harness = Harness(isolated_home)
    bad_types = claude_call("msg_bad", T0)
    bad_types["message"]["usage"]["output_tokens"] = "many"
    write(
        harness.projects / "s.jsonl",
        claude_call("msg_1", T0),
        b'{"type":"assistant","usage"',
        b'\xff\xfe"usage"\x00\x80',
        b"\x00\x01 binary junk",
        bad_types,
        b"[1, 2]",
        claude_call("msg_2", T0),
    )
    index = harness.update()
    assert harness.totals(index)[0] == 2
    [diagnostic] = index.diagnostics(harness.scope())
    assert diagnostic.skipped == {
        "malformed JSON": 1,
        "not a JSON object": 1,
        "wrong field types": 1,
    }


def test_corrupt_index_is_rebuilt_with_a_notice(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    write(harness.projects / "s.jsonl", claude_call("msg_1", T0))
    harness.update().close()
    harness.db.write_bytes(b"this is not a database" * 100)
    index = Index(harness.db)
    assert len(index.notices) == 1 and "rebuilt" in index.notices[0]
    assert harness.totals(harness.update(index))[0] == 1


def test_schema_mismatch_is_rebuilt(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    write(harness.projects / "s.jsonl", claude_call("msg_1", T0))
    harness.update().close()
    with sqlite3.connect(harness.db) as db:
        db.execute("PRAGMA user_version = 999")
    index = Index(harness.db)
    assert "format changed" in index.notices[0]
    assert harness.totals(harness.update(index))[0] == 1


def test_two_instances_at_once_do_not_corrupt_the_index(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    rng = random.Random(3)
    for n in range(20):
        write(
            harness.projects / f"s{n}.jsonl",
            *(claude_call(f"msg_{n}_{i}", T0, output=rng.randint(1, 9)) for i in range(30)),
        )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            harness.update(Index(harness.db))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert harness.totals()[0] == 600
    with sqlite3.connect(harness.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM copies").fetchone() == (600,)


def test_an_instance_opened_during_a_first_build_out_of_wal_waits_and_counts_exactly(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build alone takes the file out of WAL mode; another instance started while it
    runs (between two of its batches here) puts the file back in WAL mode, indexes the
    same logs, and both end with every call counted once, without an index in memory."""
    import multiprocessing

    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    expected = harness.totals(harness.update(Index(None)))
    index = Index(harness.db)
    modes: list[str] = []
    other: list[tuple[tuple[int, ...], list[str]]] = []
    store = index._store

    def with_another_instance(*args, **kwargs):
        modes.append(_settings(index)[2])
        if not other:
            with multiprocessing.get_context("fork").Pool(1) as pool:
                other.append(pool.apply(_index_and_count, (isolated_home,)))
        return store(*args, **kwargs)

    monkeypatch.setattr(index, "_store", with_another_instance)
    index.update(find_files(harness.roots).files, harness.roots, batch_bytes=1)
    assert modes[0] == "delete" and modes[-1] == "wal"
    assert other == [(expected, [])]
    assert harness.totals(index) == expected and index.check() == []
    assert _settings(index)[2] == "wal"


def test_an_index_held_out_of_wal_mode_by_a_first_build_opens_and_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance started while a first build writes in rollback-journal mode cannot put the
    file back in WAL mode yet: it opens the file as it is and waits for the lock as any
    writer does, never taking the index for busy for good (one attempt allowed here)."""
    from tokentree.core.index import store

    path = tmp_path / "index.sqlite"
    builder = store.open_store(path, [])
    assert builder.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
    builder.execute("BEGIN IMMEDIATE")
    builder.execute("INSERT INTO meta VALUES ('building', '1')")
    monkeypatch.setattr(store, "_OPEN_ATTEMPTS", 1)
    timer = threading.Timer(0.3, lambda: builder.execute("COMMIT"))
    timer.start()
    notices: list[str] = []
    opened = store.open_store(path, notices)
    timer.join()
    assert notices == [] and opened.execute(
        "SELECT value FROM meta WHERE key = 'building'"
    ).fetchone() == ("1",)
    opened.close()
    builder.close()


def test_a_first_build_killed_out_of_wal_mode_leaves_an_index_the_next_run_completes(
    isolated_home: Path,
) -> None:
    """The process of a first build alone (rollback-journal mode, no fsync) killed between two
    batches: the next run finds what was stored, reads the rest, counts every call once, and
    the file is in WAL mode again."""
    import multiprocessing

    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    expected = harness.totals(harness.update(Index(None)))
    child = multiprocessing.get_context("fork").Process(
        target=_killed_at_the_third_batch, args=(isolated_home,)
    )
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    with closing(sqlite3.connect(harness.db)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert 0 < db.execute("SELECT count(*) FROM copies").fetchone()[0]
    index = harness.update(Index(harness.db))
    assert harness.totals(index) == expected and index.check() == []
    assert _settings(index)[2] == "wal"


def _killed_at_the_third_batch(home: Path) -> None:
    harness = Harness(home)
    index = Index(harness.db)
    store = index._store
    stored: list[int] = []

    def killed(*args, **kwargs):
        if len(stored) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        stored.append(1)
        return store(*args, **kwargs)

    index._store = killed  # type: ignore[method-assign]
    index.update(find_files(harness.roots).files, harness.roots, batch_bytes=1)


def _index_and_count(home: Path) -> tuple[tuple[int, ...], list[str]]:
    harness = Harness(home)
    index = harness.update(Index(harness.db))
    return harness.totals(index), index.notices


def test_parallel_cold_read_equals_serial(isolated_home: Path, monkeypatch) -> None:
    harness = Harness(isolated_home)
    source = REAL_SAMPLES / "claude_code"
    shutil.copytree(source, harness.projects)
    serial = _snapshot(harness.update(Index(None)), harness)
    monkeypatch.setattr("tokentree.core.reading.PARALLEL_MIN_BYTES", 0)
    staged = isolated_home / "shm"  # where the readers leave their batches
    staged.mkdir()
    orphan = staged / "tokentree-999999999-killed"  # of a process killed mid-build
    orphan.mkdir()
    (orphan / "1.db").write_bytes(b"staged")
    alive = staged / f"tokentree-{os.getpid()}-building"  # of one at work (this one, here)
    alive.mkdir()
    monkeypatch.setattr("tokentree.core.readers.SHARED_MEMORY", str(staged))
    index = Index(None)
    found = find_files(harness.roots)
    index.update(found.files, harness.roots, workers=2)
    assert _snapshot(index, harness) == serial
    assert len(serial) == 49
    assert list(staged.iterdir()) == [alive]  # the orphan removed, its own folder gone too


def test_batches_that_cannot_be_left_in_a_file_come_through_the_pipe(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full (or missing) folder for the staged batches: the readers send them instead."""
    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    serial = _snapshot(harness.update(Index(None)), harness)
    monkeypatch.setattr("tokentree.core.reading.PARALLEL_MIN_BYTES", 0)
    gone = str(isolated_home / "no such folder")
    monkeypatch.setattr("tokentree.core.readers._staging_folder", lambda: gone)
    index = Index(None)
    found = find_files(harness.roots)
    index.update(found.files, harness.roots, workers=2)
    assert _snapshot(index, harness) == serial


def test_explicit_roots_scope_only_their_files(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    write(harness.projects / "s.jsonl", claude_call("msg_1", T0))
    other = write(isolated_home / "elsewhere" / "x.jsonl", claude_call("msg_2", T0))
    index = harness.update()
    root = Root(other.parent, None)
    found = find_files([root])
    index.update(found.files, [root])
    assert [c.key for c in index.calls(Scope((str(other.parent),), ("claude-code",)))] == [
        "msg_2:req_msg_2"
    ]
    assert len(harness.calls(index)) == 1
    assert os.path.exists(harness.db)


def test_fast_mode_calls_keep_their_speed_and_fast_price(isolated_home: Path) -> None:
    """A fast-mode call is stored with its speed and priced at the fast rates, also after a
    restart (the rates the index remembers are per speed)."""
    standard = claude_call("msg_1", T0, model="claude-opus-4-8", input=1000, output=1000)
    fast = claude_call("msg_2", T0, model="claude-opus-4-8", input=1000, output=1000)
    fast["message"]["usage"]["speed"] = "fast"
    harness = Harness(isolated_home)
    write(harness.projects / "s.jsonl", claude_prompt(T0), standard, fast)
    index = harness.update()
    by_key = {call.key.split(":")[0]: call for call in harness.calls(index)}
    assert (by_key["msg_1"].speed, by_key["msg_2"].speed) == ("", "fast")
    assert by_key["msg_1"].cost == pytest.approx(0.030)
    assert by_key["msg_2"].cost == pytest.approx(0.060)
    index.close()
    later = claude_call("msg_3", T0, model="claude-opus-4-8", input=1000, output=1000)
    later["message"]["usage"]["speed"] = "fast"
    write(harness.projects / "t.jsonl", claude_prompt(T0), later)
    again = Index(harness.db)
    assert again.prices.rates_for("claude-opus-4-8", "claude-code", T0.timestamp(), "fast")
    [new] = [call for call in harness.calls(harness.update(again)) if call.key.startswith("msg_3")]
    assert new.cost == pytest.approx(0.060) and not new.unpriced


def _btw_replay(message_id: str, request_id: str, when: datetime, **usage: int) -> dict:
    """A `/btw` side question's sidechain copy of a parent response, under a new request."""
    return claude_call(message_id, when, request_id=request_id, sidechain=True, **usage)


def test_a_btw_replay_of_a_main_thread_response_does_not_count(isolated_home: Path) -> None:
    """FORMATS.md §1.7: the replay keeps the parent's message.id with a new requestId."""
    harness = Harness(isolated_home)
    btw = harness.projects / "s" / "subagents" / "agent-btw1.jsonl"
    write(
        btw,
        _btw_replay("msg_main", "req_btw", T0 + timedelta(minutes=5), cache_read=90_000),
        _btw_replay("msg_side", "req_side", T0 + timedelta(minutes=5), input=40, output=300),
    )
    alone = harness.calls()  # no main-thread copy yet: the replay counts, once
    assert sorted(c.key for c in alone) == ["msg_main:req_btw", "msg_side:req_side"]
    parent = write(
        harness.projects / "s.jsonl",
        claude_prompt(T0),
        claude_call("msg_main", T0 + timedelta(seconds=30), request_id="req_main", input=70),
    )
    calls = harness.calls()
    assert sorted(c.key for c in calls) == ["msg_main:req_main", "msg_side:req_side"]
    assert harness.totals()[1:] == (70 + 40, 0, 0, 100 + 300)
    write(parent, claude_prompt(T0))  # the parent rewritten without it: the replay counts again
    assert sorted(c.key for c in harness.calls()) == ["msg_main:req_btw", "msg_side:req_side"]


def test_of_two_replays_with_no_main_thread_copy_one_counts(isolated_home: Path) -> None:
    harness = Harness(isolated_home)
    write(
        harness.projects / "s" / "subagents" / "agent-btw1.jsonl",
        _btw_replay("msg_main", "req_1", T0, cache_read=1000),
        _btw_replay("msg_main", "req_2", T0, cache_read=5000),
    )
    [call] = harness.calls()
    assert call.key == "msg_main:req_2" and call.tokens.cache_read == 5000


@pytest.mark.parametrize("indexed", [True, False])
def test_a_family_s_copies_are_looked_up_never_scanned_for_each_family(
    isolated_home: Path, indexed: bool
) -> None:
    """The family rule's joins find a family's copies along the key index, or, while a first
    build has no indexes yet (a view derives after each of its batches), by an index SQLite
    makes for the query: never by reading every copy once per family (minutes at 100k)."""
    harness = Harness(isolated_home)
    replays = [_btw_replay(f"msg_{n}", f"req_btw{n}", T0, cache_read=n) for n in range(3)]
    write(harness.projects / "s" / "subagents" / "agent-btw1.jsonl", *replays)
    write(harness.projects / "s.jsonl", claude_call("msg_0", T0, request_id="req_main"))
    harness.update().close()
    db = sqlite3.connect(harness.db, isolation_level=None)
    if not indexed:
        for name in INDEXES:
            db.execute(f"DROP INDEX {name}")
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    db.execute("BEGIN")
    derive.derive_scope(db, db.execute("SELECT min(id) FROM scopes").fetchone()[0])
    db.set_trace_callback(None)
    joins = [statement for statement in statements if "JOIN copies c ON" in statement]
    assert len(joins) == 3  # a call's copies, the replayed families, their best copies
    for statement in joins:
        plan = [step for *_, step in db.execute(f"EXPLAIN QUERY PLAN {statement}")]
        assert ["SCAN", "c"] not in [step.split()[:2] for step in plan], plan
    db.execute("ROLLBACK")
    db.close()


def test_a_first_build_a_view_follows_keeps_the_key_index_for_its_derivations(
    isolated_home: Path,
) -> None:
    """A view derives after each batch of a first build: the index it looks calls up by is
    kept through the build (every other is built at its end), and every partial result is
    exact so far."""
    harness = Harness(isolated_home)
    for n in range(4):
        write(harness.projects / f"s{n}.jsonl", claude_call(f"msg_{n}", T0, input=n + 1))
    write(harness.projects / "resumed.jsonl", claude_call("msg_0", T0, input=1))  # a copy
    index = Index(harness.db)
    seen: list[tuple[bool, bool]] = []

    def batch_stored() -> None:
        names = {row[0] for row in index.db.execute("SELECT name FROM sqlite_master")}
        seen.append(("copies_key" in names, "copies_file" in names))

    found = find_files(harness.roots)
    index.update(found.files, harness.roots, batch_bytes=1, on_batch=batch_stored)
    assert len(seen) > 1 and all(key and not by_file for key, by_file in seen)
    assert harness.totals(index)[:2] == (4, 1 + 2 + 3 + 4)


def test_calls_in_a_time_span_are_the_calls_whose_time_is_in_it(isolated_home: Path) -> None:
    """Stored reads outside the span are not decoded; those across its edges are filtered."""
    harness = Harness(isolated_home)
    log = write(harness.projects / "s.jsonl", claude_prompt(T0))
    index = Index(harness.db)
    for day in range(4):  # one read a day, so one stored blob each
        when = T0 + timedelta(days=day)
        append(log, jsonl(*(claude_call(f"m{day}{h}", when + timedelta(hours=h)) for h in (0, 5))))
        harness.update(index)
    every = harness.calls(index)
    since, until = (
        (T0 + timedelta(days=1, hours=3)).timestamp(),
        (T0 + timedelta(days=3)).timestamp(),
    )
    span = index.calls(replace(harness.scope(), since=since, until=until))
    assert sorted(c.key for c in span) == sorted(
        c.key for c in every if since <= c.timestamp < until
    )
    assert [c.key.split(":")[0] for c in sorted(span, key=lambda c: c.timestamp)] == [
        "m15",
        "m20",
        "m25",
    ]
