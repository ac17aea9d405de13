"""The log sources, where they live, and which one reads a given file."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tokentree.core.sources import claude_code, codex
from tokentree.core.sources.base import FileParse, SourceFile, walk_files

SOURCES: dict[str, ModuleType] = {claude_code.NAME: claude_code, codex.NAME: codex}
SOURCE_ALIASES = {"claude": claude_code.NAME, "claude-code": claude_code.NAME, "codex": codex.NAME}


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
    """Every log file below the roots that exist; missing roots are simply empty."""
    wanted = set(only) or set(SOURCES)
    files: list[SourceFile] = []
    problems: list[str] = []
    seen: set[str] = set()
    for root in roots:
        folder = str(root.path)
        if os.path.isfile(folder):
            candidates = [folder]
        elif os.path.isdir(folder):
            candidates = walk_files(folder, (".jsonl",), problems)
        else:
            continue
        for path in sorted(candidates):
            source = root.source or sniff(path)
            if source in wanted and path not in seen and _named_like_logs(root, source, path):
                seen.add(path)
                files.append(SourceFile(path, source, folder))
    return Discovery(files, list(roots), problems)


def _named_like_logs(root: Root, source: str, path: str) -> bool:
    return not root.discovered or SOURCES[source].accepts(path)


def sniff(path: str) -> str | None:
    """Which source wrote a file, judged from its first line."""
    try:
        with open(path, "rb") as handle:
            head = handle.readline(64 * 1024)
    except OSError:
        return None
    if b'"payload"' in head and (b'"session_meta"' in head or b'"event_msg"' in head):
        return codex.NAME
    if b'"type"' in head:
        return claude_code.NAME
    return None


Parser = Callable[[Iterable[bytes], dict[str, Any], str], FileParse]


def parser_for(source: str) -> Parser:
    return SOURCES[source].parse


def markers_for(source: str) -> tuple[tuple[bytes, bytes | None], ...]:
    return SOURCES[source].MARKERS
