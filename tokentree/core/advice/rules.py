"""The rule registry: one registration per rule, which the engine, the list's marks and the help
all iterate. A new rule is its settings class (with its `AdviceSettings` field, the table of
config.toml it is read from), its finder, and an entry here.

A rule finds its advice on each session as the pass reaches it (`session`), over the whole
period from a part it keeps of each session (`period`), or both. Rules run in the order of
this registry: concentration last, as it counts the advice inside the sessions it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from tokentree import format as fmt
from tokentree.core.advice.context import Context, Session
from tokentree.core.advice.digest import Part
from tokentree.core.advice.outliers import ConcentrationTally, TurnTally
from tokentree.core.advice.period_rules import (
    CacheHitTally,
    CompactionTally,
    FastModeTally,
    SharedReadsTally,
    SubagentTally,
)
from tokentree.core.advice.report import Advice
from tokentree.core.advice.session_rules import (
    cache_missed,
    cache_rebuilt,
    context_compounding,
    model_choice,
    repeated_reads,
)
from tokentree.core.advice.settings import (
    CacheMissed,
    CacheRebuilt,
    CompactionShare,
    Concentration,
    ContextCompounding,
    FastMode,
    LowCacheHit,
    ModelChoice,
    OversizedTurns,
    RepeatedReads,
    SubagentShare,
)


class PeriodRule(Protocol):
    """A rule about the whole period: it keeps a part of each session, then emits."""

    def part(self, session: Session) -> Part: ...
    def add_part(self, part: Part) -> None: ...
    def finish(self) -> None: ...


def saving_mark(item: Advice) -> str | None:
    """The mark of a row advice with a saving is about: "◆ cache rebuilt after idle ≈ $1.20"."""
    return f"◆ {item.title.lower()} ≈ ${item.saving_usd:,.2f}" if item.saving_usd > 0 else None


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: its id (its `[advice.<id>]` table), title and settings class; what finds it;
    and how it marks rows in a list: the row it is about (`row_mark`), and the children of
    that row it points at (`child_marks`: (child key, mark) pairs)."""

    id: str
    title: str
    settings: type
    session: Callable[[Context, Session], None] | None = None
    period: Callable[[Context], PeriodRule] | None = None
    row_mark: Callable[[Advice], str | None] = saving_mark
    child_marks: Callable[[Advice], Iterable[tuple[str, str]]] | None = None

    @property
    def explanation(self) -> str:
        """The settings class's docstring as one paragraph, for the help screen."""
        return " ".join((self.settings.__doc__ or "").split())


def _rebuilds(item: Advice) -> Iterable[tuple[str, str]]:
    for rebuild in item.evidence["rebuilds"]:
        yield rebuild["turn"], f"◆ cache rebuilt after {rebuild['gap_minutes']:.0f} min idle"


def _misses(item: Advice) -> Iterable[tuple[str, str]]:
    for miss in item.evidence["misses"]:
        yield miss["turn"], f"◆ cache missed: {miss['reason'].replace('_', ' ')}"


def _split(item: Advice) -> Iterable[tuple[str, str]]:
    context = fmt.tokens(item.evidence["context_at_split"])
    yield item.evidence["split_after_turn"], f"◆ split here: context {context}"


def _concentrated(item: Advice) -> str | None:
    return f"▲ {item.evidence['share']:.0%} in one session" if "session" in item.evidence else None


def _oversized(item: Advice) -> str | None:
    return f"◆ {item.evidence['factor']:.0f}× the median turn"


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "context_compounding",
            "Context compounding",
            ContextCompounding,
            session=context_compounding,
            child_marks=_split,
        ),
        Rule(
            "cache_rebuilt",
            "Cache rebuilt after idle",
            CacheRebuilt,
            session=cache_rebuilt,
            child_marks=_rebuilds,
        ),
        Rule(
            "cache_missed",
            "Cache missed for a logged cause",
            CacheMissed,
            session=cache_missed,
            child_marks=_misses,
        ),
        Rule("low_cache_hit", "Low cache hit rate", LowCacheHit, period=CacheHitTally),
        Rule(
            "repeated_reads",
            "Same file read again and again",
            RepeatedReads,
            session=repeated_reads,
            period=SharedReadsTally,
        ),
        Rule(
            "model_choice",
            "Mechanical loops on the priciest model",
            ModelChoice,
            session=model_choice,
        ),
        Rule("subagent_share", "Sub-agent share of spend", SubagentShare, period=SubagentTally),
        Rule(
            "compaction_share",
            "Compaction share of spend",
            CompactionShare,
            period=CompactionTally,
        ),
        Rule("fast_mode", "Fast mode", FastMode, period=FastModeTally),
        Rule(
            "oversized_turns",
            "Oversized turn",
            OversizedTurns,
            period=TurnTally,
            row_mark=_oversized,
        ),
        Rule(
            "concentration",
            "Concentrated spend",
            Concentration,
            period=ConcentrationTally,
            row_mark=_concentrated,
        ),
    )
}


def rule_help() -> list[tuple[str, str, str]]:
    """(id, title, explanation) of every rule, for a help screen."""
    return [(rule.id, rule.title, rule.explanation) for rule in RULES.values()]
