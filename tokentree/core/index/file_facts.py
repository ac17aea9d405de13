"""What the index knows of the log files of a scope themselves, rather than of their calls:
their diagnostics (lines skipped, a half-written tail, a log removed or unreadable) and
the rate limits they logged."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from tokentree.core.index.derive import in_roots
from tokentree.core.index.scope import Scope
from tokentree.core.index.store import marks


class FileHealth(NamedTuple):
    """What the status line says of the logs in scope: the sums of their diagnostics."""

    skipped_lines: int = 0
    skipped_files: int = 0
    removed_files: int = 0


@dataclass(frozen=True, slots=True)
class FileDiagnostics:
    path: str
    source: str
    skipped: dict[str, int]
    pending_bytes: int
    missing: bool
    unreadable: bool = False


def diagnostics(db: sqlite3.Connection, scope: Scope) -> list[FileDiagnostics]:
    """The logs in scope with something to say, by path."""
    inside, params = in_roots(scope.roots)
    rows = db.execute(
        "SELECT f.path, f.source, f.skipped, f.pending, f.missing, f.unreadable FROM files f"
        " WHERE (f.skipped IS NOT NULL OR f.pending > 0 OR f.missing = 1 OR f.unreadable = 1)"
        f" AND {inside} AND f.source IN ({marks(scope.sources)}) ORDER BY f.path",
        [*params, *scope.sources],
    )
    return [
        FileDiagnostics(
            path, source, orjson.loads(skipped or b"{}"), pending, missing == 1, unread == 1
        )
        for path, source, skipped, pending, missing, unread in rows
    ]


def health(db: sqlite3.Connection, scope: Scope) -> FileHealth:
    """`diagnostics` summed, without a row per file: a year's removed logs are thousands."""
    inside, params = in_roots(scope.roots)
    where = f"{inside} AND f.source IN ({marks(scope.sources)})"
    args = [*params, *scope.sources]
    (removed,) = db.execute(
        f"SELECT count(*) FROM files f WHERE f.missing = 1 AND {where}", args
    ).fetchone()
    skipped = [
        sum(orjson.loads(blob).values())
        for (blob,) in db.execute(
            f"SELECT f.skipped FROM files f WHERE f.skipped IS NOT NULL AND {where}", args
        )
    ]
    return FileHealth(sum(skipped), sum(1 for lines in skipped if lines), removed)


def rate_limits(db: sqlite3.Connection, scope: Scope) -> tuple[dict[str, Any], ...]:
    """The rate-limit states logged in scope (only Codex logs them), oldest first: each
    log's newest, so a past week can be shown the limits of its own time."""
    inside, params = in_roots(scope.roots)
    found = [
        orjson.loads(blob)
        for (blob,) in db.execute(
            f"SELECT f.rate_limits FROM files f WHERE f.rate_limits IS NOT NULL AND {inside}"
            f" AND f.source IN ({marks(scope.sources)})",
            [*params, *scope.sources],
        )
    ]
    return tuple(sorted(found, key=lambda limits: limits["observed_at"]))
