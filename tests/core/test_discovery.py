"""Discovery finds regular files only: opening a FIFO named like a log would block indexing."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tokentree.core.overview import SOURCE_NAMES
from tokentree.core.sources import (
    SOURCE_ALIASES,
    SOURCES,
    Discovery,
    Root,
    default_roots,
    find_files,
    provider_of,
    sniff,
)
from tokentree.core.view import SOURCE_BADGE
from tokentree.synthetic import isolated_environment

T = TypeVar("T")
LOG = b'{"type":"assistant","message":{"usage":{"input_tokens":1}}}\n'


def _in_thread(work: Callable[[], T], timeout: float = 5.0) -> T:
    """The result of work(), or a failure (not a hang) when it blocks."""
    outcome: list[T] = []
    thread = threading.Thread(target=lambda: outcome.append(work()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert outcome, "blocked"
    return outcome[0]


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    """A Claude projects folder holding one real log."""
    folder = tmp_path / ".claude" / "projects" / "p"
    folder.mkdir(parents=True)
    (folder / "real.jsonl").write_bytes(LOG)
    return folder


def _discover(home: Path) -> Discovery:
    roots = default_roots({}, home, ["claude-code"])
    return _in_thread(lambda: find_files(roots))


def test_a_fifo_named_like_a_log_is_skipped_with_a_notice(projects: Path, tmp_path: Path) -> None:
    fifo = projects / "x.jsonl"
    os.mkfifo(fifo)

    found = _discover(tmp_path)

    assert [file.path for file in found.files] == [str(projects / "real.jsonl")]
    assert found.problems == [f"skipped {fifo}: not a regular file"]


def test_a_link_to_a_fifo_is_skipped_and_a_link_to_a_log_is_read(
    projects: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (projects / "x.jsonl").symlink_to(fifo)
    (projects / "linked.jsonl").symlink_to(projects / "real.jsonl")

    found = _discover(tmp_path)

    assert [file.path for file in found.files] == [
        str(projects / "linked.jsonl"),
        str(projects / "real.jsonl"),
    ]
    assert found.problems == [f"skipped {projects / 'x.jsonl'}: not a regular file"]


def test_a_dangling_link_is_a_missing_file(projects: Path, tmp_path: Path) -> None:
    (projects / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")

    found = _discover(tmp_path)

    assert [file.path for file in found.files] == [str(projects / "real.jsonl")]
    assert found.problems == []


def test_a_sniffed_folder_never_opens_a_fifo(projects: Path) -> None:
    fifo = projects / "x.jsonl"
    os.mkfifo(fifo)
    roots = [Root(projects, None)]

    found = _in_thread(lambda: find_files(roots))

    assert [(file.path, file.source) for file in found.files] == [
        (str(projects / "real.jsonl"), "claude-code")
    ]
    assert found.problems == [f"skipped {fifo}: not a regular file"]
    assert _in_thread(lambda: sniff(str(fifo))) is None


def test_a_root_that_is_a_fifo_is_skipped_with_a_notice(projects: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "x.jsonl"
    os.mkfifo(fifo)
    roots = [Root(fifo, None), Root(tmp_path / "missing.jsonl", None), Root(projects, None)]

    found = _in_thread(lambda: find_files(roots))

    assert [file.path for file in found.files] == [str(projects / "real.jsonl")]
    assert found.problems == [f"skipped {fifo}: not a regular file"]


def test_a_root_that_is_a_log_file_is_read(projects: Path) -> None:
    log = projects / "real.jsonl"

    found = find_files([Root(log, None)])

    assert [(file.path, file.source) for file in found.files] == [(str(log), "claude-code")]


# --- one declaration per source -------------------------------------------------------------


def test_the_isolated_home_covers_every_declared_source(tmp_path: Path) -> None:
    """Tests and benchmarks run with isolated_environment: no source may find a root outside
    it, so a new source's declaration must name the variables it reads."""
    home = tmp_path / "home"
    env = isolated_environment(home)
    roots = default_roots(env, home)
    assert {root.source for root in roots} == set(SOURCES)
    assert all(root.path.is_relative_to(home) for root in roots), roots


def test_the_tables_that_differ_by_source_come_from_its_declaration() -> None:
    badges = [source.badge for source in SOURCES.values()]
    assert len(set(badges)) == len(badges) and all(len(badge) <= 6 for badge in badges)
    for name, source in SOURCES.items():
        assert SOURCE_ALIASES[name] == name
        assert all(SOURCE_ALIASES[alias] == name for alias in source.aliases)
        assert SOURCE_BADGE[name] == (source.badge, source.colour)
        assert SOURCE_NAMES[name] == source.title
        assert provider_of(name) == source.provider


@pytest.mark.parametrize(
    ("name", "head", "source"),
    [
        ("rollout-1.jsonl", b'{"type":"session_meta","payload":{}}', "codex"),
        ("rollout-1.jsonl.zst", b"", "codex"),  # judged by its name, never opened
        ("a.jsonl", b'{"type":"user","sessionId":"s"}', "claude-code"),
        ("session-1.json", b'{"sessionId":"s","projectHash":"h","messages":[]}', "gemini-cli"),
        ("msg_1.json", b'{"id":"m","sessionID":"s","role":"assistant"}', "opencode"),
        ("notes.json", b'{"type":"x"}', None),  # JSON that is not a log: Claude writes .jsonl
        ("data.db", b"SQLite format 3\x00", None),  # OpenCode names its databases opencode*.db
        ("notes.txt", b'{"type":"x"}', None),
    ],
)
def test_a_file_is_sniffed_only_by_the_sources_that_name_files_so(
    tmp_path: Path, name: str, head: bytes, source: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(head + b"\n")
    assert sniff(str(path)) == source
