"""TokenTreeApp: ncdu for AI coding spend, over snapshots the indexer thread posts.

The app owns the view state (where we are, sort, filter, cursor memory) and
never reads logs or the index itself: the live package does, without Textual. A
thread worker runs its indexer, an async worker its watcher (which tells the
indexer when a log changed or a missing root appeared), and a thread of its own
its analyser (each tree's activity and advice, after the tree is shown); they
report plain events, which the app receives wrapped in one message (`Posted`).
Thread workers price the info panel and write exports. A one-second timer
redraws the live line (today, the 5-hour block, busy sessions) from the last
snapshot and the clock. The app is in parts: live_feed.py handles the live
package's events, grouped_view.py makes the view's tree (grouped, filtered),
node_actions.py acts on the selected row (info panel, handoff, export).
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

from tokentree.app.grouped_view import GroupedView
from tokentree.app.live_feed import LiveFeed
from tokentree.app.node_actions import NodeActions
from tokentree.app.palette import ViewCommands
from tokentree.app.screens.help import HelpScreen
from tokentree.app.screens.overview import OverviewScreen
from tokentree.app.theme import extra_variables
from tokentree.app.widgets.advice_bar import AdviceBar
from tokentree.app.widgets.bars import PathBar, StatusBar
from tokentree.app.widgets.filter_bar import FilterBar
from tokentree.app.widgets.info_panel import InfoPanel
from tokentree.app.widgets.table_layout import Decor
from tokentree.app.widgets.usage_table import UsageTable
from tokentree.core.advice import AdviceSettings
from tokentree.core.analysis import Analysis
from tokentree.core.attribution import Attribution, mix
from tokentree.core.breakdown import Breakdown
from tokentree.core.grouping import ViewTree
from tokentree.core.live import DEFAULT_THRESHOLDS, Thresholds
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
    listing,
    mix_order,
    resolve,
)
from tokentree.live.analyser import Analyser
from tokentree.live.indexer import Indexer
from tokentree.live.ledger_timer import LedgerTimer
from tokentree.live.snapshot import Snapshot
from tokentree.live.watcher import Watcher
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
TICK = 1.0  # seconds between redraws of the live line
FILTER_PAUSE = 0.3  # seconds of no typing before the filter is applied (it sums every call)
SLOW_TO_OPEN = frozenset((Kind.PROJECT,))
"""Nodes whose children are read off the UI thread: a project's sessions are built from all
its calls (seconds on a heavy year); a day's are few."""
GG_WINDOW = 0.4  # seconds: a second g within this jumps to the first row, else g cycles the graph


class TokenTreeApp(LiveFeed, GroupedView, NodeActions, App[int]):
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
        Binding("w", "sort('waste')", "sort by cache waste", show=False),
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
        self.ledger_timer: LedgerTimer | None = None  # config `share_ledger`: see live_feed.py
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
        reading = node.kind in SLOW_TO_OPEN and not node.loaded
        if reading:  # a project's sessions: read apart, shown when they are in
            self._open_apart(node, select, keep_screen_row)
            node = Node(node.kind, node.key, node.label, node.start, node.end, node.totals)
        shown = listing(node, self.sort, self.bar_metric)
        self.table.empty_text = "Reading…" if reading else self._empty_text(shown.node)
        select = select or self.remembered.get(self.path)
        decor = self._decor(shown)
        self.table.show(shown, select, keep_screen_row=keep_screen_row, decor=decor)
        self._show_advice(shown)
        self.path_bar.show(chain)

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open_apart(self, node: Node, select: str | None, keep_screen_row: bool) -> None:
        """Read what a slow node holds off the UI thread (a project's sessions are built from
        all its calls: seconds on a heavy year); the list is drawn again when it is in."""
        node.children  # noqa: B018 - reading them is the point
        self.call_from_thread(self._opened_apart, node, select, keep_screen_row)

    def _opened_apart(self, node: Node, select: str | None, keep_screen_row: bool) -> None:
        chain = self._chain()
        if chain and chain[-1] is node:  # still where the user is
            self._show(select, keep_screen_row=keep_screen_row)

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
        """The overview of the view's calls (a filter's alone), led by its grouping."""
        whole = self.analysis.overview if self.analysis else None
        self.push_screen(OverviewScreen(whole, self.view, self.workspace.calendar.week_start))

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
        if message.node.loaded and not message.node.children:
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

    def _listed_kind(self) -> Kind:
        """The kind of the rows on screen: what a sort is remembered for."""
        chain = self._chain()
        return child_kind(chain[-1]) if chain else Kind.WEEK

    @property
    def sort(self) -> Sort:
        """The sort of the list on screen: the last chosen for its kind of rows."""
        kind = self._listed_kind()
        return self.sorts.get(kind) or default_sort(kind)

    def action_sort(self, key: str) -> None:
        self.sorts[self._listed_kind()] = self.sort.pressed(SortKey(key))
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
        """The filter bar, focused at once: what is typed right after / (fast, or pasted) is
        the filter's, never a view key (focus() would wait for the next loop)."""
        bar = self.filter_bar
        bar.value = self.needle
        bar.display = True
        self.screen.set_focus(bar)

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
    """Run the interactive view for these choices (see run_app)."""
    return run_app(create_app(choices, live=live, by=by), headless=headless)


def run_app(app: TokenTreeApp, *, headless: bool = False) -> int:
    """Run `app` until quit; a crash is re-raised here for the CLI's one-line report."""
    app.report_crash_in_cli = True
    app.run(headless=headless)
    if app.crash is not None:
        raise app.crash
    return app.return_code or 0
