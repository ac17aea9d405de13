"""Reported failures of the persistent index, one test each, with the exact numbers expected.

Most go through the command line (`tokentree.cli.main`, or `python -m tokentree`
as separate processes) on the index in the test's own cache dir, and compare
with a `--no-cache` read of the same logs.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import (
    append,
    claude_call,
    claude_prompt,
    jsonl,
    refuse_reads,
    replace_with_copy,
    write,
)
from tokentree import config
from tokentree.cli import main
from tokentree.core.index import Index, Scope
from tokentree.core.records import ApiCall
from tokentree.core.sources import explicit_roots, find_files
from tokentree.synthetic import generate
from tokentree.workspace import Choices, prepare_workspace

REPO = Path(__file__).resolve().parents[2]
SAMPLE_LOGS = REPO / "sample_logs"
SAMPLE_CALLS = 596
"""Calls in the bundled sample logs (Claude Code and Codex)."""
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EXACT = (
    "calls",
    "input",
    "cache_write",
    "cache_read",
    "output",
    "reasoning",
    "total",
    "unpriced_calls",
)


@dataclass(frozen=True)
class Outcome:
    """What one `tokentree` command did."""

    code: int
    out: str
    err: str

    @property
    def notices(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("tokentree:")]

    @property
    def totals(self) -> dict[str, Any]:
        """The totals of a `report --json` or an `export` of the whole tree."""
        assert self.code == 0, self.err
        document = orjson.loads(self.out)
        totals = document["totals"] if "totals" in document else document["root"]
        return {key: totals[key] for key in (*EXACT, "cost_usd")}


def tokentree(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Outcome:
    """Run the command line in this process, as a user would in a terminal."""
    capsys.readouterr()
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as stop:  # argparse: an unknown command or option
        code = stop.code if isinstance(stop.code, int) else 2
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assert_same_totals(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Every count exactly; the cost up to the rounding of a sum taken in another order."""
    assert {key: got[key] for key in EXACT} == {key: expected[key] for key in EXACT}
    assert got["cost_usd"] == pytest.approx(expected["cost_usd"], abs=2e-6)


def many_calls(root: Path, files: int = 12, calls: int = 30) -> Path:
    """A few hundred calls in several sessions, some also copied into a resumed session."""
    for number in range(files):
        session = f"session-{number}"
        write(
            root / "-home-dev-atlas" / f"{session}.jsonl",
            claude_prompt(T0 + timedelta(hours=number), session=session),
            *(
                claude_call(
                    f"msg_{number}_{i}",
                    T0 + timedelta(hours=number, minutes=i),
                    input=5 + i,
                    output=40 + number + i,
                    cache_write=300 * (i % 4),
                    cache_read=2000 + 10 * i,
                    session=session,
                )
                for i in range(calls)
            ),
        )
    first = (root / "-home-dev-atlas" / "session-0.jsonl").read_bytes().splitlines()[1:6]
    resumed = [{**orjson.loads(line), "sessionId": "resumed"} for line in first]
    write(root / "-home-dev-atlas" / "resumed.jsonl", *resumed)
    return root


# --- the same logs in two folders --------------------------------------------------------------


def test_the_same_logs_in_two_folders_count_in_full_in_every_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report A`, `report B`, `report A`, `report A B`, `report B` on one index: each counts
    every call once. A scope counts the copies in its own files, whichever scope stored a
    call first (it used to give 552, 0, 552, 552, 0)."""
    a, b = tmp_path / "A", tmp_path / "B"
    shutil.copytree(SAMPLE_LOGS, a)
    shutil.copytree(SAMPLE_LOGS, b)
    fresh = tokentree(capsys, "report", "--json", "--no-cache", a).totals
    assert fresh["calls"] == SAMPLE_CALLS
    runs = [
        tokentree(capsys, "report", "--json", *paths).totals
        for paths in ([a], [b], [a], [a, b], [b])
    ]
    assert [totals["calls"] for totals in runs] == [SAMPLE_CALLS] * 5
    for totals in runs:
        assert_same_totals(totals, fresh)


# --- processes at once --------------------------------------------------------------------------


def test_three_processes_indexing_one_cold_index_at_once_print_exact_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three `tokentree report` processes started together on an empty index each print the
    exact totals, as does a later one, and the index is left consistent."""
    logs = tmp_path / "logs"
    generate(logs, seed=11, target_bytes=8_000_000)
    expected = tokentree(capsys, "report", "--json", "--no-cache", logs).totals
    assert expected["calls"] > 500
    command = [sys.executable, "-m", "tokentree", "report", "--json", str(logs)]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        outcomes.append(Outcome(process.returncode, out.decode(), err.decode()))
    for outcome in outcomes:
        assert outcome.code == 0, outcome.err
        assert_same_totals(outcome.totals, expected)
    later = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, timeout=300)
    assert later.returncode == 0, later.stderr.decode()
    assert_same_totals(Outcome(0, later.stdout.decode(), "").totals, expected)
    with closing(Index(config.index_path())) as index:
        assert index.check() == []


def _open_and_update(db: Path, logs: Path, barrier: Any, error: Path) -> None:
    """In a forked process: wait for the others, then index `logs` into `db`."""
    try:
        barrier.wait(60)
        roots = explicit_roots([logs], ["claude-code"])
        with closing(Index(db)) as index:
            index.update(find_files(roots).files, roots, workers=1)
    except BaseException:
        error.write_text(traceback.format_exc())
        raise


CREATION_ROUNDS = 100


def test_processes_creating_the_index_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    """Three processes that open a new index file at the same moment (each round a new file)
    all succeed and leave every call counted once. Creating the file was a race: about one
    round in twenty failed with "database disk image is malformed" or "no such table: …",
    so this catches it most of the time, not every time."""
    logs = many_calls(tmp_path / "logs", files=2, calls=5)
    context = multiprocessing.get_context("fork")
    for attempt in range(CREATION_ROUNDS):
        db = tmp_path / f"round-{attempt}" / "index.sqlite"
        db.parent.mkdir()
        barrier = context.Barrier(3)
        errors = [db.parent / f"error-{number}.txt" for number in range(3)]
        processes = [
            context.Process(target=_open_and_update, args=(db, logs, barrier, error))
            for error in errors
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        failures = [error.read_text() for error in errors if error.exists()]
        assert not failures, f"round {attempt}:\n" + "\n".join(failures)
        assert [process.exitcode for process in processes] == [0, 0, 0]
        with closing(Index(db)) as index:
            scope = Scope((str(logs),), ("claude-code",))
            assert len(index.calls(scope)) == 10


def test_a_first_build_whose_reader_is_killed_keeps_its_batches_and_ends_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader of a big first build killed midway (the system out of memory): the command
    says so in one line, the groups already stored stay, and the next run reads the rest and
    prints the totals of a fresh read."""
    from tokentree.core import readers, reading
    from tokentree.core.index import index as index_module

    logs = tmp_path / "logs"
    generate(logs, seed=5, target_bytes=3_000_000)
    expected = tokentree(capsys, "report", "--json", "--no-cache", logs).totals
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(index_module, "GROUP_BYTES", 200_000)
    monkeypatch.setattr(readers, "SHARED_MEMORY", str(tmp_path))
    read_files = reading.read_files

    test = os.getpid()

    def killed_at_the_third(tasks: list[Any], first_id: int, folder: str) -> Any:
        if first_id > 2 * reading.IDS_LEAST:  # the third group's ids and later
            assert os.getpid() != test, "read in the test's own process"
            os.kill(os.getpid(), signal.SIGKILL)
        return read_files(tasks, first_id, folder)

    monkeypatch.setattr(reading, "read_files", killed_at_the_third)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two readers on any machine
    broken = tokentree(capsys, "report", "--json", logs)
    assert broken.code == 1 and broken.out == ""
    assert len(broken.notices) == 1 and "reader process ended early" in broken.notices[0]
    roots = explicit_roots([logs], ["claude-code"])
    with closing(Index(config.index_path())) as index, pytest.raises(reading.ReadersEnded):
        index.update(find_files(roots).files, roots, batch_bytes=1)  # each group stored
    with closing(sqlite3.connect(config.index_path())) as db:
        stored = db.execute("SELECT count(*) FROM copies").fetchone()[0]
    assert 0 < stored < expected["calls"]
    monkeypatch.setattr(reading, "read_files", read_files)
    assert_same_totals(tokentree(capsys, "report", "--json", logs).totals, expected)
    with closing(Index(config.index_path())) as index:
        assert index.check() == []


# --- a file replaced by an identical copy --------------------------------------------------------


@pytest.mark.parametrize("replaced", ["a.jsonl", "b.jsonl"])
def test_a_file_replaced_by_an_identical_copy_keeps_a_shared_call_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], replaced: str
) -> None:
    """A call in a.jsonl and (resumed) in b.jsonl counts once, and the report says so, however
    often either file is replaced by an identical copy (the report's sums used to grow by
    one call per replacement of b.jsonl, whose copy does not count)."""
    root = tmp_path / "logs"
    write(root / "a.jsonl", claude_prompt(T0), claude_call("msg_1", T0, input=3, output=7))
    write(
        root / "b.jsonl",
        claude_prompt(T0, session="resumed"),
        claude_call("msg_1", T0, input=3, output=7, session="resumed"),
    )
    for run in range(5):
        if run:
            replace_with_copy(root / replaced)
        report = tokentree(capsys, "report", "--json", root).totals
        workspace = prepare_workspace(Choices(paths=(str(root),)))
        with closing(workspace.index) as index:
            calls = index.calls(workspace.scope)
        assert [(c.key, c.session_id, c.tokens.output) for c in calls] == [
            ("msg_1:req_msg_1", "11111111-2222-3333-4444-555555555555", 7)
        ], f"after {run} replacements"
        assert (report["calls"], report["input"], report["output"]) == (1, 3, 7), (
            f"after {run} replacements"
        )


# --- unreadable files ---------------------------------------------------------------------------


def _counted(index: Index, root: Path) -> list[tuple[str, int]]:
    """Update the index from `root`; the counted calls' keys and outputs, checked against the
    report's sums."""
    roots = explicit_roots([root], ["claude-code"])
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope((str(root),), ("claude-code",))
    calls = index.calls(scope)
    _assert_sums_match(index, scope, calls)
    return sorted((call.key.split(":")[0], call.tokens.output) for call in calls)


def _assert_sums_match(index: Index, scope: Scope, calls: list[ApiCall]) -> None:
    """The report's sums (calls and each token kind) are those of the counted calls."""
    rows = index.sums(scope, "session")
    summed = [sum(row[position] for row in rows) for position in range(1, 6)]
    kinds = ("input", "cache_write", "cache_read", "output")
    assert summed == [len(calls), *(sum(getattr(c.tokens, kind) for c in calls) for kind in kinds)]


def _grow(log: Path) -> None:
    append(log, jsonl(claude_call("msg_3", T0 + timedelta(minutes=2), output=11)))


def _rewrite_in_place(log: Path) -> None:
    """Truncate and write other content: the same inode, a smaller file."""
    with open(log, "r+b") as handle:
        handle.truncate(0)
        handle.write(jsonl(claude_call("msg_3", T0 + timedelta(minutes=2), output=11)))


def _replace(log: Path) -> None:
    """Another file (a new inode) with other content, renamed over it."""
    other = write(log.with_name("new.tmp"), claude_call("msg_3", T0, output=11))
    os.replace(other, log)


MEANWHILE: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "grows": (_grow, ["msg_1", "msg_2", "msg_3"]),
    "is rewritten in place": (_rewrite_in_place, ["msg_3"]),
    "is replaced": (_replace, ["msg_3"]),
}
OUTPUTS = {"msg_1": 5, "msg_2": 7, "msg_3": 11, "msg_9": 1, "msg_10": 2}


@pytest.mark.parametrize("meanwhile", list(MEANWHILE))
def test_an_unreadable_file_keeps_its_calls_until_it_can_be_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """While a log cannot be opened, the calls read from it before stay counted, as a deleted
    log's do, whatever happens to it meanwhile (other logs are read as usual); once it can be
    opened, it counts as it then is: its earlier and new calls when it grew, only the new
    content when it was rewritten or replaced."""
    change, afterwards = MEANWHILE[meanwhile]
    refused: set[str] = set()
    refuse_reads(monkeypatch, refused)
    root = tmp_path / "projects"
    log = write(
        root / "s.jsonl",
        claude_prompt(T0),
        claude_call("msg_1", T0, output=5),
        claude_call("msg_2", T0 + timedelta(minutes=1), output=7),
    )
    other = write(root / "t.jsonl", claude_call("msg_9", T0, output=1, session="other"))
    db = tmp_path / "index.sqlite"

    def counted(*keys: str) -> list[tuple[str, int]]:
        return sorted((key, OUTPUTS[key]) for key in keys)

    index = Index(db)
    assert _counted(index, root) == counted("msg_1", "msg_2", "msg_9")
    refused.add(str(log))
    change(log)
    append(other, jsonl(claude_call("msg_10", T0, output=2, session="other")))
    unreadable = counted("msg_1", "msg_2", "msg_9", "msg_10")
    assert _counted(index, root) == unreadable
    assert _counted(index, root) == unreadable
    with closing(Index(db)) as another:
        assert _counted(another, root) == unreadable
    append(log, jsonl(claude_call("msg_4", T0 + timedelta(minutes=3), output=13))[:50])
    refused.clear()
    readable = counted(*afterwards, "msg_9", "msg_10")
    assert _counted(index, root) == readable
    assert _counted(index, root) == readable
    index.close()


def test_a_file_unreadable_when_first_found_counts_once_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused: set[str] = set()
    refuse_reads(monkeypatch, refused)
    root = tmp_path / "projects"
    log = write(root / "s.jsonl", claude_prompt(T0), claude_call("msg_1", T0, output=5))
    refused.add(str(log))
    with closing(Index(tmp_path / "index.sqlite")) as index:
        assert _counted(index, root) == []
        refused.clear()
        assert _counted(index, root) == [("msg_1", 5)]


# --- a damaged index file -----------------------------------------------------------------------


def damage_the_middle(path: Path, table: str | None = None) -> str:
    """Overwrite 8 bytes at the start of the in-use page nearest the middle of an index file
    (a b-tree page's header, or an overflow page's link: what SQLite checks when it reads the
    page), of `table` if named; returns the table or index the page belonged to."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        middle = db.execute("PRAGMA page_count").fetchone()[0] // 2 + 1
        assert middle > 3, "the index should span several pages"
        try:
            used = db.execute("SELECT pageno, name FROM dbstat WHERE pageno > 1").fetchall()
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            if table is not None:
                pytest.skip("SQLite without dbstat: cannot aim at one table")
            used = [(middle, "?")]
    used = [(page, name) for page, name in used if table in (None, name)]
    page, owner = min(used, key=lambda row: (abs(row[0] - middle), row[0]))
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(b"\xff" * 8)
    return owner


@pytest.mark.parametrize(
    "command",
    [("report", "--json"), ("export", "--node", "", "-o", "-")],
    ids=["report", "export"],
)
def test_a_damaged_index_is_detected_and_rebuilt_with_one_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    """8 bytes overwritten in the middle of the index file: the next command still gives the
    exact totals, with one notice; the one after that is clean."""
    logs = many_calls(tmp_path / "logs")
    expected = tokentree(capsys, *command, "--no-cache", logs).totals
    assert expected["calls"] == 12 * 30
    healthy = tokentree(capsys, *command, logs)
    assert_same_totals(healthy.totals, expected)
    owner = damage_the_middle(config.index_path())
    damaged = tokentree(capsys, *command, logs)
    assert damaged.code == 0, f"damage in {owner}: {damaged.err}"
    assert_same_totals(damaged.totals, expected)
    assert len(damaged.notices) == len(healthy.notices) + 1, f"damage in {owner}: {damaged.err}"
    assert any("index" in notice for notice in damaged.notices)
    again = tokentree(capsys, *command, logs)
    assert_same_totals(again.totals, expected)
    assert again.notices == healthy.notices


def test_damage_met_in_use_between_the_daily_checks_is_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole-file check runs at most once a day; damage to the stored calls found in
    between is met by the first command that reads them, which rebuilds the index and still
    gives the exact totals, with one notice."""
    logs = many_calls(tmp_path / "logs")
    export = ("export", "--node", "", "-o", "-")
    expected = tokentree(capsys, *export, "--no-cache", logs).totals
    tokentree(capsys, *export, logs)
    checked = tokentree(capsys, *export, logs)  # this open ran the day's check
    damage_the_middle(config.index_path(), "copies")
    damaged = tokentree(capsys, *export, logs)
    assert damaged.code == 0, damaged.err
    assert_same_totals(damaged.totals, expected)
    assert len(damaged.notices) == len(checked.notices) + 1
    again = tokentree(capsys, *export, logs)
    assert_same_totals(again.totals, expected)
    assert again.notices == checked.notices


# --- an index that cannot be written -------------------------------------------------------------


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


def _cache_home_is_a_file(cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a folder")


def _cache_dir_is_a_file(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "tokentree").write_text("not a folder")


def _index_is_a_directory(cache: Path) -> None:
    (cache / "tokentree" / "index.sqlite").mkdir(parents=True)


def _cache_dir_is_read_only(cache: Path) -> None:
    folder = cache / "tokentree"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    if _writable(folder):
        pytest.skip("running as root: chmod does not make a folder read-only")


def _index_is_read_only(cache: Path) -> None:
    path = cache / "tokentree" / "index.sqlite"
    path.parent.mkdir(parents=True)
    Index(path).close()
    path.chmod(0o444)
    try:
        open(path, "r+b").close()
    except OSError:
        return
    pytest.skip("running as root: chmod does not make a file read-only (and chattr is absent)")


UNUSABLE: dict[str, Callable[[Path], None]] = {
    "cache home is a file": _cache_home_is_a_file,
    "cache dir is a file": _cache_dir_is_a_file,
    "index path is a directory": _index_is_a_directory,
    "cache dir is read-only": _cache_dir_is_read_only,
    "index file is read-only": _index_is_read_only,
}


@pytest.fixture(params=list(UNUSABLE))
def unusable_cache(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The cache dir in one of the states where the index cannot be kept there; yields the
    logs to read."""
    cache = Path(os.environ["XDG_CACHE_HOME"])
    logs = many_calls(cache.parent / "logs", files=3, calls=10)
    UNUSABLE[request.param](cache)
    yield logs
    for path in (cache / "tokentree", cache / "tokentree" / "index.sqlite"):
        if path.exists() and not path.is_symlink():
            path.chmod(0o755)


def test_an_index_that_cannot_be_kept_works_in_memory_with_one_notice(
    unusable_cache: Path,
) -> None:
    """Opening never fails: the index falls back to memory and says so once."""
    roots = explicit_roots([unusable_cache], ["claude-code"])
    scope = Scope((str(roots[0].path),), ("claude-code",))
    with closing(Index(None)) as fresh:
        fresh.update(find_files(roots).files, roots, workers=1)
        expected = sorted(fresh.calls(scope))
    index = Index(config.index_path())
    try:
        assert len(index.notices) == 1, index.notices
        index.update(find_files(roots).files, roots, workers=1)
        assert sorted(index.calls(scope)) == expected
        assert len(expected) == 30
    finally:
        index.close()


def test_report_with_an_index_that_cannot_be_kept_gives_exact_totals_and_one_notice(
    unusable_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = tokentree(capsys, "report", "--json", "--no-cache", unusable_cache)
    outcome = tokentree(capsys, "report", "--json", unusable_cache)
    assert outcome.code == 0, outcome.err
    assert_same_totals(outcome.totals, expected.totals)
    assert len(outcome.notices) == len(expected.notices) + 1, outcome.err


# --- checking and rebuilding the derived tables ---------------------------------------------------


def _tamper(path: Path, how: str) -> None:
    """Change the stored rollup behind the index's back (whatever its columns are named)."""
    with closing(sqlite3.connect(path)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        assert "rollup" in tables, sorted(tables)
        if how == "every row deleted":
            db.execute("DELETE FROM rollup")
        else:
            cursor = db.execute("SELECT * FROM rollup LIMIT 1")
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description]
            where = " AND ".join(f'"{column}" IS ?' for column in columns)
            db.execute(f"DELETE FROM rollup WHERE {where}", row)
        assert db.total_changes > 0
        db.commit()


TAMPERING = ["every row deleted", "one row deleted"]


@pytest.mark.parametrize("how", TAMPERING)
def test_index_check_reports_a_tampered_rollup_and_rebuild_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """`tokentree index --check` exits 0 on a consistent index, 1 with the differences on one
    whose rollup was changed; `tokentree index --rebuild` derives it again."""
    logs = many_calls(tmp_path / "logs", files=4, calls=10)
    expected = tokentree(capsys, "report", "--json", "--no-cache", logs).totals
    assert_same_totals(tokentree(capsys, "report", "--json", logs).totals, expected)
    consistent = tokentree(capsys, "index", "--check")
    assert consistent.code == 0, consistent.out + consistent.err
    assert "consistent" in (consistent.out + consistent.err).lower()
    _tamper(config.index_path(), how)
    tampered = tokentree(capsys, "index", "--check")
    assert tampered.code == 1, tampered.out + tampered.err
    assert tampered.out.strip()
    rebuilt = tokentree(capsys, "index", "--rebuild")
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert tokentree(capsys, "index", "--check").code == 0
    assert_same_totals(tokentree(capsys, "report", "--json", logs).totals, expected)


@pytest.mark.parametrize("how", TAMPERING)
def test_check_lists_the_differences_of_a_tampered_rollup_and_rebuild_repairs_them(
    tmp_path: Path, how: str
) -> None:
    """The same through the API: `check()` is empty on a consistent index and lists the
    differences otherwise; `rebuild()` derives the losers and the rollup again."""
    logs = many_calls(tmp_path / "logs", files=4, calls=10)
    roots = explicit_roots([logs], ["claude-code"])
    scope = Scope((str(roots[0].path),), ("claude-code",))
    db = tmp_path / "index.sqlite"
    with closing(Index(db)) as index:
        index.update(find_files(roots).files, roots, workers=1)
        sums = sorted(index.sums(scope, "session"))
        assert index.check() == []
    _tamper(db, how)
    with closing(Index(db)) as index:
        differences = index.check()
        assert differences and all(isinstance(line, str) for line in differences)
        index.rebuild()
        assert index.check() == []
        assert sorted(index.sums(scope, "session")) == sums
