"""TokenTreeApp: ncdu for AI coding spend, over snapshots the indexer thread posts.

The app owns the view state (where we are, sort, filter, cursor memory) and
never reads logs or the index itself: the live package does, without Textual. A
thread worker runs its indexer, an async worker its watcher (which tells the
indexer when a log changed or a missing root appeared), and a thread of its own
its analyser (each tree's activity and advice, after the tree is shown); they
report plain events, which the app receives wrapped in one message (`Posted`).
Thread workers price the info panel and write exports. A one-second timer
redraws the live line (today, the 5-hour block, busy sessions) from the last
snapshot and the clock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.worker import get_current_worker

from tokentree import config
from tokentree.alerting import deliver
from tokentree.app.messages import BreakdownPriced, ExportFinished, Posted, ViewBuilt
from tokentree.app.palette import ViewCommands
from tokentree.app.screens.export import ExportRequest, ExportScreen
from tokentree.app.screens.help import HelpScreen
from tokentree.app.screens.overview import OverviewScreen
from tokentree.app.theme import extra_variables
from tokentree.app.widgets.advice_bar import AdviceBar
from tokentree.app.widgets.bars import PathBar, StatusBar, crumb, totals_text
from tokentree.app.widgets.filter_bar import FilterBar
from tokentree.app.widgets.info_panel import InfoPanel
from tokentree.app.widgets.usage_table import Decor, UsageTable
from tokentree.core.advice import AdviceSettings
from tokentree.core.alerts import Alert, budget_levels, context_levels, crossings
from tokentree.core.analysis import Analysis
from tokentree.core.attribution import Attribution, mix
from tokentree.core.breakdown import Breakdown, breakdown, calls_below
from tokentree.core.export import ExportError, export_chunks, write_export
from tokentree.core.grouping import GROUP_KIND, ViewTree, view_tree
from tokentree.core.handoff import handoff_text
from tokentree.core.live import DEFAULT_THRESHOLDS, Thresholds, summarize
from tokentree.core.pricing import PriceBook
from tokentree.core.tree import Grouping, Kind, Node
from tokentree.core.view import (
    GRAPH_CYCLE,
    BarMetric,
    Listing,
    Sort,
    SortKey,
    child_kind,
    default_sort,
    export_name,
    listing,
    mix_order,
    resolve,
)
from tokentree.live.analyser import Analyser
from tokentree.live.events import (
    AnalysisFailed,
    Event,
    IndexFailed,
    IndexProgressed,
    TreeAnalysed,
    TreeUpdated,
    WatchChanged,
    WatchFailed,
)
from tokentree.live.indexer import Indexer
from tokentree.live.snapshot import Snapshot
from tokentree.live.watcher import Watcher
from tokentree.live.watching import POLL_SECONDS
from tokentree.state import ViewState, load_state, save_state
from tokentree.workspace import DEMO_NOW, Choices, Workspace, demo_clock, prepare_workspace

Path_ = tuple[str, ...]
VIEW_ACTIONS = {
    "sort",
    "cycle_grouping",
    "toggle_metric",
    "cycle_graph",
    "graph_or_first",
    "last",
    "toggle_info",
    "scroll_info",
    "overview",
    "export",
    "filter",
    "help",
    "escape",
    "toggle_theme",
}
BREAKDOWN_CACHE = 64
BIG_REFRESH = 16 * 1024 * 1024  # bytes: a live refresh this big shows its progress
TICK = 1.0  # seconds between redraws of the live line
FILTER_PAUSE = 0.3  # seconds of no typing before the filter is applied (it sums every call)
GG_WINDOW = 0.4  # seconds: a second g within this jumps to the first row, else g cycles the graph


class TokenTreeApp(App[int]):
    """The list of the current node's children, its header and status, and the panels."""

    CSS_PATH = "tokentree.tcss"
    TITLE = "tokentree"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {ViewCommands}
    BINDINGS = [
        Binding("s", "sort('cost')", "sort by cost", show=False),
        Binding("t", "sort('tokens')", "sort by tokens", show=False),
        Binding("c", "sort('cache')", "sort by cache hit", show=False),
        Binding("n", "sort('time')", "sort by time", show=False),
        Binding("C", "sort('count')", "sort by count", show=False),
        Binding("a", "toggle_metric", "bar by cost or tokens", show=False),
        Binding("g", "graph_or_first", "bar / percent / both; gg: first row", show=False),
        Binding("G", "last", "last row", show=False),
        Binding("i", "toggle_info", "info", show=False),
        Binding("J,shift+down", "scroll_info(1)", "scroll the info panel down", show=False),
        Binding("K,shift+up", "scroll_info(-1)", "scroll the info panel up", show=False),
        Binding("o", "overview", "overview", show=False),
        Binding("e", "export", "export", show=False),
        Binding("H", "handoff", "handoff", show=False),  # h is back (vim)
        Binding("slash", "filter", "filter", show=False),
        Binding("b", "cycle_grouping", "group by week, month, day, project…", show=False),
        Binding("question_mark", "help", "help", show=False),
        Binding("T", "toggle_theme", "theme", show=False),
        Binding("escape", "escape", "close", show=False),
        Binding("q", "quit", "quit", show=False),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    path_bar: PathBar
    table: UsageTable
    advice_bar: AdviceBar
    info: InfoPanel
    filter_bar: FilterBar
    status: StatusBar

    def __init__(
        self,
        workspace: Workspace,
        reading: str,
        *,
        live: bool = True,
        clock: Callable[[], float] = time.time,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        alert_command: str | None = None,
        grouping: Grouping | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.reading = reading
        self.live = live
        self.clock = clock  # "now" for the live line: tests pin it
        self.thresholds = thresholds
        self.alert_command = alert_command
        self._alerted: dict[str, str] | None = None  # what crossed already (core/alerts.py)
        self.indexer = Indexer(workspace, self._post_event, now=clock)
        self.analyser = Analyser(
            workspace.index.prices,
            self._load_advice_settings,
            workspace.calendar.week_start,
            self._post_event,
            busy=lambda: self.indexer.busy or self._drawing,
            keep_advice=workspace.index.keep_advice,
        )
        # it runs on this loop: its events are handled at once, not queued
        self.watcher = Watcher(workspace.roots, self.indexer.mark_dirty, self._handle_event)
        self.snapshot: Snapshot | None = None
        self.analysis: Analysis | None = None  # of this snapshot's tree, or of an older one
        self.attribution: Attribution | None = None  # this snapshot's activity, per node
        self._advice_settings: AdviceSettings | None = None
        self._settings_lock = threading.Lock()
        self._analysis_error = ""
        # A daemon thread, not a worker: an analysis cannot be interrupted (pure functions, two
        # seconds on a big history), and quitting must not wait for one. It only posts results.
        self._analysis_thread = threading.Thread(
            target=self.analyser.run, name="tokentree-analysis", daemon=True
        )
        self.path: Path_ = ()
        restored = ViewState.from_saved(load_state())
        self.sorts = dict(restored.sorts)  # per kind of row listed (view.default_sort)
        self.bar_metric = restored.bar_metric
        self.graph = restored.graph
        self._restored_theme = restored.theme
        self._pending_g: Timer | None = None  # a lone g waits: it may be the first of gg
        self.grouping = grouping or restored.grouping
        self.needle = ""  # the carried filter: the whole view counts the calls it matches
        self.view: ViewTree | None = None  # the snapshot's tree, grouped and filtered
        self._views = 0  # views shown so far: what a priced breakdown is of
        self._typing: Timer | None = None
        self.remembered: dict[Path_, str] = {}
        self.crash: Exception | None = None
        self.report_crash_in_cli = False
        self.last_export: Path | None = None
        self._breakdowns: dict[tuple[int, Path_], Breakdown] = {}
        self._prices: PriceBook | None = None
        self._prices_lock = threading.Lock()
        self._watching = False
        self._drawing = False  # a list is on its way to the screen: the analysis waits

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables and ours (`$muted-text`: see app/theme.py)."""
        variables = super().get_css_variables()
        return {**variables, **extra_variables(variables)}

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # kept as attributes: `query_one` looks only at the top screen, and updates keep
        # arriving while the help or export dialog is up
        calendar = self.workspace.calendar
        self.path_bar = PathBar(self.reading, self.workspace.zone_name, calendar.zone, id="path")
        self.table = UsageTable(id="table")
        self.advice_bar = AdviceBar(id="advice")
        self.info = InfoPanel(self.workspace.calendar.zone, id="info")
        self.filter_bar = FilterBar(id="filter")
        self.status = StatusBar(id="status")
        yield from (
            self.path_bar,
            self.table,
            self.advice_bar,
            self.info,
            self.filter_bar,
            self.status,
        )

    def on_mount(self) -> None:
        if self._restored_theme in self.available_themes:
            self.theme = self._restored_theme
        self.theme_changed_signal.subscribe(self, lambda _theme: self._remember())
        self.table.graph = self.graph
        self.table.empty_text = "Reading logs…"
        self.table.focus()
        self.status.set_status("reading logs…", "busy")
        self._index()
        self._analysis_thread.start()
        self.set_interval(TICK, self._tick)

    # --- the live package: the index thread, the watcher, the analysis --------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def _index(self) -> None:
        worker = get_current_worker()
        self.indexer.run(live=self.live, cancelled=lambda: worker.is_cancelled)

    @property
    def watch_state(self) -> str:
        """How the logs are followed: off (--no-watch), starting, live, or polling (and why)."""
        return self.watcher.state if self.live else "off"

    def _load_advice_settings(self) -> AdviceSettings:
        """The advice thresholds of the config file, read once (by the analysis or an export)."""
        with self._settings_lock:
            if self._advice_settings is None:
                try:
                    self._advice_settings = config.load_settings().advice_settings()
                except config.ConfigError as error:  # the file changed since the start
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
        if event.snapshot.complete:  # once the tree is drawn: analysing holds up the UI
            snapshot = event.snapshot
            self.call_after_refresh(
                self.analyser.submit, snapshot.tree, snapshot.generation, snapshot.served
            )

    def _drawn(self) -> None:
        self._drawing = False

    # --- the view: the snapshot's tree grouped and filtered -----------------------------------

    def _regroup(self, *, keep_screen_row: bool) -> None:
        """The view of the snapshot as grouped and filtered now: at once when it is the served
        tree itself or its days grouped again; else summed by the index, off the UI thread."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        served = snapshot.served
        if served is None or (self.grouping not in GROUP_KIND and not self.needle):
            if served is None:
                shown = ViewTree(snapshot.tree, {}, self.workspace.calendar)
            else:
                shown = view_tree(served, self.grouping)
            self._view_ready(shown, snapshot.generation, keep_screen_row)
            return
        self.status.set_status(f"{self._view_doing()}…", "busy")
        self._build_view(snapshot.generation, keep_screen_row)

    def _view_doing(self) -> str:
        doing = [f"grouping by {self.grouping.value}"] if self.grouping in GROUP_KIND else []
        return " and ".join([*doing, *([f"filtering “{self.needle}”"] if self.needle else [])])

    @work(thread=True, exclusive=True, exit_on_error=False, group="view")
    def _build_view(self, generation: int, keep_screen_row: bool) -> None:
        snapshot, grouping, needle = self.snapshot, self.grouping, self.needle
        assert snapshot is not None and snapshot.served is not None
        shown = view_tree(snapshot.served, grouping, needle)
        if not get_current_worker().is_cancelled:
            self.post_message(ViewBuilt(shown, generation, keep_screen_row))

    @on(ViewBuilt)
    def _view_built(self, message: ViewBuilt) -> None:
        view = message.view
        if (view.grouping, view.needle) == (self.grouping, self.needle):  # not a stale one
            self._view_ready(view, message.generation, message.keep_screen_row)
            if self.snapshot is not None and self.snapshot.complete:
                self._show_status(self.snapshot)

    def _view_ready(self, view: ViewTree, generation: int, keep_screen_row: bool) -> None:
        self.view = view
        self._views += 1
        self.attribution = Attribution(view.root, view.activity)
        current = self.table.current
        self._show(select=current.key if current else None, keep_screen_row=keep_screen_row)

    def action_cycle_grouping(self) -> None:
        """b: the top level by week, month, day, project, model, source, and around."""
        self.grouping = self.grouping.next()
        self.path = ()
        self._regroup(keep_screen_row=False)
        self._remember()

    def _advice_path(self, chain: list[Node]) -> str | None:
        """Where the advice about the chain's last node is kept; None where none applies."""
        return self.view.advice_path(chain) if self.view is not None else None

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

    # --- showing the current node ----------------------------------------------------------

    def _chain(self) -> list[Node]:
        if self.view is None:
            return []
        chain, self.path = resolve(self.view.root, self.path)
        return chain

    def _show(self, select: str | None, *, keep_screen_row: bool) -> None:
        """Redraw the list for `self.path` with the cursor on `select` when it is still there."""
        self._drawing = True  # until it is on screen, the analysis waits (see _drawn)
        self.call_after_refresh(self._drawn)
        chain = self._chain()
        if not chain:
            return
        node = chain[-1]
        shown = listing(node, self.sort, self.bar_metric)
        self.table.empty_text = self._empty_text(shown.node)
        select = select or self.remembered.get(self.path)
        decor = self._decor(shown)
        self.table.show(shown, select, keep_screen_row=keep_screen_row, decor=decor)
        self._show_advice(shown)
        self.path_bar.show(chain)

    def _empty_text(self, node: Node) -> str:
        if self.needle:
            return f"Nothing here matches “{self.needle}” (Esc clears the filter)."
        if self.snapshot is not None and not self.snapshot.complete:
            return "Reading logs…"
        if node.kind is Kind.ALL:
            return (
                "No Claude Code, Codex, Gemini CLI or OpenCode usage found. "
                "Try: tokentree --demo, or tokentree PATH"
            )
        return "Nothing below this node."

    # --- activity and advice ------------------------------------------------------------------

    def _decor(self, shown: Listing) -> Decor:
        """The Mix column (the snapshot's activity, at once) and the advice marks of a list
        (from the newest analysis, matched by path)."""
        attribution = self.attribution
        if attribution is None:
            return Decor(pending=True)
        order = mix_order(attribution[shown.node].classes())

        def mix_of(row: Node) -> str:
            return mix(attribution[row], order)

        analysis, path = self.analysis, self._advice_path(self._chain())
        marks = analysis.advice.marks_at(shown.node, path) if analysis and path is not None else {}
        return Decor(order, mix_of, marks)

    def _decorate(self, shown: Listing) -> None:
        self.table.decorate(self._decor(shown))
        self._show_advice(shown)

    def _show_advice(self, shown: Listing | None) -> None:
        """The block under the list: advice about the node whose children are listed.

        Not while the info panel is open: it explains the row, and the list needs the room.
        """
        if shown is None or self.info.display:
            self.advice_bar.show(None, ())
            return
        analysis, path = self.analysis, self._advice_path(self._chain())
        items = analysis.advice.for_path(path) if analysis and path is not None else []
        self.advice_bar.show(shown.node, items)

    def action_overview(self) -> None:
        self.push_screen(OverviewScreen(self.analysis.overview if self.analysis else None))

    @on(UsageTable.Highlighted)
    def _highlighted(self, message: UsageTable.Highlighted) -> None:
        if message.listing is not self.table.listing:
            return  # the list changed since (a key pressed fast, a refresh)
        if message.node is not None:
            self.remembered[self.path] = message.node.key
        if self.info.display:
            self._show_info()

    @on(UsageTable.Opened)
    def _opened(self, message: UsageTable.Opened) -> None:
        if not message.node.children:
            self.action_toggle_info(show=True)
            return
        self.remembered[self.path] = message.node.key
        self.path = (*self.path, message.node.key)
        self._show(select=None, keep_screen_row=False)

    @on(UsageTable.BackRequested)
    def _back(self) -> None:
        if not self.path:
            return
        came_from = self.path[-1]
        self.path = self.path[:-1]
        self._show(select=came_from, keep_screen_row=False)

    # --- keys -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """View keys act on the list only, not under a dialog."""
        return not (action in VIEW_ACTIONS and isinstance(self.screen, ModalScreen))

    def _reshow(self) -> None:
        current = self.table.current
        self._show(select=current.key if current else None, keep_screen_row=False)

    def _remember(self) -> None:
        """Keep the view's choices for the next run (a file in the state dir)."""
        state = ViewState(self.sorts, self.bar_metric, self.graph, self.theme, self.grouping)
        save_state(state.to_saved())

    @property
    def sort(self) -> Sort:
        """The sort of the list on screen: the last chosen for its kind of rows."""
        chain = self._chain()
        kind = child_kind(chain[-1]) if chain else Kind.WEEK
        return self.sorts.get(kind) or default_sort(kind)

    def action_sort(self, key: str) -> None:
        chain = self._chain()
        kind = child_kind(chain[-1]) if chain else Kind.WEEK
        self.sorts[kind] = self.sort.pressed(SortKey(key))
        self._reshow()
        self._remember()

    @on(UsageTable.HeaderClicked)
    def _header_clicked(self, message: UsageTable.HeaderClicked) -> None:
        self.action_sort(message.key.value)

    @on(PathBar.CrumbClicked)
    def _crumb_clicked(self, message: PathBar.CrumbClicked) -> None:
        """Up to the clicked breadcrumb, the cursor on the way we came down."""
        if message.depth < len(self.path):
            came_from = self.path[message.depth]
            self.path = self.path[: message.depth]
            self._show(select=came_from, keep_screen_row=False)

    def action_toggle_metric(self) -> None:
        self.bar_metric = BarMetric.TOKENS if self.bar_metric is BarMetric.COST else BarMetric.COST
        self._reshow()
        self._remember()

    def action_cycle_graph(self) -> None:
        self.graph = GRAPH_CYCLE[(GRAPH_CYCLE.index(self.graph) + 1) % len(GRAPH_CYCLE)]
        self.table.graph = self.graph
        self._remember()

    def action_graph_or_first(self) -> None:
        """vim's gg (first row) when a second g follows within GG_WINDOW; a lone g, once that
        has passed, cycles the graph as ncdu's g does."""
        if self._pending_g is not None:
            self._pending_g.stop()
            self._pending_g = None
            self.table.action_jump(0)
            return
        self._pending_g = self.set_timer(GG_WINDOW, self._lone_g)

    def _lone_g(self) -> None:
        self._pending_g = None
        self.action_cycle_graph()

    def action_last(self) -> None:
        self.table.action_jump(-1)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.thresholds))

    def action_escape(self) -> None:
        if self.info.display:
            self.action_toggle_info(show=False)
        elif self.needle:
            self._set_filter("")

    # --- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        bar = self.filter_bar
        bar.value = self.needle
        bar.display = True
        bar.focus()

    @on(FilterBar.Changed, "#filter")
    def _filter_typed(self, message: FilterBar.Changed) -> None:
        """Applied once typing pauses: each filter sums the calls it matches again."""
        if self.filter_bar.display:
            if self._typing is not None:
                self._typing.stop()
            self._typing = self.set_timer(FILTER_PAUSE, partial(self._set_filter, message.value))

    @on(FilterBar.Submitted, "#filter")
    def _filter_kept(self, message: FilterBar.Submitted) -> None:
        self._set_filter(message.value)
        self.filter_bar.display = False
        self.table.focus()

    @on(FilterBar.Cancelled)
    def _filter_cleared(self) -> None:
        self.filter_bar.display = False
        self._set_filter("")
        self.table.focus()

    def _set_filter(self, needle: str) -> None:
        """The whole view narrowed to the calls `needle` matches, totals summed again; the
        breadcrumbs show it until it is cleared."""
        if self._typing is not None:
            self._typing.stop()
            self._typing = None
        needle = needle.strip()
        if needle != self.needle:
            self.needle = needle
            self._regroup(keep_screen_row=False)

    # --- info panel -------------------------------------------------------------------------------

    def _selected(self) -> tuple[Node, list[Node]] | None:
        """The row under the cursor (or the current node if the list is empty), and its parents."""
        chain = self._chain()
        if not chain:
            return None
        current = self.table.current
        return (current, chain) if current is not None else (chain[-1], chain[:-1])

    def action_toggle_info(self, show: bool | None = None) -> None:
        info = self.info
        info.display = not info.display if show is None else show
        if info.display:
            self._show_info()
        self._show_advice(self.table.listing)

    def action_scroll_info(self, lines: int) -> None:
        """The panel keeps no focus (the list has it): these keys scroll it from the list."""
        if self.info.display:
            self.info.scroll_relative(y=lines * 3, animate=False)

    def _show_info(self) -> None:
        selected = self._selected()
        if selected is None or self.snapshot is None:
            return
        node, parents = selected
        key = (self._views, (*[n.key for n in parents[1:]], node.key))
        found = self._breakdowns.get(key)
        analysis, path = self.analysis, self._advice_path([*parents, node])
        self.info.show(
            node,
            parents,
            found,
            self.snapshot.rate_limits,
            activity=self.attribution[node] if self.attribution else None,
            advice=analysis.advice.about_row(path) if analysis and path is not None else (),
            analysing=analysis is None,
        )
        if found is None:
            self._price(node, key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="info")
    def _price(self, node: Node, key: tuple[int, Path_]) -> None:
        """Price the calls below `node` kind by kind, off the UI thread (big nodes take time)."""
        with self._prices_lock:
            if self._prices is None:
                self._prices = PriceBook(config.load_settings().user_prices())
        found = breakdown(node, self._prices, self._load_advice_settings().model_choice)
        if not get_current_worker().is_cancelled:
            self.post_message(BreakdownPriced(key, found))

    @on(BreakdownPriced)
    def _priced(self, message: BreakdownPriced) -> None:
        if len(self._breakdowns) >= BREAKDOWN_CACHE:
            self._breakdowns.pop(next(iter(self._breakdowns)))
        self._breakdowns[message.key] = message.breakdown
        if self.info.display:
            self._show_info()

    # --- handoff ----------------------------------------------------------------------------------

    def action_handoff(self) -> None:
        """The selected session's handoff prompt to the clipboard (OSC 52, where the terminal
        takes it); `tokentree handoff` writes it to a file."""
        selected = self._selected()
        if selected is None or selected[0].kind is not Kind.SESSION:
            self.notify("A handoff is of a session: select one first.", severity="warning")
            return
        node, parents = selected
        path = self._advice_path([*parents, node])
        advice = self.analysis.advice.for_path(path) if self.analysis and path is not None else ()
        text = handoff_text(node, calls_below(node), advice, self.workspace.calendar.zone)
        self.copy_to_clipboard(text)
        self.notify(
            f"Handoff of {crumb(node)} copied ({text.count(chr(10))} lines);"
            f" `tokentree handoff {node.session_id[:8]}` writes it to a file.",
            title="handoff",
        )

    # --- export -----------------------------------------------------------------------------------

    def action_export(self) -> None:
        selected = self._selected()
        if selected is None or not selected[0].totals.calls:
            self.notify("Nothing to export here yet.", severity="warning")
            return
        node, parents = selected
        chain = [*parents, node]
        node_path = "/".join(n.key for n in chain[1:])
        summary = " › ".join(crumb(n) for n in chain) + "\n" + totals_text(node)
        self.push_screen(
            ExportScreen(summary, export_name(chain), partial(self._write_export, node, node_path))
        )

    @work(thread=True, exit_on_error=False, group="export")
    def _write_export(self, node: Node, node_path: str, request: ExportRequest) -> None:
        try:
            chunks = export_chunks(
                node,
                node_path,
                self.workspace.zone_name,
                prices=self.workspace.index.prices,
                advice_settings=self._load_advice_settings(),
            )
            target = os.path.expanduser(request.target)
            written = write_export(chunks, target, overwrite=request.overwrite)
        except ExportError as error:
            self.post_message(ExportFinished(request.target, 0, str(error)))
        except Exception as error:  # reported in the app, never lost in a worker
            self.post_message(ExportFinished(request.target, 0, f"{type(error).__name__}: {error}"))
        else:
            self.post_message(ExportFinished(request.target, written, ""))

    @on(ExportFinished)
    def _exported(self, message: ExportFinished) -> None:
        """Said in the export dialog; a toast only if it was closed while writing."""
        dialog = self.screen if isinstance(self.screen, ExportScreen) else None
        if message.error:
            if dialog is not None:
                dialog.failed(message.error)
            else:
                self.notify(message.error, title="Export failed", severity="error")
            return
        if dialog is not None:
            dialog.dismiss(None)
        self.last_export = Path(message.target).expanduser()
        size = f"{message.size / 1024:,.0f} KB" if message.size >= 1024 else f"{message.size} B"
        self.notify(f"✓ wrote {message.target} ({size}, schema tokentree.export/1)")


# --- the entry point the CLI uses ---------------------------------------------------------------


def describe_roots(
    choices: Choices, workspace: Workspace, env: Mapping[str, str] | None = None
) -> str:
    """What the header says is being read: short, with ~ for the home directory."""
    if choices.demo:
        start = datetime.fromtimestamp(DEMO_NOW, UTC)
        return f"demo: bundled sample logs · clock at {start:%a} {start.day} {start:%b %H:%M} UTC"
    env = os.environ if env is None else env
    home = env.get("HOME", "")
    shown = [str(root.path) for root in workspace.roots]
    if not choices.paths:
        shown = [path for path in shown if Path(path).exists()] or shown
    if home:
        shown = ["~" + path[len(home) :] if path.startswith(home + "/") else path for path in shown]
    return " · ".join(dict.fromkeys(shown))


def create_app(
    choices: Choices,
    env: Mapping[str, str] | None = None,
    *,
    live: bool = True,
    clock: Callable[[], float] | None = None,
    by: str | None = None,
) -> TokenTreeApp:
    """The app for these choices; raises UsageError (before any screen) for bad ones. Its
    clock is the real one, or the demo's."""
    workspace = prepare_workspace(choices, env)
    return TokenTreeApp(
        workspace,
        describe_roots(choices, workspace, env),
        live=live,
        clock=clock or (demo_clock() if choices.demo else time.time),
        thresholds=workspace.settings.context_thresholds(),
        alert_command=workspace.settings.alert_command,
        grouping=Grouping(by) if by else None,
    )


def run(
    choices: Choices, *, live: bool = True, headless: bool = False, by: str | None = None
) -> int:
    """Run the interactive view; a crash is re-raised here for the CLI's one-line report."""
    app = create_app(choices, live=live, by=by)
    app.report_crash_in_cli = True
    app.run(headless=headless)
    if app.crash is not None:
        raise app.crash
    return app.return_code or 0
