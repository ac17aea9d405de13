"""Time `tokentree team` on DuckDB over 50 people's ledgers, a month of calls each.

    python benchmarks/team.py                     # 50 heavy users' months: 5 M calls in all
    python benchmarks/team.py --calls 20000       # 50 busy months: 1 M calls
    python benchmarks/team.py --spark             # Spark local mode too (needs Java, PySpark)

The ledgers are made once with DuckDB into benchmarks/.data/team-<people>x<calls>/ (one folder
per person, a laptop ledger each, in the shape `tokentree export --calls` writes: the same
columns, zstd Parquet, manifest) and kept. Each person's last 1 % of calls are copies of the
next person's first, so the deduplication has work to do. Target: each report under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tokentree.core.ledger import (  # noqa: E402
    LEDGER_SCHEMA,
    MANIFEST,
    NAMES,
    Ledger,
    find_ledgers,
    quoted,
)
from tokentree.core.tree import Calendar  # noqa: E402
from tokentree.synthetic import isolated_environment  # noqa: E402
from tokentree.team import DuckDBEngine, Part, SparkEngine, ledger_report  # noqa: E402

DATA = HERE / ".data"
TARGET_S = 2.0
GROUPS = ("person", "project", "model", "week", "month")
MODELS = (
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gpt-5-codex",
    "gemini-2.5-pro",
)


def make_team(folder: Path, people: int, calls: int) -> None:
    """People's ledgers for November 2026, written by DuckDB straight from SQL."""
    import duckdb

    shared = max(calls // 100, 1)
    models = "[" + ", ".join(quoted(model) for model in MODELS) + "]"
    with duckdb.connect() as db:
        for person in range(people):
            ledger = Ledger(
                folder / f"person-{person:02}" / "laptop", f"laptop-{person:02}", "parquet"
            )
            target = ledger.file("2026-11")
            target.parent.mkdir(parents=True, exist_ok=True)
            copied = f"i >= {calls - shared}"  # the next person's first calls, copied
            owner = f"CASE WHEN {copied} THEN {(person + 1) % people} ELSE {person} END"
            number = f"CASE WHEN {copied} THEN i - {calls - shared} ELSE i END"
            spread = 30 * 24 * 3600 * 1_000_000 // calls
            h = "hash(i * 7919 + {salt})"
            db.execute(
                f"""COPY (SELECT
                    {quoted(ledger.machine)} AS machine,
                    'claude-code' AS source,
                    'msg_' || {owner} || '_' || {number} AS call_key,
                    'session-' || {owner} || '-' || (i // 200) AS session,
                    '/home/dev/project-' || ({h.format(salt=1)} % 8) AS project,
                    CAST((i % 200) // 8 AS INTEGER) AS turn,
                    to_timestamp((1793491200000000 + i * {spread}) / 1e6) AS time,
                    {models}[1 + CAST({h.format(salt=2)} % 5 AS INTEGER)] AS model,
                    CAST({h.format(salt=3)} % 50 AS BIGINT) AS input,
                    CAST({h.format(salt=4)} % 4000 AS BIGINT) AS cache_write_5m,
                    CAST(0 AS BIGINT) AS cache_write_1h,
                    CAST({h.format(salt=5)} % 90000 AS BIGINT) AS cache_read,
                    CAST({h.format(salt=6)} % 2000 AS BIGINT) AS output,
                    CAST(0 AS BIGINT) AS reasoning,
                    ({h.format(salt=7)} % 100000) / 1e6 AS cost_usd,
                    false AS unpriced, 'exact' AS fidelity, i % 9 = 0 AS subagent,
                    false AS rewound, false AS source_removed, 'standard' AS speed,
                    0 AS web_searches, CAST(NULL AS DOUBLE) AS source_cost_usd,
                    'reading' AS activity, ['Read app.py', 'Bash pytest'] AS tools,
                    CAST(NULL AS VARCHAR) AS cache_miss
                FROM range({calls}) AS t(i))
                TO {quoted(str(target))} (FORMAT parquet, COMPRESSION zstd, KV_METADATA
                {{schema: {quoted(LEDGER_SCHEMA)}, machine: {quoted(ledger.machine)}}})"""
            )
            ledger.months["2026-11"] = {"calls": calls, "digest": "sha256:benchmark"}
            (ledger.path / MANIFEST).write_bytes(orjson.dumps(ledger.manifest()))
    (folder / ".complete").touch()


def timed_reports(engine, parts: list[Part], repeat: int) -> list[tuple[str, int, float, float]]:
    calendar = Calendar(ZoneInfo("UTC"), 0)
    rows = []
    for group in GROUPS:
        times, document = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            document = ledger_report(engine, parts, group, calendar, "UTC")
            times.append(time.perf_counter() - start)
        assert document is not None
        rows.append((group, document["totals"]["calls"], statistics.median(times), min(times)))
    return rows


def command_seconds(folders: list[Path]) -> float:
    """`tokentree team --by person` end to end: a fresh process, as a user runs it."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **isolated_environment(Path(home)), "TZ": "UTC"}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tokentree", "team", *map(str, folders)],
            env=env,
            capture_output=True,
            check=False,
        )
        seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr.decode())
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument(
        "--calls", type=int, default=100_000, help="calls a person (scale.py's heavy month)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="time Spark local mode too")
    args = parser.parse_args()
    folder = DATA / f"team-{args.people}x{args.calls}"
    if not (folder / ".complete").exists():
        start = time.perf_counter()
        make_team(folder, args.people, args.calls)
        print(f"made {args.people} ledgers in {time.perf_counter() - start:.1f} s: {folder}")
    folders = sorted(path for path in folder.iterdir() if path.is_dir())
    parts = [Part(path.name, ledger) for path in folders for ledger in find_ledgers(path)]
    size = sum(path.stat().st_size for path in folder.rglob("*.parquet"))
    written = args.people * args.calls
    print(
        f"{args.people} people × {args.calls:,} calls ({written:,} written, {size / 2**20:.0f} MB)"
    )
    engines = [("duckdb", DuckDBEngine())]
    if args.spark:
        engines.append(("spark", SparkEngine()))
    print(f"{'engine':<7} {'--by':<8} {'calls':>10} {'median':>8} {'min':>8}  target")
    for name, engine in engines:
        for group, calls, median, low in timed_reports(engine, parts, args.repeat):
            verdict = "PASS" if median <= TARGET_S else "over"
            print(
                f"{name:<7} {group:<8} {calls:>10,} {median:>7.2f}s {low:>7.2f}s"
                f"  ≤{TARGET_S:.0f} s {verdict}"
            )
        engine.close()
    seconds = command_seconds(folders)
    verdict = "PASS" if seconds <= TARGET_S else "over"
    print(
        f"{'cli':<7} {'person':<8} {'':>10} {seconds:>7.2f}s {'':>8}  ≤{TARGET_S:.0f} s {verdict}"
    )
    print(f"columns: {', '.join(NAMES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
