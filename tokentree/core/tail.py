"""Byte-offset reading of append-only JSONL files that keeps a half-written last line for later."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longer lines are skipped and counted: no assistant writes a record this large."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """The complete lines appended since `start`, and where the next read begins."""

    lines: list[bytes]
    next_offset: int
    pending_bytes: int  # a half-written last line, left for the next read
    huge_lines: int


def read_complete_lines(path: Path | str, offset: int) -> Chunk:
    """Read the lines completed since `offset`.

    A trailing piece without a newline is read only when it is already a whole
    JSON value (a file whose writer omitted the final newline); otherwise it is
    half-written and stays pending, so it is read once, complete, next time.
    """
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")
    lines.pop()  # the empty piece after the final newline
    tail = data[end:]
    if tail.strip() and _is_whole_json(tail):
        lines.append(tail)
        end = len(data)
    huge = 0
    if any(len(line) > MAX_LINE_BYTES for line in lines):
        kept = [line for line in lines if len(line) <= MAX_LINE_BYTES]
        huge = len(lines) - len(kept)
        lines = kept
    return Chunk(lines, offset + end, len(data) - end, huge)


def _is_whole_json(piece: bytes) -> bool:
    try:
        orjson.loads(piece)
    except orjson.JSONDecodeError:
        return False
    return True
