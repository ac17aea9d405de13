"""What tokentree knows of one assistant's logs, declared once per source.

Every table that differs by source (the names `--source` takes, the badge and
title the view shows, where prices are looked up, the variables tests point at
a scratch home, how files are found, sniffed, read and watched) is derived from
these declarations: adding a source is writing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from tokentree.core.sources.base import FileParse, ReadMode
from tokentree.core.tail import Markers

Parser = Callable[[Iterable[bytes], dict[str, Any], str], FileParse]
DatabaseReader = Callable[[str, dict[str, Any]], tuple[FileParse, int]]
"""(path, state) → what changed since the read that left `state`, and how many bytes it took."""


class LazyParser:
    """The `parse` of a module, imported at its first use: a start with nothing new to read
    never loads it (Claude Code's, with msgspec, is 12 ms of a 0.2 s warm start)."""

    def __init__(self, module: str) -> None:
        self.module = module

    def load(self) -> Parser:
        parser: Parser = import_module(self.module).parse
        return parser

    def __call__(self, lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
        return self.load()(lines, state, path)


def parser_in(module: str) -> Parser:
    """A parser declared by its module's name, loaded at its first use (LazyParser)."""
    return LazyParser(module)


def _lines(path: str) -> ReadMode:
    return ReadMode.LINES


@dataclass(frozen=True, slots=True)
class Source:
    """One log source: its names, where its logs live and how each file is read."""

    name: str  # stored with every call: "claude-code"
    version: int  # goes up when its reader reads more of the same logs: they are read again
    title: str  # "Claude Code"
    badge: str  # at most six letters, on session rows
    colour: str  # the theme's text colour its badge is drawn in ("accent", "success", …)
    aliases: tuple[str, ...]  # what --source takes besides the name
    provider: str | None  # whose prices its models are looked up in first (None: many)
    home_env: Mapping[str, str]  # variable → the folder under a home it defaults to
    discover: Callable[[Mapping[str, str], Path], list[Path]]  # its roots, existing or not
    accepts: Callable[[str], bool]  # is a file below a discovered root one of its logs?
    sniff: Callable[[str, bytes], bool]  # is a file with this head (b"" if compressed) its?
    parse: Parser
    markers: Markers  # the lines that can matter: no other is decoded
    suffixes: tuple[str, ...] = (".jsonl",)  # how its files' names end
    read_mode: Callable[[str], ReadMode] = _lines
    walk: Callable[[str, list[str]], list[str]] | None = None  # its own walk of a root
    read_database: DatabaseReader | None = None
    watched_below: str | None = None
    """A root watched flat (for its databases), with this folder below it watched whole:
    OpenCode's data dir also holds git snapshots of whole projects."""
    estimated: bool = False
    """Its token counts are estimates, never exact: a chat app imported from its data export
    (estimated.py). Receipts show its tokens and cost apart from the exact ones."""
