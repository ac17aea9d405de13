"""Finding the lines worth decoding, wherever their markers sit in a line, a block at a time."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokentree.core import tail
from tokentree.core.sources.claude_code import MARKERS
from tokentree.core.tail import (
    TAIL_WINDOW,
    VETO_WINDOW,
    Chunk,
    Markers,
    NotRegularFile,
    open_log,
    read_line_blocks,
)

FILLER = "x" * (3 * TAIL_WINDOW)
WANTED = Markers(((b'"usage"', None), (b'"tool_use_id"', b'"content"')))


def _write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_bytes(("\n".join(lines) + ending).encode())
    return path


def _read(
    path: Path, offset: int = 0, markers: Markers | None = None, block_bytes: int = 1024
) -> Chunk:
    """Every block of one read as one chunk; only the last may leave bytes pending."""
    chunks = list(read_line_blocks(str(path), offset, markers, block_bytes))
    assert chunks and all(chunk.pending_bytes == 0 for chunk in chunks[:-1])
    offsets = [chunk.next_offset for chunk in chunks]
    assert offsets == sorted(offsets)
    lines = [line for chunk in chunks for line in chunk.lines]
    huge = sum(chunk.huge_lines for chunk in chunks)
    return Chunk(lines, chunks[-1].next_offset, chunks[-1].pending_bytes, huge)


def _one_shot(path: Path, markers: Markers | None = None) -> Chunk:
    """The whole file in one block, as before blocks."""
    return _read(path, 0, markers, path.stat().st_size + 1)


def _in_thread(work, timeout: float = 5.0):
    """The result of work(), or a failure (not a hang) when it blocks."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert outcome, "blocked"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def test_markers_are_found_at_the_start_middle_and_end_of_long_lines(tmp_path: Path) -> None:
    lines = [
        '{"type":"assistant","message":{"content":"' + FILLER + '","usage":{}},"uuid":"a"}',
        '{"usage":{},"text":"' + FILLER + '"}',
        '{"text":"' + FILLER + '","usage":{},"more":"' + FILLER + '"}',
        '{"type":"system","text":"' + FILLER + '"}',
        '{"type":"user","message":{"role":"user","content":"hello"}}',
    ]
    chunk = _read(_write(tmp_path / "log.jsonl", lines), 0, MARKERS)

    assert [line.decode() for line in chunk.lines] == [lines[0], lines[1], lines[2], lines[4]]


def test_a_vetoed_line_is_skipped_unless_its_end_holds_a_marker(tmp_path: Path) -> None:
    tool_result = '{"type":"user","message":{"content":[{"tool_use_id":"t1","content":"'
    lines = [
        tool_result + FILLER + '"}]}}',
        tool_result + FILLER + '"}]},"toolUseResult":{"usage":{"output_tokens":3}}}',
        '{"type":"user","message":{"content":"' + FILLER + '"}}',
    ]
    chunk = _read(_write(tmp_path / "log.jsonl", lines), 0, MARKERS)

    # the second line is decoded (its summary is then not counted as a call); the first never
    assert [line.decode() for line in chunk.lines] == lines[1:]


def test_a_half_written_last_line_waits_and_no_markers_means_every_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', '{"other":2}', '{"usage":'], ending="")

    marked = _read(path, 0, MARKERS)
    everything = _read(path, 0)

    assert marked.lines == [b'{"usage":1}']
    assert everything.lines == [b'{"usage":1}', b'{"other":2}']
    assert marked.next_offset == everything.next_offset == len(b'{"usage":1}\n{"other":2}\n')
    assert marked.pending_bytes == len(b'{"usage":')


def test_each_marker_is_searched_alone_yet_lines_come_once_and_in_order(tmp_path: Path) -> None:
    markers = Markers(((b'"a"', None), (b'"b"', b'"veto"')))
    lines = [
        '{"b":1,"a":2}',  # both markers: once
        '{"x":"' + FILLER + '","a":3}',
        '{"b":"veto"}',  # vetoed, and no other marker
        '{"b":"veto","a":4}',  # vetoed "b", but "a" counts
        '{"c":5}',
        '{"b":6}',
    ]
    chunk = _read(_write(tmp_path / "log.jsonl", lines), 0, markers)

    assert [line.decode() for line in chunk.lines] == [lines[0], lines[1], lines[3], lines[5]]


def test_nothing_new_is_one_empty_chunk(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    full = _write(tmp_path / "log.jsonl", ['{"usage":1}'])

    assert list(read_line_blocks(str(empty), 0, MARKERS)) == [Chunk([], 0, 0, 0)]
    assert list(read_line_blocks(str(full), 12, MARKERS)) == [Chunk([], 12, 0, 0)]


def test_a_line_longer_than_several_blocks_comes_whole(tmp_path: Path) -> None:
    long = '{"usage":{},"text":"' + "y" * 5000 + '"}'
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', long, '{"usage":2}'])

    chunks = list(read_line_blocks(str(path), 0, MARKERS, block_bytes=1024))

    assert [line.decode() for chunk in chunks for line in chunk.lines] == [
        '{"usage":1}',
        long,
        '{"usage":2}',
    ]
    assert (chunks[-1].next_offset, chunks[-1].pending_bytes) == (path.stat().st_size, 0)
    assert len(chunks) == 3  # the short line, the long one read whole, and the last block


def test_a_whole_json_last_line_without_newline_is_read(tmp_path: Path) -> None:
    last = '{"usage":{"output_tokens":1},"text":"' + "z" * 3000 + '"}'
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', last], ending="")

    chunk = _read(path, 0, MARKERS)

    assert [line.decode() for line in chunk.lines] == ['{"usage":1}', last]
    assert (chunk.next_offset, chunk.pending_bytes) == (path.stat().st_size, 0)


def test_a_half_written_line_longer_than_a_block_waits(tmp_path: Path) -> None:
    half = '{"usage":{},"text":"' + "z" * 3000
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', half], ending="")

    chunk = _read(path, 0, MARKERS)

    assert chunk.lines == [b'{"usage":1}']
    assert (chunk.next_offset, chunk.pending_bytes) == (12, len(half))


def test_a_huge_line_is_skipped_and_counted_without_being_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail, "MAX_LINE_BYTES", 4096)
    huge = '{"usage":{},"text":"' + "h" * 4_000_000 + '"}'
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', huge, '{"usage":2}', huge[:-2]], "")

    tracemalloc.start()
    try:
        chunk = _read(path, 0, MARKERS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert chunk.lines == [b'{"usage":1}', b'{"usage":2}']
    assert chunk.huge_lines == 1
    # the half-written huge line at the end waits: too long to hold, so it cannot be judged
    assert (chunk.next_offset, chunk.pending_bytes) == (len(huge) + 25, len(huge) - 2)
    assert peak < 100_000  # a few 1 KB blocks and a buffer, never a line of 4 MB


def test_a_line_over_the_limit_inside_one_block_is_counted_whether_marked_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail, "MAX_LINE_BYTES", 100)
    lines = ['{"usage":1}', '{"usage":"' + "u" * 200 + '"}', '{"t":"' + "t" * 200 + '"}', "{}"]
    path = _write(tmp_path / "log.jsonl", lines)

    for markers in (None, MARKERS, WANTED):
        chunk = _read(path, 0, markers, block_bytes=4096)
        assert chunk.huge_lines == 2
        assert all(len(line) <= 100 for line in chunk.lines)
        assert chunk.next_offset == path.stat().st_size


def test_a_line_of_exactly_the_limit_is_kept_and_one_byte_more_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail, "MAX_LINE_BYTES", 2000)
    kept = '{"usage":"' + "k" * 1988 + '"}'
    dropped = '{"usage":"' + "d" * 1989 + '"}'
    path = _write(tmp_path / "log.jsonl", [kept, dropped, kept, dropped])

    chunk = _read(path, 0, MARKERS)

    assert (len(kept), len(dropped)) == (2000, 2001)
    assert chunk.lines == [kept.encode()] * 2
    assert chunk.huge_lines == 2
    assert (chunk.next_offset, chunk.pending_bytes) == (path.stat().st_size, 0)


PAD = st.integers(min_value=0, max_value=3000)
LINE = st.one_of(
    PAD.map(lambda n: '{"usage":{},"t":"' + "a" * n + '"}'),
    PAD.map(lambda n: '{"t":"' + "b" * n + '","usage":{"output_tokens":1}}'),
    PAD.map(lambda n: '{"message":{"content":[{"tool_use_id":"x","content":"' + "c" * n + '"}]}}'),
    PAD.map(lambda n: '{"t":"' + "d" * n + '"}'),
    PAD.map(lambda n: "e" * n),  # not JSON, not even a line anyone wanted
)
ENDING = st.one_of(
    st.just(""),
    PAD.map(lambda n: '{"usage":"' + "f" * n),  # half-written: waits, however long
    st.integers(0, 200).map(lambda n: '{"usage":"' + "g" * n + '"}'),  # whole, unterminated
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(LINE, max_size=12),
    ending=ENDING,
    block_bytes=st.integers(min_value=1, max_value=4096),
    limit=st.integers(min_value=250, max_value=5000),
    offset_line=st.integers(min_value=0, max_value=12),
)
def test_blocks_read_what_one_read_of_the_file_does(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[str],
    ending: str,
    block_bytes: int,
    limit: int,
    offset_line: int,
) -> None:
    data = "".join(line + "\n" for line in lines) + ending
    path = tmp_path_factory.mktemp("blocks") / "log.jsonl"
    path.write_bytes(data.encode())
    offset = sum(len(line) + 1 for line in lines[:offset_line])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tail, "MAX_LINE_BYTES", limit)
        for markers in (None, MARKERS, WANTED):
            blocks = _read(path, offset, markers, block_bytes)
            assert blocks == _read(path, offset, markers, len(data) + 1)
            assert all(len(line) <= limit for line in blocks.lines)

        everything = _read(path, offset, None, block_bytes)

    complete = lines[offset_line:]
    pending = len(ending)
    if ending.endswith('"}'):
        complete.append(ending)
        pending = 0
    assert everything.lines == [line.encode() for line in complete if len(line) <= limit]
    assert everything.huge_lines == sum(len(line) > limit for line in complete)
    assert (everything.next_offset, everything.pending_bytes) == (len(data) - pending, pending)


# "a and "ab begin at the same byte (the first listed wins), and a tail marker is also wanted
OVERLAPPING = Markers(
    ((b'"ab', b"!no"), (b'"a', None), (b'"user"', b"!no")),
    at_end=(b'"usage"', b"!end"),
)


def _wanted_by_reference(line: bytes, markers: Markers) -> bool:
    """The rules of tail.py, written plainly: a marker in the last TAIL_WINDOW bytes, or
    else the first marker from the start (the earlier listed of two at one byte) with no
    veto starting within VETO_WINDOW of it, the veto whole inside the line."""
    if any(marker in line[-TAIL_WINDOW:] for marker in markers.at_end):
        return True
    hits = [
        (line.find(marker), rank, veto)
        for rank, (marker, veto) in enumerate(markers.wanted)
        if marker in line
    ]
    if not hits:
        return False
    hit, _, veto = min(hits)
    return veto is None or veto not in line[hit : hit + VETO_WINDOW]


NEAR_A_WINDOW = st.one_of(
    st.integers(0, 30),
    st.integers(VETO_WINDOW - 12, VETO_WINDOW + 4),
    st.integers(TAIL_WINDOW - 12, TAIL_WINDOW + 4),
)
PIECE = st.one_of(
    NEAR_A_WINDOW.map(lambda n: b"x" * n),
    st.sampled_from([b'"usage"', b'"user"', b'"ab', b'"a', b"!no", b"!end", b"!n", b'"us']),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.lists(PIECE, max_size=6).map(b"".join), max_size=8))
def test_candidates_follow_the_rules_whatever_sits_near_the_windows(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("rules") / "log.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))

    for markers in (OVERLAPPING, WANTED, MARKERS):
        chunk = _read(path, 0, markers, block_bytes=3000)
        assert chunk.lines == [line for line in lines if _wanted_by_reference(line, markers)]


def test_open_log_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.jsonl"
    os.mkfifo(fifo)

    with pytest.raises(NotRegularFile, match="not a regular file"):
        _in_thread(lambda: open_log(str(fifo)))
    with pytest.raises(NotRegularFile):
        _in_thread(lambda: list(read_line_blocks(str(fifo), 0, MARKERS)))


def test_every_read_goes_through_open_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}'])

    def refuse(path: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tail, "open_log", refuse)
    with pytest.raises(PermissionError):
        list(read_line_blocks(str(path), 0, MARKERS))
