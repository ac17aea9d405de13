"""The call ledger (`tokentree.calls/1`): every counted call's metadata, one file per UTC month.

A ledger is a folder a machine writes and others read: `month=YYYY-MM/calls.parquet`
(or `calls.ndjson`) and a manifest that names the machine, the format and each
month's digest, so writing again replaces only the months whose calls changed.
Only metadata goes in (the fields of COLUMNS); never prompt or file text, nor log paths.
Parquet is written by DuckDB, imported only here and only when Parquet is asked for.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from tokentree.core.attribution import call_activity
from tokentree.core.index import Scope
from tokentree.core.index.reader import Reads
from tokentree.core.records import ApiCall

LEDGER_SCHEMA = "tokentree.calls/1"
MANIFEST = "tokentree-ledger.json"
FORMATS = ("parquet", "ndjson")
DUCKDB_MISSING = "DuckDB is not installed: pip install 'tokentree[team]'"


class Column(NamedTuple):
    """One field of a ledger row, with its type in each engine that reads it."""

    name: str
    duckdb: str
    spark: str
    arrow: str
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("machine", "VARCHAR", "STRING", "string", "the machine label (config `machine`)"),
    Column("source", "VARCHAR", "STRING", "string", "claude-code, codex, gemini-cli, opencode"),
    Column("call_key", "VARCHAR", "STRING", "string", "the source's id of the request (dedup)"),
    Column("session", "VARCHAR", "STRING", "string", "the session id"),
    Column("project", "VARCHAR", "STRING", "string", "the project folder as logged"),
    Column("turn", "INTEGER", "INT", "int32", "turn number in its session (0: before a prompt)"),
    Column("time", "TIMESTAMPTZ", "TIMESTAMP", "timestamp[us, tz=UTC]", "when it was made"),
    Column("model", "VARCHAR", "STRING", "string", "the model as logged"),
    Column("input", "BIGINT", "BIGINT", "int64", "uncached input tokens"),
    Column("cache_write_5m", "BIGINT", "BIGINT", "int64", "cache writes, 5-minute TTL"),
    Column("cache_write_1h", "BIGINT", "BIGINT", "int64", "cache writes, 1-hour TTL"),
    Column("cache_read", "BIGINT", "BIGINT", "int64", "cache reads"),
    Column("output", "BIGINT", "BIGINT", "int64", "output tokens (reasoning included)"),
    Column("reasoning", "BIGINT", "BIGINT", "int64", "the reasoning part of output"),
    Column("cost_usd", "DOUBLE", "DOUBLE", "float64", "API-equivalent cost on this machine"),
    Column("unpriced", "BOOLEAN", "BOOLEAN", "bool", "no price known: cost_usd is 0"),
    Column("fidelity", "VARCHAR", "STRING", "string", "exact, lower-bound or estimated"),
    Column("subagent", "BOOLEAN", "BOOLEAN", "bool", "made by a sub-agent"),
    Column("rewound", "BOOLEAN", "BOOLEAN", "bool", "undone in the chat afterwards, but paid"),
    Column("source_removed", "BOOLEAN", "BOOLEAN", "bool", "its log file is gone (kept here)"),
    Column("speed", "VARCHAR", "STRING", "string", "standard or fast"),
    Column("web_searches", "INTEGER", "INT", "int32", "server-side web searches"),
    Column("source_cost_usd", "DOUBLE", "DOUBLE", "float64", "the assistant's own cost, or null"),
    Column("activity", "VARCHAR", "STRING", "string", "its main activity class"),
    Column("tools", "VARCHAR[]", "ARRAY<STRING>", "list<string>", "tool labels (metadata only)"),
    Column("cache_miss", "VARCHAR", "STRING", "string", "why the prompt cache missed, or null"),
    Column("cache_waste_usd", "DOUBLE", "DOUBLE", "float64", "that miss's cost over cache reads"),
)
NAMES = tuple(column.name for column in COLUMNS)


class LedgerError(Exception):
    """A ledger cannot be written or read; the message says why."""


def machine_label(configured: str | None = None) -> str:
    """The label a ledger is stamped with: the config's `machine`, else the host name."""
    return configured or socket.gethostname().split(".")[0] or "localhost"


def ledger_row(call: ApiCall, machine: str, turn: int) -> dict[str, Any]:
    """One call as a ledger row (field order: COLUMNS)."""
    tokens = call.tokens
    return {
        "machine": machine,
        "source": call.source,
        "call_key": call.key,
        "session": call.session_id,
        "project": call.project,
        "turn": turn,
        "time": _iso(call.timestamp),
        "model": call.model,
        "input": tokens.input,
        "cache_write_5m": tokens.cache_write_5m,
        "cache_write_1h": tokens.cache_write_1h,
        "cache_read": tokens.cache_read,
        "output": tokens.output,
        "reasoning": tokens.reasoning,
        "cost_usd": call.cost,
        "unpriced": call.unpriced,
        "fidelity": call.fidelity.value,
        "subagent": call.subagent,
        "rewound": call.rewound,
        "source_removed": call.file_missing,
        "speed": call.speed or "standard",
        "web_searches": call.web_searches,
        "source_cost_usd": call.source_cost,
        "activity": call_activity(call),
        "tools": list(call.tools),
        "cache_miss": call.cache_miss or None,
        "cache_waste_usd": call.cache_waste,
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def month_rows(
    index: Reads, scope: Scope, machine: str, *, whole_months: bool = True
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(YYYY-MM, its rows sorted by source and key) for each UTC month with calls in scope,
    read one month at a time. With `whole_months` a span is widened to whole months, so a
    month's file always holds all of it."""
    if whole_months:
        scope = _whole_months(scope)
    found = index.span(scope)
    if found is None:
        return
    start = _month_start(found[0])
    while start <= found[1]:
        end = _month_end(start)
        month = replace(
            scope,
            since=start if scope.since is None else max(start, scope.since),
            until=end if scope.until is None else min(end, scope.until),
        )
        calls = index.calls(month)
        if calls:
            yield _month_key(start), _rows(index, scope, calls, machine)
        start = end


def _rows(index: Reads, scope: Scope, calls: list[ApiCall], machine: str) -> list[dict[str, Any]]:
    """The month's rows; a call's turn counts its session's prompts of every month before."""
    sessions = {(call.source, call.session_id) for call in calls}
    everywhen = replace(scope, since=None, until=None)
    starts: dict[tuple[str, str], list[float]] = {}
    for prompt in index.prompts(everywhen, sessions):
        starts.setdefault((prompt.source, prompt.session_id), []).append(prompt.timestamp)
    for times in starts.values():
        times[:] = sorted(set(times))
    calls.sort(key=lambda call: (call.source, call.key))
    return [
        ledger_row(
            call,
            machine,
            bisect_right(starts.get((call.source, call.session_id), ()), call.timestamp),
        )
        for call in calls
    ]


def _whole_months(scope: Scope) -> Scope:
    """The scope's span widened to whole UTC months."""
    return replace(
        scope,
        since=None if scope.since is None else _month_start(scope.since),
        until=None if scope.until is None else _month_ceil(scope.until),
    )


def _month_start(timestamp: float) -> float:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()


def _month_end(timestamp: float) -> float:
    """The start of the month after the one `timestamp` falls in."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def _month_ceil(until: float) -> float:
    """An exclusive end widened to a month's start."""
    return until if _month_start(until) == until else _month_end(until)


def _month_key(start: float) -> str:
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m")


@dataclass
class Ledger:
    """A ledger folder as its manifest describes it."""

    path: Path
    machine: str
    format: str
    months: dict[str, dict[str, Any]] = field(default_factory=dict)

    def file(self, month: str, format: str | None = None) -> Path:
        return self.path / f"month={month}" / f"calls.{format or self.format}"

    def files(self) -> list[Path]:
        """The month files that exist (a half-synced folder may lack some)."""
        return [path for month in sorted(self.months) if (path := self.file(month)).is_file()]

    def manifest(self) -> dict[str, Any]:
        return {
            "schema": LEDGER_SCHEMA,
            "machine": self.machine,
            "format": self.format,
            "months": dict(sorted(self.months.items())),
        }


@dataclass
class LedgerWrite:
    """What writing a ledger did."""

    ledger: Ledger
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    calls: int = 0


def write_ledger(
    index: Reads,
    scope: Scope,
    target: Path,
    machine: str,
    format: str = "parquet",
    *,
    force: bool = False,
    whole_months: bool = True,
) -> LedgerWrite:
    """Write the calls in `scope` as the ledger of `machine` in `target`; a month whose
    digest is in the manifest already is left as it is. Refuses to write over another
    machine's ledger unless `force`."""
    if format not in FORMATS:
        raise LedgerError(f"unknown ledger format {format!r}; known: {', '.join(FORMATS)}")
    if target.exists() and not target.is_dir():
        raise LedgerError(f"{target} is not a folder")
    old = _read_manifest(target) if (target / MANIFEST).exists() else None
    if old is not None and old.machine != machine and not force:
        raise LedgerError(
            f"{target} holds the ledger of machine {old.machine!r}, not {machine!r}"
            " (use another folder, or --force to replace it)"
        )
    target.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(target, machine, format)
    done = LedgerWrite(ledger)
    kept = old.months if old is not None and old.format == format else {}
    for month, rows in month_rows(index, scope, machine, whole_months=whole_months):
        data = b"".join(orjson.dumps(row) + b"\n" for row in rows)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        cost = round(sum(row["cost_usd"] for row in rows), 6)
        ledger.months[month] = {"calls": len(rows), "cost_usd": cost, "digest": digest}
        done.calls += len(rows)
        if kept.get(month, {}).get("digest") == digest and ledger.file(month).is_file():
            done.unchanged.append(month)
            continue
        _write_month(ledger.file(month), data, format, machine)
        done.written.append(month)
    for month in sorted(set(old.months) - set(ledger.months)) if old is not None else ():
        if _covers(scope, month, whole_months):
            done.removed.append(month)
        else:  # outside the span written now: keep it
            ledger.months[month] = old.months[month]
    if old is not None:
        for month in old.months:
            stale = [old.file(month)] if old.format != format or month in done.removed else []
            for path in stale:
                path.unlink(missing_ok=True)
                _remove_empty(path.parent)
    _atomic_write(target / MANIFEST, orjson.dumps(ledger.manifest(), option=orjson.OPT_INDENT_2))
    return done


def _covers(scope: Scope, month: str, whole_months: bool) -> bool:
    """Whether `month` lies inside the span just written (so its absence means no calls)."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC).timestamp()
    span = _whole_months(scope) if whole_months else scope
    since, until = span.since, span.until
    return (since is None or start >= since) and (until is None or _month_end(start) <= until)


def _write_month(path: Path, data: bytes, format: str, machine: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "ndjson":
        _atomic_write(path, data)
        return
    try:
        import duckdb
    except ImportError as error:
        raise LedgerError(DUCKDB_MISSING) from error
    handle, staged = tempfile.mkstemp(prefix=".tokentree-", suffix=".ndjson", dir=path.parent)
    parquet = f"{staged}.parquet"
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        with duckdb.connect() as db:
            db.execute(
                f"COPY (SELECT {', '.join(NAMES)} FROM {ndjson_reader([Path(staged)])})"
                f" TO {quoted(parquet)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA"
                f" {{schema: {quoted(LEDGER_SCHEMA)}, machine: {quoted(machine)}}})"
            )
        os.replace(parquet, path)
    finally:
        Path(staged).unlink(missing_ok=True)
        Path(parquet).unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    handle, staged = tempfile.mkstemp(prefix=".tokentree-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(staged, 0o644)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty, or gone


def _read_manifest(path: Path) -> Ledger:
    try:
        data = orjson.loads((path / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise LedgerError(f"cannot read the ledger manifest in {path}: {error}") from error
    if not isinstance(data, dict) or data.get("schema") != LEDGER_SCHEMA:
        raise LedgerError(f"{path / MANIFEST} is not a {LEDGER_SCHEMA} manifest")
    if data.get("format") not in FORMATS:
        raise LedgerError(f"{path / MANIFEST}: unknown format {data.get('format')!r}")
    return Ledger(path, str(data.get("machine", "")), data["format"], dict(data.get("months", {})))


def find_ledgers(path: Path) -> list[Ledger]:
    """The ledger at `path`, or those one folder below it (a synced folder holds one per
    machine; a person's folder may hold several)."""
    if (path / MANIFEST).is_file():
        return [_read_manifest(path)]
    if not path.is_dir():
        raise LedgerError(f"no such folder: {path}")
    found = [
        _read_manifest(child) for child in sorted(path.iterdir()) if (child / MANIFEST).is_file()
    ]
    if not found:
        raise LedgerError(f"no call ledger in {path} (tokentree export --calls -o DIR writes one)")
    return found


def quoted(text: str) -> str:
    """A SQL string literal (DuckDB and Spark SQL both read '' as a quote)."""
    return "'" + text.replace("'", "''") + "'"


def ndjson_reader(files: Sequence[Path], *, filename: bool = False) -> str:
    """DuckDB's reader of NDJSON ledger files, every column typed (and with `filename`, the
    file each row came from)."""
    columns = ", ".join(f"{quoted(column.name)}: {quoted(column.duckdb)}" for column in COLUMNS)
    paths = ", ".join(quoted(str(path)) for path in files)
    return (
        f"read_json([{paths}], format = 'newline_delimited', columns = {{{columns}}},"
        f" filename = {str(filename).lower()})"
    )


def parquet_reader(files: Sequence[Path], *, filename: bool = False) -> str:
    """DuckDB's reader of Parquet ledger files (the folder names are not columns)."""
    paths = ", ".join(quoted(str(path)) for path in files)
    return (
        f"read_parquet([{paths}], hive_partitioning = false, union_by_name = true,"
        f" filename = {str(filename).lower()})"
    )
