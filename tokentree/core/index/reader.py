"""Reading the index from the threads that do not write it: the view, the analyser, an export.

The indexer thread owns the index's connection and holds its write lock for
seconds at a time. A reader has its own read-only connection (the index is
in WAL mode, so it reads the last committed state without waiting); an index
kept in memory has one connection, which the reader shares. Reads never
derive: the indexer derived the scope before it served a tree from it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tokentree.core.index import days_kept, derive, queries
from tokentree.core.index.scope import Scope
from tokentree.core.records import ApiCall, Prompt

T = TypeVar("T")


class ScopeNotIndexed(LookupError):
    """The scope was never derived: the indexer has not stored anything for it yet."""


Query = Callable[..., T]
"""A function of queries.py: (db, scope, scope id, …) → rows."""


class Reads:
    """The queries a view makes of a scope; `_read` runs one (see Index and IndexReader)."""

    def _read(self, query: Query[T], scope: Scope, *args: Any) -> T:
        raise NotImplementedError

    def calls(self, scope: Scope) -> list[ApiCall]:
        return self._read(queries.calls, scope)

    def prompts(
        self, scope: Scope, sessions: Iterable[tuple[str, str]] | None = None
    ) -> list[Prompt]:
        return self._read(_prompts, scope, sessions)

    def grouped(
        self, scope: Scope, keys: Sequence[str], sums: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        return self._read(queries.grouped, scope, keys, sums)

    def activity(self, scope: Scope, keys: Sequence[str]) -> dict[tuple[Any, ...], list[Any]]:
        return self._read(queries.activity, scope, keys)

    def loser_times(self, scope: Scope, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        return self._read(queries.loser_times, scope, keys)

    def span(self, scope: Scope) -> tuple[float, float] | None:
        return self._read(queries.span, scope)

    def kept_days(self, scope: Scope, view: str) -> tuple[int | None, dict[int, bytes]]:
        return self._read(days_kept.kept, scope, view)

    def changed(self, scope: Scope, seen: int | None) -> tuple[int, float | None]:
        return self._read(days_kept.changed, scope, seen)

    def kept_advice(self, scope: Scope, view: str) -> dict[str, tuple[str, bytes]]:
        return self._read(days_kept.kept_advice, scope, view)


def _prompts(
    db: sqlite3.Connection, scope: Scope, _scope_id: int, sessions: Iterable[tuple[str, str]] | None
) -> list[Prompt]:
    return queries.prompts(db, scope, sessions)


class IndexReader(Reads):
    """Read-only queries of one index, safe to call from any thread (one at a time)."""

    def __init__(self, path: Path | None, shared: sqlite3.Connection) -> None:
        self.db = (
            shared
            if path is None
            else sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=60, check_same_thread=False
            )
        )
        self._owned = path is not None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owned:
            self.db.close()

    def _read(self, query: Query[T], scope: Scope, *args: Any) -> T:
        with self._lock:
            found = derive.known_scope(self.db, scope.roots)
            if found is None:
                raise ScopeNotIndexed(f"nothing indexed yet for {', '.join(scope.roots)}")
            return query(self.db, scope, found, *args)
