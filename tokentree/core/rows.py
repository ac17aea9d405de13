"""A stored copy of a call: its columns, named once, and the way a call becomes one and back.

Readers turn calls into rows (priced, with tool labels joined); the index keeps
every copy as a row of `copies` and the tree reads the counted ones back as
ApiCall records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from tokentree.core.attribution import COMPACTION_MARK, weights_of
from tokentree.core.cache_misses import file_misses
from tokentree.core.pricing import PriceBook, Pricing, Rates
from tokentree.core.records import QUARTER_HOUR, ApiCall, Fidelity, Tokens

TOOL_SEPARATOR = "\x1f"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "TEXT NOT NULL"),  # the source's identity of the request: copies share it
    # the response it carries (Claude's message.id), or ''; the key begins with it up to its
    # first ':', followed by ':' or nothing (derive._in_family finds a family's copies so)
    ("family", "TEXT NOT NULL"),
    ("rank", "INTEGER NOT NULL"),  # which copy counts: the highest
    ("subagent", "INTEGER NOT NULL"),
    ("source", "TEXT NOT NULL"),
    ("session", "TEXT NOT NULL"),
    ("project", "TEXT NOT NULL"),
    ("ts", "REAL NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("input", "INTEGER NOT NULL"),
    ("cache_write_5m", "INTEGER NOT NULL"),
    ("cache_write_1h", "INTEGER NOT NULL"),
    ("cache_read", "INTEGER NOT NULL"),
    ("output", "INTEGER NOT NULL"),
    ("reasoning", "INTEGER NOT NULL"),
    ("tools", "TEXT NOT NULL"),
    ("fidelity", "TEXT NOT NULL"),
    ("cost", "REAL NOT NULL"),
    ("pricing", "INTEGER NOT NULL"),  # how its cost was found: pricing.Pricing
    ("rewound", "INTEGER NOT NULL"),
    ("source_cost", "REAL"),
    ("speed", "TEXT NOT NULL"),
    ("web_searches", "INTEGER NOT NULL"),
    ("bucket", "TEXT NOT NULL"),  # its activity (attribution.Bucket.code), or '' when split
    ("cache_miss", "TEXT NOT NULL DEFAULT ''"),  # ApiCall.cache_miss; never summed
    ("cache_waste", "REAL NOT NULL DEFAULT 0"),  # ApiCall.cache_waste (core/cache_misses.py)
)
NAMES = tuple(name for name, _ in COLUMNS)
COLUMN_LIST = ", ".join(NAMES)


def prefixed(table: str) -> str:
    """The COLUMNS of a copy as `table.name, …`, for a join."""
    return ", ".join(f"{table}.{name}" for name in NAMES)


TOKEN_NAMES = NAMES[NAMES.index("input") : NAMES.index("reasoning") + 1]

Row = tuple[Any, ...]
"""A copy as stored: the values of COLUMNS in order."""

ROLLUP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("file_id", "INTEGER NOT NULL"),
    ("source", "TEXT NOT NULL"),
    ("session", "TEXT NOT NULL"),
    ("project", "TEXT NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("slot", "INTEGER NOT NULL"),  # the quarter hour, counted from the epoch
    ("calls", "INTEGER NOT NULL"),
    ("input", "INTEGER NOT NULL"),
    ("cache_write_5m", "INTEGER NOT NULL"),
    ("cache_write_1h", "INTEGER NOT NULL"),
    ("cache_read", "INTEGER NOT NULL"),
    ("output", "INTEGER NOT NULL"),
    ("reasoning", "INTEGER NOT NULL"),
    ("cost", "REAL NOT NULL"),
    ("unpriced", "INTEGER NOT NULL"),
    ("lower_bound", "INTEGER NOT NULL"),
    ("estimated", "INTEGER NOT NULL"),
    ("subagent", "INTEGER NOT NULL"),
    ("rewound", "INTEGER NOT NULL"),
    ("fast", "INTEGER NOT NULL"),
    ("web_searches", "INTEGER NOT NULL"),
    ("source_cost_calls", "INTEGER NOT NULL"),
    ("source_cost", "REAL NOT NULL"),
    ("source_cost_ours", "REAL NOT NULL"),
    ("cache_waste", "REAL NOT NULL"),
    ("first", "REAL NOT NULL"),  # the earliest and latest copy: not summed
    ("last", "REAL NOT NULL"),
)
"""A file's sums per session, project, model and quarter hour, over every copy it holds: all
that a tree node's Totals add up, so weeks and days are served without reading a call."""


SLOT = f"CAST(ts / {QUARTER_HOUR} AS INTEGER)"
"""A copy's quarter hour, as the rollup's `slot` counts it."""
SUMMED = (
    "1",
    "input",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "output",
    "reasoning",
    "cost",
    f"pricing = {Pricing.UNPRICED}",
    f"fidelity = '{Fidelity.LOWER_BOUND.value}'",
    f"(fidelity = '{Fidelity.ESTIMATED.value}' OR pricing = {Pricing.ESTIMATED})",
    "subagent",
    "rewound",
    "speed = 'fast'",
    "web_searches",
    "source_cost IS NOT NULL",
    "coalesce(source_cost, 0.0)",
    "iif(source_cost IS NULL, 0.0, cost)",
    "cache_waste",
)
"""What each copy adds to ROLLUP_COLUMNS from `calls` on, in their order."""
SUM_NAMES = tuple(name for name, _ in ROLLUP_COLUMNS[6 : 6 + len(SUMMED)])


def rollup_of(table: str, where: str = "1") -> str:
    """The SELECT that sums the copies in `table` (rows with `file_id` and COLUMNS) into
    ROLLUP_COLUMNS: one statement, whether a reader stages the sums or the index derives them."""
    sums = ", ".join(f"sum({term})" for term in SUMMED)
    return (
        f"SELECT file_id, source, session, project, model, {SLOT} AS slot, {sums},"
        f" min(ts), max(ts) FROM {table} WHERE {where}"
        " GROUP BY file_id, source, session, project, model, slot"
    )


def rollup_rows(copies: Iterable[tuple[int, Row]]) -> list[tuple[Any, ...]]:
    """rollup_of()'s rows for (file_id, row) pairs, summed in Python: a reader's staged
    copies in half the time of SQLite's GROUP BY, which sorts every row first (a
    test holds the two equal)."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    source, session, project, model, ts = (_AT[name] for name in _GROUPED)
    for file_id, row in copies:
        slot = int(row[ts] / QUARTER_HOUR)  # SLOT
        group = (file_id, row[source], row[session], row[project], row[model], slot)
        found = groups.get(group)
        if found is None:
            groups[group] = [row]
        else:
            found.append(row)
    return [(*group, *_sums(rows)) for group, rows in groups.items()]


_GROUPED = ("source", "session", "project", "model", "ts")
_READ = (
    "subagent",
    "ts",
    "fidelity",
    "cost",
    "pricing",
    "rewound",
    "source_cost",
    "speed",
    "web_searches",
    "cache_waste",
)


def _sums(rows: list[Row]) -> tuple[Any, ...]:
    """SUMMED over the rows, in its order, then their first and last `ts`."""
    columns = tuple(zip(*rows, strict=True))
    subagent, ts, fidelity, cost, pricing, rewound, source_cost, speed, web_searches, waste = (
        columns[_AT[name]] for name in _READ
    )
    by_source = [
        (theirs, ours) for theirs, ours in zip(source_cost, cost, strict=True) if theirs is not None
    ]
    estimated = fidelity.count(_ESTIMATED)
    if _PRICING_ESTIMATED in pricing:  # a rare copy, counted once when its fidelity says so too
        estimated += sum(
            f != _ESTIMATED and p == _PRICING_ESTIMATED
            for f, p in zip(fidelity, pricing, strict=True)
        )
    return (
        len(rows),
        *map(sum, columns[_TOKENS]),
        sum(cost, 0.0),
        pricing.count(Pricing.UNPRICED.value),
        fidelity.count(Fidelity.LOWER_BOUND.value),
        estimated,
        sum(subagent),
        sum(rewound),
        speed.count("fast"),
        sum(web_searches),
        len(by_source),
        sum([theirs for theirs, _ in by_source], 0.0),
        sum([ours for _, ours in by_source], 0.0),
        sum(waste, 0.0),
        min(ts),
        max(ts),
    )


_ESTIMATED = Fidelity.ESTIMATED.value
_PRICING_ESTIMATED = Pricing.ESTIMATED.value


def call_rows(
    calls: Sequence[ApiCall],
    ranks: Sequence[int],
    prices: PriceBook,
    families: Mapping[str, str] | None = None,
    path: str = "",
    state: MutableMapping[str, Any] | None = None,
) -> list[Row]:
    """The calls of the file at `path` as priced rows with their activity and cache misses
    (the sessions' last calls carried in the file's `state`), each call unpacked once (a
    first index builds millions)."""
    rows: list[Row] = []
    append = rows.append
    price_of = prices.price_of
    family_of = (families or {}).get
    compaction = COMPACTION_MARK in path

    def rates_of(call: ApiCall) -> Rates | None:
        return prices.rates_for(call.model, call.source, call.timestamp, call.speed)

    misses = file_misses(calls, rates_of, {} if state is None else state)
    for call, rank, (cause, waste) in zip(calls, ranks, misses, strict=True):
        (
            source,
            key,
            session,
            project,
            timestamp,
            model,
            tokens,
            tools,
            subagent,
            fidelity,
            _cost,
            _unpriced,
            _file,
            _missing,
            rewound,
            source_cost,
            speed,
            web_searches,
            cache_miss,
            _waste,
        ) = call
        cost, pricing = price_of(model, source, timestamp, speed, tokens, web_searches)
        append(
            (
                key,
                family_of(key, ""),
                rank,
                1 if subagent else 0,
                source,
                session,
                project,
                timestamp,
                model,
                *tokens,
                TOOL_SEPARATOR.join(tools),
                _FIDELITY_VALUE[fidelity],
                cost,
                int(pricing),
                1 if rewound else 0,
                source_cost,
                speed,
                web_searches,
                bucket_code(tools, subagent, compaction),
                cache_miss or cause,
                waste,
            )
        )
    return rows


def bucket_code(tools: tuple[str, ...], subagent: bool, compaction: bool) -> str:
    """The copy's one bucket as stored, or '' when its tools fall in several (split later)."""
    weights = weights_of(tools, subagent, compaction)
    return weights[0][0].code if len(weights) == 1 else ""


_FIDELITY = {member.value: member for member in Fidelity}
_FIDELITY_VALUE = {member: member.value for member in Fidelity}
"""Fidelity.value for call_rows(): the enum's `value` property costs eight times a dict's."""


def row_call(row: Sequence[Any], path: str, missing: bool) -> ApiCall:
    """A stored row as the call the tree and the exports read: call_rows() undone."""
    (
        key,
        _family,
        _rank,
        subagent,
        source,
        session,
        project,
        ts,
        model,
        fresh,
        write_5m,
        write_1h,
        cache_read,
        output,
        reasoning,
        tools,
        fidelity,
        cost,
        pricing,
        rewound,
        source_cost,
        speed,
        web_searches,
        _bucket,
        cache_miss,
        cache_waste,
    ) = row
    fidelity = _FIDELITY[fidelity]
    if pricing == Pricing.ESTIMATED and fidelity is Fidelity.EXACT:
        fidelity = Fidelity.ESTIMATED  # the tokens are exact, their price is not
    return ApiCall(
        source,
        key,
        session,
        project,
        ts,
        model,
        Tokens(fresh, write_5m, write_1h, cache_read, output, reasoning),
        tuple(tools.split(TOOL_SEPARATOR)) if tools else (),
        subagent == 1,
        fidelity,
        cost,
        pricing == Pricing.UNPRICED,
        path,
        missing,
        rewound == 1,
        source_cost,
        speed,
        web_searches,
        cache_miss,
        cache_waste,
    )


_AT = {name: position for position, name in enumerate(NAMES)}
_TOKENS = slice(_AT["input"], _AT["reasoning"] + 1)
_FULLER = (
    "model",
    "fidelity",
    "cost",
    "pricing",
    "source_cost",
    "speed",
    "web_searches",
    "cache_miss",
    "cache_waste",
)


def merged(old: Row, new: Row) -> Row:
    """One response read in two passes over the same file (its blocks were split between
    reads): the fullest usage (of two as full, the higher rank's: a Codex record over the
    snapshot read before it), every tool, the higher rank; as one read of both would give.

    A later copy that says the call was rewound marks it so (the tokens stay)."""
    tools = _split_tools(old)
    tools += [tool for tool in _split_tools(new) if tool not in tools]
    rank = _AT["rank"]
    fuller = new if (sum(new[_TOKENS][:5]), new[rank]) > (sum(old[_TOKENS][:5]), old[rank]) else old
    values = dict(zip(NAMES, old, strict=True))
    values.update(zip(TOKEN_NAMES, fuller[_TOKENS], strict=True))
    values.update((name, fuller[_AT[name]]) for name in _FULLER)
    values["tools"] = TOOL_SEPARATOR.join(tools)
    values["rank"] = max(old[rank], new[rank])
    values["rewound"] = max(old[_AT["rewound"]], new[_AT["rewound"]])
    values["bucket"] = bucket_code(
        tuple(tools), old[_AT["subagent"]] == 1, old[_AT["bucket"]] == "compaction"
    )
    return tuple(values[name] for name in NAMES)


def _split_tools(row: Row) -> list[str]:
    tools = row[_AT["tools"]]
    return tools.split(TOOL_SEPARATOR) if tools else []
