"""What Claude Code's parser reads of a transcript line: msgspec Structs of its fields.

The fields read from a line: msgspec builds only these and skips the rest of
the line without building it (tool results, file contents, thinking: most of
the bytes). Logs are not trusted, so a field that may hold another type is
`Any`, or a Struct joined with NotObject: the line still decodes, and the
parser's checks (claude_code_parse.py) skip the wrong type, counted as "wrong field
types" where it spoils a call.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Fields(msgspec.Struct, gc=False):
    """Decoded JSON holds no reference cycles, so the collector need not track these."""


NotObject = str | int | float | bool | None | list[Any]
"""Any JSON value but an object: where a Struct is expected, a wrong type to skip."""


class ToolInput(Fields):
    """The arguments a tool label is made of; Write contents and Edit strings are skipped."""

    file_path: Any = None
    notebook_path: Any = None
    command: Any = None
    url: Any = None
    subagent_type: Any = None


class Block(Fields):
    """A content block: `text`, `tool_use` (name, input) or another kind, left unread."""

    type: Any = None
    text: Any = None
    name: Any = None
    input: ToolInput | NotObject = None


Content = list[Block | NotObject] | str | int | float | bool | None | dict[str, Any]
"""A string or a list of blocks; anything else is a wrong type."""


class CacheSplit(Fields):
    ephemeral_1h_input_tokens: Any = 0


class ServerTools(Fields):
    web_search_requests: Any = 0


class Counts(Fields):
    """Anthropic token counts: a missing count is 0, any other bad count makes the line wrong."""

    input_tokens: Any = 0
    cache_creation_input_tokens: Any = 0
    cache_read_input_tokens: Any = 0
    output_tokens: Any = 0
    cache_creation: CacheSplit | NotObject = None


class Iteration(Counts):
    """One sampling step of a response (FORMATS.md §9.1): its kind, and its model if named."""

    type: Any = None
    model: Any = None


Steps = list[Iteration | NotObject] | str | int | float | bool | None | dict[str, Any]
"""A list of steps; anything else is a wrong type, ignored like a wrong cache split."""


class OutputDetails(Fields):
    thinking_tokens: Any = None  # the part of output_tokens that was thinking (§9.1)


class Usage(Counts):
    """A response's usage: the executor's tokens, and the steps they were sampled in."""

    speed: Any = None  # "fast" in fast mode (FORMATS.md §1.6)
    server_tool_use: ServerTools | NotObject = None  # web searches, billed per search
    iterations: Steps = None
    output_tokens_details: OutputDetails | NotObject = None


class CacheMissReason(Fields):
    type: Any = None
    cache_missed_input_tokens: Any = None  # a magnitude, never a billing number


class Diagnostics(Fields):
    """The cache-diagnosis beta's verdict on a request (FORMATS.md §9.1)."""

    cache_miss_reason: CacheMissReason | NotObject = None


class Message(Fields):
    """An API message: the model's response on assistant lines, the prompt on user lines."""

    id: Any = None
    model: Any = None
    usage: Usage | NotObject = None
    content: Content = None
    diagnostics: Diagnostics | NotObject = None


class Line(Fields):
    """A transcript line."""

    type: Any = None
    message: Message | NotObject = None
    data: Progress | NotObject = None
    requestId: Any = None
    timestamp: Any = None
    sessionId: Any = None
    cwd: Any = None
    version: Any = None
    agentId: Any = None
    isSidechain: Any = None
    isMeta: Any = None
    isCompactSummary: Any = None


class Copy(Line):
    """A progress line's copy: a whole transcript line or a bare API message, so both fields."""

    id: Any = None
    model: Any = None
    usage: Usage | NotObject = None
    content: Content = None
    diagnostics: Diagnostics | NotObject = None


class Progress(Fields):
    """A progress line's `data`; `agent_progress` carries a sub-agent's messages."""

    type: Any = None
    message: Copy | NotObject = None


decode_line = msgspec.json.Decoder(Line).decode
