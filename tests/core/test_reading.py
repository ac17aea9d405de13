"""The reader processes of a big read: every group read once, errors and killed readers told."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REAL_SAMPLES
from tokentree.core import readers, reading
from tokentree.core.pricing import PriceBook
from tokentree.core.reading import ReadersEnded, ReadTask, read_all


def _tasks() -> list[ReadTask]:
    paths = sorted((REAL_SAMPLES / "claude_code").rglob("*.jsonl"))
    return [
        ReadTask(number, str(path), "claude-code", 0, {}, path.stat().st_size)
        for number, path in enumerate(paths, 1)
    ]


@pytest.fixture
def in_processes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(readers, "SHARED_MEMORY", str(tmp_path))


def test_every_group_is_read_once_by_the_readers(in_processes: None) -> None:
    tasks = _tasks()
    serial = list(read_all(tasks, PriceBook(), 1, None, group_bytes=20_000))
    parallel = list(read_all(tasks, PriceBook(), 3, None, group_bytes=20_000))
    assert len(parallel) > 3
    read = sorted(result.task.file_id for batch in parallel for result in batch.results)
    assert read == [task.file_id for task in tasks]
    calls = {result.task.file_id: result.calls for batch in serial for result in batch.results}
    assert {r.task.file_id: r.calls for b in parallel for r in b.results} == calls


def test_an_error_in_a_reader_reaches_the_caller(
    in_processes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tasks: list[ReadTask], first_id: int, folder: str) -> None:
        raise ValueError(f"cannot read group {first_id}")

    monkeypatch.setattr(reading, "read_files", broken)  # the forked readers inherit it
    with pytest.raises(ValueError, match="cannot read group"):
        list(read_all(_tasks(), PriceBook(), 2, None, group_bytes=20_000))


def test_a_killed_reader_ends_the_read_with_a_clear_error(
    in_processes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(tasks: list[ReadTask], first_id: int, folder: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(reading, "read_files", killed)
    with pytest.raises(ReadersEnded, match="unread"):
        list(read_all(_tasks(), PriceBook(), 2, None, group_bytes=20_000))


_INTERRUPTED_READ = """
import os, sys, time
from pathlib import Path
from tests.core.test_reading import _tasks
from tokentree.core import reading, readers
from tokentree.core.pricing import PriceBook

def reading_slowly(tasks, first_id, folder):
    Path(sys.argv[1], str(os.getpid())).touch()  # a reader has started
    time.sleep(60)

reading.PARALLEL_MIN_BYTES = 0
readers.SHARED_MEMORY = sys.argv[2]
reading.read_files = reading_slowly
try:
    list(reading.read_all(_tasks(), PriceBook(), 2, None, group_bytes=20_000))
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_ends_the_readers_quietly(tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's group: only the main process handles
    it, and it ends the readers. No traceback of theirs, no process left behind."""
    started = tmp_path / "started"
    started.mkdir()
    read = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_READ, str(started), str(tmp_path)],
        cwd=Path(__file__).parents[2],
        stderr=subprocess.PIPE,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while len(list(started.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(started.iterdir())) == 2, "the readers did not start"
    os.killpg(read.pid, signal.SIGINT)
    _, errors = read.communicate(timeout=30)
    assert (read.returncode, errors.decode()) == (130, "")
    with pytest.raises(ProcessLookupError):  # not even a zombie
        os.killpg(read.pid, 0)


@pytest.mark.parametrize("forks", [0, 1, 2])
def test_a_process_limit_leaves_the_groups_to_the_processes_there_are(
    in_processes: None,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    forks: int,
) -> None:
    """No process to be had: read here; only the readers' parent: it reads; one reader: it
    reads every group. The same calls, and no process's traceback."""
    fork, forked = os.fork, 0

    def limited() -> int:
        nonlocal forked
        forked += 1
        if forked > forks:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return fork()

    tasks = _tasks()
    serial = list(read_all(tasks, PriceBook(), 1, None, group_bytes=20_000))
    monkeypatch.setattr(os, "fork", limited)
    parallel = list(read_all(tasks, PriceBook(), 3, None, group_bytes=20_000))
    calls = {result.task.file_id: result.calls for batch in serial for result in batch.results}
    assert {r.task.file_id: r.calls for b in parallel for r in b.results} == calls
    assert capfd.readouterr().err == ""


@given(
    st.lists(st.integers(1, 5_000_000), min_size=1, max_size=300),
    st.sampled_from([1, 2, 16]),
)
def test_groups_hold_every_file_once_and_shrink_as_the_read_ends(
    sizes: list[int], readers_count: int
) -> None:
    """Groups take the files in order, none twice. Each stops at the first file that brings it
    to its share: the most a group holds, or less once less is left (an even share of what
    is left between twice the readers, a sixteenth of the most at least). No group's copies
    get ids that another's could take."""
    most = 16_000_000
    tasks = [
        ReadTask(number, f"f{number}", "claude-code", 0, {}, size)
        for number, size in enumerate(sizes, 1)
    ]
    by_id = {task.file_id: task.size for task in tasks}
    groups = list(reading._groups(tasks, by_id, most, 1, readers_count))
    assert [task for group, _ in groups for task in group] == tasks
    left = sum(sizes)
    for (group, first_id), following in zip(groups, [*groups[1:], None], strict=True):
        share = min(most, max(left // (2 * readers_count), most // 16))
        size = sum(task.size for task in group)
        assert size - group[-1].size < share
        if following is not None:
            assert size >= share
            assert following[1] - first_id >= size // reading.ID_BYTES
        left -= size
