"""A saved tree: a `tokentree.export/1` document read back into nodes, for `tokentree -f`.

The nodes are the export's own (keys, labels, times, totals as written), so
exporting a subtree again writes what the first export held. Call rows become
ApiCall leaves again: the info panel, activity, advice and the filter read
those, as they do in a tree built from the logs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tokentree.core.attribution import COMPACTION_MARK
from tokentree.core.export import EXPORT_SCHEMA
from tokentree.core.records import ApiCall, Fidelity, Tokens
from tokentree.core.tree import Kind, Node, Totals


class SavedTreeError(Exception):
    """The document cannot be read as a saved tree; the message (one line) says why."""


class _Damaged(Exception):
    """A node cannot be read; the message says where (raised once, by the deepest node)."""


@dataclass(frozen=True, eq=False)
class SavedTree:
    """The export's root node and what its header says about it."""

    root: Node
    timezone: str
    node_path: str  # where the root was in the tree it was exported from ('' for all of it)
    generated_at: str


@dataclass(frozen=True, slots=True)
class _Session:
    """What a call row inherits from the session row above it."""

    source: str = ""
    session_id: str = ""
    project: str = ""


def read_saved(data: bytes) -> SavedTree:
    """The saved tree in `data`; raises SavedTreeError for anything else (never a traceback:
    a damaged or foreign file is a user's mistake, said in one line)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise SavedTreeError(f"not JSON ({error})") from error
    schema = document.get("schema") if isinstance(document, dict) else None
    if schema != EXPORT_SCHEMA:
        found = f" (its schema is {schema!r})" if isinstance(schema, str) else ""
        raise SavedTreeError(f"not a {EXPORT_SCHEMA} document{found}")
    try:
        root = _node(document["root"], _Session(), "")
        return SavedTree(
            root,
            _text(document, "timezone"),
            str(document.get("node_path") or ""),
            str(document.get("generated_at") or ""),
        )
    except RecursionError as error:
        raise SavedTreeError(f"a damaged {EXPORT_SCHEMA} document (nested too deep)") from error
    except _Damaged as error:
        raise SavedTreeError(f"a damaged {EXPORT_SCHEMA} document ({error})") from error
    except (KeyError, TypeError, ValueError) as error:
        raise SavedTreeError(f"a damaged {EXPORT_SCHEMA} document ({_why(error)})") from error


def _node(data: dict[str, Any], session: _Session, path: str) -> Node:
    try:
        kind = Kind(data["kind"])
        key = _text(data, "key")
        node = Node(kind, key, _text(data, "label"), _time(data["start"]), _time(data["end"]))
        if kind is Kind.SESSION:
            project = str(data.get("project") or "")
            session = _Session(_text(data, "source"), _text(data, "session_id"), project)
            node.source, node.session_id, node.project = (
                session.source,
                session.session_id,
                session.project,
            )
        node.sessions = int(data["sessions"])
        node.turns = int(data["turns"])
        node.models = Counter({str(model): int(n) for model, n in data["models"].items()})
        if kind is Kind.CALL:
            node.call = _call(data, key, node.start, session)
        below = path + "/" + key if path else key
        node._children = [_node(child, session, below) for child in data["children"]]
        node.totals = _totals(data, node)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        where = f"{path}/{data.get('key', '?')}" if isinstance(data, dict) else path
        raise _Damaged(f"at {where.strip('/') or 'the root'}: {_why(error)}") from error
    return node


def _totals(data: dict[str, Any], node: Node) -> Totals:
    """The node's totals as the export wrote them; the calls that carried the assistant's own
    cost are not written, so they are counted from the rows below."""
    cache_write_5m, cache_write_1h = int(data["cache_write_5m"]), int(data["cache_write_1h"])
    if cache_write_5m + cache_write_1h != int(data["cache_write"]):
        raise ValueError("cache_write is not cache_write_5m + cache_write_1h")
    source_cost = data.get("source_cost_usd")
    if node.children:
        source_cost_calls = sum(child.totals.source_cost_calls for child in node.children)
    else:
        source_cost_calls = int(data["calls"]) if source_cost is not None else 0
    return Totals(
        calls=int(data["calls"]),
        input=int(data["input"]),
        cache_write_5m=cache_write_5m,
        cache_write_1h=cache_write_1h,
        cache_read=int(data["cache_read"]),
        output=int(data["output"]),
        reasoning=int(data["reasoning"]),
        cost=float(data["cost_usd"]),
        unpriced_calls=int(data["unpriced_calls"]),
        lower_bound_calls=int(data["lower_bound_calls"]),
        estimated_calls=int(data["estimated_calls"]),
        subagent_calls=int(data["subagent_calls"]),
        missing_calls=int(data["source_removed_calls"]),
        rewound_calls=int(data.get("rewound_calls") or 0),
        fast_calls=int(data.get("fast_calls") or 0),
        web_searches=int(data.get("web_searches") or 0),
        source_cost_calls=source_cost_calls,
        source_cost=float(source_cost or 0.0),
        source_cost_ours=float(data.get("source_cost_ours_usd") or 0.0),
        cache_waste=float(data.get("cache_waste_usd") or 0.0),
    )


def _call(data: dict[str, Any], key: str, timestamp: float, session: _Session) -> ApiCall:
    """A call row as the record it was exported from. Its log file's path is not exported:
    a compaction's call, told by that path, is told by its activity instead."""
    speed = str(data.get("speed") or "standard")
    source_cost = data.get("source_cost_usd")
    return ApiCall(
        source=str(data.get("source") or session.source),
        key=key,
        session_id=session.session_id,
        project=session.project,
        timestamp=timestamp,
        model=_text(data, "model"),
        tokens=Tokens(
            int(data["input"]),
            int(data["cache_write_5m"]),
            int(data["cache_write_1h"]),
            int(data["cache_read"]),
            int(data["output"]),
            int(data["reasoning"]),
        ),
        tools=tuple(str(tool) for tool in data.get("tools") or ()),
        subagent=bool(data.get("subagent")),
        fidelity=Fidelity(data.get("fidelity") or Fidelity.EXACT),
        cost=float(data["cost_usd"]),
        unpriced=bool(data["unpriced_calls"]),
        file=COMPACTION_MARK if "compaction" in (data.get("activity") or {}) else "",
        file_missing=bool(data.get("source_removed")),
        rewound=bool(data.get("rewound_calls")),
        source_cost=float(source_cost) if source_cost is not None else None,
        speed="" if speed == "standard" else speed,
        web_searches=int(data.get("web_searches") or 0),
        cache_miss=str(data.get("cache_miss") or ""),
        cache_waste=float(data.get("cache_waste_usd") or 0.0),
    )


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a string")
    return value


def _time(value: str | None) -> float:
    """An ISO 8601 time as the export writes it ('…Z'); 0 where it wrote none."""
    if value is None:
        return 0.0
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return moment.timestamp()


def _why(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no {error.args[0]!r}"
    return str(error) or type(error).__name__
