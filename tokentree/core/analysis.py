"""One tree's activity, advice and overview: the one place the three are composed.

The view's analysis thread and `report --overview` both call `analyse`, so the
two cannot drift apart (which rules see which attribution, which week start the
overview uses); a filtered view's overview (`view_overview`) is summed the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from tokentree.core.advice import AdviceReport, AdviceSettings, advise
from tokentree.core.advice.digest import DayDigest, KeptDigests
from tokentree.core.advice.report import join
from tokentree.core.attribution import Attribution
from tokentree.core.grouping import GROUP_KIND, ViewTree
from tokentree.core.overview import build_overview, viewed
from tokentree.core.overview_estimates import ESTIMATED, counts_of
from tokentree.core.pricing import PriceBook
from tokentree.core.served import SLOTS_PER_DAY, TOTAL_SUMS, ServedTree, add_sums, local_day_sql
from tokentree.core.tree import Node, Totals, closer

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class Analysis:
    """A tree's activity per node, its advice and its overview; never changed once made.
    Advice is found by path (`advice.for_path`): a served day read again has new nodes."""

    tree: Node
    generation: int  # of the snapshot whose tree this is (0 outside the live view)
    attribution: Attribution
    advice: AdviceReport
    overview: dict[str, Any]
    seconds: float = 0.0


def analyse(
    tree: Node,
    prices: PriceBook,
    settings: AdviceSettings,
    week_start: int,
    generation: int = 0,
    served: ServedTree | None = None,
    digests: KeptDigests | None = None,
    pause: Callable[[], None] | None = None,
) -> Analysis:
    """Attribute the tree's activity, advise on it, and sum both up in the overview.

    A served tree's weeks and days have their activity and splits from the
    index, and each day advice reads is dropped again after it (unless it was
    open before), so a year is analysed holding one day at a time. `digests`
    (kept by the caller from one analysis to the next) holds each day's advice
    under its stamp: a day whose calls did not change is not read again. `pause`
    is called after each day (the analyser waits there while the logs are read).
    """
    started = time.perf_counter()
    attribution = Attribution(tree, served.activity if served else None)
    done_with = None if served is None else _after_each_day(tree, pause)
    stamped = None
    if served is not None and digests is not None:
        stamped = _Stamped(digests, served, f"{prices.fingerprint}|{settings!r}")
    advice = advise(tree, prices, settings, attribution, done_with=done_with, digests=stamped)
    overview = overview_of(tree, attribution, advice, week_start, served)
    seconds = time.perf_counter() - started
    return Analysis(tree, generation, attribution, advice, overview, seconds)


def overview_of(
    tree: Node,
    attribution: Attribution,
    advice: AdviceReport,
    week_start: int,
    served: ServedTree | None = None,
) -> dict[str, Any]:
    """The tree's overview; a served tree's days have their splits from their records, their
    sessions as served and their estimated calls from the index (reading a day loads it)."""
    if served is None:
        return build_overview(tree, attribution, advice, week_start)
    day_splits = {
        key: replace(served, records={key: record}).splits()
        for key, record in served.records.items()
    }
    estimates = estimated_days(served)
    return build_overview(
        tree, attribution, advice, week_start, 5, day_splits, served.sessions, estimates
    )


def view_overview(view: ViewTree, week_start: int) -> dict[str, Any] | None:
    """The overview of the view's calls alone (those its filter matches), its drivers led by
    its grouping; None for a view not served by the index. It has no advice: advice is about
    all of a node's calls, not the few a filter leaves (as in the list)."""
    served = view.served
    if served is None:
        return None
    tree = served.root
    data = overview_of(tree, Attribution(tree, served.activity), AdviceReport(), week_start, served)
    return viewed(data, view.needle, view_lead(view))


def view_lead(view: ViewTree) -> str | None:
    """The dimension the view is grouped by, which the overview's drivers lead with; None
    for a grouping by time."""
    return view.grouping.value if view.grouping in GROUP_KIND else None


def estimated_days(served: ServedTree) -> dict[str, dict[str, Any]]:
    """Each local day's calls of the estimated sources (chat apps), summed by the index, for
    the overview to show beside the exact ones; empty when the scope has none."""
    sources = tuple(name for name in served.scope.sources if name in ESTIMATED)
    if not sources:
        return {}
    part = replace(served.scope, sources=sources)
    reads = served.reads
    utc_days = sorted(row[0] for row in reads.grouped(part, [f"slot / {SLOTS_PER_DAY}"], ["1"]))
    if not utc_days:
        return {}
    found = {}
    for number, *sums in reads.grouped(
        part, [local_day_sql(served.calendar, utc_days)], TOTAL_SUMS
    ):
        totals = Totals()
        add_sums(totals, sums)
        found[(_EPOCH + timedelta(days=number)).isoformat()] = counts_of(totals)
    return found


def _after_each_day(tree: Node, pause: Callable[[], None] | None) -> Callable[[Node], None]:
    """Drops the day if the pass opened it, then pauses (see `analyse`)."""
    close = closer(tree)

    def done_with(day: Node) -> None:
        close(day)
        if pause is not None:
            pause()

    return done_with


KeepAdvice = Callable[[str, dict[str, tuple[str, bytes]], list[str]], None]
"""Index.keep_advice: a view's fresh day digests, and the paths of all its days."""


def analyse_served(
    served: ServedTree,
    prices: PriceBook,
    settings: AdviceSettings,
    week_start: int,
    digests: KeptDigests,
    keep: KeepAdvice | None = None,
    generation: int = 0,
    pause: Callable[[], None] | None = None,
) -> Analysis:
    """`analyse` a served tree with the day digests the index keeps: loaded the first time
    (a start reads no unchanged day), the fresh ones kept after (`keep`)."""
    if not digests.loaded:
        digests.load(served.reads.kept_advice(served.scope, served.view))
    tree = served.root
    analysis = analyse(tree, prices, settings, week_start, generation, served, digests, pause)
    fresh = digests.take_fresh()
    if fresh and keep is not None:
        paths = [join(week.key, day.key) for week in tree.children for day in week.children]
        keep(served.view, fresh, paths)
    return analysis


@dataclass(frozen=True)
class _Stamped:
    """Kept digests with the stamps of a served tree's days: a day's calls (its record's
    hash), then the prices and the settings, all of which its advice depends on."""

    kept: KeptDigests
    served: ServedTree
    rest: str

    def stamp(self, day: Node, _path: str) -> str | None:
        found = self.served.stamp(day.key)
        return None if found is None else f"{found}|{self.rest}"

    def get(self, path: str, stamp: str) -> DayDigest | None:
        return self.kept.get(path, stamp)

    def put(self, path: str, stamp: str, digest: DayDigest) -> None:
        self.kept.put(path, stamp, digest)
