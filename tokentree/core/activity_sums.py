"""The activity sums of a file's copies, derived from their stored buckets.

Each copy is stored with its bucket (what it was doing), decided once when it
is read. A file's activity rows sum its copies' tokens and cost per session,
project, model, quarter hour and bucket, as its rollup sums everything else: most copies have
one bucket and are summed in SQL; a copy whose tools fall in several buckets
is split here, with the same arithmetic the tree uses (attribution.split), so
served and built nodes show the same parts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from tokentree.core.attribution import split, weights_of
from tokentree.core.records import QUARTER_HOUR
from tokentree.core.rows import NAMES, SLOT, TOOL_SEPARATOR, Row

ACTIVITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_id", "INTEGER NOT NULL"),
    ("source", "TEXT NOT NULL"),
    ("session", "TEXT NOT NULL"),
    ("project", "TEXT NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("slot", "INTEGER NOT NULL"),
    ("bucket", "TEXT NOT NULL"),
    ("tokens", "INTEGER NOT NULL"),
    ("cost", "REAL NOT NULL"),
)
TOTAL = "input + cache_write_5m + cache_write_1h + cache_read + output"
"""A copy's tokens as the activity counts them (reasoning is part of output)."""

ActivityRow = tuple[Any, ...]


def activity_of(
    db: sqlite3.Connection, table: str, where: str = "1", params: Sequence[Any] = ()
) -> list[ActivityRow]:
    """ACTIVITY_COLUMNS rows summing the copies in `table` (with `file_id`) that match `where`."""
    rows = db.execute(_one_bucket_sums(table, where), params).fetchall()
    return rows + _split_rows(db, table, where, params)


def insert_activity(
    db: sqlite3.Connection, into: str, table: str, where: str = "1", params: Sequence[Any] = ()
) -> None:
    """Insert activity_of()'s rows into the table `into`: the sums of the copies with one
    bucket (most) go from SELECT to INSERT without a round trip through Python."""
    db.execute(f"INSERT INTO {into} {_one_bucket_sums(table, where)}", params)
    marks = ", ".join("?" * len(ACTIVITY_COLUMNS))
    db.executemany(f"INSERT INTO {into} VALUES ({marks})", _split_rows(db, table, where, params))


def activity_rows(copies: Iterable[tuple[int, Row]]) -> list[ActivityRow]:
    """activity_of()'s rows for (file_id, row) pairs, summed in Python: a reader's staged
    copies, without SQLite's sort of every row (a test holds the two equal)."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    several: list[tuple[tuple[Any, ...], str, int, float]] = []
    source, session, project, model, ts, bucket, tools, cost = map(NAMES.index, _READ)
    tokens = _TOKENS
    for file_id, row in copies:
        slot = int(row[ts] / QUARTER_HOUR)  # SLOT
        group = (file_id, row[source], row[session], row[project], row[model], slot, row[bucket])
        total = sum(row[tokens])  # TOTAL
        part = sums.get(group)
        if part is not None:
            part[0] += total
            part[1] += row[cost]
        elif row[bucket]:
            sums[group] = [total, row[cost]]
        else:  # its tools fall in several buckets
            several.append((group[:-1], row[tools], total, row[cost]))
    split_parts = split_sums(several)
    return [(*group, *part) for group, part in (*sums.items(), *split_parts.items())]


_READ = ("source", "session", "project", "model", "ts", "bucket", "tools", "cost")
_TOKENS = slice(NAMES.index("input"), NAMES.index("output") + 1)


_KEYS = "file_id, source, session, project, model"


def _one_bucket_sums(table: str, where: str) -> str:
    return (
        f"SELECT {_KEYS}, {SLOT} AS slot, bucket, sum({TOTAL}), sum(cost)"
        f" FROM {table} WHERE bucket != '' AND {where} GROUP BY {_KEYS}, slot, bucket"
    )


def _split_rows(
    db: sqlite3.Connection, table: str, where: str, params: Sequence[Any]
) -> list[ActivityRow]:
    """The summed parts of the copies whose tools fall in several buckets."""
    split_rows = db.execute(
        f"SELECT {_KEYS}, {SLOT}, tools, {TOTAL}, cost FROM {table} WHERE bucket = '' AND {where}",
        params,
    )
    sums = split_sums((row[:6], *row[6:]) for row in split_rows)
    return [(*key, tokens, cost) for key, (tokens, cost) in sums.items()]


def split_sums(
    rows: Iterable[tuple[tuple[Any, ...], str, int, float]], sign: int = 1
) -> dict[tuple[Any, ...], list[Any]]:
    """(group, tools, tokens, cost) of copies whose tools fall in several buckets → (group…,
    bucket code) → [tokens, cost], split and summed (times `sign`). Such a copy ran on the
    main thread and did not compact: either would have given it one bucket."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for group, tools, total, cost in rows:
        weights = weights_of(tuple(tools.split(TOOL_SEPARATOR)), False, False)
        for bucket, tokens, dollars in split(weights, total, cost):
            part = sums.setdefault((*group, bucket.code), [0, 0.0])
            part[0] += sign * tokens
            part[1] += sign * dollars
    return sums
