"""Activity and advice in the view: the Mix column, row marks, the advice block, the info panel,
the overview and help; and the analysis thread that computes them after each tree."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from tests.app.conftest import (
    SESSION,
    SIZE,
    events,
    make_app,
    open_key,
    overview_text,
    ready,
    settle,
    text_of,
)
from tokentree.app.screens.help import help_text
from tokentree.app.screens.overview import OverviewScreen
from tokentree.app.widgets.table_layout import fit_mark
from tokentree.app.widgets.usage_table import UsageTable
from tokentree.core.advice import RULES, AdviceSettings
from tokentree.core.attribution import CLASSES, mix
from tokentree.core.overview import SOURCE_NAMES
from tokentree.core.tree import Kind, Node
from tokentree.core.view import MIX_LETTERS, SOURCE_BADGE, Sort, mix_heading
from tokentree.live import analyser as analyser_module
from tokentree.live.analyser import Analyser
from tokentree.live.events import AnalysisFailed, TreeAnalysed, TreeUpdated


def row_text(app, key: str) -> str:
    index = app.table.listing.index_of(key)
    assert index is not None, key
    app.table.move_to(index)
    return app.table.render_line(index - round(app.table.scroll_y) + 1).text


def test_a_mark_cut_to_its_cells_keeps_its_saving_and_counts_the_marks_it_drops() -> None:
    both = "◆ context compounding ≈ $7.71 · ◆ cache rebuilt after idle ≈ $2.14"
    assert fit_mark(both, 80).rstrip() == both
    assert fit_mark(both, 30) == "◆ context compound… ≈ $7.71 +1"
    assert fit_mark("◆ context compounding ≈ $7.71", 20) == "◆ context c… ≈ $7.71"
    assert fit_mark("◆ split here: context 120 k · ▲ 44% in one session", 25) == (
        "◆ split here: context… +1"
    )


async def test_rows_carry_their_activity_mix_and_advice_marks(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        analysis = app.analysis
        root = app.snapshot.tree
        order = app.table.decor.order
        assert order and set(order) <= set(CLASSES)
        assert mix_heading(order) in app.table.render_line(0).text  # the letters head the column
        week = root.child("2026-W47")
        assert mix(analysis.attribution[week], order) in row_text(app, "2026-W47")

        await open_key(app, pilot, "2026-W47")
        await open_key(app, pilot, "2026-11-18")
        [advice] = analysis.advice.for_path(f"2026-W47/2026-11-18/{SESSION}")
        assert advice.rule == "cache_rebuilt" and advice.saving_usd > 0.05
        text = row_text(app, SESSION)  # the label whole; the mark cut, keeping its saving
        assert "atlas · 09:00–09:25 · opus-4.5   ◆ cache rebuil… ≈ $" in text
        assert text.endswith(f"≈ ${advice.saving_usd:,.2f}")
        assert not app.advice_bar.display  # the day itself has no advice

        await pilot.press("enter")  # the session: its turns, the rebuilt one marked
        assert "◆ cache rebuilt after 24 min idle" in row_text(app, "2")
        assert "cache rebuilt" not in row_text(app, "1")
        bar = app.advice_bar
        assert bar.display and "advice for this session" in bar.border_title
        assert "idle gap" in str(bar.render()) and bar.items == [advice]
        await pilot.press("i")  # the info panel on a turn: the list keeps the room
        assert app.info.display and not bar.display
        await pilot.press("escape")
        assert not app.info.display and bar.display

        await pilot.press("left", "i")  # back on the session row: the panel explains it
        await settle(app)
        text = text_of(app.info.content)
        assert "activity" in text and "r reading" in text and "e editing" in text
        assert "Cache rebuilt after idle" in text and f"≈ ${advice.saving_usd:,.2f} saved" in text
        assert "formula: Σ over 1 rebuild" in text
        assert "context     █████" in text  # the prompt of each call: no growth, no reset
        assert "peak 52.03 k · last 52.01 k · 5 main-thread calls" in text


async def test_a_call_shows_its_activity_and_the_context_it_carried(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        for key in ("2026-W47", "2026-11-18", SESSION, "2"):
            await open_key(app, pilot, key)
        calls = sorted(app.table.rows, key=lambda node: node.start)
        app.table.move_to(app.table.rows.index(calls[-1]))  # read 52,000 of 52,010 from cache
        await pilot.press("i")
        await settle(app)
        text = text_of(app.info.content)
        assert "activity         editing" in text
        assert "context carried  52,000 tok (100% of the prompt)" in text
        assert "new material     10 tok" in text


async def test_the_tree_never_waits_for_its_analysis(usage_logs, monkeypatch) -> None:
    """Until the analysis is in, the info panel and the overview say it is coming; the Mix
    column is served with the tree."""
    release = threading.Event()
    threads: list[threading.Thread] = []
    real = analyser_module.analyse_served

    def slow(*args, **options):
        threads.append(threading.current_thread())
        release.wait(10)
        return real(*args, **options)

    monkeypatch.setattr(analyser_module, "analyse_served", slow)
    seen: list[object] = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        while app.snapshot is None or not app.snapshot.complete:
            await pilot.pause(0.01)
        await settle(app)
        assert app.analysis is None and not app.table.decor.pending
        assert app.table.decor.mix(app.snapshot.tree.children[0]).strip()
        assert mix_heading(app.table.decor.order) in app.table.render_line(0).text
        await pilot.press("i")
        assert "activity" in text_of(app.info.content)  # served with the tree too
        await pilot.press("o")
        assert isinstance(app.screen, OverviewScreen)
        assert app.screen.waiting.display and not app.screen.parts[0].lines(80)
        release.set()
        await ready(app)
        assert "Weekly trend" in overview_text(app.screen)  # the open overview follows
        await pilot.press("o")
        assert not isinstance(app.screen, OverviewScreen)
        assert not app.table.decor.pending and "activity" in text_of(app.info.content)
    assert threads and threading.main_thread() not in threads
    order = [type(e) for e in events(seen) if isinstance(e, TreeUpdated | TreeAnalysed)]
    assert order.index(TreeAnalysed) > order.index(TreeUpdated)
    [analysed] = [e.analysis for e in events(seen) if isinstance(e, TreeAnalysed)]
    assert analysed.tree is app.snapshot.tree


async def test_the_overview_opens_scrolls_and_closes(advice_logs) -> None:
    app = make_app()
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(app)
        await pilot.press("o")
        await settle(app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        text = overview_text(screen)
        assert "Overview  2026-11-11 – 2026-11-20" in text and "2026-W47" in text
        assert "sources\n  Claude Code" in text and "Codex" in text
        assert "1. ≈ $" in text and "Cache rebuilt after idle" in text and "formula:" in text
        width = screen.parts[0].size.width  # the box less its border, padding and scrollbar
        assert max(len(line) for line in text.splitlines()) <= width <= 100 - 6
        await pilot.press("end")
        assert screen.scroller.scroll_y > 0  # longer than the screen: it scrolls
        await pilot.press("n")  # view keys wait under it
        assert app.sort == Sort()  # as the tests start (biggest_first): n waited under it
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


def test_the_overview_screen(snap_compare, advice_logs) -> None:
    async def run_before(pilot) -> None:
        await ready(pilot.app)
        await pilot.press("o")
        await settle(pilot.app)

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=run_before)


def test_help_names_every_source_activity_class_and_advice_rule() -> None:
    text = text_of(help_text(), width=400)
    for badge, _ in SOURCE_BADGE.values():
        assert badge in text
    for name in SOURCE_NAMES.values():
        assert name in text
    for name in CLASSES:
        assert f"{MIX_LETTERS[name]}  {name}" in text
    for rule in RULES.values():
        assert rule.title in text and f"[advice.{rule.id}]" in text
    assert "claude / codex" not in text


def test_every_source_badge_has_its_own_colour() -> None:
    colours = [colour for _, colour in SOURCE_BADGE.values()]
    assert len(set(colours)) == len(SOURCE_BADGE)
    assert all(f"usage-table--badge-{c}" in UsageTable.COMPONENT_CLASSES for c in colours)
    assert all(
        f".usage-table--badge-{c} {{ color: $text-{c}; }}" in UsageTable.DEFAULT_CSS
        for c in colours
    )


# --- the analysis thread on its own -------------------------------------------------------------


def _tree(number: int) -> Node:
    return Node(Kind.ALL, "", f"tree {number}", 0.0, 0.0)


def _analyser(monkeypatch, posted: list[object], fail: bool = False) -> Analyser:
    def fake(tree, prices, settings, week_start, generation=0, served=None, digests=None):
        if fail:
            raise ValueError("a rule broke")
        return SimpleNamespace(tree=tree, generation=generation)

    monkeypatch.setattr(analyser_module, "analyse", fake)
    return Analyser(None, AdviceSettings, 0, posted.append, settle=0.1)  # type: ignore[arg-type]


def _wait(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_the_analyser_takes_the_newest_tree_and_skips_trees_it_has_seen(monkeypatch) -> None:
    posted: list[object] = []
    analyser = _analyser(monkeypatch, posted)
    thread = threading.Thread(target=analyser.run)
    thread.start()
    try:
        first = _tree(1)
        analyser.submit(first, 1)  # the first tree: at once
        _wait(lambda: len(posted) == 1)
        for number in (2, 3, 4):  # a busy session: three refreshes in a row
            analyser.submit(_tree(number), number)
        _wait(lambda: analyser.analysed == 2)
        newest = posted[-1].analysis.tree
        analyser.submit(newest, 5)  # the same tree again (only the status line changed)
        time.sleep(0.3)
    finally:
        analyser.stop()
        thread.join(2)
    assert not thread.is_alive()
    assert [message.analysis.generation for message in posted] == [1, 4]
    assert analyser.analysed == 2


def test_the_analyser_waits_for_the_indexer_to_finish_reading(monkeypatch) -> None:
    """Running alongside a refresh would delay it: the two share the interpreter's lock."""
    posted: list[object] = []
    analyser = _analyser(monkeypatch, posted)
    reading = threading.Event()
    reading.set()
    analyser.busy = reading.is_set
    thread = threading.Thread(target=analyser.run)
    thread.start()
    try:
        analyser.submit(_tree(1), 1)
        time.sleep(0.3)
        assert not posted
        reading.clear()
        _wait(lambda: posted)
    finally:
        analyser.stop()
        thread.join(2)
    assert [message.analysis.generation for message in posted] == [1]


def test_a_failed_analysis_is_posted_not_raised(monkeypatch) -> None:
    posted: list[object] = []
    analyser = _analyser(monkeypatch, posted, fail=True)
    thread = threading.Thread(target=analyser.run)
    thread.start()
    try:
        analyser.submit(_tree(1), 1)
        _wait(lambda: posted)
    finally:
        analyser.stop()
        thread.join(2)
    [message] = posted
    assert isinstance(message, AnalysisFailed) and "ValueError: a rule broke" in message.error
