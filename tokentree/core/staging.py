"""What a reader hands the index: the copies it read, staged in a small SQLite database.

A reader process inserts its rows into an in-memory database, sums them per
file as the index's rollup does, and sends it whole (`serialize`); the index
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

from tokentree.core.activity_sums import ACTIVITY_COLUMNS, insert_activity
from tokentree.core.rows import COLUMN_LIST, COLUMNS, NAMES, ROLLUP_COLUMNS, Row, merged, rollup_of

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
    one file are merged here, as one read of the whole would be.
    """

    def __init__(self, first_id: int = 1) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.deserialize(_empty())
        self.db.execute("BEGIN")
        self.file_id = -1
        self.staged = first_id - 1  # the last id given: the next row's is one more
        self.rowids: dict[str, int] = {}  # the current file's keys → their staged rows' ids

    def add(self, file_id: int, rows: list[Row]) -> None:
        if file_id != self.file_id:
            self.file_id, self.rowids = file_id, {}
        rowids = self.rowids
        if not rowids.keys().isdisjoint(row[_KEY] for row in rows):
            rows = self._merge_known(rows)
        ids = range(self.staged + 1, self.staged + len(rows) + 1)
        self.staged += len(rows)
        rowids.update(zip([row[_KEY] for row in rows], ids, strict=True))
        staged = zip(ids, rows, strict=True)
        self.db.executemany(_INSERT, ((copy_id, file_id, *row) for copy_id, row in staged))

    def _merge_known(self, rows: list[Row]) -> list[Row]:
        """Merge rows of keys this file already staged into their staged rows; the rest."""
        fresh = []
        for row in rows:
            rowid = self.rowids.get(row[_KEY])
            if rowid is None:
                fresh.append(row)
                continue
            old = self.db.execute(
                f"SELECT {COLUMN_LIST} FROM staged WHERE rowid = ?", (rowid,)
            ).fetchone()
            self.db.execute(
                f"UPDATE staged SET ({COLUMN_LIST}) = ({', '.join('?' * len(row))})"
                " WHERE rowid = ?",
                (*merged(tuple(old), row), rowid),
            )
        return fresh

    def add_prompts(self, file_id: int, prompts: Iterable[tuple[str, str, float]]) -> None:
        self.db.executemany(
            "INSERT INTO staged_prompts VALUES (?, ?, ?, ?)",
            ((file_id, *prompt) for prompt in prompts),
        )

    def finish(self) -> bytes:
        """The staged database, as bytes to send to the index, with the sums and activity of
        each file's copies (the index takes them for a file it had no copies of)."""
        self.db.execute("INSERT INTO staged_rollup " + rollup_of("staged"))
        insert_activity(self.db, "staged_activity", "staged")
        self.db.execute("COMMIT")
        data = self.db.serialize()
        self.db.close()
        return data
