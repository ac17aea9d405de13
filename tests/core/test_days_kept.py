"""The days a view served are kept in the index, and a later start takes them as kept up to
the earliest change any instance made since: a year opens without summing its history."""

from __future__ import annotations

import math
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.builders import claude_call, jsonl
from tests.core.test_served import SAMPLE, _same_served
from tokentree.core.index import Index, Scope, changes
from tokentree.core.index.reader import IndexReader
from tokentree.core.index.store import ADDED_IN_10
from tokentree.core.served import ServedTree, served_tree, view_of
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import Calendar, Node, build_tree, days_below

CALENDAR = Calendar(ZoneInfo("America/New_York"))


def _logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    shutil.copytree(SAMPLE / "claude", folder)
    return folder


def _indexed(path: Path, folder: Path) -> tuple[Index, Scope]:
    roots = explicit_roots([folder])
    index = Index(path)
    index.update(find_files(roots).files, roots, workers=1)
    return index, Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))


def _spied(index: Index) -> tuple[IndexReader, list[tuple[str, Scope]]]:
    """A reader that notes each query it runs and the scope it runs on."""
    reader = index.reader()
    asked: list[tuple[str, Scope]] = []
    read = reader._read

    def noting(query: Any, scope: Scope, *args: Any) -> Any:
        asked.append((query.__name__, scope))
        return read(query, scope, *args)

    reader._read = noting  # type: ignore[method-assign]
    return reader, asked


def _figures(tree: ServedTree) -> list[tuple[Any, ...]]:
    nodes: list[Node] = [tree.root, *tree.root.children]
    nodes += [day for week in tree.root.children for day in week.children]
    return [
        (node.key, node.totals, node.start, node.end, node.sessions, +node.models)
        + tuple(sorted(tree.activity[node].classes().items()))
        for node in nodes
    ]


def _append_to_an_old_day(folder: Path, tree: ServedTree) -> datetime:
    days = list(days_below(tree.root))
    when = datetime.fromtimestamp(days[len(days) // 2].start + 60, UTC)
    session_file = next((folder / "projects").rglob("*.jsonl"))
    with session_file.open("ab") as out:
        out.write(jsonl(claude_call("msg_late", when, session="late-1")))
    return when


def _sums_asked(asked: list[tuple[str, Scope]]) -> list[Scope]:
    return [scope for name, scope in asked if name in ("grouped", "activity")]


def test_a_second_start_takes_every_day_as_kept(tmp_path: Path) -> None:
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    index, scope = _indexed(path, folder)
    first = served_tree(index.reader(), scope, CALENDAR, keep=index.keep_days)
    index.close()

    index, scope = _indexed(path, folder)  # the next start: nothing changed
    reader, asked = _spied(index)
    again = served_tree(reader, scope, CALENDAR, keep=index.keep_days)
    assert _sums_asked(asked) == []
    assert _figures(again) == _figures(first)
    _same_served(build_tree(index.calls(scope), index.prompts(scope), CALENDAR), again)


def test_after_a_change_only_the_days_from_it_are_summed_again(tmp_path: Path) -> None:
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    index, scope = _indexed(path, folder)
    first = served_tree(index.reader(), scope, CALENDAR, keep=index.keep_days)
    when = _append_to_an_old_day(folder, first)
    index.close()

    index, scope = _indexed(path, folder)
    reader, asked = _spied(index)
    again = served_tree(reader, scope, CALENDAR, keep=index.keep_days)
    day_start = CALENDAR.day_start(CALENDAR.day(when.timestamp()))
    assert {part.since for part in _sums_asked(asked)} == {day_start}
    assert again.root.totals.calls == first.root.totals.calls + 1
    _same_served(build_tree(index.calls(scope), index.prompts(scope), CALENDAR), again)


def test_another_instance_change_reaches_a_tree_already_served(tmp_path: Path) -> None:
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    viewer, scope = _indexed(path, folder)
    served = served_tree(viewer.reader(), scope, CALENDAR, keep=viewer.keep_days)
    assert served.grown() is served  # nothing changed yet

    _append_to_an_old_day(folder, served)
    other, _ = _indexed(path, folder)  # e.g. `tokentree report` while the view runs
    other.close()
    grown = served.grown()
    assert grown.generation > served.generation
    assert grown.root.totals.calls == served.root.totals.calls + 1
    _same_served(build_tree(viewer.calls(scope), viewer.prompts(scope), CALENDAR), grown)


def test_a_removed_log_is_noted_from_its_first_call(tmp_path: Path) -> None:
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    index, scope = _indexed(path, folder)
    served = served_tree(index.reader(), scope, CALENDAR, keep=index.keep_days)
    gone = next((folder / "projects").rglob("*.jsonl"))
    first_call = min(call.timestamp for call in index.calls(scope) if call.file == str(gone))
    gone.unlink()
    index.update(find_files(explicit_roots([folder])).files, explicit_roots([folder]), workers=1)
    assert index.reader().changed(scope, served.generation)[1] == first_call
    grown = served.grown()
    assert grown.root.totals.missing_calls > 0
    _same_served(build_tree(index.calls(scope), index.prompts(scope), CALENDAR), grown)


@pytest.mark.parametrize("version", [9, 10, 11, 12])
def test_an_index_of_an_older_format_is_upgraded_in_place(tmp_path: Path, version: int) -> None:
    """Its history stays: the logs of its oldest calls may be long deleted."""
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    index, scope = _indexed(path, folder)
    calls = index.sums(scope, "source")
    index.close()
    db = sqlite3.connect(path)
    db.execute("CREATE INDEX copies_family ON copies(family) WHERE family != ''")  # format 12's
    if version < 12:  # format 11's copies, rollup and files
        db.execute("ALTER TABLE copies DROP COLUMN cache_waste")
        db.execute("ALTER TABLE rollup DROP COLUMN cache_waste")
        db.execute("ALTER TABLE files DROP COLUMN machine")
    if version < 11:  # format 10's
        db.execute("ALTER TABLE copies DROP COLUMN cache_miss")
        db.execute("DROP INDEX rollup_session")
        db.execute("ALTER TABLE copies RENAME COLUMN pricing TO unpriced")
        db.execute("UPDATE meta SET value = 'the prices of format 10' WHERE key = 'prices'")
    for statement in ADDED_IN_10 if version == 9 else ():
        kind, name = statement.split()[1:3]
        db.execute(f"DROP {kind} {name.split('(')[0]}")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()
    shutil.rmtree(folder)

    upgraded = Index(path)
    assert upgraded.notices == []
    assert upgraded.sums(scope, "source") == calls
    assert "copies_family" not in _index_names(path)
    served = served_tree(upgraded.reader(), scope, CALENDAR, keep=upgraded.keep_days)
    _same_served(build_tree(upgraded.calls(scope), upgraded.prompts(scope), CALENDAR), served)


def _index_names(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {name for (name,) in found}


def test_keeping_days_never_waits_for_another_writer(tmp_path: Path) -> None:
    folder, path = _logs(tmp_path), tmp_path / "index.sqlite"
    index, scope = _indexed(path, folder)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another instance in the middle of an update
    served = served_tree(index.reader(), scope, CALENDAR, keep=index.keep_days)
    other.execute("COMMIT")
    assert served.root.totals.calls
    assert index.reader().kept_days(scope, view_of(scope, CALENDAR)) == (None, {})


def test_the_change_log_answers_all_for_a_generation_it_no_longer_reaches(tmp_path: Path) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(ADDED_IN_10[0])
    assert changes.since(db, 0) is None
    for since in (50.0, 20.0, 70.0):
        changes.note(db, since)
    assert (changes.generation(db), changes.since(db, 0), changes.since(db, 2)) == (3, 20.0, 70.0)
    assert changes.since(db, 3) is None
    changes.prune(db, 2)
    assert changes.since(db, 2) == 70.0
    assert changes.since(db, 1) == -math.inf  # what it missed was pruned
    assert changes.since(db, 9) == -math.inf  # a generation of another (earlier) index
    changes.note_files(db, [])  # no file: nothing noted
    assert changes.generation(db) == 3


def test_each_index_counts_its_changes_from_its_own_start(tmp_path: Path) -> None:
    """A tree served from an index that was made again since never mistakes its generation."""
    one, other = Index(tmp_path / "one.sqlite"), Index(tmp_path / "other.sqlite")
    assert changes.generation(one.db) != changes.generation(other.db)
    assert changes.since(other.db, changes.generation(one.db)) == -math.inf
