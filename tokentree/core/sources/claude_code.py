"""Claude Code transcripts: `<root>/projects/<encoded cwd>/<session>.jsonl` and sub-agent files.

Counting rules (FORMATS.md §1): one call per (message.id, requestId), written on
one line per content block and copied into resumed sessions and into the
parent's `agent_progress` lines; the most complete copy wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
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
MARKERS = ((b'"usage"', None), (b'"user"', b'"tool_use_id"'))
"""Only usage lines and user lines that are not tool results can matter: no other is decoded."""

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


def accepts(path: str) -> bool:
    """Transcript files; a workflow `journal.jsonl` is metadata, not usage."""
    name = basename(path)
    return name.endswith(".jsonl") and name != "journal.jsonl"


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """Calls and prompts in `lines` (the lines holding MARKERS; any other line is ignored)."""
    result = FileParse(state=state)
    in_subagent_file = "/subagents/" in path.replace("\\", "/") or basename(path).startswith(
        "agent-"
    )
    drafts: dict[str, _Draft] = {}
    loads = orjson.loads
    for line in lines:
        if line[:1] != b"{":
            result.skipped["not a JSON object"] += 1
            continue
        try:
            record = loads(line)
        except orjson.JSONDecodeError:
            result.skipped["malformed JSON"] += 1
            continue
        if type(record) is not dict:
            result.skipped["not an object"] += 1
            continue
        kind = record.get("type")
        if kind == "assistant":
            _add_call(result, drafts, record, in_subagent_file, copy=False)
        elif kind == "progress":
            data = record.get("data")
            if type(data) is dict and data.get("type") == "agent_progress":
                embedded = _embedded_assistant_line(data, record)
                if embedded is not None:
                    _add_call(result, drafts, embedded, True, copy=True)
        elif kind == "user":
            prompt = _prompt(record)
            if prompt is not None:
                result.prompts.append(prompt)
    for draft in drafts.values():
        call = draft.call(path)
        if call is None:
            result.skipped["wrong field types"] += 1
        else:
            result.calls.append(call)
            result.ranks.append(draft.rank)
    return result


class _Draft:
    """A call while its content blocks are still being read: one line per block.

    Only the usage with the largest total is kept; it is turned into Tokens
    once, when the file's lines are done.
    """

    __slots__ = ("key", "record", "usage", "total", "tools", "rank", "subagent")

    def __init__(
        self,
        key: str,
        record: dict,
        usage: dict,
        total: int,
        tools: list[str],
        rank: int,
        subagent: bool,
    ) -> None:
        self.key = key
        self.record = record
        self.usage = usage
        self.total = total
        self.tools = tools
        self.rank = rank
        self.subagent = subagent

    def merge(self, usage: dict, total: int, tools: list[str], rank: int) -> None:
        """Another block of the same response: keep the fullest usage, join the tools."""
        if total > self.total:
            self.usage, self.total = usage, total
        if tools:
            self.tools += [tool for tool in tools if tool not in self.tools]
        if rank > self.rank:
            self.rank = rank

    def call(self, path: str) -> ApiCall | None:
        record = self.record
        tokens = _tokens(self.usage)
        if tokens is None:
            return None
        session_id = record.get("sessionId")
        cwd = record.get("cwd")
        return ApiCall(
            NAME,
            self.key,
            session_id if type(session_id) is str and session_id else _session_from_path(path),
            cwd if type(cwd) is str else "",
            record["timestamp"],
            record["message"]["model"],
            tokens,
            tuple(self.tools),
            self.subagent,
            _fidelity(record.get("version")),
            0.0,
            False,
            path,
        )


def _embedded_assistant_line(data: dict[str, Any], outer: dict[str, Any]) -> dict | None:
    """The sub-agent assistant line a parent's progress line carries a copy of."""
    message = data.get("message")
    if type(message) is not dict:
        return None
    if type(message.get("message")) is dict:  # a whole transcript line
        return message if message.get("type") == "assistant" else None
    if type(message.get("usage")) is dict:  # a bare API message
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
    drafts: dict[str, _Draft],
    record: dict[str, Any],
    subagent_file: bool,
    *,
    copy: bool,
) -> None:
    message = record.get("message")
    if type(message) is not dict:
        result.skipped["assistant line without message"] += 1
        return
    model = message.get("model")
    if model == "<synthetic>":
        return  # locally generated error text, not an API call
    usage = message.get("usage")
    message_id = message.get("id")
    if type(usage) is not dict or type(message_id) is not str or not message_id:
        result.skipped["assistant line without usage or id"] += 1
        return
    total = _total(usage)
    if total is None or type(model) is not str:
        result.skipped["wrong field types"] += 1
        return
    request_id = record.get("requestId")
    key = f"{message_id}:{request_id}" if type(request_id) is str and request_id else message_id
    sidechain = record.get("isSidechain") is True
    content = message.get("content")
    tools = _tool_labels(content) if type(content) is list else []
    rank = (0 if copy else _RANK_TOP_LEVEL) + (0 if sidechain else _RANK_MAIN_THREAD) + total
    draft = drafts.get(key)
    if draft is not None:
        draft.merge(usage, total, tools, rank)
        return
    timestamp = parse_timestamp(record.get("timestamp"))
    if timestamp is None:
        result.skipped["wrong field types"] += 1
        return
    record["timestamp"] = timestamp
    subagent = subagent_file or sidechain or bool(record.get("agentId"))
    drafts[key] = _Draft(key, record, usage, total, tools, rank, subagent)


def _total(usage: dict[str, Any]) -> int | None:
    """All tokens of a usage record, or None when a count is not a number."""
    total = 0
    for name in _COUNTS:
        value = usage.get(name, 0)
        if type(value) is not int:
            return None
        total += value
    return total


_COUNTS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


def _tokens(usage: dict[str, Any]) -> Tokens | None:
    """Anthropic usage to Tokens; None when a count is not a number."""
    fresh = usage.get("input_tokens", 0)
    cache_write = usage.get("cache_creation_input_tokens", 0)
    cache_read = usage.get("cache_read_input_tokens", 0)
    output = usage.get("output_tokens", 0)
    if not (type(fresh) is type(cache_write) is type(cache_read) is type(output) is int):
        return None
    split = usage.get("cache_creation")
    write_1h = 0
    if type(split) is dict:
        one_hour = split.get("ephemeral_1h_input_tokens", 0)
        write_1h = one_hour if type(one_hour) is int and 0 <= one_hour <= cache_write else 0
    return Tokens(
        input=fresh,
        cache_write_5m=cache_write - write_1h,
        cache_write_1h=write_1h,
        cache_read=cache_read,
        output=output,
    )


@cache
def _fidelity(version: Any) -> Fidelity:
    """Versions 2.1.0–2.1.97 wrote streaming placeholders for output (FORMATS.md §1.6)."""
    if isinstance(version, str) and version.startswith("2.1."):
        patch = version[4:].split(".")[0].split("-")[0]
        if patch.isdigit() and int(patch) <= 97:
            return Fidelity.LOWER_BOUND
    return Fidelity.EXACT


def _tool_labels(content: list[Any]) -> list[str]:
    labels = []
    for block in content:
        if type(block) is dict and block.get("type") == "tool_use":
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
