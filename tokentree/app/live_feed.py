"""The app's side of the live package: what the index thread, the watcher and the analysis
report, handled on the app's loop (a new snapshot, progress, an analysis, the live line)."""

from __future__ import annotations

import os

from textual import work
from textual.worker import get_current_worker

from tokentree import config
from tokentree.alerting import deliver
from tokentree.app.messages import Posted
from tokentree.app.screens.overview import OverviewScreen
from tokentree.core.advice import AdviceSettings
from tokentree.core.alerts import Alert, budget_levels, context_levels, crossings
from tokentree.core.live import summarize
from tokentree.live.events import (
    AnalysisFailed,
    Event,
    IndexFailed,
    IndexProgressed,
    LedgerFailed,
    TreeAnalysed,
    TreeUpdated,
    WatchChanged,
    WatchFailed,
)
from tokentree.live.ledger_timer import ledger_timer
from tokentree.live.snapshot import Snapshot
from tokentree.live.watching import POLL_SECONDS

BIG_REFRESH = 16 * 1024 * 1024  # bytes: a live refresh this big shows its progress


class LiveFeed:
    """TokenTreeApp's handlers of the live package's events (a part of the app: its state is
    the app's, set in TokenTreeApp.__init__)."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def _index(self) -> None:
        worker = get_current_worker()
        self.indexer.run(live=self.live, cancelled=lambda: worker.is_cancelled)

    @property
    def watch_state(self) -> str:
        """How the logs are followed: off (--no-watch), starting, live, or polling (and why)."""
        return self.watcher.state if self.live else "off"

    def _load_advice_settings(self) -> AdviceSettings:
        """The advice thresholds of the settings the workspace loaded, checked once (by the
        analysis or an export)."""
        with self._settings_lock:
            if self._advice_settings is None:
                try:
                    self._advice_settings = self.workspace.settings.advice_settings()
                except config.ConfigError as error:  # unchecked if prepared without advice
                    self._post_event(AnalysisFailed(f"{error}; advice uses the defaults"))
                    self._advice_settings = AdviceSettings()
            return self._advice_settings

    def _post_event(self, event: Event) -> None:
        """What the live threads report, for the app's loop (threads never touch widgets)."""
        self.post_message(Posted(event))

    def on_posted(self, message: Posted) -> None:
        self._handle_event(message.event)

    def _handle_event(self, event: Event) -> None:
        """Hand an event to its handler below (the watcher calls this directly, on this loop)."""
        match event:
            case IndexProgressed():
                self._progressed(event)
            case TreeUpdated():
                self._tree_updated(event)
            case TreeAnalysed():
                self._analysed(event)
            case AnalysisFailed():
                self._analysis_failed(event)
            case IndexFailed():
                self._index_failed(event)
            case WatchChanged():
                self._watch_changed()
            case WatchFailed():
                self._watch_failed(event)
            case LedgerFailed():
                self.notify(event.error, title="Sharing the ledger", severity="warning")

    def _tick(self) -> None:
        """Redraw the live line for now: today, the 5-hour block, busy sessions, Codex limits."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        now = self.clock()
        summary = summarize(
            snapshot.recent, self.workspace.calendar, now, snapshot.rate_limits, self.thresholds
        )
        budgets = [use.at(now) for use in snapshot.budgets if now < use.end]
        self.path_bar.show_live(summary, self.watch_state, budgets)
        self.table.show_busy({item.pulse.key: item for item in summary.busy})
        levels = [*budget_levels(budgets), *context_levels(summary, self.thresholds)]
        alerts, seen = crossings(self._alerted or {}, levels)
        first, self._alerted = self._alerted is None, seen
        if first:
            return  # what the view opens on is on screen: alerts are for what changes
        for alert in alerts:
            self.notify(alert.message, title=alert.title, severity="warning", timeout=10)
            self._deliver(alert)

    @work(thread=True, group="alerts")
    def _deliver(self, alert: Alert) -> None:
        """The desktop or the user's command too; the bell where neither takes it."""
        if not deliver(alert, self.alert_command):
            self.call_from_thread(self.bell)

    def exit(self, *args, **kwargs) -> None:  # type: ignore[override]
        self.indexer.stop()  # before the workers are cancelled: ends a big read promptly
        self.analyser.stop()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        """However the app ends: its threads return now, not at their next look at the flag."""
        self.indexer.stop()
        self.analyser.stop()
        if self.ledger_timer is not None:
            self.ledger_timer.stop()

    def _handle_exception(self, error: Exception) -> None:
        """Textual prints a traceback on a crash; the CLI promises one line (see cli.main).

        The error is kept and re-raised by `run` after the terminal is restored;
        elsewhere (tests) and with TOKENTREE_DEBUG, Textual reports it its own way.
        """
        self.crash = self.crash or error
        self.indexer.stop()
        self.analyser.stop()
        if self.report_crash_in_cli and not os.environ.get("TOKENTREE_DEBUG"):
            self.exit(return_code=1)
        else:
            super()._handle_exception(error)

    def _progressed(self, event: IndexProgressed) -> None:
        """Show the first index's progress; a live refresh shows it only when it is a big one."""
        first = self.snapshot is None or not self.snapshot.complete
        if first or event.total >= BIG_REFRESH:
            partial_tree = self.snapshot is not None and not self.snapshot.complete
            self.status.show_progress(event.done, event.total, partial_tree)

    def _tree_updated(self, event: TreeUpdated) -> None:
        first_complete = event.snapshot.complete and not (
            self.snapshot is not None and self.snapshot.complete
        )
        self.snapshot = event.snapshot
        self._regroup(keep_screen_row=True)
        if event.snapshot.complete:
            self._show_status(event.snapshot)
        self._tick()
        if first_complete:
            for notice in dict.fromkeys(event.snapshot.notices):
                self.notify(notice, severity="warning", timeout=8)
            if self.live and not self._watching:
                self._watching = True
                self.run_worker(
                    self.watcher.run(), name="watcher", group="watch", exit_on_error=False
                )
                self._share_ledger()
        if event.snapshot.complete:  # once the tree is drawn: analysing holds up the UI
            snapshot = event.snapshot
            self.call_after_refresh(
                self.analyser.submit, snapshot.tree, snapshot.generation, snapshot.served
            )

    def _share_ledger(self) -> None:
        """While the logs are followed: this machine's ledger into the shared folder on a
        timer (config `share_ledger`), on a daemon thread that only posts its failures."""
        self.ledger_timer = ledger_timer(
            self.workspace, lambda error: self._post_event(LedgerFailed(error))
        )
        if self.ledger_timer is not None:
            self.ledger_timer.start()

    def _drawn(self) -> None:
        self._drawing = False

    def _analysed(self, event: TreeAnalysed) -> None:
        """Activity and advice arrived: add them to the list, the panels and the overview."""
        self.analysis = event.analysis
        if self.table.listing is not None:
            self._decorate(self.table.listing)
        if self.info.display:
            self._show_info()
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen):
                screen.show(event.analysis.overview)

    def _analysis_failed(self, event: AnalysisFailed) -> None:
        if event.error != self._analysis_error:  # a broken rule fails on every tree: say it once
            self._analysis_error = event.error
            self.notify(event.error, title="Activity and advice", severity="warning")

    def _index_failed(self, event: IndexFailed) -> None:
        self.status.set_status(f"⚠ index: {event.error}", "error")
        self.notify(event.error, title="Reading the logs failed", severity="error")

    def _watch_changed(self) -> None:
        if self.snapshot is not None and self.snapshot.complete:
            self._show_status(self.snapshot)
        self._tick()

    def _watch_failed(self, event: WatchFailed) -> None:
        self.notify(
            f"cannot watch the logs ({event.reason}): "
            f"looking for changes every {POLL_SECONDS:g} s instead",
            severity="warning",
        )

    def _show_status(self, snapshot: Snapshot) -> None:
        tone = "busy" if self.watch_state == "polling" else "live"
        self.status.set_status(self._status_text(snapshot), tone)

    def _status_text(self, snapshot: Snapshot) -> str:
        parts = [f"{snapshot.files:,} log file{'s' * (snapshot.files != 1)}"]
        if snapshot.health.skipped_lines:
            parts.append(f"{snapshot.health.skipped_lines:,} lines skipped")
        if snapshot.health.removed_files:
            removed = snapshot.health.removed_files
            parts.append(f"{removed:,} log{'s' * (removed != 1)} removed")
        state = {
            "live": "● live · ",
            "polling": f"◌ polling every {POLL_SECONDS:g} s ({self.watcher.note}) · ",
        }.get(self.watch_state, "")
        return state + " · ".join(parts)
