"""Alerts: raised once per crossing, delivered to the user's command, kept across runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import claude_call, write
from tokentree.alerting import Watch, deliver
from tokentree.core.alerts import Alert, Level, budget_levels, crossings
from tokentree.core.budgets import Budget, BudgetUse
from tokentree.core.live import Thresholds
from tokentree.workspace import Choices, open_workspace

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def _level(key: str, level: str) -> Level:
    return Level(key, level, f"{key} {level}", "")


def test_each_crossing_alerts_once_and_a_level_that_fell_can_alert_again() -> None:
    seen: dict[str, str] = {}
    raised = []
    for level in ("ok", "near", "near", "over", "over", "ok", "over"):
        alerts, seen = crossings(seen, [_level("b", level)])
        raised.append([alert.level for alert in alerts])
    assert raised == [[], ["near"], [], ["over"], [], [], ["over"]]


def test_a_budgets_new_period_starts_afresh() -> None:
    budget = Budget("day", usd=10)
    today = BudgetUse(budget, start=0.0, end=86_400.0, now=3600.0, used=11.0)
    tomorrow = BudgetUse(budget, start=86_400.0, end=172_800.0, now=90_000.0, used=11.0)
    alerts, seen = crossings({}, budget_levels([today]))
    assert [(a.level, a.title) for a in alerts] == [
        ("over", "tokentree: day budget is over its limit")
    ]
    assert "$11.00 used (110%)" in alerts[0].message
    assert len(crossings(seen, budget_levels([tomorrow]))[0]) == 1


def test_an_alert_command_gets_the_alert_as_json(tmp_path: Path) -> None:
    alert = Alert("k", "over", "title", "message")
    target = tmp_path / "got.json"
    assert deliver(alert, f"cat > {target}") == "command"
    assert json.loads(target.read_text()) == {
        "schema": "tokentree.alert/1",
        "key": "k",
        "level": "over",
        "title": "title",
        "message": "message",
    }
    assert deliver(alert, "exit 3") == ""  # the caller rings the bell instead


@pytest.fixture
def watch(isolated_home: Path) -> Watch:
    """A session with two calls in the last hour: 2.0 M tokens of context, $2 at $1/M."""
    logs = isolated_home / "logs" / "projects" / "-home-dev-atlas"
    model = {"model": "test-model", "output": 0}
    write(
        logs / "s.jsonl",
        claude_call("m1", NOW - timedelta(minutes=50), input=1_500_000, **model),
        claude_call("m2", NOW - timedelta(minutes=5), input=500_000, **model),
    )
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[prices."test-model"]\ninput = 1.0\noutput = 0.0\n', encoding="utf-8")
    workspace = open_workspace(Choices(paths=[str(isolated_home / "logs")], timezone="UTC"))
    sent: list[Alert] = []
    budgets = [Budget("day", usd=2.5), Budget("month", usd=100)]
    seen = isolated_home / "alerts.json"
    watcher = Watch(workspace, budgets, Thresholds(100_000, 400_000), seen, sent.append)
    watcher.sent = sent  # type: ignore[attr-defined]
    return watcher


def test_watch_alerts_on_budgets_and_context_once_across_runs(watch: Watch) -> None:
    alerts = watch.round(NOW.timestamp())
    assert sorted((alert.key.split()[0], alert.level) for alert in alerts) == [
        ("budget", "near"),  # $2 of $2.50: 80 %
        ("context", "high"),  # 500k tokens of context ≥ 400k
    ]
    again = Watch(watch.workspace, watch.budgets, watch.thresholds, watch.seen_path, watch.send)
    assert again.round(NOW.timestamp() + 60) == []  # a restart remembers
