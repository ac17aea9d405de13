"""The live line's words: the watch state, today, the 5-hour block, busy sessions, Codex's
limits and the closest budget, as pieces that drop by priority when the line is short."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from rich.cells import cell_len

from tokentree import format as fmt
from tokentree.core.budgets import BudgetUse
from tokentree.core.live import Summary, Usage


@dataclass(frozen=True, slots=True)
class Piece:
    """One group of the live line: (text, style) parts; lower priority stays longer."""

    parts: tuple[tuple[str, str], ...]
    priority: int

    @property
    def width(self) -> int:
        return sum(cell_len(text) for text, _ in self.parts)


STATES = {
    "starting": ("○ reading logs", "dim"),  # watching starts once the first tree is complete
    "live": ("● live", "live"),
    "polling": ("◌ live, polling", "busy"),
    "off": ("○ not watching", "dim"),
}


def live_pieces(
    summary: Summary, state: str, zone: tzinfo | None, budgets: Sequence[BudgetUse] = ()
) -> tuple[Piece, ...]:
    """What the live line says: the watch state, today, the 5-hour block, busy sessions, limits,
    and the budget closest to its limit."""
    now = summary.now
    pieces = [Piece((STATES.get(state, STATES["off"]),), 0)]
    today = summary.today
    if today.calls:
        pieces.append(
            Piece(
                (
                    ("today ", "dim"),
                    (_cost(today), "value"),
                    (f" · {fmt.tokens(today.tokens)} tok", "dim"),
                ),
                0,
            )
        )
    else:
        pieces.append(Piece((("no calls today", "dim"),), 0))
    block = summary.block
    if block is None:
        pieces.append(Piece((("no 5h block running", "dim"),), 0))
    else:
        pieces.append(
            Piece(
                (
                    ("5h block ", "dim"),
                    (_cost(block.usage), "value"),
                    (f" ({duration(block.left(now))} left)", ""),
                ),
                0,
            )
        )
        rate = block.last_30m
        priced = rate.calls > rate.unpriced or not rate.calls
        pace = [(f"{fmt.cost(block.cost_per_hour)}/h · ", "")] if priced else []
        pace += [(f"{fmt.tokens(block.tokens_per_minute)} tok/min", ""), (" last 30 min", "dim")]
        pieces.append(Piece(tuple(pace), 2))
        if block.usage.calls > block.usage.unpriced:
            projected = fmt.cost(block.projected_cost(now), unpriced=block.usage.unpriced)
            end = moment(block.end, now, zone)
            pieces.append(Piece((("→ ", "dim"), (projected, "value"), (f" by {end}", "dim")), 3))
    if summary.busy:
        first = summary.busy[0]
        parts = [
            ("● ", first.tone),
            (f"{first.pulse.name} {fmt.tokens(first.pulse.context)} ctx", ""),
        ]
        if len(summary.busy) > 1:
            parts.append((f" +{len(summary.busy) - 1} more", "dim"))
        pieces.append(Piece(tuple(parts), 1))
    if summary.limits:
        parts = [("codex", "dim")]
        for number, limit in enumerate(summary.limits):
            used = limit.used_percent
            tone = "high" if used >= 90 else "warn" if used >= 70 else "value"
            parts += [(" · " if number else " ", "dim"), (f"{limit.name} ", "dim")]
            parts.append((f"{used:.0f}%", tone))
            if limit.resets_at is not None:
                parts.append((f" resets {moment(limit.resets_at, now, zone)}", "dim"))
        pieces.append(Piece(tuple(parts), 1))
    closest = max(budgets, key=lambda use: use.share, default=None)
    if closest is not None:
        pieces.append(budget_piece(closest))
    return tuple(pieces)


def budget_piece(use: BudgetUse) -> Piece:
    """ "month 21% of $200 → $212": the use, the limit, the forecast to the period's end."""
    tone = {"ok": "value", "near": "warn", "over": "high"}[use.state]
    return Piece(
        (
            (f"{use.budget.period} ", "dim"),
            (f"{use.share:.0%}", tone),
            (f" of {use.amount(use.limit)} → {use.amount(use.forecast)}", "dim"),
        ),
        1,
    )


def _cost(usage: Usage) -> str:
    return fmt.cost(usage.cost, unpriced=usage.unpriced, calls=usage.calls)


def fit_pieces(pieces: Sequence[Piece], width: int) -> list[Piece]:
    """The most important pieces that fit (lowest priority first, then left to right), in order."""
    chosen: set[int] = set()
    used = 0
    for index in sorted(range(len(pieces)), key=lambda i: (pieces[i].priority, i)):
        extra = pieces[index].width + (3 if chosen else 0)
        if used + extra <= width or not chosen:
            chosen.add(index)
            used += extra
    return [pieces[index] for index in sorted(chosen)]


def duration(seconds: float) -> str:
    """'2h14m', '14m', '<1m'."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "<1m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def moment(timestamp: float, now: float, zone: tzinfo | None) -> str:
    """A local time as short as is clear: '14:00' today, 'Mon 09:00' this week, else with a date."""
    when = datetime.fromtimestamp(timestamp, zone)
    today = datetime.fromtimestamp(now, zone).date()
    if when.date() == today:
        return f"{when:%H:%M}"
    if today < when.date() < today + timedelta(days=6):
        return f"{when:%a %H:%M}"
    return f"{when:%a} {when.day} {when:%b %H:%M}"
