"""What a reader hands the index: the copies it read, staged in a small SQLite database.

A reader process keeps its rows until its group of files is read, then
stages them in an in-memory database with their sums per file (as the
index's rollup and activity sum them) and sends it whole (`serialize`); the index
attaches it and copies everything in with INSERT … SELECT, so the main process
never touches a row from Python and sums only what it merged. The copies are
staged as rows of the index's own `copies` table, ids and all (the index gives
each group of files a range of ids): SQLite then copies their records as they
are, without taking them apart column by column.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import cache

from tokentree.core.activity_sums import ACTIVITY_COLUMNS, activity_rows
from tokentree.core.rows import COLUMNS, NAMES, ROLLUP_COLUMNS, Row, merged, rollup_rows

_SCHEMA = (
    "CREATE TABLE staged(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, "
    + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    + ")",
    "CREATE TABLE staged_prompts(file_id INTEGER NOT NULL, source TEXT NOT NULL,"
    " session TEXT NOT NULL, ts REAL NOT NULL)",
    "CREATE TABLE staged_rollup("
    + ", ".join(f"{name} {kind}" for name, kind in ROLLUP_COLUMNS)
    + ")",
    "CREATE TABLE staged_activity("
    + ", ".join(f"{name} {kind}" for name, kind in ACTIVITY_COLUMNS)
    + ")",
)
STAGED_TABLES = ("staged", "staged_prompts", "staged_rollup", "staged_activity")
_INSERT = f"INSERT INTO staged VALUES (?, ?, {', '.join('?' * len(COLUMNS))})"
_INSERT_ROLLUP = f"INSERT INTO staged_rollup VALUES ({', '.join('?' * len(ROLLUP_COLUMNS))})"
_INSERT_ACTIVITY = f"INSERT INTO staged_activity VALUES ({', '.join('?' * len(ACTIVITY_COLUMNS))})"
_KEY = NAMES.index("key")


@cache
def _empty() -> bytes:
    """The tables, created once per process: a reader stages hundreds of groups of files,
    and loading them as bytes costs an eighth of creating them."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    for statement in _SCHEMA:
        db.execute(statement)
    data = db.serialize()
    db.close()
    return data


class Stage:
    """The copies and prompts read from a group of files, one file after the other.

    A response whose lines were parsed in two blocks of its file arrives twice
    (so does a call a resumed session repeats in its own file): the copies of
    one file are merged here, as one read of the whole would be. They are kept
    as Python rows until the group is read, then staged and summed at once.
    """

    def __init__(self, first_id: int = 1) -> None:
        self.first_id = first_id  # the first copy's id: the next ones follow in order
        self.copies: list[tuple[int, Row]] = []  # (file_id, row)
        self.prompts: list[tuple[int, str, str, float]] = []
        self.file_id = -1
        self.positions: dict[str, int] = {}  # the current file's keys → their copies' places

    def add(self, file_id: int, rows: list[Row]) -> None:
        if file_id != self.file_id:
            self.file_id, self.positions = file_id, {}
        positions = self.positions
        if not positions.keys().isdisjoint(row[_KEY] for row in rows):
            rows = self._merge_known(rows)
        start = len(self.copies)
        self.copies += [(file_id, row) for row in rows]
        positions.update(
            zip([row[_KEY] for row in rows], range(start, len(self.copies)), strict=True)
        )

    def _merge_known(self, rows: list[Row]) -> list[Row]:
        """Merge rows of keys this file already staged into their staged rows; the rest."""
        fresh = []
        for row in rows:
            position = self.positions.get(row[_KEY])
            if position is None:
                fresh.append(row)
                continue
            file_id, old = self.copies[position]
            self.copies[position] = (file_id, merged(old, row))
        return fresh

    def add_prompts(self, file_id: int, prompts: Iterable[tuple[str, str, float]]) -> None:
        self.prompts += [(file_id, *prompt) for prompt in prompts]

    def finish(self) -> bytes:
        """The staged database, as bytes to send to the index, with the sums and activity of
        each file's copies (the index takes them for a file it had no copies of)."""
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.deserialize(_empty())
        db.execute("BEGIN")
        ids = range(self.first_id, self.first_id + len(self.copies))
        staged = zip(ids, self.copies, strict=True)
        db.executemany(_INSERT, ((copy_id, file_id, *row) for copy_id, (file_id, row) in staged))
        db.executemany("INSERT INTO staged_prompts VALUES (?, ?, ?, ?)", self.prompts)
        db.executemany(_INSERT_ROLLUP, rollup_rows(self.copies))
        db.executemany(_INSERT_ACTIVITY, activity_rows(self.copies))
        db.execute("COMMIT")
        data = db.serialize()
        db.close()
        return data
