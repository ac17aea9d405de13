"""The index's SQLite file: its schema, and opening it so that the cache is never fatal.

Stored facts: `files` (what was read of each log, up to which offset),
`copies` (every copy of every call found, as read), `prompts` and `rates`.
Derived, and rebuilt from those at any time (see derive.py): `rollup` and
`activity` (each file's sums over the copies it holds, the second per
activity bucket), `scopes` and `losers` (the copies that do not count in a
scope: a call's other copies, a replayed response).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tokentree.core.activity_sums import ACTIVITY_COLUMNS, insert_activity
from tokentree.core.rows import COLUMNS, ROLLUP_COLUMNS, rollup_of

SCHEMA_VERSION = 13

ADDED_IN_10 = (
    "CREATE TABLE changes(generation INTEGER PRIMARY KEY AUTOINCREMENT, since REAL NOT NULL)",
    "CREATE TABLE kept_views(view TEXT PRIMARY KEY, generation INTEGER NOT NULL,"
    " used REAL NOT NULL)",
    "CREATE TABLE kept_days(view TEXT NOT NULL, day INTEGER NOT NULL, record BLOB NOT NULL,"
    " PRIMARY KEY (view, day)) WITHOUT ROWID",
    "CREATE TABLE kept_advice(view TEXT NOT NULL, path TEXT NOT NULL, stamp TEXT NOT NULL,"
    " digest BLOB NOT NULL, PRIMARY KEY (view, path)) WITHOUT ROWID",
    "CREATE INDEX activity_slot ON activity(slot)",
)
"""The change log (changes.py), the days and the advice digests views kept (days_kept.py),
activity by time."""
ADDED_IN_11 = (
    "ALTER TABLE copies RENAME COLUMN unpriced TO pricing",
    "ALTER TABLE copies ADD COLUMN cache_miss TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX rollup_session ON rollup(session)",
)
"""How a copy's cost was found (listed, unpriced or estimated), why Claude's cache missed; the
prices are found again (pricing.PRICING_RULES) so every copy's `pricing` is set. One session's
sums found by its id (the status line)."""
_ROLLUP = "CREATE TABLE rollup(" + ", ".join(f"{n} {k}" for n, k in ROLLUP_COLUMNS) + ")"
_ACTIVITY = "CREATE TABLE activity(" + ", ".join(f"{n} {k}" for n, k in ACTIVITY_COLUMNS) + ")"
_TABLES = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE files(
        id INTEGER PRIMARY KEY,
        path TEXT UNIQUE NOT NULL,
        source TEXT NOT NULL,
        dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,
        head_len INTEGER, head_hash TEXT,
        offset INTEGER NOT NULL DEFAULT 0,
        generation INTEGER NOT NULL DEFAULT 0,
        pending INTEGER NOT NULL DEFAULT 0,
        state BLOB, skipped BLOB, rate_limits BLOB,
        missing INTEGER NOT NULL DEFAULT 0,
        unreadable INTEGER NOT NULL DEFAULT 0,
        machine TEXT NOT NULL DEFAULT '')""",
    "CREATE TABLE copies(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, "
    + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    + ")",
    "CREATE TABLE prompts(file_id INTEGER NOT NULL, source TEXT NOT NULL,"
    " session TEXT NOT NULL, ts REAL NOT NULL)",
    "CREATE TABLE rates(model TEXT NOT NULL, source TEXT NOT NULL, day INTEGER NOT NULL,"
    " speed TEXT NOT NULL, rates BLOB, PRIMARY KEY (model, source, day, speed))",
    "CREATE TABLE scopes(id INTEGER PRIMARY KEY, roots TEXT UNIQUE NOT NULL, used REAL NOT NULL)",
    "CREATE TABLE losers(scope INTEGER NOT NULL, copy INTEGER NOT NULL,"
    " PRIMARY KEY (scope, copy)) WITHOUT ROWID",
    "CREATE TABLE touched_keys(key TEXT PRIMARY KEY) WITHOUT ROWID",
    _ROLLUP,
    _ACTIVITY,
    *ADDED_IN_10[:-1],
)
"""The tables; their indexes are INDEXES."""


def _activity_again(db: sqlite3.Connection) -> None:
    insert_activity(db, "activity", "copies")


ADDED_IN_12: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    "ALTER TABLE copies ADD COLUMN cache_waste REAL NOT NULL DEFAULT 0",
    "DROP TABLE rollup",
    _ROLLUP,
    "INSERT INTO rollup " + rollup_of("copies"),
    "DROP TABLE activity",
    _ACTIVITY,
    _activity_again,
    "ALTER TABLE files ADD COLUMN machine TEXT NOT NULL DEFAULT ''",
)
"""Each copy's cache waste (core/cache_misses.py), summed in the rollup, and the activity by
project and model (the view grouped by them reads it), both made again from the copies: the
copies of logs still there get their waste when the readers (version 3) read them again.
The machine of each file: '' for this machine's logs, else the machine whose call ledger
(sources/ledger.py) it is."""
CHANGED_IN_13 = ("DROP INDEX IF EXISTS copies_family", "DROP INDEX IF EXISTS copies_replays")
"""A family's copies are found along the key index (derive._in_family)."""
UPGRADES = {
    9: ADDED_IN_10 + ADDED_IN_11 + ADDED_IN_12 + CHANGED_IN_13,
    10: ADDED_IN_11 + ADDED_IN_12 + CHANGED_IN_13,
    11: ADDED_IN_12 + CHANGED_IN_13,
    12: CHANGED_IN_13,
}
"""Statements that bring an index of an older format to this one in place: its history stays
(the logs of its oldest calls may be long deleted); the indexes they drop are built again
as the upgraded index is opened (INDEXES)."""
INDEXES = {
    "copies_file": "CREATE INDEX IF NOT EXISTS copies_file ON copies(file_id)",
    "copies_key": "CREATE INDEX IF NOT EXISTS copies_key ON copies(key, file_id, family, subagent)",
    "prompts_file": "CREATE INDEX IF NOT EXISTS prompts_file ON prompts(file_id)",
    "prompts_session": "CREATE INDEX IF NOT EXISTS prompts_session ON prompts(session)",
    "rollup_file": "CREATE INDEX IF NOT EXISTS rollup_file ON rollup(file_id)",
    "rollup_slot": "CREATE INDEX IF NOT EXISTS rollup_slot ON rollup(slot)",
    "rollup_session": "CREATE INDEX IF NOT EXISTS rollup_session ON rollup(session)",
    "activity_file": "CREATE INDEX IF NOT EXISTS activity_file ON activity(file_id)",
    "activity_slot": "CREATE INDEX IF NOT EXISTS activity_slot ON activity(slot)",
}
"""Every index of the stored and derived tables. Dropped while a first build fills them, and
built once at its end (several times faster than keeping them up to date row by row, in the
random order the readers' batches come in); any run that finds one missing builds it."""


PAGE_SIZE = 16384
"""Bytes per page of a new index file. A first build writes each page to the WAL and again to
the file, a system call or two a page: 16 KiB pages take about a tenth off its main-process
CPU against SQLite's 4 KiB (1 GB of logs), and leave a warm start as fast."""
DEFAULT_CACHE_SIZE = -2000
"""SQLite's own page cache (2,000 KiB): enough for updates and reading."""
COLD_CACHE_SIZE = -131072
"""A first build's page cache (128 MiB at most, taken as pages are written): building the
indexes then reads nothing back from the file (29,000 reads fewer for 1 GB of logs, a
tenth of the main process's CPU)."""
BUSY_TIMEOUT = 60
"""Seconds a writer waits for another instance's write lock."""
_OPEN_ATTEMPTS = 20
"""A file another instance is creating answers "locked" for a moment: wait, never rebuild it."""


class CacheUnusable(Exception):
    """The index file cannot be kept where it should be; the message says why."""


def open_store(path: Path | None, notices: list[str]) -> sqlite3.Connection:
    """The index at `path`, created or rebuilt as needed; in memory when `path` is None.

    An index from another version, or a damaged one, is rebuilt with a notice;
    one that cannot be written at all raises CacheUnusable.
    """
    if path is None:
        return _create(sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False))
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = _connect(path)
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:  # a new file (perhaps being created by another instance right now)
                return _writable(_create(db))
            if found in UPGRADES and _intact(db):
                found = _upgraded(db, found)
            if found == SCHEMA_VERSION and _intact(db):
                return _writable(db, indexed=True)
            db.close()
            notices.append(
                f"index format changed ({found} → {SCHEMA_VERSION}); rebuilt"
                if found != SCHEMA_VERSION
                else f"index at {path} was damaged; rebuilt"
            )
            break
        except sqlite3.DatabaseError as error:
            if _cannot_write(error):
                raise CacheUnusable(f"cannot write the index at {path} ({error})") from error
            if is_damage(error):
                notices.append(f"index at {path} was unreadable ({error}); rebuilt")
                break
            if attempt == _OPEN_ATTEMPTS - 1:  # busy: another instance holds it too long
                raise CacheUnusable(f"the index at {path} stays busy ({error})") from error
            time.sleep(0.05 * (attempt + 1))
        except OSError as error:
            raise CacheUnusable(
                f"cannot keep the index at {path} ({error.strerror or error})"
            ) from error
    return recreate(path)


def recreate(path: Path) -> sqlite3.Connection:
    """An empty index in place of whatever is at `path`."""
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return _writable(_create(_connect(path)))
    except (OSError, sqlite3.DatabaseError) as error:
        raise CacheUnusable(f"cannot write the index at {path} ({error})") from error


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file's; an existing one keeps its own
        try:
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise  # else a first build holds it out of WAL mode, and sets it again after
        db.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        db.close()
        raise
    return db


def connect_as_is(path: Path) -> sqlite3.Connection:
    """Another writer of a first build out of WAL mode (a reader process storing what it
    read): the file opened as it is, written as the build writes it (no fsync)."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("ATTACH ':memory:' AS incoming")
    return db


def _create(db: sqlite3.Connection) -> sqlite3.Connection:
    db.execute("BEGIN IMMEDIATE")
    if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        for statement in (*_TABLES, *INDEXES.values()):
            db.execute(statement)
        _first_generation(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute("COMMIT")  # or another instance created it while we waited
    return db


def _first_generation(db: sqlite3.Connection) -> None:
    """The change log of a new index counts from a random point: a view served from an index
    made again since (damaged, another format) never takes its generation for this one's."""
    import secrets  # only a new index needs it: 3 ms off every warm start

    start = secrets.randbelow(2**31) << 20
    db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('changes', ?)", (start,))


def _upgraded(db: sqlite3.Connection, found: int) -> int:
    """The index brought to this format in place (its history kept); returns the format, or
    `found` when the file is not what its format says (it is rebuilt then)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] == found:  # or another instance did
            for statement in UPGRADES[found]:
                statement(db) if callable(statement) else db.execute(statement)
            if not db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'changes'").fetchone():
                _first_generation(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.OperationalError as error:
        db.execute("ROLLBACK")
        if "locked" in str(error) or "busy" in str(error):
            raise
        return found  # a table or column the upgrade expects is not there
    db.execute("COMMIT")
    return SCHEMA_VERSION


CHECK_EVERY = 86_400.0
"""Seconds between SQLite's checks of every page at start-up (it reads the whole file: 50 ms
for 1 GB of logs, seconds for a heavy user's year). Damage met in between is found in use:
every query rebuilds the index when SQLite calls a page malformed."""


def _intact(db: sqlite3.Connection) -> bool:
    """SQLite's own check of every page, at most once a CHECK_EVERY: a damaged file is
    rebuilt rather than trusted."""
    row = db.execute("SELECT value FROM meta WHERE key = 'checked'").fetchone()
    if row is not None and time.time() - float(row[0]) < CHECK_EVERY:
        return True
    if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        return False
    db.execute("INSERT OR REPLACE INTO meta VALUES ('checked', ?)", (str(time.time()),))
    return True


def _writable(db: sqlite3.Connection, *, indexed: bool = False) -> sqlite3.Connection:
    """Prove the file can be written now, rather than fail in the middle of an update; an
    index a first build dropped (and did not live to build again) is built."""
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT OR REPLACE INTO meta VALUES ('opened', datetime('now'))")
    if indexed:
        for statement in INDEXES.values():
            db.execute(statement)
    db.execute("COMMIT")
    return db


def _cannot_write(error: sqlite3.DatabaseError) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("readonly", "read-only", "unable to open", "disk i/o"))


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """An error that says the file's content is broken (not busy, not a bad query)."""
    text = str(error).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One writer at a time: other instances wait for the lock (busy_timeout)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def settings_for(db: sqlite3.Connection, *, first_build: bool, alone: bool) -> Iterator[bool]:
    """SQLite's settings for an update, and its own again after, whether it ends or fails.

    A first build has nothing to lose: no fsync until it is done (a file left damaged
    by a power cut is rebuilt at the next start) and a bigger page cache. `alone` (no
    view follows it), it also takes the file out of WAL mode while this connection is
    the file's only one, so each page is written once, not to the WAL and then again
    to the file (a tenth of its main-process CPU). With another connection open nothing
    changes; one opened meanwhile waits for the build's transactions, as writers always
    do (readers too, in this mode), and the file is in WAL mode again after the build,
    or at the first open after it that finds the file free (_connect). Yields whether the
    file is out of WAL mode."""
    db.execute(f"PRAGMA synchronous = {'OFF' if first_build else 'NORMAL'}")
    db.execute(f"PRAGMA cache_size = {COLD_CACHE_SIZE if first_build else DEFAULT_CACHE_SIZE}")
    unlogged = first_build and alone and _out_of_wal(db)
    try:
        yield unlogged
    finally:
        if unlogged:
            with suppress(sqlite3.OperationalError):  # busy: the next open sets it
                db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(f"PRAGMA cache_size = {DEFAULT_CACHE_SIZE}")


def _out_of_wal(db: sqlite3.Connection) -> bool:
    """Whether the file could be put in rollback-journal mode: SQLite refuses at once (it does
    not wait) while another connection has the file open."""
    try:
        return db.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    except sqlite3.OperationalError:  # locked
        return False


@contextmanager
def unless_busy() -> Iterator[None]:
    """For writes that may be left for another time (caches): another instance holding the
    write lock ends them quietly."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise


def marks(items: Sized) -> str:
    """As many SQL parameters as items."""
    return ", ".join("?" * len(items))


def chunks(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """Items in lists of at most `size`: SQLite takes so many parameters a statement."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
