"""Why a call's prompt missed the cache, and what sending its history again cost.

Each main-thread call of a session is compared with the one before it: the
history that call sent was cached, and should come back as cache reads. When
most of it came back as uncached input or cache writes instead, the call missed,
and the history it sent again cost the fresh price instead of the read price.
The cause is an idle gap past the cache's lifetime (5 minutes, or an hour once
the session writes 1-hour cache), else what Claude logged (its cache diagnosis),
else a switch of model (each model has its own cache), else a cache that was
simply not used (the start of the prompt changed, or the provider dropped it).

Readers work this out call by call as they read a log: the last call of each
session is carried across appends in the file's state, so every copy is stored
with its cause and its dollars, summed like its cost (the "cache waste"). The
advice rules on rebuilt and missed caches ask the same function.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokentree import format as fmt
from tokentree.core.pricing import PER_MILLION, Rates
from tokentree.core.records import ApiCall, Tokens, made

MIN_TOKENS = 1024
"""History smaller than this is not cached at all (the providers' smallest cached prompt)."""
SHORT_LIFETIME, LONG_LIFETIME = 300, 3600
"""Seconds a cached prompt lives: 5 minutes, or an hour once a 1-hour write was made."""

CONTINUED = 0.9
"""A prompt this share of the one before it (or more) carries on its history: a shorter one
was compacted or cleared, and writes a new cache as it should."""

IDLE = "idle"
MODEL_SWITCH = "model_switch"
NOT_CACHED = "not_cached"
LOGGED_CAUSES = ("tools_changed", "system_changed", "model_changed", "messages_changed")
"""The cache-miss reasons Claude logs that name a cause (FORMATS.md §9.1); the others say only
that no comparison was possible."""
CARRIED = "cache_misses"
"""The key of a file's state that carries each session's last main-thread call."""


class Previous(NamedTuple):
    """What a session's last main-thread call of one model leaves for the next."""

    key: str
    timestamp: float
    model: str
    prompt: int
    lifetime: int
    cause: str  # of that call itself: a later copy of it gets the same
    waste: float


def rewritten(tokens: Tokens, previous_prompt: int) -> int:
    """The history a call sent again without the cache: its uncached part, at most what the
    call before it had sent."""
    return min(tokens.input + tokens.cache_write, previous_prompt)


def fresh_rate(tokens: Tokens, rates: Rates) -> float:
    """USD per million of a call's uncached part (uncached input and cache writes)."""
    fresh = tokens.input + tokens.cache_write
    if not fresh:
        return rates.input
    return (
        tokens.input * rates.input
        + tokens.cache_write_5m * rates.cache_write_5m
        + tokens.cache_write_1h * rates.cache_write_1h
    ) / fresh


@dataclass
class SessionCache:
    """A session's main thread as its cache sees it: the last call of each model (each model
    has its own cache), and which model was used last."""

    by_model: dict[str, Previous] = field(default_factory=dict)
    last_model: str = ""

    def miss(self, call: ApiCall, min_tokens: int = MIN_TOKENS) -> tuple[str, Previous | None]:
        """Why `call` missed the cache (IDLE, a logged cause, MODEL_SWITCH, NOT_CACHED) or '',
        and the call whose history it was compared with.

        The history is the last call of the same model while its cache lives; after a switch
        from another model, that model's last call. The prompt must carry that history on
        and most of it be missing from the cache reads, unless Claude logged a cause (its
        word that it missed); either way at least `min_tokens` were sent again."""
        by_model, timestamp, model = self.by_model, call.timestamp, call.model
        last = by_model.get(self.last_model)
        if last is None or timestamp < last.timestamp:
            return "", None
        same = by_model.get(model)
        warm = same is not None and timestamp - same.timestamp <= same.lifetime
        before = same if warm or last.model == model else last
        assert before is not None
        if rewritten(call.tokens, before.prompt) < min_tokens:
            return "", before
        # not compacted or cleared (Tokens.prompt added up here: every indexed call comes by)
        fresh, write_5m, write_1h, cache_read = call.tokens[:4]
        continued = fresh + write_5m + write_1h + cache_read >= before.prompt * CONTINUED
        mostly_missed = continued and cache_read < before.prompt / 2
        if before.model == model and not warm:
            return (IDLE if mostly_missed else ""), before
        reason = call.cache_miss.partition(" ")[0]
        if reason in LOGGED_CAUSES:
            return reason, before
        if not mostly_missed:
            return "", before
        return (NOT_CACHED if before.model == model else MODEL_SWITCH), before

    def saw(self, call: ApiCall, cause: str = "", waste: float = 0.0) -> None:
        """`call` is now the last of its model (its cause and waste kept for its copies)."""
        model = call.model
        fresh, write_5m, write_1h, cache_read = call.tokens[:4]
        before = self.by_model.get(model)
        long_lived = write_1h or (before and before.lifetime == LONG_LIFETIME)
        lifetime = LONG_LIFETIME if long_lived else SHORT_LIFETIME
        prompt = fresh + write_5m + write_1h + cache_read
        self.by_model[model] = made(
            Previous, (call.key, call.timestamp, model, prompt, lifetime, cause, waste)
        )
        self.last_model = model

    def copy_of(self, call: ApiCall) -> Previous | None:
        """The answer already given for this call, if it is another copy of the last one."""
        last = self.by_model.get(call.model)
        return last if last is not None and last.key == call.key else None

    def carried(self) -> list[Any]:
        """As plain data for the file's state (JSON)."""
        return [self.last_model, [list(previous) for previous in self.by_model.values()]]

    @classmethod
    def from_carried(cls, data: list[Any]) -> SessionCache:
        last_model, previous = data
        return cls({row[2]: Previous(*row) for row in previous}, last_model)


def waste_of(call: ApiCall, before: int, rates: Rates | None) -> float:
    """USD the history sent again cost over reading it from the cache (0 when unpriced)."""
    if rates is None:
        return 0.0
    rates = rates.for_prompt(call.tokens.prompt)
    again = rewritten(call.tokens, before)
    return again * (fresh_rate(call.tokens, rates) - rates.cache_read) / PER_MILLION


Rater = Callable[[ApiCall], Rates | None]
"""The rates a call was priced at (PriceBook.rates_for, for its model, day and speed)."""


def file_misses(
    calls: Sequence[ApiCall], rates_of: Rater, state: MutableMapping[str, Any]
) -> list[tuple[str, float]]:
    """Each call's cause and waste, in order; ('', 0.0) for a sub-agent's call or one that
    did not miss. Each session's cache is read from `state` and left there for the next part
    of the file; copies of one call get the same answer."""
    carried: dict[str, list[Any]] = state.setdefault(CARRIED, {})
    sessions: dict[str, SessionCache] = {}
    found: list[tuple[str, float]] = [("", 0.0)] * len(calls)
    times = [call.timestamp for call in calls]
    source = session_id = None
    session = SessionCache()
    for position in sorted(range(len(calls)), key=times.__getitem__):
        call = calls[position]
        if call.subagent:
            continue
        if call.session_id != session_id or call.source != source:  # most follow their own
            source, session_id = call.source, call.session_id
            name = f"{source}:{session_id}"
            if name not in sessions:
                sessions[name] = (
                    SessionCache.from_carried(carried[name]) if name in carried else SessionCache()
                )
            session = sessions[name]
        copy = session.copy_of(call)
        if copy is not None:
            found[position] = (copy.cause, copy.waste)
            continue
        cause, before = session.miss(call)
        waste = waste_of(call, before.prompt, rates_of(call)) if cause and before else 0.0
        found[position] = (cause, waste)
        session.saw(call, cause, waste)
    carried.update((name, session.carried()) for name, session in sessions.items())
    return found


MISS_WORDS = {
    IDLE: "idle past the cache's lifetime",
    MODEL_SWITCH: "model switched (each model has its own cache)",
    NOT_CACHED: "cache not used (the prompt's start changed, or it was dropped)",
}


def cache_miss_text(cause: str, waste: float = 0.0) -> str:
    """Why the cache missed in words: Claude's logged reason ("tools_changed 89018") or what
    tokentree saw; and what sending the history again cost over cache reads."""
    reason, _, missed = cause.partition(" ")
    text = MISS_WORDS.get(reason, reason.replace("_", " "))
    if missed.isdigit():
        text += f", ≈{int(missed):,} tok not cached (Claude's estimate)"
    if waste:
        text += f"; {fmt.cost(waste)} over a cache hit"
    return text
