"""Random histories of log files under two roots: the index always equals a fresh read.

Each example drives a sequence of file operations (appends, some of them
stopping mid-line; identical copies under a new inode; truncation and regrowth
with other content; deletion; renames; copies into the other root; unreadable
spells) and index runs over different scopes, some as processes running at
once on one index file. After every step, for each scope (root A, root B,
both), the persistent index's calls and per-session sums equal what a fresh
in-memory index counts over the content the index could have seen: each file
as the last run over its root found it, so

- a file deleted (or renamed away) since keeps that content: its calls stay
  counted, under its old path and root;
- an unreadable file keeps it too, until a run can read it again;
- a file replaced at its path (regrown, copied or renamed over) has only its
  new content once a run saw it; a half-written last line is not counted.

Those contents are written to a reference tree with the same paths relative to
the example's folder, so of the copies of a call in several files the same one
wins in both (by path, among copies of equal rank) and each call counts once
per scope, in the session of that copy. Once an example is done, the index's
own `check()` finds its derived tables consistent.

Every write sets a new mtime from a fake clock, and no inode is freed while an
example runs (deleted and replaced files are moved or linked to a trash
folder), so a change is never hidden from the index's fingerprint by a coarse
clock or a reused inode number.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import traceback
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from tests.builders import claude_call, claude_prompt, jsonl, refuse_reads, replace_with_copy
from tokentree.core.index import Index, Scope
from tokentree.core.records import ApiCall
from tokentree.core.sources import explicit_roots, find_files

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ROOT_A = "home/.claude/projects"
ROOT_B = "tmp/backup/projects"
SCOPES = {"A": (ROOT_A,), "B": (ROOT_B,), "AB": (ROOT_A, ROOT_B)}
FOLDER = "-home-dev-atlas"
NAMES = ("s0.jsonl", "s1.jsonl", "s2.jsonl")
SLOTS = tuple(f"{root}/{FOLDER}/{name}" for root in (ROOT_A, ROOT_B) for name in NAMES)
"""The paths (relative to an example's folder) a file can be at: three in each root."""
SOURCES = ("claude-code",)
CLOCK_START_NS = 1_790_000_000 * 10**9
CHILD_TIMEOUT_S = 60


# --- the steps ----------------------------------------------------------------------------------
# A step names the file it changes by `pick`: the pick-th of the files that exist (or of the
# unreadable ones), counted round; so few steps are no-ops. `slot` and `target` name a path.


@dataclass(frozen=True)
class Append:
    """Complete a line left half-written at `slot` (or start a file there), then add
    `resumed` copies of the first calls of the `source`-th file (a resumed session copies
    them, under its own session id) and `new` calls; with `cut` (a percentage), the last
    line is written only up to there."""

    slot: int
    new: int
    resumed: int
    source: int
    cut: int | None


@dataclass(frozen=True)
class Regrow:
    """Truncate a file in place (same inode) and write other content: a new first line."""

    pick: int
    new: int


@dataclass(frozen=True)
class ReplaceByCopy:
    """The same bytes under a new inode."""

    pick: int


@dataclass(frozen=True)
class Delete:
    pick: int


@dataclass(frozen=True)
class Rename:
    pick: int
    target: int


@dataclass(frozen=True)
class Copy:
    """Copy a file (a half-written line included) to another path, perhaps in the other root."""

    pick: int
    target: int


@dataclass(frozen=True)
class Block:
    """The file cannot be opened (until Unblock), whatever is done to it meanwhile."""

    pick: int


@dataclass(frozen=True)
class Unblock:
    pick: int


@dataclass(frozen=True)
class UnblockAll:
    pass


@dataclass(frozen=True)
class Run:
    """Index runs, one per scope; two or three run at once as separate processes.

    A single run uses the index instance kept open across steps (`resident`), as
    the live view does, or a new one, as `tokentree report` does.
    """

    scopes: tuple[str, ...]
    resident: bool = False


Step = Append | Regrow | ReplaceByCopy | Delete | Rename | Copy | Block | Unblock | UnblockAll | Run


def histories(
    *,
    slots: int,
    scopes: tuple[str, ...],
    processes: int = 1,
    shared: bool = True,
    unreadable: bool = False,
    changes: int = 10,
) -> st.SearchStrategy[list[Step]]:
    """Up to `changes` changes to the files over the first `slots` paths, each followed by
    index runs half of the time; then every file readable again and a run over every root
    in `scopes`. Only with `shared` can a call be in two files (resumed copies, copied and
    renamed files)."""
    slot = st.integers(0, slots - 1)
    pick = st.integers(0, 7)
    counts = st.integers(0, 3)
    cut = st.none() | st.integers(1, 99)
    kinds = [
        st.builds(Append, slot, counts, st.integers(0, 2 if shared else 0), pick, cut),
        st.builds(Append, slot, st.integers(1, 3), st.just(0), pick, st.none()),
        st.builds(Regrow, pick, counts),
        st.builds(ReplaceByCopy, pick),
        st.builds(Delete, pick),
    ]
    if shared:
        kinds += [st.builds(Rename, pick, slot), st.builds(Copy, pick, slot)]
    if unreadable:
        kinds += [st.builds(Block, pick), st.builds(Block, pick), st.builds(Unblock, pick)]
    run = st.builds(
        Run,
        st.lists(st.sampled_from(scopes), min_size=1, max_size=processes).map(tuple),
        st.booleans(),
    )
    then = st.one_of(st.none(), run)
    finally_ = [UnblockAll(), Run((scopes[-1],))]
    return st.lists(st.tuples(st.one_of(kinds), then), min_size=changes // 2, max_size=changes).map(
        lambda pairs: [step for pair in pairs for step in pair if step is not None] + finally_
    )


FINALLY = (UnblockAll(), Run(("AB",)))


# --- the files, what the index saw, and the index -----------------------------------------------


@dataclass
class LogFile:
    data: bytes  # on disk
    rest: bytes = b""  # the end of a line written only in part


class History:
    """An example's files on disk, the content the index could have seen, and the checks."""

    def __init__(self, base: Path, blocked: set[str]) -> None:
        self.base = base
        self.db = base / "cache" / "index.sqlite"
        self.db.parent.mkdir()
        self.blocked = blocked  # absolute paths, shared with the open_log wrapper
        self.files: dict[str, LogFile] = {}
        self.seen: dict[str, bytes] = {}
        self.seen_version = 0
        self.reference_version = -1
        self.reference: dict[str, tuple[list[tuple], dict[str, list[Any]]]] = {}
        self.resident: Index | None = None
        self.ran = False
        self.clock = 0
        self.calls_written = 0
        self.regrown = 0
        self.trashed = 0

    def close(self) -> None:
        if self.resident is not None:
            self.resident.close()
            self.resident = None

    # --- changing the files

    def apply(self, step: Step) -> str:
        """Carry out a step; returns what it did, for the report of a failing example."""
        if isinstance(step, Run):
            self._run(step)
            return str(step)
        if isinstance(step, Append):
            return self._append(step)
        if isinstance(step, UnblockAll):
            self.blocked.clear()
            return "every file readable"
        if isinstance(step, Unblock):
            if not self.blocked:
                return "nothing to unblock"
            path = sorted(self.blocked)[step.pick % len(self.blocked)]
            self.blocked.discard(path)
            return f"{path} readable"
        if not self.files:
            return "no file yet"
        relative = sorted(self.files)[step.pick % len(self.files)]
        if isinstance(step, Regrow):
            self._regrow(relative, step.new)
        elif isinstance(step, ReplaceByCopy):
            replace_with_copy(self._path(relative), self._trash())
            self._tick(relative)
        elif isinstance(step, Delete):
            self._path(relative).rename(self._trash())
            del self.files[relative]
        elif isinstance(step, Block):
            self.blocked.add(str(self._path(relative)))
        elif SLOTS[step.target] == relative:
            return "a file onto itself: nothing"
        else:
            self._move(relative, SLOTS[step.target], keep=isinstance(step, Copy))
            return f"{type(step).__name__} {relative} to {SLOTS[step.target]}"
        return f"{type(step).__name__} {relative}"

    def _append(self, step: Append) -> str:
        relative = SLOTS[step.slot]
        session = "session-" + Path(relative).stem
        source = sorted(self.files)[step.source % len(self.files)] if self.files else ""
        copied = [{**line, "sessionId": session} for line in self._calls_in(source)]
        records = copied[: step.resumed] + [self._new_call(session) for _ in range(step.new)]
        known = self.files.get(relative)
        data = known.rest if known else b""
        rest = b""
        if records:
            data += jsonl(*records)
            if step.cut is not None:
                last = len(jsonl(records[-1]))
                keep = len(data) - last + max(1, last * step.cut // 100)
                data, rest = data[:keep], data[keep:]
        if not data:
            return "nothing to append"
        path = self._path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            handle.write(data)
        self.files[relative] = LogFile((known.data if known else b"") + data, rest)
        self._tick(relative)
        keys = [record["message"]["id"] for record in records]
        return f"append to {relative}: {keys} (from {source or 'nowhere'}), {len(rest)} bytes wait"

    def _regrow(self, relative: str, new: int) -> None:
        session = "session-" + Path(relative).stem
        self.regrown += 1
        first = {"uuid": f"regrown-{self.regrown}", **claude_prompt(T0, session=session)}
        data = jsonl(first, *(self._new_call(session) for _ in range(new)))
        with open(self._path(relative), "r+b") as handle:
            handle.truncate(0)
            handle.write(data)
        self.files[relative] = LogFile(data)
        self._tick(relative)

    def _move(self, relative: str, target: str, *, keep: bool) -> None:
        destination = self._path(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if target in self.files:
            destination.rename(self._trash())
        if keep:
            destination.write_bytes(self.files[relative].data)
            self.files[target] = LogFile(self.files[relative].data, self.files[relative].rest)
        else:
            self._path(relative).rename(destination)
            self.files[target] = self.files.pop(relative)
        self._tick(target)

    def _new_call(self, session: str) -> dict:
        """A call seen nowhere yet; its copies elsewhere carry the same tokens."""
        number = self.calls_written
        self.calls_written += 1
        return claude_call(
            f"msg_{number}",
            T0 + timedelta(minutes=7 * number),
            input=1 + number % 5,
            output=10 + 3 * number,
            cache_write=100 * (number % 3),
            cache_read=1000 + number,
            session=session,
        )

    def _calls_in(self, relative: str) -> list[dict]:
        """The assistant lines of a file's complete lines."""
        known = self.files.get(relative)
        if known is None:
            return []
        lines = known.data[: known.data.rfind(b"\n") + 1].splitlines()
        return [record for record in map(orjson.loads, lines) if record.get("type") == "assistant"]

    def _path(self, relative: str) -> Path:
        return self.base / relative

    def _trash(self) -> Path:
        """Where a displaced file goes: its inode stays in use, so it is never reused."""
        self.trashed += 1
        folder = self.base / "trash"
        folder.mkdir(exist_ok=True)
        return folder / str(self.trashed)

    def _tick(self, relative: str) -> None:
        """Every change gets its own mtime (the file system's clock may not move between two)."""
        self.clock += 1
        moment = CLOCK_START_NS + self.clock * 1_000_000_000
        os.utime(self._path(relative), ns=(moment, moment))

    # --- running the index

    def _run(self, step: Run) -> None:
        if len(step.scopes) == 1:
            index = self.resident if step.resident else None
            index = index or Index(self.db)
            try:
                update(index, self._roots(step.scopes[0]))
            finally:
                if step.resident:
                    self.resident = index
                else:
                    index.close()
        else:
            self.close()  # no connection to the index file crosses a fork
            run_at_once(self.db, [self._roots(scope) for scope in step.scopes], self.base)
        self.ran = True
        roots = {root for scope in step.scopes for root in SCOPES[scope]}
        for relative, file in self.files.items():
            readable = str(self._path(relative)) not in self.blocked
            if readable and relative.startswith(tuple(root + "/" for root in roots)):
                if self.seen.get(relative) != file.data:
                    self.seen[relative] = file.data
                    self.seen_version += 1

    def _roots(self, scope: str, base: Path | None = None) -> list[str]:
        return [str((base or self.base) / root) for root in SCOPES[scope]]

    # --- the checks

    def check(self) -> None:
        """Each scope's calls and per-session sums equal a fresh read of what the index saw."""
        if not self.ran:
            return
        expected = self._expected()
        with closing(Index(self.db)) as index:
            for name in SCOPES:
                scope = Scope(tuple(self._roots(name)), SOURCES)
                calls, sums = expected[name]
                assert summary(index.calls(scope)) == calls, f"calls in scope {name}"
                assert_sums(index.sums(scope, "session"), sums, name)

    def check_consistency(self) -> None:
        """The stored losers and rollup are what deriving them afresh from the stored copies
        gives (checked once an example is done, so a wrong count is reported first)."""
        with closing(Index(self.db)) as index:
            assert index.check() == []

    def _expected(self) -> dict[str, tuple[list[tuple], dict[str, list[Any]]]]:
        if self.reference_version != self.seen_version:
            folder = self.base / "reference" / str(self.seen_version)
            for relative, data in self.seen.items():
                path = folder / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.reference = {}
            for name in SCOPES:
                roots = self._roots(name, folder)
                with closing(Index(None)) as fresh:
                    update(fresh, roots)
                    calls = fresh.calls(Scope(tuple(roots), SOURCES))
                self.reference[name] = (summary(calls), session_sums(calls))
            self.reference_version = self.seen_version
        return self.reference


def update(index: Index, roots: list[str]) -> None:
    found = explicit_roots(roots, SOURCES)
    index.update(find_files(found).files, found, workers=1)


def run_at_once(db: Path, scopes: list[list[str]], base: Path) -> None:
    """One process per scope, started together on the same index file; all must succeed."""
    context = multiprocessing.get_context("fork")  # the open_log wrapper goes with them
    barrier = context.Barrier(len(scopes))
    errors = [base / f"child-{number}.txt" for number in range(len(scopes))]
    children = [
        context.Process(target=_child, args=(db, roots, barrier, error))
        for roots, error in zip(scopes, errors, strict=True)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(CHILD_TIMEOUT_S)
        if child.exitcode is None:
            child.kill()
            child.join()
    failures = [error.read_text() for error in errors if error.exists()]
    assert not failures, "\n".join(failures)
    assert [child.exitcode for child in children] == [0] * len(children)


def _child(db: Path, roots: list[str], barrier: Any, error: Path) -> None:
    try:
        barrier.wait(CHILD_TIMEOUT_S)
        with closing(Index(db)) as index:
            update(index, roots)
    except BaseException:
        error.write_text(traceback.format_exc())
        raise


def summary(calls: Iterable[ApiCall]) -> list[tuple]:
    """The counted calls as comparable tuples (not which file's copy counts)."""
    return sorted(
        (
            c.key,
            c.session_id,
            c.project,
            c.timestamp,
            c.model,
            tuple(c.tokens),
            round(c.cost, 12),
            c.unpriced,
        )
        for c in calls
    )


def session_sums(calls: Iterable[ApiCall]) -> dict[str, list[Any]]:
    """What `sums(scope, "session")` must say: calls, input, cache write, cache read, output,
    reasoning, cost and unpriced calls per session."""
    sums: dict[str, list[Any]] = {}
    for call in calls:
        row = sums.setdefault(f"{call.source} {call.session_id}", [0, 0, 0, 0, 0, 0, 0.0, 0])
        t = call.tokens
        values = (1, t.input, t.cache_write, t.cache_read, t.output, t.reasoning)
        for position, value in enumerate((*values, call.cost, int(call.unpriced))):
            row[position] += value
    return sums


def assert_sums(rows: list[tuple[Any, ...]], expected: dict[str, list[Any]], scope: str) -> None:
    got = {row[0]: list(row[1:]) for row in rows}
    counts = {session: values[:6] + values[7:] for session, values in got.items()}
    assert counts == {s: v[:6] + v[7:] for s, v in expected.items()}, f"sums in scope {scope}"
    for session, values in got.items():
        assert values[6] == pytest.approx(expected[session][6], rel=1e-9, abs=1e-12)


def replay(steps: list[Step], *, unreadable: bool, consistency: bool) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        blocked: set[str] = set()
        if unreadable:
            refuse_reads(patch, blocked)
        history = History(Path(folder), blocked)
        try:
            for number, step in enumerate(steps):
                note(f"step {number}: {history.apply(step)}")
                history.check()
            if consistency:
                history.check_consistency()
        finally:
            history.close()


# --- the properties -----------------------------------------------------------------------------

_FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples at every run; the slow variant explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
_SLOW = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)


@_FAST
@given(histories(slots=3, scopes=("A",), shared=False))
def test_one_root_without_shared_calls_counts_what_a_fresh_read_counts(
    steps: list[Step],
) -> None:
    """One root, one run at a time, no call in two files: appends (a half-written line waits),
    identical copies under a new inode, truncation and regrowth, deletion (its calls stay)."""
    replay(steps, unreadable=False, consistency=False)


@_FAST
@given(histories(slots=3, scopes=("A",)))
def test_one_root_counts_a_call_in_several_files_once(steps: list[Step]) -> None:
    """One root, one run at a time, calls copied into other files (a resumed session, a
    copied or renamed file): each counts once, in the report's sums too, however often the
    files holding its copies are read again."""
    replay(steps, unreadable=False, consistency=True)


@_FAST
@given(histories(slots=6, scopes=tuple(SCOPES), processes=3))
def test_each_scope_of_two_roots_counts_what_a_fresh_read_of_it_counts(
    steps: list[Step],
) -> None:
    """Copies of a call in both roots count once per scope, whichever scopes ran, also with
    runs as processes at once on one index file; the stored derived tables stay consistent."""
    replay(steps, unreadable=False, consistency=True)


@_FAST
@given(histories(slots=6, scopes=tuple(SCOPES), processes=3, unreadable=True))
@example(  # rewritten smaller while unreadable: its calls must stay until it can be read
    [Append(0, 2, 0, 0, None), Run(("A",)), Block(0), Regrow(0, 0), Run(("A",)), *FINALLY]
)
@example(  # replaced by another file while unreadable
    [Append(0, 2, 0, 0, None), Append(1, 1, 0, 0, None), Run(("AB",)), Block(0)]
    + [Copy(1, 0), Run(("AB", "A")), *FINALLY]
)
def test_unreadable_files_keep_their_calls_until_they_can_be_read_again(
    steps: list[Step],
) -> None:
    """A file that cannot be opened keeps what was read of it, like a deleted one, whatever
    happened to it meanwhile; once readable it counts as a fresh read of it does."""
    replay(steps, unreadable=True, consistency=True)


@pytest.mark.slow
@_SLOW
@given(histories(slots=6, scopes=tuple(SCOPES), processes=3, unreadable=True, changes=30))
def test_long_histories_count_what_a_fresh_read_counts(steps: list[Step]) -> None:
    """Everything above, over longer histories and many more examples (pytest -m slow)."""
    replay(steps, unreadable=True, consistency=True)
