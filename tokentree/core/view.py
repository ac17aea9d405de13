"""What a list view shows for one node: sorted, filtered children, bars, shares and flags.

Pure functions on `tree.Node`, so the TUI's choices are testable without Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from tokentree import format as fmt
from tokentree.core.attribution import CLASSES
from tokentree.core.sources import SOURCES
from tokentree.core.tree import ABOVE_SESSIONS, CHILD_KIND, Kind, Node, Totals, project_folder


class SortKey(StrEnum):
    COST = "cost"
    TOKENS = "tokens"
    CACHE = "cache"
    TIME = "time"
    COUNT = "count"
    WASTE = "waste"  # the cache waste: history sent again without the cache (cache_misses.py)


class BarMetric(StrEnum):
    COST = "cost"
    TOKENS = "tokens"


class Graph(StrEnum):
    """ncdu's `g`: the relative bar, the share of the parent, or both."""

    BAR = "bar"
    PERCENT = "percent"
    BOTH = "both"


GRAPH_CYCLE = (Graph.BOTH, Graph.BAR, Graph.PERCENT)


@dataclass(frozen=True, slots=True)
class Sort:
    """A sort key and its direction; biggest first except for time, which reads oldest first."""

    key: SortKey = SortKey.COST
    descending: bool = True

    def pressed(self, key: SortKey) -> Sort:
        """The sort after pressing `key`'s letter: the same key again reverses it."""
        if key is self.key:
            return replace(self, descending=not self.descending)
        return Sort(key, key is not SortKey.TIME)


TIME_KINDS = frozenset((Kind.WEEK, Kind.MONTH, Kind.DAY))


def default_sort(kind: Kind) -> Sort:
    """How a list of `kind` rows is sorted until the user picks: weeks, months and days
    newest first (a calendar), everything else biggest cost first (ncdu)."""
    return Sort(SortKey.TIME, True) if kind in TIME_KINDS else Sort()


def child_kind(node: Node) -> Kind:
    """The kind of the rows a node lists (the root's depend on the grouping); a node whose
    children are not read yet is not read for it."""
    if node.loaded and node.children:
        return node.children[0].kind
    return CHILD_KIND.get(node.kind, Kind.CALL)


@dataclass(frozen=True, slots=True)
class Flag:
    glyph: str
    name: str
    meaning: str
    count: Callable[[Totals], int]


FLAGS = (
    Flag(
        "?",
        "unpriced",
        "some calls used a model with no known price: the cost is a lower bound",
        lambda t: t.unpriced_calls,
    ),
    Flag(
        "↓",  # not ≥: that marks a cost with unpriced calls in it
        "lower-bound",
        "streaming placeholders (Claude Code 2.1.0–2.1.97): real output was larger",
        lambda t: t.lower_bound_calls,
    ),
    Flag(
        "~",
        "estimated",
        "model not logged (priced as gpt-5), or the price is a guess (i says which)",
        lambda t: t.estimated_calls,
    ),
    Flag(
        "↳",
        "sub-agent",
        "includes calls made by sub-agents (Task) or compaction",
        lambda t: t.subagent_calls,
    ),
    Flag(
        "⊘",
        "source removed",
        "the log file was deleted since indexing; its calls are kept",
        lambda t: t.missing_calls,
    ),
    Flag(
        "»",
        "fast mode",
        "includes Claude fast-mode calls, billed at their own higher rates",
        lambda t: t.fast_calls,
    ),
    Flag(
        "↶",
        "rewound",
        "undone in the chat afterwards (Gemini's rewind), but paid for: still counted",
        lambda t: t.rewound_calls,
    ),
    Flag(
        "≠",
        "own cost differs",
        "OpenCode logged its own cost and it differs from ours by over 5 % (see i)",
        lambda t: int(own_cost_differs(t)),
    ),
)


def cost_text(totals: Totals) -> str:
    """A node's cost as the list, breadcrumbs and info panel write it: "unpriced" when none of
    its calls has a price, a lower bound ("≥$…") when some lack one."""
    return fmt.cost(totals.cost, unpriced=totals.unpriced_calls, calls=totals.calls)


def own_cost_differs(totals: Totals) -> bool:
    """The assistant's own logged cost and ours disagree enough to show both."""
    if not totals.source_cost_calls:
        return False
    gap = abs(totals.source_cost - totals.source_cost_ours)
    return gap > max(0.01, 0.05 * max(totals.source_cost, totals.source_cost_ours))


COUNT_TITLE = {
    **{kind: "Sess" for kind in ABOVE_SESSIONS},
    Kind.SESSION: "Turns",
    Kind.TURN: "Calls",
    Kind.CALL: "Calls",
}
LABEL_TITLE = {
    Kind.ALL: "All time",
    Kind.WEEK: "Week",
    Kind.MONTH: "Month",
    Kind.DAY: "Day",
    Kind.PROJECT: "Project",
    Kind.MODEL: "Model",
    Kind.SOURCE: "Source",
    Kind.MACHINE: "Machine",
    Kind.SESSION: "Session",
    Kind.TURN: "Turn",
    Kind.CALL: "Call",
}
SOURCE_BADGE = {name: (source.badge, source.colour) for name, source in SOURCES.items()}
"""Each source's badge on session rows, and the theme colour it is drawn in."""


MIX_CLASSES = 6  # glyphs in the Mix column: the list's costliest classes
MIX_LETTERS = {
    "reading": "r",
    "editing": "e",
    "commands": "x",
    "testing": "t",
    "git": "g",
    "web": "w",
    "planning": "p",
    "delegation": "d",
    "compaction": "z",
    "conversation": "c",
    "other": "o",
}
"""The letter heading each class's glyph in the Mix column (and its line in the info panel)."""


def mix_order(classes: dict[str, tuple[int, float]], limit: int = MIX_CLASSES) -> tuple[str, ...]:
    """The classes a list's Mix column shows: the costliest of its parent first (by tokens when
    nothing was priced), ties in CLASSES order, at most `limit`."""
    by_cost = any(cost > 0 for _, cost in classes.values())
    present = [name for name in CLASSES if classes.get(name, (0, 0.0))[by_cost] > 0]
    present.sort(key=lambda name: -classes[name][by_cost])
    return tuple(present[:limit])


def mix_heading(order: Sequence[str]) -> str:
    return "".join(MIX_LETTERS.get(name, "?") for name in order)


def flag_glyphs(totals: Totals) -> str:
    return "".join(flag.glyph for flag in FLAGS if flag.count(totals))


def count_of(node: Node) -> int:
    """The count a row shows: sessions for weeks and days, turns for sessions, else calls."""
    if node.kind in ABOVE_SESSIONS:
        return node.sessions
    if node.kind is Kind.SESSION:
        return node.turns
    return node.totals.calls


def metric(node: Node, bar_metric: BarMetric) -> float:
    return node.totals.cost if bar_metric is BarMetric.COST else float(node.totals.total)


def _sort_value(key: SortKey) -> Callable[[Node], tuple]:
    if key is SortKey.COST:
        return lambda n: (n.totals.cost, n.totals.total, n.start, n.key)
    if key is SortKey.TOKENS:
        return lambda n: (n.totals.total, n.totals.cost, n.start, n.key)
    if key is SortKey.CACHE:
        return lambda n: (
            -1.0 if n.totals.cache_hit is None else n.totals.cache_hit,
            n.totals.cost,
            n.start,
            n.key,
        )
    if key is SortKey.WASTE:
        return lambda n: (n.totals.cache_waste, n.totals.cost, n.start, n.key)
    if key is SortKey.COUNT:
        return lambda n: (count_of(n), n.totals.calls, n.totals.cost, n.start, n.key)
    return lambda n: (n.start, _natural(n.key))


def _natural(key: str) -> tuple:
    """'10' after '9': turn numbers sort as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def sort_nodes(nodes: Sequence[Node], sort: Sort) -> list[Node]:
    return sorted(nodes, key=_sort_value(sort.key), reverse=sort.descending)


@dataclass(frozen=True, slots=True, eq=False)
class Listing:
    """The rows of one node as shown: sorted, with the largest value for the bars (a filter
    narrows the whole tree: core/grouping.py)."""

    node: Node
    rows: tuple[Node, ...]
    sort: Sort
    bar_metric: BarMetric
    largest: float
    parent_value: float

    @property
    def child_kind(self) -> Kind:
        return child_kind(self.node)

    def index_of(self, key: str | None) -> int | None:
        if key is None:
            return None
        return next((i for i, row in enumerate(self.rows) if row.key == key), None)

    def bar_fraction(self, row: Node) -> float:
        """Relative to the largest sibling shown, as ncdu draws it."""
        return metric(row, self.bar_metric) / self.largest if self.largest > 0 else 0.0

    def share(self, row: Node) -> float | None:
        """Share of the parent's total."""
        if self.parent_value <= 0:
            return None
        return metric(row, self.bar_metric) / self.parent_value


def listing(node: Node, sort: Sort, bar_metric: BarMetric) -> Listing:
    rows = sort_nodes(node.children, sort)
    largest = max((metric(row, bar_metric) for row in rows), default=0.0)
    return Listing(node, tuple(rows), sort, bar_metric, largest, metric(node, bar_metric))


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A left-aligned bar in eighths of a cell, `width` cells wide (padded with spaces)."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1  # a non-zero row never looks empty
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


# --- paths ----------------------------------------------------------------------------------------


def resolve(root: Node, keys: Sequence[str]) -> tuple[list[Node], tuple[str, ...]]:
    """The nodes along `keys` from `root`, stopping at the deepest one that still exists."""
    chain = [root]
    for key in keys:
        child = chain[-1].child(key)
        if child is None:
            break
        chain.append(child)
    return chain, tuple(node.key for node in chain[1:])


def export_name(chain: Sequence[Node]) -> str:
    """A file name for the subtree at the end of `chain`: tokentree-atlas-2026-11-19.json."""
    node = chain[-1]
    day = next((n.key for n in chain if n.kind is Kind.DAY), "")
    if node.kind is Kind.ALL:
        parts = ["all"]
    elif node.kind in (Kind.WEEK, Kind.MONTH, Kind.DAY):
        parts = [node.key]
    elif node.kind in ABOVE_SESSIONS:  # a project, model or source
        parts = [node.label]
    else:
        session = next(n for n in chain if n.kind is Kind.SESSION)
        project = project_folder(session.project) or session.session_id[:8]
        parts = [project, day]
        if node.kind is Kind.TURN:
            parts.append(f"turn{node.key}")
        elif node.kind is Kind.CALL:
            turn = next(n for n in chain if n.kind is Kind.TURN)
            parts += [f"turn{turn.key}", "call" + re.sub(r"\W", "", node.key)[-8:]]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(filter(None, parts))).strip("-")
    return f"./tokentree-{slug or 'node'}.json"
