"""Reading Claude Code transcripts (claude_code.py declares where they are).

Counting rules (FORMATS.md §1): one call per (message.id, requestId), written on
one line per content block and copied into resumed sessions and into the
parent's `agent_progress` lines; the most complete copy wins. An advisor or
compaction step inside a response is billed apart (§9.1): a call of its own,
keyed and deduplicated like its response.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import Any

import msgspec

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens, made
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    TOKEN_LIMIT,
    FileParse,
    basename,
    first_word,
    parse_timestamp,
    token_count_problem,
    tool_label,
    url_host,
)
from tokentree.core.sources.claude_code import NAME
from tokentree.core.sources.claude_code_lines import (
    Block,
    CacheMissReason,
    CacheSplit,
    Copy,
    Counts,
    Diagnostics,
    Iteration,
    Line,
    Message,
    OutputDetails,
    Progress,
    ServerTools,
    ToolInput,
    Usage,
    decode_line,
)

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


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """Calls and prompts in `lines` (the lines holding MARKERS; any other line is ignored)."""
    result = FileParse(state=state)
    in_subagent_file = "/subagents/" in path.replace("\\", "/") or basename(path).startswith(
        "agent-"
    )
    drafts: dict[str, _Draft] = {}
    decode = decode_line
    for line in lines:
        if line[:1] != b"{":
            result.skipped["not a JSON object"] += 1
            continue
        try:
            record = decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # bad UTF-8, deep nesting
            result.skipped["malformed JSON"] += 1
            continue
        kind = record.type
        if kind == "assistant":
            _add_call(result, drafts, record, in_subagent_file, copy=False)
        elif kind == "progress":
            data = record.data
            if type(data) is Progress and data.type == "agent_progress":
                embedded = _embedded_assistant_line(data, record)
                if embedded is not None:
                    _add_call(result, drafts, embedded, True, copy=True)
        elif kind == "user":
            prompt = _prompt(record)
            if prompt is not None:
                result.prompts.append(prompt)
    shared: dict[str, str] = {}  # one string object per session, folder and model
    for draft in drafts.values():
        result.calls.append(draft.call(path, shared))
        result.ranks.append(draft.rank)
    result.families = {key: draft.family for key, draft in drafts.items()}
    return result


class _Draft(msgspec.Struct, gc=False):
    """A call while its content blocks are still being read: one line per block.

    Only the usage with the largest total is kept, with the model it is billed
    at; it is turned into Tokens once, when the file's lines are done. A Struct
    is built in C, at a third of a Python class's cost; it is never encoded.
    """

    key: str
    family: str  # the response (or its step): see FileParse.families
    line: Line
    timestamp: float
    model: str
    usage: Counts
    total: int
    tools: list[str]
    rank: int
    subagent: bool

    def merge(self, usage: Counts, total: int, model: str, tools: list[str], rank: int) -> None:
        """Another line of the same call: keep the fullest usage, join the tools."""
        if total > self.total:
            self.usage, self.total, self.model = usage, total, model
        if tools:
            known = self.tools
            if known:  # else the line's own list will do: no list is changed in place
                tools = known + [tool for tool in tools if tool not in known]
            self.tools = tools
        if rank > self.rank:
            self.rank = rank

    def call(self, path: str, shared: dict[str, str]) -> ApiCall:
        """The call; `shared` makes equal strings one object, which pickles once per file."""
        line = self.line
        session_id = line.sessionId
        cwd = line.cwd
        version = line.version
        if type(session_id) is not str or not session_id:
            session_id = _session_from_path(path)
        cwd = cwd if type(cwd) is str else ""
        usage = self.usage
        executor = type(usage) is Usage  # a step billed apart has no mode or searches of its own
        return made(
            ApiCall,
            (
                NAME,
                self.key,
                shared.setdefault(session_id, session_id),
                shared.setdefault(cwd, cwd),
                self.timestamp,
                shared.setdefault(self.model, self.model),
                _tokens(usage),
                tuple(self.tools),
                self.subagent,
                _fidelity(version if type(version) is str else None),  # an object is no cache key
                0.0,
                False,
                path,
                False,
                False,
                None,
                _speed(usage.speed) if executor else "",
                _web_searches(usage.server_tool_use) if executor else 0,
                _cache_miss(line.message) if executor else "",
                0.0,
            ),
        )


def _embedded_assistant_line(data: Progress, outer: Line) -> Line | None:
    """The sub-agent assistant line a parent's progress line carries a copy of."""
    copy = data.message
    if type(copy) is not Copy:
        return None
    if type(copy.message) is Message:  # a whole transcript line
        return copy if copy.type == "assistant" else None
    if type(copy.usage) is Usage:  # a bare API message
        return Line(
            type="assistant",
            message=Message(copy.id, copy.model, copy.usage, copy.content, copy.diagnostics),
            requestId=outer.requestId,
            timestamp=outer.timestamp,
            sessionId=outer.sessionId,
            cwd=outer.cwd,
            version=outer.version,
            isSidechain=True,
        )
    return None


def _add_call(
    result: FileParse,
    drafts: dict[str, _Draft],
    line: Line,
    subagent_file: bool,
    *,
    copy: bool,
) -> None:
    message = line.message
    if type(message) is not Message:
        result.skipped["assistant line without message"] += 1
        return
    model = message.model
    if model == "<synthetic>":
        return  # locally generated error text, not an API call
    usage = message.usage
    message_id = message.id
    if type(usage) is not Usage or type(message_id) is not str or not message_id:
        result.skipped["assistant line without usage or id"] += 1
        return
    problem = _count_problem(usage)
    if problem is not None or type(model) is not str:
        result.skipped[problem or "wrong field types"] += 1
        return
    steps = usage.iterations
    billed_apart = _NO_STEPS
    if type(steps) is list:
        model, billed_apart = _billed_apart(steps, model)
    total = (
        usage.input_tokens
        + usage.cache_creation_input_tokens
        + usage.cache_read_input_tokens
        + usage.output_tokens
    )
    request_id = line.requestId
    key = f"{message_id}:{request_id}" if type(request_id) is str and request_id else message_id
    sidechain = line.isSidechain is True
    content = message.content
    tools = _tool_labels(content) if type(content) is list else _NO_TOOLS
    rank_of_copy = (0 if copy else _RANK_TOP_LEVEL) + (0 if sidechain else _RANK_MAIN_THREAD)
    rank = rank_of_copy + total
    draft = drafts.get(key)
    if draft is not None:
        draft.merge(usage, total, model, tools, rank)
    else:
        timestamp = parse_timestamp(line.timestamp)
        if timestamp is None:
            result.skipped[BAD_TIMESTAMP] += 1
            return
        subagent = subagent_file or sidechain or bool(line.agentId)
        draft = drafts[key] = _Draft(
            key, message_id, line, timestamp, model, usage, total, tools, rank, subagent
        )
    for index, step_model, step in billed_apart:
        _add_step(drafts, draft, index, step_model, step, rank_of_copy)


_NO_STEPS: list[tuple[int, str, Iteration]] = []


def _billed_apart(steps: list[Any], model: str) -> tuple[str, list[tuple[int, str, Iteration]]]:
    """The model the top level is billed at, and the steps billed as calls of their own, each
    with its place in `steps` and its model (FORMATS.md §9.1; counts checked by _count_problem).

    `message` steps are the top level's parts, never added. An advisor is billed at its own
    model, a compaction at the response's; a fallback's model served the top level.
    """
    executor_model = model
    apart = []
    for index, step in enumerate(steps):
        if type(step) is not Iteration:
            continue
        kind = step.type
        if kind == "advisor_message":
            apart.append((index, step.model, step))
        elif kind == "compaction":
            apart.append((index, model, step))
        elif kind == "fallback_message":
            executor_model = step.model
    return executor_model, apart


def _add_step(
    drafts: dict[str, _Draft],
    response: _Draft,
    index: int,
    model: str,
    step: Iteration,
    rank_of_copy: int,
) -> None:
    """A step billed apart, repeated on each line of its response: merged as the response is."""
    key = f"{response.key}:iter:{index}"
    total = _total(step)
    draft = drafts.get(key)
    if draft is not None:
        draft.merge(step, total, model, _NO_TOOLS, rank_of_copy + total)
        return
    drafts[key] = _Draft(
        key,
        f"{response.family}:iter:{index}",  # a /btw replay of the step drops with its response
        response.line,
        response.timestamp,
        model,
        step,
        total,
        _NO_TOOLS,  # the tools are the executor's
        rank_of_copy + total,
        response.subagent,
    )


def _total(counts: Counts) -> int:
    return (
        counts.input_tokens
        + counts.cache_creation_input_tokens
        + counts.cache_read_input_tokens
        + counts.output_tokens
    )


def _count_problem(usage: Usage) -> str | None:
    """Why a count of the usage cannot be summed (every count read, in one check), or None.

    The steps billed apart are checked too, and their models, which price them.
    """
    split = usage.cache_creation
    server_tools = usage.server_tool_use
    uncached = usage.input_tokens
    written = usage.cache_creation_input_tokens
    read = usage.cache_read_input_tokens
    output = usage.output_tokens
    one_hour = split.ephemeral_1h_input_tokens if type(split) is CacheSplit else 0
    searches = server_tools.web_search_requests if type(server_tools) is ServerTools else 0
    # token_count_problem's common case in one expression, as it runs on every line: ints
    # (a bool's type is not int) whose bitwise OR, negative where one is, is below the limit
    # (a power of two) only where all are
    if not (
        int is type(uncached) is type(written) is type(read) is type(output)
        and int is type(one_hour) is type(searches)
        and 0 <= uncached | written | read | output | one_hour | searches < TOKEN_LIMIT
    ):
        return token_count_problem(uncached, written, read, output, one_hour, searches)
    steps = usage.iterations
    if type(steps) is not list:
        return None
    for step in steps:
        if type(step) is Iteration:
            problem = _step_problem(step)
            if problem is not None:
                return problem
    return None


def _step_problem(step: Iteration) -> str | None:
    """Why a step that is billed, or that names the top level's model, cannot be read."""
    kind = step.type
    named = kind in ("advisor_message", "fallback_message")
    if named and (type(step.model) is not str or not step.model):
        return "wrong field types"
    if kind not in ("advisor_message", "compaction"):
        return None  # its counts are never read
    split = step.cache_creation
    return token_count_problem(
        step.input_tokens,
        step.cache_creation_input_tokens,
        step.cache_read_input_tokens,
        step.output_tokens,
        split.ephemeral_1h_input_tokens if type(split) is CacheSplit else 0,
    )


def _tokens(usage: Counts) -> Tokens:
    """Anthropic counts (already checked by _count_problem) to Tokens."""
    cache_write = usage.cache_creation_input_tokens
    split = usage.cache_creation
    write_1h = 0
    if type(split) is CacheSplit:
        one_hour = split.ephemeral_1h_input_tokens
        write_1h = one_hour if one_hour <= cache_write else 0
    output = usage.output_tokens
    details = getattr(usage, "output_tokens_details", None)  # steps have none
    thinking = details.thinking_tokens if type(details) is OutputDetails else 0
    if type(thinking) is not int or not 0 <= thinking <= output:
        thinking = 0  # informational: a wrong value is not shown, and costs nothing
    # input, cache write 5m and 1h, cache read, output, of which thinking
    return made(
        Tokens,
        (
            usage.input_tokens,
            cache_write - write_1h,
            write_1h,
            usage.cache_read_input_tokens,
            output,
            thinking,
        ),
    )


def _cache_miss(message: Any) -> str:
    """Why the request's prompt cache missed, as the cache-diagnosis beta logged it: the reason,
    and the tokens it says missed where it gives them ("tools_changed 89018"); else ""."""
    diagnostics = getattr(message, "diagnostics", None)
    if type(diagnostics) is not Diagnostics:
        return ""
    reason = diagnostics.cache_miss_reason
    if type(reason) is not CacheMissReason or type(reason.type) is not str:
        return ""
    missed = reason.cache_missed_input_tokens
    if type(missed) is int and missed >= 0:
        return f"{reason.type} {missed}"
    return reason.type


def _web_searches(server_tools: Any) -> int:
    """Searches billed apart (the count already checked by _count_problem)."""
    return server_tools.web_search_requests if type(server_tools) is ServerTools else 0


def _speed(value: Any) -> str:
    """A mode priced apart ("fast"), or "" for the standard one."""
    return value if type(value) is str and value not in ("", "standard") else ""


@cache
def _fidelity(version: str | None) -> Fidelity:
    """Versions 2.1.0–2.1.97 wrote streaming placeholders for output (FORMATS.md §1.6)."""
    if version is not None and version.startswith("2.1."):
        patch = version[4:].split(".")[0].split("-")[0]
        if patch.isdigit() and int(patch) <= 97:
            return Fidelity.LOWER_BOUND
    return Fidelity.EXACT


def _tool_labels(content: list[Any]) -> list[str]:
    """Labels of the tool_use blocks: most lines hold one text or thinking block, and none."""
    labels = _NO_TOOLS
    for block in content:
        if type(block) is Block and block.type == "tool_use":
            name = block.name
            if isinstance(name, str):
                if labels is _NO_TOOLS:
                    labels = []
                labels.append(tool_label(name, _tool_target(name, block.input)))
    return labels


_NO_TOOLS: list[str] = []  # shared, never changed: merge() copies before adding


def _tool_target(name: str, arguments: Any) -> str:
    """A short, non-secret target: a file's basename, a command's program, a URL's host."""
    if type(arguments) is not ToolInput:
        return ""
    if name in _FILE_TOOLS:
        return basename(arguments.file_path or arguments.notebook_path)
    if name == "Bash":
        return first_word(arguments.command)
    if name == "WebFetch":
        return url_host(arguments.url)
    if name in ("Task", "Agent"):
        kind = arguments.subagent_type
        return kind if isinstance(kind, str) else ""
    return ""


def _prompt(line: Line) -> Prompt | None:
    """A real user prompt starts a turn (FORMATS.md §1.4); everything else does not."""
    if line.isMeta or line.isSidechain or line.isCompactSummary:
        return None
    message = line.message
    if type(message) is not Message:
        return None
    content = message.content
    if type(content) is list:
        blocks = [block for block in content if type(block) is Block]
        if any(block.type == "tool_result" for block in blocks):
            return None
        texts = [block.text for block in blocks if block.type == "text"]
        content = texts[0] if texts else None
    if not isinstance(content, str) or content.lstrip().startswith(_NOT_PROMPTS):
        return None
    timestamp = parse_timestamp(line.timestamp)
    session_id = line.sessionId
    if timestamp is None or not isinstance(session_id, str):
        return None
    return Prompt(NAME, session_id, timestamp)


def _session_from_path(path: str) -> str:
    stem = os.path.splitext(basename(path))[0]
    parent = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return parent if os.path.basename(os.path.dirname(path)) == "subagents" else stem
