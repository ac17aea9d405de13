"""Codex rollouts: `$CODEX_HOME/sessions/**/rollout-*.jsonl[.zst]` and `archived_sessions/`.

Counting rules (FORMATS.md §2, §9.2): `total_token_usage` is cumulative per file
and re-emitted unchanged whenever rate limits refresh, so one call is one advance
of the cumulative total; forks and sub-agents start by replaying history,
which only sets the baseline. Newer CLIs also write a `token_usage_record` per
response: from a file's first record on, its responses are counted from the
records, keyed (thread, response) across every file, and its `token_count`
lines only move the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentree.core.compressed import SUFFIX, is_compressed
from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    FileParse,
    ReadMode,
    basename,
    first_word,
    json_objects,
    parse_epoch_ms,
    parse_timestamp,
    token_count_problem,
    tool_label,
)
from tokentree.core.sources.declaration import Source
from tokentree.core.tail import Markers

NAME = "codex"
SUFFIXES = (".jsonl", f".jsonl{SUFFIX}")
FALLBACK_MODEL = "gpt-5"  # rollouts from before `turn_context` carried the model
_USAGE_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "cache_write_input_tokens",  # since about 0.145; like the cached ones, a part of the input
)
_WANTED = (
    b'"token_count"',
    b'"token_usage_record"',
    b'"turn_context"',
    b'"thread_settings_applied"',
    b'"session_meta"',
    b'"user_message"',
    b'_call"',
)
MARKERS = Markers(tuple((marker, None) for marker in _WANTED))
"""Only lines holding one of these matter: the others are not decoded."""
SPEEDS = {"fast": "fast", "priority": "fast", "flex": "flex", "default": "", "standard": ""}
"""Codex's service tiers as the speed a call is priced at (Fast is sent as "priority");
another value is a tier not known here: standard (FORMATS 9.2)."""
TWIN_SECONDS = 5.0  # a response's token_count and its record are written moments apart
RECORD_RANK = 1  # a response counted from a token_count too: the record's copy is the one
_SHELL_TOOLS = frozenset(
    {"shell", "shell_command", "exec_command", "local_shell", "container.exec"}
)


def discover(env: Mapping[str, str], home: Path) -> list[Path]:
    """`sessions` and `archived_sessions` under each `CODEX_HOME` (comma list) or `~/.codex`."""
    configured = [entry.strip() for entry in env.get("CODEX_HOME", "").split(",") if entry.strip()]
    homes = [Path(entry).expanduser() for entry in configured] or [home / ".codex"]
    return [folder / name for folder in homes for name in ("sessions", "archived_sessions")]


def accepts(path: str) -> bool:
    name = basename(path).removesuffix(SUFFIX)  # a rollout a week old is compressed
    return name.startswith("rollout-") and name.endswith(".jsonl")


def read_mode(path: str) -> ReadMode:
    """A compressed rollout is never appended to (Codex decompresses it to write again)."""
    return ReadMode.WHOLE if is_compressed(path) else ReadMode.LINES


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """Calls and prompts in `lines`, continuing from the `state` of the previous read."""
    result = FileParse(state=state)
    wanted = (line for line in lines if any(marker in line for marker in _WANTED))
    for record in json_objects(wanted, result.skipped):
        if not isinstance(record.get("payload"), dict):
            result.skipped["not a rollout item"] += 1
            continue
        payload = record["payload"]
        kind = record.get("type")
        if kind == "token_usage_record":
            timestamp = parse_timestamp(record.get("timestamp"))
            if timestamp is None:
                result.skipped[BAD_TIMESTAMP] += 1
            else:
                _usage_record(result, state, payload, timestamp, path)
        elif kind == "session_meta":
            _session_meta(state, payload, record)
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str):
                state["model"] = payload["model"]
            if isinstance(payload.get("cwd"), str):
                state.setdefault("cwd", payload["cwd"])
        elif kind == "response_item":
            label = _tool(payload)
            if label:
                state.setdefault("tools", []).append(label)
        elif kind == "event_msg":
            event = payload.get("type")
            timestamp = parse_timestamp(record.get("timestamp"))
            if timestamp is None:
                result.skipped[BAD_TIMESTAMP] += 1  # a snapshot skipped leaves the baseline too
            elif event == "token_count":
                _token_count(result, state, payload, timestamp, record["timestamp"], path)
            elif event == "thread_settings_applied":
                _settings(state, payload.get("thread_settings"))
            elif event == "user_message" and not _replayed(state, timestamp):
                result.prompts.append(Prompt(NAME, _session(state, path), timestamp))
    return result


def _session_meta(state: dict[str, Any], payload: dict[str, Any], record: dict[str, Any]) -> None:
    """The first `session_meta` is the file's own; later ones are replayed parents."""
    if "session" in state:
        return
    state["session"] = payload.get("id") if isinstance(payload.get("id"), str) else ""
    if isinstance(payload.get("cwd"), str):
        state["cwd"] = payload["cwd"]
    started = parse_timestamp(payload.get("timestamp")) or parse_timestamp(record.get("timestamp"))
    source = payload.get("source")
    if isinstance(source, dict) and "subagent" in source:
        state["subagent"] = True
        spawn = source["subagent"]
        parent = spawn.get("thread_spawn", {}) if isinstance(spawn, dict) else {}
        if isinstance(parent, dict) and isinstance(parent.get("parent_thread_id"), str):
            state["parent"] = parent["parent_thread_id"]
        if started is not None:
            state["replay_second"] = int(started)  # the parent's history, restamped at spawn
    elif payload.get("forked_from_id") and started is not None:
        state["replay_before"] = started  # the parent's history keeps its old timestamps


def _settings(state: dict[str, Any], settings: Any) -> None:
    """The service tier holds for the rest of the file until set again (`/fast`); a change
    that does not name one leaves it. Never from config.toml: that would reprice history."""
    tier = settings.get("service_tier") if isinstance(settings, dict) else None
    if isinstance(tier, str):
        state["speed"] = SPEEDS.get(tier, "")


def _replayed(state: dict[str, Any], timestamp: float) -> bool:
    if "replay_before" in state and timestamp < state["replay_before"]:
        return True
    return "replay_second" in state and int(timestamp) == state["replay_second"]


def _session(state: dict[str, Any], path: str) -> str:
    """Sub-agent threads belong to their parent's session."""
    return state.get("parent") or state.get("session") or basename(path).removesuffix(SUFFIX)


def _token_count(
    result: FileParse,
    state: dict[str, Any],
    payload: dict[str, Any],
    timestamp: float,
    stamp: str,
    path: str,
) -> None:
    limits = payload.get("rate_limits")
    if isinstance(limits, dict):
        result.rate_limits = _rate_limits(limits, timestamp) or result.rate_limits
    info = payload.get("info")
    if not isinstance(info, dict):
        return  # a pure rate-limit update
    total = _usage(info.get("total_token_usage"))
    last = _usage(info.get("last_token_usage"))
    if total is None and last is None:
        result.skipped["wrong field types"] += 1
        return
    problem = token_count_problem(*(total or ()), *(last or ()))
    if problem is not None:
        result.skipped[problem] += 1
        return  # the baseline stays: the next good snapshot's advance covers this one
    previous = state.get("total")
    if previous is not None and len(previous) < len(_USAGE_FIELDS):  # kept by an older version
        previous = previous + [0] * (len(_USAGE_FIELDS) - len(previous))
    if total is None:
        delta = last
    elif previous is None:
        delta = total
    elif total == previous:
        return  # the same snapshot re-emitted: not a call
    elif all(now >= before for now, before in zip(total, previous, strict=True)):
        delta = [now - before for now, before in zip(total, previous, strict=True)]
    else:
        delta = last or [0] * len(_USAGE_FIELDS)  # the counter was reset (overflow, compaction)
    if total is not None:
        state["total"] = total
    if state.get("records") or _replayed(state, timestamp) or not any(delta):
        return  # counted from its record, replayed history, or no call at all
    key = f"{state.get('session', '')}:{stamp}:{total[0] + total[2] if total else 0}"
    call = _call(state, path, key, timestamp, delta, state.pop("tools", []))
    result.calls.append(call)
    result.ranks.append(0)
    state["last_count"] = [key, delta, timestamp]


def _usage_record(
    result: FileParse, state: dict[str, Any], payload: dict[str, Any], timestamp: float, path: str
) -> None:
    """One response's own usage (FORMATS 9.2). The response just counted from a token_count,
    when the file's first record is its twin, keeps that call's key: one call either way."""
    usage = _usage(payload.get("usage"))
    thread, response = payload.get("thread_id"), payload.get("response_id")
    if usage is None or not isinstance(thread, str) or not isinstance(response, str):
        result.skipped["wrong field types"] += 1
        return
    problem = token_count_problem(*usage)
    if problem is not None:
        result.skipped[problem] += 1
        return
    key, tools = f"{thread}:{response}", state.pop("tools", [])
    twin = None if state.get("records") else state.pop("last_count", None)
    state["records"] = True
    when = parse_epoch_ms(payload.get("completed_at_ms")) or timestamp
    if twin is not None and twin[1] == usage and abs(twin[2] - timestamp) <= TWIN_SECONDS:
        key, when = twin[0], twin[2]  # as rows.merged makes of the two when read apart
        if result.calls and result.calls[-1].key == key:  # not stored yet: replaced outright
            tools = [*result.calls.pop().tools, *tools]
            result.ranks.pop()
    attribution = payload.get("attribution")
    attribution = attribution if isinstance(attribution, dict) else {}
    model, tier = attribution.get("model"), attribution.get("service_tier")
    call = _call(
        state,
        path,
        key,
        when,
        usage,
        tools,
        model if isinstance(model, str) else None,
        SPEEDS.get(tier, "") if isinstance(tier, str) else None,
    )
    result.calls.append(call)
    result.ranks.append(RECORD_RANK)


def _call(
    state: dict[str, Any],
    path: str,
    key: str,
    timestamp: float,
    usage: list[int],
    tools: list[str],
    model: str | None = None,
    speed: str | None = None,
) -> ApiCall:
    """A call of `usage` (the _USAGE_FIELDS counts), on the turn's model and the file's service
    tier unless given."""
    fresh, cached, output, reasoning, written = usage
    model = model or state.get("model")
    return ApiCall(
        source=NAME,
        key=key,
        session_id=_session(state, path),
        project=state.get("cwd", ""),
        timestamp=timestamp,
        model=model or FALLBACK_MODEL,
        tokens=Tokens(
            input=max(fresh - cached - written, 0),
            cache_write_5m=written,
            cache_read=cached,
            output=output,
            reasoning=reasoning,
        ),
        tools=tuple(tools),
        subagent=bool(state.get("subagent")),
        fidelity=Fidelity.EXACT if model else Fidelity.ESTIMATED,
        file=path,
        speed=state.get("speed", "") if speed is None else speed,
    )


def _usage(value: Any) -> list[Any] | None:
    """The counts of a usage object, unchecked (an absent one: 0); None when there is no object."""
    if not isinstance(value, dict):
        return None
    return [value.get(name, 0) for name in _USAGE_FIELDS]


def _tool(payload: dict[str, Any]) -> str:
    """A label for a tool the model requested; the arguments give only a program or file name."""
    kind = payload.get("type")
    if kind == "web_search_call":
        return "web_search"
    if kind == "local_shell_call":
        action = payload.get("action")
        command = action.get("command") if isinstance(action, dict) else None
        return tool_label("shell", first_word(command))
    if kind not in ("function_call", "custom_tool_call"):
        return ""
    name = payload.get("name")
    if not isinstance(name, str):
        return ""
    if name == "apply_patch":
        return tool_label(name, _patched_file(payload.get("input") or payload.get("arguments")))
    if name in _SHELL_TOOLS:
        return tool_label(name, _shell_program(payload.get("arguments")))
    return name


def _shell_program(arguments: Any) -> str:
    if not isinstance(arguments, str):
        return ""
    try:
        decoded = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(decoded, dict):
        return ""
    return first_word(decoded.get("command") or decoded.get("cmd"))


def _patched_file(patch: Any) -> str:
    if not isinstance(patch, str):
        return ""
    for line in patch.splitlines():
        for marker in ("*** Update File: ", "*** Add File: ", "*** Delete File: "):
            if line.startswith(marker):
                return basename(line[len(marker) :].strip())
    return ""


def _rate_limits(limits: dict[str, Any], observed: float) -> dict[str, Any] | None:
    """The 5-hour and weekly windows in one shape, whichever of Codex's three shapes was logged."""
    windows = {}
    for name, key in (("five_hour", "primary"), ("weekly", "secondary")):
        window = limits.get(key)
        if isinstance(window, dict):
            used = window.get("used_percent")
            minutes = window.get("window_minutes")
            resets = window.get("resets_at")
            if resets is None and isinstance(window.get("resets_in_seconds"), int | float):
                resets = observed + window["resets_in_seconds"]
        else:  # the flat shape of September 2025
            used = limits.get(f"{key}_used_percent")
            minutes = limits.get(f"{key}_window_minutes")
            resets = None
        if isinstance(used, int | float):
            windows[name] = {
                "used_percent": float(used),
                "window_minutes": minutes,
                "resets_at": resets,
            }
    return {"observed_at": observed, **windows} if windows else None


def sniff(path: str, head: bytes) -> bool:
    """A rollout's first line; a compressed one says nothing until decompressed: its name does."""
    if is_compressed(path):
        return accepts(path)
    return b'"payload"' in head and (b'"session_meta"' in head or b'"event_msg"' in head)


SOURCE = Source(
    name=NAME,
    version=3,  # 2: FORMATS.md §9, the 2026 shapes; 3: cache misses (core/cache_misses.py)
    title="Codex",
    badge="codex",
    colour="success",
    aliases=(),
    provider="openai",
    home_env={"CODEX_HOME": ".codex"},
    discover=discover,
    accepts=accepts,
    sniff=sniff,
    parse=parse,
    markers=MARKERS,
    suffixes=SUFFIXES,
    read_mode=read_mode,
)
