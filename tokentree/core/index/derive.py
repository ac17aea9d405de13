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
from tokentree.core.records import QUARTER_HOUR

MAX_SCOPES = 8
"""Scopes whose tables are kept; the least recently used beyond this are dropped."""
FULL_SHARE = 0.3
"""Touching more than this share of all copies derives everything at once (a first index)."""


def in_roots(roots: Sequence[str]) -> tuple[str, list[str]]:
    """SQL that a file `f` lies in one of the folders (or is one of the files) `roots` names."""
    clauses = []
    params: list[str] = []
    for root in roots:
        prefix = root if root.endswith("/") else root + "/"
        clauses.append("(f.path = ? OR (f.path >= ? AND f.path < ?))")
        params += [root, prefix, prefix[:-1] + "0"]  # "0" follows "/": every path below it
    return f"({' OR '.join(clauses) or '0'})", params


class Touched:
    """Notes the calls and files a change touched, to be derived again (`derive`).

    The notes are stored with the change, in its transaction: whichever run
    derives next (this one, or another instance) derives them, so a run that
    stops in between leaves nothing wrong behind."""

    def __init__(self, db: sqlite3.Connection, *, everything: bool = False) -> None:
        self.db = db
        self.everything = everything
        if everything:  # a first build: all is derived once, at its end
            db.execute("INSERT OR REPLACE INTO meta VALUES ('derive', 'all')")

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
        if self.everything:
            return
        self.db.execute(f"INSERT OR IGNORE INTO touched_keys SELECT key FROM {schema}.staged")
        self.db.execute(
            f"INSERT OR IGNORE INTO touched_files SELECT DISTINCT file_id FROM {schema}.staged"
        )


def pending(db: sqlite3.Connection) -> bool:
    """Whether a change is noted that is not derived yet."""
    return db.execute(
        "SELECT EXISTS(SELECT 1 FROM touched_keys) OR EXISTS(SELECT 1 FROM touched_files)"
        " OR EXISTS(SELECT 1 FROM meta WHERE key = 'derive')"
    ).fetchone()[0]


def derive(db: sqlite3.Connection) -> None:
    """Re-derive the touched calls' winners and rollup rows in every scope, then forget them."""
    touched = db.execute("SELECT count(*) FROM touched_keys").fetchone()[0]
    touched_files = db.execute("SELECT count(*) FROM touched_files").fetchone()[0]
    everything = db.execute("DELETE FROM meta WHERE key = 'derive'").rowcount > 0
    if touched or touched_files or everything:
        total = db.execute("SELECT max(id) FROM copies").fetchone()[0] or 0
        full = everything or touched > FULL_SHARE * total
        if full:
            rebuild(db)
        else:
            _expand(db)
            for (scope,) in db.execute("SELECT id FROM scopes").fetchall():
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
    known = known_scope(db, roots)
    if known is not None:
        db.execute("UPDATE scopes SET used = ? WHERE id = ?", (time.time(), known))
        return known
    scope = db.execute(
        "INSERT INTO scopes(roots, used) VALUES (?, ?)", (_scope_name(roots), time.time())
    ).lastrowid
    assert scope is not None
    for (old,) in db.execute(
        "SELECT id FROM scopes ORDER BY used DESC LIMIT -1 OFFSET ?", (MAX_SCOPES,)
    ).fetchall():
        _drop_scope(db, old)
    derive_scope(db, scope)
    return scope


def known_scope(db: sqlite3.Connection, roots: Sequence[str]) -> int | None:
    row = db.execute("SELECT id FROM scopes WHERE roots = ?", (_scope_name(roots),)).fetchone()
    return None if row is None else row[0]


def _scope_name(roots: Sequence[str]) -> str:
    """A scope is its set of folders, in whatever order they were named."""
    return orjson.dumps(sorted(set(roots))).decode()


def _drop_scope(db: sqlite3.Connection, scope: int) -> None:
    for table in ("winners", "rollup"):
        db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
    db.execute("DELETE FROM scopes WHERE id = ?", (scope,))


def _roots(db: sqlite3.Connection, scope: int) -> list[str]:
    return orjson.loads(db.execute("SELECT roots FROM scopes WHERE id = ?", (scope,)).fetchone()[0])


def _add_winners(db: sqlite3.Connection, scope: int, keys: str, target: str = "winners") -> None:
    """Add to `target` the winning copy of each call in `keys` (an SQL condition on `key`)
    among the scope's copies: the best copy of each call, then the family rule.

    Most calls have one copy and are the only call of their family: those are taken
    straight from the key index, and only the rest are sorted."""
    inside, params = in_roots(_roots(db, scope))
    for table in (
        "scope_files(file_id INTEGER PRIMARY KEY)",
        "shared(key TEXT PRIMARY KEY)",
        "best(key TEXT PRIMARY KEY, id INTEGER NOT NULL, family TEXT NOT NULL,"
        " subagent INTEGER NOT NULL) WITHOUT ROWID",
        "crowded(family TEXT PRIMARY KEY, on_main INTEGER NOT NULL) WITHOUT ROWID",
    ):
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}")
    for table in ("scope_files", "shared", "best", "crowded"):
        db.execute(f"DELETE FROM {table}")
    db.execute(f"INSERT INTO scope_files SELECT f.id FROM files f WHERE {inside}", params)
    in_scope = f"{keys} AND file_id IN scope_files"
    db.execute(
        f"INSERT INTO best SELECT key, id, family, subagent FROM copies WHERE {in_scope}"
        " GROUP BY key HAVING count(*) = 1"
    )
    db.execute(
        f"INSERT INTO shared SELECT key FROM copies WHERE {in_scope}"
        " GROUP BY key HAVING count(*) > 1"
    )
    db.execute(
        "INSERT INTO best SELECT key, id, family, subagent FROM ("
        " SELECT c.key, c.id, c.family, c.subagent,"
        "  row_number() OVER (PARTITION BY c.key ORDER BY c.rank DESC, f.path) AS n"
        " FROM shared s JOIN copies c ON c.key = s.key JOIN files f ON f.id = c.file_id"
        " WHERE c.file_id IN scope_files"
        ") WHERE n = 1"
    )
    db.execute(  # families of several calls: a `/btw` replay beside what it replays
        "INSERT INTO crowded SELECT family, max(subagent = 0) FROM best WHERE family != ''"
        " GROUP BY family HAVING count(*) > 1"
    )
    db.execute(  # the main thread's calls, and sub-agents' that replay nothing
        f"INSERT INTO {target} SELECT {scope}, id FROM best WHERE family = '' OR subagent = 0"
        " OR family NOT IN (SELECT family FROM crowded)"
    )
    db.execute(  # of replays whose family has no main-thread call, the best one
        f"INSERT INTO {target} SELECT {scope}, id FROM ("
        " SELECT b.id, row_number() OVER (PARTITION BY b.family"
        "  ORDER BY c.rank DESC, f.path, b.key) AS n"
        " FROM best b JOIN copies c ON c.id = b.id JOIN files f ON f.id = c.file_id"
        " WHERE b.family IN (SELECT family FROM crowded WHERE on_main = 0)"
        ") WHERE n = 1"
    )


_ROLLUP = (
    "SELECT {scope}, c.file_id, c.source, c.session, c.project, c.model,"
    f" CAST(c.ts / {QUARTER_HOUR} AS INTEGER) AS slot, count(*), sum(c.input),"
    " sum(c.cache_write_5m + c.cache_write_1h), sum(c.cache_read), sum(c.output),"
    " sum(c.reasoning), sum(c.cost), sum(c.unpriced)"
    " FROM {winners} w JOIN copies c ON c.id = w.copy WHERE w.scope = {scope} {files}"
    " GROUP BY c.file_id, c.source, c.session, c.project, c.model, slot"
)


def derive_scope(db: sqlite3.Connection, scope: int) -> None:
    """A scope's winners and rollup, all of them, from the copies."""
    for table in ("winners", "rollup"):
        db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
    _add_winners(db, scope, "1")
    db.execute("INSERT INTO rollup " + _ROLLUP.format(winners="winners", scope=scope, files=""))


def _derive_touched(db: sqlite3.Connection, scope: int) -> None:
    db.execute(
        "DELETE FROM winners WHERE scope = ? AND copy IN (SELECT id FROM copies"
        " WHERE key IN (SELECT key FROM touched_keys))",
        (scope,),
    )
    _add_winners(db, scope, "key IN (SELECT key FROM touched_keys)")
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
    db.execute("CREATE TEMP TABLE IF NOT EXISTS fresh_winners(scope, copy)")
    for scope, name in db.execute("SELECT id, roots FROM scopes").fetchall():
        db.execute("DELETE FROM fresh_winners")
        _add_winners(db, scope, "1", "fresh_winners")
        differ = db.execute(
            "SELECT count(*) FROM (SELECT * FROM fresh_winners EXCEPT"
            " SELECT scope, copy FROM winners WHERE scope = ?)",
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
