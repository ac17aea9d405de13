"""Small, explicit log lines for tests: each helper writes what one real line looks like."""

from __future__ import annotations

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
