"""The info panel, export, live refresh, a long first index, a 10,000-row list, and the CLI."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from tests.app.conftest import OPUS, SIZE, Terminal, at, events, make_app, ready, settle, text_of
from tests.builders import (
    append,
    claude_call,
    claude_prompt,
    codex_context,
    codex_meta,
    codex_prompt,
    codex_tokens,
    jsonl,
    write,
)
from tokentree.app import app as app_module
from tokentree.app.app import TokenTreeApp, create_app
from tokentree.cli import main
from tokentree.core.export import aggregates
from tokentree.core.tree import Kind
from tokentree.live.events import IndexProgressed, TreeUpdated
from tokentree.workspace import Choices


async def test_info_panel_prices_every_token_kind(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "enter")  # W47 › 17 Nov › atlas (bbbb): its turns
        await pilot.press("i")
        await settle(app)
        turn = app.table.current
        assert app.info.node is turn and app.info.display
        text = text_of(app.info.content)
        for label in ("input (uncached)", "cache write 5m", "cache write 1h", "cache read"):
            assert label in text
        assert f"{turn.totals.total:,}" in text and "Tue 17 Nov 14:02:00" in text
        key = (app.snapshot.generation, (*app.path, turn.key))
        found = app._breakdowns[key]
        assert sum(found.cost_by_kind.values()) == pytest.approx(turn.totals.cost)
        assert found.cost_by_kind["cache_write_1h"] > 0  # this turn wrote the 1-hour cache
        await pilot.press("j")  # the panel follows the cursor
        await settle(app)
        assert app.info.node is app.table.current is not turn
        await pilot.press("left", "i")
        await settle(app)
        assert not app.info.display


async def test_info_panel_shows_flags_models_and_codex_limits(usage_logs) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("i")  # on week W47
        await settle(app)
        text = text_of(app.info.content)
        assert "? 1 unpriced" in text and "↓ 2 lower-bound" in text and "↳ 1 sub-agent" in text
        assert "sonnet-4.5 ×" in text and "haiku-4.5 ×" in text
        await pilot.press("j")  # W46 holds the Codex session that logged its limits
        await settle(app)
        text = text_of(app.info.content)
        assert "~ 1 estimated" in text
        assert "5 h 23% used" in text and "weekly 41% used" in text


async def test_export_writes_the_selected_subtree_and_never_overwrites_unasked(
    usage_logs, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter")  # W47 › 17 Nov: sessions, cursor on atlas (bbbb)
        session = app.table.current
        await pilot.press("e")
        target = app.screen.query_one("#target").value
        assert target == "./tokentree-atlas-2026-11-17.json"
        await pilot.press("enter")
        await settle(app)
        assert app.screen is app.screen_stack[0]
        written = tmp_path / "tokentree-atlas-2026-11-17.json"
        document = json.loads(written.read_text())
        assert document["node_path"] == f"2026-W47/2026-11-17/{session.key}"
        root = document["root"]
        assert root["kind"] == "session" and root["key"] == session.key
        expected = aggregates(session.totals)
        assert {k: root[k] for k in expected} == expected
        assert root["turns"] == session.turns == len(root["children"])
        assert sum(turn["calls"] for turn in root["children"]) == session.totals.calls
        assert sum(part["tokens"] for part in root["activity"].values()) == session.totals.total
        assert all("activity" in turn and "advice" in turn for turn in root["children"])

        written.write_text("sentinel")
        await pilot.press("e", "enter")  # exists: asks first
        assert "exists" in str(app.screen.query_one("#warning").content)
        assert written.read_text() == "sentinel"
        await pilot.press("escape")
        await settle(app)
        assert written.read_text() == "sentinel" and app.screen is app.screen_stack[0]
        await pilot.press("e", "enter", "enter")  # confirmed
        await settle(app)
        assert json.loads(written.read_text())["root"]["key"] == session.key
        assert app.last_export == Path("./tokentree-atlas-2026-11-17.json")


async def test_a_live_refresh_keeps_the_cursor_on_the_same_node(usage_logs) -> None:
    app = create_app(Choices(timezone="UTC"), live=True)  # the watcher notices the change
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "enter", "j")  # sessions of 17 Nov; cursor on web (cccc)
        web = app.table.current
        assert web.key.startswith("claude-code:cccc") and app.table.cursor == 1
        generation = app.snapshot.generation
        log = next((usage_logs / ".claude" / "projects" / "-home-dev-web").glob("*.jsonl"))
        append(
            log,
            jsonl(
                claude_call(
                    "msg_big",
                    at(17, 21, 30),
                    model=OPUS,
                    input=1000,
                    cache_write=300_000,
                    output=20_000,
                    session=web.key.split(":", 1)[1],
                    cwd="/home/dev/web",
                )
            ),
        )
        deadline = time.monotonic() + 15
        while app.snapshot.generation == generation:
            assert time.monotonic() < deadline, "the change was not picked up"
            await asyncio.sleep(0.05)
        await settle(app)
        assert app.table.current.key == web.key and app.table.cursor == 0  # now the costliest
        assert app.table.current.totals.calls == web.totals.calls + 1
        assert app.path == ("2026-W47", "2026-11-17")


async def test_a_long_first_index_shows_partial_trees_and_progress(usage_logs) -> None:
    seen: list[object] = []
    app = make_app()
    app.indexer.batch_bytes = 1  # a batch per file, as a big first index has
    async with app.run_test(size=SIZE, message_hook=seen.append):
        await ready(app)
    trees = [e.snapshot for e in events(seen) if isinstance(e, TreeUpdated)]
    progress = [e for e in events(seen) if isinstance(e, IndexProgressed)]
    assert [s.complete for s in trees][-1] is True and not trees[0].complete
    assert [s.generation for s in trees] == sorted({s.generation for s in trees})
    calls = [s.tree.totals.calls for s in trees]
    assert calls == sorted(calls) and calls[-1] == 18 and calls[0] < 18
    assert progress and progress[-1].done == progress[-1].total > 0


async def test_ten_thousand_children_open_page_and_resort(isolated_home) -> None:
    """Only lines that were on screen are drawn (how fast: benchmarks/ui.py)."""
    start = at(18, 9)
    lines = [claude_prompt(start)] + [
        claude_call(
            f"msg_{i}",
            start + timedelta(seconds=1 + i),
            input=10 + i % 97,
            output=50 + i % 13,
            tools=(("Read", {"file_path": f"/src/f{i}.py"}),),
        )
        for i in range(10_000)
    ]
    write(isolated_home / ".claude" / "projects" / "-home-dev-atlas" / "big.jsonl", *lines)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, timeout=30)
        await pilot.press("enter", "enter", "enter")  # W47 › 18 Nov › the session: 1 turn
        await pilot.press("enter")
        assert app.table.listing.node.kind is Kind.TURN and len(app.table.rows) == 10_000
        for _ in range(10):
            await pilot.press("pagedown")
        assert app.table.cursor == 10 * app.table.visible_rows
        await pilot.press("end")
        assert app.table.cursor == 9_999
        assert len(app.table._strips) < 512, "only lines that were on screen are drawn"
        last = app.table.current
        await pilot.press("t", "n")  # by tokens, then by time: the cursor stays on its call
        assert app.table.current is last and app.table.listing.sort.key.value == "time"
        assert len(app.table._strips) < 512


def test_bare_tokentree_on_a_terminal_opens_the_app(monkeypatch, usage_logs) -> None:
    opened: list[Choices] = []
    monkeypatch.setattr(app_module, "run", lambda choices, live, by: opened.append(choices) or 0)
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main(["--demo", "--tz", "UTC"]) == 0
    [choices] = opened
    assert choices.demo and choices.timezone == "UTC" and not choices.paths


def test_bare_tokentree_piped_prints_the_weekly_report(capsys, usage_logs) -> None:
    assert main(["--tz", "UTC"]) == 0
    out, err = capsys.readouterr()
    assert "2026-W47" in out and "needs a terminal" in err


def test_a_crash_in_the_app_is_one_line_not_a_traceback(capsys, monkeypatch, usage_logs) -> None:
    def broken(self: TokenTreeApp) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(TokenTreeApp, "on_mount", broken)
    monkeypatch.setattr(app_module, "run", partial(app_module.run, headless=True))
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "tokentree: unexpected RuntimeError: boom" in err and "Traceback" not in err


async def test_info_panel_shows_fast_mode_and_web_searches(isolated_home) -> None:
    line = claude_call("msg_fast", at(17, 10, 0), model="claude-opus-4-8", input=1000)
    line["message"]["usage"] |= {"speed": "fast", "server_tool_use": {"web_search_requests": 2}}
    write(
        isolated_home / ".claude" / "projects" / "-home-dev-atlas" / "s.jsonl",
        claude_prompt(at(17, 9, 59)),
        line,
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("i")  # on the week
        await settle(app)
        text = text_of(app.info.content)
        assert "» 1 fast mode" in text
        [searches] = [row for row in text.splitlines() if "web searches" in row]
        assert "2" in searches and "$0.02" in searches


def _panel_row(text: str, label: str) -> str:
    [row] = [line for line in text.splitlines() if line.lstrip("│ ").startswith(label)]
    return row


async def test_an_unpriced_call_shows_no_cost_never_zero_dollars(usage_logs) -> None:
    """gpt-oss-120b-local (Codex, 20 Nov) has no known price: its costs read "–", not "$0"."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("enter", "end")  # W47's days by cost: 20 Nov, unpriced, is last
        await pilot.press("i")
        await settle(app)
        day = app.table.current
        assert day.totals.unpriced_calls == day.totals.calls == 1
        text = text_of(app.info.content)
        for label in ("input (uncached)", "cache read", "output"):
            assert "$0" not in _panel_row(text, label) and "–" in _panel_row(text, label)
        assert "unpriced" in _panel_row(text, "total")
        assert "gpt-oss-120b-local ×1 (unpriced)" in text and "% $" not in text
        await pilot.press("i", "enter", "enter", "enter")  # its session › turn › the call
        await pilot.press("i")
        await settle(app)
        assert app.table.current.call is not None
        text = text_of(app.info.content)
        assert "$0" not in text
        assert "–" in _panel_row(text, "input (uncached)")
        assert "none known for gpt-oss-120b-local: unpriced" in text


async def test_an_estimated_price_says_what_it_priced_as(isolated_home) -> None:
    """A dated Codex id genai-prices lists only undated is priced as gpt-5.1-codex."""
    write(
        isolated_home / ".codex" / "sessions" / "2026" / "11" / "17" / "rollout-x-ffff.jsonl",
        codex_meta("ffff0000-0000-4000-8000-000000000009", at(17, 9)),
        codex_context(at(17, 9, 0, 5), model="gpt-5-1-codex-2025-11-13"),
        codex_prompt(at(17, 9, 0, 10)),
        codex_tokens(at(17, 9, 1), (5000, 1000, 400, 0)),
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("i")  # on the week
        await settle(app)
        text = text_of(app.info.content)  # the prices row wraps after "priced as"
        assert "openai/gpt-5.1, 2026-11-17; priced as" in text
        assert "gpt-5.1-codex (estimated)" in text
        assert "cache writes" not in text  # no cache writes: no note on their stand-in rate
        assert (4000 * 1.25 + 1000 * 0.125 + 400 * 10) / 1e6 == pytest.approx(
            app.table.current.totals.cost
        )


async def test_shift_h_copies_the_selected_sessions_handoff(usage_logs, monkeypatch) -> None:
    copied: list[str] = []
    app = make_app()
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app)
        await pilot.press("H")  # a week is no session
        await pilot.pause()
        assert copied == [] and len(app._notifications) == 1
        await pilot.press("enter", "enter")  # W47 › 17 Nov: sessions, cursor on atlas
        session = app.table.current
        await pilot.press("H")
        (text,) = copied
        assert text.startswith(
            f"# Handoff: atlas ({session.source} session {session.session_id[:8]})"
        )
        assert f"{session.totals.calls} calls" in text
