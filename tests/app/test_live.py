"""Following the logs while the assistants write them: the watcher, the regrown tree, the live line.

The tests that watch real files append to logs in the tmp HOME while the app
runs, and wait for a refresh that started after the change rather than for
fixed times.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from tests.app.conftest import OPUS, SIZE, SONNET, Terminal, analysed, at, events, ready, settle
from tests.builders import (
    OpenCodeStore,
    append,
    claude_call,
    claude_prompt,
    codex_context,
    codex_meta,
    codex_prompt,
    codex_tokens,
    jsonl,
    opencode_usage,
    write,
)
from tokentree import format as fmt
from tokentree.app import app as app_module
from tokentree.app import live_feed
from tokentree.app.app import TokenTreeApp, create_app
from tokentree.app.widgets.live_line import fit_pieces
from tokentree.cli import main
from tokentree.config import Settings
from tokentree.core.budgets import Budget
from tokentree.core.live import Thresholds
from tokentree.core.sources import Root
from tokentree.core.tree import Kind, Node
from tokentree.core.view import flag_glyphs
from tokentree.live import watcher as watcher_module
from tokentree.live.events import TreeAnalysed, TreeUpdated
from tokentree.live.tree import LiveTree
from tokentree.live.watching import plan_watch, polling_requested
from tokentree.workspace import Choices, Workspace, prepare_workspace

WEB = "cccc3333-0000-4000-8000-000000000003"  # the fixture's 17 Nov 21:10 session, in W47
LIVE_NOW = at(24, 11, 20)  # a Tuesday: two Claude Code sessions running, Codex an hour ago
ATLAS = "aaaa0000-0000-4000-8000-00000000000a"
SHOP = "bbbb0000-0000-4000-8000-00000000000b"


def web_log(home: Path) -> Path:
    return home / ".claude" / "projects" / "-home-dev-web" / f"{WEB}.jsonl"


def web_call(number: int, minute: int) -> bytes:
    """A complete line: one new API call in the web session on 17 Nov."""
    line = claude_call(
        f"msg_live_{number}",
        at(17, 21, minute),
        model=OPUS,
        input=100 * number,
        cache_read=12_000,
        output=500,
        session=WEB,
        cwd="/home/dev/web",
    )
    return orjson.dumps(line) + b"\n"


def live_app(clock: float | None = None, **choices: object) -> TokenTreeApp:
    """The app as bare `tokentree` builds it: watching the logs."""
    when = clock if clock is not None else at(17, 21, 40).timestamp()
    return create_app(
        Choices(timezone="UTC", **choices),  # type: ignore[arg-type]
        live=True,
        clock=lambda: when,
    )


async def watching(app: TokenTreeApp, watch: str = "logs", timeout: float = 10.0) -> None:
    """Wait until the first tree is shown and the watcher has its `watch` in place."""
    await ready(app)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while watch not in app.watcher.running:
        assert loop.time() < deadline, f"the watcher's {watch} watch did not start"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the watches are added as the task first awaits


def change(path: Path, data: bytes) -> float:
    """Append to a log; returns the moment, for `refreshed`."""
    moment = time.monotonic()
    append(path, data)
    return moment


async def refreshed(app: TokenTreeApp, since: float, timeout: float = 10.0) -> None:
    """Wait until a refresh that started after `since` (so read what was written) is done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.indexer.last_refresh <= since:
        assert loop.time() < deadline, "no refresh followed the change"
        await asyncio.sleep(0.02)
    await settle(app)


# --- appends, half-written lines, deletes ------------------------------------------------------


async def test_totals_change_exactly_once_each_appended_call_is_complete(usage_logs) -> None:
    seen: list[object] = []
    app = live_app()
    app.analyser.settle = 0.3  # not the default two seconds: a test has no time to spare
    async with app.run_test(size=SIZE, message_hook=seen.append):
        await watching(app)
        first = app.snapshot
        base = first.tree.totals.calls
        seen.clear()
        one, two, three = web_call(1, 30), web_call(2, 31), web_call(3, 32)
        steps = [one[:40], one[40:], two + three[:-30], three[-30:]]
        expected = [base, base + 1, base + 2, base + 3]  # after each step
        for data, calls in zip(steps, expected, strict=True):
            await refreshed(app, change(web_log(usage_logs), data))
            assert app.snapshot.tree.totals.calls == calls
        trees = [e.snapshot for e in events(seen) if isinstance(e, TreeUpdated)]
        # a half-written line posts nothing; each completed call posts one tree, once
        assert [t.tree.totals.calls for t in trees] == [base + 1, base + 2, base + 3]
        assert app.snapshot.tree.totals.cost > first.tree.totals.cost
        # the refresh regrew 17 Nov only: the week before is the very same node
        old_week, new_week = first.tree.child("2026-W46"), app.snapshot.tree.child("2026-W46")
        assert old_week is new_week and app.indexer.trees.full_builds == 1
        # activity and advice follow, once the logs are quiet: never more often than trees
        await analysed(app)
        analyses = [e.analysis for e in events(seen) if isinstance(e, TreeAnalysed)]
        assert 1 <= len(analyses) <= len(trees) and analyses[-1].tree is app.snapshot.tree
        web = app.snapshot.tree.find(f"2026-W47/2026-11-17/claude-code:{WEB}")
        assert app.analysis.attribution[web].classes()["conversation"][0] > 0  # the new calls


async def test_a_deleted_log_keeps_its_history(usage_logs) -> None:
    app = live_app()
    async with app.run_test(size=SIZE) as pilot:
        await watching(app)
        await pilot.press("enter", "enter", "j")  # W47 › 17 Nov: its sessions; cursor on web
        assert app.table.current.key == f"claude-code:{WEB}"
        before = app.snapshot
        generation = before.generation
        web_log(usage_logs).unlink()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while app.snapshot.generation == generation:
            assert loop.time() < deadline, "the delete was not noticed"
            await asyncio.sleep(0.02)
        await settle(app)
        tree = app.snapshot.tree
        assert tree.totals.calls == before.tree.totals.calls
        assert tree.totals.cost == pytest.approx(before.tree.totals.cost)
        session = tree.find(f"2026-W47/2026-11-17/claude-code:{WEB}")
        assert session is not None and session.totals.missing_calls == session.totals.calls == 2
        assert "1 log removed" in app.status.status
        assert app.path == ("2026-W47", "2026-11-17")  # the view stayed where it was
        assert app.table.current.key == f"claude-code:{WEB}"
        assert "⊘" in flag_glyphs(app.table.current.totals)


async def test_a_first_claude_code_run_is_noticed_from_the_parent_folder(isolated_home) -> None:
    app = live_app(clock=at(18, 9, 30).timestamp())
    async with app.run_test(size=SIZE):
        await ready(app)
        assert app.snapshot.tree.totals.calls == 0
        await watching(app, "folders")
        assert str(isolated_home) in app.watcher.plan.parents  # ~/.claude does not exist yet
        session = isolated_home / ".claude" / "projects" / "-home-dev-new" / "s.jsonl"
        write(
            session,
            claude_prompt(at(18, 9, 0)),
            claude_call("msg_first", at(18, 9, 1), model=SONNET, input=500, output=50),
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while app.snapshot.tree.totals.calls == 0:
            assert loop.time() < deadline, "the new root was not noticed"
            await asyncio.sleep(0.02)
        assert str(session.parent.parent) in app.watcher.plan.logs  # now watched itself
        line = jsonl(claude_call("msg_second", at(18, 9, 2), model=SONNET))
        await refreshed(app, change(session, line))
        assert app.snapshot.tree.totals.calls == 2


async def test_without_inotify_it_polls_and_says_so(usage_logs, monkeypatch) -> None:
    import watchfiles

    def awatch(*paths, **options):
        raise OSError("OS file watch limit reached.")

    monkeypatch.setattr(watchfiles, "awatch", awatch)
    monkeypatch.setattr(watcher_module, "POLL_SECONDS", 0.1)
    app = live_app()
    async with app.run_test(size=SIZE):
        await ready(app)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while app.watch_state != "polling":
            assert loop.time() < deadline, "no fallback to polling"
            await asyncio.sleep(0.02)
        assert "polling" in app.status.status and "watch limit" in app.status.status
        assert app.watcher.running == {"poll"}
        calls = app.snapshot.tree.totals.calls
        await refreshed(app, change(web_log(usage_logs), web_call(1, 30)))
        assert app.snapshot.tree.totals.calls == calls + 1


def test_opencode_is_watched_for_its_databases_not_its_project_snapshots(tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    (data / "snapshot" / "0a1b2c" / "objects").mkdir(parents=True)  # git stores of projects
    (data / "storage" / "message").mkdir(parents=True)
    root = Root(data, "opencode", discovered=True)
    plan = plan_watch([root], "")
    assert plan.flat == (str(data),) and plan.logs == (str(data / "storage" / "message"),)
    assert plan.flat_log(str(data / "opencode.db")) and plan.flat_log(str(data / "opencode.db-wal"))
    assert not plan.flat_log(str(data / "opencode.db-shm"))  # a reader changes it too
    assert not plan.flat_log(str(data / "snapshot" / "0a1b2c" / "opencode.db"))
    (data / "storage" / "message").rmdir()  # OpenCode 1.2 keeps its messages in the database
    plan = plan_watch([root], "")
    assert plan.logs == () and plan.parents == (str(data / "storage"),)
    assert plan.announces(str(data / "storage" / "message"))
    other = plan_watch([Root(data, None)], "")  # a folder named on the command line: all of it
    assert other.logs == (str(data),) and other.flat == ()


async def test_a_write_to_opencodes_database_is_noticed(isolated_home: Path) -> None:
    data = isolated_home / ".local" / "share" / "opencode"  # OPENCODE_DATA_DIR
    (data / "snapshot" / "0a1b2c").mkdir(parents=True)
    store = OpenCodeStore(data)
    store.session("ses_1", at(18, 9))
    store.user("msg_01", "ses_1", at(18, 9))
    store.assistant("msg_02", "ses_1", at(18, 9, 1), [opencode_usage(100, 50, read=1000)])
    app = live_app(clock=at(18, 9, 30).timestamp())
    try:
        async with app.run_test(size=SIZE):
            await ready(app)
            assert app.snapshot.tree.totals.calls == 1
            await watching(app, "folders")
            plan = app.watcher.plan
            assert str(data) in plan.flat and str(data) not in plan.logs
            moment = time.monotonic()
            store.assistant("msg_03", "ses_1", at(18, 9, 5), [opencode_usage(20, 30, read=1100)])
            await refreshed(app, moment)  # the write went to opencode.db-wal
            assert app.snapshot.tree.totals.calls == 2
            refreshes = -1
            while app.indexer.refreshes != refreshes:  # each row written may mark it once more
                refreshes = app.indexer.refreshes
                await asyncio.sleep(0.5)
            (data / "snapshot" / "0a1b2c" / "index").write_bytes(b"a project snapshot")
            await asyncio.sleep(0.6)  # the watcher groups changes for 0.3 s, then the refresh
            assert app.indexer.refreshes == refreshes, "a snapshot write refreshed the index"
    finally:
        store.close()


def test_roots_on_a_network_filesystem_are_polled(tmp_path: Path) -> None:
    mountinfo = (
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        f"80 27 0:50 / {tmp_path}/nfs rw,relatime - nfs4 server:/home rw\n"
    )
    (tmp_path / "nfs" / "projects").mkdir(parents=True)
    (tmp_path / "local").mkdir()
    local = plan_watch([tmp_path / "local"], mountinfo)
    assert local.network == "" and local.logs == (str(tmp_path / "local"),)
    remote = plan_watch([tmp_path / "nfs" / "projects", tmp_path / "nfs" / "gone"], mountinfo)
    assert remote.network == f"nfs4 at {tmp_path}/nfs"
    assert remote.parents == (str(tmp_path / "nfs"),) and remote.announces(str(tmp_path / "nfs"))
    assert polling_requested({"WATCHFILES_FORCE_POLLING": "1"})
    assert not polling_requested({"WATCHFILES_FORCE_POLLING": "false"})
    assert not polling_requested({})


def test_context_thresholds_come_from_the_settings() -> None:
    assert Settings().context_thresholds() == Thresholds()
    assert Settings(context_warn=50_000, context_high=90_000).context_thresholds() == Thresholds(
        50_000, 90_000
    )
    assert Settings(context_warn=50_000, context_high=9).context_thresholds() == Thresholds(
        50_000, 50_000
    )


def test_no_watch_opens_the_view_without_following_the_logs(monkeypatch, usage_logs) -> None:
    opened: list[bool] = []
    monkeypatch.setattr(app_module, "run", lambda choices, live, by: opened.append(live) or 0)
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main(["--no-watch"]) == 0 and main([]) == 0
    assert opened == [False, True]


async def test_no_watch_starts_no_watcher(usage_logs) -> None:
    app = create_app(Choices(timezone="UTC"), live=False)
    async with app.run_test(size=SIZE):
        await ready(app)
        await asyncio.sleep(0.1)
        assert not [w for w in app.workers if w.group.startswith("watch")]
        assert app.watch_state == "off" and "live" not in app.status.status


# --- the regrown tree on its own -----------------------------------------------------------------


def _same(a: Node, b: Node) -> None:
    assert (a.key, a.label, a.sessions, a.turns, a.totals.calls, a.totals.total) == (
        b.key,
        b.label,
        b.sessions,
        b.turns,
        b.totals.calls,
        b.totals.total,
    )
    assert a.totals.cost == pytest.approx(b.totals.cost)
    assert [c.key for c in a.children] == [c.key for c in b.children]
    if a.kind is not Kind.TURN:
        for x, y in zip(a.children, b.children, strict=True):
            _same(x, y)


def test_a_live_refresh_regrows_only_the_changed_days(usage_logs) -> None:
    workspace = prepare_workspace(Choices(timezone="UTC"))
    trees = LiveTree(workspace)
    workspace.refresh()
    first = trees.build()
    assert not _refreshed(workspace, trees)  # nothing changed

    append(web_log(usage_logs), web_call(1, 30)[:50])  # half a line: nothing to show
    assert not _refreshed(workspace, trees)

    append(web_log(usage_logs), web_call(1, 30)[50:] + web_call(2, 31))
    assert _refreshed(workspace, trees)
    _same(trees.tree, workspace.tree())
    unchanged = first.child("2026-W46")
    assert unchanged is not None and trees.full_builds == 1  # its days are shared, not served
    assert all(day is trees.tree.find(f"2026-W46/{day.key}") for day in unchanged.children)

    # a late line from an older day regrows from that day on, still without a full build
    late = claude_call("msg_late", at(11, 23, 50), session=WEB, cwd="/home/dev/web")
    append(web_log(usage_logs), jsonl(late))
    assert _refreshed(workspace, trees)
    _same(trees.tree, workspace.tree())
    assert trees.full_builds == 1

    web_log(usage_logs).unlink()  # a removed log: its calls get flagged
    assert _refreshed(workspace, trees)
    _same(trees.tree, workspace.tree())
    assert trees.full_builds == 1 and trees.tree.totals.missing_calls == 5  # from its first call
    workspace.index.close()


def _refreshed(workspace: Workspace, trees: LiveTree) -> bool:
    """A live refresh as the indexer thread makes one: read what changed, regrow the tree."""
    workspace.refresh()
    return trees.update()


# --- the live line --------------------------------------------------------------------------------


def write_live_logs(home: Path) -> None:
    """Tuesday 24 Nov, 11:20: atlas has a big context, shop a middling one; Codex ran at 10:00."""
    projects = home / ".claude" / "projects"
    write(
        projects / "-home-dev-atlas" / f"{ATLAS}.jsonl",
        claude_prompt(at(23, 15, 0), session=ATLAS),  # yesterday: the block before
        claude_call("msg_a0", at(23, 15, 1), session=ATLAS, model=OPUS, cache_write=30_000),
        claude_prompt(at(24, 9, 5), session=ATLAS),
        claude_call("msg_a1", at(24, 9, 10), session=ATLAS, model=OPUS, cache_write=40_000),
        claude_call(
            "msg_a2", at(24, 10, 45), session=ATLAS, model=OPUS, cache_read=120_000, output=900
        ),
        claude_call(
            "msg_a3",
            at(24, 11, 5),
            session=ATLAS,
            model=OPUS,
            cache_read=150_000,
            cache_write=20_000,
            output=2_000,
        ),
    )
    write(
        projects / "-home-dev-shop" / f"{SHOP}.jsonl",
        claude_prompt(at(24, 10, 50), session=SHOP, cwd="/home/dev/shop"),
        claude_call(
            "msg_b1", at(24, 10, 55), session=SHOP, cwd="/home/dev/shop", cache_write=60_000
        ),
        claude_call(
            "msg_b2",
            at(24, 11, 10),
            session=SHOP,
            cwd="/home/dev/shop",
            cache_read=60_000,
            cache_write=50_000,
            output=700,
        ),
    )
    limits = {
        "primary": {"used_percent": 63.0, "window_minutes": 300, "resets_at": 1795525200},
        "secondary": {"used_percent": 41.0, "window_minutes": 10080, "resets_at": 1795737600},
    }
    write(
        home / ".codex" / "sessions" / "2026" / "11" / "24" / "rollout-2026-11-24T10-00-00-d.jsonl",
        codex_meta("dddd0000-0000-4000-8000-00000000000d", at(24, 10)),
        codex_context(at(24, 10, 0, 5), model="gpt-5-codex"),
        codex_prompt(at(24, 10, 0, 10)),
        codex_tokens(at(24, 10, 1), (9000, 4000, 900, 300), rate_limits=limits),
    )


@pytest.fixture
def live_logs(isolated_home: Path) -> Path:
    write_live_logs(isolated_home)
    return isolated_home


def live_line(app: TokenTreeApp, width: int = 400) -> str:
    pieces = fit_pieces(app.path_bar.live, width)
    return "   ".join("".join(text for text, _ in piece.parts) for piece in pieces)


async def test_the_live_line_shows_today_the_block_busy_sessions_and_codex_limits(
    live_logs,
) -> None:
    app = create_app(Choices(timezone="UTC"), live=False, clock=LIVE_NOW.timestamp)
    app.thresholds = Thresholds(100_000, 160_000)
    async with app.run_test(size=SIZE):
        await ready(app)
        tree = app.snapshot.tree
        today = tree.find("2026-W48/2026-11-24")
        assert today is not None and today.totals.calls == 6
        text = live_line(app)
        assert text.startswith("○ not watching   today " + fmt.cost(today.totals.cost))
        assert f"{fmt.tokens(today.totals.total)} tok" in text
        # blocks: 23 Nov 15:00–20:00, then today's from 09:00 (the pause was over 5 h)
        assert "5h block " + fmt.cost(today.totals.cost) + " (2h40m left)" in text
        assert "→ $" in text and "by 14:00" in text and "tok/min last 30 min" in text
        assert "● shop 110.0 k ctx +1 more" in text  # the newest busy session; atlas too
        assert "codex 5h 63% resets 13:00 · week 41% resets Fri 00:00" in text
        assert {key: busy.tone for key, busy in app.table.busy.items()} == {
            f"claude-code:{SHOP}": "warn",
            f"claude-code:{ATLAS}": "high",
        }


async def test_the_live_line_fits_narrow_terminals_by_dropping_detail(live_logs) -> None:
    app = create_app(Choices(timezone="UTC"), live=False, clock=LIVE_NOW.timestamp)
    async with app.run_test(size=(80, 24)):
        await ready(app)
        text = live_line(app, 78)
        assert len(text) <= 78 and "today" in text and "5h block" in text
        assert "tok/min" not in text


def test_live_session_colours(snap_compare, live_logs) -> None:
    """W48 › Tue 24 Nov: the busy sessions' dots and contexts, and the full live line."""

    async def run_before(pilot) -> None:
        await ready(pilot.app)
        await pilot.press("enter", "enter")
        await settle(pilot.app)

    app = create_app(Choices(timezone="UTC"), live=False, clock=LIVE_NOW.timestamp)
    assert snap_compare(app, terminal_size=(150, 14), run_before=run_before)


async def test_a_budget_shows_in_the_live_line_and_crossings_alert_once(
    live_logs, monkeypatch
) -> None:
    """Today's calls against a $5 day budget; then the budget and the thresholds are crossed."""
    config = live_logs / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[[budget]]\nperiod = "day"\nusd = 5\n', encoding="utf-8")
    delivered: list[str] = []
    monkeypatch.setattr(live_feed, "deliver", lambda alert, command: delivered.append(alert.key))
    app = create_app(Choices(timezone="UTC"), live=False, clock=LIVE_NOW.timestamp)
    app.thresholds = Thresholds(200_000, 300_000)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        spent = app.snapshot.tree.find("2026-W48/2026-11-24").totals.cost
        assert f"day {spent / 5:.0%} of $5.00 → " in live_line(app)
        assert len(app._notifications) == 0  # what the view opens on is not news
        (use,) = app.snapshot.budgets
        low = replace(use, budget=Budget("day", usd=spent / 2))
        app.snapshot = replace(app.snapshot, budgets=(low,))
        app.thresholds = Thresholds(100_000, 160_000)
        app._tick()
        app._tick()  # the next second: nothing crossed again
        await pilot.pause()
        titles = sorted(notification.title for notification in app._notifications)
        assert titles == [
            "tokentree: context growing in shop",
            "tokentree: context high in atlas",
            "tokentree: day budget is over its limit",
        ]
        assert len(delivered) == 3
