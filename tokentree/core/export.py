"""A subtree as versioned JSON (`tokentree.export/1`): what the export command and `e` write.

Only metadata leaves the machine this way: labels, tool names, file basenames,
counts and costs; never prompt or file text (none is in the index). Every node
carries its `activity` (tokens and cost per activity class, adding up to its
totals) and the `advice` about it; the root and every session their `what_if` (the calls
priced on each family's cheaper model and at standard speed), and with a plan in the config
the document weighs each month's cost against its price (`plan`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from tokentree import format as fmt
from tokentree.core.tree import Calendar, Kind, Node, Totals, closer

if TYPE_CHECKING:  # imported when exporting: `report` loads this module too
    from tokentree.core.advice import Advice, AdviceReport, AdviceSettings
    from tokentree.core.attribution import Activity, Attribution
    from tokentree.core.pricing import PriceBook
    from tokentree.core.records import ApiCall
    from tokentree.core.whatif import Repricing

EXPORT_SCHEMA = "tokentree.export/1"
WHOLE = frozenset({Kind.DAY, Kind.SESSION, Kind.TURN, Kind.CALL})
"""Kinds written whole, as one piece: the streaming walks only the levels above them."""


class ExportError(Exception):
    """The export was not written; the message says why."""


def export_document(
    node: Node,
    node_path: str,
    timezone: str,
    *,
    prices: PriceBook | None = None,
    advice_settings: AdviceSettings | None = None,
    plan: PlanPrice | None = None,
    calendar: Calendar | None = None,
) -> dict[str, Any]:
    """The document for the subtree at `node` as data (what `write_export` streams)."""
    chunks = export_chunks(
        node,
        node_path,
        timezone,
        prices=prices,
        advice_settings=advice_settings,
        plan=plan,
        calendar=calendar,
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
    plan: PlanPrice | None = None,
    calendar: Calendar | None = None,
) -> Iterator[bytes]:
    """The document for the subtree at `node`, in pieces; advice paths start with `node_path`.

    Pass the index's `prices` (without them genai-prices is asked again), the
    user's advice settings, and a served tree's `activity`; a `plan` and the
    `calendar` its months are in to weigh them. A served day that was not open
    before is dropped again once written (and once advised on), so exporting a
    year holds one day at a time.
    """
    from tokentree.core.advice import AdviceSettings, advise
    from tokentree.core.attribution import Attribution
    from tokentree.core.pricing import PriceBook

    done_with = closer(node)
    attribution = Attribution(node, activity)
    prices = prices or PriceBook()
    advice = advise(node, prices, advice_settings, attribution, node_path, done_with=done_with)
    model_choice = (advice_settings or AdviceSettings()).model_choice
    tally = Tally(prices, cache(model_choice.cheaper), plan, calendar)
    header = {
        "schema": EXPORT_SCHEMA,
        "generated_at": fmt.utc_iso(datetime.now(UTC).timestamp(), "milliseconds"),
        "timezone": timezone,
        "node_path": node_path,
    }
    yield orjson.dumps(header)[:-1] + b',"root":'
    yield from _streamed(node, node_path, attribution, advice, prices, done_with, tally, True)
    if plan is not None and calendar is not None:
        yield b',"plan":' + orjson.dumps(tally.plan_value())
    yield b"}\n"


class PlanPrice(Protocol):
    """The subscription the usage is paid by (config.toml's `[plan]`)."""

    name: str
    usd_per_month: float


class Tally:
    """What an export sums while it streams: each session priced the other ways (their sum is
    the root's), and the cost of each month its days or sessions start in, for the plan."""

    def __init__(
        self,
        prices: PriceBook,
        cheaper: Callable[[str], str | None],
        plan: PlanPrice | None = None,
        calendar: Calendar | None = None,
    ) -> None:
        self.prices, self.cheaper, self.plan, self.calendar = prices, cheaper, plan, calendar
        self.whole = self._repricing()
        self.months: dict[str, float] = {}

    def session(self, node: Node) -> list[dict[str, Any]]:
        """The session's what-ifs, added to the root's."""
        from tokentree.core.breakdown import calls_below

        part = self._repricing().add(calls_below(node))
        self.whole += part
        return [item.as_dict() for item in part.results()]

    def root(self, node: Node) -> list[dict[str, Any]]:
        """The exported node's what-ifs: its sessions' summed, or its own calls' below one."""
        from tokentree.core.breakdown import calls_below

        if node.kind in (Kind.TURN, Kind.CALL):
            self.whole.add(calls_below(node))
        return [item.as_dict() for item in self.whole.results()]

    def count_month(self, node: Node) -> None:
        """A day's or a session's cost, in the month it starts in."""
        if self.calendar is not None and node.start:
            month = f"{self.calendar.day(node.start):%Y-%m}"
            self.months[month] = self.months.get(month, 0.0) + node.totals.cost

    def plan_value(self) -> dict[str, Any]:
        """Each month's exported cost at API prices against the plan's price per month."""
        assert self.plan is not None
        price = self.plan.usd_per_month
        months = [
            {"month": month, "cost_usd": round(cost, 6), "plan_multiple": round(cost / price, 3)}
            for month, cost in sorted(self.months.items())
        ]
        return {"name": self.plan.name, "usd_per_month": price, "months": months}

    def _repricing(self) -> Repricing:
        from tokentree.core.whatif import Repricing

        return Repricing(self.prices, self.cheaper)


def _streamed(
    node: Node,
    path: str,
    attribution: Attribution,
    advice: AdviceReport,
    prices: PriceBook,
    done_with: Callable[[Node], None],
    tally: Tally,
    root: bool = False,
) -> Iterator[bytes]:
    """One node and its subtree as JSON pieces; a day's rows are attributed on their own."""
    if node.kind in WHOLE:
        below = attribution
        if node.kind is Kind.DAY:
            from tokentree.core.attribution import Attribution

            below = Attribution(node)
        data = node_dict(node, below, advice, path, attribution[node], prices, tally)
        tally.count_month(node)
        if root and node.kind is not Kind.SESSION:  # a session has its own what-ifs
            data["what_if"] = tally.root(node)
        yield orjson.dumps(data)
        if node.kind is Kind.DAY:
            done_with(node)
        return
    yield orjson.dumps(_fields(node, attribution[node], advice.for_path(path)))[:-1]
    yield b',"children":['
    for number, child in enumerate(node.children):
        if number:
            yield b","
        child_path = _join(path, child.key)
        yield from _streamed(child, child_path, attribution, advice, prices, done_with, tally)
    yield b"]"
    if root:
        yield b',"what_if":' + orjson.dumps(tally.root(node))
    yield b"}"


def _join(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


def node_dict(
    node: Node,
    attribution: Attribution | None = None,
    advice: AdviceReport | None = None,
    path: str = "",
    activity: Activity | None = None,
    prices: PriceBook | None = None,
    tally: Tally | None = None,
) -> dict[str, Any]:
    """One node (at `path`) and its subtree; activity is computed here when no `attribution`
    is given, and taken from `activity` for the node itself when given. With `prices`, each
    call says where its price came from; with a `tally`, each session its what-ifs."""
    if attribution is None:
        from tokentree.core.attribution import Attribution

        attribution = Attribution(node)
    items = advice.for_path(path) if advice else []
    data = _fields(node, activity or attribution[node], items, prices)
    if tally is not None and node.kind is Kind.SESSION:
        data["what_if"] = tally.session(node)
    data["children"] = [
        node_dict(child, attribution, advice, _join(path, child.key), prices=prices, tally=tally)
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
        "cache_waste_usd": round(totals.cache_waste, 6),
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
