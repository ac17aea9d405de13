"""Byte-offset reading of append-only JSONL files that keeps a half-written last line for later.

Most bytes of a transcript are tool output or model text that holds no usage,
so each line is looked at only where a source's markers (`"usage"`, …) sit: at
its end, then from its start up to the first marker. Only candidate lines are
copied, and lines that could hold nothing of interest are never decoded (as in
ccusage).

A file is read a block at a time, so a transcript of gigabytes costs a few
megabytes of memory, not its size.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

import orjson

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longer lines are skipped and counted: no assistant writes a record this large."""
BLOCK_BYTES = 8 * 1024 * 1024
"""How much of a file is read at once: large enough that a block holds thousands of lines."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Complete lines appended since a read's offset, and where the next read begins."""

    lines: list[bytes]  # only the lines holding a marker (all lines when no markers are given)
    next_offset: int
    pending_bytes: int  # a half-written last line, left for the next read
    huge_lines: int


Marker = tuple[bytes, bytes | None]
"""A byte string that makes a line worth decoding, and one that, right after it, vetoes it."""
VETO_WINDOW = 256
TAIL_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class Markers:
    """What makes a line of one source worth decoding.

    `at_end` names markers the source writes near the end of its lines (Claude's
    usage ends a model response): those lines are recognised without scanning
    the long text before it.
    """

    wanted: tuple[Marker, ...]
    at_end: tuple[bytes, ...] = ()


class NotRegularFile(OSError):
    """A FIFO, device or socket where a log was expected: reading one could block forever."""


def open_log(path: str) -> BinaryIO:
    """Open a log for reading, refusing anything but a regular file.

    O_NONBLOCK keeps the open itself from waiting for a FIFO's writer; the
    check after it, on the descriptor, cannot be raced by a rename.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_line_blocks(
    path: str, offset: int, markers: Markers | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[Chunk]:
    """The lines completed since `offset` that hold one of `markers`, a block at a time.

    Each chunk holds the candidate lines of one block's complete lines and the
    offset just after them; the last chunk (there is always one) also says how
    many bytes of a half-written line wait for the next read. A trailing piece
    without a newline is read only when it is already a whole JSON value (a
    file whose writer omitted the final newline); otherwise it is half-written
    and stays pending, so it is read once, complete, next time.

    A block's unfinished last line is read again at the start of the next
    block rather than joined to it. A line longer than a block is first
    followed to its newline a block at a time, then read whole; one over
    MAX_LINE_BYTES is skipped and counted without ever being held, whether or
    not it holds a marker. So memory stays within a block and one line of at
    most MAX_LINE_BYTES (and that line's copy as a candidate).
    """
    huge = 0
    with open_log(path) as handle:
        handle.seek(offset)
        # asked for no more than the file holds (one byte more shows its end): a block's
        # worth of fresh memory costs more than reading a small log
        size = min(block_bytes, max(os.fstat(handle.fileno()).st_size - offset, 0) + 1)
        while True:
            data = handle.read(size)
            at_eof = len(data) < size
            end = data.rfind(b"\n") + 1
            if not end and not at_eof:  # a line longer than the block
                length, complete = _follow_line(handle, len(data), block_bytes)
                if length - complete <= MAX_LINE_BYTES:
                    size = length + (not complete)  # read it whole; a short read ends the file
                elif complete:
                    huge += 1
                    offset += length
                    size = block_bytes
                else:  # too long to hold, so it cannot be judged whole: it waits
                    yield Chunk([], offset, length, huge)
                    return
                handle.seek(offset)
                continue
            lines = _candidates(data, end, markers) if end else []
            if end > MAX_LINE_BYTES:
                lines, huge = _drop_huge(data, end, lines, huge)
            offset += end
            if not at_eof:
                del data  # not held while the lines are decoded
                yield Chunk(lines, offset, 0, huge)
                huge = 0
                size = block_bytes
                handle.seek(offset)  # its unfinished last line is read again with the next block
                continue
            tail = data[end:]
            pending = len(tail)
            if tail.strip() and _is_whole_json(tail):
                if pending > MAX_LINE_BYTES:
                    huge += 1
                else:
                    lines += _candidates(tail + b"\n", pending + 1, markers)
                offset, pending = offset + pending, 0
            yield Chunk(lines, offset, pending, huge)
            return


def _follow_line(handle: BinaryIO, length: int, block_bytes: int) -> tuple[int, bool]:
    """How long a line that fills a whole block runs: up to and including its newline
    (True), or to the end of the file (False). Read a block at a time, never kept."""
    while block := handle.read(block_bytes):
        newline = block.find(b"\n")
        if newline >= 0:
            return length + newline + 1, True
        length += len(block)
    return length, False


def _candidates(data: bytes, end: int, markers: Markers | None) -> list[bytes]:
    if markers is None:
        return _split(data, end)
    if markers.at_end:
        return _find_by_line(data, end, markers)
    return _find_each(data, end, markers.wanted)


def _drop_huge(data: bytes, end: int, lines: list[bytes], huge: int) -> tuple[list[bytes], int]:
    """The candidates without lines over MAX_LINE_BYTES, and `huge` plus every such line of
    data[:end], candidate or not. Only a block longer than the limit can hold one."""
    find = data.find
    position = 0
    while position < end:
        stop = find(b"\n", position, end)
        huge += stop - position > MAX_LINE_BYTES
        position = stop + 1
    return [line for line in lines if len(line) <= MAX_LINE_BYTES], huge


def _split(data: bytes, end: int) -> list[bytes]:
    lines = data[:end].split(b"\n")
    lines.pop()  # the empty piece after the final newline
    return lines


def _find_by_line(data: bytes, end: int, markers: Markers) -> list[bytes]:
    """The lines of data[:end] worth decoding, line by line: a line whose last TAIL_WINDOW
    bytes hold an `at_end` marker is; any other is looked at from its start.

    There, the first marker decides: when its veto follows closely, the line can hold
    nothing of interest (a tool result) and the rest of it is not scanned.

    This loop runs once a line, so its cost is mostly calls: the tail is searched
    backwards with `rfind` (the marker sits nearer the line's end than the window's
    start, and one literal is found faster than by a regex), and no builtin is called
    where a comparison does.
    """
    search = _pattern(tuple(marker for marker, _ in markers.wanted)).search
    first, *others = markers.at_end
    vetoes = dict(markers.wanted)
    found: list[bytes] = []
    append = found.append
    find, rfind = data.find, data.rfind
    position = 0
    while position < end:
        stop = find(b"\n", position, end)
        tail = stop - TAIL_WINDOW
        if tail < position:
            tail = position
        if rfind(first, tail, stop) >= 0 or (
            others and any(rfind(marker, tail, stop) >= 0 for marker in others)
        ):
            append(data[position:stop])
        elif (match := search(data, position, stop)) is not None:
            hit = match.start()
            veto = vetoes[match[0]]
            limit = hit + VETO_WINDOW
            if veto is None or find(veto, hit, limit if limit < stop else stop) < 0:
                append(data[position:stop])
        position = stop + 1
    return found


def _find_each(data: bytes, end: int, wanted: Sequence[Marker]) -> list[bytes]:
    """The lines of data[:end] holding a marker its veto does not closely follow, in file
    order, each once: one fast search per marker (a regex of several markers runs at a
    tenth of the speed of a search for one)."""
    stops: dict[int, int] = {}  # line start → its end
    find, rfind = data.find, data.rfind
    for marker, veto in wanted:
        position = 0
        while (hit := find(marker, position, end)) >= 0:
            stop = find(b"\n", hit, end)
            if veto is None or find(veto, hit, min(hit + VETO_WINDOW, stop)) < 0:
                stops[rfind(b"\n", 0, hit) + 1] = stop
            position = stop + 1
    return [data[start : stops[start]] for start in sorted(stops)]


@cache
def _pattern(markers: tuple[bytes, ...]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(marker) for marker in markers))


def _is_whole_json(piece: bytes) -> bool:
    try:
        orjson.loads(piece)
    except orjson.JSONDecodeError:
        return False
    return True
