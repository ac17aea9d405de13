"""The reader processes of a big read: forked, one group of files at a time each.

Lighter in the main process than a process pool, whose threads and queues cost it
0.05 s per GB (the process that more cores do not make faster): the readers
inherit the groups when forked, take the next one from a shared counter, and each
sends its batches on a pipe of its own, the staged database left in a file in
memory (/dev/shm) for the index to map; or, given a `Store` (a first build), each
stores its batches in the index itself and sends what that did. They are forked by
one process that imports the price data first: once, not in each reader nor in the
main process.
"""

from __future__ import annotations

import gc
import mmap
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from tokentree.core import reading
from tokentree.core.pricing import PriceBook
from tokentree.core.reading import ReadBatch, ReadersEnded, ReadTask, Store
from tokentree.core.sources import load_parser

SHARED_MEMORY = "/dev/shm"
"""Where readers leave their staged batches for the index, when the system has it (a folder
in memory); the temporary folder otherwise."""


def in_reader_processes(
    groups: list[tuple[list[ReadTask], int]],
    workers: int,
    prices: PriceBook,
    store: Store | None = None,
) -> Iterator[ReadBatch]:
    """The groups' batches, each as soon as one of `workers` forked readers has read it (and
    stored it, with `store`)."""
    folder = "" if store else _staging_folder()
    try:
        yield from _from_readers(groups, workers, prices, folder, store)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _from_readers(
    groups: list[tuple[list[ReadTask], int]],
    workers: int,
    prices: PriceBook,
    folder: str,
    store: Store | None,
) -> Iterator[ReadBatch]:
    """Fork the readers' parent (_fork_readers) and take each batch as a reader sends it; a
    killed reader ends the read with ReadersEnded, once what the others sent is taken."""
    from multiprocessing import connection, get_context

    context = get_context("fork")
    taken = context.Value("q", 0)
    pipes = [context.Pipe(duplex=False) for _ in range(min(workers, len(groups)))]
    senders = [sender for _, sender in pipes]
    waiting = [receiver for receiver, _ in pipes]
    parent = context.Process(
        target=_fork_readers, args=(groups, taken, senders, prices, folder, store), daemon=True
    )
    if not _started(parent):  # no process to be had (a limit): the groups are read here
        for receiver, sender in pipes:
            receiver.close()
            sender.close()
        yield from reading.read_here(groups, prices)
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
    store: Store | None,
) -> None:
    """The readers' parent: imports the price data and the parsers, forks a reader per sender
    (they inherit them), and waits for them; ended (SIGTERM), it ends and reaps them first.

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
        for source in {task.source for tasks, _ in groups for task in tasks}:
            load_parser(source)
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
                _reader(groups, taken, sender, prices, folder, store)
            finally:
                os._exit(0)
        readers.append(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if not readers:  # not one: this process reads them
        _reader(groups, taken, senders[0], prices, folder, store)
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
    store: Store | None,
) -> None:
    """A reader process: the next unread group, until none is left; an error is sent back."""
    reading.use_prices(prices)
    try:
        while True:
            with taken.get_lock():
                index = taken.value
                taken.value = index + 1
            if index >= len(groups):
                return
            batch = reading.read_files(*groups[index], folder)
            sender.send(store(batch) if store else batch)
    except Exception as error:
        sender.send(error)
    finally:
        if store:
            store.close()
        sender.close()


def _staging_folder() -> str:
    """A new folder for the readers' staged batches, named by this process; "" when none can
    be made (they are sent through the pipe then). The folders of processes that died before
    removing theirs (killed mid-build) go first: in /dev/shm they hold memory until reboot."""
    shared = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else tempfile.gettempdir()
    _remove_orphans(shared)
    try:
        return tempfile.mkdtemp(prefix=f"tokentree-{os.getpid()}-", dir=shared)
    except OSError:
        return ""


def _remove_orphans(shared: str) -> None:
    """Staging folders whose process is gone (`tokentree-<pid>-…`)."""
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


def _mapped(batch: ReadBatch) -> ReadBatch:
    """A batch with its staged database mapped from the file its reader left (and that file
    gone): read once by the index, never copied through a pipe."""
    if not batch.staged_at:
        return batch
    with open(batch.staged_at, "rb") as file:
        batch.staged = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    os.unlink(batch.staged_at)
    return batch
