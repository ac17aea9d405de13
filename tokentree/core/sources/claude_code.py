"""Claude Code transcripts: `<root>/projects/<encoded cwd>/<session>.jsonl` and sub-agent files.

Counting rules (FORMATS.md §1): one call per (message.id, requestId), written on
one line per content block and copied into resumed sessions and into the
parent's `agent_progress` lines; the most complete copy wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources.base import (
    FileParse,
    basename,
    first_word,
    parse_timestamp,
    tool_label,
    url_host,
)

NAME = "claude-code"
SUFFIXES = (".jsonl",)

# Which copy of a call wins (FORMATS.md §1.7, §1.9): the line in its own file
# beats a copy embedded in a parent's progress line; the main thread beats a
# sidechain replay; then the larger token total.
_RANK_TOP_LEVEL = 2 << 48
_RANK_MAIN_THREAD = 1 << 48

_NOT_PROMPTS = (
    "<command-name>",
    "<command-message>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<bash-input>",
    "<bash-stdout>",
    "<bash-stderr>",
    "Caveat: The messages below were generated",
    "[Request interrupted",
)
_FILE_TOOLS = frozenset({"Read", "Edit", "MultiEdit", "Write", "NotebookEdit", "NotebookRead"})
_INT_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def discover(env: Mapping[str, str], home: Path) -> list[Path]:
    """The `projects` folders Claude Code writes to, existing or not.

    `CLAUDE_CONFIG_DIR` (a comma-separated list of config dirs or their
    `projects` dirs) replaces the defaults, as it does for Claude Code.
    """
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        roots = []
        for entry in configured.split(","):
            folder = Path(entry.strip()).expanduser()
            if entry.strip():
                roots.append(folder if folder.name == "projects" else folder / "projects")
        return roots
    xdg_config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg_config / "claude" / "projects", home / ".claude" / "projects"]


def accepts(path: Path) -> bool:
    """Transcript files; a workflow `journal.jsonl` is metadata, not usage."""
    return path.name.endswith(".jsonl") and path.name != "journal.jsonl"


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """Calls and prompts in `lines`; lines without usage or prompts are not decoded."""
    result = FileParse(state=state)
    in_subagent_file = "/subagents/" in path.replace("\\", "/") or basename(path).startswith(
        "agent-"
    )
    by_key: dict[str, int] = {}
    for line in lines:
        if b'"usage"' not in line and (b'"user"' not in line or b'"tool_use_id"' in line):
            if line[:1] != b"{" and line.strip():
                result.skipped["not a JSON object"] += 1
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            result.skipped["malformed JSON"] += 1
            continue
        if not isinstance(record, dict):
            result.skipped["not an object"] += 1
            continue
        kind = record.get("type")
        if kind == "assistant":
            _add_call(result, by_key, record, path, in_subagent_file, copy=False)
        elif kind == "progress":
            data = record.get("data")
            if isinstance(data, dict) and data.get("type") == "agent_progress":
                embedded = _embedded_assistant_line(data, record)
                if embedded is not None:
                    _add_call(result, by_key, embedded, path, True, copy=True)
        elif kind == "user":
            prompt = _prompt(record)
            if prompt is not None:
                result.prompts.append(prompt)
    return result


def _embedded_assistant_line(data: dict[str, Any], outer: dict[str, Any]) -> dict | None:
    """The sub-agent assistant line a parent's progress line carries a copy of."""
    message = data.get("message")
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("message"), dict):  # a whole transcript line
        return message if message.get("type") == "assistant" else None
    if isinstance(message.get("usage"), dict):  # a bare API message
        return {
            "type": "assistant",
            "message": message,
            "requestId": outer.get("requestId"),
            "timestamp": outer.get("timestamp"),
            "sessionId": outer.get("sessionId"),
            "cwd": outer.get("cwd"),
            "version": outer.get("version"),
            "isSidechain": True,
        }
    return None


def _add_call(
    result: FileParse,
    by_key: dict[str, int],
    record: dict[str, Any],
    path: str,
    subagent_file: bool,
    *,
    copy: bool,
) -> None:
    message = record.get("message")
    if not isinstance(message, dict):
        result.skipped["assistant line without message"] += 1
        return
    model = message.get("model")
    usage = message.get("usage")
    if model == "<synthetic>":
        return  # locally generated error text, not an API call
    message_id = message.get("id")
    if not isinstance(usage, dict) or not isinstance(message_id, str) or not message_id:
        result.skipped["assistant line without usage or id"] += 1
        return
    tokens = _tokens(usage)
    timestamp = parse_timestamp(record.get("timestamp"))
    if tokens is None or timestamp is None or not isinstance(model, str):
        result.skipped["wrong field types"] += 1
        return
    request_id = record.get("requestId")
    key = f"{message_id}:{request_id}" if isinstance(request_id, str) and request_id else message_id
    sidechain = record.get("isSidechain") is True
    tools = tuple(_tool_labels(message.get("content")))
    rank = (0 if copy else _RANK_TOP_LEVEL) + (0 if sidechain else _RANK_MAIN_THREAD) + tokens.total
    position = by_key.get(key)
    if position is not None:
        # Another content block of the same response: keep the fullest usage, join the tools.
        kept = result.calls[position]
        merged_tools = kept.tools + tuple(tool for tool in tools if tool not in kept.tools)
        best = kept.tokens if kept.tokens.total >= tokens.total else tokens
        result.calls[position] = replace(kept, tokens=best, tools=merged_tools)
        result.ranks[position] = max(result.ranks[position], rank)
        return
    session_id = record.get("sessionId")
    cwd = record.get("cwd")
    call = _call(
        key,
        session_id if isinstance(session_id, str) and session_id else _session_from_path(path),
        cwd if isinstance(cwd, str) else "",
        timestamp,
        model,
        tokens,
        tools,
        subagent_file or sidechain or bool(record.get("agentId")),
        _fidelity(record.get("version")),
        path,
    )
    by_key[key] = len(result.calls)
    result.calls.append(call)
    result.ranks.append(rank)


def _call(
    key: str,
    session_id: str,
    project: str,
    timestamp: float,
    model: str,
    tokens: Tokens,
    tools: tuple[str, ...],
    subagent: bool,
    fidelity: Fidelity,
    path: str,
) -> ApiCall:
    return ApiCall(
        source=NAME,
        key=key,
        session_id=session_id,
        project=project,
        timestamp=timestamp,
        model=model,
        tokens=tokens,
        tools=tools,
        subagent=subagent,
        fidelity=fidelity,
        file=path,
    )


def _tokens(usage: dict[str, Any]) -> Tokens | None:
    """Anthropic usage to Tokens; None when a count is not a number."""
    values = [usage.get(name, 0) for name in (*_INT_FIELDS, "output_tokens")]
    if not all(type(value) is int for value in values):
        return None
    fresh, cache_write, cache_read, output = values
    split = usage.get("cache_creation")
    write_1h = 0
    if isinstance(split, dict):
        one_hour = split.get("ephemeral_1h_input_tokens", 0)
        write_1h = one_hour if type(one_hour) is int and 0 <= one_hour <= cache_write else 0
    return Tokens(
        input=fresh,
        cache_write_5m=cache_write - write_1h,
        cache_write_1h=write_1h,
        cache_read=cache_read,
        output=output,
    )


def _fidelity(version: Any) -> Fidelity:
    """Versions 2.1.0–2.1.97 wrote streaming placeholders for output (FORMATS.md §1.6)."""
    if isinstance(version, str) and version.startswith("2.1."):
        patch = version[4:].split(".")[0].split("-")[0]
        if patch.isdigit() and int(patch) <= 97:
            return Fidelity.LOWER_BOUND
    return Fidelity.EXACT


def _tool_labels(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    labels = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            name = block.get("name")
            if isinstance(name, str):
                labels.append(tool_label(name, _tool_target(name, block.get("input"))))
    return labels


def _tool_target(name: str, arguments: Any) -> str:
    """A short, non-secret target: a file's basename, a command's program, a URL's host."""
    if not isinstance(arguments, dict):
        return ""
    if name in _FILE_TOOLS:
        return basename(arguments.get("file_path") or arguments.get("notebook_path"))
    if name == "Bash":
        return first_word(arguments.get("command"))
    if name == "WebFetch":
        return url_host(arguments.get("url"))
    if name in ("Task", "Agent"):
        kind = arguments.get("subagent_type")
        return kind if isinstance(kind, str) else ""
    return ""


def _prompt(record: dict[str, Any]) -> Prompt | None:
    """A real user prompt starts a turn (FORMATS.md §1.4); everything else does not."""
    if record.get("isMeta") or record.get("isSidechain") or record.get("isCompactSummary"):
        return None
    message = record.get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return None
        content = texts[0] if texts else None
    if not isinstance(content, str) or content.lstrip().startswith(_NOT_PROMPTS):
        return None
    timestamp = parse_timestamp(record.get("timestamp"))
    session_id = record.get("sessionId")
    if timestamp is None or not isinstance(session_id, str):
        return None
    return Prompt(NAME, session_id, timestamp)


def _session_from_path(path: str) -> str:
    stem = os.path.splitext(basename(path))[0]
    parent = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return parent if os.path.basename(os.path.dirname(path)) == "subagents" else stem
