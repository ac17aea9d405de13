"""The log sources, where they live, and which one reads a given file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokentree.core import tail
from tokentree.core.compressed import is_compressed
from tokentree.core.sources import (
    chatgpt,
    claude_ai,
    claude_code,
    codex,
    gemini,
    ledger,
    opencode,
)
from tokentree.core.sources.base import ReadMode, SourceFile, walk_files
from tokentree.core.sources.declaration import DatabaseReader, LazyParser, Parser, Source
from tokentree.core.tail import Markers

SOURCES: dict[str, Source] = {
    module.SOURCE.name: module.SOURCE
    for module in (claude_code, codex, gemini, opencode, chatgpt, claude_ai)
}
SOURCE_ALIASES = {
    alias: source.name for source in SOURCES.values() for alias in (source.name, *source.aliases)
}
"""What `--source` takes: each source's name and its short names."""


def declared(name: str) -> Source:
    """The declaration that reads a file of `name`: a source, or other machines' call ledgers
    (sources/ledger.py: not one of SOURCES, as their calls keep their own sources' names)."""
    return ledger.SOURCE if name == ledger.NAME else SOURCES[name]


_SNIFFED_FIRST = (
    chatgpt.NAME,
    claude_ai.NAME,
    gemini.NAME,
    opencode.NAME,
    codex.NAME,
    claude_code.NAME,
)
"""The order heads are tried in: the most particular first (any JSON with a type is Claude's)."""


def provider_of(source: str) -> str | None:
    """Whose prices a source's models are looked up in first."""
    found = SOURCES.get(source)
    return found.provider if found else None


def home_environment(home: Path) -> dict[str, str]:
    """Every variable a source reads its folders from, pointed into `home`: what tests and
    benchmarks run with, so that nothing reads the real home."""
    return {
        name: str(home / folder)
        for source in SOURCES.values()
        for name, folder in source.home_env.items()
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
    machine: str = ""  # another machine's ledger: that machine ('' : this one's logs)


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
            # a ledger's calls are of every source: the scope picks among them
            known = source in wanted or (source == ledger.NAME and root.source == source)
            if known and path not in seen and _named_like_logs(root, source, path):
                seen.add(path)
                files.append(SourceFile(path, source, folder, root.machine))
    return Discovery(files, list(roots), problems)


def _walk(root: Root, folder: str, problems: list[str]) -> list[str]:
    """The files below a folder its source may have written (every source's, for a sniffed root).

    A source can walk its folder itself: OpenCode's data dir also holds git
    snapshots of whole projects, which are not worth a scan on every refresh.
    """
    if root.source is None:
        return walk_files(folder, ALL_SUFFIXES, problems)
    source = declared(root.source)
    if source.walk is not None:
        return source.walk(folder, problems)
    return walk_files(folder, source.suffixes, problems)


ALL_SUFFIXES = tuple(sorted({suffix for source in SOURCES.values() for suffix in source.suffixes}))


def _named_like_logs(root: Root, source: str, path: str) -> bool:
    return not root.discovered or declared(source).accepts(path)


def sniff(path: str) -> str | None:
    """Which source wrote a file, judged from its first line (its first 4 KB for a JSON file),
    among the sources that name their files so.

    None for anything but a regular file, which is never read (find_files hands it none).
    Read through `tail.open_log`, looked up at each call, as every log read is.
    """
    named = [SOURCES[name] for name in _SNIFFED_FIRST if path.endswith(SOURCES[name].suffixes)]
    if not named:
        return None
    if is_compressed(path):  # its head says nothing until decompressed
        head = b""
    else:
        try:
            with tail.open_log(path) as handle:
                head = handle.readline(64 * 1024) if path.endswith(".jsonl") else handle.read(4096)
        except OSError:
            return None
    return next((source.name for source in named if source.sniff(path, head)), None)


def parser_for(source: str) -> Parser:
    return declared(source).parse


def load_parser(source: str) -> None:
    """Import a source's parser now if it is loaded at its first use (LazyParser): processes
    forked after this share it."""
    parse = declared(source).parse
    if isinstance(parse, LazyParser):
        parse.load()


def markers_for(source: str) -> Markers:
    return declared(source).markers


def read_mode(source: str, path: str) -> ReadMode:
    """How a file of this source is read: most are append-only JSONL logs."""
    return declared(source).read_mode(path)


def database_reader(source: str) -> DatabaseReader:
    reader = declared(source).read_database
    assert reader is not None, f"{source} keeps no database"
    return reader
