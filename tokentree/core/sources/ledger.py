"""Other machines' call ledgers (core/ledger.py), read as logs: their calls join the view.

A ledger's month files (`month=YYYY-MM/calls.ndjson` or `calls.parquet`) are the
log files of this source; each row becomes the call it was on its machine, under
its own source's name ("claude-code", …) and key, so the index's winner of each
call (derive.py) counts it once: a ledger's copy ranks below any copy in this
machine's own logs (LEDGER_RANK), which always wins, and a call in two ledgers
counts once. Prompts are not in a ledger: each turn's first call stands for its
prompt. Costs are priced again here, with this machine's prices.

This source is not one of SOURCES (`--source` names the sources of the calls):
its folders are roots only when the config's `machines` (or the view's `--with`)
names them, each with the machine its manifest names (files.machine).
Parquet is read by DuckDB (the `team` extra), imported only when one is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    FileParse,
    ReadMode,
    json_objects,
    parse_timestamp,
    token_count_problem,
)
from tokentree.core.sources.declaration import Source
from tokentree.core.tail import Markers

NAME = "ledger"
LEDGER_RANK = -1
"""Below every rank a source gives its own copies (0 and up): the local copy counts."""
MONTH_FILES = ("calls.ndjson", "calls.parquet")
_TOKENS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output", "reasoning")
_FIDELITY = {member.value: member for member in Fidelity}


def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
    """An NDJSON month file: one call a line."""
    result = FileParse(state=state)
    _take_rows(result, json_objects(lines, result.skipped), path)
    return result


def read_parquet(path: str, state: dict[str, Any]) -> tuple[FileParse, int]:
    """A Parquet month file, whole (a ledger replaces a month's file, never appends)."""
    import duckdb  # the workspace adds no Parquet ledger when DuckDB is missing

    from tokentree.core.ledger import NAMES, parquet_reader

    result = FileParse(state={})
    with duckdb.connect() as db:
        cursor = db.execute(f"SELECT {', '.join(NAMES)} FROM {parquet_reader([Path(path)])}")
        rows = (dict(zip(NAMES, row, strict=True)) for row in cursor.fetchall())
        _take_rows(result, rows, path)
    return result, os.path.getsize(path)


def _take_rows(result: FileParse, rows: Iterator[dict[str, Any]], path: str) -> None:
    """The rows as calls, and a prompt at the first call of each turn."""
    turns: dict[tuple[str, str, int], float] = {}
    for row in rows:
        call = _call(row, path, result)
        if call is None:
            continue
        result.calls.append(call)
        result.ranks.append(LEDGER_RANK)
        turn = row.get("turn")
        if type(turn) is int and turn > 0:
            at = (call.source, call.session_id, turn)
            turns[at] = min(turns.get(at, call.timestamp), call.timestamp)
    result.prompts += [Prompt(source, session, ts) for (source, session, _), ts in turns.items()]


def _call(row: dict[str, Any], path: str, result: FileParse) -> ApiCall | None:
    time = row.get("time")
    timestamp = time.timestamp() if hasattr(time, "timestamp") else parse_timestamp(time)
    if timestamp is None:
        result.skipped[BAD_TIMESTAMP] += 1
        return None
    counts = [row.get(name) or 0 for name in _TOKENS]
    texts = [row.get(name) for name in ("source", "call_key", "session", "project", "model")]
    tools = row.get("tools") or []
    problem = token_count_problem(*counts)
    if problem is None and not all(isinstance(text, str) for text in texts):
        problem = "wrong field types"
    if problem is None and not all(isinstance(tool, str) for tool in tools):
        problem = "wrong field types"
    if problem is not None:
        result.skipped[problem] += 1
        return None
    source, key, session, project, model = texts
    speed = row.get("speed")
    source_cost = row.get("source_cost_usd")
    return ApiCall(
        source=source,
        key=key,
        session_id=session,
        project=project,
        timestamp=timestamp,
        model=model,
        tokens=Tokens(*counts),
        tools=tuple(tools),
        subagent=row.get("subagent") is True,
        fidelity=_FIDELITY.get(row.get("fidelity") or "", Fidelity.EXACT),
        file=path,
        rewound=row.get("rewound") is True,
        source_cost=float(source_cost) if isinstance(source_cost, int | float) else None,
        speed="" if speed in (None, "standard") else str(speed),
        web_searches=row.get("web_searches") if type(row.get("web_searches")) is int else 0,
        cache_miss=row.get("cache_miss") or "",
    )


def _read_mode(path: str) -> ReadMode:
    return ReadMode.DATABASE if path.endswith(".parquet") else ReadMode.LINES


def _accepts(path: str) -> bool:
    folder, name = os.path.split(path)
    return name in MONTH_FILES and os.path.basename(folder).startswith("month=")


def _discover(env: Mapping[str, str], home: Path) -> list[Path]:
    return []  # only the folders the config names (workspace.py)


SOURCE = Source(
    name=NAME,
    version=1,
    title="Other machines",
    badge="ledger",
    colour="secondary",
    aliases=(),
    provider=None,
    home_env={},
    discover=_discover,
    accepts=_accepts,
    sniff=lambda path, head: False,  # never sniffed: read only below the folders named
    parse=parse,
    markers=Markers(((b'"call_key"', None),)),
    suffixes=(".ndjson", ".parquet"),
    read_mode=_read_mode,
    read_database=read_parquet,
)
