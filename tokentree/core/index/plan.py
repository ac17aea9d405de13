"""Which log files to read, and from where: the plan of an update, made in its first transaction.

A file whose fingerprint (device, inode, size, mtime) is unchanged is not read;
one that grew with the same head is read on from its offset; one truncated or
replaced is forgotten and read afresh (its generation moves on, so a read of
the old one that another instance has under way is not stored). A file that
cannot be read keeps its calls, as a deleted one does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from tokentree.core.index import changes
from tokentree.core.index.derive import Touched, in_roots
from tokentree.core.index.store import chunks, marks
from tokentree.core.reading import ReadTask, file_fingerprint, file_head
from tokentree.core.sources import SOURCES, Root, read_mode
from tokentree.core.sources.base import ReadMode, SourceFile


@dataclass(slots=True)
class UpdateStats:
    """What one update did, for the status line and the benchmark."""

    files_seen: int = 0
    files_read: int = 0
    files_reread: int = 0
    files_missing: int = 0
    bytes_read: int = 0
    new_copies: int = 0
    problems: list[str] = field(default_factory=list)

    def add_stored(self, other: UpdateStats) -> None:
        """What another process stored of this update (storing.InReaders)."""
        self.files_read += other.files_read
        self.bytes_read += other.bytes_read
        self.new_copies += other.new_copies
        self.problems += other.problems


_FILE_ROW = (
    "SELECT path, id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state,"
    " source, missing, unreadable, generation FROM files"
)


def plan(
    db: sqlite3.Connection, files: Sequence[SourceFile], stats: UpdateStats, touched: Touched
) -> list[ReadTask]:
    """Which files to read, from where; files replaced or truncated are forgotten first.

    The logs present last time are read at once; any other (new, or back after it was
    removed) is looked up by its path, all in one query: a long history holds many more
    removed logs than present ones."""
    known = {row[0]: row for row in db.execute(f"{_FILE_ROW} WHERE missing = 0")}
    others = [file.path for file in files if file.path not in known]
    for chunk in chunks(others, 10_000):
        found = db.execute(
            f"{_FILE_ROW} WHERE path IN (SELECT value FROM json_each(?))", (orjson.dumps(chunk),)
        )
        known.update((row[0], row) for row in found)
    tasks: list[ReadTask] = []
    new: dict[str, tuple[SourceFile, int]] = {}  # files never seen, and their sizes
    forget_ids: list[int] = []
    for file in files:
        mode = read_mode(file.source, file.path)
        row = known.get(file.path)
        try:
            fingerprint = file_fingerprint(file.path, mode)
            if row is None:
                new.setdefault(file.path, (file, fingerprint[2]))
                continue
            (file_id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state) = row[1:10]
            source, missing, unreadable, generation = row[10:]
            if dev is None and source == file.source:  # planned by another run, never stored
                tasks.append(
                    ReadTask(file_id, file.path, file.source, 0, {}, fingerprint[2], generation)
                )
                continue
            same_source = source == file.source
            if same_source and (dev, ino, size, mtime_ns) == fingerprint and not unreadable:
                if missing:
                    db.execute("UPDATE files SET missing = 0 WHERE id = ?", (file_id,))
                    changes.note_files(db, [file_id])
                continue
            grown = (
                same_source
                and (dev, ino) == fingerprint[:2]
                and mode is not ReadMode.WHOLE  # a rewritten document is read afresh
                and (
                    mode is ReadMode.DATABASE  # asked for its changed rows, whatever its size
                    or (
                        fingerprint[2] >= (size or 0)
                        and file_head(file.path, head_len) == (head_len, head_hash)
                    )
                )
            )
            if not grown and mode is not ReadMode.DATABASE:
                file_head(file.path, 0)  # forgotten only once it can be read again
        except OSError as error:
            stats.problems.append(f"cannot read {file.path}: {error.strerror or error}")
            if row is not None:  # its calls stay, as a deleted file's do
                db.execute("UPDATE files SET unreadable = 1 WHERE id = ?", (row[1],))
            continue
        if grown:
            to_read = max(fingerprint[2] - offset, 0)
            tasks.append(
                ReadTask(
                    file_id,
                    file.path,
                    file.source,
                    offset,
                    orjson.loads(state or b"{}"),
                    to_read,
                    generation,
                )
            )
            continue
        # truncated, replaced, or now read by another source: read it afresh
        forget_ids.append(file_id)
        stats.files_reread += 1
        db.execute("UPDATE files SET source = ? WHERE id = ?", (file.source, file_id))
        tasks.append(
            ReadTask(file_id, file.path, file.source, 0, {}, fingerprint[2], generation + 1)
        )
    forget(db, forget_ids, touched)
    return tasks + _added(db, list(new.values()))


def _added(db: sqlite3.Connection, new: list[tuple[SourceFile, int]]) -> list[ReadTask]:
    """Rows in `files` for files never seen (in their order), and their reads from the start."""
    db.executemany(
        "INSERT INTO files(path, source, machine) VALUES (?, ?, ?)",
        [(f.path, f.source, f.machine) for f, _ in new],
    )
    ids: dict[str, int] = {}
    for chunk in chunks([file.path for file, _ in new], 10_000):
        ids.update(
            db.execute(
                "SELECT path, id FROM files WHERE path IN (SELECT value FROM json_each(?))",
                (orjson.dumps(chunk),),
            )
        )
    return [ReadTask(ids[f.path], f.path, f.source, 0, {}, size) for f, size in new]


def reread_for_new_readers(db: sqlite3.Connection) -> None:
    """The logs of a source whose reader now reads more (its declared `version` went up) are
    read afresh, as if replaced: the stored copies are what the reader of their day saw. Logs
    deleted since keep the calls read then."""
    versions = {name: source.version for name, source in SOURCES.items()}
    row = db.execute("SELECT value FROM meta WHERE key = 'readers'").fetchone()
    known = orjson.loads(row[0]) if row else {}
    for name, version in versions.items():
        if known.get(name) != version:
            db.execute("UPDATE files SET ino = -1 WHERE source = ?", (name,))
    if known != versions:
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('readers', ?)", (orjson.dumps(versions).decode(),)
        )


def forget(db: sqlite3.Connection, file_ids: Sequence[int], touched: Touched) -> None:
    """Drop what was read from these files: they are read again from the start."""
    changes.note_files(db, file_ids)
    for chunk in chunks(file_ids):
        touched.files(chunk)
        marked = marks(chunk)
        db.execute(  # what was derived from them goes with them; the rest is derived again
            "DELETE FROM losers WHERE scope IN (SELECT id FROM scopes) AND copy IN"
            f" (SELECT id FROM copies WHERE file_id IN ({marked}))",
            chunk,
        )
        for table in ("copies", "prompts", "rollup", "activity"):
            db.execute(f"DELETE FROM {table} WHERE file_id IN ({marked})", chunk)
        db.execute(
            "UPDATE files SET skipped = NULL, rate_limits = NULL, offset = 0, state = NULL,"
            f" pending = 0, generation = generation + 1 WHERE id IN ({marked})",
            chunk,
        )


def mark_missing(
    db: sqlite3.Connection, files: Sequence[SourceFile], roots: Sequence[Root], stats: UpdateStats
) -> None:
    """Files once found under these roots and not now are marked removed; their calls stay."""
    present = {file.path for file in files}
    inside, params = in_roots([str(root.path) for root in roots])
    rows = db.execute(
        f"SELECT f.id, f.path FROM files f WHERE f.missing = 0 AND {inside}", params
    ).fetchall()
    gone = [(file_id,) for file_id, path in rows if path not in present]
    db.executemany("UPDATE files SET missing = 1 WHERE id = ?", gone)
    changes.note_files(db, [file_id for (file_id,) in gone])
    stats.files_missing += len(gone)
