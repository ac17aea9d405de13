"""Reading what is new in log files into priced rows: the part of indexing that uses every core.

Workers read groups of files and stage what they found in a small SQLite
database (see index.staging); the index copies it in and decides which copy of
a call counts.
"""

from __future__ import annotations

import gc
import hashlib
import mmap
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

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
GROUP_BYTES = 4 * 1024 * 1024  # files sent to a worker at a time
SHARED_MEMORY = "/dev/shm"
"""Where readers leave their staged batches for the index, when the system has it (a folder
in memory); the temporary folder otherwise."""
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

    results: list[ReadResult]
    staged: bytes | mmap.mmap  # the staged database, serialized
    learned_rates: dict[RateKey, Rates | None]
    staged_at: str = ""  # a reader process left it in this file rather than send it

    @property
    def bytes_read(self) -> int:
        return sum(result.bytes_read for result in self.results)


def read_all(
    tasks: Sequence[ReadTask],
    prices: PriceBook,
    workers: int,
    progress: Progress | None,
    group_bytes: int = GROUP_BYTES,
    first_id: int = 1,
) -> Iterator[ReadBatch]:
    """Read the tasks in groups of about `group_bytes`, biggest first on all cores when there
    is enough to read; the groups' copies get ids from `first_id` on (ID_BYTES)."""
    sizes = {task.file_id: task.size for task in tasks}
    total = sum(sizes.values())
    if workers > 1 and total >= PARALLEL_MIN_BYTES and len(tasks) > 1:
        import shutil  # not for warm starts

        ordered = sorted(tasks, key=lambda task: sizes[task.file_id], reverse=True)
        groups = list(_groups(ordered, sizes, group_bytes, first_id))
        folder = _staging_folder()
        try:
            done = _in_reader_processes(groups, workers, prices, folder)
            yield from _reporting(done, sizes, progress)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
    else:
        groups = _groups(list(tasks), sizes, group_bytes, first_id)
        yield from _reporting(_read_here(groups, prices), sizes, progress)


def _read_here(
    groups: Iterable[tuple[list[ReadTask], int]], prices: PriceBook
) -> Iterator[ReadBatch]:
    """The groups' batches, read in this process one after the other."""
    _use_prices(prices)
    for group in groups:
        yield read_files(*group)


class ReadersEnded(RuntimeError):
    """A reader process ended before the files given to the readers were read (killed)."""


def _in_reader_processes(
    groups: list[tuple[list[ReadTask], int]], workers: int, prices: PriceBook, folder: str
) -> Iterator[ReadBatch]:
    """The groups' batches, each as soon as one of `workers` forked readers has read it.

    Lighter in this process than a process pool, whose threads and queues cost it 0.05 s per
    GB (the process that more cores do not make faster): the readers inherit the groups when
    forked, take the next one from a shared counter, and each sends its batches on a pipe of
    its own. They are forked by one process that imports the price data first (_fork_readers):
    it costs 0.3 s of CPU, once instead of once per reader, and not in this process.
    """
    from multiprocessing import connection, get_context

    context = get_context("fork")
    taken = context.Value("q", 0)
    pipes = [context.Pipe(duplex=False) for _ in range(min(workers, len(groups)))]
    senders = [sender for _, sender in pipes]
    waiting = [receiver for receiver, _ in pipes]
    parent = context.Process(
        target=_fork_readers, args=(groups, taken, senders, prices, folder), daemon=True
    )
    if not _started(parent):  # no process to be had (a limit): the groups are read here
        for receiver, sender in pipes:
            receiver.close()
            sender.close()
        yield from _read_here(groups, prices)
        return
    try:
        for sender in senders:
            sender.close()
        received = 0
        while waiting:
            for pipe in connection.wait(waiting):
                try:
                    batch = pipe.recv()
                except EOFError:  # that reader is done
                    waiting.remove(pipe)
                    continue
                if isinstance(batch, BaseException):
                    raise batch
                received += 1
                yield _mapped(batch)
        parent.join()  # as it reaps its readers: their CPU time is counted (benchmarks)
        if received < len(groups):
            raise ReadersEnded(
                f"a reader process ended early (killed: out of memory?) with"
                f" {len(groups) - received} groups of files unread; what was read is kept,"
                " run tokentree again to read the rest"
            )
    finally:
        if parent.is_alive():
            parent.terminate()  # which ends its readers
        parent.join()
        for receiver, _ in pipes:
            receiver.close()


def _started(parent: Any) -> bool:
    """Start the readers' parent, with Ctrl-C held back until it ignores it; False when the
    system gives no process."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        parent.start()
    except OSError:
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return True


def _fork_readers(
    groups: list[tuple[list[ReadTask], int]],
    taken: Any,
    senders: list[Any],
    prices: PriceBook,
    folder: str,
) -> None:
    """The readers' parent: imports the price data, forks a reader per sender (they inherit
    the data), and waits for them; ended (SIGTERM), it ends and reaps them first.

    Ctrl-C is the main process's to handle (it ends this one): here and in the readers it
    is ignored, so no traceback of theirs is printed and none is left a zombie."""
    readers: list[int] = []

    def end(signum: int, frame: Any) -> None:
        for pid in readers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in readers:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGTERM, end)
    try:
        PriceBook.preload()
    except Exception as error:  # the readers would fail on it too: told once
        senders[0].send(error)
        return
    gc.freeze()  # the readers' garbage collector never walks what they inherit: half its time
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # no reader goes unrecorded
    for sender in senders:
        try:
            pid = os.fork()
        except OSError:  # no process to be had (a limit): those forked read every group
            break
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            try:
                for other in senders:
                    if other is not sender:
                        other.close()
                _reader(groups, taken, sender, prices, folder)
            finally:
                os._exit(0)
        readers.append(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if not readers:  # not one: this process reads them
        _reader(groups, taken, senders[0], prices, folder)
    for sender in senders:
        sender.close()
    for pid in readers:
        os.waitpid(pid, 0)


def _reader(
    groups: list[tuple[list[ReadTask], int]],
    taken: Any,
    sender: Any,
    prices: PriceBook,
    folder: str,
) -> None:
    """A reader process: the next unread group, until none is left; an error is sent back."""
    _use_prices(prices)
    try:
        while True:
            with taken.get_lock():
                index = taken.value
                taken.value = index + 1
            if index >= len(groups):
                return
            sender.send(read_files(*groups[index], folder))
    except Exception as error:
        sender.send(error)
    finally:
        sender.close()


def _staging_folder() -> str:
    """A new folder for the readers' staged batches, named by this process; "" when none can
    be made (they are sent through the pipe then). The folders of processes that died before
    removing theirs (killed mid-build) go first: in /dev/shm they hold memory until reboot."""
    import tempfile

    shared = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else tempfile.gettempdir()
    _remove_orphans(shared)
    try:
        return tempfile.mkdtemp(prefix=f"tokentree-{os.getpid()}-", dir=shared)
    except OSError:
        return ""


def _remove_orphans(shared: str) -> None:
    """Staging folders whose process is gone (`tokentree-<pid>-…`)."""
    import shutil

    with suppress(OSError):
        for entry in os.scandir(shared):
            owner = entry.name.split("-")[1] if entry.name.startswith("tokentree-") else ""
            if owner.isdigit() and entry.is_dir(follow_symlinks=False) and not _alive(int(owner)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to touch
        return True
    return True


def _groups(
    tasks: list[ReadTask], sizes: dict[int, int], group_bytes: int, first_id: int
) -> Iterator[tuple[list[ReadTask], int]]:
    """Tasks in groups of about `group_bytes` (few round trips, results as soon as a group is
    done), each with the first id of its copies."""
    group: list[ReadTask] = []
    size = 0
    for task in tasks:
        group.append(task)
        size += sizes[task.file_id]
        if size >= group_bytes:
            yield group, first_id
            first_id += max(size // ID_BYTES, IDS_LEAST)
            group, size = [], 0
    if group:
        yield group, first_id


_prices: PriceBook | None = None


def _use_prices(prices: PriceBook) -> None:
    """Give this process (a worker, or the caller itself) the price book to price rows with."""
    global _prices
    _prices = prices


def read_files(tasks: list[ReadTask], first_id: int = 1, folder: str = "") -> ReadBatch:
    """Read a group of files into one staged batch, its copies' ids from `first_id` on; a
    reader process leaves the staged database in a file in `folder`."""
    assert _prices is not None
    stage = Stage(first_id)
    results = [read_file(task, stage, _prices) for task in tasks]
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
            return ReadBatch(results, b"", _prices.take_learned(), path)
    return ReadBatch(results, staged, _prices.take_learned())


def _mapped(batch: ReadBatch) -> ReadBatch:
    """A batch with its staged database mapped from the file its reader left (and that file
    gone): read once by the index, never copied through a pipe."""
    if not batch.staged_at:
        return batch
    with open(batch.staged_at, "rb") as file:
        batch.staged = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    os.unlink(batch.staged_at)
    return batch


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
        done += sum(sizes[result.task.file_id] for result in batch.results)
        if progress:
            progress(done, total)
