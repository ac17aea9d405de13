"""Which copy of each call counts, and every sum: derived from the stored copies in SQL.

Nothing here is kept by hand across runs. Each file's rollup (its sums over
the copies it holds) is summed again whenever its copies change, in the same
transaction. Which copies do not count is kept per scope as `losers`: a change
notes the calls it touched (`Touched`), and `derive` decides exactly those
again from the copies, for every scope in use. A scope's sums are its files'
rollup less its losers. Deriving twice gives the same tables; `check` derives
afresh and compares, `rebuild` derives all.

Most calls have a single copy and no replay: they never enter a derived table
but their file's rollup, so a first index derives little beyond the sums the
readers already staged.

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

import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from tokentree.core.activity_sums import activity_of, insert_activity
from tokentree.core.index.store import chunks, marks
from tokentree.core.rows import rollup_of

LOOKED_UP_BY = ("copies_key",)
"""The indexes deriving finds copies along: a first build keeps them when a view derives
after each of its batches (without them each derivation sorts every copy read so far:
5.7 s of a 1 GB first start), and builds every other one at its end."""
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
    """Notes the calls a change touched, to be decided again (`derive`).

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
        if file_ids:
            self.db.execute(
                "INSERT OR IGNORE INTO touched_keys SELECT key FROM copies"
                f" WHERE file_id IN ({marks(file_ids)})",
                file_ids,
            )

    def staged(self, schema: str) -> None:
        """Every call of a staged batch about to be copied in."""
        if not self.everything:
            self.db.execute(f"INSERT OR IGNORE INTO touched_keys SELECT key FROM {schema}.staged")


def pending(db: sqlite3.Connection) -> bool:
    """Whether a change is noted that is not derived yet."""
    return db.execute(
        "SELECT EXISTS(SELECT 1 FROM touched_keys)"
        " OR EXISTS(SELECT 1 FROM meta WHERE key = 'derive')"
    ).fetchone()[0]


def derive(db: sqlite3.Connection) -> float | None:
    """Decide the touched calls again in every scope, then forget the notes. Returns the
    time of the earliest call decided again (-inf when all were), None when none was: a
    view need not look at anything before it."""
    touched = db.execute("SELECT count(*) FROM touched_keys").fetchone()[0]
    everything = db.execute("DELETE FROM meta WHERE key = 'derive'").rowcount > 0
    scopes = [scope for (scope,) in db.execute("SELECT id FROM scopes").fetchall()]
    first: float | None = None
    if everything or touched > FULL_SHARE * _copies_up_to(db, int(touched / FULL_SHARE) + 1):
        for scope in scopes:
            derive_scope(db, scope)
        first = -math.inf
    elif touched:
        _expand(db)
        for scope in scopes:
            _derive_touched(db, scope)
        first = db.execute(
            "SELECT min(ts) FROM copies WHERE key IN (SELECT key FROM touched_keys)"
        ).fetchone()[0]
    db.execute("DELETE FROM touched_keys")
    return first


def _copies_up_to(db: sqlite3.Connection, most: int) -> int:
    """How many copies are stored, counted up to `most` (a small change counts few)."""
    return db.execute("SELECT count(*) FROM (SELECT 1 FROM copies LIMIT ?)", (most,)).fetchone()[0]


def _expand(db: sqlite3.Connection) -> None:
    """Every call of a touched family is decided again."""
    db.execute(
        "INSERT OR IGNORE INTO touched_keys SELECT c.key FROM (SELECT DISTINCT family"
        " FROM copies WHERE key IN (SELECT key FROM touched_keys) AND family != '') t"
        f" CROSS JOIN copies c ON {_in_family('c', 't.family')}"
    )


def _in_family(copy: str, family: str) -> str:
    """SQL: the copy `copy` is of `family` (an SQL expression, not ''), found along the key
    index: a copy's key begins with its family's text up to the first ':' (rows.COLUMNS), so
    no index of families is built (a tenth of a first build's main-process CPU).

    The range is marked narrow (`likelihood`), or the planner would rather build an index of
    families for the query (0.4 s at 100k copies, against 0.02 s); while a first build has
    no key index yet (a view derives after each batch) it still does, as it must."""
    root = f"substr({family}, 1, instr({family} || ':', ':') - 1)"
    return (
        f"likelihood({copy}.key >= {root}, 0.001)"
        f" AND likelihood({copy}.key < {root} || ';', 0.001) AND {copy}.family = {family}"
    )


def sum_files(db: sqlite3.Connection, file_ids: Sequence[int]) -> None:
    """Sum these files' copies into their rollup and activity rows again (their copies
    changed)."""
    for chunk in chunks(file_ids):
        marked = marks(chunk)
        db.execute(f"DELETE FROM rollup WHERE file_id IN ({marked})", chunk)
        db.execute("INSERT INTO rollup " + rollup_of("copies", f"file_id IN ({marked})"), chunk)
        db.execute(f"DELETE FROM activity WHERE file_id IN ({marked})", chunk)
        insert_activity(db, "activity", "copies", f"file_id IN ({marked})", chunk)


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
        db.execute("DELETE FROM losers WHERE scope = ?", (old,))
        db.execute("DELETE FROM scopes WHERE id = ?", (old,))
    derive_scope(db, scope)
    return scope


def known_scope(db: sqlite3.Connection, roots: Sequence[str]) -> int | None:
    row = db.execute("SELECT id FROM scopes WHERE roots = ?", (_scope_name(roots),)).fetchone()
    return None if row is None else row[0]


def _scope_name(roots: Sequence[str]) -> str:
    """A scope is its set of folders, in whatever order they were named."""
    return orjson.dumps(sorted(set(roots))).decode()


def _roots(db: sqlite3.Connection, scope: int) -> list[str]:
    return orjson.loads(db.execute("SELECT roots FROM scopes WHERE id = ?", (scope,)).fetchone()[0])


_TEMP_TABLES = (
    "scope_files(file_id INTEGER PRIMARY KEY)",
    "shared(key TEXT PRIMARY KEY) WITHOUT ROWID",
    "crowded(family TEXT PRIMARY KEY, on_main INTEGER NOT NULL) WITHOUT ROWID",
    "best(key TEXT PRIMARY KEY, id INTEGER NOT NULL, family TEXT NOT NULL,"
    " subagent INTEGER NOT NULL, rank INTEGER NOT NULL, path TEXT NOT NULL) WITHOUT ROWID",
)
_BEST_FIRST = "row_number() OVER (PARTITION BY c.key ORDER BY c.rank DESC, f.path)"
"""A call's copies from the one that counts: the highest rank, then the smaller path."""


def _add_losers(db: sqlite3.Connection, scope: int, keys: str, target: str = "losers") -> None:
    """Add to `target` the copies that do not count in the scope, of each call in `keys`
    (an SQL condition on `key`): a call's copies but its best, then the family rule.

    Only calls with several copies in the scope, and families of several calls,
    are looked at; every other copy counts."""
    inside, params = in_roots(_roots(db, scope))
    for table in _TEMP_TABLES:
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}")
        db.execute(f"DELETE FROM {table.split('(')[0]}")
    in_files = db.execute(
        f"INSERT INTO scope_files SELECT f.id FROM files f WHERE {inside}", params
    ).rowcount
    every_file = in_files == db.execute("SELECT count(*) FROM files").fetchone()[0]
    # `+file_id`, CROSS JOIN: the few calls found along the key (or family) index first, not
    # every copy file by file
    in_scope = f"{keys}" if every_file else f"{keys} AND +file_id IN scope_files"
    db.execute(
        f"INSERT INTO shared SELECT key FROM copies WHERE {in_scope}"
        " GROUP BY key HAVING count(*) > 1"
    )
    db.execute(
        f"INSERT INTO {target} SELECT {scope}, id FROM ("
        f" SELECT c.id, {_BEST_FIRST} AS n FROM shared s CROSS JOIN copies c ON c.key = s.key"
        " JOIN files f ON f.id = c.file_id WHERE +c.file_id IN scope_files"
        ") WHERE n > 1"
    )
    db.execute(  # a response a sub-agent replayed under another request: Claude's `/btw`
        "INSERT INTO crowded SELECT c.family, 0 FROM (SELECT DISTINCT family FROM copies"
        f" WHERE {in_scope} AND subagent = 1 AND family != '') r"
        f" CROSS JOIN copies c ON {_in_family('c', 'r.family')}"
        " WHERE +c.file_id IN scope_files GROUP BY c.family HAVING min(c.key) != max(c.key)"
    )
    db.execute(
        "INSERT INTO best SELECT key, id, family, subagent, rank, path FROM ("
        f" SELECT c.key, c.id, c.family, c.subagent, c.rank, f.path, {_BEST_FIRST} AS n"
        f" FROM crowded r CROSS JOIN copies c ON {_in_family('c', 'r.family')}"
        " JOIN files f ON f.id = c.file_id WHERE +c.file_id IN scope_files"
        ") WHERE n = 1"
    )
    db.execute(
        "UPDATE crowded SET on_main = 1"
        " WHERE family IN (SELECT family FROM best WHERE subagent = 0)"
    )
    db.execute(  # a sub-agent's replay of what the main thread counts
        f"INSERT INTO {target} SELECT {scope}, id FROM best WHERE subagent = 1"
        " AND family IN (SELECT family FROM crowded WHERE on_main = 1)"
    )
    db.execute(  # of replays with no main-thread call, all but the best one
        f"INSERT INTO {target} SELECT {scope}, id FROM ("
        " SELECT id, row_number() OVER (PARTITION BY family ORDER BY rank DESC, path, key) AS n"
        " FROM best WHERE family IN (SELECT family FROM crowded WHERE on_main = 0)"
        ") WHERE n > 1"
    )


def derive_scope(db: sqlite3.Connection, scope: int) -> None:
    """A scope's losers, all of them, from the copies."""
    db.execute("DELETE FROM losers WHERE scope = ?", (scope,))
    _add_losers(db, scope, "1")


def _derive_touched(db: sqlite3.Connection, scope: int) -> None:
    db.execute(
        "DELETE FROM losers WHERE scope = ? AND copy IN (SELECT id FROM copies"
        " WHERE key IN (SELECT key FROM touched_keys))",
        (scope,),
    )
    _add_losers(db, scope, "key IN (SELECT key FROM touched_keys)")


def check(db: sqlite3.Connection) -> list[str]:
    """How the stored rollup and losers differ from a fresh derivation (nothing: consistent)."""
    problems: list[str] = []
    for table, wanted in (
        ("rollup", _rounded(db.execute(rollup_of("copies")))),
        ("activity", _rounded(activity_of(db, "copies"))),
    ):
        have = _rounded(db.execute(f"SELECT * FROM {table}"))
        if wanted != have:
            problems.append(
                f"{len(have - wanted):,} {table} rows are wrong, {len(wanted - have):,} missing"
            )
    db.execute("CREATE TEMP TABLE IF NOT EXISTS fresh_losers(scope, copy)")
    for scope, name in db.execute("SELECT id, roots FROM scopes").fetchall():
        db.execute("DELETE FROM fresh_losers")
        _add_losers(db, scope, "1", "fresh_losers")
        fresh = {copy for _, copy in db.execute("SELECT * FROM fresh_losers")}
        stored = {
            copy for (copy,) in db.execute("SELECT copy FROM losers WHERE scope = ?", (scope,))
        }
        if fresh != stored:
            problems.append(
                f"scope {name}: {len(stored - fresh):,} copies wrongly left out,"
                f" {len(fresh - stored):,} wrongly counted"
            )
    db.execute("DROP TABLE fresh_losers")
    return problems


def rebuild(db: sqlite3.Connection) -> None:
    """Drop every derived row and derive them again from the copies."""
    db.execute("DELETE FROM rollup")
    db.execute("INSERT INTO rollup " + rollup_of("copies"))
    db.execute("DELETE FROM activity")
    insert_activity(db, "activity", "copies")
    for (scope,) in db.execute("SELECT id FROM scopes").fetchall():
        derive_scope(db, scope)


def _rounded(rows: Iterable[Sequence[Any]]) -> set[tuple[Any, ...]]:
    """Rows with their cost rounded: sums of floats in another order differ in the last bit."""
    return {
        tuple(round(value, 9) if type(value) is float else value for value in row) for row in rows
    }
