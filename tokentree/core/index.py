"""The persistent, incremental index: every copy of every call, with the copy that counts marked.

One SQLite file in the user cache dir. Per log file it keeps a fingerprint and
the offset of the last complete line, so unchanged files are not read again and
grown files are read from where the last read stopped (a JSON document rewritten
whole is read afresh; a database is asked for the rows changed since the marks
its last read left in the file's state). Files that disappear keep their calls
(marked missing): Claude Code deletes old transcripts, the history should not
go with them. A file's calls are stored in blobs, one per read (`call_rows`), so a
growing log adds small ones; `copies` holds what deciding which copy of a call
counts needs. A rollup of the counted calls per
session, model and quarter hour makes a warm report a small sum.
"""

from __future__ import annotations

import gc
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.pricing import PriceBook, rates_from_json, rates_to_json
from tokentree.core.reading import (
    COST,
    FAMILY,
    KEY,
    RANK,
    SUBAGENT,
    TOKENS,
    TOOL_SEPARATOR,
    TS,
    UNPRICED,
    Progress,
    ReadResult,
    ReadRows,
    ReadTask,
    Row,
    Sums,
    add_to_sums,
    decode_rows,
    encode_rows,
    file_fingerprint,
    file_head,
    read_all,
    row_call,
)
from tokentree.core.records import ApiCall, Prompt
from tokentree.core.sources import Root, read_mode
from tokentree.core.sources.base import ReadMode, SourceFile

SCHEMA_VERSION = 6
_CHUNK = 500  # SQLite host parameters per IN (…) query
BATCH_BYTES = 64 * 1024 * 1024
BATCH_FILES = 128
"""Or this many files read: the last batch, stored after all reading is done, stays small."""

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
CREATE TABLE copies(
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, winner INTEGER NOT NULL,
    family TEXT NOT NULL, key TEXT NOT NULL, rank INTEGER NOT NULL, subagent INTEGER NOT NULL
);
CREATE TABLE call_rows(file_id INTEGER NOT NULL, chunk INTEGER NOT NULL,
                       first_ts REAL NOT NULL, last_ts REAL NOT NULL, rows BLOB NOT NULL,
                       PRIMARY KEY (file_id, chunk));
CREATE TABLE prompts(file_id INTEGER NOT NULL, source TEXT NOT NULL, session TEXT NOT NULL,
                     ts REAL NOT NULL);
CREATE TABLE rollup(
    root TEXT NOT NULL, source TEXT NOT NULL, session TEXT NOT NULL, project TEXT NOT NULL,
    model TEXT NOT NULL, slot INTEGER NOT NULL, calls INTEGER NOT NULL, input INTEGER NOT NULL,
    cache_write INTEGER NOT NULL, cache_read INTEGER NOT NULL, output INTEGER NOT NULL,
    reasoning INTEGER NOT NULL, cost REAL NOT NULL, unpriced INTEGER NOT NULL
);
CREATE TABLE rates(model TEXT NOT NULL, source TEXT NOT NULL, day INTEGER NOT NULL,
                   speed TEXT NOT NULL, rates BLOB, PRIMARY KEY (model, source, day, speed));
"""
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS copies_key ON copies(family, key)",
    "CREATE INDEX IF NOT EXISTS copies_file ON copies(file_id)",
    "CREATE INDEX IF NOT EXISTS prompts_file ON prompts(file_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS rollup_key"
    " ON rollup(root, source, session, project, model, slot)",
)
_DROPPED_FOR_FIRST_BUILD = ("copies_key", "copies_file")
COMPACT_CHUNKS = 32
"""A file read this many times has its blobs joined into one (bounded work per refresh)."""
# A read's calls are stored as one blob of rows (see ROW_COLUMNS and encode_rows); the
# `copies` table keeps only what deciding which copy counts needs.


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


class _Copy:
    """One stored copy of a call, as the dedup decision needs it."""

    __slots__ = ("id", "file_id", "path", "key", "rank", "winner", "subagent", "row")

    def __init__(
        self,
        id: int,
        file_id: int,
        path: str,
        key: str,
        winner: bool,
        rank: int,
        subagent: bool,
        row: Row | None,
    ) -> None:
        self.id = id
        self.key = key
        self.file_id = file_id
        self.path = path
        self.rank = rank
        self.winner = winner
        self.subagent = subagent
        self.row = row  # only until it is written: a later read may merge into it


class Index:
    """The SQLite index. `path=None` keeps it in memory (`--no-cache`)."""

    def __init__(self, path: Path | None, *, prices: PriceBook | None = None) -> None:
        self.path = path
        self.notices: list[str] = []
        self.prices = prices or PriceBook()
        self.db = self._open()
        self.prices.remember(
            {
                (model, source, day, speed): rates_from_json(blob)
                for model, source, day, speed, blob in self.db.execute("SELECT * FROM rates")
            }
        )

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
            for statement in [*filter(str.strip, _SCHEMA.split(";")), *_INDEXES]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")  # or another instance created it while we waited
        return db

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- updating -------------------------------------------------------------------------------

    def update(
        self,
        files: Sequence[SourceFile],
        roots: Sequence[Root],
        *,
        progress: Progress | None = None,
        workers: int | None = None,
        batch_bytes: int = BATCH_BYTES,
        on_batch: Callable[[], None] | None = None,
    ) -> UpdateStats:
        """Bring the index up to date with `files`, found under `roots`.

        Files are read outside the write lock and stored in transactions of about
        `batch_bytes` read (or BATCH_FILES files), which bounds memory; `on_batch`
        runs after each, so a view can show partial results of a long first index.
        A result whose file another instance stored meanwhile is dropped, so two
        instances never count a line twice.
        """
        with _no_cyclic_gc():
            return self._update(files, roots, progress, workers, batch_bytes, on_batch)

    def _update(
        self,
        files: Sequence[SourceFile],
        roots: Sequence[Root],
        progress: Progress | None,
        workers: int | None,
        batch_bytes: int,
        on_batch: Callable[[], None] | None,
    ) -> UpdateStats:
        stats = UpdateStats(files_seen=len(files))
        run = _Run(self)
        with self._transaction():
            self._refresh_prices()
            tasks, rereads = self._plan(files, stats)
            self._mark_missing(files, roots, stats)
            run.cold = not self.db.execute("SELECT EXISTS(SELECT 1 FROM copies)").fetchone()[0]
            if run.cold and tasks:  # a first build: its indexes are made once, at the end
                for name in _DROPPED_FOR_FIRST_BUILD:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
            run.settle([], self._forget(rereads, run.rollup))
            run.rollup.write(self.db)
        # A first build has nothing to lose: no fsync until it is done (a file left
        # corrupt by a power cut is rebuilt at the next start).
        self.db.execute(f"PRAGMA synchronous = {'OFF' if run.cold else 'NORMAL'}")
        try:
            batch: list[ReadResult] = []
            size = 0
            cpu = workers if workers is not None else (os.cpu_count() or 1)
            for result in read_all(tasks, self.prices, cpu, progress):
                batch.append(result)
                size += result.bytes_read
                if size >= batch_bytes or len(batch) >= BATCH_FILES:
                    self._store_batch(run, batch, stats, on_batch, final=False)
                    batch, size = [], 0
            if batch or run.cold:
                self._store_batch(run, batch, stats, on_batch, final=True)
        finally:
            self.db.execute("PRAGMA synchronous = NORMAL")
        return stats

    def _store_batch(
        self,
        run: _Run,
        batch: list[ReadResult],
        stats: UpdateStats,
        on_batch: Callable[[], None] | None,
        *,
        final: bool,
    ) -> None:
        with self._transaction():
            self._store(run, batch, stats)
            run.finish_batch(final)
        if on_batch:
            on_batch()

    def _plan(
        self, files: Sequence[SourceFile], stats: UpdateStats
    ) -> tuple[list[ReadTask], list[int]]:
        """Which files to read, from where; and which must be forgotten and read again."""
        known = {
            row[0]: row
            for row in self.db.execute(
                "SELECT path, id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state,"
                " source, root, missing FROM files"
            )
        }
        tasks: list[ReadTask] = []
        rereads: list[int] = []
        for file in files:
            mode = read_mode(file.source, file.path)
            try:
                fingerprint = file_fingerprint(file.path, mode)
            except OSError as error:
                stats.problems.append(f"cannot read {file.path}: {error.strerror or error}")
                continue
            row = known.get(file.path)
            if row is None:
                file_id = self.db.execute(
                    "INSERT INTO files(path, source, root) VALUES (?, ?, ?)",
                    (file.path, file.source, file.root),
                ).lastrowid
                tasks.append(ReadTask(file_id, file.path, file.source, 0, {}, fingerprint[2]))
                continue
            file_id, dev, ino, size, mtime_ns, head_len, head_hash, offset, state = row[1:10]
            same_source = row[10] == file.source
            if not same_source or row[11] != file.root or row[12]:
                self.db.execute(
                    "UPDATE files SET source = ?, root = ?, missing = 0 WHERE id = ?",
                    (file.source, file.root, file_id),
                )
            if same_source and (dev, ino, size, mtime_ns) == fingerprint:
                continue
            if (
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
            ):
                state = orjson.loads(state or b"{}")
                to_read = max(fingerprint[2] - offset, 0)
                tasks.append(ReadTask(file_id, file.path, file.source, offset, state, to_read))
            else:  # truncated, replaced, or now read by another source: read it afresh
                rereads.append(file_id)
                stats.files_reread += 1
                tasks.append(ReadTask(file_id, file.path, file.source, 0, {}, fingerprint[2]))
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

    def _forget(self, file_ids: Sequence[int], rollup: _Rollup) -> list[tuple[str, str]]:
        """Drop what was read from these files; returns the keys and families of their calls."""
        forgotten: list[tuple[str, str]] = []
        for chunk in _chunks(file_ids):
            marks = _marks(chunk)
            where = f" AND file_id IN ({marks})"
            forgotten += self.db.execute(f"SELECT key, family FROM copies WHERE 1{where}", chunk)
            for file_id, row in self._counted_rows(where, chunk):
                rollup.add(file_id, row, -1)
            for table in ("copies", "call_rows", "prompts"):
                self.db.execute(f"DELETE FROM {table} WHERE file_id IN ({marks})", chunk)
            self.db.execute(
                "UPDATE files SET skipped = NULL, rate_limits = NULL, offset = 0, state = NULL"
                f" WHERE id IN ({marks})",
                chunk,
            )
        return forgotten

    def _store(self, run: _Run, results: Iterable[ReadResult], stats: UpdateStats) -> None:
        """Write what was read; the run decides which copy of each call counts."""
        fresh: list[tuple[int, str, ReadRows]] = []
        learned = {}
        for result in results:
            if result.error:
                stats.problems.append(result.error)
                continue
            file_id = result.task.file_id
            row = self.db.execute(
                "SELECT offset, skipped, rate_limits, path FROM files WHERE id = ?", (file_id,)
            ).fetchone()
            if row is None or row[0] != result.task.offset:
                continue  # another instance stored this read first
            _, skipped, limits, path = row
            stats.files_read += 1
            stats.bytes_read += result.bytes_read
            counts = Counter(orjson.loads(skipped or b"{}")) + result.skipped
            self.db.execute(
                "UPDATE files SET dev = ?, ino = ?, size = ?, mtime_ns = ?, head_len = ?,"
                " head_hash = ?, offset = ?, pending = ?, state = ?, skipped = ?, rate_limits = ?,"
                " missing = 0 WHERE id = ?",
                (
                    *result.stat,
                    *result.head,
                    result.next_offset,
                    result.pending,
                    orjson.dumps(result.state),
                    orjson.dumps(dict(counts)) if counts else None,
                    orjson.dumps(result.rate_limits) if result.rate_limits else limits,
                    file_id,
                ),
            )
            self.db.executemany(
                "INSERT INTO prompts(file_id, source, session, ts) VALUES (?, ?, ?, ?)",
                [(file_id, *prompt) for prompt in result.prompts],
            )
            fresh.append((file_id, path, result.rows))
            run.rollup.add_sums(file_id, result.sums)
            learned |= result.learned_rates
        stats.new_copies += sum(len(rows) for _, _, rows in fresh)
        self.prices.remember(learned)
        self.db.executemany(
            "INSERT OR REPLACE INTO rates VALUES (?, ?, ?, ?, ?)",
            [(*key, rates_to_json(rates)) for key, rates in learned.items()],
        )
        run.settle(fresh, [])

    def _refresh_prices(self) -> None:
        """Stored costs follow the price data: a new table or user price file reprices all."""
        fingerprint = self.prices.fingerprint
        row = self.db.execute("SELECT value FROM meta WHERE key = 'prices'").fetchone()
        if row and row[0] == fingerprint:
            return
        if row:
            self.db.execute("DELETE FROM rates")
            self.prices = PriceBook(self.prices.user_prices)  # forget the remembered rates
            changes = []
            for file_id, chunk, blob in self.db.execute(
                "SELECT file_id, chunk, rows FROM call_rows"
            ).fetchall():
                rows = decode_rows(blob)
                for row in rows:
                    cost, unpriced = self.prices.price(row_call(row, "", False))
                    row[COST], row[UNPRICED] = cost, int(unpriced)
                changes.append((encode_rows(rows), file_id, chunk))
            self.db.executemany(
                "UPDATE call_rows SET rows = ? WHERE file_id = ? AND chunk = ?", changes
            )
            self._rebuild_rollup()
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('prices', ?)", (fingerprint,))

    def _rebuild_rollup(self) -> None:
        """Recompute the whole rollup from the counted calls (after a repricing)."""
        self.db.execute("DELETE FROM rollup")
        rollup = _Rollup(self.db)
        for file_id, row in self._counted_rows():
            rollup.add(file_id, row, 1)
        rollup.write(self.db)

    def _counted_rows(
        self, where: str = "", params: Sequence[Any] = ()
    ) -> Iterator[tuple[int, Row]]:
        """The stored rows of the copies that count (`where` limits `file_id`)."""
        counted = set(
            self.db.execute(f"SELECT file_id, key FROM copies WHERE winner = 1{where}", params)
        )
        blobs = self.db.execute(f"SELECT file_id, rows FROM call_rows WHERE 1{where}", params)
        for file_id, blob in blobs.fetchall():
            for row in decode_rows(blob):
                if (file_id, row[KEY]) in counted:
                    yield file_id, row

    # --- reading --------------------------------------------------------------------------------

    def calls(self, scope: Scope) -> list[ApiCall]:
        """The counted calls in scope, in no particular order (the tree sorts what it shows).

        Only the files whose calls reach into the scope's time span are decoded.
        """
        where, params = _where(scope, table=None)
        files = {
            file_id: (path, bool(missing))
            for file_id, path, missing in self.db.execute(
                f"SELECT f.id, f.path, f.missing FROM files f WHERE 1 {where}", params
            )
        }
        losers: dict[int, set[str]] = {}
        for file_id, key in self.db.execute(
            "SELECT c.file_id, c.key FROM copies c JOIN files f ON f.id = c.file_id"
            f" WHERE c.winner = 0 {where}",
            params,
        ):
            losers.setdefault(file_id, set()).add(key)
        since = -math.inf if scope.since is None else scope.since
        until = math.inf if scope.until is None else scope.until
        calls: list[ApiCall] = []
        for file_id, blob in self.db.execute(
            "SELECT r.file_id, r.rows FROM call_rows r JOIN files f ON f.id = r.file_id"
            f" WHERE r.last_ts >= ? AND r.first_ts < ? {where}",
            [since, until, *params],
        ):
            path, missing = files[file_id]
            skipped = losers.get(file_id, ())
            calls += [
                row_call(row, path, missing)
                for row in decode_rows(blob)
                if row[KEY] not in skipped and since <= row[TS] < until
            ]
        return calls

    def prompts(self, scope: Scope) -> list[Prompt]:
        where, params = _where(scope, table="p")
        rows = self.db.execute(
            "SELECT DISTINCT p.source, p.session, p.ts FROM prompts p JOIN files f"
            f" ON f.id = p.file_id WHERE 1 {where} ORDER BY p.ts",
            params,
        )
        return [Prompt(source, session, ts) for source, session, ts in rows]

    def sums(self, scope: Scope, group: str) -> list[tuple[Any, ...]]:
        """Per-group sums from the rollup, for the report: no call is read.

        Rows: (group, calls, input, cache_write, cache_read, output, reasoning,
        cost, unpriced_calls).
        """
        clauses = [f"root IN ({_marks(scope.roots)})", f"source IN ({_marks(scope.sources)})"]
        params: list[Any] = [*scope.roots, *scope.sources]
        if scope.since is not None:
            clauses.append("slot >= ?")
            params.append(int(scope.since // 900))
        if scope.until is not None:
            clauses.append("slot < ?")
            params.append(int(scope.until // 900))
        return self.db.execute(
            f"SELECT {_GROUPS[group]} AS g, sum(calls), sum(input), sum(cache_write),"
            " sum(cache_read), sum(output), sum(reasoning), sum(cost), sum(unpriced) FROM rollup"
            f" WHERE {' AND '.join(clauses)} GROUP BY g",
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


class _Rollup:
    """Changes to the rollup, added up in memory and written once per transaction.

    Each counted call adds to its (root, source, session, project, model,
    quarter hour) row; a call that stops counting subtracts what it added.
    Workers send the sums of all they read, as if every call counted: the
    run corrects the few that do not, so most calls are never added up here.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.roots: dict[int, str] = {}
        self.deltas: Sums = {}

    def add(self, file_id: int, row: Row, sign: int) -> None:
        sums: Sums = {}
        add_to_sums(sums, [row], sign)
        self.add_sums(file_id, sums)

    def add_sums(self, file_id: int, sums: Sums) -> None:
        root = self.roots.get(file_id)
        if root is None:
            self.roots.update(self.db.execute("SELECT id, root FROM files"))
            root = self.roots[file_id]
        deltas = self.deltas
        for group, counts in sums.items():
            delta = deltas.get((root, *group))
            if delta is None:
                deltas[(root, *group)] = counts.copy()
            else:
                for position, count in enumerate(counts):
                    delta[position] += count

    def write(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(root, source, session, project, model, slot) DO UPDATE SET"
            " calls = calls + excluded.calls, input = input + excluded.input,"
            " cache_write = cache_write + excluded.cache_write,"
            " cache_read = cache_read + excluded.cache_read, output = output + excluded.output,"
            " reasoning = reasoning + excluded.reasoning, cost = cost + excluded.cost,"
            " unpriced = unpriced + excluded.unpriced",
            [(*group, *delta) for group, delta in self.deltas.items() if any(delta)],
        )
        if any(delta[0] <= 0 and any(delta) for delta in self.deltas.values()):
            db.execute("DELETE FROM rollup WHERE calls = 0")
        self.deltas = {}


class _Run:
    """The dedup decisions of one update: which stored copy of each call counts.

    The winner is the highest rank (source-defined: own file over embedded
    copy, main thread over sidechain, then the larger total); ties go to the
    smaller file path, so the result does not depend on reading order. A call
    whose best copy is a sub-agent's replays a response (its family) that
    another request counts on the main thread (Claude's `/btw`): it does not
    count; of replays with no such call, one counts. Copies met in this run
    stay in memory, so each key is looked up in SQLite at most once, and never
    in a first build (nothing is stored yet).
    """

    def __init__(self, index: Index) -> None:
        self.db = index.db
        self.cold = False  # a first build: nothing stored yet
        self.complete = False  # every stored copy is in memory
        # a call's copies; only the id of one stored in bulk, until it is needed (_copies)
        self.copies: dict[str, list[_Copy] | int] = {}
        # family → its one key, or its keys once there are more (rare: a /btw replay)
        self.families: dict[str, str | list[str]] = {}
        self.loaded_families: set[str] = set()  # read from SQLite whole in this run
        self.written: list[_Copy] = []  # copies whose rows can be let go after this batch
        # per file, the copies whose rows are to be written: new ones, completed stored ones
        self.changed: dict[int, tuple[list[_Copy], list[_Copy]]] = {}
        self.stored_rows: dict[int, dict[str, tuple[int, Row]]] = {}  # read back, this batch
        self.rollup = _Rollup(self.db)
        self.next_id = 0

    def settle(
        self, fresh: list[tuple[int, str, ReadRows]], forgotten: list[tuple[str, str]]
    ) -> None:
        """Store new copies (merging blocks of one response), mark the winners, count them."""
        stored = self.db.execute("SELECT max(id) FROM copies").fetchone()[0] or 0
        if stored != self.next_id - 1:  # first batch, or another instance wrote meanwhile
            self.complete = self.cold
            self.next_id = stored + 1
        if not self.complete:
            wanted = {
                (family, key)
                for _, _, read in fresh
                for family, key in zip(read.families, read.keys, strict=True)
            } | {(family, key) for key, family in forgotten}
            self._load(
                {key for family, key in wanted if not family and key not in self.copies},
                {family for family, _ in wanted if family} - self.loaded_families,
            )
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        touched: dict[str, str] = {}  # the calls to decide again → their family
        for key, family in forgotten:  # their counted copies were taken out by _forget
            touched[key] = family
            self._join(key, family, touched)
        for file_id, path, read in fresh:
            if not read:
                continue
            if self._all_new(read):
                self._add_new(file_id, read)
                continue
            for row in read.rows():
                self._add_copy(file_id, path, row, inserts, updates, touched)
        self.db.executemany("INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)", inserts)
        self.db.executemany("UPDATE copies SET rank = ? WHERE id = ?", updates)
        self._decide(touched)
        self._save_rows()

    def _all_new(self, read: ReadRows) -> bool:
        """No call of a read (nor its family) is known yet, and none shares a family."""
        keys = read.keys
        families = [family for family in read.families if family]
        return (
            not any(map(self.copies.get, keys))
            and not any(map(self.families.__contains__, families))
            and len(set(keys)) == len(keys)
            and len(set(families)) == len(families)
        )

    def _add_new(self, file_id: int, read: ReadRows) -> None:
        """Store calls seen for the first time: each counts, as its file's sums say.

        Their rows are stored as the reader encoded them, and this run remembers each call
        by its id only: most calls have a single copy, and the few met again are read
        back (_copies) when that happens."""
        ids = range(self.next_id, self.next_id + len(read))
        self.next_id += len(read)
        self.db.executemany(
            "INSERT INTO copies VALUES (?, ?, 1, ?, ?, ?, ?)",
            zip(ids, repeat(file_id), read.families, read.keys, read.ranks, read.subagents),
        )
        self.copies.update(zip(read.keys, ids, strict=True))
        named = dict(zip(read.families, read.keys, strict=True))
        named.pop("", None)
        self.families.update(named)
        chunk = self._next_chunk(file_id)
        if chunk < COMPACT_CHUNKS:
            self._write_blob(file_id, chunk, read.first_ts, read.last_ts, read.blob)
        else:
            self._append_rows(file_id, read.rows())

    def _add_copy(
        self,
        file_id: int,
        path: str,
        row: Row,
        inserts: list[tuple[Any, ...]],
        updates: list[tuple[Any, ...]],
        touched: dict[str, str],
    ) -> None:
        """One new copy of a call: the only one so far, another copy, or more of a stored one."""
        key, family = row[KEY], row[FAMILY]
        copies = self._copies(key)
        if not copies and family not in self.families:
            # the only copy so far: it counts, as its file's sums say
            copy = _Copy(self.next_id, file_id, path, key, True, row[RANK], row[SUBAGENT], row)
            self.copies[key] = [copy]
            if family:
                self.families[family] = key
            self._changed(copy, new=True)
            inserts.append((self.next_id, file_id, 1, family, key, row[RANK], row[SUBAGENT]))
            self.next_id += 1
            return
        self.copies[key] = copies
        self.rollup.add(file_id, row, -1)  # it counts below only if it wins
        self._touch(key, family, touched)
        self._join(key, family, touched)
        same_file = next((copy for copy in copies if copy.file_id == file_id), None)
        if same_file is None:
            copy = _Copy(self.next_id, file_id, path, key, False, row[RANK], row[SUBAGENT], row)
            copies.append(copy)
            self._changed(copy, new=True)
            inserts.append((self.next_id, file_id, 0, family, key, row[RANK], row[SUBAGENT]))
            self.next_id += 1
        else:  # more content blocks of a response already stored from this file
            same_file.row = _merged(self._row_of(same_file), row)
            same_file.rank = same_file.row[RANK]
            self._changed(same_file, new=False)
            updates.append((same_file.rank, same_file.id))

    def _copies(self, key: str) -> list[_Copy]:
        """The copies of a call this run knows of; one stored by _add_new is read back."""
        copies = self.copies.get(key)
        if type(copies) is int:
            file_id, path, rank, subagent = self.db.execute(
                "SELECT c.file_id, f.path, c.rank, c.subagent FROM copies c"
                " JOIN files f ON f.id = c.file_id WHERE c.id = ?",
                (copies,),
            ).fetchone()
            copies = self.copies[key] = [
                _Copy(copies, file_id, path, key, True, rank, subagent == 1, None)
            ]
        return copies or []

    def _changed(self, copy: _Copy, *, new: bool) -> None:
        """A copy whose row must be written: a new one, or a stored one a later read completed."""
        self.changed.setdefault(copy.file_id, ([], []))[0 if new else 1].append(copy)
        self.written.append(copy)

    def _save_rows(self) -> None:
        """Write the rows this settle changed: the blobs holding calls whose blocks a later
        read completed, again; and a read's new calls as one more blob of its file."""
        for file_id, (new, completed) in self.changed.items():
            stored = self._stored(file_id) if completed else {}
            for copy in completed:
                stored[copy.key] = (stored[copy.key][0], self._row_of(copy))
            for chunk in {stored[copy.key][0] for copy in completed}:
                rows = [row for at, row in stored.values() if at == chunk]
                self._write_chunk(file_id, chunk, rows)
            if new:
                self._append_rows(file_id, [self._row_of(copy) for copy in new])
        self.changed = {}

    def _append_rows(self, file_id: int, rows: list[Row]) -> None:
        """A read's new calls as one more blob of its file; all of the file's blobs are
        joined into one every COMPACT_CHUNKS reads."""
        chunk = self._next_chunk(file_id)
        if chunk >= COMPACT_CHUNKS:
            rows = rows + [row for _, row in self._stored(file_id).values()]
            self.db.execute("DELETE FROM call_rows WHERE file_id = ?", (file_id,))
            chunk = 0
        self._write_chunk(file_id, chunk, rows)

    def _next_chunk(self, file_id: int) -> int:
        return self.db.execute(
            "SELECT coalesce(max(chunk) + 1, 0) FROM call_rows WHERE file_id = ?", (file_id,)
        ).fetchone()[0]

    def _write_chunk(self, file_id: int, chunk: int, rows: list[Row]) -> None:
        times = [row[TS] for row in rows]
        self._write_blob(file_id, chunk, min(times), max(times), encode_rows(rows))

    def _write_blob(
        self, file_id: int, chunk: int, first_ts: float, last_ts: float, blob: bytes
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO call_rows VALUES (?, ?, ?, ?, ?)",
            (file_id, chunk, first_ts, last_ts, blob),
        )
        self.stored_rows.pop(file_id, None)  # read again when next needed

    def _stored(self, file_id: int) -> dict[str, tuple[int, Row]]:
        """A file's stored rows by key, with the blob each is in; read once a batch."""
        rows = self.stored_rows.get(file_id)
        if rows is None:
            rows = self.stored_rows[file_id] = {
                row[KEY]: (chunk, row)
                for chunk, blob in self.db.execute(
                    "SELECT chunk, rows FROM call_rows WHERE file_id = ?", (file_id,)
                )
                for row in decode_rows(blob)
            }
        return rows

    def _touch(self, key: str, family: str, touched: dict[str, str]) -> None:
        """Take a call out of the rollup until _decide() counts it again."""
        if key not in touched:
            touched[key] = family
            winner = next((copy for copy in self._copies(key) if copy.winner), None)
            if winner is not None:
                self.rollup.add(winner.file_id, self._row_of(winner), -1)

    def _join(self, key: str, family: str, touched: dict[str, str] | None) -> None:
        """Note the key's family; a change to one call of a family is decided for all of them."""
        if not family:
            return
        members = self.families.get(family)
        if members is None:
            self.families[family] = members = key
        elif isinstance(members, str) and members != key:
            self.families[family] = members = [members, key]
        elif isinstance(members, list) and key not in members:
            members.append(key)
        if touched is not None:
            for member in [members] if isinstance(members, str) else members:
                self._touch(member, family, touched)

    def _decide(self, touched: dict[str, str]) -> None:
        """Mark the copy of each touched call that counts (if any), and count it."""
        flips = []
        decided: set[str] = set()
        for key, family in touched.items():
            if key in decided:
                continue
            members = self.families.get(family, key)
            group = [members] if isinstance(members, str) else members
            best = {member: _best(self._copies(member)) for member in group}
            counted = _counted(best)
            for member in group:
                decided.add(member)
                winner = best[member] if member in counted else None
                for copy in self._copies(member):
                    if copy.winner != (copy is winner):
                        copy.winner = copy is winner
                        flips.append((int(copy.winner), copy.id))
                if winner is not None:
                    self.rollup.add(winner.file_id, self._row_of(winner), 1)
        self.db.executemany("UPDATE copies SET winner = ? WHERE id = ?", flips)

    def finish_batch(self, final: bool) -> None:
        """Write the rollup's changes; free the rows already written; index a first build."""
        self.rollup.write(self.db)
        for copy in self.written:
            copy.row = None
        self.written = []
        self.stored_rows = {}
        if final:
            for statement in _INDEXES:
                self.db.execute(statement)
            self.cold = False

    def _row_of(self, copy: _Copy) -> Row:
        """A copy's stored row, read back when this run has let it go."""
        if copy.row is None:
            copy.row = self._stored(copy.file_id)[copy.key][1]
            self.written.append(copy)
        return copy.row

    def _load(self, keys: set[str], families: set[str]) -> None:
        """Bring stored copies into memory: of these keys (calls without a family), and of
        every call of these families (a replay is judged by the rest of its family).

        A key already in memory keeps what this run knows of it."""
        for key in keys:
            self.copies[key] = []
        loading: set[str] = set(keys)
        select = "SELECT c.id, c.file_id, f.path, c.key, c.winner, c.rank, c.subagent, c.family"
        select += " FROM copies c JOIN files f ON f.id = c.file_id WHERE "
        queries = [
            *((f"c.family = '' AND c.key IN ({_marks(chunk)})", chunk) for chunk in _chunks(keys)),
            *((f"c.family IN ({_marks(chunk)})", chunk) for chunk in _chunks(families)),
        ]
        for where, chunk in queries:
            for id, file_id, path, key, winner, rank, subagent, family in self.db.execute(
                select + where, chunk
            ):
                if key not in loading:
                    if key in self.copies:
                        continue
                    self.copies[key] = []
                    loading.add(key)
                copy = _Copy(id, file_id, path, key, winner == 1, rank, subagent == 1, None)
                self.copies[key].append(copy)
                self._join(key, family, None)
        self.loaded_families |= families


def _best(copies: Iterable[_Copy]) -> _Copy | None:
    """The copy of a call that counts: highest rank, then the smaller path."""
    return min(copies, key=lambda copy: (-copy.rank, copy.path), default=None)


def _counted(best: dict[str, _Copy | None]) -> set[str]:
    """The calls of one family that count: all those on the main thread; when there is none,
    the best of the sub-agent copies (FORMATS.md §1.7: `/btw` replays a response)."""
    present = {key: copy for key, copy in best.items() if copy is not None}
    main = {key for key, copy in present.items() if not copy.subagent}
    if main or not present:
        return main
    return {min(present, key=lambda key: (-present[key].rank, present[key].path, key))}


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Indexing builds no reference cycles, but enough objects to make the collector rescan
    them again and again (a third of a first build's time); workers inherit the setting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _merged(old: Row | None, new: Row) -> Row:
    """Join a response's blocks read in two passes: the fullest usage, every tool.

    A later copy that says the call was rewound marks it so (the tokens stay).
    """
    assert old is not None
    tools = old[13].split(TOOL_SEPARATOR) if old[13] else []
    tools += [
        tool for tool in (new[13].split(TOOL_SEPARATOR) if new[13] else []) if tool not in tools
    ]
    fuller = new if sum(new[TOKENS][:5]) > sum(old[TOKENS][:5]) else old
    return (
        *old[:RANK],
        max(old[RANK], new[RANK]),
        *old[RANK + 1 : 7],
        *fuller[TOKENS],
        TOOL_SEPARATOR.join(tools),
        old[14],
        old[15],
        fuller[16],
        fuller[17],
        max(old[18], new[18]),
        fuller[19],
        fuller[20],
        fuller[21],
        old[22],
    )


_GROUPS = {
    "quarter_hour": "slot",
    "session": "source || ' ' || session",
    "project": "project",
    "model": "model",
    "source": "source",
}
QUARTER_HOUR_GROUP = "quarter_hour"


def _where(scope: Scope, table: str | None) -> tuple[str, list[Any]]:
    """The scope as SQL over `files f`; `table` names the one whose `ts` the span limits."""
    clauses = [f"f.root IN ({_marks(scope.roots)})", f"f.source IN ({_marks(scope.sources)})"]
    params: list[Any] = [*scope.roots, *scope.sources]
    if table is not None and scope.since is not None:
        clauses.append(f"{table}.ts >= ?")
        params.append(scope.since)
    if table is not None and scope.until is not None:
        clauses.append(f"{table}.ts < ?")
        params.append(scope.until)
    return "".join(f" AND {clause}" for clause in clauses), params


def _marks(items: Sequence[Any] | range) -> str:
    return ", ".join("?" * len(items))


def _chunks(items: Sequence[Any]) -> Iterator[list[Any]]:
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
