"""What `export --calls`, `team` and `report` over other machines' ledgers print or write."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from tokentree import config
from tokentree.commands import report_table
from tokentree.core.ledger import (
    LEDGER_SCHEMA,
    LedgerError,
    find_ledgers,
    machine_label,
    write_ledger,
)
from tokentree.core.sources import SOURCE_ALIASES
from tokentree.core.tree import Calendar
from tokentree.team import EngineMissing, Part, Span, ledger_report, open_engine
from tokentree.workspace import UsageError, Workspace, calendar_of


def export_calls(workspace: Workspace, target: str, format: str, force: bool) -> int:
    """`tokentree export --calls -o DIR`: this machine's ledger, only changed months rewritten."""
    if target == "-":
        raise UsageError("--calls writes a folder: give it with -o DIR")
    machine = machine_label(workspace.settings.machine)
    try:
        done = write_ledger(
            workspace.index, workspace.scope, Path(target), machine, format, force=force
        )
    except LedgerError as error:
        raise UsageError(str(error)) from error
    print(
        f"ledger {target} ({LEDGER_SCHEMA}, machine {machine}, {format}):"
        f" {done.calls:,} calls in {len(done.ledger.months)} months;"
        f" {len(done.written)} written, {len(done.unchanged)} unchanged"
        + (f", {len(done.removed)} removed" if done.removed else ""),
        file=sys.stderr,
    )
    return 0


def machines_report(
    workspace: Workspace, group_by: str, extra: Sequence[str], *, as_json: bool
) -> int:
    """`report` with other machines' ledgers (`--with`, config `machines`): this machine's
    calls from its index, theirs from their ledgers, each call counted once."""
    parts = []
    for folder in workspace.settings.machines:
        try:
            parts += _parts(Path(folder).expanduser(), "")
        except LedgerError as error:  # a synced folder not there yet is no reason to stop
            print(f"tokentree: config machines: {error}", file=sys.stderr)
    for folder in extra:
        try:
            parts += _parts(Path(folder).expanduser(), "")
        except LedgerError as error:
            raise UsageError(str(error)) from error
    machine = machine_label(workspace.settings.machine)
    parts = [part for part in parts if part.ledger.machine != machine]  # the index is fresher
    scope = workspace.scope
    span = Span(scope.sources, scope.since, scope.until)
    with tempfile.TemporaryDirectory(prefix="tokentree-") as staged:
        local = write_ledger(
            workspace.index, scope, Path(staged), machine, "ndjson", whole_months=False
        )
        try:
            engine = open_engine("duckdb")
        except EngineMissing as error:
            raise UsageError(str(error)) from error
        try:
            document = ledger_report(
                engine,
                [Part("", local.ledger, priority=0), *_unique(parts)],
                group_by,
                workspace.calendar,
                workspace.zone_name,
                span,
            )
        finally:
            engine.close()
    _print(document, as_json)
    return 0


def team(parsed: argparse.Namespace) -> int:
    """`tokentree team DIR...`: one folder per person (its name), each with their ledgers."""
    if not parsed.paths:
        raise UsageError("give the people's ledger folders: tokentree team DIR...")
    parts: list[Part] = []
    people: dict[str, str] = {}
    for folder in parsed.paths:
        path = Path(folder).expanduser()
        person = path.resolve().name
        if person in people:
            raise UsageError(f"two folders are named {person!r}: {people[person]} and {folder}")
        people[person] = folder
        try:
            parts += _parts(path, person)
        except LedgerError as error:
            raise UsageError(str(error)) from error
    calendar, zone = _calendar(parsed)
    span = Span(
        _source_names(parsed.source),
        calendar.day_start(parsed.since) if parsed.since else None,
        calendar.day_start(parsed.until + timedelta(days=1)) if parsed.until else None,
    )
    try:
        engine = open_engine(parsed.engine, parsed.spark_master)
    except EngineMissing as error:
        raise UsageError(str(error)) from error
    try:
        document = ledger_report(engine, parts, parsed.by, calendar, zone, span)
    finally:
        engine.close()
    _print(document, parsed.json)
    return 0


def _parts(path: Path, person: str) -> list[Part]:
    return [Part(person, ledger) for ledger in find_ledgers(path)]


def _unique(parts: list[Part]) -> list[Part]:
    """Each ledger folder once, however many settings name it."""
    seen: set[Path] = set()
    kept = []
    for part in parts:
        if part.ledger.path.resolve() not in seen:
            seen.add(part.ledger.path.resolve())
            kept.append(part)
    return kept


def _calendar(parsed: argparse.Namespace) -> tuple[Calendar, str]:
    try:
        settings = config.load_settings()
    except config.ConfigError as error:
        raise UsageError(str(error)) from error
    return calendar_of(settings, parsed.tz, parsed.week_start)


def _source_names(names: Sequence[str]) -> tuple[str, ...]:
    """The sources `--source` names (by any alias); none: every source in the ledgers, even
    one this version does not know."""
    unknown = [name for name in names if name.lower() not in SOURCE_ALIASES]
    if unknown:
        raise UsageError(f"unknown source {unknown[0]!r}; known: {', '.join(SOURCE_ALIASES)}")
    return tuple(SOURCE_ALIASES[name.lower()] for name in names)


def _print(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return
    shown = dict(document, rows=[dict(row, label=_label(row)) for row in document["rows"]])
    print(report_table(shown))
    totals, names = document["totals"], list(document["machines"])
    people = f" of {_count(totals['people'], 'person')}" if document["group_by"] == "person" else ""
    print(
        f"the total covers {_count(totals['machines'], 'machine')}{people}"
        + (f" ({', '.join(names)})" if names and len(names) <= 8 else "")
    )


def _label(row: dict[str, Any]) -> str:
    return f"{row['key']} · {_count(row['machines'], 'machine')}"


def _count(number: int, noun: str) -> str:
    plural = "people" if noun == "person" else f"{noun}s"
    return f"{number:,} {noun if number == 1 else plural}"
