"""One batch of reads into the index: its files' marks, copies, prompts and sums.

A batch comes as the staged database its reader made (staging.py). A read whose file
another instance stored meanwhile, or that failed, is dropped whole; a grown file's copies
are merged with those stored from its earlier lines; every other copy is copied in as it
is, and a file read from its start brings its reader's sums as its rollup. A first build
has its readers store their own batches (InReaders), in the same way.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.index import derive
from tokentree.core.index.plan import UpdateStats
from tokentree.core.index.store import chunks, connect_as_is, marks, transaction
from tokentree.core.pricing import RateKey, Rates, rates_to_json
from tokentree.core.reading import ReadBatch, ReadResult
from tokentree.core.rows import COLUMN_LIST, NAMES, merged, prefixed
from tokentree.core.sources import read_mode
from tokentree.core.sources.base import ReadMode
from tokentree.core.staging import STAGED_TABLES

_UPDATE_FILE = (
    "UPDATE files SET dev = ?, ino = ?, size = ?, mtime_ns = ?, head_len = ?,"
    " head_hash = ?, offset = ?, pending = ?, state = ?, skipped = ?, rate_limits = ?,"
    " missing = 0, unreadable = 0 WHERE id = ?"
)


def store_batch(
    db: sqlite3.Connection,
    batch: ReadBatch,
    stats: UpdateStats,
    touched: derive.Touched,
    staged_as_stored: bool,
) -> None:
    """Store `batch` inside the caller's transaction, noting what it touched in `touched`;
    `staged_as_stored`: the index's copies have the staged table's columns, in its order."""
    db.deserialize(batch.staged, name="incoming")
    stored = {
        file_id: (offset, generation, skipped, limits)
        for file_id, offset, generation, skipped, limits in db.execute(
            "SELECT id, offset, generation, skipped, rate_limits FROM files WHERE id IN"
            " (SELECT value FROM json_each(?))",
            (orjson.dumps([result.task.file_id for result in batch.results]),),
        )
    }
    dropped: list[int] = []
    merging: list[int] = []
    updates: list[tuple[Any, ...]] = []
    for result in batch.results:
        task = result.task
        known = stored.get(task.file_id)
        if result.error or known is None or known[:2] != (task.offset, task.generation):
            dropped.append(task.file_id)  # failed, or another instance stored it first
            if result.error:
                stats.problems.append(result.error)
                db.execute("UPDATE files SET unreadable = 1 WHERE id = ?", (task.file_id,))
            continue
        if task.offset or read_mode(task.source, task.path) is ReadMode.DATABASE:
            merging.append(task.file_id)
        stats.files_read += 1
        stats.bytes_read += result.bytes_read
        stats.new_copies += result.calls
        updates.append(_file_update(result, known))
    db.executemany(_UPDATE_FILE, updates)
    _drop_staged(db, dropped, STAGED_TABLES)
    touched.staged("incoming")
    _merge_copies(db, merging)
    _insert_copies(db, staged_as_stored)
    db.execute("INSERT INTO prompts SELECT * FROM incoming.staged_prompts")
    # a file read from its start held no copies: the reader's sums are its rollup
    _drop_staged(db, merging, ("staged_rollup", "staged_activity"))
    db.execute("INSERT INTO rollup SELECT * FROM incoming.staged_rollup")
    db.execute("INSERT INTO activity SELECT * FROM incoming.staged_activity")
    derive.sum_files(db, merging)


def store_rates(db: sqlite3.Connection, learned: dict[RateKey, Rates | None]) -> None:
    """The rates lookups a read made, for the next reads to price with."""
    db.executemany(
        "INSERT OR REPLACE INTO rates VALUES (?, ?, ?, ?, ?)",
        [(*key, rates_to_json(rates)) for key, rates in learned.items()],
    )


class InReaders:
    """Stores each batch of a first build in the reader process that read it, one transaction
    a batch: the main process then only builds the indexes and derives (the part more cores
    cannot share). Used while the build holds the file out of WAL mode, so no reader process
    inherits a connection's shared-memory state when forked."""

    def __init__(self, path: Path, staged_as_stored: bool) -> None:
        self.path = path
        self.staged_as_stored = staged_as_stored
        self.db: sqlite3.Connection | None = None

    def __call__(self, batch: ReadBatch) -> ReadBatch:
        """The batch stored, as what storing it did: the files' results and the staged rows
        are not sent on (unpickling the results cost the main process 0.01 s per GB)."""
        if self.db is None:
            self.db = connect_as_is(self.path)
        db = self.db
        stats = UpdateStats()
        with transaction(db):
            touched = derive.Touched(db, everything=True)
            store_batch(db, batch, stats, touched, self.staged_as_stored)
            store_rates(db, batch.learned_rates)
        return ReadBatch([], b"", batch.learned_rates, stored=stats, file_ids=batch.file_ids)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def _file_update(result: ReadResult, known: tuple[Any, ...]) -> tuple[Any, ...]:
    """_UPDATE_FILE's values for a stored read: where it ended, and its diagnostics added to
    the file's earlier ones (`known`: its stored offset, generation, skipped, rate limits)."""
    counts = +result.skipped
    if known[2]:
        counts += Counter(orjson.loads(known[2]))
    return (
        *result.stat,
        *result.head,
        result.next_offset,
        result.pending,
        orjson.dumps(result.state),
        orjson.dumps(dict(counts)) if counts else None,
        orjson.dumps(result.rate_limits) if result.rate_limits else known[3],
        result.task.file_id,
    )


def _drop_staged(db: sqlite3.Connection, file_ids: list[int], tables: tuple[str, ...]) -> None:
    for chunk in chunks(file_ids):
        for table in tables:
            db.execute(f"DELETE FROM incoming.{table} WHERE file_id IN ({marks(chunk)})", chunk)


def _insert_copies(db: sqlite3.Connection, staged_as_stored: bool) -> None:
    """The staged copies, with the ids their reader gave them when no copy has one of those
    (SQLite then copies each record whole); with new ids when another batch or instance
    took some first."""
    low, high = db.execute(  # apart, each is one look at the table's b-tree, not a scan
        "SELECT (SELECT min(id) FROM incoming.staged), (SELECT max(id) FROM incoming.staged)"
    ).fetchone()
    if low is None:
        return
    taken = db.execute(
        "SELECT EXISTS(SELECT 1 FROM copies WHERE id BETWEEN ? AND ?)", (low, high)
    ).fetchone()[0]
    if taken or not staged_as_stored:
        db.execute(
            f"INSERT INTO copies(file_id, {COLUMN_LIST})"
            f" SELECT file_id, {COLUMN_LIST} FROM incoming.staged"
        )
    else:
        db.execute("INSERT INTO copies SELECT * FROM incoming.staged")


def _merge_copies(db: sqlite3.Connection, file_ids: list[int]) -> None:
    """A grown file's new lines may complete a response stored from its earlier lines:
    that stored copy becomes the merged one, as one read of the whole file would give."""
    for chunk in chunks(file_ids):
        pairs = db.execute(
            f"SELECT c.id, s.rowid, {prefixed('c')}, {prefixed('s')} FROM incoming.staged s"
            f" JOIN copies c ON c.file_id = s.file_id AND c.key = s.key"
            f" WHERE s.file_id IN ({marks(chunk)})",
            chunk,
        ).fetchall()
        width = len(NAMES)
        for copy_id, staged_id, *values in pairs:
            row = merged(tuple(values[:width]), tuple(values[width:]))
            db.execute(
                f"UPDATE copies SET ({COLUMN_LIST}) = ({marks(row)}) WHERE id = ?",
                (*row, copy_id),
            )
            db.execute("DELETE FROM incoming.staged WHERE rowid = ?", (staged_id,))
