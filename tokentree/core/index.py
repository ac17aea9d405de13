"""The persistent, incremental index: every copy of every call, with the winning copy marked.

One SQLite file in the user cache dir. Per log file it keeps a fingerprint and
the offset of the last complete line, so unchanged files are not read again and
grown files are read from where the last read stopped. Files that disappear
keep their calls (marked missing): Claude Code deletes old transcripts, the
history should not go with them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.pricing import PriceBook
from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources import Root, markers_for, parser_for
from tokentree.core.sources.base import FileParse, SourceFile
from tokentree.core.tail import read_complete_lines

SCHEMA_VERSION = 1
HEAD_BYTES = 4096
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # below this, starting worker processes costs more
_CHUNK = 500  # SQLite host parameters per IN (…) query

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files(
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    source TEXT NOT NULL,
    root TEXT NOT NULL,
    dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,
    head_len INTEGER, head_hash TEXT,
    offset INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    state BLOB, skipped BLOB, rate_limits BLOB,
    missing INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE calls(
    file_id INTEGER NOT NULL, key TEXT NOT NULL, rank INTEGER NOT NULL, winner INTEGER NOT NULL,
    source TEXT NOT NULL, session TEXT NOT NULL, project TEXT NOT NULL, ts REAL NOT NULL,
    model TEXT NOT NULL, input INTEGER NOT NULL, cw5 INTEGER NOT NULL, cw1h INTEGER NOT NULL,
    cr INTEGER NOT NULL, output INTEGER NOT NULL, reasoning INTEGER NOT NULL, tools TEXT NOT NULL,
    subagent INTEGER NOT NULL, fidelity TEXT NOT NULL, cost REAL NOT NULL, unpriced INTEGER NOT NULL
);
CREATE INDEX calls_key ON calls(key);
CREATE INDEX calls_file ON calls(file_id);
CREATE TABLE prompts(file_id INTEGER NOT NULL, source TEXT NOT NULL, session TEXT NOT NULL,
                     ts REAL NOT NULL);
CREATE INDEX prompts_file ON prompts(file_id);
"""
_CALL_COLUMNS = (
    "file_id, key, rank, winner, source, session, project, ts, model, input, cw5, cw1h, cr,"
    " output, reasoning, tools, subagent, fidelity, cost, unpriced"
)
_TOOL_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the index a view reads: the roots it was started on and the sources."""

    roots: tuple[str, ...]
    sources: tuple[str, ...]
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive


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


@dataclass(frozen=True, slots=True)
class FileDiagnostics:
    path: str
    source: str
    skipped: dict[str, int]
    pending_bytes: int
    missing: bool


Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class _ReadTask:
    file_id: int
    path: str
    source: str
    offset: int
    state: dict[str, Any]


@dataclass(slots=True)
class _ReadResult:
    file_id: int
    start_offset: int
    parsed: FileParse | None
    next_offset: int
    pending: int
    huge: int
    stat: os.stat_result | None
    head: tuple[int, str]
    error: str = ""


class Index:
    """The SQLite index. `path=None` keeps it in memory (`--no-cache`)."""

    def __init__(self, path: Path | None, *, prices: PriceBook | None = None) -> None:
        self.path = path
        self.notices: list[str] = []
        self._prices = prices
        self.db = self._open()

    # --- opening, and rebuilding when the file is not ours any more -------------------------

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._create(
                sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._connect()
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found == SCHEMA_VERSION:
                db.execute("SELECT count(*) FROM meta").fetchone()
                return db
            if found == 0:  # a new file (perhaps being created by another instance right now)
                return self._create(db)
            db.close()
            self.notices.append(f"index format changed ({found} → {SCHEMA_VERSION}); rebuilt")
        except sqlite3.DatabaseError as error:
            self.notices.append(f"index at {self.path} was unreadable ({error}); rebuilt")
        return self._recreate()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _recreate(self) -> sqlite3.Connection:
        assert self.path is not None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return self._create(self._connect())

    @staticmethod
    def _create(db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("BEGIN IMMEDIATE")
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")  # or another instance created it while we waited
        return db

    def close(self) -> None:
        self.db.close()

    # --- updating -------------------------------------------------------------------------------

    def update(
        self,
        files: Sequence[SourceFile],
        roots: Sequence[Root],
        *,
        progress: Progress | None = None,
        workers: int | None = None,
        batch_bytes: int | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> UpdateStats:
        """Bring the index up to date with `files`, found under `roots`.

        Files are read outside the write lock and stored in transactions of about
        `batch_bytes` (all at once by default); `on_batch` runs after each, so a
        view can show partial results of a long first index. A result whose
        file another instance stored meanwhile is dropped, so two instances
        never count a line twice.
        """
        stats = UpdateStats(files_seen=len(files))
        with self._transaction():
            self._refresh_prices()
            tasks, rereads = self._plan(files, stats)
            self._mark_missing(files, roots, stats)
            self._settle([], self._forget(rereads))
        batch: list[_ReadResult] = []
        size = 0
        for result in self._read_all(tasks, progress, workers):
            batch.append(result)
            size += result.next_offset - result.start_offset
            if batch_bytes is not None and size >= batch_bytes:
                self._store_batch(batch, stats, on_batch)
                batch, size = [], 0
        if batch:
            self._store_batch(batch, stats, on_batch)
        return stats

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _store_batch(
        self, batch: list[_ReadResult], stats: UpdateStats, on_batch: Callable[[], None] | None
    ) -> None:
        with self._transaction():
            self._store(batch, stats)
        if on_batch:
            on_batch()

    def _plan(
        self, files: Sequence[SourceFile], stats: UpdateStats
    ) -> tuple[list[_ReadTask], list[int]]:
        """Which files to read, from where; and which must be forgotten and read again."""
        known = {
            row[0]: row
            for row in self.db.execute(
                "SELECT path, id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state,"
                " source, root, missing FROM files"
            )
        }
        tasks: list[_ReadTask] = []
        rereads: list[int] = []
        for file in files:
            try:
                info = os.stat(file.path)
            except OSError as error:
                stats.problems.append(f"cannot read {file.path}: {error.strerror or error}")
                continue
            row = known.get(file.path)
            if row is None:
                file_id = self.db.execute(
                    "INSERT INTO files(path, source, root) VALUES (?, ?, ?)",
                    (file.path, file.source, file.root),
                ).lastrowid
                tasks.append(_ReadTask(file_id, file.path, file.source, 0, {}))
                continue
            file_id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state = row[1:10]
            if row[10:12] != (file.source, file.root) or row[12]:
                self.db.execute(
                    "UPDATE files SET source = ?, root = ?, missing = 0 WHERE id = ?",
                    (file.source, file.root, file_id),
                )
            if (dev, ino, size, mtime_ns) == (
                info.st_dev,
                info.st_ino,
                info.st_size,
                info.st_mtime_ns,
            ) and row[10] == file.source:
                continue
            same_file = (dev, ino) == (info.st_dev, info.st_ino) and row[10] == file.source
            if (
                same_file
                and info.st_size >= (size or 0)
                and _head(file.path, head_len)
                == (
                    head_len,
                    head_hash,
                )
            ):
                tasks.append(
                    _ReadTask(file_id, file.path, file.source, offset, orjson.loads(state or b"{}"))
                )
            else:  # truncated, replaced, or now read by another source: read it afresh
                rereads.append(file_id)
                stats.files_reread += 1
                tasks.append(_ReadTask(file_id, file.path, file.source, 0, {}))
        return tasks, rereads

    def _mark_missing(
        self, files: Sequence[SourceFile], roots: Sequence[Root], stats: UpdateStats
    ) -> None:
        present = {file.path for file in files}
        scanned = [str(root.path) for root in roots]
        for chunk in _chunks(scanned):
            rows = self.db.execute(
                f"SELECT id, path FROM files WHERE missing = 0 AND root IN ({_marks(chunk)})", chunk
            ).fetchall()
            gone = [(file_id,) for file_id, path in rows if path not in present]
            self.db.executemany("UPDATE files SET missing = 1 WHERE id = ?", gone)
            stats.files_missing += len(gone)

    def _forget(self, file_ids: Sequence[int]) -> set[str]:
        """Drop what was read from these files; returns the call keys that need a new winner."""
        dirty: set[str] = set()
        for chunk in _chunks(file_ids):
            marks = _marks(chunk)
            dirty.update(
                key
                for (key,) in self.db.execute(
                    f"SELECT key FROM calls WHERE file_id IN ({marks})", chunk
                )
            )
            self.db.execute(f"DELETE FROM calls WHERE file_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM prompts WHERE file_id IN ({marks})", chunk)
            self.db.execute(
                "UPDATE files SET skipped = NULL, rate_limits = NULL, offset = 0, state = NULL"
                f" WHERE id IN ({marks})",
                chunk,
            )
        return dirty

    def _read_all(
        self, tasks: list[_ReadTask], progress: Progress | None, workers: int | None
    ) -> Iterator[_ReadResult]:
        """Read the tasks, biggest first on all cores when there is enough to read."""
        sizes = {task.file_id: _size_to_read(task) for task in tasks}
        total = sum(sizes.values())
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if workers > 1 and total >= PARALLEL_MIN_BYTES and len(tasks) > 1:
            ordered = sorted(tasks, key=lambda task: sizes[task.file_id], reverse=True)
            batch = max(1, len(tasks) // (workers * 8))
            with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
                results = pool.map(_read_file, ordered, chunksize=batch)
                yield from _reporting(results, sizes, total, progress)
        else:
            yield from _reporting(map(_read_file, tasks), sizes, total, progress)

    def _store(self, results: Iterable[_ReadResult], stats: UpdateStats) -> None:
        """Write what was read, then settle which copy of each touched call wins."""
        had_calls = self.db.execute("SELECT EXISTS(SELECT 1 FROM calls)").fetchone()[0]
        new_copies: list[tuple[int, ApiCall, int]] = []
        for result in results:
            if result.error:
                stats.problems.append(result.error)
                continue
            parsed = result.parsed
            assert parsed is not None and result.stat is not None
            row = self.db.execute(
                "SELECT offset, skipped, rate_limits FROM files WHERE id = ?", (result.file_id,)
            ).fetchone()
            if row is None or row[0] != result.start_offset:
                continue  # another instance stored this read first
            _, skipped, limits = row
            stats.files_read += 1
            stats.bytes_read += result.next_offset - result.start_offset
            counts = Counter(orjson.loads(skipped or b"{}")) + parsed.skipped
            if result.huge:
                counts["line over the size limit"] += result.huge
            info = result.stat
            self.db.execute(
                "UPDATE files SET dev = ?, ino = ?, size = ?, mtime_ns = ?, head_len = ?,"
                " head_hash = ?, offset = ?, pending = ?, state = ?, skipped = ?, rate_limits = ?,"
                " missing = 0 WHERE id = ?",
                (
                    info.st_dev,
                    info.st_ino,
                    info.st_size,
                    info.st_mtime_ns,
                    *result.head,
                    result.next_offset,
                    result.pending,
                    orjson.dumps(parsed.state),
                    orjson.dumps(dict(counts)) if counts else None,
                    orjson.dumps(parsed.rate_limits) if parsed.rate_limits else limits,
                    result.file_id,
                ),
            )
            self.db.executemany(
                "INSERT INTO prompts(file_id, source, session, ts) VALUES (?, ?, ?, ?)",
                [(result.file_id, p.source, p.session_id, p.timestamp) for p in parsed.prompts],
            )
            new_copies.extend(
                (result.file_id, call, rank)
                for call, rank in zip(parsed.calls, parsed.ranks, strict=True)
            )
        stats.new_copies += len(new_copies)
        self._settle(new_copies, set(), had_calls)

    def _settle(
        self, new_copies: list[tuple[int, ApiCall, int]], dirty: set[str], had_calls: bool = True
    ) -> None:
        """Insert new copies and mark, per key, the copy that counts.

        The winner is the highest rank (source-defined: own file over embedded
        copy, main thread over sidechain, then the larger total); ties go to the
        smaller file path, so the result does not depend on reading order.
        """
        for _, call, _ in new_copies:
            dirty.add(call.key)
        existing: dict[str, list[list[Any]]] = defaultdict(list)
        if had_calls and dirty:
            keys = list(dirty)
            for chunk in _chunks(keys):
                for row in self.db.execute(
                    f"SELECT c.rowid, c.file_id, c.key, c.rank, c.winner, c.tools, c.input, c.cw5,"
                    f" c.cw1h, c.cr, c.output, c.reasoning, f.path FROM calls c JOIN files f"
                    f" ON f.id = c.file_id WHERE c.key IN ({_marks(chunk)})",
                    chunk,
                ):
                    existing[row[2]].append(list(row))
        paths = dict(self.db.execute("SELECT id, path FROM files"))
        inserts: list[tuple[Any, ...]] = []
        prices = self._price_book() if new_copies else None
        pending: dict[str, list[tuple[int, ApiCall, int]]] = defaultdict(list)
        for copy in new_copies:
            pending[copy[1].key].append(copy)
        updates: list[tuple[Any, ...]] = []
        for key in dirty:
            rows = existing.get(key, [])
            by_file = {row[1]: row for row in rows}
            fresh: list[tuple[int, ApiCall, int]] = []
            for file_id, call, rank in pending.get(key, []):
                old = by_file.get(file_id)
                if old is None:
                    fresh.append((file_id, call, rank))
                else:  # more content blocks of a response already read from this file
                    updates.append(_merged_update(old, call, rank))
                    old[3] = max(old[3], rank)
            candidates = [(row[3], paths[row[1]], ("old", row)) for row in rows] + [
                (rank, paths[file_id], ("new", index))
                for index, (file_id, _, rank) in enumerate(fresh)
            ]
            if not candidates:
                continue
            best = min(candidates, key=lambda item: (-item[0], item[1]))[2]
            for row in rows:
                is_winner = int(best == ("old", row))
                if row[4] != is_winner:
                    updates.append(("winner", is_winner, row[0]))
            for index, (file_id, call, rank) in enumerate(fresh):
                cost, unpriced = prices.price(call) if prices else (0.0, True)
                inserts.append(
                    _row(file_id, call, rank, int(best == ("new", index)), cost, unpriced)
                )
        self._apply(updates)
        self.db.executemany(
            f"INSERT INTO calls({_CALL_COLUMNS}) VALUES ({_marks(range(20))})", inserts
        )

    def _apply(self, updates: list[tuple[Any, ...]]) -> None:
        for update in updates:
            if update[0] == "winner":
                self.db.execute("UPDATE calls SET winner = ? WHERE rowid = ?", update[1:])
            else:
                self.db.execute(
                    "UPDATE calls SET rank = max(rank, ?), tools = ?, input = ?, cw5 = ?,"
                    " cw1h = ?, cr = ?, output = ?, reasoning = ? WHERE rowid = ?",
                    update[1:],
                )
                self._reprice_rows([update[-1]])

    def _price_book(self) -> PriceBook:
        if self._prices is None:
            self._prices = PriceBook()
        return self._prices

    def _refresh_prices(self) -> None:
        """Stored costs follow the price data: a new table or user price file reprices all."""
        fingerprint = self._price_book().fingerprint
        row = self.db.execute("SELECT value FROM meta WHERE key = 'prices'").fetchone()
        if row and row[0] == fingerprint:
            return
        if row:
            self._reprice_rows(None)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('prices', ?)", (fingerprint,))

    def _reprice_rows(self, rowids: Sequence[int] | None) -> None:
        where = "" if rowids is None else f" WHERE rowid IN ({_marks(rowids)})"
        rows = self.db.execute(
            "SELECT rowid, source, ts, model, input, cw5, cw1h, cr, output, reasoning FROM calls"
            + where,
            list(rowids or ()),
        ).fetchall()
        prices = self._price_book()
        changes = []
        for rowid, source, ts, model, *counts in rows:
            call = ApiCall(source, "", "", "", ts, model, Tokens(*counts))
            cost, unpriced = prices.price(call)
            changes.append((cost, int(unpriced), rowid))
        self.db.executemany("UPDATE calls SET cost = ?, unpriced = ? WHERE rowid = ?", changes)

    # --- reading --------------------------------------------------------------------------------

    def calls(self, scope: Scope) -> list[ApiCall]:
        """The counted calls in scope, oldest first."""
        where, params = _where(scope)
        rows = self.db.execute(
            "SELECT c.source, c.key, c.session, c.project, c.ts, c.model, c.input, c.cw5, c.cw1h,"
            " c.cr, c.output, c.reasoning, c.tools, c.subagent, c.fidelity, c.cost, c.unpriced,"
            " f.path, f.missing FROM calls c JOIN files f ON f.id = c.file_id"
            f" WHERE c.winner = 1 {where} ORDER BY c.ts",
            params,
        )
        return [
            ApiCall(
                source,
                key,
                session,
                project,
                ts,
                model,
                Tokens(fresh, cw5, cw1h, cr, output, reasoning),
                tuple(tools.split(_TOOL_SEPARATOR)) if tools else (),
                bool(subagent),
                Fidelity(fidelity),
                cost,
                bool(unpriced),
                path,
                bool(missing),
            )
            for (
                source,
                key,
                session,
                project,
                ts,
                model,
                fresh,
                cw5,
                cw1h,
                cr,
                output,
                reasoning,
                tools,
                subagent,
                fidelity,
                cost,
                unpriced,
                path,
                missing,
            ) in rows
        ]

    def prompts(self, scope: Scope) -> list[Prompt]:
        where, params = _where(scope, table="p")
        rows = self.db.execute(
            "SELECT DISTINCT p.source, p.session, p.ts FROM prompts p JOIN files f"
            f" ON f.id = p.file_id WHERE 1 {where} ORDER BY p.ts",
            params,
        )
        return [Prompt(source, session, ts) for source, session, ts in rows]

    def sums(self, scope: Scope, group: str) -> list[tuple[Any, ...]]:
        """Per-group sums in SQL, for the report: no call objects are built.

        Rows: (group, calls, input, cache_write, cache_read, output, reasoning,
        cost, unpriced_calls).
        """
        expression = _GROUPS[group]
        where, params = _where(scope)
        return self.db.execute(
            f"SELECT {expression} AS g, count(*), sum(c.input), sum(c.cw5 + c.cw1h), sum(c.cr),"
            " sum(c.output), sum(c.reasoning), sum(c.cost), sum(c.unpriced) FROM calls c"
            f" JOIN files f ON f.id = c.file_id WHERE c.winner = 1 {where} GROUP BY g",
            params,
        ).fetchall()

    def diagnostics(self, scope: Scope) -> list[FileDiagnostics]:
        where, params = _where(scope, table=None)
        rows = self.db.execute(
            "SELECT f.path, f.source, f.skipped, f.pending, f.missing FROM files f"
            f" WHERE (f.skipped IS NOT NULL OR f.pending > 0 OR f.missing = 1) {where}"
            " ORDER BY f.path",
            params,
        )
        return [
            FileDiagnostics(path, source, orjson.loads(skipped or b"{}"), pending, bool(missing))
            for path, source, skipped, pending, missing in rows
        ]

    def rate_limits(self, scope: Scope) -> dict[str, Any] | None:
        """The newest rate-limit state logged in scope (only Codex logs one)."""
        where, params = _where(scope, table=None)
        found = [
            orjson.loads(blob)
            for (blob,) in self.db.execute(
                f"SELECT f.rate_limits FROM files f WHERE f.rate_limits IS NOT NULL {where}",
                params,
            )
        ]
        return max(found, key=lambda limits: limits["observed_at"], default=None)


QUARTER_HOUR_GROUP = "quarter_hour"
_GROUPS = {
    QUARTER_HOUR_GROUP: "CAST(c.ts / 900 AS INTEGER)",
    "session": "c.source || ' ' || c.session",
    "project": "c.project",
    "model": "c.model",
    "source": "c.source",
}


def _where(scope: Scope, table: str | None = "c") -> tuple[str, list[Any]]:
    clauses = [f"f.root IN ({_marks(scope.roots)})", f"f.source IN ({_marks(scope.sources)})"]
    params: list[Any] = [*scope.roots, *scope.sources]
    if table is not None and scope.since is not None:
        clauses.append(f"{table}.ts >= ?")
        params.append(scope.since)
    if table is not None and scope.until is not None:
        clauses.append(f"{table}.ts < ?")
        params.append(scope.until)
    return "".join(f" AND {clause}" for clause in clauses), params


def _reporting(
    results: Iterable[_ReadResult], sizes: dict[int, int], total: int, progress: Progress | None
) -> Iterator[_ReadResult]:
    done = 0
    for result in results:
        yield result
        done += sizes[result.file_id]
        if progress:
            progress(done, total)


def _read_file(task: _ReadTask) -> _ReadResult:
    """Read and parse what is new in one file; runs in a worker process for big jobs."""
    try:
        info = os.stat(task.path)
        chunk = read_complete_lines(task.path, task.offset, markers_for(task.source))
        head = _head(task.path, HEAD_BYTES)
    except OSError as error:
        return _ReadResult(
            task.file_id, task.offset, None, task.offset, 0, 0, None, (0, ""), str(error)
        )
    parsed = parser_for(task.source)(chunk.lines, dict(task.state), task.path)
    return _ReadResult(
        task.file_id,
        task.offset,
        parsed,
        chunk.next_offset,
        chunk.pending_bytes,
        chunk.huge_lines,
        info,
        head,
    )


def _head(path: str, length: int | None) -> tuple[int, str]:
    """A hash of the file's first bytes: a replaced file shows a different head."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(length or 0)
    except OSError:
        return (0, "")
    return len(data), hashlib.blake2b(data, digest_size=16).hexdigest()


def _size_to_read(task: _ReadTask) -> int:
    try:
        return max(os.stat(task.path).st_size - task.offset, 0)
    except OSError:
        return 0


def _row(file_id: int, call: ApiCall, rank: int, winner: int, cost: float, unpriced: bool):
    t = call.tokens
    return (
        file_id,
        call.key,
        rank,
        winner,
        call.source,
        call.session_id,
        call.project,
        call.timestamp,
        call.model,
        t.input,
        t.cache_write_5m,
        t.cache_write_1h,
        t.cache_read,
        t.output,
        t.reasoning,
        _TOOL_SEPARATOR.join(call.tools),
        int(call.subagent),
        call.fidelity.value,
        cost,
        int(unpriced),
    )


def _merged_update(old: list[Any], call: ApiCall, rank: int) -> tuple[Any, ...]:
    """Join a response's blocks read in two passes: the fullest usage, every tool."""
    tools = old[5].split(_TOOL_SEPARATOR) if old[5] else []
    tools += [tool for tool in call.tools if tool not in tools]
    t = call.tokens
    counts = old[6:12]
    if t.total > counts[0] + counts[1] + counts[2] + counts[3] + counts[4]:
        counts = [t.input, t.cache_write_5m, t.cache_write_1h, t.cache_read, t.output, t.reasoning]
        old[6:12] = counts
    old[5] = _TOOL_SEPARATOR.join(tools)
    return ("merge", rank, old[5], *counts, old[0])


def _marks(items: Sequence[Any] | range) -> str:
    return ", ".join("?" * len(items))


def _chunks(items: Sequence[Any]) -> Iterator[list[Any]]:
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
