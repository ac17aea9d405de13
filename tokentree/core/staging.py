"""What a reader hands the index: the copies it read, staged in a small SQLite database.

A reader process stages its rows in an in-memory database with their sums
per file (as the index's rollup and activity sum them), and sends it whole
(`serialize`); the index attaches it and copies everything in with INSERT …
SELECT, so the main process never touches a row from Python and sums only
what it merged. The copies are staged as rows of the index's own `copies`
table, ids and all (the index gives each group of files a range of ids):
SQLite then copies their records as they are, without taking them apart
column by column.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import cache

from tokentree.core.activity_sums import ACTIVITY_COLUMNS, activity_rows, insert_activity
from tokentree.core.rows import (
    COLUMN_LIST,
    COLUMNS,
    NAMES,
    ROLLUP_COLUMNS,
    Row,
    merged,
    rollup_of,
    rollup_rows,
)

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
    """The tables, created once per process: a reader stages dozens of groups of files,
    and loading them as bytes costs an eighth of creating them."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    for statement in _SCHEMA:
        db.execute(statement)
    data = db.serialize()
    db.close()
    return data


HELD_ROWS = 8_192
"""Copies a stage keeps as Python rows, to stage and sum all at once when its group is read
(a group of files holds about 1,800). One huge transcript has more: past this many, its rows
go into the database as they come and are summed there, so no more are held in Python
(1 GB in one file: 220 MB of peak RSS, against 290 MB holding them all)."""


class Stage:
    """The copies and prompts read from a group of files, one file after the other.

    A response whose lines were parsed in two blocks of its file arrives twice
    (so does a call a resumed session repeats in its own file): the copies of
    one file are merged here, as one read of the whole would be. They are held
    as Python rows (up to `held_rows`) and summed in Python, in half the time of
    SQLite's GROUP BY, which sorts every row first.
    """

    def __init__(self, first_id: int = 1, held_rows: int = HELD_ROWS) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.deserialize(_empty())
        self.db.execute("BEGIN")
        self.first_id = first_id  # the first copy's id: the next ones follow in order
        self.held_rows = held_rows
        self.held: list[tuple[int, Row]] = []  # (file_id, row), not yet in the database
        self.moved = 0  # copies in the database: those before the held ones
        self.prompts: list[tuple[int, str, str, float]] = []
        self.file_id = -1
        self.places: dict[str, int] = {}  # the current file's keys → their copies' places

    def add(self, file_id: int, rows: list[Row]) -> None:
        if file_id != self.file_id:
            self.file_id, self.places = file_id, {}
        places = self.places
        if not places.keys().isdisjoint(row[_KEY] for row in rows):
            rows = self._merge_known(rows)
        start = self.moved + len(self.held)
        self.held += [(file_id, row) for row in rows]
        places.update(
            zip([row[_KEY] for row in rows], range(start, start + len(rows)), strict=True)
        )
        if len(self.held) > self.held_rows:
            self._move()

    def _merge_known(self, rows: list[Row]) -> list[Row]:
        """Merge rows of keys this file already staged into their staged rows; the rest."""
        fresh = []
        for row in rows:
            place = self.places.get(row[_KEY])
            if place is None:
                fresh.append(row)
            elif place >= self.moved:
                file_id, old = self.held[place - self.moved]
                self.held[place - self.moved] = (file_id, merged(old, row))
            else:
                copy_id = self.first_id + place
                old = self.db.execute(
                    f"SELECT {COLUMN_LIST} FROM staged WHERE id = ?", (copy_id,)
                ).fetchone()
                self.db.execute(
                    f"UPDATE staged SET ({COLUMN_LIST}) = ({', '.join('?' * len(row))})"
                    " WHERE id = ?",
                    (*merged(tuple(old), row), copy_id),
                )
        return fresh

    def _move(self) -> None:
        """The held rows into the database, with their ids."""
        start = self.first_id + self.moved
        ids = range(start, start + len(self.held))
        staged = zip(ids, self.held, strict=True)
        self.db.executemany(
            _INSERT, ((copy_id, file_id, *row) for copy_id, (file_id, row) in staged)
        )
        self.moved += len(self.held)
        self.held = []

    def add_prompts(self, file_id: int, prompts: Iterable[tuple[str, str, float]]) -> None:
        self.prompts += [(file_id, *prompt) for prompt in prompts]

    def finish(self) -> bytes:
        """The staged database, as bytes to send to the index, with the sums and activity of
        each file's copies (the index takes them for a file it had no copies of)."""
        db = self.db
        every_copy_held = not self.moved
        copies = self.held
        self._move()
        db.executemany("INSERT INTO staged_prompts VALUES (?, ?, ?, ?)", self.prompts)
        if every_copy_held:
            db.executemany(_INSERT_ROLLUP, rollup_rows(copies))
            db.executemany(_INSERT_ACTIVITY, activity_rows(copies))
        else:
            db.execute("INSERT INTO staged_rollup " + rollup_of("staged"))
            insert_activity(db, "staged_activity", "staged")
        db.execute("COMMIT")
        data = db.serialize()
        db.close()
        return data
