"""What a view reads of a scope: its counted calls and prompts, and sums that read no call.

Every sum here unions the rows the index derived per file with the copies
that do not count in the scope, negated, and groups the union by whatever
the caller asks (a quarter hour, a session, a local day): a year of history
is summed from its rollup in SQL, and only the few loser copies are read.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import orjson

from tokentree.core.activity_sums import ACTIVITY_COLUMNS, TOTAL, insert_activity, split_sums
from tokentree.core.index import changes
from tokentree.core.index.derive import in_roots
from tokentree.core.index.scope import Scope, column_test, filters, span_filter
from tokentree.core.records import QUARTER_HOUR, ApiCall, Prompt
from tokentree.core.rows import (
    ROLLUP_COLUMNS,
    SLOT,
    SUM_NAMES,
    SUMMED,
    prefixed,
    rollup_of,
    row_call,
)

_LOSERS = "SELECT copy FROM losers WHERE scope = ?"


def calls(db: sqlite3.Connection, scope: Scope, scope_id: int) -> list[ApiCall]:
    """The counted calls in scope, in no particular order (the tree sorts what it shows)."""
    inside, roots = in_roots(scope.roots)
    clauses, params = _counted_filters(scope)
    slots, bounds = span_filter(scope, "slot", per=QUARTER_HOUR)
    if bounds:  # a span: only the files with calls in it are looked at
        clauses += f" AND c.file_id IN (SELECT file_id FROM rollup WHERE 1 {slots})"
        params += bounds
    rows = db.execute(
        f"SELECT {prefixed('c')}, f.path, f.missing FROM files f"
        f" JOIN copies c ON c.file_id = f.id WHERE {inside}"
        f" AND c.id NOT IN ({_LOSERS}) {clauses}",
        [*roots, scope_id, *params],
    )
    return [row_call(row[:-2], row[-2], row[-1] == 1) for row in rows]


def _counted_filters(scope: Scope) -> tuple[str, list[Any]]:
    """The scope's sources, time span and calls (`only`) as SQL over copies `c`."""
    clauses, params = filters(scope, "c.source", "c.ts")
    if scope.only is not None:
        only, only_params = scope.only.sql("c.")
        clauses, params = f"{clauses} {only}", [*params, *only_params]
    return clauses, params


def prompts(
    db: sqlite3.Connection, scope: Scope, sessions: Iterable[tuple[str, str]] | None = None
) -> list[Prompt]:
    """The prompts in scope, oldest first; only those of `sessions` ((source, id)) if given."""
    inside, roots = in_roots(scope.roots)
    clauses, params = filters(scope, "p.source", "p.ts")
    wanted = None if sessions is None else set(sessions)
    if wanted is not None:
        clauses += " AND p.session IN (SELECT value FROM json_each(?))"
        params.append(orjson.dumps(sorted({session for _, session in wanted})).decode())
    rows = db.execute(
        "SELECT DISTINCT p.source, p.session, p.ts FROM prompts p JOIN files f"
        f" ON f.id = p.file_id WHERE {inside} {clauses} ORDER BY p.ts",
        [*roots, *params],
    )
    found = [Prompt(source, session, ts) for source, session, ts in rows]
    return found if wanted is None else [p for p in found if (p.source, p.session_id) in wanted]


def span(db: sqlite3.Connection, scope: Scope, scope_id: int) -> tuple[float, float] | None:
    """The times of the first and last counted calls in scope (its files found by their
    rollup when it has a span)."""
    inside, roots = in_roots(scope.roots)
    clauses, params = _counted_filters(scope)
    slots, bounds = span_filter(scope, "slot", per=QUARTER_HOUR)
    if bounds:
        clauses += f" AND c.file_id IN (SELECT file_id FROM rollup WHERE 1 {slots})"
        params += bounds
    first, last = db.execute(
        f"SELECT min(c.ts), max(c.ts) FROM files f JOIN copies c ON c.file_id = f.id"
        f" WHERE {inside} AND c.id NOT IN ({_LOSERS}) {clauses}",
        [*roots, scope_id, *params],
    ).fetchone()
    return None if first is None else (first, last)


def _union(
    db: sqlite3.Connection, scope: Scope, scope_id: int, session: str | None = None
) -> tuple[str, list[Any]]:
    """The rows a scope's sums are made of, and their parameters: its files' rollup and its
    copies that do not count, negated; each part filtered itself (so that a span reads its
    own quarter hours by the slot index, not the whole history, and one `session` its own
    rows by the session index). A view of the calls a filter matches reads their own sums
    instead (`_matched_tables`), which hold no copy that does not count.

    Columns: source, session, project, model, slot, missing (its file's flag), SUM_NAMES,
    first, last (the loser copies add no times: see `loser_times`), machine (its file's)."""
    inside, roots = in_roots(scope.roots)
    kept, kept_params = _kept_filters(scope, "r", "r.slot")
    lost, lost_params = _kept_filters(scope, "c", SLOT)
    losing, losing_params = f"c.id IN ({_LOSERS})", [scope_id]
    if session is not None:
        kept, lost = f"{kept} AND r.session = ?", f"{lost} AND c.session = ?"
        kept_params, lost_params = [*kept_params, session], [*lost_params, session]
    slots, bounds = span_filter(scope, "slot", per=QUARTER_HOUR)
    if session is not None or bounds:
        # its losing copies lie in the files of its rollup rows: found by the session or
        # slot index, not by looking up every losing copy of the scope (17,000 in a year)
        rows = f"session = ? {slots}" if session is not None else f"1 {slots}"
        losing = (
            f"c.file_id IN (SELECT file_id FROM rollup WHERE {rows})"
            " AND EXISTS (SELECT 1 FROM losers l WHERE l.scope = ? AND l.copy = c.id)"
        )
        losing_params = [*([session] if session is not None else []), *bounds, scope_id]
    matched = _matches(scope)
    table = _matched_tables(db, scope, scope_id)[0] if matched else "rollup"
    sums = (
        "SELECT r.source, r.session, r.project, r.model, r.slot, f.missing,"
        f" {', '.join(f'r.{name}' for name in SUM_NAMES)}, r.first, r.last, f.machine"
        f" FROM {_by_time(scope, f'{table} r', 'r')} WHERE {inside} {kept}"
    )
    if matched:
        return sums, [*roots, *kept_params]
    return (
        f"{sums} UNION ALL"
        f" SELECT c.source, c.session, c.project, c.model, {SLOT}, f.missing,"
        f" {', '.join(f'-({term})' for term in SUMMED)}, NULL, NULL, f.machine"
        f" FROM copies c JOIN files f ON f.id = c.file_id WHERE {losing} {lost}",
        [*roots, *kept_params, *losing_params, *lost_params],
    )


def _activity_union(db: sqlite3.Connection, scope: Scope, scope_id: int) -> tuple[str, list[Any]]:
    """As `_union`, of the activity sums: source, session, slot, bucket, tokens, cost,
    project, model, machine."""
    inside, roots = in_roots(scope.roots)
    kept, kept_params = _kept_filters(scope, "a", "a.slot")
    columns = (
        "a.source, a.session, a.slot, a.bucket, a.tokens, a.cost, a.project, a.model, f.machine"
    )
    if _matches(scope):
        table = _matched_tables(db, scope, scope_id)[1]
        return (
            f"SELECT {columns} FROM {_by_time(scope, f'{table} a', 'a')} WHERE {inside} {kept}",
            [*roots, *kept_params],
        )
    lost, lost_params = _kept_filters(scope, "c", SLOT)
    return (
        f"SELECT {columns} FROM {_by_time(scope, 'activity a', 'a')} WHERE {inside} {kept}"
        " UNION ALL"
        f" SELECT c.source, c.session, {SLOT}, c.bucket, -({TOTAL}), -c.cost, c.project, c.model,"
        f" {_MACHINE} FROM copies c WHERE c.bucket != '' AND c.id IN ({_LOSERS}) {lost}",
        [*roots, *kept_params, scope_id, *lost_params],
    )


_MACHINE = "(SELECT machine FROM files WHERE id = c.file_id)"
"""A copy `c`'s machine, looked up only where a query asks for it."""


def _matches(scope: Scope) -> bool:
    """Whether the scope counts the calls a filter matches (`CallFilter.any_of`, `tool`):
    summed from the copies. A view of one group alone (`equal`) reads the index's sums."""
    return scope.only is not None and bool(scope.only.any_of or scope.only.tool)


def _kept_filters(scope: Scope, alias: str, slot: str) -> tuple[str, list[Any]]:
    """The scope as SQL over summed rows or copies (`alias`: the table's; `slot`: its quarter
    hour), the group a view narrows to included (`CallFilter.equal`)."""
    clauses, params = filters(scope, f"{alias}.source", slot, per=QUARTER_HOUR)
    for column, value in scope.only.equal if scope.only is not None else ():
        clauses += f" AND {column_test(f'{alias}.', column, '= ?')}"
        params.append(value)
    return clauses, params


MATCHED_KEPT = 8
"""The filters whose sums a reader keeps (the ones last typed)."""


def _matched_tables(db: sqlite3.Connection, scope: Scope, scope_id: int) -> tuple[str, str]:
    """Temporary rollup and activity tables of the counted copies a filter matches, before
    narrowing to a group (whose column these tables have): summed from the copies once per
    filter and change of the index, then read like the index's own tables by every query of
    the view and of its groups (a year is scanned once)."""
    assert scope.only is not None
    where, params = replace(scope.only, equal=()).sql()
    generation = changes.generation(db)
    stamp = orjson.dumps([scope_id, where, params])
    name = f"matched_{generation}_{hashlib.blake2b(stamp, digest_size=8).hexdigest()}"
    tables = (f"temp.{name}_rollup", f"temp.{name}_activity")
    found = [
        table
        for (table,) in db.execute(
            "SELECT name FROM temp.sqlite_master WHERE type = 'table' AND name LIKE 'matched_%'"
            " ORDER BY rowid"
        )
    ]
    if f"{name}_rollup" in found:
        return tables
    current = [table for table in found if table.startswith(f"matched_{generation}_")]
    stale = [table for table in found if table not in current]
    for table in stale + current[: max(0, len(current) - 2 * (MATCHED_KEPT - 1))]:
        db.execute(f"DROP TABLE temp.{table}")
    counted = f"id NOT IN ({_LOSERS}) {where}"
    for table, columns in zip(tables, (ROLLUP_COLUMNS, ACTIVITY_COLUMNS), strict=True):
        db.execute(f"CREATE TABLE {table} ({', '.join(column for column, _ in columns)})")
    db.execute(f"INSERT INTO {tables[0]} {rollup_of('copies', counted)}", [scope_id, *params])
    insert_activity(db, tables[1], "copies", counted, [scope_id, *params])
    return tables


def _by_time(scope: Scope, table: str, alias: str) -> str:
    """`table` joined to its files: through its slot index first when the scope has a span
    (a few days of a long history), else file by file."""
    if scope.since is not None or scope.until is not None:
        return f"{table} CROSS JOIN files f ON f.id = {alias}.file_id"
    return f"files f JOIN {table} ON {alias}.file_id = f.id"


def grouped(
    db: sqlite3.Connection,
    scope: Scope,
    scope_id: int,
    keys: Sequence[str],
    sums: Sequence[str],
    session: str | None = None,
) -> list[tuple[Any, ...]]:
    """One row per group of `keys` that has calls in scope (of one `session` id, if given):
    the keys, then `sums` (SQL aggregates over the columns of `_union`)."""
    union, params = _union(db, scope, scope_id, session)
    by = ", ".join(str(position + 1) for position in range(len(keys)))
    return db.execute(
        f"SELECT {', '.join([*keys, *sums])} FROM ({union}) GROUP BY {by} HAVING sum(calls) > 0",
        params,
    ).fetchall()


def activity(
    db: sqlite3.Connection, scope: Scope, scope_id: int, keys: Sequence[str]
) -> dict[tuple[Any, ...], list[Any]]:
    """(keys…, bucket code) → [tokens, cost] of the calls in scope, per group of `keys` (SQL
    over source, session, slot); buckets that net to nothing are left out."""
    union, params = _activity_union(db, scope, scope_id)
    width = len(keys)
    by = ", ".join(str(position + 1) for position in range(width + 1))
    found: dict[tuple[Any, ...], list[Any]] = {}
    for *group, bucket, tokens, cost in db.execute(
        f"SELECT {', '.join(keys)}, bucket, sum(tokens), sum(cost) FROM ({union}) GROUP BY {by}",
        params,
    ):
        found[(*group, bucket)] = [tokens, cost]
    if not _matches(scope):  # a filter's own sums hold counted copies alone
        clauses, filter_params = _kept_filters(scope, "c", SLOT)
        split_losers = db.execute(
            f"SELECT {', '.join(keys)}, tools, tokens, cost FROM ("
            f" SELECT c.source, c.session, c.project, c.model, {SLOT} AS slot, c.tools,"
            f" {TOTAL} AS tokens, c.cost, {_MACHINE} AS machine FROM copies c"
            f" WHERE c.bucket = '' AND c.id IN ({_LOSERS}) {clauses})",
            [scope_id, *filter_params],
        )
        losers = split_sums(((tuple(row[:width]), *row[width:]) for row in split_losers), sign=-1)
        for key, (tokens, cost) in losers.items():
            part = found.setdefault(key, [0, 0.0])
            part[0] += tokens
            part[1] += cost
    return {key: sums for key, sums in found.items() if sums[0] or abs(sums[1]) > 1e-12}


def loser_times(
    db: sqlite3.Connection, scope: Scope, scope_id: int, keys: Sequence[str]
) -> list[tuple[Any, ...]]:
    """(keys…, ts) of the copies that do not count in scope: a group whose first or last
    time is one of them may have it from a copy that does not count (see `_union`); none
    for a filter's calls, whose times are of counted copies. Keys: source, session, project,
    model, slot, machine."""
    if _matches(scope):
        return []
    clauses, params = _kept_filters(scope, "c", SLOT)
    return db.execute(
        f"SELECT {', '.join(keys)}, ts FROM (SELECT c.source, c.session, c.project, c.model,"
        f" {SLOT} AS slot, c.ts, {_MACHINE} AS machine FROM copies c"
        f" WHERE c.id IN ({_LOSERS}) {clauses})",
        [scope_id, *params],
    ).fetchall()
