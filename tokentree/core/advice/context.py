"""What every rule works with: one session's calls, gathered once, and the shared context
(settings, prices, the report it adds to) with the arithmetic the rules have in common."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from tokentree.core.advice.report import Advice, AdviceReport
from tokentree.core.advice.settings import AdviceSettings
from tokentree.core.attribution import (
    Activity,
    Attribution,
    activity_of,
    tool_bucket,
    turn_calls,
)
from tokentree.core.pricing import PriceBook, Rates
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.tree import Kind, Node

NO_SAVING = "informational: no saving claimed"


class Place(NamedTuple):
    """The node advice is about: the node, its path below the analysed root, and in words."""

    node: Node
    path: str
    where: str


@dataclass(slots=True)
class Session:
    """A session node with its calls gathered once for every rule, dropped once they ran.

    `node` is the tree's node; `place.node`, what advice about the session points at, is the
    same node or a childless copy of it (see `Context.keep`).
    """

    place: Place
    node: Node
    week: Node | None
    """The week the session is in, when the analysed root is a week or the whole range."""
    turns: list[Node]
    calls: list[tuple[Node, ApiCall]]
    main: list[tuple[Node, ApiCall]]
    reads: dict[str, list[float]]
    """Basename → the round-trip share (call cost ÷ tools) of each read of it."""


def gather(node: Node, place: Place, week: Node | None) -> Session:
    """The session's calls in tree order, read once: every rule of the pass shares them."""
    turns = list(node.children)
    calls = [(turn, call) for turn in turns for call in turn_calls(turn)]
    main = [item for item in calls if not item[1].subagent]
    reads: dict[str, list[float]] = {}
    for _, call in calls:
        tools = call.tools
        if tools:
            for name in _file_reads(tools):
                reads.setdefault(name, []).append(call.cost / len(tools))
    return Session(place, node, week, turns, calls, main, reads)


def _detached(node: Node) -> Node:
    """A childless copy of a session or turn, for advice to keep when the caller drops the
    day it came from: the copy holds none of its calls."""
    copy = Node(node.kind, node.key, node.label, node.start, node.end, node.totals, node.sessions)
    copy.turns, copy.models = node.turns, node.models
    copy.source, copy.session_id, copy.project = node.source, node.session_id, node.project
    return copy


class Context:
    """The analysed root, settings and prices every rule reads, and the report they add to."""

    def __init__(
        self,
        root: Node,
        prices: PriceBook,
        settings: AdviceSettings,
        attribution: Attribution | None,
        base_path: str,
        keep_nodes: bool = True,
    ) -> None:
        self.root = root
        self.prices = prices
        self.settings = settings
        self.attribution = attribution
        self.base_path = base_path
        self.place = Place(root, base_path, root.label)
        self.report = AdviceReport()
        self._alternatives: dict[str, str | None] = {}
        self._keep_nodes = keep_nodes

    def keep(self, node: Node) -> Node:
        """The node advice about a session or turn points at: the tree's own, or a childless
        copy where the caller drops each day once advice has seen it."""
        return node if self._keep_nodes else _detached(node)

    def activity(self, turn: Node) -> Activity:
        """A turn's activity: the attribution's, unless the caller drops days (the attribution
        remembers each node it is asked about, and would keep the turn's calls)."""
        if self.attribution is not None and self._keep_nodes:
            return self.attribution[turn]
        return activity_of(turn)

    def rates(self, call: ApiCall, model: str | None = None) -> Rates | None:
        """The rates of the call's day (for its prompt size), for its model and speed or for
        another model at the standard speed."""
        if model is None:
            found = self.prices.rates_for(call.model, call.source, call.timestamp, call.speed)
        else:
            found = self.prices.rates_for(model, call.source, call.timestamp)
        if found is None or found.tier is None:
            return found
        return found.for_prompt(prompt(call.tokens))

    def alternative(self, model: str) -> str | None:
        """The cheaper model of the same family to compare with, if there is one."""
        if model not in self._alternatives:
            self._alternatives[model] = self.settings.model_choice.cheaper(model)
        return self._alternatives[model]

    def emit(
        self,
        rule: str,
        place: Place,
        message: str,
        evidence: dict[str, Any],
        saving: float | None = None,
        cost_base: float | None = None,
    ) -> bool:
        """Add the advice if its saving clears the global floors; `saving=None` is informational.

        The share floor is of the node's cost, or of `cost_base` (a project's) when given.
        """
        if saving is None:
            saving = 0.0
            evidence.setdefault("formula", NO_SAVING)
        else:
            base = place.node.totals.cost if cost_base is None else cost_base
            floor = max(self.settings.min_saving_usd, self.settings.min_saving_share * base)
            if saving < floor or saving <= 0:
                return False
        node, path, where = place
        self.report._add(Advice(rule, node, path, where, message, saving, evidence))
        return True


_FILE_READERS = frozenset({"read", "notebookread", "read_file", "view_image"})


_read_targets: dict[str, str] = {}


def _file_reads(tools: tuple[str, ...]) -> Iterator[str]:
    """The basenames a call asked to read ("Read app.py", "read_file app.py", "read app.py")."""
    for label in tools:
        target = _read_targets.get(label)
        if target is None:
            name, _, target = label.partition(" ")
            if name.lower() not in _FILE_READERS or tool_bucket(label).activity != "reading":
                target = ""
            if len(_read_targets) > 100_000:
                _read_targets.clear()
            _read_targets[label] = target
        if target:
            yield target


def median(values: Iterable[float]) -> float:
    """The median (statistics costs its import on the report's warm path)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if not ordered:
        return 0.0
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def prompt(tokens: Tokens) -> int:
    return tokens.input + tokens.cache_write_5m + tokens.cache_write_1h + tokens.cache_read


def period_name(node: Node) -> str:
    if node.kind is Kind.WEEK:
        return node.key
    return "the period" if node.kind is Kind.ALL else node.label
