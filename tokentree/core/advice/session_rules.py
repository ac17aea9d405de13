"""The rules about one session, run as the pass reaches it: context compounding, cache rebuilt
after idle or missed for a logged cause, files read again and again, mechanical loops on the
priciest model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

from tokentree import format as fmt
from tokentree.core.advice.context import Context, Session, median, prompt
from tokentree.core.attribution import mechanical
from tokentree.core.cache_misses import (
    IDLE,
    LOGGED_CAUSES,
    Previous,
    SessionCache,
    fresh_rate,
    rewritten,
)
from tokentree.core.pricing import PER_MILLION
from tokentree.core.records import ApiCall
from tokentree.core.tree import Node, short_model


def context_compounding(context: Context, session: Session) -> None:
    s = context.settings.context_compounding
    main = session.main
    if session.node.totals.calls < s.min_calls:
        return
    prompts = [prompt(call.tokens) for _, call in main]
    first = next((i for i, size in enumerate(prompts) if size >= s.min_context), None)
    if first is None:
        return
    split_turn = main[first][0]
    end = first
    while end < len(main) and main[end][0] is split_turn:
        end += 1
    later = main[end:]
    if len(later) < s.min_calls:
        return
    at_split = max(prompts[:end])
    keep = at_split - s.handoff_tokens
    if keep <= 0:
        return
    avoided = read_cost = 0.0
    for _, call in later:
        rates = context.rates(call)
        if rates is None:
            continue
        tokens = min(call.tokens.cache_read, keep)
        avoided += tokens
        read_cost += tokens * rates.cache_read / PER_MILLION
    first_rates = context.rates(later[0][1])
    write_rate = first_rates.cache_write_5m if first_rates else 0.0
    handoff = s.handoff_tokens * write_rate / PER_MILLION
    saving = read_cost - handoff
    if avoided <= 0:
        return
    carried = [call.tokens.cache_read for _, call in later]
    peak = max(prompts[end:])
    carried_median = median(carried)
    read_rate = read_cost / avoided * PER_MILLION
    turn = split_turn.key
    formula = (
        f"Σ over {len(later)} calls after turn #{turn} of min(cache read, "
        f"{fmt.tokens(at_split)} − {fmt.tokens(s.handoff_tokens)}) = "
        f"{fmt.tokens(avoided)} tok × ${read_rate:.2f}/M (cache read) − "
        f"{fmt.tokens(s.handoff_tokens)} handoff × ${write_rate:.2f}/M (cache write) "
        f"= ${saving:,.2f}"
    )
    message = (
        f"after turn #{turn} the context passed {fmt.tokens(s.min_context)}; the "
        f"{len(later)} calls after it re-sent a median {fmt.tokens(carried_median)} tokens of "
        f"history (peak context {fmt.tokens(peak)}). Splitting after #{turn} with a "
        f"{fmt.tokens(s.handoff_tokens)}-token handoff would have saved ≈ ${saving:,.2f}."
    )
    evidence = {
        "split_after_turn": turn,
        "context_at_split": at_split,
        "calls_after_split": len(later),
        "median_carried": int(carried_median),
        "peak_context": peak,
        "avoidable_tokens": int(avoided),
        "cache_read_rate": round(read_rate, 6),
        "handoff_tokens": s.handoff_tokens,
        "formula": formula,
    }
    context.emit("context_compounding", session.place, message, evidence, saving)


class Resent(NamedTuple):
    """A main-thread call that missed the cache: the history it sent again (`tokens`), what
    that cost at the fresh price, and what reading it from the cache would have saved."""

    turn: Node
    call: ApiCall
    cause: str
    before: Previous
    tokens: int
    fresh_cost: float
    saving: float


def resent(context: Context, session: Session, min_tokens: int) -> Iterator[Resent]:
    """The session's priced cache misses, as cache_misses.SessionCache finds them (the same
    test the index stores each call's cache waste by)."""
    cache = SessionCache()
    for turn, call in session.main:
        cause, before = cache.miss(call, min_tokens)
        cache.saw(call)
        if not cause or before is None or (rates := context.rates(call)) is None:
            continue
        again = rewritten(call.tokens, before.prompt)
        fresh = fresh_rate(call.tokens, rates)
        fresh_cost = again * fresh / PER_MILLION
        saving = again * (fresh - rates.cache_read) / PER_MILLION
        yield Resent(turn, call, cause, before, again, fresh_cost, saving)


def cache_rebuilt(context: Context, session: Session) -> None:
    s = context.settings.cache_rebuilt
    found = [miss for miss in resent(context, session, s.min_tokens) if miss.cause == IDLE]
    if len(found) < max(1, s.min_rebuilds):
        return
    tokens = sum(miss.tokens for miss in found)
    fresh_cost = sum(miss.fresh_cost for miss in found)
    saving = sum(miss.saving for miss in found)
    rebuilds = [
        {
            "turn": miss.turn.key,
            "gap_minutes": round((miss.call.timestamp - miss.before.timestamp) / 60, 1),
            "cache_lifetime_minutes": miss.before.lifetime // 60,
            "tokens": miss.tokens,
        }
        for miss in found
    ]
    gaps = [item["gap_minutes"] for item in rebuilds]
    short_lived = [item for item in rebuilds if item["cache_lifetime_minutes"] == 5]
    lifetime = "5 min" if short_lived else "1 h"
    mean_fresh_rate = fresh_cost / tokens * PER_MILLION
    read_rate = (fresh_cost - saving) / tokens * PER_MILLION
    within_hour = sum(1 for item in short_lived if item["gap_minutes"] <= 60)
    remedy = (
        "1-hour caching or shorter pauses"
        if within_hour and session.node.source == "claude-code"
        else "shorter pauses (or a fresh session with a handoff)"
    )
    gap_text = f"{min(gaps):.0f} min" if len(gaps) == 1 else f"{min(gaps):.0f}–{max(gaps):.0f} min"
    gaps_text = "an idle gap" if len(rebuilds) == 1 else "idle gaps"
    message = (
        f"cache rebuilt {_times(len(rebuilds))} after {gaps_text} > {lifetime} ({gap_text}): "
        f"sending {fmt.tokens(tokens)} tokens of history again without the cache cost "
        f"${fresh_cost:,.2f}. {remedy.capitalize()} would have saved ≈ ${saving:,.2f}."
    )
    formula = (
        f"Σ over {len(rebuilds)} rebuild{'s' if len(rebuilds) > 1 else ''} of "
        f"min(uncached input + cache write, previous prompt) = {fmt.tokens(tokens)} tok × "
        f"(${mean_fresh_rate:.2f} − ${read_rate:.2f})/M (write or uncached − cache read) "
        f"= ${saving:,.2f}"
    )
    evidence = {
        "rebuilds": rebuilds,
        "rebuilt_tokens": int(tokens),
        "rebuild_cost_usd": round(fresh_cost, 6),
        "gaps_within_an_hour": within_hour,
        "formula": formula,
    }
    context.emit("cache_rebuilt", session.place, message, evidence, saving)


def repeated_reads(context: Context, session: Session) -> None:
    s = context.settings.repeated_reads
    repeated = {
        name: shares for name, shares in session.reads.items() if len(shares) >= s.min_reads
    }
    if not repeated:
        return
    ranked = sorted(repeated.items(), key=lambda item: (-len(item[1]), item[0]))
    rereads = sum(len(shares) - 1 for shares in repeated.values())
    saving = sum(sum(shares[1:]) for shares in repeated.values())
    files = ", ".join(f"{name} {len(shares)}×" for name, shares in ranked[:3])
    more = f" and {len(ranked) - 3} more" if len(ranked) > 3 else ""
    message = (
        f"files read again and again: {files}{more}. Each re-read is a round trip that "
        f"re-sends the whole context; the {rereads} re-reads' share of their calls cost "
        f"≈ ${saving:,.2f}."
    )
    formula = (
        f"Σ over {rereads} re-reads (every read of a file but its first) of "
        f"call cost ÷ tools in the call = ${saving:,.2f}"
    )
    evidence = {
        "scope": "session",
        "files": {name: len(shares) for name, shares in ranked},
        "rereads": rereads,
        "formula": formula,
    }
    context.emit("repeated_reads", session.place, message, evidence, saving)


def model_choice(context: Context, session: Session) -> None:
    s = context.settings.model_choice
    if not any(context.alternative(model) for model in session.node.models):
        return
    alternative = context.alternative
    runs: list[list[ApiCall]] = []
    current: list[ApiCall] = []
    current_turn: Node | None = None
    for turn, call in session.main:  # main-thread calls: neither sub-agent nor compaction
        tools = call.tools
        candidate = bool(tools) and mechanical(tools) and alternative(call.model) is not None
        if turn is not current_turn or not candidate:
            if len(current) >= s.min_run:
                runs.append(current)
            current, current_turn = [], turn
        if candidate:
            current.append(call)
    if len(current) >= s.min_run:
        runs.append(current)
    if not runs:
        return
    actual = cheaper = switch = 0.0
    models: Counter[str] = Counter()
    alternatives: Counter[str] = Counter()
    calls = 0
    for run in runs:
        run_cheaper = 0.0
        priced = True
        for call in run:
            alt = context.alternative(call.model)
            rates = context.rates(call, alt) if alt else None
            if rates is None or call.unpriced:
                priced = False
                break
            run_cheaper += rates.cost(call.tokens)
        if not priced:
            continue
        first = run[0]
        first_rates = context.rates(first, context.alternative(first.model))
        assert first_rates is not None
        actual += sum(call.cost for call in run)
        cheaper += run_cheaper
        switch += (
            prompt(first.tokens)
            * (first_rates.cache_write_5m - first_rates.cache_read)
            / PER_MILLION
        )
        calls += len(run)
        models.update(call.model for call in run)
        alternatives[context.alternative(first.model) or ""] += len(run)
    saving = actual - cheaper - switch
    if calls == 0 or saving <= 0:
        return
    model = short_model(models.most_common(1)[0][0])
    alt_model = short_model(alternatives.most_common(1)[0][0])
    message = (
        f"{len(runs)} loop{'s' if len(runs) > 1 else ''} of ≥ {s.min_run} mechanical calls "
        f"(only reading, commands, tests or git; {calls} calls in all) ran on {model}: "
        f"${actual:,.2f}. The same tokens on {alt_model} would have cost ${cheaper:,.2f}, "
        f"≈ ${saving:,.2f} less after re-writing the cache once per loop."
    )
    formula = (
        f"${actual:,.2f} on {model} − ${cheaper:,.2f} for the same tokens on {alt_model} − "
        f"${switch:,.2f} to write each loop's first prompt to {alt_model}'s cache "
        f"= ${saving:,.2f}"
    )
    evidence = {
        "loops": len(runs),
        "calls": calls,
        "model": models.most_common(1)[0][0],
        "alternative": alternatives.most_common(1)[0][0],
        "cost_usd": round(actual, 6),
        "alternative_cost_usd": round(cheaper, 6),
        "switch_cost_usd": round(switch, 6),
        "formula": formula,
    }
    context.emit("model_choice", session.place, message, evidence, saving)


def cache_missed(context: Context, session: Session) -> None:
    s = context.settings.cache_missed
    found = [m for m in resent(context, session, s.min_tokens) if m.cause in LOGGED_CAUSES]
    if not found:
        return
    tokens = sum(miss.tokens for miss in found)
    fresh_cost = sum(miss.fresh_cost for miss in found)
    saving = sum(miss.saving for miss in found)
    causes = Counter(miss.cause for miss in found)
    misses = [
        {
            "turn": miss.turn.key,
            "reason": miss.cause,
            "tokens": miss.tokens,
            "logged_missed_tokens": _logged_tokens(miss.call.cache_miss),
        }
        for miss in found
    ]
    named = ", ".join(
        f"{reason.replace('_', ' ')} ×{count}" if len(misses) > 1 else reason.replace("_", " ")
        for reason, count in causes.most_common()
    )
    message = (
        f"cache missed {_times(len(misses))} because {named} (as Claude logged it): sending "
        f"{fmt.tokens(tokens)} tokens of history again without the cache cost ${fresh_cost:,.2f}. "
        f"Keeping tools, system prompt and model fixed within a session would have saved "
        f"≈ ${saving:,.2f}."
    )
    read_rate = (fresh_cost - saving) / tokens * PER_MILLION
    formula = (
        f"Σ over {len(misses)} miss{'es' if len(misses) > 1 else ''} of "
        f"min(uncached input + cache write, previous prompt) = {fmt.tokens(tokens)} tok × "
        f"(${fresh_cost / tokens * PER_MILLION:.2f} − ${read_rate:.2f})/M "
        f"(write or uncached − cache read) = ${saving:,.2f}"
    )
    evidence = {
        "misses": misses,
        "rewritten_tokens": int(tokens),
        "miss_cost_usd": round(fresh_cost, 6),
        "formula": formula,
    }
    context.emit("cache_missed", session.place, message, evidence, saving)


def _logged_tokens(cause: str) -> int | None:
    """Claude's own count of the tokens a miss did not read ("tools_changed 89018")."""
    missed = cause.partition(" ")[2]
    return int(missed) if missed.isdigit() else None


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count}×"
