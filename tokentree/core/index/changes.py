"""The index's change log: when the earliest call each stored change decided again was.

Views keep what they derived from the index (the served days, see
days_kept.py) under the log's generation they saw. Any process that stores a
change notes it here in the same transaction, so a view of any process can
ask what changed since its generation, and from which time on, and serve
again only those days (the log says nothing of a view: the view derives).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence

from tokentree.core.index.store import chunks, marks


def note(db: sqlite3.Connection, since: float) -> None:
    """A change reached the calls from `since` on (-inf: possibly all). Inside its transaction."""
    db.execute("INSERT INTO changes(since) VALUES (?)", (since,))


def note_files(db: sqlite3.Connection, file_ids: Sequence[int]) -> None:
    """The calls of these files change (forgotten, or their file went missing or came back)."""
    first = math.inf
    for chunk in chunks(file_ids):
        found = db.execute(
            f"SELECT min(ts) FROM copies WHERE file_id IN ({marks(chunk)})", chunk
        ).fetchone()[0]
        if found is not None:
            first = min(first, found)
    if first != math.inf:
        note(db, first)


def generation(db: sqlite3.Connection) -> int:
    """The newest change's generation (0 before any)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return row[0] if row else 0


def since(db: sqlite3.Connection, seen: int) -> float | None:
    """The earliest time any change after generation `seen` reached; None: nothing changed.
    A generation the log no longer reaches back to (pruned, or another index) answers -inf."""
    oldest, first = db.execute(
        "SELECT min(generation), min(since) FROM changes WHERE generation > ?", (seen,)
    ).fetchone()
    if oldest is None:  # nothing after `seen`; an index made anew counts from 0 again
        return None if seen == generation(db) else -math.inf
    return -math.inf if oldest > seen + 1 else first


def prune(db: sqlite3.Connection, oldest_seen: int) -> None:
    """Forget the changes every kept view has seen."""
    db.execute("DELETE FROM changes WHERE generation <= ?", (oldest_seen,))
