"""A first build alone is stored by the reader processes that read it (storing.InReaders)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from tests.conftest import REAL_SAMPLES
from tests.core.test_index import Harness, _settings, _snapshot
from tokentree.core import readers, reading
from tokentree.core.index import Index, storing
from tokentree.core.index import index as index_module
from tokentree.core.index.plan import UpdateStats
from tokentree.core.sources import find_files


@pytest.fixture
def harness(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """Real Claude Code logs, read by two reader processes in groups of about 100 kB."""
    harness = Harness(isolated_home)
    shutil.copytree(REAL_SAMPLES / "claude_code", harness.projects)
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(index_module, "GROUP_BYTES", 100_000)
    monkeypatch.setattr(readers, "SHARED_MEMORY", str(isolated_home))
    return harness


def _storers(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Note in `log` the process that stores each batch (the readers are forked: a file)."""
    store_batch = storing.store_batch

    def noted(*args, **kwargs):
        with open(log, "a") as file:
            file.write(f"{os.getpid()}\n")
        return store_batch(*args, **kwargs)

    monkeypatch.setattr(storing, "store_batch", noted)
    monkeypatch.setattr(index_module, "store_batch", noted)


def _update(harness: Harness, index: Index, **options) -> UpdateStats:
    found = find_files(harness.roots)
    return index.update(found.files, harness.roots, **{"workers": 2, **options})


def test_a_first_build_alone_is_stored_by_its_readers_as_a_serial_read_is(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    serial_index = Index(None)
    serial = _update(harness, serial_index, workers=1)
    expected = _snapshot(serial_index, harness)
    log = tmp_path / "storers"
    _storers(monkeypatch, log)
    index = Index(harness.db)
    stats = _update(harness, index)
    storers = log.read_text().split()
    assert len(storers) > 2 and str(os.getpid()) not in storers
    assert len(set(storers)) == 2  # both readers stored theirs
    assert _snapshot(index, harness) == expected and index.check() == []
    assert (stats.files_read, stats.bytes_read, stats.new_copies) == (
        serial.files_read,
        serial.bytes_read,
        serial.new_copies,
    )
    assert _settings(index)[2] == "wal"
    with closing(sqlite3.connect(harness.db)) as db:  # the rates the readers looked up, kept
        assert db.execute("SELECT count(*) FROM rates").fetchone()[0] > 0


@pytest.mark.parametrize("why", ["a view follows", "another connection is open"])
def test_a_first_build_in_wal_mode_is_stored_by_the_main_process(
    why: str, harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A reader forked while the file is in WAL mode would inherit this process's view of
    the shared memory: the main process stores then, as with an index in memory."""
    log = tmp_path / "storers"
    _storers(monkeypatch, log)
    index = Index(harness.db)
    other = sqlite3.connect(harness.db)
    other.execute("SELECT count(*) FROM files").fetchone()  # it has the file open in WAL mode
    if why == "a view follows":
        other.close()
        _update(harness, index, on_batch=lambda: None)
    else:
        _update(harness, index)
        other.close()
    assert set(log.read_text().split()) == {str(os.getpid())}
    assert _snapshot(index, harness) == _snapshot(harness.update(Index(None)), harness)


def test_an_instance_started_while_readers_store_a_first_build_counts_exactly(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another instance indexes the same logs between two batches a reader stores: it takes
    the file back to WAL mode and stores what it read; the readers' later reads of those
    files are dropped, and both instances end with every call counted once."""
    expected = harness.totals(harness.update(Index(None)))
    store = storing.InReaders.__call__
    seen = tmp_path / "other"

    def with_another_instance(self, batch):
        try:
            os.close(os.open(tmp_path / "started", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return store(self, batch)
        pid = os.fork()  # a reader is a daemon's child, which multiprocessing gives no process
        if pid == 0:
            try:  # so the other instance reads in its own process too
                other = Index(harness.db)
                _update(harness, other, workers=1)
                seen.write_bytes(orjson.dumps([harness.totals(other), other.notices]))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return store(self, batch)

    monkeypatch.setattr(storing.InReaders, "__call__", with_another_instance)
    index = Index(harness.db)
    _update(harness, index)
    assert orjson.loads(seen.read_bytes()) == [list(expected), []]
    assert harness.totals(index) == expected and index.check() == []
    assert _settings(index)[2] == "wal"


def test_a_reader_that_cannot_store_ends_the_update_and_the_next_one_completes_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's store that fails (a full disk) reaches the caller as it is; what the other
    batches stored stays, and the next update reads the rest and counts every call once."""
    expected = harness.totals(harness.update(Index(None)))
    store = storing.InReaders.__call__

    def full_after_the_first(self, batch):
        if self.db is not None:  # this reader stored a batch already
            raise sqlite3.OperationalError("database or disk is full")
        return store(self, batch)

    monkeypatch.setattr(storing.InReaders, "__call__", full_after_the_first)
    index = Index(harness.db)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        _update(harness, index)
    with closing(sqlite3.connect(harness.db)) as db:
        assert db.execute("SELECT count(*) FROM copies").fetchone()[0] > 0
    monkeypatch.setattr(storing.InReaders, "__call__", store)
    _update(harness, index)
    assert harness.totals(index) == expected and index.check() == []
    assert _settings(index)[2] == "wal"
