"""Finding the lines worth decoding, wherever their markers sit in a line."""

from __future__ import annotations

from pathlib import Path

from tokentree.core.sources.claude_code import MARKERS
from tokentree.core.tail import TAIL_WINDOW, Markers, read_complete_lines

FILLER = "x" * (3 * TAIL_WINDOW)


def _write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_bytes(("\n".join(lines) + ending).encode())
    return path


def test_markers_are_found_at_the_start_middle_and_end_of_long_lines(tmp_path: Path) -> None:
    lines = [
        '{"type":"assistant","message":{"content":"' + FILLER + '","usage":{}},"uuid":"a"}',
        '{"usage":{},"text":"' + FILLER + '"}',
        '{"text":"' + FILLER + '","usage":{},"more":"' + FILLER + '"}',
        '{"type":"system","text":"' + FILLER + '"}',
        '{"type":"user","message":{"role":"user","content":"hello"}}',
    ]
    chunk = read_complete_lines(_write(tmp_path / "log.jsonl", lines), 0, MARKERS)

    assert [line.decode() for line in chunk.lines] == [lines[0], lines[1], lines[2], lines[4]]


def test_a_vetoed_line_is_skipped_unless_its_end_holds_a_marker(tmp_path: Path) -> None:
    tool_result = '{"type":"user","message":{"content":[{"tool_use_id":"t1","content":"'
    lines = [
        tool_result + FILLER + '"}]}}',
        tool_result + FILLER + '"}]},"toolUseResult":{"usage":{"output_tokens":3}}}',
        '{"type":"user","message":{"content":"' + FILLER + '"}}',
    ]
    chunk = read_complete_lines(_write(tmp_path / "log.jsonl", lines), 0, MARKERS)

    # the second line is decoded (its summary is then not counted as a call); the first never
    assert [line.decode() for line in chunk.lines] == lines[1:]


def test_a_half_written_last_line_waits_and_no_markers_means_every_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.jsonl", ['{"usage":1}', '{"other":2}', '{"usage":'], ending="")

    marked = read_complete_lines(path, 0, MARKERS)
    everything = read_complete_lines(path, 0)

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
    chunk = read_complete_lines(_write(tmp_path / "log.jsonl", lines), 0, markers)

    assert [line.decode() for line in chunk.lines] == [lines[0], lines[1], lines[3], lines[5]]
