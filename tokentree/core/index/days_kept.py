"""The served days of a view, kept between starts: a year opens without summing its history.

A view (a scope seen in one time zone) serves its weeks and days from the
rollup (core/served.py), which reads every quarter hour of the history. What
it served is kept here per local day, under the change log's generation it
saw (changes.py); the next start serves again only the days from the
earliest change since then, and takes the rest as kept. Days are derived
state: dropped at any time, served again from the copies.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Mapping

import orjson

from tokentree.core.index import changes
from tokentree.core.index.scope import Scope

VIEWS_KEPT = 8
"""Views whose days are kept (the most recently used); an older one is served afresh."""


def kept(
    db: sqlite3.Connection, _scope: Scope, _scope_id: int, view: str
) -> tuple[int | None, dict[int, bytes]]:
    """The generation the view's days were kept at (None: never kept) and the days' records."""
    row = db.execute("SELECT generation FROM kept_views WHERE view = ?", (view,)).fetchone()
    if row is None:
        return None, {}
    days = db.execute("SELECT day, record FROM kept_days WHERE view = ?", (view,)).fetchall()
    return row[0], dict(days)


def changed(
    db: sqlite3.Connection, _scope: Scope, _scope_id: int, seen: int | None
) -> tuple[int, float | None]:
    """The newest generation, and the earliest time changed since `seen` (see changes.since);
    -inf for a view never seen."""
    now = changes.generation(db)
    return now, (-float("inf") if seen is None else changes.since(db, seen))


def keep(
    db: sqlite3.Connection, view: str, generation: int, records: Mapping[int, bytes], first: int
) -> None:
    """The view's days from day `first` on are `records`, as of `generation`. Inside a write
    transaction; a view kept at a later generation meanwhile (another process) is left as is."""
    row = db.execute("SELECT generation FROM kept_views WHERE view = ?", (view,)).fetchone()
    if row is not None and row[0] > generation:
        return
    db.execute("DELETE FROM kept_days WHERE view = ? AND day >= ?", (view, first))
    db.executemany(
        "INSERT INTO kept_days VALUES (?, ?, ?)",
        [(view, day, record) for day, record in records.items()],
    )
    db.execute(
        "INSERT OR REPLACE INTO kept_views VALUES (?, ?, ?)", (view, generation, time.time())
    )
    stale = [
        name
        for (name,) in db.execute(
            "SELECT view FROM kept_views ORDER BY used DESC LIMIT -1 OFFSET ?", (VIEWS_KEPT,)
        ).fetchall()
    ]
    for name in stale:
        for table in ("kept_days", "kept_advice", "kept_views"):
            db.execute(f"DELETE FROM {table} WHERE view = ?", (name,))
    oldest = db.execute("SELECT min(generation) FROM kept_views").fetchone()[0]
    changes.prune(db, oldest)


def kept_advice(
    db: sqlite3.Connection, _scope: Scope, _scope_id: int, view: str
) -> dict[str, tuple[str, bytes]]:
    """The view's day digests: path → (stamp, digest)."""
    rows = db.execute("SELECT path, stamp, digest FROM kept_advice WHERE view = ?", (view,))
    return {path: (stamp, digest) for path, stamp, digest in rows}


def keep_advice(
    db: sqlite3.Connection,
    view: str,
    digests: Mapping[str, tuple[str, bytes]],
    paths: Collection[str],
) -> None:
    """Keep these day digests of the view, whose days are now at `paths` (the digests of
    days no longer there go). Inside a write transaction."""
    db.execute(
        "DELETE FROM kept_advice WHERE view = ? AND path NOT IN (SELECT value FROM json_each(?))",
        (view, orjson.dumps(sorted(paths))),
    )
    db.executemany(
        "INSERT OR REPLACE INTO kept_advice VALUES (?, ?, ?, ?)",
        [(view, path, stamp, digest) for path, (stamp, digest) in digests.items()],
    )
