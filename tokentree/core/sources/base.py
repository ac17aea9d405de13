"""What every source module shares: the parse result and small metadata helpers."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson

from tokentree.core.records import ApiCall, Prompt


@dataclass(slots=True)
class FileParse:
    """What one read of one file produced.

    `state` is the parser's memory between incremental reads (cumulative
    counters, the current model, …): it must be plain JSON data.
    `ranks` holds, per call key, which copy wins when the same call is found in
    several files (higher wins). `families` names, per call key, the response it
    carries (Claude's message.id): a sub-agent copy of a response that a main-thread
    call already counts under another request (a `/btw` replay) does not count. A key
    begins with its family up to the family's first ':' (the index finds a family's
    copies along its key index so).
    """

    calls: list[ApiCall] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    families: dict[str, str] = field(default_factory=dict)
    prompts: list[Prompt] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] = field(default_factory=dict)
    rate_limits: dict[str, Any] | None = None


class ReadMode(StrEnum):
    """How a log file is read, which decides how the index follows its changes."""

    LINES = "lines"  # an append-only JSONL log: read on from the last complete line
    WHOLE = "whole"  # one JSON document rewritten in place: any change means read it afresh
    DATABASE = "database"  # a SQLite database: asked for the rows changed since the last read


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A log file to index, the source that reads it and the root it was found under."""

    path: str
    source: str
    root: str
    machine: str = ""  # another machine's, for a file of its ledger


def json_objects(lines: Iterable[bytes], skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    """The lines that decode to JSON objects; the others are counted, never fatal."""
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            skipped["malformed JSON"] += 1
            continue
        if type(record) is dict:
            yield record
        else:
            skipped["not a JSON object"] += 1


TOKEN_LIMIT = 1 << 53
"""Counts from here up are corrupt: no call is that large, and SQLite's integers or a float
would overflow or round them."""
BAD_TOKENS = "token count out of range or not an integer"
BAD_TIMESTAMP = "timestamp missing, malformed or out of range"
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_LEEWAY = 86_400.0  # a clock a day ahead is still a clock, not a corrupt line


def token_count_problem(*counts: Any) -> str | None:
    """Why these counts cannot be summed as tokens, or None when every one can.

    Logs are not trusted: a bool is an int to Python, a negative count would subtract, a huge
    one overflows the index. A count that is not a number at all is a wrong type, as elsewhere.
    """
    for count in counts:
        if type(count) is not int or not 0 <= count < TOKEN_LIMIT:
            return BAD_TOKENS if isinstance(count, int | float) else "wrong field types"
    return None


def parse_timestamp(value: Any) -> float | None:
    """ISO-8601 (`…Z`) to epoch seconds; None when it is not a timestamp or not a plausible one."""
    if not isinstance(value, str):
        return None
    try:
        return _plausible(datetime.fromisoformat(value).timestamp())
    except ValueError:
        return None


def parse_epoch_ms(value: Any) -> float | None:
    """Epoch milliseconds to epoch seconds; None when not a number or not a plausible time."""
    return _plausible(value / 1000) if type(value) in (int, float) else None


def parse_epoch_seconds(value: Any) -> float | None:
    """Epoch seconds (a number); None when not a number or not a plausible time."""
    return _plausible(float(value)) if type(value) in (int, float) else None


def _plausible(seconds: float) -> float | None:
    """A call's time from 2000 to a day from now: outside that, dates overflow in the tree."""
    return seconds if _EARLIEST <= seconds <= time.time() + _LEEWAY else None


def basename(path: Any) -> str:
    """What follows the last "/" (trailing slashes ignored), as posixpath.basename, but faster."""
    return str(path).rstrip("/\\").rpartition("/")[2] if path else ""


def first_word(command: Any) -> str:
    """The program a shell command runs, never its arguments (they may hold secrets)."""
    if isinstance(command, list):
        words = [str(part) for part in command]
        if len(words) >= 3 and basename(words[0]) in SHELLS and words[1].startswith("-"):
            return first_word(words[2])
        return basename(words[0]) if words else ""
    if not isinstance(command, str):
        return ""
    words = command.split(None, 1)  # a long script is not split whole
    while words:
        if "=" not in words[0]:  # skip leading VAR=value assignments
            return basename(words[0])
        words = words[1].split(None, 1) if len(words) > 1 else []
    return ""


SHELLS = frozenset({"bash", "sh", "zsh", "fish", "dash", "pwsh", "powershell"})


def url_host(url: Any) -> str:
    try:
        return urlsplit(str(url)).hostname or ""
    except ValueError:
        return ""


def tool_label(name: str, target: str) -> str:
    return f"{name} {target}" if target else name


def walk_files(root: str, suffixes: tuple[str, ...], problems: list[str]) -> list[str]:
    """Every file below `root` with one of `suffixes`; unreadable folders are noted, not fatal.

    Plain strings, not Paths: a warm start walks thousands of files. Only regular
    files (or links to one) count: reading a FIFO would block. A FIFO, device or
    socket is noted; a dangling link, like a file deleted since, is a missing file
    and passes silently. Links to folders are not followed.
    """
    found: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as error:
            problems.append(f"cannot read {folder}: {error.strerror or error}")
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(suffixes):
                    if entry.is_file():  # a stat only for a link: readdir tells the rest
                        found.append(entry.path)
                    elif os.path.exists(entry.path):
                        problems.append(f"skipped {entry.path}: not a regular file")
            except OSError:
                problems.append(f"cannot read {entry.path}")
    return found
