"""Gemini CLI chats: `<home>/.gemini/tmp/<project>/chats/session-*.json(l)` and sub-agent chats.

Counting rules (FORMATS.md §3): one call per `gemini` message id. A legacy
`.json` chat is one document rewritten on every update; a `.jsonl` chat appends
the whole message again each time it changes, so the last record of an id wins.
Input includes cached input and thoughts are billed as output. Resuming a
legacy chat copies it into a `.jsonl` of the same name: the session and message
ids make the two copies one call. A rewind hides messages from the chat, but
they were paid for, so they stay counted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    FileParse,
    ReadMode,
    basename,
    first_word,
    json_objects,
    parse_timestamp,
    token_count_problem,
    tool_label,
    url_host,
)
from tokentree.core.sources.declaration import Source
from tokentree.core.tail import Markers

NAME = "gemini-cli"
SUFFIXES = (".jsonl", ".json")
MARKERS = Markers(
    ((b'"gemini"', None), (b'"user"', None), (b'"sessionId"', None), (b'"$rewindTo"', None))
)
"""Only message, prompt, session and rewind lines matter in a `.jsonl` chat: UI notices are not
decoded."""
FALLBACK_MODEL = "gemini-2.5-pro"  # the CLI's default when a message does not name its model

# The append log is the newer copy of a migrated session; otherwise the fuller usage wins.
_RANK_APPEND_LOG = 1 << 48
_CHECKPOINT = b'{"$set":{"messages"'
"""A `$set` that rewrites the whole message list: it repeats messages already logged one by one."""
_FILE_ARGUMENTS = ("file_path", "absolute_path", "dir_path", "path")
_FILE_TOOLS = frozenset({"read_file", "write_file", "replace", "edit", "list_directory"})
_SHELL_TOOLS = frozenset({"run_shell_command", "shell"})


def discover(env: Mapping[str, str], home: Path) -> list[Path]:
    """`tmp` under `<home>/.gemini`, where `GEMINI_CLI_HOME` replaces the home, as in the CLI."""
    configured = env.get("GEMINI_CLI_HOME", "").strip()
    return [(Path(configured).expanduser() if configured else home) / ".gemini" / "tmp"]


def accepts(path: str) -> bool:
    """Chat files; `logs.json`, checkpoints and shell history live outside `chats/`."""
    return path.endswith(SUFFIXES) and "/chats/" in path.replace("\\", "/")


def read_mode(path: str) -> ReadMode:
    """A legacy `.json` chat is rewritten whole, so it cannot be read on from an offset."""
    return ReadMode.WHOLE if path.endswith(".json") else ReadMode.LINES


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """Calls and prompts in `lines` (a whole `.json` chat, or new lines of a `.jsonl` one).

    `$rewindTo` undoes a message and all after it, or every message when the id
    is not in the chat (as the CLI replays it): those calls were paid for, so
    they stay counted, marked rewound; calls stored by an earlier read are marked
    by a copy with no tokens, which the index merges into the stored one.
    """
    result = FileParse(state=state)
    latest: dict[str, dict[str, Any]] = {}  # message id → its last record in this read
    # the ids still in the chat, in the CLI's order: a message rewound and logged again goes last
    live: dict[str, None] = dict.fromkeys(state.get("order", ()))
    rewound: set[str] = set()
    for record in _records(lines, path, result):
        target = record.get("$rewindTo")
        if isinstance(target, str):
            rewound.update(_rewind(live, target))
            continue
        update = record.get("$set")
        if isinstance(update, dict):
            _metadata(state, update, path)
        elif isinstance(record.get("id"), str) and "type" in record:
            live.setdefault(record["id"])
            rewound.discard(record["id"])  # logged again after a rewind: back in the chat
            latest.pop(record["id"], None)  # keep the order of the last record
            latest[record["id"]] = record
        elif isinstance(record.get("sessionId"), str):
            _metadata(state, record, path)
    state["order"] = list(live)
    counted: dict[str, float] = state.setdefault("counted", {})  # id → time of its call
    for record in latest.values():
        _message(result, state, record, path, rewound=record["id"] in rewound)
    for message_id in sorted(rewound - latest.keys()):
        if message_id in counted:  # stored by an earlier read: mark it
            _mark_rewound(result, state, message_id, counted[message_id], path)
    counted.update((call.key.rsplit(":", 1)[1], call.timestamp) for call in result.calls)
    return result


def _rewind(live: dict[str, None], target: str) -> list[str]:
    """Remove `target` and all after it from the chat, or every message when `target` is not
    in it (the CLI clears the chat then); returns the ids removed."""
    ids = list(live)
    undone = ids[ids.index(target) :] if target in live else ids
    for message_id in undone:
        del live[message_id]
    return undone


def _mark_rewound(
    result: FileParse, state: dict[str, Any], message_id: str, timestamp: float, path: str
) -> None:
    session = _session(state, path)
    result.calls.append(
        ApiCall(
            source=NAME,
            key=f"gemini:{state.get('session') or session}:{message_id}",
            session_id=session,
            project=state.get("project", ""),
            timestamp=timestamp,
            model=FALLBACK_MODEL,
            tokens=Tokens(),
            file=path,
            rewound=True,
        )
    )
    result.ranks.append(0)


def _records(lines: Iterable[bytes], path: str, result: FileParse) -> Iterator[dict[str, Any]]:
    """The records of a read: the lines of a `.jsonl` chat, or a `.json` chat taken apart."""
    if path.endswith(".json"):
        try:
            document = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError:
            result.skipped["malformed JSON"] += 1
            return
        if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
            result.skipped["not a Gemini chat"] += 1
            return
        yield {key: value for key, value in document.items() if key != "messages"}
        for message in document["messages"]:
            if isinstance(message, dict):
                yield message
            else:
                result.skipped["wrong field types"] += 1
        return
    records = (line for line in lines if not line.startswith(_CHECKPOINT))
    yield from json_objects(records, result.skipped)


def _metadata(state: dict[str, Any], record: dict[str, Any], path: str) -> None:
    """The session a chat belongs to, read once from its first record."""
    if isinstance(record.get("sessionId"), str):
        state.setdefault("session", record["sessionId"])
    if "project" in state:
        return
    chats = _chats_folder(path)
    parent = os.path.dirname(path)
    if record.get("kind") == "subagent" or (chats and parent != chats):
        state["subagent"] = True
        if chats and parent != chats:
            state["parent"] = basename(parent)  # chats/<parent session id>/<sub-agent>.jsonl
    state["project"] = _project(chats, record)


def _chats_folder(path: str) -> str:
    parent = os.path.dirname(path)
    for folder in (parent, os.path.dirname(parent)):
        if basename(folder) == "chats":
            return folder
    return ""


def _project(chats: str, record: dict[str, Any]) -> str:
    """The project's path: the CLI's marker file, its project registry, or the chat's folder."""
    directories = record.get("directories")
    fallback = directories[0] if isinstance(directories, list) and directories else ""
    if not chats:
        return fallback if isinstance(fallback, str) else ""
    folder = os.path.dirname(chats)  # tmp/<slug or hash of the project path>
    try:
        with open(os.path.join(folder, ".project_root"), encoding="utf-8") as handle:
            marked = handle.read().strip()
        if marked:
            return marked
    except (OSError, UnicodeDecodeError):
        pass
    registry = os.path.join(os.path.dirname(os.path.dirname(folder)), "projects.json")
    try:
        with open(registry, "rb") as handle:
            projects = orjson.loads(handle.read()).get("projects")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        projects = None
    if isinstance(projects, dict):
        digest = record.get("projectHash")
        for root, slug in projects.items():
            if slug == basename(folder) or hashlib.sha256(root.encode()).hexdigest() == digest:
                return root
    return fallback if isinstance(fallback, str) and fallback else basename(folder)


def _session(state: dict[str, Any], path: str) -> str:
    """Sub-agent chats belong to their parent's session."""
    stem = os.path.splitext(basename(path))[0]
    return state.get("parent") or state.get("session") or stem


def _message(
    result: FileParse, state: dict[str, Any], record: dict[str, Any], path: str, *, rewound: bool
) -> None:
    kind = record.get("type")
    if kind not in ("gemini", "user"):
        return  # info, error and warning notices
    timestamp = parse_timestamp(record.get("timestamp"))
    if timestamp is None:
        result.skipped[BAD_TIMESTAMP] += 1
        return
    session = _session(state, path)
    if kind == "user":
        if not state.get("subagent"):  # a sub-agent's "user" is the task its parent gave
            result.prompts.append(Prompt(NAME, session, timestamp))
        return
    model = record.get("model")
    usage = record.get("tokens")
    if usage is None and not isinstance(model, str):
        return  # a synthetic message (a summary), not a model response
    if model is not None and not isinstance(model, str):
        result.skipped["wrong field types"] += 1
        return
    tokens = _tokens(usage)
    if isinstance(tokens, str):
        result.skipped[tokens] += 1
        return
    call = ApiCall(
        source=NAME,
        key=f"gemini:{state.get('session') or session}:{record['id']}",
        session_id=session,
        project=state.get("project", ""),
        timestamp=timestamp,
        model=model or FALLBACK_MODEL,
        tokens=tokens,
        tools=tuple(_tool_labels(record.get("toolCalls"))),
        subagent=bool(state.get("subagent")),
        fidelity=Fidelity.EXACT if model else Fidelity.ESTIMATED,
        file=path,
        rewound=rewound,
    )
    result.calls.append(call)
    result.ranks.append((_RANK_APPEND_LOG if path.endswith(".jsonl") else 0) + tokens.total)


def _tokens(usage: Any) -> Tokens | str:
    """Gemini usage to Tokens, or why it cannot be counted.

    No usage at all is kept as zero, which prices as unknown; a missing or null count is 0.
    """
    if usage is None:
        return Tokens()
    if not isinstance(usage, dict):
        return "wrong field types"
    counts = [usage.get(name) for name in ("input", "cached", "output", "thoughts", "tool")]
    counts = [0 if count is None else count for count in counts]
    problem = token_count_problem(*counts)
    if problem is not None:
        return problem
    prompt, cached, output, thoughts, tool = counts
    return Tokens(
        input=max(prompt - cached, 0) + tool,
        cache_read=cached,
        output=output + thoughts,
        reasoning=thoughts,
    )


def _tool_labels(calls: Any) -> list[str]:
    if not isinstance(calls, list):
        return []
    labels = []
    for call in calls:
        if isinstance(call, dict) and isinstance(call.get("name"), str):
            arguments = call.get("args")
            name = call["name"]
            labels.append(tool_label(name, _target(name, arguments)))
    return labels


def _target(name: str, arguments: Any) -> str:
    """A short, non-secret target: a file's basename, a command's program, a URL's host."""
    if not isinstance(arguments, dict):
        return ""
    if name in _FILE_TOOLS:
        return basename(next((arguments[key] for key in _FILE_ARGUMENTS if arguments.get(key)), ""))
    if name in _SHELL_TOOLS:
        return first_word(arguments.get("command"))
    if name == "web_fetch" and arguments.get("url"):
        return url_host(arguments["url"])
    return ""


SOURCE = Source(
    name=NAME,
    version=3,  # 2: FORMATS.md §9, the 2026 shapes; 3: cache misses (core/cache_misses.py)
    title="Gemini CLI",
    badge="gemini",
    colour="primary",
    aliases=("gemini",),
    provider="google",
    home_env={"GEMINI_CLI_HOME": "."},
    discover=discover,
    accepts=accepts,
    sniff=lambda path, head: b'"sessionId"' in head and b'"projectHash"' in head,
    parse=parse,
    markers=MARKERS,
    suffixes=SUFFIXES,
    read_mode=read_mode,
)
