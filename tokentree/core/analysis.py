"""One tree's activity, advice and overview: the one place the three are composed.

The view's analysis thread and `report --overview` both call `analyse`, so the
two cannot drift apart (which rules see which attribution, which week start the
overview uses).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tokentree.core.advice import AdviceReport, AdviceSettings, advise
from tokentree.core.advice.digest import DayDigest, KeptDigests
from tokentree.core.advice.report import join
from tokentree.core.attribution import Attribution
from tokentree.core.overview import Splits, build_overview
from tokentree.core.pricing import PriceBook
from tokentree.core.served import ServedTree
from tokentree.core.tree import Node, closer


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
    day_splits: dict[str, Splits] | None = None
    day_sessions: dict[str, set[str]] | None = None
    if served is not None:  # each day's splits from its record, its sessions as served
        day_splits = {
            key: replace(served, records={key: record}).splits()
            for key, record in served.records.items()
        }
        day_sessions = served.sessions
    overview = build_overview(tree, attribution, advice, week_start, 5, day_splits, day_sessions)
    seconds = time.perf_counter() - started
    return Analysis(tree, generation, attribution, advice, overview, seconds)


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
