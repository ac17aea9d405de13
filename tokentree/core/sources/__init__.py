"""The log sources, where they live, and which one reads a given file."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tokentree.core import tail
from tokentree.core.compressed import is_compressed
from tokentree.core.sources import claude_code, codex, gemini, opencode
from tokentree.core.sources.base import FileParse, ReadMode, SourceFile, walk_files
from tokentree.core.tail import Markers

SOURCES: dict[str, ModuleType] = {
    module.NAME: module for module in (claude_code, codex, gemini, opencode)
}
SOURCE_ALIASES = {
    "claude": claude_code.NAME,
    "claude-code": claude_code.NAME,
    "codex": codex.NAME,
    "gemini": gemini.NAME,
    "gemini-cli": gemini.NAME,
    "opencode": opencode.NAME,
}


@dataclass(frozen=True, slots=True)
class Root:
    """A folder (or single file) to index, and the source that reads it (None: sniff each file).

    Discovered roots hold only the files their source names its logs by; a
    folder named by the user may hold logs under any name.
    """

    path: Path
    source: str | None
    discovered: bool = False


@dataclass(slots=True)
class Discovery:
    files: list[SourceFile]
    roots: list[Root]
    problems: list[str]


def default_roots(env: Mapping[str, str], home: Path, only: Iterable[str] = ()) -> list[Root]:
    """Where the assistants write their logs, as they themselves decide it."""
    wanted = set(only) or set(SOURCES)
    return [
        Root(folder, name, discovered=True)
        for name, module in SOURCES.items()
        if name in wanted
        for folder in module.discover(env, home)
    ]


def explicit_roots(paths: Sequence[str | Path], only: Iterable[str] = ()) -> list[Root]:
    """Paths named on the command line; with one `--source`, that source reads them all."""
    chosen = list(only)
    forced = chosen[0] if len(chosen) == 1 else None
    return [Root(Path(path).expanduser().absolute(), forced) for path in paths]


def find_files(roots: Sequence[Root], only: Iterable[str] = ()) -> Discovery:
    """Every log file below the roots that exist; missing roots are simply empty.

    Only regular files are ever sniffed or read: opening a FIFO blocks until a
    writer comes, so a root or a file that is a FIFO, device or socket is noted
    and skipped.
    """
    wanted = set(only) or set(SOURCES)
    files: list[SourceFile] = []
    problems: list[str] = []
    seen: set[str] = set()
    for root in roots:
        folder = str(root.path)
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            candidates = [folder]
        elif stat.S_ISDIR(mode):
            candidates = _walk(root, folder, problems)
        else:
            problems.append(f"skipped {folder}: not a regular file")
            continue
        for path in sorted(candidates):
            source = root.source or sniff(path)
            if source in wanted and path not in seen and _named_like_logs(root, source, path):
                seen.add(path)
                files.append(SourceFile(path, source, folder))
    return Discovery(files, list(roots), problems)


def _walk(root: Root, folder: str, problems: list[str]) -> list[str]:
    """The files below a folder its source may have written (every source's, for a sniffed root).

    A source can walk its folder itself: OpenCode's data dir also holds git
    snapshots of whole projects, which are not worth a scan on every refresh.
    """
    if root.source is None:
        return walk_files(folder, ALL_SUFFIXES, problems)
    module = SOURCES[root.source]
    walk = getattr(module, "walk", None)
    if walk is not None:
        return walk(folder, problems)
    return walk_files(folder, _suffixes(module), problems)


def _suffixes(module: ModuleType) -> tuple[str, ...]:
    """How a source's log files are named at the end; most write `.jsonl`."""
    return getattr(module, "SUFFIXES", (".jsonl",))


ALL_SUFFIXES = tuple(
    sorted({suffix for module in SOURCES.values() for suffix in _suffixes(module)})
)


def _named_like_logs(root: Root, source: str, path: str) -> bool:
    return not root.discovered or SOURCES[source].accepts(path)


def sniff(path: str) -> str | None:
    """Which source wrote a file, judged from its first line (its first 4 KB for a JSON file).

    None for anything but a regular file, which is never read (find_files hands it none).
    Read through `tail.open_log`, looked up at each call, as every log read is.
    """
    if is_compressed(path):  # its head says nothing until decompressed: its name does
        return codex.NAME if codex.accepts(path) else None
    try:
        with tail.open_log(path) as handle:
            head = handle.readline(64 * 1024) if path.endswith(".jsonl") else handle.read(4096)
    except OSError:
        return None
    if path.endswith(".db"):
        return opencode.NAME if opencode.is_database(path, head) else None
    if b'"sessionId"' in head and b'"projectHash"' in head:
        return gemini.NAME
    if path.endswith(".json"):
        return opencode.NAME if b'"sessionID"' in head and b'"role"' in head else None
    if b'"payload"' in head and (b'"session_meta"' in head or b'"event_msg"' in head):
        return codex.NAME
    if b'"type"' in head:
        return claude_code.NAME
    return None


Parser = Callable[[Iterable[bytes], dict[str, Any], str], FileParse]


def parser_for(source: str) -> Parser:
    return SOURCES[source].parse


def markers_for(source: str) -> Markers:
    return SOURCES[source].MARKERS


def read_mode(source: str, path: str) -> ReadMode:
    """How a file of this source is read: most are append-only JSONL logs."""
    decide = getattr(SOURCES[source], "read_mode", None)
    return decide(path) if decide is not None else ReadMode.LINES


DatabaseReader = Callable[[str, dict[str, Any]], tuple[FileParse, int]]
"""(path, state) → what changed since the read that left `state`, and how many bytes it took."""


def database_reader(source: str) -> DatabaseReader:
    return SOURCES[source].read_database
