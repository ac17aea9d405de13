"""The normalised records every source produces: one ApiCall per billed request."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

made = tuple.__new__
"""A named tuple made of all its values, at C speed: its class's own __new__ is a Python
function that takes them one by one (for the records every indexed call makes)."""

QUARTER_HOUR = 900
"""Seconds in the slots sums are kept in: every UTC offset in use is a multiple of 15 minutes,
so a slot lies in one day in any time zone."""


class Fidelity(StrEnum):
    """How far a call's token numbers can be trusted."""

    EXACT = "exact"
    LOWER_BOUND = "lower-bound"  # streaming placeholders: the real output was larger
    ESTIMATED = "estimated"


class Tokens(NamedTuple):
    """Token counts in one shape for every source (Anthropic semantics).

    `input` is uncached input; `output` includes reasoning; `reasoning` is the
    informational part of `output`.
    """

    input: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0
    reasoning: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def prompt(self) -> int:
        """Everything sent to the model: what long-context tiers are judged on."""
        return self.input + self.cache_write + self.cache_read

    @property
    def total(self) -> int:
        return self.prompt + self.output


class ApiCall(NamedTuple):
    """One billed model request, deduplicated, with the metadata the tree needs.

    `key` is the source's own identity for the request (the dedup key);
    `tools` are short labels built from metadata only ("Read app.py", "Bash pytest").
    Records are named tuples: millions are built, pickled between processes and
    compared, and a frozen dataclass costs several times more at each.
    """

    source: str
    key: str
    session_id: str
    project: str
    timestamp: float  # seconds since the epoch, UTC
    model: str
    tokens: Tokens
    tools: tuple[str, ...] = ()
    subagent: bool = False
    fidelity: Fidelity = Fidelity.EXACT
    cost: float = 0.0
    unpriced: bool = False
    file: str = ""
    file_missing: bool = False
    rewound: bool = False  # undone in the chat afterwards (Gemini), but paid for
    source_cost: float | None = None  # the cost the assistant itself logged (OpenCode)
    speed: str = ""  # "fast": Claude's fast mode, billed at its own (higher) rates
    web_searches: int = 0  # searches the model ran on the server, billed per search
    cache_miss: str = ""  # why the prompt cache missed: as Claude logged it ("tools_changed
    # 89018"), else as tokentree saw it (core/cache_misses.py: "idle", "model_switch"…)
    cache_waste: float = 0.0  # USD the history sent again cost over reading it from the cache


class Prompt(NamedTuple):
    """A real user prompt: the start of a turn in its session."""

    source: str
    session_id: str
    timestamp: float
