"""Delivering alerts, and `tokentree watch`: the view's alerts without the view.

An alert goes to the user's `alert_command` when the config sets one (the alert
as JSON on stdin), else to the desktop (`notify-send`, or `osascript` on macOS);
where neither is at hand the caller rings the terminal bell.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson

from tokentree import config
from tokentree.core.alerts import Alert, budget_levels, context_levels, crossings
from tokentree.core.budgets import Budget, budget_uses
from tokentree.core.live import LOOKBACK, Thresholds, recent, summarize
from tokentree.live.ledger_timer import ledger_timer
from tokentree.workspace import Workspace

COMMAND_TIMEOUT = 10.0  # seconds an alert command or notifier may take


def deliver(alert: Alert, command: str | None) -> str:
    """Send `alert`; how it went ("command", "desktop"), or "" when nothing could take it."""
    if command:
        done = _run(command, alert.as_json(), shell=True)
        return "command" if done else ""
    if shutil.which("notify-send"):
        sent = _run(["notify-send", "--app-name=tokentree", alert.title, alert.message])
        return "desktop" if sent else ""
    if sys.platform == "darwin" and shutil.which("osascript"):
        script = f"display notification {_quoted(alert.message)} with title {_quoted(alert.title)}"
        return "desktop" if _run(["osascript", "-e", script]) else ""
    return ""


def _run(command: str | list[str], stdin: bytes = b"", *, shell: bool = False) -> bool:
    try:
        done = subprocess.run(
            command, input=stdin, shell=shell, capture_output=True, timeout=COMMAND_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _quoted(text: str) -> str:
    """A string literal for AppleScript."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Watch:
    """What `tokentree watch` checks each round: the budgets and the live sessions' context,
    with what was already alerted on kept in `seen_path` across runs."""

    def __init__(
        self,
        workspace: Workspace,
        budgets: list[Budget],
        thresholds: Thresholds,
        seen_path: Path,
        send: Callable[[Alert], str],
    ) -> None:
        self.workspace = workspace
        self.budgets = budgets
        self.thresholds = thresholds
        self.seen_path = seen_path
        self.send = send

    def round(self, now: float) -> list[Alert]:
        """Bring the index up to date, raise what crossed, and return it."""
        workspace = self.workspace
        workspace.refresh()
        uses = budget_uses(workspace.index, workspace.scope, self.budgets, workspace.calendar, now)
        lately = workspace.index.calls(replace(workspace.scope, since=now - LOOKBACK))
        summary = summarize(recent(lately, now), workspace.calendar, now, (), self.thresholds)
        levels = [*budget_levels(uses), *context_levels(summary, self.thresholds)]
        alerts, seen = crossings(self._seen(), levels)
        for alert in alerts:
            if not self.send(alert):
                print(f"\a{alert.title}: {alert.message}", flush=True)
        self._keep(seen)
        return alerts

    def _seen(self) -> dict[str, str]:
        try:
            found = orjson.loads(self.seen_path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return found if isinstance(found, dict) else {}

    def _keep(self, seen: dict[str, str]) -> None:
        try:
            self.seen_path.parent.mkdir(parents=True, exist_ok=True)
            self.seen_path.write_bytes(orjson.dumps(seen))
        except OSError:
            pass  # alerts may then repeat after a restart: never fatal


def watch(workspace: Workspace, *, interval: float, once: bool) -> int:
    """`tokentree watch`: a round every `interval` seconds until interrupted (or one); with
    `share_ledger` in the config, this machine's ledger is shared on its timer meanwhile."""
    settings = workspace.settings
    watcher = Watch(
        workspace,
        settings.budget,
        settings.context_thresholds(),
        config.alerts_path(),
        lambda alert: deliver(alert, settings.alert_command),
    )
    sharing = ledger_timer(workspace, lambda error: print(f"tokentree: {error}", file=sys.stderr))
    watcher.round(time.time())
    if once:
        if sharing is not None:
            sharing.tick()
        return 0
    if sharing is not None:
        sharing.start()  # after the first round: the index is up to date
    while True:
        time.sleep(interval)
        watcher.round(time.time())
