"""Spend across ledgers: a team's (`tokentree team`) or your machines' (`report --with`).

The ledgers become one `calls` view in an engine, DuckDB (embedded, the default) or Spark;
one SQL text then deduplicates by call key and sums per group on either. Both engines are
optional extras, imported only here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from tokentree.core.ledger import (
    COLUMNS,
    DUCKDB_MISSING,
    NAMES,
    Ledger,
    ndjson_reader,
    parquet_reader,
    quoted,
)
from tokentree.core.report import TIME_GROUPS, period_key, sort_rows, usage_row
from tokentree.core.tree import Calendar

LEDGER_REPORT_SCHEMA = "tokentree.ledger-report/1"
ENGINES = ("duckdb", "spark")
LEDGER_GROUPS = ("person", "machine", "project", "model", "source", "session", *TIME_GROUPS)
_KEYS = {
    "person": "person",
    "machine": "machine",
    "project": "project",
    "model": "model",
    "source": "source",
    "session": "concat(source, ' ', session)",
}
_SUMS = (
    "count(*)",
    "sum(input)",
    "sum(cache_write_5m + cache_write_1h)",
    "sum(cache_read)",
    "sum(output)",
    "sum(reasoning)",
    "sum(cost_usd)",
    "sum(CASE WHEN unpriced THEN 1 ELSE 0 END)",
    "count(DISTINCT machine)",
    "count(DISTINCT person)",
)
_USED = (
    "person, priority, machine, source, session, project, model, time, input, cache_write_5m,"
    " cache_write_1h, cache_read, output, reasoning, cost_usd, unpriced"
)
_COUNTED = (
    f"WITH hashed AS (SELECT {_USED}, call_key, hash(source, call_key) AS call_hash FROM calls),"
    " twice AS (SELECT call_hash FROM hashed GROUP BY call_hash HAVING count(*) > 1),"
    f" counted AS (SELECT {_USED} FROM hashed WHERE call_hash NOT IN (SELECT call_hash FROM twice)"
    f" UNION ALL SELECT {_USED} FROM (SELECT {_USED}, row_number() OVER (PARTITION BY source,"
    " call_key ORDER BY priority, person, machine) AS copy_rank FROM hashed"
    " WHERE call_hash IN (SELECT call_hash FROM twice)) ranked WHERE copy_rank = 1) "
)
"""One copy of each call (by source and call key): the local machine's first, then by person
and machine. Only keys whose hash comes twice are ranked (a collision only costs time), so
millions of calls with few copies are deduplicated in about one pass."""
_MICROS = 1_000_000


class EngineMissing(Exception):
    """The engine asked for cannot run here; the message says what to install."""


@dataclass(frozen=True)
class Part:
    """One ledger as the query sees it: whose it is, and whether its copies win (lower first)."""

    person: str
    ledger: Ledger
    priority: int = 1


@dataclass(frozen=True)
class Span:
    """Which calls of the ledgers count: sources and a time span (epoch seconds)."""

    sources: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None

    def where(self) -> str:
        clauses = ["1 = 1"]
        if self.sources:
            clauses.append(f"source IN ({', '.join(quoted(name) for name in self.sources)})")
        if self.since is not None:
            clauses.append(f"unix_micros(time) >= {int(self.since * _MICROS)}")
        if self.until is not None:
            clauses.append(f"unix_micros(time) < {int(self.until * _MICROS)}")
        return " AND ".join(clauses)


class Engine(Protocol):
    """What the report needs of an engine: the `calls` view, small tables, SQL, rows back."""

    def load(self, parts: Sequence[Part], span: Span) -> None: ...
    def table(self, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None: ...
    def query(self, sql: str) -> list[tuple[Any, ...]]: ...
    def close(self) -> None: ...


class DuckDBEngine:
    """DuckDB in this process: reads the ledgers' files where they lie."""

    name = "duckdb"

    def __init__(self) -> None:
        try:
            import duckdb
        except ImportError as error:
            raise EngineMissing(DUCKDB_MISSING) from error
        self.db = duckdb.connect()
        self.db.execute("CREATE MACRO unix_micros(t) AS epoch_us(t)")  # Spark's name for it

    def load(self, parts: Sequence[Part], span: Span) -> None:
        """One scan per format over every ledger's files, each file's rows joined to whose
        they are (faster than a scan per ledger)."""
        owners = [
            (str(path), part.person, part.priority, part.ledger.format)
            for part in parts
            for path in part.ledger.files()
        ]
        self.table(
            "ledger_files",
            (("filename", "VARCHAR"), ("person", "VARCHAR"), ("priority", "INTEGER")),
            [owner[:3] for owner in owners],
        )
        selects = []
        for format, reader in (("parquet", parquet_reader), ("ndjson", ndjson_reader)):
            files = [Path(name) for name, *_, kind in owners if kind == format]
            if files:
                selects.append(
                    f"SELECT f.person, f.priority, {', '.join(f'r.{name}' for name in NAMES)}"
                    f" FROM {reader(files, filename=True)} r JOIN ledger_files f"
                    " ON f.filename = r.filename"
                )
        if not selects:  # an empty view of the right shape
            columns = ", ".join(f"NULL::{column.duckdb} AS {column.name}" for column in COLUMNS)
            selects.append(f"SELECT NULL::VARCHAR AS person, 0 AS priority, {columns} LIMIT 0")
        union = " UNION ALL ".join(selects)
        self.db.execute(
            f"CREATE OR REPLACE VIEW calls AS SELECT * FROM ({union}) WHERE {span.where()}"
        )

    def table(self, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        spec = ", ".join(f"{column} {kind}" for column, kind in columns)
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({spec})")
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.db.execute(sql).fetchall()

    def close(self) -> None:
        self.db.close()


class SparkEngine:
    """PySpark, in local mode or against `master` (a cluster URL); ledgers may then be any
    path Spark reads, object storage included."""

    name = "spark"

    def __init__(self, master: str | None = None) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as error:
            raise EngineMissing(
                "PySpark is not installed: pip install 'tokentree[spark]'"
            ) from error
        if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            raise EngineMissing("Spark needs Java: install a JDK (17 or later) or set JAVA_HOME")
        self.spark = (
            SparkSession.builder.master(master or "local[*]")
            .appName("tokentree team")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def load(self, parts: Sequence[Part], span: Span) -> None:
        from functools import reduce

        from pyspark.sql import functions

        schema = ", ".join(f"{column.name} {column.spark}" for column in COLUMNS)
        frames = []
        for part in parts:
            files = [str(path) for path in part.ledger.files()]
            if not files:
                continue
            read = self.spark.read
            frame = (
                read.schema(schema).json(files)
                if part.ledger.format == "ndjson"
                else read.parquet(*files)
            )
            frames.append(
                frame.select(
                    functions.lit(part.person).alias("person"),
                    functions.lit(part.priority).alias("priority"),
                    *NAMES,
                )
            )
        if frames:
            union = reduce(lambda left, right: left.unionByName(right), frames)
        else:
            union = self.spark.createDataFrame([], f"person STRING, priority INT, {schema}")
        union.createOrReplaceTempView("ledger_calls")
        self.spark.sql(f"SELECT * FROM ledger_calls WHERE {span.where()}").createOrReplaceTempView(
            "calls"
        )

    def table(self, name: str, columns: Sequence[tuple[str, str]], rows: list[tuple]) -> None:
        spec = ", ".join(f"{column} {kind}" for column, kind in columns)
        self.spark.createDataFrame(rows, spec).createOrReplaceTempView(name)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.spark.sql(sql).collect()]

    def close(self) -> None:
        pass  # the session stays for the process (a second getOrCreate reuses it)


def open_engine(name: str, master: str | None = None) -> Engine:
    """The engine called `name`; raises EngineMissing when it cannot run here."""
    if name == "spark":
        return SparkEngine(master)
    return DuckDBEngine()


def ledger_report(
    engine: Engine,
    parts: Sequence[Part],
    group_by: str,
    calendar: Calendar,
    zone: str,
    span: Span | None = None,
) -> dict[str, Any]:
    """The report over `parts` (`tokentree.ledger-report/1`): the report's shape, each row and
    the totals also saying how many machines and people they cover."""
    engine.load(parts, span or Span())
    if group_by in TIME_GROUPS:
        first, last = engine.query(
            "SELECT min(unix_micros(time)), max(unix_micros(time)) FROM calls"
        )[0]
        periods = (
            [] if first is None else _periods(group_by, calendar, first / _MICROS, last / _MICROS)
        )
        engine.table(
            "periods", (("key", "STRING"), ("start_us", "BIGINT"), ("end_us", "BIGINT")), periods
        )
        key = "p.key"
        source = (
            "counted JOIN periods p"
            " ON unix_micros(counted.time) >= p.start_us AND unix_micros(counted.time) < p.end_us"
        )
    else:
        key, source = _KEYS[group_by], "counted"
    sql = _COUNTED + (
        "SELECT group_key, keyed.machine, grouping(group_key), grouping(keyed.machine),"
        f" {', '.join(_SUMS)} FROM (SELECT {key} AS group_key, counted.* FROM {source}) keyed"
        " GROUP BY GROUPING SETS ((group_key), (keyed.machine), ())"
    )
    rows, machines, totals = [], {}, _row("", [0] * len(_SUMS))
    for group, machine, all_groups, all_machines, *values in engine.query(sql):
        if not all_groups:
            rows.append(_row(str(group), values))
        elif not all_machines:
            machines[str(machine)] = _row(str(machine), values)["calls"]
        else:
            totals = _row("", values)
    sort_rows(rows, group_by)
    del totals["key"]
    return {
        "schema": LEDGER_REPORT_SCHEMA,
        "group_by": group_by,
        "timezone": zone,
        "engine": getattr(engine, "name", type(engine).__name__),
        "machines": dict(sorted(machines.items())),
        "rows": rows,
        "totals": totals,
    }


def _periods(group_by: str, calendar: Calendar, first: float, last: float) -> list[tuple]:
    """(key, start µs, end µs) of each local day, week or month from `first` to `last`."""
    day, end = calendar.day(first), calendar.day(last)
    if group_by == "week":
        day = calendar.week_of(day)
    elif group_by == "month":
        day = day.replace(day=1)
    periods = []
    while day <= end:
        following = _next(group_by, day)
        key = period_key(calendar, day, group_by)
        start, stop = calendar.day_start(day), calendar.day_start(following)
        periods.append((key, int(start * _MICROS), int(stop * _MICROS)))
        day = following
    return periods


def _next(group_by: str, day: date) -> date:
    if group_by == "day":
        return day + timedelta(days=1)
    if group_by == "week":
        return day + timedelta(days=7)
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def _row(key: str, values: Sequence[Any]) -> dict[str, Any]:
    """A row as the report shows it, with the machines and people it covers."""
    *counts, cost, unpriced, machines, people = (value or 0 for value in values)
    row = usage_row(key, *counts, round(float(cost), 9), unpriced)  # as the report's SQL sum
    return row | {"machines": int(machines), "people": int(people)}
