"""The persistent, incremental index: it stores what each read found and derives the rest.

Per log file it keeps a fingerprint and the offset of the last complete line,
so unchanged files are not read again and grown files are read from where the
last read stopped (a JSON document rewritten whole is read afresh; a database
is asked for the rows changed since the marks its last read left). Every copy
of every call is kept as read; which copy counts and every sum are derived
(derive.py). Files that disappear, or can no longer be read, keep their calls:
Claude Code deletes old transcripts, the history should not go with them.
"""

from __future__ import annotations

import gc
import math
import os
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tokentree.core.index import changes, days_kept, derive, file_facts, queries
from tokentree.core.index.file_facts import FileDiagnostics, FileHealth
from tokentree.core.index.plan import UpdateStats, mark_missing, plan, reread_for_new_readers
from tokentree.core.index.reader import IndexReader, Query, Reads
from tokentree.core.index.scope import Scope
from tokentree.core.index.store import (
    BUSY_TIMEOUT,
    DEFAULT_CACHE_SIZE,
    INDEXES,
    CacheUnusable,
    is_damage,
    open_store,
    recreate,
    settings_for,
    transaction,
    unless_busy,
)
from tokentree.core.index.storing import InReaders, store_batch, store_rates
from tokentree.core.pricing import PriceBook, RateKey, Rates, rates_from_json
from tokentree.core.reading import (
    GROUP_BYTES,
    Progress,
    ReadBatch,
    read_all,
)
from tokentree.core.records import Tokens
from tokentree.core.rows import NAMES
from tokentree.core.sources import Root
from tokentree.core.sources.base import SourceFile

BATCH_BYTES = 64 * 1024 * 1024
"""Read this much, then store it in one transaction: bounds memory, shows progress."""
QUARTER_HOUR_GROUP = "quarter_hour"
_REPORT_SUMS = (
    "sum(calls)",
    "sum(input)",
    "sum(cache_write_5m + cache_write_1h)",
    "sum(cache_read)",
    "sum(output)",
    "sum(reasoning)",
    "round(sum(cost), 9)",
    "sum(unpriced)",
)
_SESSION_FACTS = ("max(project)", "min(first)", "max(last)")
GROUP_KEYS = {  # the SQL of each key a report groups by (report.py, session_facts)
    QUARTER_HOUR_GROUP: "slot",
    "session": "source || ' ' || session",
    "project": "project",
    "model": "model",
    "source": "source",
}


P = ParamSpec("P")
T = TypeVar("T")


def _recovering(method: Callable[P, T]) -> Callable[P, T]:
    """A damaged index found in use is rebuilt (with a notice), indexed again, and asked again."""

    @wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as error:
            index = args[0]
            assert isinstance(index, Index)
            if not is_damage(error):
                raise
            index.recover(error)
            return method(*args, **kwargs)

    return guarded


class Index(Reads):
    """The SQLite index. `path=None` keeps it in memory (`--no-cache`); so does a cache that
    cannot be written, with a notice."""

    def __init__(self, path: Path | None, *, prices: PriceBook | None = None) -> None:
        self.path = path
        self.notices: list[str] = []
        self.prices = prices or PriceBook()
        self._last_update: tuple[Sequence[SourceFile], Sequence[Root]] | None = None
        self.db = self._open(lambda: open_store(path, self.notices))
        self._remember_rates()

    def _open(self, opening: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
        """The connection `opening` makes, or, when the cache cannot be kept, one in memory."""
        try:
            db = opening()
        except CacheUnusable as error:
            self.notices.append(f"{error}; using an index in memory this time")
            self.path = None
            db = open_store(None, self.notices)
        db.execute("ATTACH ':memory:' AS incoming")  # where readers' batches are unpacked
        columns = [row[1] for row in db.execute("PRAGMA table_info(copies)")]
        self._staged_as_stored = columns == ["id", "file_id", *NAMES]  # staging.py's order
        return db

    def _remember_rates(self) -> None:
        """The rates lookups stored, for the price book to read when it first needs them (a
        connection of its own: the view's threads may ask at any time)."""
        path = self.path
        if path is None:
            return  # an index in memory stores only what this price book learned

        def stored() -> dict[RateKey, Rates | None]:
            try:
                with closing(
                    sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
                ) as db:
                    rows = db.execute("SELECT * FROM rates").fetchall()
            except sqlite3.Error:
                return {}  # looked up again as calls need them
            return {
                (m, source, day, speed): rates_from_json(b) for m, source, day, speed, b in rows
            }

        self.prices.remember_later(stored)

    def close(self) -> None:
        self.db.close()

    def recover(self, error: sqlite3.DatabaseError) -> None:
        """Start again from an empty index after damage was found, and index the logs again."""
        self.notices.append(f"index at {self.path} was damaged ({error}); rebuilt")
        self.db.close()
        path = self.path
        self.db = self._open(lambda: recreate(path) if path else open_store(None, self.notices))
        if self._last_update is not None:
            self._update(*self._last_update, None, None, BATCH_BYTES, None)

    # --- updating -------------------------------------------------------------------------------

    @_recovering
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
        `batch_bytes` read, which bounds memory; `on_batch` runs after each, so a
        view can show partial results of a long first index. A read whose file
        another instance stored meanwhile is dropped, so two instances never
        count a line twice; whatever either stored, the totals are derived again.
        """
        self._last_update = (files, roots)
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
        with transaction(self.db):
            touched = derive.Touched(self.db)
            self._refresh_prices()
            reread_for_new_readers(self.db)
            tasks = plan(self.db, files, stats, touched)
            mark_missing(self.db, files, roots, stats)
            (last_id,) = self.db.execute("SELECT coalesce(max(id), 0) FROM copies").fetchone()
            cold = bool(tasks) and last_id == 0
            if cold:  # a first build: its indexes are built once, at its end, but for those
                for name in INDEXES:  # a view's derivation after each batch looks calls up by
                    if on_batch is None or name not in derive.LOOKED_UP_BY:
                        self.db.execute(f"DROP INDEX IF EXISTS {name}")
            derive.scope_id(self.db, [str(root.path) for root in roots])
        with settings_for(self.db, first_build=cold, alone=on_batch is None) as unlogged:
            store = InReaders(self.path, self._staged_as_stored) if unlogged and self.path else None
            waiting: list[ReadBatch] = []
            size = 0
            cpu = workers if workers is not None else (os.cpu_count() or 1)
            group = min(GROUP_BYTES, batch_bytes)
            if tasks:
                self.prices.resolve()  # the readers price with it: what the index knows first
            stored_by_readers = False
            for batch in read_all(tasks, self.prices, cpu, progress, group, last_id + 1, store):
                if batch.stored is not None:  # its reader stored it (InReaders)
                    stats.add_stored(batch.stored)
                    self.prices.remember(batch.learned_rates)
                    stored_by_readers = True
                    continue
                waiting.append(batch)
                size += batch.bytes_read
                if size >= batch_bytes:
                    self._store(waiting, stats, on_batch, cold)
                    waiting, size = [], 0
            self._store(waiting, stats, None, cold)
            with transaction(self.db):
                if stored_by_readers:  # nothing of it in this page cache, whose size is also
                    # that of the pieces SQLite sorts an index in: 2 MB ones sort faster than
                    # one of 128 MiB (the indexes of 1 GB of logs: 0.155 → 0.125 s)
                    self.db.execute(f"PRAGMA cache_size = {DEFAULT_CACHE_SIZE}")
                for statement in INDEXES.values():
                    self.db.execute(statement)
                self._derived(derive.derive(self.db))
        return stats

    def _derived(self, first: float | None) -> None:
        """A derivation decided the calls from `first` on again (None: none): noted in the
        change log, inside its transaction, for every view of every instance."""
        if first is not None:
            changes.note(self.db, first)

    def _store(
        self,
        batches: list[ReadBatch],
        stats: UpdateStats,
        on_batch: Callable[[], None] | None,
        cold: bool,
    ) -> None:
        """Copy what was read in, noting what it touched: one transaction. Derived at the end
        of the update, or now when a view wants to show the partial result."""
        with transaction(self.db):
            touched = derive.Touched(self.db, everything=cold)
            for batch in batches:
                store_batch(self.db, batch, stats, touched, self._staged_as_stored)
                self._learn(batch.learned_rates)
            if on_batch:
                self._derived(derive.derive(self.db))
        if on_batch:
            on_batch()

    def _learn(self, learned: dict[Any, Any]) -> None:
        if not learned:
            return
        self.prices.remember(learned)
        store_rates(self.db, learned)

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
            for id, source, ts, model, speed, web_searches, *tokens in self.db.execute(
                "SELECT id, source, ts, model, speed, web_searches, input, cache_write_5m,"
                " cache_write_1h, cache_read, output, reasoning FROM copies"
            ).fetchall():
                cost, pricing = self.prices.price_of(
                    model, source, ts, speed, Tokens(*tokens), web_searches
                )
                changes.append((cost, int(pricing), id))
            self.db.executemany("UPDATE copies SET cost = ?, pricing = ? WHERE id = ?", changes)
            self._learn(self.prices.take_learned())
            derive.rebuild(self.db)
            self._derived(-math.inf)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('prices', ?)", (fingerprint,))

    # --- keeping the derived tables honest ------------------------------------------------------

    @_recovering
    def check(self) -> list[str]:
        """How the derived tables differ from a fresh derivation; empty when they agree."""
        with transaction(self.db):
            return derive.check(self.db)

    @_recovering
    def rebuild(self) -> None:
        """Derive every winner and sum again from the stored copies."""
        with transaction(self.db):
            derive.rebuild(self.db)
            self._derived(-math.inf)

    # --- reading --------------------------------------------------------------------------------

    def _scope(self, scope: Scope) -> int:
        """The scope's id, its tables derived up to the last change any instance stored."""
        found = derive.known_scope(self.db, scope.roots)
        if found is not None and not derive.pending(self.db):
            return found
        with transaction(self.db):
            self._derived(derive.derive(self.db))
            return derive.scope_id(self.db, scope.roots)

    @_recovering
    def _read(self, query: Query[T], scope: Scope, *args: Any) -> T:
        return query(self.db, scope, self._scope(scope), *args)

    @_recovering
    def keep_days(
        self, view: str, generation: int, records: Mapping[int, bytes], first: int
    ) -> None:
        """Keep a view's days from day `first` on as served at `generation` (days_kept.py);
        left for another time when another instance holds the write lock (they are a cache)."""
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            with unless_busy(), transaction(self.db):
                days_kept.keep(self.db, view, generation, records, first)
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")

    def keep_advice(
        self, view: str, digests: Mapping[str, tuple[str, bytes]], paths: Collection[str]
    ) -> None:
        """Keep a view's day digests (days_kept.keep_advice), from any thread: on a connection
        of its own, and not at all when another holds the write lock (they are a cache)."""
        if self.path is None:
            return
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            with unless_busy(), transaction(db):
                days_kept.keep_advice(db, view, digests, paths)
        finally:
            db.close()

    def reader(self) -> IndexReader:
        """A connection for another thread to read the index on while this one writes."""
        return IndexReader(self.path, self.db)

    @_recovering
    def sums(self, scope: Scope, group: str) -> list[tuple[Any, ...]]:
        """Per-group sums, for the report: the scope's files' rollup less the copies that do
        not count there; no call is read.

        Rows: (group, calls, input, cache_write, cache_read, output, reasoning,
        cost, unpriced_calls).
        """
        return queries.grouped(
            self.db, scope, self._scope(scope), [GROUP_KEYS[group]], _REPORT_SUMS
        )

    @_recovering
    def session_facts(self, scope: Scope) -> list[tuple[Any, ...]]:
        """Per session (keyed as by sums()): its project and its first and last call's times."""
        group = [GROUP_KEYS["session"]]
        return queries.grouped(self.db, scope, self._scope(scope), group, _SESSION_FACTS)

    @_recovering
    def session_sums(self, scope: Scope, session: str) -> list[tuple[Any, ...]]:
        """sums(scope, "source") of the calls of one session id: found by its own rows."""
        return queries.grouped(
            self.db, scope, self._scope(scope), [GROUP_KEYS["source"]], _REPORT_SUMS, session
        )

    @_recovering
    def diagnostics(self, scope: Scope) -> list[FileDiagnostics]:
        return file_facts.diagnostics(self.db, scope)

    @_recovering
    def health(self, scope: Scope) -> FileHealth:
        return file_facts.health(self.db, scope)

    @_recovering
    def rate_limits(self, scope: Scope) -> tuple[dict[str, Any], ...]:
        return file_facts.rate_limits(self.db, scope)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Indexing builds no reference cycles, but enough objects to make the collector rescan
    them again and again; workers inherit the setting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
