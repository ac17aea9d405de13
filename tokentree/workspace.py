"""From command-line choices to an up-to-date index and the scope a view reads.

Shared by `report`, `export` and the TUI, so the same options mean the same
everywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path

from tokentree import config
from tokentree.core.index import BATCH_BYTES, Index, Progress, Scope, UpdateStats
from tokentree.core.index.scope import CallFilter
from tokentree.core.pricing import PriceBook
from tokentree.core.served import ServedTree, served_tree
from tokentree.core.sources import (
    SOURCE_ALIASES,
    SOURCES,
    Discovery,
    Root,
    default_roots,
    explicit_roots,
    find_files,
)
from tokentree.core.sources.ledger import NAME as LEDGER
from tokentree.core.tree import Calendar, Node, build_tree


class UsageError(Exception):
    """A choice on the command line or in the config cannot be used; the message says which."""


@dataclass(frozen=True)
class Choices:
    """What the user asked for, before anything is read."""

    paths: Sequence[str] = ()
    sources: Sequence[str] = ()
    timezone: str | None = None
    week_start: str | None = None
    since: date | None = None
    until: date | None = None
    use_cache: bool = True
    demo: bool = False
    advice: bool = True
    """Whether advice is asked for (the view, export, `report --overview`): the config's
    `[advice]` is then checked up front; the status line and budgets leave it unread."""
    machines: bool = False
    """Whether other machines' call ledgers join the index's scope (the view): the config's
    `machines` and `ledgers`. `report` reads them apart (ledger_commands.py)."""
    ledgers: Sequence[str] = ()
    """More folders of other machines' ledgers (the view's `--with`)."""


@dataclass
class Workspace:
    """The index, what it covers, and how to read it; `refresh` brings it up to date."""

    index: Index
    scope: Scope
    calendar: Calendar
    zone_name: str
    roots: list[Root]
    workers: int | None = None
    discovery: Discovery | None = None
    stats: UpdateStats = field(default_factory=UpdateStats)
    notices: list[str] = field(default_factory=list)
    settings: config.Settings = field(default_factory=config.Settings)  # the config file's
    machine: str | None = None
    """This machine's label when other machines' ledgers are in scope (config `machines`,
    `--with`); None when the scope is this machine's logs alone."""

    def refresh(
        self,
        progress: Progress | None = None,
        *,
        batch_bytes: int = BATCH_BYTES,
        on_batch: Callable[[], None] | None = None,
    ) -> UpdateStats:
        """Find the log files again and read what changed since the last refresh."""
        self.discovery = find_files(self.roots, self.scope.sources)
        self.stats = self.index.update(
            self.discovery.files,
            self.roots,
            progress=progress,
            workers=self.workers,
            batch_bytes=batch_bytes,
            on_batch=on_batch,
        )
        self.notices += [*self.discovery.problems, *self.stats.problems]
        return self.stats

    def tree(self) -> Node:
        """The Week > Day > Session > Turn > Call tree of everything in scope."""
        return build_tree(
            self.index.calls(self.scope),
            self.index.prompts(self.scope),
            self.calendar,
            self.root_label,
        )

    def served(self) -> ServedTree:
        """The tree served by the index: weeks and days from its sums, days read when opened."""
        return served_tree(
            self.index, self.scope, self.calendar, self.root_label, keep=self.index.keep_days
        )

    @property
    def root_label(self) -> str:
        """What the root is called: the days --since/--until chose, else "All time"."""
        since, until = self.scope.since, self.scope.until
        first = self.calendar.day(since) if since is not None else None
        last = self.calendar.day(until - 1) if until is not None else None  # until: exclusive
        return range_label(first, last)

    @property
    def own_scope(self) -> Scope:
        """The scope less other machines' calls: what this machine's own ledger holds."""
        if self.machine is None:
            return self.scope
        return replace(self.scope, only=CallFilter(equal=(("machine", ""),)))

    @property
    def files_in_scope(self) -> int:
        return len(self.discovery.files) if self.discovery else 0


def open_workspace(
    choices: Choices,
    env: Mapping[str, str] | None = None,
    *,
    progress: Progress | None = None,
) -> Workspace:
    """A workspace whose index is up to date; raises UsageError for bad choices."""
    workspace = prepare_workspace(choices, env)
    workspace.refresh(progress)
    return workspace


def prepare_workspace(choices: Choices, env: Mapping[str, str] | None = None) -> Workspace:
    """Load settings, decide the roots and open the index, without reading any log yet."""
    env = os.environ if env is None else env
    try:
        settings = config.load_settings()
        if choices.advice:
            settings.advice_settings()
    except config.ConfigError as error:
        raise UsageError(str(error)) from error
    sources = _sources(choices.sources)
    calendar, zone_name = calendar_of(settings, choices.timezone, choices.week_start)
    if choices.demo:
        roots = explicit_roots([demo_logs()])
    elif choices.paths:
        missing = [path for path in choices.paths if not Path(path).exists()]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}")
        roots = explicit_roots(choices.paths, sources)
    else:
        roots = default_roots(env, Path(env.get("HOME") or Path.home()), sources)
    notices: list[str] = []
    machine = None
    if choices.machines and not choices.demo and (settings.machines or choices.ledgers):
        from tokentree.core.ledger import machine_label  # its socket: not on the status line

        machine = machine_label(settings.machine)
        roots += ledger_roots(settings.machines, choices.ledgers, machine, notices)
    prices = PriceBook(settings.user_prices())
    index = Index(config.index_path() if choices.use_cache else None, prices=prices)
    scope = Scope(
        roots=tuple(str(root.path) for root in roots),
        sources=tuple(sources),
        since=calendar.day_start(choices.since) if choices.since else None,
        until=calendar.day_start(choices.until + timedelta(days=1)) if choices.until else None,
    )
    return Workspace(
        index,
        scope,
        calendar,
        zone_name,
        roots,
        settings.workers,
        notices=[*index.notices, *notices],
        settings=settings,
        machine=machine,
    )


def ledger_roots(
    configured: Sequence[str], named: Sequence[str], machine: str, notices: list[str]
) -> list[Root]:
    """The month files of other machines' ledgers as roots, each with its machine: those in
    the config's folders (one not there yet is a notice) and in the folders `named` (a bad
    one is a UsageError). This machine's own ledger is left out (its logs are fresher), and
    Parquet ledgers when DuckDB is missing (one notice)."""
    from tokentree.core.ledger import DUCKDB_MISSING, Ledger, LedgerError, find_ledgers

    found: list[Ledger] = []
    for folder, strict in [*((f, False) for f in configured), *((f, True) for f in named)]:
        try:
            found += find_ledgers(Path(folder).expanduser())
        except LedgerError as error:
            if strict:
                raise UsageError(str(error)) from error
            notices.append(f"config machines: {error}")
    roots: dict[Path, Root] = {}
    skipped = 0
    for ledger in found:
        if ledger.machine == machine:
            continue
        if ledger.format == "parquet" and find_spec("duckdb") is None:
            skipped += 1
            continue
        path = ledger.path.expanduser().absolute()
        roots.setdefault(path, Root(path, LEDGER, discovered=True, machine=ledger.machine))
    if skipped:
        notices.append(f"{skipped} Parquet ledger(s) left out: {DUCKDB_MISSING}")
    return list(roots.values())


def calendar_of(
    settings: config.Settings, timezone: str | None, week_start: str | None
) -> tuple[Calendar, str]:
    """The calendar and its zone's name for the options given, else the settings'; raises
    UsageError for an unknown zone or weekday."""
    try:
        zone, zone_name = config.resolve_zone(timezone or settings.timezone)
    except config.ConfigError as error:
        raise UsageError(str(error)) from error
    first_day = (week_start or settings.week_start).lower()
    if first_day not in config.WEEKDAYS:
        raise UsageError(f"--week-start must be one of {', '.join(config.WEEKDAYS)}")
    return Calendar(zone, config.WEEKDAYS.index(first_day)), zone_name


def range_label(first: date | None, last: date | None) -> str:
    """'Since 2026-11-01', 'Until 2026-11-20', '2026-11-01 – 2026-11-20', or 'All time'."""
    if first is not None and last is not None:
        return f"{first}" if first == last else f"{first} – {last}"
    if first is not None:
        return f"Since {first}"
    if last is not None:
        return f"Until {last}"
    return "All time"


def _sources(names: Sequence[str]) -> list[str]:
    chosen = []
    for name in names:
        source = SOURCE_ALIASES.get(name.lower())
        if source is None:
            raise UsageError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        chosen.append(source)
    return chosen or list(SOURCES)


DEMO_NOW = datetime(2026, 11, 22, 20, 10, tzinfo=UTC).timestamp()
"""Where the bundled logs end: a session of that evening is still running."""


def demo_clock() -> Callable[[], float]:
    """The clock a demo runs on: the bundled logs' last evening, moving on in real time, so the
    live line, budgets and the status line show a day in progress."""
    offset = DEMO_NOW - time.time()
    return lambda: time.time() + offset


def demo_logs() -> Path:
    """The bundled sample logs: the checkout's copy, or generated once into the cache dir."""
    bundled = Path(__file__).resolve().parent.parent / "sample_logs"
    if (bundled / "claude").is_dir():
        return bundled
    target = config.demo_logs_path()
    if not (target / ".complete").exists():
        from tokentree.synthetic import generate

        generate(target)
        (target / ".complete").touch()
    return target
