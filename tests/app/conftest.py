"""Small, fixed logs under the tmp HOME, the app built from them the way the CLI builds it, and
the helpers the app tests share to drive it and read what it shows."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.builders import (
    claude_call,
    claude_prompt,
    codex_context,
    codex_meta,
    codex_prompt,
    codex_tokens,
    write,
)
from tokentree.app.app import TokenTreeApp, create_app
from tokentree.app.messages import Posted
from tokentree.app.screens.overview import OverviewScreen
from tokentree.core.overview_charts import plain
from tokentree.live.events import Event
from tokentree.state import save_state
from tokentree.workspace import Choices

OPUS = "claude-opus-4-5-20251101"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
LIMITS = {
    "primary": {"used_percent": 23.0, "window_minutes": 300, "resets_at": 1794830400},
    "secondary": {"used_percent": 41.0, "window_minutes": 10080, "resets_at": 1795305600},
}


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def claude_session(
    path: Path,
    session: str,
    cwd: str,
    turns: list[tuple[datetime, list[dict]]],
    version: str = "2.1.112",
) -> None:
    """One file: each turn is a prompt, then its calls a few seconds apart."""
    lines: list[dict] = []
    number = 0
    for start, calls in turns:
        lines.append(claude_prompt(start, session=session, cwd=cwd, version=version))
        for offset, spec in enumerate(calls, start=1):
            number += 1
            spec = dict(spec)
            lines.append(
                claude_call(
                    f"msg_{session[:4]}_{number}",
                    start + timedelta(seconds=20 * offset),
                    session=session,
                    cwd=cwd,
                    version=version,
                    **spec,
                )
            )
    write(path, *lines)


def write_usage_logs(home: Path) -> None:
    """Two weeks of Claude Code and Codex use with every flag somewhere."""
    projects = home / ".claude" / "projects"
    read = (("Read", {"file_path": "/home/dev/atlas/app.py"}),)
    edit = (("Edit", {"file_path": "/home/dev/atlas/app.py"}),)
    bash = (("Bash", {"command": "pytest -q"}),)
    claude_session(
        projects / "-home-dev-atlas" / "aaaa1111-0000-4000-8000-000000000001.jsonl",
        "aaaa1111-0000-4000-8000-000000000001",
        "/home/dev/atlas",
        [
            (
                at(11, 9, 5),
                [
                    dict(model=OPUS, input=1200, cache_write=40000, output=900, tools=read),
                    dict(model=OPUS, input=30, cache_read=41000, output=2500, tools=edit),
                ],
            ),
            (
                at(11, 10, 30),
                [
                    dict(model=OPUS, input=12, cache_read=44000, output=300, tools=bash),
                    dict(model=SONNET, input=8, cache_read=30000, output=120, tools=read),
                    dict(model=OPUS, input=20, cache_write=9000, cache_read=44000, output=4000),
                ],
            ),
        ],
    )
    claude_session(
        projects / "-home-dev-atlas" / "bbbb2222-0000-4000-8000-000000000002.jsonl",
        "bbbb2222-0000-4000-8000-000000000002",
        "/home/dev/atlas",
        [
            (
                at(17, 14, 2),
                [
                    dict(model=SONNET, input=900, cache_write_1h=60000, output=700, tools=read),
                    dict(model=SONNET, input=10, cache_read=61000, output=200, tools=read),
                ],
            ),
            (
                at(17, 14, 40),
                [
                    dict(model=SONNET, input=15, cache_read=62000, output=5200, tools=edit * 2),
                    dict(model=HAIKU, input=300, cache_write=8000, output=400, sidechain=True),
                    dict(model=SONNET, input=5, cache_read=64000, output=150, tools=bash),
                    dict(model=SONNET, input=5, cache_read=65000, output=90, tools=bash),
                ],
            ),
            (
                at(17, 15, 35),
                [dict(model=SONNET, input=4000, cache_write=20000, output=60, tools=read)],
            ),
        ],
    )
    claude_session(
        projects / "-home-dev-web" / "cccc3333-0000-4000-8000-000000000003.jsonl",
        "cccc3333-0000-4000-8000-000000000003",
        "/home/dev/web",
        [
            (
                at(17, 21, 10),
                [
                    dict(model=HAIKU, input=50, cache_write=12000, output=1, tools=read),
                    dict(model=HAIKU, input=20, cache_read=12000, output=1, tools=bash),
                ],
            )
        ],
        version="2.1.50",  # streaming placeholders: lower-bound output
    )
    codex = home / ".codex" / "sessions" / "2026" / "11"
    write(
        codex / "12" / "rollout-2026-11-12T16-00-00-dddd4444.jsonl",
        codex_meta("dddd4444-0000-4000-8000-000000000004", at(12, 16)),
        codex_tokens(at(12, 16, 0, 30), (3000, 0, 200, 50)),  # before turn_context: estimated
        codex_context(at(12, 16, 1), model="gpt-5-codex"),
        codex_prompt(at(12, 16, 1, 5)),
        codex_tokens(at(12, 16, 2), (9000, 4000, 900, 300), (6000, 4000, 700, 250)),
        codex_tokens(at(12, 16, 5), (20000, 14000, 1500, 400), (11000, 10000, 600, 100), LIMITS),
    )
    write(
        codex / "20" / "rollout-2026-11-20T08-00-00-eeee5555.jsonl",
        codex_meta("eeee5555-0000-4000-8000-000000000005", at(20, 8)),
        codex_context(at(20, 8, 0, 5), model="gpt-oss-120b-local"),
        codex_prompt(at(20, 8, 0, 10)),
        codex_tokens(at(20, 8, 1), (5000, 1000, 400, 0)),
    )


@pytest.fixture(autouse=True)
def biggest_first(isolated_home: Path, request: pytest.FixtureRequest) -> None:
    """Weeks and days listed biggest first, as ncdu lists them: most tests walk the tree by
    cost. Their own default (newest first) is tested with the `calendar_order` marker."""
    if request.node.get_closest_marker("calendar_order") is None:
        biggest = {"key": "cost", "descending": True}
        save_state({"sorts": {kind: biggest for kind in ("week", "month", "day")}})


@pytest.fixture(autouse=True)
def _stable_price_label(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots show where prices came from: the same label whichever genai-prices is installed."""
    from tokentree.core import price_data

    monkeypatch.setattr(price_data, "version", lambda: "0.2.3")


@pytest.fixture
def usage_logs(isolated_home: Path) -> Path:
    write_usage_logs(isolated_home)
    return isolated_home


IDLE = "ffff6666-0000-4000-8000-000000000006"  # the session that rebuilds its cache
SESSION = f"claude-code:{IDLE}"  # its row's key


def write_advice_logs(home: Path) -> None:
    """The usage logs, and on 18 Nov a session whose cache expires in a 24-minute pause."""
    write_usage_logs(home)
    read = (("Read", {"file_path": "/home/dev/atlas/app.py"}),)
    edit = (("Edit", {"file_path": "/home/dev/atlas/app.py"}),)
    test = (("Bash", {"command": "pytest -q"}),)
    claude_session(
        home / ".claude" / "projects" / "-home-dev-atlas" / f"{IDLE}.jsonl",
        IDLE,
        "/home/dev/atlas",
        [
            (
                at(18, 9, 0),
                [
                    dict(model=OPUS, input=20, cache_write=50_000, output=400, tools=read),
                    dict(model=OPUS, input=10, cache_read=50_000, output=900, tools=edit),
                    dict(model=OPUS, input=10, cache_read=51_000, output=200, tools=test),
                ],
            ),
            (
                at(18, 9, 25),  # 24 minutes after the last call: the 5-minute cache is gone
                [
                    dict(model=OPUS, input=30, cache_write=52_000, output=300, tools=read),
                    dict(model=OPUS, input=10, cache_read=52_000, output=600, tools=edit),
                ],
            ),
        ],
    )


@pytest.fixture
def advice_logs(isolated_home: Path) -> Path:
    write_advice_logs(isolated_home)
    return isolated_home


NOW = at(20, 8, 20)  # the tests' "now": 19 minutes after the newest call (Codex, gpt-oss)


def make_app(**choices: object) -> TokenTreeApp:
    """The app as `tokentree --no-watch` builds it, at a fixed "now" (tests change files)."""
    return create_app(
        Choices(timezone="UTC", **choices),  # type: ignore[arg-type]
        live=False,
        clock=NOW.timestamp,
    )


SIZE = (120, 36)  # the terminal most tests run in
ALL_CALLS = 18  # the usage logs' calls
LOOPS = ("index",)  # workers that run until the app quits (the analysis is a plain thread)


def events(seen: list[object]) -> list[Event]:
    """The live package's events among the messages an app handled (`message_hook`)."""
    return [message.event for message in seen if isinstance(message, Posted)]


async def ready(app: TokenTreeApp, timeout: float = 10.0) -> None:
    """Wait until the first complete tree and its analysis are on screen, side workers done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (app.snapshot is not None and app.snapshot.complete):
        assert loop.time() < deadline, "the index did not finish"
        await asyncio.sleep(0.01)
    await analysed(app, deadline - loop.time())
    await settle(app)


async def analysed(app: TokenTreeApp, timeout: float = 10.0) -> None:
    """Wait until the tree on screen has its activity and advice."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.analysis is None or app.analysis.tree is not app.snapshot.tree:
        assert loop.time() < deadline, "the tree was not analysed"
        await asyncio.sleep(0.01)


async def settle(app: TokenTreeApp) -> None:
    """Let messages, refreshes and the info/export workers finish."""
    for _ in range(3):
        others = [
            w for w in app.workers if w.group not in LOOPS and not w.group.startswith("watch")
        ]
        if others:
            await app.workers.wait_for_complete(others)
        await asyncio.sleep(0.02)


def after(*keys: str):
    """A snapshot's `run_before`: the first tree and its analysis on screen, then `keys`."""

    async def run_before(pilot) -> None:
        await ready(pilot.app)
        await pilot.press(*keys)
        await settle(pilot.app)

    return run_before


def keys_of(app: TokenTreeApp) -> list[str]:
    """The keys of the rows listed, in order."""
    return [row.key for row in app.table.rows]


async def open_key(app: TokenTreeApp, pilot, key: str) -> None:
    """Open the listed row with this key."""
    app.table.move_to(app.table.listing.index_of(key))
    await pilot.press("enter")


def text_of(renderable: object, width: int = 116) -> str:
    """A Rich renderable as plain text (the info panel's content, a help table)."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def overview_text(screen: OverviewScreen) -> str:
    """Every part of the overview as plain lines, at the width each is drawn."""
    return "\n".join(line for part in screen.parts for line in plain(part.lines(part.size.width)))


class Terminal(io.StringIO):
    """stdin or stdout as a terminal: what makes a bare `tokentree` open the app."""

    def isatty(self) -> bool:
        return True
