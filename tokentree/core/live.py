"""The live line's figures: today, the current 5-hour block, the burn rate, limits, busy sessions.

Pure arithmetic over the calls of the last two days. The indexer thread turns
them into running sums once per snapshot (`Recent`); the UI asks `summarize`
for "now" every second with a clock it is given, so a figure costs two
bisections and tests can pin the time.

A 5-hour block is ccusage's: it starts at its first call's time floored to the
(UTC) hour and lasts 5 h; the next call after its end, or after a 5-hour
pause, starts a new one (FORMATS.md §1.11). It estimates Anthropic's rolling
window; Codex logs the real one, which `limits` reads.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import accumulate
from typing import Any

from tokentree.core.records import ApiCall
from tokentree.core.tree import Calendar, project_folder

HOUR = 3600
BLOCK = 5 * HOUR
LOOKBACK = 48 * HOUR  # calls kept for the live line: today, and a block chain back to a pause
RATE_WINDOW = 30 * 60  # the burn rate is measured over the last 30 minutes
LIVE_SESSION = 30 * 60  # a session with a call this recent is live

WINDOWS = (("five_hour", "5h", BLOCK), ("weekly", "week", 7 * 24 * HOUR))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Tokens of context a live session's newest call may carry before it turns yellow, then red.

    Context is everything sent with the call (input, cache reads and writes):
    it grows with every turn until a compaction, and every call pays for it.
    """

    warn: int = 100_000
    high: int = 160_000

    def tone(self, context: int) -> str:
        return "high" if context >= self.high else "warn" if context >= self.warn else "ok"


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Usage:
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0  # calls with no known price: the cost is a lower bound


@dataclass(frozen=True, slots=True)
class Pulse:
    """A session's newest call: when, and how much context it carried."""

    key: str  # the tree's session key, "source:session_id"
    name: str  # the project's folder name, or the start of the session id
    last: float
    context: int


@dataclass(frozen=True, eq=False)
class Recent:
    """Calls of the last two days as running sums, with their 5-hour blocks; never changed."""

    times: tuple[float, ...] = ()
    tokens: tuple[int, ...] = (0,)  # tokens[i]: the tokens of the first i calls
    costs: tuple[float, ...] = (0.0,)
    unpriced: tuple[int, ...] = (0,)
    blocks: tuple[tuple[float, float], ...] = ()  # (start, time of the block's last call)
    pulses: tuple[Pulse, ...] = ()  # newest first

    def usage(self, start: float, end: float) -> Usage:
        """The calls at `start` or later and before `end`."""
        lo, hi = bisect_left(self.times, start), bisect_left(self.times, end)
        if hi <= lo:
            return Usage()
        return Usage(
            hi - lo,
            self.tokens[hi] - self.tokens[lo],
            self.costs[hi] - self.costs[lo],
            self.unpriced[hi] - self.unpriced[lo],
        )

    def block_at(self, now: float) -> tuple[float, float] | None:
        """The block still running at `now`: (its start, its last call so far)."""
        for start, last in reversed(self.blocks):
            if start <= now < start + BLOCK:
                return start, last
            if start + BLOCK <= now:
                return None
        return None


def recent(calls: Iterable[ApiCall], newest: float | None = None) -> Recent:
    """Running sums of the calls within LOOKBACK of the newest one (or of `newest`)."""
    calls = list(calls)
    if not calls:
        return Recent()
    newest = max(call.timestamp for call in calls) if newest is None else newest
    kept = sorted(
        (call for call in calls if call.timestamp >= newest - LOOKBACK),
        key=lambda call: call.timestamp,
    )
    times = tuple(call.timestamp for call in kept)
    tokens = tuple(accumulate((call.tokens.total for call in kept), initial=0))
    costs = tuple(accumulate((call.cost for call in kept), initial=0.0))
    unpriced = tuple(accumulate((int(call.unpriced) for call in kept), initial=0))
    newest = {(call.source, call.session_id): call for call in kept}  # oldest first: last wins
    pulses = [
        Pulse(
            f"{call.source}:{call.session_id}",
            project_folder(call.project) or call.session_id[:8],
            call.timestamp,
            call.tokens.prompt,
        )
        for call in newest.values()
    ]
    newest_first = tuple(sorted(pulses, key=lambda pulse: -pulse.last))
    return Recent(times, tokens, costs, unpriced, tuple(blocks(times)), newest_first)


def blocks(times: Sequence[float]) -> list[tuple[float, float]]:
    """ccusage's 5-hour blocks over sorted call times: (start, time of the block's last call)."""
    found: list[tuple[float, float]] = []
    start = last = -math.inf
    for moment in times:
        if moment - start > BLOCK or moment - last > BLOCK:
            if start > -math.inf:
                found.append((start, last))
            start = moment - moment % HOUR
        last = moment
    if start > -math.inf:
        found.append((start, last))
    return found


@dataclass(frozen=True, slots=True)
class Block:
    """The running 5-hour block, seen at `now`."""

    start: float
    end: float
    usage: Usage
    last_30m: Usage  # the calls of the last half hour: the burn rate

    @property
    def cost_per_hour(self) -> float:
        return self.last_30m.cost * HOUR / RATE_WINDOW

    @property
    def tokens_per_minute(self) -> float:
        return self.last_30m.tokens * 60 / RATE_WINDOW

    def left(self, now: float) -> float:
        return max(0.0, self.end - now)

    def projected_cost(self, now: float) -> float:
        """The block's cost at its end if the last half hour's pace goes on."""
        return self.usage.cost + self.cost_per_hour * self.left(now) / HOUR


@dataclass(frozen=True, slots=True)
class Limit:
    """One of Codex's real rate-limit windows, as last logged."""

    name: str  # "5h" or "week"
    used_percent: float
    resets_at: float | None


@dataclass(frozen=True, slots=True)
class Busy:
    """A live session and how full its context is."""

    pulse: Pulse
    tone: str  # "ok", "warn" or "high"


@dataclass(frozen=True, slots=True)
class Summary:
    """What the live line shows at one moment."""

    now: float
    today: Usage
    block: Block | None
    limits: tuple[Limit, ...]
    busy: tuple[Busy, ...]  # newest first

    @property
    def tones(self) -> dict[str, str]:
        """Session key → tone, for colouring the live sessions' rows."""
        return {item.pulse.key: item.tone for item in self.busy}


def summarize(
    data: Recent,
    calendar: Calendar,
    now: float,
    rate_limits: Sequence[Mapping[str, Any]] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Summary:
    """The live figures at `now`: two bisections each, cheap enough to redo every second."""
    day = calendar.day(now)
    today = data.usage(calendar.day_start(day), calendar.day_start(day + timedelta(days=1)))
    up_to_now = math.nextafter(now, math.inf)
    found = data.block_at(now)
    block = None
    if found is not None:
        start, last = found
        usage = data.usage(start, math.nextafter(last, math.inf))
        block = Block(start, start + BLOCK, usage, data.usage(now - RATE_WINDOW, up_to_now))
    busy = tuple(
        Busy(pulse, thresholds.tone(pulse.context))
        for pulse in data.pulses
        if 0 <= now - pulse.last <= LIVE_SESSION
    )
    return Summary(now, today, block, limits(rate_limits, now), busy)


def limits_at(history: Sequence[Mapping[str, Any]], moment: float) -> Mapping[str, Any] | None:
    """The newest rate-limit state in `history` (oldest first) logged at or before `moment`:
    a week three weeks old is never shown this week's limits."""
    found = bisect_right(history, moment, key=lambda limits: limits["observed_at"])
    return history[found - 1] if found else None


def limits(history: Sequence[Mapping[str, Any]], now: float) -> tuple[Limit, ...]:
    """Codex's windows (the newest logged) that still apply at `now`: a window that has reset
    since says nothing."""
    rate_limits = history[-1] if history else None
    if not rate_limits:
        return ()
    observed = float(rate_limits.get("observed_at") or 0.0)
    found = []
    for field, name, length in WINDOWS:
        window = rate_limits.get(field)
        if not isinstance(window, Mapping):
            continue
        resets = window.get("resets_at")
        if resets is not None and resets <= now:
            continue
        if resets is None:
            minutes = window.get("window_minutes")
            span = minutes * 60 if isinstance(minutes, int | float) and minutes > 0 else length
            if now - observed >= span:
                continue
        found.append(Limit(name, float(window["used_percent"]), resets))
    return tuple(found)
