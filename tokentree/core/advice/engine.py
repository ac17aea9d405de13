"""One pass over the sessions, day by day: the session rules run as each is reached, the period
rules keep a few numbers of it, and nothing of its calls or turns is kept once it was seen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from tokentree.core.advice.context import Context, Place, Session, gather
from tokentree.core.advice.outliers import ConcentrationTally, TurnTally
from tokentree.core.advice.period_rules import (
    CacheHitTally,
    CompactionTally,
    FastModeTally,
    SharedReadsTally,
    SubagentTally,
)
from tokentree.core.advice.report import AdviceReport, join
from tokentree.core.advice.session_rules import (
    cache_rebuilt,
    context_compounding,
    model_choice,
    repeated_reads,
)
from tokentree.core.advice.settings import AdviceSettings
from tokentree.core.attribution import Attribution
from tokentree.core.pricing import PriceBook
from tokentree.core.tree import Kind, Node


class PeriodRule(Protocol):
    """A rule about the whole period: it sees each session once, then emits."""

    def add(self, session: Session) -> None: ...
    def finish(self) -> None: ...


SESSION_RULES: tuple[tuple[str, Callable[[Context, Session], None]], ...] = (
    ("context_compounding", context_compounding),
    ("cache_rebuilt", cache_rebuilt),
    ("repeated_reads", repeated_reads),
    ("model_choice", model_choice),
)
"""Each session rule under the id of its settings, in the order their advice is added."""

PERIOD_RULES: tuple[tuple[str, Callable[[Context], PeriodRule]], ...] = (
    ("low_cache_hit", CacheHitTally),
    ("repeated_reads", SharedReadsTally),
    ("subagent_share", SubagentTally),
    ("compaction_share", CompactionTally),
    ("fast_mode", FastModeTally),
    ("oversized_turns", TurnTally),
    ("concentration", ConcentrationTally),
)
"""Each period rule; they emit after the session rules, in this order (concentration last: it
counts the advice inside the sessions it names)."""


def advise(
    root: Node,
    prices: PriceBook,
    settings: AdviceSettings | None = None,
    attribution: Attribution | None = None,
    base_path: str = "",
    *,
    done_with: Callable[[Node], None] | None = None,
) -> AdviceReport:
    """Run every enabled rule on the tree below `root` (a period, a week, a day or a session).

    Paths in the advice are `base_path` + the node's keys below `root` (see AdviceReport).
    The sessions are read once, in tree order; `done_with` is called with each day as soon as
    its sessions were seen, and nothing below it is read again, so the caller may drop the
    day's sessions then and a year's advice needs one day in memory at a time. With
    `done_with`, advice about a session or turn points at a childless copy of it (the tree's
    own would keep the day's calls): look such advice up by path.
    """
    settings = settings or AdviceSettings()
    context = Context(root, prices, settings, attribution, base_path, done_with is None)
    session_rules = [rule for name, rule in SESSION_RULES if getattr(settings, name).enabled]
    period_rules = [make(context) for name, make in PERIOD_RULES if getattr(settings, name).enabled]
    for session in _sessions(context, root, base_path, "", None, done_with):
        for rule in session_rules:
            rule(context, session)
        for tally in period_rules:
            tally.add(session)
    for tally in period_rules:
        tally.finish()
    context.report.items.sort(key=lambda item: (-item.saving_usd, item.path, item.rule))
    return context.report


def _sessions(
    context: Context,
    node: Node,
    path: str,
    day: str,
    week: Node | None,
    done_with: Callable[[Node], None] | None,
) -> Iterator[Session]:
    """The sessions below `node` in tree order, each gathered when reached; `done_with(day)`
    once the last session of a day was handed on and its rules ran."""
    if node.kind is Kind.SESSION:
        where = f"{day} · {node.label}" if day else node.label
        yield gather(node, Place(context.keep(node), path, where), week)
    elif node.kind in (Kind.ALL, Kind.WEEK, Kind.DAY):
        day = node.label if node.kind is Kind.DAY else day
        week = node if node.kind is Kind.WEEK else week
        for child in node.children:
            yield from _sessions(context, child, join(path, child.key), day, week, done_with)
        if node.kind is Kind.DAY and done_with is not None:
            done_with(node)
