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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tokentree.core.tree import Kind, Node, Totals

if TYPE_CHECKING:  # imported when exporting: `report` loads this module too
    from tokentree.core.advice import AdviceReport, AdviceSettings
    from tokentree.core.attribution import Attribution
    from tokentree.core.pricing import PriceBook

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
    """The document for the subtree at `node`; advice paths start with `node_path`.

    Pass the index's `prices` (without them genai-prices is asked again) and the
    user's advice settings.
    """
    from tokentree.core.advice import advise
    from tokentree.core.attribution import Attribution
    from tokentree.core.pricing import PriceBook

    attribution = Attribution(node)
    advice = advise(node, prices or PriceBook(), advice_settings, attribution, node_path)
    return {
        "schema": EXPORT_SCHEMA,
        "generated_at": _iso(datetime.now(UTC).timestamp()),
        "timezone": timezone,
        "node_path": node_path,
        "root": node_dict(node, attribution, advice),
    }


def node_dict(
    node: Node, attribution: Attribution | None = None, advice: AdviceReport | None = None
) -> dict[str, Any]:
    """One node and its subtree; activity is computed here when no `attribution` is given."""
    if attribution is None:
        from tokentree.core.attribution import Attribution

        attribution = Attribution(node)
    data: dict[str, Any] = {
        "kind": node.kind.value,
        "key": node.key,
        "label": node.label,
        "start": _iso(node.start) if node.start else None,
        "end": _iso(node.end) if node.end else None,
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
        }
    data["activity"] = attribution[node].as_dict()
    data["advice"] = [item.as_dict() for item in advice.for_node(node)] if advice else []
    data["children"] = [node_dict(child, attribution, advice) for child in node.children]
    return data


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


def write_export(document: dict[str, Any], target: str, *, overwrite: bool = False) -> int:
    """Write the document to `target` ('-' is stdout); never replaces a file unless told to.

    Returns the bytes written. The file appears whole or not at all.
    """
    blob = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if target == "-":
        sys.stdout.buffer.write(blob)
        sys.stdout.buffer.flush()
        return len(blob)
    path = Path(target)
    if path.exists() and not overwrite:
        raise ExportError(f"{path} already exists (use --force to replace it)")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".tokentree-", dir=path.parent or ".")
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it, not mkstemp's 0600
        os.replace(temporary, path)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error
    return len(blob)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
