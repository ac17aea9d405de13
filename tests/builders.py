"""Small, explicit log lines for tests: each helper writes what one real line looks like."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

SESSION = "11111111-2222-3333-4444-555555555555"


def iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def claude_prompt(when: datetime | str, text: str = "do the thing", **extra: Any) -> dict:
    return {
        "type": "user",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/atlas",
        "sessionId": extra.pop("session", SESSION),
        "version": "2.1.112",
        "message": {"role": "user", "content": text},
        "timestamp": iso(when),
        **extra,
    }


def claude_call(
    message_id: str,
    when: datetime | str,
    *,
    request_id: str | None = None,
    model: str = "claude-sonnet-4-5-20250929",
    input: int = 10,
    output: int = 100,
    cache_write: int = 0,
    cache_write_1h: int = 0,
    cache_read: int = 0,
    session: str = SESSION,
    version: str = "2.1.112",
    sidechain: bool = False,
    tools: tuple[tuple[str, dict], ...] = (),
    cwd: str = "/home/dev/atlas",
) -> dict:
    content = [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": arguments}
        for i, (name, arguments) in enumerate(tools)
    ] or [{"type": "text", "text": "ok"}]
    return {
        "parentUuid": None,
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": version,
        "type": "assistant",
        "message": {
            "model": model,
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": content,
            "usage": {
                "input_tokens": input,
                "cache_creation_input_tokens": cache_write + cache_write_1h,
                "cache_read_input_tokens": cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": cache_write,
                    "ephemeral_1h_input_tokens": cache_write_1h,
                },
                "output_tokens": output,
            },
        },
        "requestId": request_id or f"req_{message_id}",
        "timestamp": iso(when),
    }


def agent_progress_copy(line: dict, when: datetime | str) -> dict:
    """A parent's progress line carrying a copy of a sub-agent's assistant line."""
    return {
        "type": "progress",
        "isSidechain": False,
        "sessionId": line["sessionId"],
        "cwd": line["cwd"],
        "version": line["version"],
        "timestamp": iso(when),
        "data": {"type": "agent_progress", "agentId": "a1b2c3", "message": line},
    }


def codex_meta(session: str, when: datetime | str, **extra: Any) -> dict:
    return {
        "timestamp": iso(when),
        "type": "session_meta",
        "payload": {
            "id": session,
            "timestamp": iso(when),
            "cwd": "/home/dev/billing",
            "originator": "codex_cli_rs",
            "cli_version": "0.63.0",
            "source": "cli",
            **extra,
        },
    }


def codex_context(when: datetime | str, model: str = "gpt-5-codex") -> dict:
    return {
        "timestamp": iso(when),
        "type": "turn_context",
        "payload": {"cwd": "/home/dev/billing", "model": model},
    }


def codex_prompt(when: datetime | str) -> dict:
    return {
        "timestamp": iso(when),
        "type": "event_msg",
        "payload": {"type": "user_message", "message": "fix it"},
    }


def codex_tokens(
    when: datetime | str,
    total: tuple[int, int, int, int],
    last: tuple[int, int, int, int] | None = None,
    rate_limits: dict | None = None,
) -> dict:
    def usage(values: tuple[int, int, int, int]) -> dict:
        fresh, cached, output, reasoning = values
        return {
            "input_tokens": fresh,
            "cached_input_tokens": cached,
            "output_tokens": output,
            "reasoning_output_tokens": reasoning,
            "total_tokens": fresh + output,
        }

    info = {
        "total_token_usage": usage(total),
        "last_token_usage": usage(last or total),
        "model_context_window": 272000,
    }
    return {
        "timestamp": iso(when),
        "type": "event_msg",
        "payload": {"type": "token_count", "info": info, "rate_limits": rate_limits},
    }


def jsonl(*records: dict | bytes) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


def write(path: Path, *records: dict | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl(*records))
    return path


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


# --- Gemini CLI ---------------------------------------------------------------------------------


def gemini_meta(session: str, when: datetime | str, **extra: Any) -> dict:
    """The first record of a `.jsonl` chat (and the top of a legacy `.json` one)."""
    return {
        "sessionId": session,
        "projectHash": "5f1c" * 16,
        "startTime": iso(when),
        "lastUpdated": iso(when),
        **extra,
    }


def gemini_prompt(message_id: str, when: datetime | str, text: str = "fix it") -> dict:
    return {"id": message_id, "timestamp": iso(when), "type": "user", "content": [{"text": text}]}


def gemini_usage(input: int, cached: int, output: int, thoughts: int = 0, tool: int = 0) -> dict:
    """Gemini usage as the CLI logs it: `input` includes `cached`; thoughts are not in output."""
    return {
        "input": input,
        "output": output,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": input + output + thoughts + tool,
    }


def gemini_reply(
    message_id: str,
    when: datetime | str,
    tokens: dict | None,
    *,
    model: str | None = "gemini-2.5-pro",
    tools: tuple[tuple[str, dict], ...] = (),
) -> dict:
    record: dict[str, Any] = {
        "id": message_id,
        "timestamp": iso(when),
        "type": "gemini",
        "content": [{"text": "done"}],
        "thoughts": [],
        "tokens": tokens,
    }
    if model is not None:
        record["model"] = model
    if tools:
        record["toolCalls"] = [
            {"id": f"{name}-{i}", "name": name, "args": args, "status": "success"}
            for i, (name, args) in enumerate(tools)
        ]
    return record


def gemini_legacy(path: Path, meta: dict, *messages: dict) -> Path:
    """A legacy chat: one pretty-printed document, no final newline, as the CLI wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**meta, "messages": list(messages)}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


# --- OpenCode -----------------------------------------------------------------------------------

OPENCODE_SCHEMA = Path(__file__).parent / "fixtures" / "opencode" / "schema.sql"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def opencode_usage(
    input: int, output: int, reasoning: int = 0, read: int = 0, write: int = 0
) -> dict:
    """OpenCode's stored tokens: `input` already excludes cache reads and writes."""
    return {
        "total": input + output + reasoning + read + write,
        "input": input,
        "output": output,
        "reasoning": reasoning,
        "cache": {"read": read, "write": write},
    }


class OpenCodeStore:
    """An OpenCode data dir whose `opencode.db` has OpenCode's schema, opened in WAL mode as
    OpenCode opens it. The connection stays open, so writes stay in the `-wal` file."""

    def __init__(self, folder: Path, name: str = "opencode.db") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / name
        created = not self.path.exists()
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        if created:
            self.db.executescript(OPENCODE_SCHEMA.read_text())
            self.db.execute(
                "INSERT INTO project VALUES ('proj_1', '/home/dev/shop', 'git', NULL, 0, 0, NULL,"
                " '[]')"
            )

    def session(
        self, session_id: str, when: datetime, parent: str | None = None, directory: str = ""
    ) -> None:
        self.db.execute(
            "INSERT INTO session(id, project_id, parent_id, slug, directory, title, version,"
            " time_created, time_updated) VALUES (?, 'proj_1', ?, ?, ?, 'a title', '1.2.10', ?, ?)",
            (session_id, parent, session_id, directory or "/home/dev/shop", ms(when), ms(when)),
        )

    def user(self, message_id: str, session: str, when: datetime) -> dict:
        info = {
            "role": "user",
            "time": {"created": ms(when)},
            "agent": "build",
            "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"},
        }
        self.db.execute(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
            (message_id, session, ms(when), ms(when), orjson.dumps(info).decode()),
        )
        return {"id": message_id, "sessionID": session, **info}

    def assistant(
        self,
        message_id: str,
        session: str,
        when: datetime,
        steps: Sequence[dict],
        *,
        tools: Sequence[Sequence[tuple[str, dict]]] = (),
        model: str = "claude-sonnet-4-5",
        provider: str = "anthropic",
        tokens: dict | None = None,
        finished: bool = True,
        cwd: str = "/home/dev/shop",
    ) -> tuple[dict, list[dict]]:
        """A response of one step per `steps` entry (its usage), each after its `tools`.

        Returns the message and its parts as the JSON storage files hold them.
        """
        created = ms(when)
        parts: list[tuple[int, dict]] = []
        for step, usage in enumerate(steps):
            moment = created + 1000 * (step + 1)
            parts.append((moment, {"type": "step-start", "snapshot": "abc123"}))
            for call, (name, arguments) in enumerate(tools[step] if step < len(tools) else ()):
                state = {"status": "completed", "input": arguments, "output": "…", "title": name}
                parts.append(
                    (
                        moment,
                        {
                            "type": "tool",
                            "callID": f"call_{step}_{call}",
                            "tool": name,
                            "state": state,
                        },
                    )
                )
            parts.append(
                (moment, {"type": "step-finish", "reason": "stop", "cost": 0.01, "tokens": usage})
            )
        info = {
            "role": "assistant",
            "time": {"created": created, **({"completed": created + 5000} if finished else {})},
            "parentID": "msg_user",
            "modelID": model,
            "providerID": provider,
            "mode": "build",
            "agent": "build",
            "path": {"cwd": cwd, "root": cwd},
            "cost": 0.01 * len(steps),
            "tokens": tokens or (steps[-1] if steps else opencode_usage(0, 0)),
        }
        updated = parts[-1][0] if parts else created
        self.db.execute(
            "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
            (message_id, session, created, updated, orjson.dumps(info).decode()),
        )
        stored = []
        for number, (moment, part) in enumerate(parts):
            part_id = f"prt_{message_id}_{number:03d}"
            self.db.execute(
                "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                (part_id, message_id, session, moment, moment, orjson.dumps(part).decode()),
            )
            stored.append({"id": part_id, "sessionID": session, "messageID": message_id, **part})
        return {"id": message_id, "sessionID": session, **info}, stored

    def close(self) -> None:
        self.db.close()


def opencode_storage(storage: Path, message: dict, parts: Sequence[dict] = ()) -> Path:
    """The pre-database JSON files of one message (and its session, if not written yet)."""
    path = storage / "message" / message["sessionID"] / f"{message['id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(message, option=orjson.OPT_INDENT_2))
    for part in parts:
        part_path = storage / "part" / message["id"] / f"{part['id']}.json"
        part_path.parent.mkdir(parents=True, exist_ok=True)
        part_path.write_bytes(orjson.dumps(part, option=orjson.OPT_INDENT_2))
    return path


def opencode_session_file(
    storage: Path, session_id: str, parent: str | None = None, project: str = "proj_1"
) -> None:
    path = storage / "session" / project / f"{session_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {"id": session_id, "projectID": project, "directory": "/home/dev/shop", "title": "t"}
    if parent:
        info["parentID"] = parent
    path.write_bytes(orjson.dumps(info))


# --- The index's surroundings: unreadable logs, files replaced by copies ----------------------


def refuse_reads(monkeypatch: Any, refused: set[str]) -> None:
    """Make tokentree unable to open the logs whose paths are in `refused` (checked at each open,
    so the set may change between runs).

    Tests run as root, where chmod 000 does not stop a read: every log read goes
    through `tokentree.core.tail.open_log`, so that is wrapped instead. Forked
    workers and forked test processes inherit the wrapper (and the set as it was
    when they were forked).
    """
    from tokentree.core import tail

    original = tail.open_log

    def open_log(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(path) in refused:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(tail, "open_log", open_log)


def replace_with_copy(path: Path, keep_old_at: Path | None = None) -> None:
    """Replace a file by an identical copy: the same bytes under a new inode, as an editor's
    save (write a temporary file, rename it over the old one) leaves it.

    With `keep_old_at`, the old inode stays alive there (a hard link), so no later
    file can be given its number.
    """
    if keep_old_at is not None:
        keep_old_at.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, keep_old_at)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(path.read_bytes())
    os.replace(temporary, path)


def token_totals(calls: Sequence[Any], kinds: Sequence[str]) -> tuple[int, ...]:
    """How many calls, and the sum of each token kind named (e.g. "input", "cache_read")."""
    return (len(calls), *(sum(getattr(call.tokens, kind) for call in calls) for kind in kinds))
