"""`tokentree statusline`: one line for Claude Code's status bar, from the index.

Claude Code runs the command after each message with its status JSON on stdin
(session id, cwd, model, context window); the line says what this session has
cost, today, the running 5-hour block and its time left, how full the context
is, and the budget closest to its limit. A bad or empty stdin still gets a line:
an error or an empty line would blank the bar.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from tokentree import format as fmt
from tokentree.core.budgets import BudgetUse
from tokentree.core.live import LOOKBACK, Summary, Thresholds, recent, summarize
from tokentree.workspace import Workspace

CONTEXT_WINDOW = 200_000
"""Tokens of context assumed when Claude Code does not say its window's size."""
_TONE_COLOURS = {"ok": "32", "warn": "33", "high": "31"}  # ANSI green, yellow, red


def status_input(raw: bytes) -> Mapping[str, Any]:
    """Claude Code's status JSON; {} for anything else (the line is still printed)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def status_line(
    workspace: Workspace,
    status: Mapping[str, Any],
    now: float,
    thresholds: Thresholds,
    budgets: Sequence[BudgetUse] = (),
    colour: bool = True,
) -> str:
    """The line: session · today · block · context · budget, each only when it has something."""
    index, scope = workspace.index, workspace.scope
    parts = []
    session = status.get("session_id")
    if isinstance(session, str) and session:
        calls, cost, unpriced = _session(index.session_sums(scope, session))
        if calls:
            parts.append(f"{fmt.cost(cost, unpriced=unpriced, calls=calls)} session")
    lately = index.calls(replace(scope, since=now - LOOKBACK))
    summary = summarize(recent(lately, now), workspace.calendar, now, (), thresholds)
    parts += _today_and_block(summary, now)
    context = _context(status, summary, session)
    if context is not None:
        tokens, size = context
        tone = thresholds.tone(tokens)
        dot = f"\033[{_TONE_COLOURS[tone]}m●\033[0m" if colour else "●"
        parts.append(f"ctx {tokens / size:.0%} {dot}")
    closest = max(budgets, key=lambda use: use.share, default=None)
    if closest is not None:
        parts.append(_budget(closest))
    return " · ".join(parts) or "tokentree: no calls yet"


def _session(rows: Sequence[tuple[Any, ...]]) -> tuple[int, float, int]:
    calls = sum(int(row[1]) for row in rows)
    cost = sum(float(row[7]) for row in rows)
    return calls, cost, sum(int(row[8]) for row in rows)


def _today_and_block(summary: Summary, now: float) -> list[str]:
    today = summary.today
    parts = []
    if today.calls:
        parts.append(f"{fmt.cost(today.cost, unpriced=today.unpriced, calls=today.calls)} today")
    block = summary.block
    if block is not None:
        left = max(0, math.ceil((block.end - now) / 60))
        usage = block.usage
        cost = fmt.cost(usage.cost, unpriced=usage.unpriced, calls=usage.calls)
        parts.append(f"block {cost} ({left // 60}h{left % 60:02d}m left)")
    return parts


def _context(status: Mapping[str, Any], summary: Summary, session: Any) -> tuple[int, int] | None:
    """(tokens in the context, the window's size): as Claude Code says, else this session's
    newest call's prompt."""
    window = status.get("context_window")
    window = window if isinstance(window, dict) else {}
    size = window.get("context_window_size")
    size = size if isinstance(size, int) and size > 0 else CONTEXT_WINDOW
    usage = window.get("current_usage")
    if isinstance(usage, dict):
        counts = [
            usage.get(name)
            for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        if all(isinstance(count, int) and count >= 0 for count in counts):
            return sum(counts), size
    pulse = next(
        (item.pulse for item in summary.busy if item.pulse.key.endswith(f":{session}")), None
    )
    return (pulse.context, size) if pulse is not None else None


def _budget(use: BudgetUse) -> str:
    mark = " over" if use.state == "over" else ""
    return f"{use.budget.period} {use.share:.0%} of {use.amount(use.limit)}{mark}"


def colour_wanted() -> bool:
    """ANSI colour unless NO_COLOR is set (Claude Code shows colours in its status bar)."""
    return not os.environ.get("NO_COLOR")
