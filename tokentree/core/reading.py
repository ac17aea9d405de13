"""Reading what is new in log files into priced rows: the part of indexing that uses every core.

Groups of files are read, here or by reader processes (readers.py), each into a
small SQLite database of what it found (staging.py); the index copies it in and
decides which copy of a call counts.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tokentree.core import tail
from tokentree.core.cache_misses import CARRIED
from tokentree.core.compressed import is_compressed, read_compressed_blocks
from tokentree.core.pricing import PriceBook, RateKey, Rates
from tokentree.core.rows import call_rows
from tokentree.core.sources import database_reader, markers_for, parser_for, read_mode
from tokentree.core.sources.base import FileParse, ReadMode
from tokentree.core.staging import Stage

HEAD_BYTES = 4096
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # below this, starting worker processes costs more
GROUP_BYTES = 16 * 1024 * 1024
"""The most a group of files sent to a reader holds. Each group costs the main process about a
millisecond to store whatever its size, so groups are this big while much is left to read,
and shrink towards the end (down to a sixteenth), so readers finish together."""
ID_BYTES = 64
"""A group of files is given an id for each this many bytes it holds (IDS_LEAST at least)
for the copies it stages: no call takes fewer bytes of log. The index takes the ids as they
are when they are free, and gives new ones otherwise."""
IDS_LEAST = 4096

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReadTask:
    file_id: int
    path: str
    source: str
    offset: int
    state: dict[str, Any]
    size: int  # bytes to read, as the plan's stat saw them: groups work and weighs progress
    generation: int = 0  # of the file's stored reads: a read of an older one is not stored


@dataclass(slots=True)
class ReadResult:
    """What one read of one file produced, apart from its rows (those are staged)."""

    task: ReadTask
    calls: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] = field(default_factory=dict)
    rate_limits: dict[str, Any] | None = None
    next_offset: int = 0
    pending: int = 0
    stat: tuple[int, int, int, int] = (0, 0, 0, 0)  # device, inode, size, mtime_ns
    head: tuple[int, str] = (0, "")
    error: str = ""

    @property
    def bytes_read(self) -> int:
        return self.next_offset - self.task.offset


@dataclass(slots=True)
class ReadBatch:
    """A group of files read by one worker: per file what to remember, and the rows staged."""

    results: list[ReadResult]  # none once its reader stored it
    staged: bytes | mmap.mmap  # the staged database, serialized
    learned_rates: dict[RateKey, Rates | None]
    staged_at: str = ""  # a reader process left it in this file rather than send it
    stored: Any = None  # what storing it did, where the reader process stored it itself
    file_ids: list[int] = field(default_factory=list)  # the files read: what progress counts

    @property
    def bytes_read(self) -> int:
        return sum(result.bytes_read for result in self.results)


class Store(Protocol):
    """Stores a batch in the reader process that read it (the index's storing.InReaders)."""

    def __call__(self, batch: ReadBatch) -> ReadBatch: ...

    def close(self) -> None: ...


def read_all(
    tasks: Sequence[ReadTask],
    prices: PriceBook,
    workers: int,
    progress: Progress | None,
    group_bytes: int = GROUP_BYTES,
    first_id: int = 1,
    store: Store | None = None,
) -> Iterator[ReadBatch]:
    """Read the tasks in groups of up to `group_bytes` (_groups), biggest first on all cores
    when there is enough to read; the groups' copies get ids from `first_id` on (ID_BYTES)."""
    sizes = {task.file_id: task.size for task in tasks}
    total = sum(sizes.values())
    if workers > 1 and total >= PARALLEL_MIN_BYTES and len(tasks) > 1:
        from tokentree.core.readers import in_reader_processes  # not for warm starts

        ordered = sorted(tasks, key=lambda task: sizes[task.file_id], reverse=True)
        groups = list(_groups(ordered, sizes, group_bytes, first_id, workers))
        batches = in_reader_processes(groups, workers, prices, store)
        yield from _reporting(batches, sizes, progress)
    else:
        groups = _groups(list(tasks), sizes, group_bytes, first_id, 1)
        yield from _reporting(read_here(groups, prices), sizes, progress)


def read_here(
    groups: Iterable[tuple[list[ReadTask], int]], prices: PriceBook
) -> Iterator[ReadBatch]:
    """The groups' batches, read in this process one after the other."""
    use_prices(prices)
    for group in groups:
        yield read_files(*group)


class ReadersEnded(RuntimeError):
    """A reader process ended before the files given to the readers were read (killed)."""


def _groups(
    tasks: list[ReadTask], sizes: dict[int, int], group_bytes: int, first_id: int, readers: int
) -> Iterator[tuple[list[ReadTask], int]]:
    """Tasks in groups, each with the first id of its copies: of up to `group_bytes`, and of
    an even share of what is left once less than that is left for each of the `readers`
    (few round trips, readers done at about the same time, results as each group is read)."""
    left = sum(sizes[task.file_id] for task in tasks)
    least = group_bytes // 16
    group: list[ReadTask] = []
    size = 0
    for task in tasks:
        group.append(task)
        size += sizes[task.file_id]
        if size >= min(group_bytes, max(left // (2 * readers), least)):
            yield group, first_id
            first_id += max(size // ID_BYTES, IDS_LEAST)
            left -= size
            group, size = [], 0
    if group:
        yield group, first_id


_prices: PriceBook | None = None


def use_prices(prices: PriceBook) -> None:
    """Give this process (a worker, or the caller itself) the price book to price rows with."""
    global _prices
    _prices = prices


def read_files(tasks: list[ReadTask], first_id: int = 1, folder: str = "") -> ReadBatch:
    """Read a group of files into one staged batch, its copies' ids from `first_id` on; a
    reader process leaves the staged database in a file in `folder`."""
    assert _prices is not None
    stage = Stage(first_id)
    results = [read_file(task, stage, _prices) for task in tasks]
    file_ids = [task.file_id for task in tasks]
    staged = stage.finish()
    if folder:
        path = os.path.join(folder, f"{first_id}.db")
        try:
            with open(path, "wb") as file:
                file.write(staged)
        except OSError:  # the folder is full (a small /dev/shm): sent through the pipe
            with suppress(OSError):
                os.unlink(path)
        else:
            return ReadBatch(results, b"", _prices.take_learned(), path, file_ids=file_ids)
    return ReadBatch(results, staged, _prices.take_learned(), file_ids=file_ids)


def read_file(task: ReadTask, stage: Stage, prices: PriceBook) -> ReadResult:
    """Read, parse and price what is new in one file, block by block (bounded memory)."""
    result = ReadResult(task, state=dict(task.state), next_offset=task.offset)
    mode = read_mode(task.source, task.path)
    try:
        fingerprint = file_fingerprint(task.path, mode)
        if mode is ReadMode.DATABASE:
            parsed, size = database_reader(task.source)(task.path, dict(task.state))
            _take(result, parsed, stage, prices)
            result.next_offset = task.offset + size
        else:
            markers = markers_for(task.source)
            if is_compressed(task.path):
                blocks: Iterable[tail.Chunk] = read_compressed_blocks(task.path, markers)
            elif mode is ReadMode.WHOLE:
                blocks = [read_whole(task.path)]
            else:
                blocks = tail.read_line_blocks(task.path, task.offset, markers)
            parse = parser_for(task.source)
            for chunk in blocks:
                _take(result, parse(chunk.lines, result.state, task.path), stage, prices)
                if chunk.huge_lines:
                    result.skipped["line over the size limit"] += chunk.huge_lines
                result.next_offset, result.pending = chunk.next_offset, chunk.pending_bytes
            result.head = file_head(task.path, HEAD_BYTES)
    except OSError as error:
        return ReadResult(task, next_offset=task.offset, error=_why(task.path, error))
    # a document caught half-written keeps no fingerprint, so the next update reads it again
    whole_pending = mode is ReadMode.WHOLE and result.pending
    result.stat = (0, 0, 0, 0) if whole_pending else fingerprint
    return result


def _take(result: ReadResult, parsed: FileParse, stage: Stage, prices: PriceBook) -> None:
    """Stage one parse's calls and prompts, and keep what the file's state needs."""
    file_id = result.task.file_id
    state = parsed.state  # the parser's, and the sessions' last calls (cache_misses.py)
    state.setdefault(CARRIED, result.state.get(CARRIED, {}))
    rows = call_rows(parsed.calls, parsed.ranks, prices, parsed.families, result.task.path, state)
    stage.add(file_id, rows)
    stage.add_prompts(file_id, ((p.source, p.session_id, p.timestamp) for p in parsed.prompts))
    result.calls += len(rows)
    result.skipped += parsed.skipped
    result.state = parsed.state
    if parsed.rate_limits is not None:
        result.rate_limits = parsed.rate_limits


def _why(path: str, error: OSError) -> str:
    return f"cannot read {path}: {error.strerror or error}"


def file_fingerprint(path: str, mode: ReadMode) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime_ns) of a log file; raises OSError when it is gone.

    A database in WAL mode takes its writes into the `-wal` file first, and its
    main file may not change for a long time: the log counts as part of it.
    """
    info = os.stat(path)
    size, mtime_ns = info.st_size, info.st_mtime_ns
    if mode is ReadMode.DATABASE:
        try:
            wal = os.stat(f"{path}-wal")
        except OSError:
            pass
        else:
            size += wal.st_size
            mtime_ns = max(mtime_ns, wal.st_mtime_ns)
    return info.st_dev, info.st_ino, size, mtime_ns


def read_whole(path: str) -> tail.Chunk:
    """A JSON document rewritten in place, as one piece; one caught half-written waits."""
    with tail.open_log(path) as handle:
        data = handle.read()
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return tail.Chunk([], 0, len(data), 0)
    return tail.Chunk([data], len(data), 0, 0)


def file_head(path: str, length: int | None) -> tuple[int, str]:
    """A hash of the file's first bytes: a replaced file shows a different head.

    Raises OSError when the file cannot be read: an unreadable file is not a replaced one."""
    with tail.open_log(path) as handle:
        data = handle.read(length or 0)
    return len(data), hashlib.blake2b(data, digest_size=16).hexdigest()


def _reporting(
    batches: Iterable[ReadBatch], sizes: dict[int, int], progress: Progress | None
) -> Iterator[ReadBatch]:
    total = sum(sizes.values())
    done = 0
    for batch in batches:
        yield batch
        done += sum(sizes[file_id] for file_id in batch.file_ids)
        if progress:
            progress(done, total)
