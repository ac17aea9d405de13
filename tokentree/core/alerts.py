"""Alerts: a budget passing 80 % or 100 % of its limit, a live session's context passing the
warn or high threshold; each raised once per crossing.

Pure: the levels things are at now are compared with the levels already alerted
on (`seen`, which the caller keeps, on disk for `tokentree watch`); a level that
falls is forgotten, so rising again alerts again. Delivering is alerting.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import orjson

from tokentree import format as fmt
from tokentree.core.budgets import BudgetUse
from tokentree.core.live import Summary, Thresholds

RANK = {"ok": 0, "near": 1, "warn": 1, "over": 2, "high": 2}
"""How far along each level is: budgets go ok → near → over, contexts ok → warn → high."""


@dataclass(frozen=True, slots=True)
class Level:
    """Where one watched thing is now: its key, its level, and what to say if it rose."""

    key: str
    level: str
    title: str
    message: str


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    level: str
    title: str
    message: str

    def as_json(self) -> bytes:
        """What an `alert_command` reads on stdin."""
        return orjson.dumps({"schema": "tokentree.alert/1", **asdict(self)})


def budget_levels(uses: Iterable[BudgetUse]) -> list[Level]:
    """Each budget in its current period (a new period starts at ok)."""
    levels = []
    for use in uses:
        words = {"near": "is near its limit", "over": "is over its limit"}.get(use.state, "")
        levels.append(
            Level(
                f"budget {use.budget.name} {use.start:.0f}",
                use.state,
                f"tokentree: {use.budget.period} budget {words}".rstrip(),
                f"{use.budget.name}: {use.amount(use.used)} used ({use.share:.0%}), "
                f"{use.amount(use.forecast)} forecast by the period's end",
            )
        )
    return levels


def context_levels(summary: Summary, thresholds: Thresholds) -> list[Level]:
    """Each live session's newest call's context against the thresholds."""
    return [
        Level(
            f"context {item.pulse.key}",
            item.tone,
            f"tokentree: context {'high' if item.tone == 'high' else 'growing'} in "
            f"{item.pulse.name}",
            f"{fmt.tokens(item.pulse.context)} tokens of context per call "
            f"(≥ {fmt.tokens(thresholds.high if item.tone == 'high' else thresholds.warn)}): "
            "every call pays to send it again; a fresh thread with a handoff starts small",
        )
        for item in summary.busy
    ]


def crossings(
    seen: Mapping[str, str], levels: Iterable[Level]
) -> tuple[list[Alert], dict[str, str]]:
    """The alerts for the levels that rose past what `seen` holds, and the new `seen`.

    Things no longer watched (a past period, a session gone quiet) are dropped from it.
    """
    alerts = []
    now_seen: dict[str, str] = {}
    for level in levels:
        before = seen.get(level.key, "ok")
        if RANK[level.level] > RANK[before]:
            alerts.append(Alert(level.key, level.level, level.title, level.message))
        if RANK[level.level]:
            now_seen[level.key] = level.level
    return alerts, now_seen
