"""Activity and advice for each complete tree, on a thread of their own, after the tree is shown.

Attributing and advising on a big history takes a second or two (107k calls:
about 1.8 s), far longer than a live refresh, so it never delays a tree: the app
hands every complete tree to the `Analyser`, whose thread analyses the newest
one and posts `TreeAnalysed`. Trees arriving meanwhile are coalesced: the thread
waits until the logs have been quiet for two seconds (at most `MAX_STALE`) and
the indexer is not reading, skips a tree it has seen, and after an analysis
waits `BUDGET` times as long as it took, so a busy session's history is analysed
every 20 s or so, not after every call. (A refresh that runs alongside an
analysis waits for it, in effect: the two share the interpreter's lock.) Until
a new analysis arrives the view keeps showing the last one, matched to the new
tree by path (most of a live tree is shared with the last one anyway). What an
analysis holds is `core.analysis`'s business; this module only decides when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tokentree.core.advice import AdviceSettings
from tokentree.core.advice.digest import KeptDigests
from tokentree.core.analysis import KeepAdvice, analyse, analyse_served
from tokentree.core.pricing import PriceBook
from tokentree.core.served import ServedTree
from tokentree.core.tree import Node
from tokentree.live.events import AnalysisFailed, Event, TreeAnalysed

SETTLE = 2.0  # seconds without a newer tree before a live tree is analysed
MAX_STALE = 60.0  # … but a busy session's advice is not left older than this, budget allowing
BUDGET = 10  # after an analysis, wait this many times as long as it took: ≤ 10 % of a core
IDLE_WAIT = 0.25  # how often the idle loop looks at the stop flag
SETTLE_STEP = 0.05  # how often a due analysis looks whether the indexer is still reading


class Analyser:
    """Analyses the newest tree it was given; runs on a thread of its own, posts `TreeAnalysed`."""

    def __init__(
        self,
        prices: PriceBook,
        settings: Callable[[], AdviceSettings],
        week_start: int,
        post: Callable[[Event], object],
        *,
        busy: Callable[[], bool] = lambda: False,
        keep_advice: KeepAdvice | None = None,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prices = prices
        self.settings = settings
        self.week_start = week_start
        self.post = post
        self.busy = busy  # the indexer is reading: start later, not alongside it
        self.settle = settle
        self.clock = clock
        self.analysed = 0  # trees analysed so far (tests, benchmark)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: tuple[Node, int, ServedTree | None] | None = None
        self._last: Node | None = None
        self._submitted = 0.0  # when the newest pending tree came
        self._first_pending = 0.0  # when the oldest tree not yet analysed came
        self._next = 0.0  # not before: see BUDGET
        self.keep_advice = keep_advice  # Index.keep_advice: digests kept between starts
        self._digests = KeptDigests()  # each day's advice, by path (see core.analysis)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def submit(self, tree: Node, generation: int, served: ServedTree | None = None) -> None:
        """A complete tree (served from `served`) is on screen: analyse it (or a newer one)
        soon. Any thread."""
        now = self.clock()
        with self._lock:
            if self._pending is None:
                self._first_pending = now
            self._pending = (tree, generation, served)
            self._submitted = now
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        """Wait for trees and analyse them until stopped."""
        while not self.stopped:
            if not self._wake.wait(IDLE_WAIT) or self.stopped:
                continue
            if not self._wait_until_due():
                return
            with self._lock:
                self._wake.clear()
                pending, self._pending = self._pending, None
            if pending is None or pending[0] is self._last:
                continue
            self._analyse(*pending)

    def _wait_until_due(self) -> bool:
        """Let a burst of trees settle (not the first one) and the indexer finish reading;
        False when stopped meanwhile."""
        while not self.stopped:
            with self._lock:
                settle = self.settle if self._last is not None else 0.0
                due = max(
                    self._next,
                    min(self._submitted + settle, self._first_pending + MAX_STALE),
                )
            left = due - self.clock()
            if left <= 0 and not self.busy():
                return True
            self._stop.wait(min(left, IDLE_WAIT) if left > 0 else SETTLE_STEP)
        return False

    def _give_way(self) -> None:
        """Between two days of an analysis: wait while the indexer reads a change and serves
        it, which would otherwise share the interpreter with this thread (a live call waits)."""
        while self.busy() and not self.stopped:
            self._stop.wait(SETTLE_STEP)

    def _analyse(self, tree: Node, generation: int, served: ServedTree | None) -> None:
        started = self.clock()
        try:
            settings, week_start = self.settings(), self.week_start
            if served is None:
                analysis = analyse(tree, self.prices, settings, week_start, generation)
            else:
                analysis = analyse_served(
                    served,
                    self.prices,
                    settings,
                    week_start,
                    self._digests,
                    self.keep_advice,
                    generation,
                    self._give_way,
                )
        except Exception as error:  # shown once in the app; the last analysis stays
            self.post(AnalysisFailed(f"{type(error).__name__}: {error}"))
        else:
            if not self.stopped:
                self.post(TreeAnalysed(analysis))
        finally:
            self._last = tree
            self.analysed += 1
            finished = self.clock()
            self._next = finished + BUDGET * (finished - started)
