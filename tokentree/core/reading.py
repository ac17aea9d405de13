"""Reading what is new in log files into priced rows: the part of indexing that uses every core.

Workers return plain tuples (cheap to send between processes); the index
decides which copy of a call counts and stores it.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import msgspec
import orjson

from tokentree.core.pricing import PriceBook, RateKey, Rates
from tokentree.core.records import ApiCall, Fidelity, Tokens
from tokentree.core.sources import database_reader, markers_for, parser_for, read_mode
from tokentree.core.sources.base import ReadMode
from tokentree.core.tail import Chunk, read_complete_lines

HEAD_BYTES = 4096
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # below this, starting worker processes costs more
GROUP_BYTES = 4 * 1024 * 1024  # files sent to a worker at a time
TOOL_SEPARATOR = "\x1f"

Row = tuple[Any, ...]
"""A call as stored: see ROW_COLUMNS."""
ROW_COLUMNS = (
    "key",
    "rank",
    "source",
    "session",
    "project",
    "ts",
    "model",
    "input",
    "cw5",
    "cw1h",
    "cr",
    "output",
    "reasoning",
    "tools",
    "subagent",
    "fidelity",
    "cost",
    "unpriced",
    "rewound",
    "source_cost",
    "speed",
    "web_searches",
    "family",
)
KEY, RANK, TS, SUBAGENT, COST, UNPRICED, FAMILY = (
    ROW_COLUMNS.index(name)
    for name in ("key", "rank", "ts", "subagent", "cost", "unpriced", "family")
)
TOKENS = slice(7, 13)  # input … reasoning
encode_rows = msgspec.msgpack.Encoder().encode
decode_rows = msgspec.msgpack.Decoder(list[list[Any]]).decode
"""Rows travel and are stored as one msgpack list (a row per call would cost SQLite about
8 µs to insert from Python, and pickling them one by one more than encoding them at once)."""

Sums = dict[tuple[Any, ...], list[float]]
"""Rollup sums per (source, session, project, model, quarter hour): calls, input, cache write,
cache read, output, reasoning, cost, unpriced calls."""
SLOT_SECONDS = 900


def add_to_sums(sums: Sums, rows: Iterable[Row], sign: int = 1) -> None:
    """Add (or take away) rows' counts: workers sum what they read, the index corrects that."""
    for row in rows:
        group = (row[2], row[3], row[4], row[6], int(row[5] // SLOT_SECONDS))
        total = sums.get(group)
        if total is None:
            total = sums[group] = [0, 0, 0, 0, 0, 0, 0.0, 0]
        total[0] += sign
        total[1] += sign * row[7]
        total[2] += sign * (row[8] + row[9])
        total[3] += sign * row[10]
        total[4] += sign * row[11]
        total[5] += sign * row[12]
        total[6] += sign * row[16]
        total[7] += sign * row[17]


Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReadTask:
    file_id: int
    path: str
    source: str
    offset: int
    state: dict[str, Any]
    size: int  # bytes to read, as the plan's stat saw them: groups work and weighs progress


@dataclass(frozen=True, slots=True)
class ReadRows:
    """A read's new calls on their way to the index: the rows as one blob, which the index
    stores as it is when every call is new, and, as columns, what deduplication needs."""

    blob: bytes
    keys: list[str]
    families: list[str]
    ranks: list[int]
    subagents: list[int]
    first_ts: float
    last_ts: float

    @classmethod
    def of(cls, rows: list[Row]) -> ReadRows:
        keys, families, ranks, subagents, times = (
            list(map(itemgetter(column), rows)) for column in (KEY, FAMILY, RANK, SUBAGENT, TS)
        )
        return cls(
            encode_rows(rows),
            keys,
            families,
            ranks,
            subagents,
            min(times, default=0.0),
            max(times, default=0.0),
        )

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self) -> list[Row]:
        return decode_rows(self.blob)


_NO_ROWS = ReadRows.of([])


@dataclass(slots=True)
class ReadResult:
    """What one read of one file produced, ready to store."""

    task: ReadTask
    rows: ReadRows = _NO_ROWS
    sums: Sums = field(default_factory=dict)  # of all the rows, as if each counted
    prompts: list[tuple[str, str, float]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] = field(default_factory=dict)
    rate_limits: dict[str, Any] | None = None
    next_offset: int = 0
    pending: int = 0
    stat: tuple[int, int, int, int] = (0, 0, 0, 0)  # device, inode, size, mtime_ns
    head: tuple[int, str] = (0, "")
    learned_rates: dict[RateKey, Rates | None] = field(default_factory=dict)
    error: str = ""

    @property
    def bytes_read(self) -> int:
        return self.next_offset - self.task.offset


def read_all(
    tasks: Sequence[ReadTask], prices: PriceBook, workers: int, progress: Progress | None
) -> Iterator[ReadResult]:
    """Read the tasks, biggest first on all cores when there is enough to read."""
    sizes = {task.file_id: task.size for task in tasks}
    total = sum(sizes.values())
    if workers > 1 and total >= PARALLEL_MIN_BYTES and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed  # not for warm starts
        from multiprocessing import get_context

        ordered = sorted(tasks, key=lambda task: sizes[task.file_id], reverse=True)
        prices.preload()  # once here rather than once in each worker
        context = get_context("fork")
        with ProcessPoolExecutor(workers, context, _use_prices, (prices,)) as pool:
            futures = [pool.submit(read_files, group) for group in _groups(ordered, sizes)]
            done = (result for future in as_completed(futures) for result in future.result())
            yield from _reporting(done, sizes, progress)
    else:
        _use_prices(prices)
        yield from _reporting(map(read_file, tasks), sizes, progress)


def _groups(tasks: list[ReadTask], sizes: dict[int, int]) -> Iterator[list[ReadTask]]:
    """Tasks in groups of about GROUP_BYTES: few round trips, results as soon as a group is done."""
    group: list[ReadTask] = []
    size = 0
    for task in tasks:
        group.append(task)
        size += sizes[task.file_id]
        if size >= GROUP_BYTES:
            yield group
            group, size = [], 0
    if group:
        yield group


def read_files(tasks: list[ReadTask]) -> list[ReadResult]:
    return [read_file(task) for task in tasks]


_prices: PriceBook | None = None


def _use_prices(prices: PriceBook) -> None:
    """Give this process (a worker, or the caller itself) the price book to price rows with."""
    global _prices
    _prices = prices


def read_file(task: ReadTask) -> ReadResult:
    """Read, parse and price what is new in one file."""
    assert _prices is not None
    result = ReadResult(task)
    mode = read_mode(task.source, task.path)
    try:
        stat = file_fingerprint(task.path, mode)
        if mode is ReadMode.DATABASE:
            parsed, size = database_reader(task.source)(task.path, dict(task.state))
            chunk = Chunk([], task.offset + size, 0, 0)
        else:
            if mode is ReadMode.WHOLE:
                chunk = read_whole(task.path)
            else:
                chunk = read_complete_lines(task.path, task.offset, markers_for(task.source))
            result.head = file_head(task.path, HEAD_BYTES)
            parsed = parser_for(task.source)(chunk.lines, dict(task.state), task.path)
    except OSError as error:
        result.error = f"cannot read {task.path}: {error.strerror or error}"
        result.next_offset = task.offset
        return result
    before = len(_prices.learned)
    rows = call_rows(parsed.calls, parsed.ranks, _prices, parsed.families)
    add_to_sums(result.sums, rows)
    result.rows = ReadRows.of(rows)
    if len(_prices.learned) > before:
        result.learned_rates = _prices.take_learned()
    result.prompts = [(p.source, p.session_id, p.timestamp) for p in parsed.prompts]
    result.skipped = parsed.skipped
    if chunk.huge_lines:
        result.skipped["line over the size limit"] += chunk.huge_lines
    result.state = parsed.state
    result.rate_limits = parsed.rate_limits
    result.next_offset = chunk.next_offset
    result.pending = chunk.pending_bytes
    # a document caught half-written keeps no fingerprint, so the next update reads it again
    result.stat = (0, 0, 0, 0) if mode is ReadMode.WHOLE and chunk.pending_bytes else stat
    return result


def file_fingerprint(path: str, mode: ReadMode) -> tuple[int, int, int, int]:
    """(device, inode, size, mtime_ns) of a log file; raises OSError when it cannot be read.

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


def read_whole(path: str) -> Chunk:
    """A JSON document rewritten in place, as one piece; one caught half-written waits."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return Chunk([], 0, len(data), 0)
    return Chunk([data], len(data), 0, 0)


def call_rows(
    calls: Sequence[ApiCall],
    ranks: Sequence[int],
    prices: PriceBook,
    families: Mapping[str, str] | None = None,
) -> list[Row]:
    """The calls as priced rows (see ROW_COLUMNS).

    A first index builds a row per call, so each call is unpacked once here and
    priced with PriceBook.price_of().
    """
    rows: list[Row] = []
    append = rows.append
    price_of = prices.price_of
    family_of = (families or {}).get
    for call, rank in zip(calls, ranks, strict=True):
        source, key, session, project, timestamp, model, tokens, tools, subagent, fidelity = call[
            :10
        ]
        fresh, write_5m, write_1h, cache_read, output, reasoning = tokens
        speed, web_searches = call.speed, call.web_searches
        cost, unpriced = price_of(model, source, timestamp, speed, tokens, web_searches)
        append(
            (
                key,
                rank,
                source,
                session,
                project,
                timestamp,
                model,
                fresh,
                write_5m,
                write_1h,
                cache_read,
                output,
                reasoning,
                TOOL_SEPARATOR.join(tools),
                int(subagent),
                fidelity.value,
                cost,
                int(unpriced),
                int(call.rewound),
                call.source_cost,
                speed,
                web_searches,
                family_of(key, ""),
            )
        )
    return rows


_FIDELITY = {member.value: member for member in Fidelity}


def row_call(row: Sequence[Any], path: str, missing: bool) -> ApiCall:
    """A stored row as the call the tree and the exports read: call_rows() undone."""
    (
        key,
        _rank,
        source,
        session,
        project,
        ts,
        model,
        fresh,
        write_5m,
        write_1h,
        cache_read,
        output,
        reasoning,
        tools,
        subagent,
        fidelity,
        cost,
        unpriced,
        rewound,
        source_cost,
        speed,
        web_searches,
        _family,
    ) = row
    return ApiCall(
        source,
        key,
        session,
        project,
        ts,
        model,
        Tokens(fresh, write_5m, write_1h, cache_read, output, reasoning),
        tuple(tools.split(TOOL_SEPARATOR)) if tools else (),
        subagent == 1,
        _FIDELITY[fidelity],
        cost,
        unpriced == 1,
        path,
        missing,
        rewound == 1,
        source_cost,
        speed,
        web_searches,
    )


def file_head(path: str, length: int | None) -> tuple[int, str]:
    """A hash of the file's first bytes: a replaced file shows a different head."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(length or 0)
    except OSError:
        return (0, "")
    return len(data), hashlib.blake2b(data, digest_size=16).hexdigest()


def _reporting(
    results: Iterable[ReadResult], sizes: dict[int, int], progress: Progress | None
) -> Iterator[ReadResult]:
    total = sum(sizes.values())
    done = 0
    for result in results:
        yield result
        done += sizes[result.task.file_id]
        if progress:
            progress(done, total)
