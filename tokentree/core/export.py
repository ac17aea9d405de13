"""A subtree as versioned JSON (`tokentree.export/1`): what the export command and `e` write.

Only metadata leaves the machine this way: labels, tool names, file basenames,
counts and costs; never prompt or file text (none is in the index). Every node
carries its `activity` (tokens and cost per activity class, adding up to its
totals) and the `advice` about it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tokentree import format as fmt
from tokentree.core.tree import Kind, Node, Totals, closer

if TYPE_CHECKING:  # imported when exporting: `report` loads this module too
    from tokentree.core.advice import Advice, AdviceReport, AdviceSettings
    from tokentree.core.attribution import Activity, Attribution
    from tokentree.core.pricing import PriceBook
    from tokentree.core.records import ApiCall

EXPORT_SCHEMA = "tokentree.export/1"


class ExportError(Exception):
    """The export was not written; the message says why."""


def export_document(
    node: Node,
    node_path: str,
    timezone: str,
    *,
    prices: PriceBook | None = None,
    advice_settings: AdviceSettings | None = None,
) -> dict[str, Any]:
    """The document for the subtree at `node` as data (what `write_export` streams)."""
    chunks = export_chunks(
        node, node_path, timezone, prices=prices, advice_settings=advice_settings
    )
    return orjson.loads(b"".join(chunks))


def export_chunks(
    node: Node,
    node_path: str,
    timezone: str,
    *,
    prices: PriceBook | None = None,
    advice_settings: AdviceSettings | None = None,
    activity: Mapping[Node, Activity] | None = None,
) -> Iterator[bytes]:
    """The document for the subtree at `node`, in pieces; advice paths start with `node_path`.

    Pass the index's `prices` (without them genai-prices is asked again), the
    user's advice settings, and a served tree's `activity`. A served day that
    was not open before is dropped again once written (and once advised on), so
    exporting a year holds one day at a time.
    """
    from tokentree.core.advice import advise
    from tokentree.core.attribution import Attribution
    from tokentree.core.pricing import PriceBook

    done_with = closer(node)
    attribution = Attribution(node, activity)
    prices = prices or PriceBook()
    advice = advise(node, prices, advice_settings, attribution, node_path, done_with=done_with)
    header = {
        "schema": EXPORT_SCHEMA,
        "generated_at": fmt.utc_iso(datetime.now(UTC).timestamp(), "milliseconds"),
        "timezone": timezone,
        "node_path": node_path,
    }
    yield orjson.dumps(header)[:-1] + b',"root":'
    yield from _streamed(node, node_path, attribution, advice, prices, done_with)
    yield b"}\n"


def _streamed(
    node: Node,
    path: str,
    attribution: Attribution,
    advice: AdviceReport,
    prices: PriceBook,
    done_with: Callable[[Node], None],
) -> Iterator[bytes]:
    """One node and its subtree as JSON pieces; a day's rows are attributed on their own."""
    if node.kind is Kind.DAY:
        from tokentree.core.attribution import Attribution

        below = Attribution(node)
        yield orjson.dumps(node_dict(node, below, advice, path, attribution[node], prices))
        done_with(node)
        return
    yield orjson.dumps(_fields(node, attribution[node], advice.for_path(path)))[:-1]
    yield b',"children":['
    for number, child in enumerate(node.children):
        if number:
            yield b","
        yield from _streamed(child, _join(path, child.key), attribution, advice, prices, done_with)
    yield b"]}"


def _join(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


def node_dict(
    node: Node,
    attribution: Attribution | None = None,
    advice: AdviceReport | None = None,
    path: str = "",
    activity: Activity | None = None,
    prices: PriceBook | None = None,
) -> dict[str, Any]:
    """One node (at `path`) and its subtree; activity is computed here when no `attribution`
    is given, and taken from `activity` for the node itself when given. With `prices`, each
    call says where its price came from."""
    if attribution is None:
        from tokentree.core.attribution import Attribution

        attribution = Attribution(node)
    items = advice.for_path(path) if advice else []
    data = _fields(node, activity or attribution[node], items, prices)
    data["children"] = [
        node_dict(child, attribution, advice, _join(path, child.key), prices=prices)
        for child in node.children
    ]
    return data


def _fields(
    node: Node, activity: Activity, advice: Sequence[Advice], prices: PriceBook | None = None
) -> dict[str, Any]:
    """What a node says about itself in the export: everything but its children."""
    data: dict[str, Any] = {
        "kind": node.kind.value,
        "key": node.key,
        "label": node.label,
        "start": fmt.utc_iso(node.start, "milliseconds") if node.start else None,
        "end": fmt.utc_iso(node.end, "milliseconds") if node.end else None,
        **aggregates(node.totals),
        "sessions": node.sessions,
        "turns": node.turns,
        "models": dict(node.models.most_common()),
    }
    if node.kind is Kind.SESSION:
        data |= {"source": node.source, "session_id": node.session_id, "project": node.project}
    if node.call is not None:
        call = node.call
        data |= {
            "source": call.source,
            "model": call.model,
            "tools": list(call.tools),
            "fidelity": call.fidelity.value,
            "speed": call.speed or "standard",
            "subagent": call.subagent,
            "source_removed": call.file_missing,
            "cache_miss": call.cache_miss or None,
        }
        if prices is not None:
            data["price_origin"] = price_origin(call, prices)
    data["activity"] = activity.as_dict()
    data["advice"] = [item.as_dict() for item in advice]
    return data


def price_origin(call: ApiCall, prices: PriceBook) -> str | None:
    """Where the call's rates came from, with the model it was priced as when that is a guess;
    None when no price is known."""
    from tokentree.core.pricing import shown_origin

    rates = prices.rates_for(call.model, call.source, call.timestamp, call.speed)
    if rates is None:
        return None
    used = [kind for kind, count in zip(call.tokens._fields, call.tokens, strict=True) if count]
    return shown_origin(rates.origin, used)[0]


def aggregates(totals: Totals) -> dict[str, Any]:
    """The numbers every node carries, named as in the report."""
    return {
        "calls": totals.calls,
        "input": totals.input,
        "cache_write": totals.cache_write,
        "cache_write_5m": totals.cache_write_5m,
        "cache_write_1h": totals.cache_write_1h,
        "cache_read": totals.cache_read,
        "output": totals.output,
        "reasoning": totals.reasoning,
        "total": totals.total,
        "cost_usd": round(totals.cost, 6),
        "cache_hit": round(totals.cache_hit, 6) if totals.cache_hit is not None else None,
        "unpriced_calls": totals.unpriced_calls,
        "lower_bound_calls": totals.lower_bound_calls,
        "estimated_calls": totals.estimated_calls,
        "subagent_calls": totals.subagent_calls,
        "source_removed_calls": totals.missing_calls,
        "rewound_calls": totals.rewound_calls,
        "fast_calls": totals.fast_calls,
        "web_searches": totals.web_searches,
        "source_cost_usd": round(totals.source_cost, 6) if totals.source_cost_calls else None,
        "source_cost_ours_usd": (
            round(totals.source_cost_ours, 6) if totals.source_cost_calls else None
        ),
    }


def write_export(chunks: Iterable[bytes], target: str, *, overwrite: bool = False) -> int:
    """Write the document's pieces to `target` ('-' is stdout) as they come; never replaces
    a file unless told to. Returns the bytes written. The file appears whole or not at all."""
    if target == "-":
        written = 0
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
            written += len(chunk)
        sys.stdout.buffer.flush()
        return written
    path = Path(target)
    if path.exists() and not overwrite:
        raise ExportError(f"{path} already exists (use --force to replace it)")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".tokentree-", dir=path.parent or ".")
        written = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            os.chmod(temporary, 0o666 & ~_umask())  # as open() would make it, not mkstemp's 0600
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
