"""OpenCode: the SQLite `opencode.db` in its data dir, and the older `storage/` JSON files.

Counting rules (FORMATS.md §4, §9.4): one call per `step-finish` part, since a
message that spans several steps keeps only its last step's tokens; a finished
message whose parts are gone counts once with its own tokens. OpenCode 2 keeps
one step per `session_message` row. A call's time is its message's
`time.created`: the row times say when a row was written, which for a migrated
message is the day of the migration. OpenCode stores tokens normalised (`input`
excludes cache reads and writes); reasoning is billed as output. The database is
the primary copy: the JSON files were copied into it and not deleted, so both
name the same message ids and count once. Child sessions (the task tool's
sub-agents) belong to their root session.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources import opencode_db
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    FileParse,
    ReadMode,
    basename,
    first_word,
    parse_epoch_ms,
    token_count_problem,
    tool_label,
    url_host,
    walk_files,
)
from tokentree.core.sources.declaration import Source
from tokentree.core.sources.opencode_db import SessionInfo
from tokentree.core.tail import Markers

NAME = "opencode"
SUFFIXES = (".db", ".json")
MARKERS = Markers(())
"""Unused: OpenCode writes no JSONL logs."""

# The database copy of a call beats the JSON file's; then the fuller usage wins.
_RANK_DATABASE = 1 << 48
_SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT = 2.0
"""Seconds to wait for a lock OpenCode holds (only without WAL); then the read is retried later."""
_FILE_TOOLS = frozenset({"read", "edit", "write", "patch", "multiedit", "list"})

Step = tuple[Tokens | str, list[str], float | None]
"""A finished step: its tokens, tools and OpenCode's own cost. Tokens given as a string (why
they are bad) mean: skip it and count it."""


def discover(env: Mapping[str, str], home: Path) -> list[Path]:
    """`OPENCODE_DATA_DIR` (a comma list), else `$XDG_DATA_HOME/opencode` (on macOS too)."""
    configured = [entry.strip() for entry in env.get("OPENCODE_DATA_DIR", "").split(",")]
    if any(configured):
        return [Path(entry).expanduser() for entry in configured if entry]
    data = env.get("XDG_DATA_HOME", "").strip()
    return [(Path(data) if data else home / ".local" / "share") / "opencode"]


def accepts(path: str) -> bool:
    name = basename(path)
    if name.endswith(".db"):
        return name.startswith("opencode")
    return name.endswith(".json") and "/storage/message/" in path.replace("\\", "/")


def walk(folder: str, problems: list[str]) -> list[str]:
    """The databases at the top of the data dir and the message files below `storage/message`.

    The data dir also holds git snapshots of whole projects: they are not scanned.
    """
    try:
        found = [
            entry.path
            for entry in os.scandir(folder)
            if entry.name.endswith(".db") and accepts(entry.path) and entry.is_file()
        ]
    except OSError as error:
        problems.append(f"cannot read {folder}: {error.strerror or error}")
        return []
    messages = os.path.join(folder, "storage", "message")
    if os.path.isdir(messages):
        found += walk_files(messages, (".json",), problems)
    return found


def read_mode(path: str) -> ReadMode:
    """The database is asked for what changed; a JSON file holds one message, rewritten whole."""
    return ReadMode.DATABASE if path.endswith(".db") else ReadMode.WHOLE


# --- the database ---------------------------------------------------------------------------


def read_database(path: str, state: dict[str, Any]) -> tuple[FileParse, int]:
    """Calls and prompts of the messages changed since the read that left `state`.

    Opened read-only (OpenCode may be writing: it uses WAL, so readers do not
    block it) and read in one transaction, so messages and parts agree. Rows
    updated in the same millisecond as the last mark are read again: their
    calls come back with the same keys and the index merges them.
    """
    result = FileParse(state=state)
    try:
        db = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as error:
        raise OSError(f"cannot open the database ({error})") from error
    try:
        db.execute("BEGIN")
        return result, _read_changes(db, result, state)
    except sqlite3.OperationalError as error:
        if "no such table" in str(error) or "no such column" in str(error):
            result.skipped["not an OpenCode database"] += 1
            return result, 0
        raise OSError(f"database busy or unreadable ({error}); will retry") from error
    except sqlite3.DatabaseError as error:
        raise OSError(f"database unreadable ({error})") from error
    finally:
        db.close()


def _read_changes(db: sqlite3.Connection, result: FileParse, state: dict[str, Any]) -> int:
    """Parse the changed messages of both generations; returns the bytes of JSON read."""
    present = opencode_db.tables(db)
    if not opencode_db.is_opencode(present):
        result.skipped["not an OpenCode database"] += 1
        return 0
    lineage = _Lineage(opencode_db.sessions(db, present).get)
    changed = opencode_db.changes(db, state, present)
    size = 0
    parts: dict[str, list[dict[str, Any]]] = {}
    for message_id, data in changed.parts:
        size += len(data)
        decoded = _object(data, result)
        if decoded is not None:
            parts.setdefault(message_id, []).append(decoded)
    for message_id, session_id, data in changed.messages:
        size += len(data)
        info = _object(data, result)
        if info is not None:
            _message(result, info, message_id, session_id, parts.get(message_id, []), lineage, True)
    for message_id, session_id, kind, data in changed.v2_messages:
        size += len(data)
        decoded = _object(data, result)
        if decoded is not None:
            info, own_parts = _as_v1(kind, decoded)
            _message(result, info, message_id, session_id, own_parts, lineage, True)
    return size


def _as_v1(kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An OpenCode 2 message as a v1 message and its parts: a row is one step, with its tools
    in `content`, its usage once the step has ended, and its model as `{id, providerID}`."""
    model = data.get("model")
    info = {
        "role": kind,
        "time": data.get("time"),
        "modelID": model.get("id") if isinstance(model, dict) else None,
    }
    content = data.get("content")
    parts = [
        {"type": "tool", "tool": item.get("name"), "state": item.get("state")}
        for item in (content if isinstance(content, list) else ())
        if isinstance(item, dict) and item.get("type") == "tool"
    ]
    if data.get("tokens") is not None:
        parts.append({"type": "step-finish", "tokens": data["tokens"], "cost": data.get("cost")})
    return info, parts


def _object(data: str | bytes, result: FileParse) -> dict[str, Any] | None:
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError:
        result.skipped["malformed JSON"] += 1
        return None
    if not isinstance(decoded, dict):
        result.skipped["not a JSON object"] += 1
        return None
    return decoded


class _Lineage:
    """Each session's root session (sub-agents run in child sessions) and working directory."""

    def __init__(self, lookup: Callable[[str], SessionInfo | None]) -> None:
        self.lookup = lookup

    def root(self, session_id: str) -> str:
        seen = {session_id}
        parent = self.parent(session_id)
        while parent and parent not in seen and len(seen) < 64:
            session_id = parent
            seen.add(parent)
            parent = self.parent(parent)
        return session_id

    def parent(self, session_id: str) -> str:
        found = self.lookup(session_id)
        return found[0] if found and isinstance(found[0], str) else ""

    def directory(self, session_id: str) -> str:
        found = self.lookup(session_id)
        return found[1] if found and isinstance(found[1], str) else ""


# --- the older JSON files -------------------------------------------------------------------


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """One `storage/message/<session>/<message>.json` file, with its parts and session files."""
    result = FileParse(state=state)
    info = _object(b"\n".join(lines), result)
    if info is None:
        return result
    message_id, session_id = info.get("id"), info.get("sessionID")
    if not isinstance(message_id, str) or not isinstance(session_id, str):
        result.skipped["wrong field types"] += 1
        return result
    storage = os.path.dirname(os.path.dirname(os.path.dirname(path)))
    lineage = _Lineage(_stored_sessions(storage))
    parts = list(_stored_parts(storage, message_id, result))
    _message(result, info, message_id, session_id, parts, lineage, False)
    return result


def _stored_sessions(storage: str) -> Callable[[str], SessionInfo | None]:
    """A lookup of `storage/session/<project>/<session>.json` files, each read at most once."""
    folder = os.path.join(storage, "session")
    found: dict[str, SessionInfo | None] = {}

    def lookup(session_id: str) -> SessionInfo | None:
        if session_id not in found:
            found[session_id] = _stored_session(folder, session_id)
        return found[session_id]

    return lookup


def _stored_session(folder: str, session_id: str) -> SessionInfo | None:
    try:
        projects = os.listdir(folder)
    except OSError:
        return None
    for project in projects:
        try:
            with open(os.path.join(folder, project, f"{session_id}.json"), "rb") as handle:
                info = orjson.loads(handle.read())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(info, dict):
            return info.get("parentID"), info.get("directory")
    return None


def _stored_parts(storage: str, message_id: str, result: FileParse) -> Iterator[dict[str, Any]]:
    """The step-finish and tool parts of a message, in order (part ids sort by time)."""
    folder = os.path.join(storage, "part", message_id)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if b'"step-finish"' not in data and b'"tool"' not in data:
            continue  # text, reasoning, patches: the bulk of the bytes, never decoded
        part = _object(data, result)
        if part is not None:
            yield part


# --- one message, from either copy ----------------------------------------------------------


def _message(
    result: FileParse,
    info: dict[str, Any],
    message_id: str,
    session_id: str,
    parts: list[dict[str, Any]],
    lineage: _Lineage,
    from_database: bool,
) -> None:
    role = info.get("role")
    times = info.get("time") if isinstance(info.get("time"), dict) else {}
    created = parse_epoch_ms(times.get("created"))
    if created is None:
        result.skipped[BAD_TIMESTAMP] += 1
        return
    root = lineage.root(session_id)
    child = root != session_id
    if role == "user":
        if not child:  # a child session's prompt is the task its parent gave
            result.prompts.append(Prompt(NAME, root, created))
        return
    if role != "assistant":
        return
    model = info.get("modelID")
    if not isinstance(model, str) or not model:
        result.skipped["wrong field types"] += 1
        return
    where = info.get("path")
    cwd = where.get("cwd") if isinstance(where, dict) else None
    project = cwd if isinstance(cwd, str) else lineage.directory(session_id)
    for step, (tokens, tools, own_cost) in enumerate(_steps(info, parts)):
        if isinstance(tokens, str):
            result.skipped[tokens] += 1
            continue
        result.calls.append(
            ApiCall(
                source=NAME,
                key=f"opencode:{message_id}:{step}",
                session_id=root,
                project=project,
                timestamp=created,
                model=model,
                tokens=tokens,
                tools=tuple(tools),
                subagent=child,
                fidelity=Fidelity.EXACT,
                source_cost=own_cost,
            )
        )
        result.ranks.append((_RANK_DATABASE if from_database else 0) + tokens.total)


def _own_cost(record: dict[str, Any]) -> float | None:
    cost = record.get("cost")
    return float(cost) if type(cost) in (int, float) and cost > 0 else None


def _steps(info: dict[str, Any], parts: list[dict[str, Any]]) -> list[Step]:
    """Each finished step of a message.

    A tool part belongs to the step that finishes after it; tools of a step not
    finished yet wait for the read that sees its `step-finish`. OpenCode logs a
    cost of 0 when its catalogue has no price: that is no cost logged, not free.
    """
    steps: list[Step] = []
    tools: list[str] = []
    for part in parts:
        kind = part.get("type")
        if kind == "tool":
            label = _tool(part)
            if label:
                tools.append(label)
        elif kind == "step-finish":
            steps.append((_tokens(part.get("tokens")), tools, _own_cost(part)))
            tools = []
    if steps:
        return steps
    times = info.get("time") if isinstance(info.get("time"), dict) else {}
    usage = info.get("tokens")
    tokens = _tokens(usage) if times.get("completed") and isinstance(usage, dict) else Tokens()
    if isinstance(tokens, str) or tokens.total:
        return [(tokens, tools, _own_cost(info))]  # an older message without parts
    return []  # still streaming, or failed before any usage


def _tokens(usage: Any) -> Tokens | str:
    """OpenCode's tokens, or why they cannot be counted; a missing or null count is 0."""
    if not isinstance(usage, dict):
        return "wrong field types"
    cache = usage.get("cache") if isinstance(usage.get("cache"), dict) else {}
    counts = [
        usage.get("input"),
        usage.get("output"),
        usage.get("reasoning"),
        cache.get("read"),
        cache.get("write"),
    ]
    counts = [0 if count is None else count for count in counts]
    problem = token_count_problem(*counts)
    if problem is not None:
        return problem
    fresh, output, reasoning, cache_read, cache_write = counts
    return Tokens(
        input=fresh,
        cache_write_5m=cache_write,
        cache_read=cache_read,
        output=output + reasoning,
        reasoning=reasoning,
    )


def _tool(part: dict[str, Any]) -> str:
    """A label from the tool's name and arguments: a file's basename, a command's program."""
    name = part.get("tool")
    if not isinstance(name, str):
        return ""
    status = part.get("state")
    arguments = status.get("input") if isinstance(status, dict) else None
    if not isinstance(arguments, dict):
        return name
    if name in _FILE_TOOLS:
        return tool_label(name, basename(arguments.get("filePath") or arguments.get("path")))
    if name == "bash":
        return tool_label(name, first_word(arguments.get("command")))
    if name == "webfetch":
        return tool_label(name, url_host(arguments.get("url")))
    if name == "task":
        kind = arguments.get("subagent_type")
        return tool_label(name, kind if isinstance(kind, str) else "")
    return name


def sniff(path: str, head: bytes) -> bool:
    """Its database, or a message file of the JSON storage."""
    if path.endswith(".db"):
        return accepts(path) and head.startswith(_SQLITE_MAGIC)
    return b'"sessionID"' in head and b'"role"' in head


SOURCE = Source(
    name=NAME,
    version=3,  # 2: FORMATS.md §9, the 2026 shapes; 3: cache misses (core/cache_misses.py)
    title="OpenCode",
    badge="opencd",
    colour="secondary",
    aliases=(),
    provider=None,  # it talks to many: a model id names its maker, or is looked up anywhere
    home_env={"OPENCODE_DATA_DIR": ".local/share/opencode"},
    discover=discover,
    accepts=accepts,
    sniff=sniff,
    parse=parse,
    markers=MARKERS,
    suffixes=SUFFIXES,
    read_mode=read_mode,
    walk=walk,
    read_database=read_database,
    watched_below=os.path.join("storage", "message"),
)
