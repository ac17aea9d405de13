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
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokentree.core.index import derive, queries
from tokentree.core.index.scope import Scope
from tokentree.core.records import ApiCall, Prompt


class ScopeNotIndexed(LookupError):
    """The scope was never derived: the indexer has not stored anything for it yet."""


class IndexReader:
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

    def _scope(self, scope: Scope) -> int:
        found = derive.known_scope(self.db, scope.roots)
        if found is None:
            raise ScopeNotIndexed(f"nothing indexed yet for {', '.join(scope.roots)}")
        return found

    def calls(self, scope: Scope) -> list[ApiCall]:
        with self._lock:
            return queries.calls(self.db, scope, self._scope(scope))

    def prompts(
        self, scope: Scope, sessions: Iterable[tuple[str, str]] | None = None
    ) -> list[Prompt]:
        with self._lock:
            return queries.prompts(self.db, scope, sessions)

    def grouped(
        self, scope: Scope, keys: Sequence[str], sums: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        with self._lock:
            return queries.grouped(self.db, scope, self._scope(scope), keys, sums)

    def activity(self, scope: Scope, keys: Sequence[str]) -> dict[tuple[Any, ...], list[Any]]:
        with self._lock:
            return queries.activity(self.db, scope, self._scope(scope), keys)

    def loser_times(self, scope: Scope, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        with self._lock:
            return queries.loser_times(self.db, scope, self._scope(scope), keys)

    def span(self, scope: Scope) -> tuple[float, float] | None:
        with self._lock:
            return queries.span(self.db, scope, self._scope(scope))
