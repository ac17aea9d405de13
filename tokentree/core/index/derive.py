"""Which copy of each call counts, and every sum: derived from the stored copies in SQL.

Nothing here is kept by hand across runs: a change notes the calls and files
it touched (`Touched`), and `derive` recomputes exactly their winners and
rollup rows from the copies, for every scope in use. Deriving twice gives the
same tables; `check` derives afresh and compares, `rebuild` derives all.

A scope is the set of folders a view was started on. It picks its own
winners among the copies inside it: a call copied into two folders counts in
each alone, and once in both together.

The winner among a call's copies is the highest rank (source-defined: own
file over embedded copy, main thread over sidechain, then the larger total),
then the smaller path, so the result does not depend on reading order. A call
whose best copy is a sub-agent's replays a response (its family) that another
request counts on the main thread (Claude's `/btw`): it does not count; of
replays with no such call, one counts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from tokentree.core.index.store import marks

MAX_SCOPES = 8
"""Scopes whose tables are kept; the least recently used beyond this are dropped."""
SLOT_SECONDS = 900
FULL_SHARE = 0.3
"""Touching more than this share of all copies derives everything at once (a first index)."""

_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS touched_keys(key TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS touched_files(file_id INTEGER PRIMARY KEY)",
)


def in_roots(roots: Sequence[str], column: str = "f.path") -> tuple[str, list[str]]:
    """SQL that a path lies in one of the folders (or is one of the files) `roots` names."""
    clauses = []
    params: list[str] = []
    for root in roots:
        prefix = root if root.endswith("/") else root + "/"
        clauses.append(f"({column} = ? OR ({column} >= ? AND {column} < ?))")
        params += [root, prefix, prefix[:-1] + "0"]  # "0" follows "/": every path below it
    return f"({' OR '.join(clauses) or '0'})", params


class Touched:
    """The calls and files a change touched, in temp tables of the writing connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        for statement in _TEMP:
            db.execute(statement)

    def files(self, file_ids: Sequence[int]) -> None:
        """Every call of these files (before their copies are dropped or changed)."""
        if not file_ids:
            return
        self.db.execute(
            "INSERT OR IGNORE INTO touched_keys SELECT key FROM copies"
            f" WHERE file_id IN ({marks(file_ids)})",
            file_ids,
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO touched_files VALUES (?)", [(id,) for id in file_ids]
        )

    def staged(self, schema: str) -> None:
        """Every call and file of a staged batch about to be copied in."""
        self.db.execute(f"INSERT OR IGNORE INTO touched_keys SELECT key FROM {schema}.staged")
        self.db.execute(
            f"INSERT OR IGNORE INTO touched_files SELECT DISTINCT file_id FROM {schema}.staged"
        )


def derive(db: sqlite3.Connection) -> None:
    """Re-derive the touched calls' winners and rollup rows in every scope, then forget them."""
    touched = db.execute("SELECT count(*) FROM touched_keys").fetchone()[0]
    touched_files = db.execute("SELECT count(*) FROM touched_files").fetchone()[0]
    if touched or touched_files:
        total = db.execute("SELECT max(id) FROM copies").fetchone()[0] or 0
        full = touched > FULL_SHARE * total
        if not full:
            _expand(db)
        for (scope,) in db.execute("SELECT id FROM scopes").fetchall():
            if full:
                derive_scope(db, scope)
            else:
                _derive_touched(db, scope)
    db.execute("DELETE FROM touched_keys")
    db.execute("DELETE FROM touched_files")


def _expand(db: sqlite3.Connection) -> None:
    """Every call of a touched family is decided again, and every file holding a copy of a
    touched call has its rollup rows summed again."""
    db.execute(
        "INSERT OR IGNORE INTO touched_keys SELECT c.key FROM copies c WHERE c.family IN"
        " (SELECT family FROM copies WHERE key IN (SELECT key FROM touched_keys)"
        " AND family != '') AND c.family != ''"
    )
    db.execute(
        "INSERT OR IGNORE INTO touched_files SELECT DISTINCT file_id FROM copies"
        " WHERE key IN (SELECT key FROM touched_keys)"
    )


def scope_id(db: sqlite3.Connection, roots: Sequence[str]) -> int:
    """The scope of these folders, registered and derived in full the first time it is used.

    Call inside a write transaction."""
    name = orjson.dumps(sorted(set(roots))).decode()
    row = db.execute("SELECT id FROM scopes WHERE roots = ?", (name,)).fetchone()
    if row is not None:
        db.execute("UPDATE scopes SET used = ? WHERE id = ?", (time.time(), row[0]))
        return row[0]
    scope = db.execute(
        "INSERT INTO scopes(roots, used) VALUES (?, ?)", (name, time.time())
    ).lastrowid
    assert scope is not None
    for (old,) in db.execute(
        "SELECT id FROM scopes ORDER BY used DESC LIMIT -1 OFFSET ?", (MAX_SCOPES,)
    ).fetchall():
        _drop_scope(db, old)
    derive_scope(db, scope)
    return scope


def known_scope(db: sqlite3.Connection, roots: Sequence[str]) -> int | None:
    name = orjson.dumps(sorted(set(roots))).decode()
    row = db.execute("SELECT id FROM scopes WHERE roots = ?", (name,)).fetchone()
    return None if row is None else row[0]


def _drop_scope(db: sqlite3.Connection, scope: int) -> None:
    for table in ("winners", "rollup"):
        db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
    db.execute("DELETE FROM scopes WHERE id = ?", (scope,))


def _roots(db: sqlite3.Connection, scope: int) -> list[str]:
    return orjson.loads(db.execute("SELECT roots FROM scopes WHERE id = ?", (scope,)).fetchone()[0])


def _winners_sql(scope: int, roots: Sequence[str], keys: str) -> tuple[str, list[object]]:
    """The winning copy of each call in `keys` (an SQL condition on c.key) among the scope's
    copies: the best copy of each call, then the family rule."""
    inside, params = in_roots(roots)
    return (
        f"SELECT {scope}, key, id FROM ("
        " SELECT key, id, family, subagent,"
        "  max(subagent = 0) OVER (PARTITION BY family) AS family_on_main,"
        "  row_number() OVER (PARTITION BY family ORDER BY rank DESC, path, key) AS in_family"
        " FROM ("
        "  SELECT c.key, c.id, c.family, c.subagent, c.rank, f.path,"
        "   row_number() OVER (PARTITION BY c.key ORDER BY c.rank DESC, f.path) AS best"
        f"  FROM copies c JOIN files f ON f.id = c.file_id WHERE {keys} AND {inside}"
        " ) WHERE best = 1"
        ") WHERE family = '' OR subagent = 0 OR (family_on_main = 0 AND in_family = 1)",
        params,
    )


_ROLLUP = (
    "SELECT {scope}, c.file_id, c.source, c.session, c.project, c.model,"
    f" CAST(c.ts / {SLOT_SECONDS} AS INTEGER) AS slot, count(*), sum(c.input),"
    " sum(c.cache_write_5m + c.cache_write_1h), sum(c.cache_read), sum(c.output),"
    " sum(c.reasoning), sum(c.cost), sum(c.unpriced)"
    " FROM {winners} w JOIN copies c ON c.id = w.copy WHERE w.scope = {scope} {files}"
    " GROUP BY c.file_id, c.source, c.session, c.project, c.model, slot"
)


def derive_scope(db: sqlite3.Connection, scope: int) -> None:
    """A scope's winners and rollup, all of them, from the copies."""
    for table in ("winners", "rollup"):
        db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
    select, params = _winners_sql(scope, _roots(db, scope), "1")
    db.execute(f"INSERT INTO winners {select}", params)
    db.execute("INSERT INTO rollup " + _ROLLUP.format(winners="winners", scope=scope, files=""))


def _derive_touched(db: sqlite3.Connection, scope: int) -> None:
    db.execute(
        "DELETE FROM winners WHERE scope = ? AND key IN (SELECT key FROM touched_keys)", (scope,)
    )
    select, params = _winners_sql(
        scope, _roots(db, scope), "c.key IN (SELECT key FROM touched_keys)"
    )
    db.execute(f"INSERT INTO winners {select}", params)
    db.execute(
        "DELETE FROM rollup WHERE scope = ? AND file_id IN (SELECT file_id FROM touched_files)",
        (scope,),
    )
    in_files = "AND c.file_id IN (SELECT file_id FROM touched_files)"
    db.execute(
        "INSERT INTO rollup " + _ROLLUP.format(winners="winners", scope=scope, files=in_files)
    )


def check(db: sqlite3.Connection) -> list[str]:
    """How the stored winners and rollup differ from a fresh derivation (nothing: consistent)."""
    problems: list[str] = []
    db.execute("CREATE TEMP TABLE IF NOT EXISTS fresh_winners(scope, key, copy)")
    for scope, name in db.execute("SELECT id, roots FROM scopes").fetchall():
        db.execute("DELETE FROM fresh_winners")
        select, params = _winners_sql(scope, orjson.loads(name), "1")
        db.execute(f"INSERT INTO fresh_winners {select}", params)
        differ = db.execute(
            "SELECT count(*) FROM (SELECT * FROM fresh_winners EXCEPT"
            " SELECT scope, key, copy FROM winners WHERE scope = ?)",
            (scope,),
        ).fetchone()[0]
        stored = db.execute("SELECT count(*) FROM winners WHERE scope = ?", (scope,)).fetchone()[0]
        fresh = db.execute("SELECT count(*) FROM fresh_winners").fetchone()[0]
        if differ or stored != fresh:
            problems.append(f"scope {name}: winners differ ({stored:,} stored, {fresh:,} derived)")
        wanted = _rounded(
            db.execute(_ROLLUP.format(winners="fresh_winners", scope=scope, files=""))
        )
        have = _rounded(db.execute("SELECT * FROM rollup WHERE scope = ?", (scope,)))
        if wanted != have:
            problems.append(
                f"scope {name}: {len(have - wanted):,} rollup rows are wrong,"
                f" {len(wanted - have):,} missing"
            )
    db.execute("DROP TABLE fresh_winners")
    return problems


def rebuild(db: sqlite3.Connection) -> None:
    """Drop every derived row and derive them again from the copies."""
    for (scope,) in db.execute("SELECT id FROM scopes").fetchall():
        derive_scope(db, scope)


def _rounded(rows: Iterable[Sequence[Any]]) -> set[tuple[Any, ...]]:
    """Rows with their cost rounded: sums of floats in another order differ in the last bit."""
    return {
        tuple(round(value, 9) if type(value) is float else value for value in row) for row in rows
    }
