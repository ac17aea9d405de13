"""OpenCode's SQLite tables: which a database has, its sessions, and the rows changed since a read.

OpenCode 2 (FORMATS.md §9.4) writes new tables into the same `opencode.db` and
leaves the v1 tables (`session`, `message`, `part`) as they were at the upgrade:
messages go to `session_message` (usage on its `assistant` rows), sessions to
`session` in early builds and `session_v2` in later ones. A database may hold
either generation or both, and a session may be split between them, so every
table found is read, whatever the version.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

SessionInfo = tuple[Any, Any]
"""A session's parent id and directory, as stored (either may be missing or of another type)."""

_SESSION_TABLES = ("session", "session_v2")  # in this order: a v2 row replaces a v1 row
_V1_TABLES = frozenset({"message", "part"})
_V2_TABLE = "session_message"
_CHUNK = 500  # SQLite host parameters per IN (…) query
_PARTS = (
    "SELECT message_id, data FROM part"
    " WHERE CASE WHEN json_valid(data) THEN json_extract(data, '$.type') END"
    " IN ('step-finish', 'tool')"
)
_V2_MESSAGES = (
    f"SELECT id, session_id, type, data FROM {_V2_TABLE}"
    " WHERE type IN ('user', 'assistant') AND id NOT GLOB 'evt_legacy_backfill_*'"
)
"""Prompts and responses, less OpenCode 2's copies of v1 messages (made under new ids)."""
_NOT_IN_V1 = " AND id NOT IN (SELECT id FROM message)"
"""A message kept under its v1 id counts once, from the v1 tables, which hold each step."""


@dataclass(slots=True)
class Changes:
    """Rows to parse: v1 messages (id, session id, data) with their step-finish and tool parts
    (message id, data), and v2 messages (id, session id, type, data)."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)
    parts: list[tuple[str, str]] = field(default_factory=list)
    v2_messages: list[tuple[str, str, str, str]] = field(default_factory=list)


def tables(db: sqlite3.Connection) -> frozenset[str]:
    return frozenset(
        row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    )


def is_opencode(present: frozenset[str]) -> bool:
    """A session table and the message tables of either generation."""
    has_messages = _V1_TABLES <= present or _V2_TABLE in present
    return has_messages and not present.isdisjoint(_SESSION_TABLES)


def sessions(db: sqlite3.Connection, present: frozenset[str]) -> dict[str, SessionInfo]:
    """Every session's parent and directory, the v2 row first; a column a newer schema dropped
    reads as NULL."""
    found: dict[str, SessionInfo] = {}
    for table in _SESSION_TABLES:
        if table not in present:
            continue
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        parent = "parent_id" if "parent_id" in columns else "NULL"
        directory = "directory" if "directory" in columns else "NULL"
        found.update(
            (session_id, (parent_id, folder))
            for session_id, parent_id, folder in db.execute(
                f"SELECT id, {parent}, {directory} FROM {table}"
            )
        )
    return found


def changes(db: sqlite3.Connection, state: dict[str, Any], present: frozenset[str]) -> Changes:
    """The rows changed since the marks in `state`, each table's mark moved to its newest
    change time; a table without a mark (the first read, or one new since) is read whole."""
    found = Changes()
    if _V1_TABLES <= present:
        found.messages, found.parts = _v1_changes(db, state)
    if _V2_TABLE in present:
        query = _V2_MESSAGES + (_NOT_IN_V1 if "message" in present else "")
        mark = _advance(db, state, "session_message_mark", _V2_TABLE)
        if mark is None:
            found.v2_messages = db.execute(query).fetchall()
        else:
            found.v2_messages = db.execute(f"{query} AND time_updated >= ?", (mark,)).fetchall()
    return found


def _advance(db: sqlite3.Connection, state: dict[str, Any], key: str, table: str) -> Any:
    """The mark `key` as it was (None: never read), then moved to `table`'s newest change."""
    mark = state.get(key)
    newest = db.execute(f"SELECT max(time_updated) FROM {table}").fetchone()[0]
    state[key] = newest if newest is not None else mark or 0
    return mark


def _v1_changes(
    db: sqlite3.Connection, state: dict[str, Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The v1 messages updated since their mark, or whose parts were, and their parts."""
    message_mark = _advance(db, state, "message_mark", "message")
    part_mark = _advance(db, state, "part_mark", "part")
    if message_mark is None or part_mark is None:
        messages = db.execute("SELECT id, session_id, data FROM message").fetchall()
        return messages, db.execute(f"{_PARTS} ORDER BY message_id, id").fetchall()
    changed = {
        row[0]
        for row in db.execute("SELECT id FROM message WHERE time_updated >= ?", (message_mark,))
    }
    changed |= {
        row[0]
        for row in db.execute(
            "SELECT DISTINCT message_id FROM part WHERE time_updated >= ?", (part_mark,)
        )
    }
    messages, parts = [], []
    ids = sorted(changed)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        messages += db.execute(
            f"SELECT id, session_id, data FROM message WHERE id IN ({marks})", chunk
        ).fetchall()
        parts += db.execute(
            f"{_PARTS} AND message_id IN ({marks}) ORDER BY message_id, id", chunk
        ).fetchall()
    return messages, parts
