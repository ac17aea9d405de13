"""`tokentree --web`: the page, the websocket a browser opens, and the weeks drawn through it.

The default suite talks to the server as the page's own script does (aiohttp, which
textual-serve brings). `pytest -m web` also loads the page in headless Chromium; it needs
`pip install playwright` and a Chromium on PATH (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tokentree.cli import main
from tokentree.web import served_command

if TYPE_CHECKING:
    import aiohttp

WEEKS = ("2026-W44", "2026-W45", "2026-W46", "2026-W47")  # the demo's four weeks
ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


@dataclass(frozen=True)
class Served:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`tokentree --web --demo` on a free port; it and every tab's process end with the test."""
    pytest.importorskip("textual_serve", reason="tokentree[web] is not installed")
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tokentree", "--web", "--demo", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: the server and the apps it starts
        )
    try:
        _wait_for_port(port, server, log)
        yield Served(f"http://localhost:{port}/", log)
    finally:
        _signal_group(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(server.pid, signal.SIGKILL)  # the server, or a tab's app it left behind
        server.wait()


def _signal_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass  # every process of the group has ended


def _wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited ({server.returncode}):\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the server did not listen within 10 s:\n{log.read_text()}")


def _screen_text(data: bytes) -> str:
    return ESCAPE.sub(" ", data.decode("utf-8", "replace"))


async def test_the_served_page_shows_the_weeks(served: Served) -> None:
    import aiohttp  # textual-serve's own dependency

    async with aiohttp.ClientSession() as http:
        async with http.get(served.url) as response:
            assert response.status == 200
            page = await response.text()
        assert "js/textual.js" in page
        socket_url = re.search(r'data-session-websocket-url="([^"]+)"', page)
        assert socket_url, page
        # What textual.js does on load: open /ws with the terminal's size, then send it again.
        async with http.ws_connect(f"{socket_url[1]}?width=120&height=40") as browser:
            await browser.send_json(["resize", {"width": 120, "height": 40}])
            await browser.send_json(["ping", "1"])
            drawn, replies = await _read_until(browser, WEEKS, seconds=12)
    screen = _screen_text(drawn)
    assert all(week in screen for week in WEEKS), f"{screen[-2000:]}\n{served.log.read_text()}"
    assert "demo: bundled sample logs" in screen
    assert ["pong", "1"] in replies


async def _read_until(
    browser: aiohttp.ClientWebSocketResponse, words: tuple[str, ...], *, seconds: float
) -> tuple[bytes, list[object]]:
    """The terminal bytes and JSON replies sent to the page, until the words and a reply came."""
    from aiohttp import WSMsgType

    drawn = b""
    replies: list[object] = []
    deadline = time.monotonic() + seconds
    while not replies or not all(word in _screen_text(drawn) for word in words):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            message = await browser.receive(timeout=left)
        except TimeoutError:
            break
        if message.type == WSMsgType.BINARY:
            drawn += message.data
        elif message.type == WSMsgType.TEXT:
            replies.append(message.json())
        else:
            break  # closed: the app exited
    return drawn, replies


def test_each_tab_runs_tokentree_without_web() -> None:
    args = ["--web", "--demo", "--port", "9000", "--tz=UTC", "--port=9001", "my logs"]
    assert served_command(args) == shlex.join(
        [sys.executable, "-m", "tokentree", "--demo", "--tz=UTC", "my logs"]
    )
    assert served_command(["--demo", "--", "--web"]).endswith("--demo -- --web")


def test_without_textual_serve_it_says_what_to_install(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert main(["--web", "--demo"]) == 2
    out, err = capsys.readouterr()
    assert err == "tokentree: --web needs textual-serve: pip install 'tokentree[web]'\n"
    assert out == ""


def test_a_busy_port_is_one_clear_line(capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--web", "--demo", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert err == f"tokentree: port {port} is in use: choose another with --port\n"
    assert out == ""


def test_web_does_not_combine_with_json(capsys) -> None:
    assert main(["--web", "--json"]) == 2
    assert "--web opens the view" in capsys.readouterr().err


# textual.js keeps its xterm.js terminal to itself: catch it as it is built (its constructor sets
# `this.fitAddon` first), so the test can read the screen as a person sees it.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true});
    window.textualTerminal = this.terminal;
  },
});
"""
SCREEN = """() => {
  const buffer = window.textualTerminal && window.textualTerminal.buffer.active;
  const rows = [];
  for (let i = 0; buffer && i < buffer.length; i++) {
    rows.push(buffer.getLine(i).translateToString(true));
  }
  return rows.join("\\n");
}"""
CHROMIUM_FLAGS = [  # no sandbox as root; no calls home on a machine without a network
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> str:
    """Chromium's path, or a skip that says what to install (before any server starts)."""
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    path = next(filter(None, map(shutil.which, names)), None)
    if path is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return path


@pytest.mark.web
def test_headless_chromium_shows_the_weeks(chromium: str, served: Served, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.add_init_script(CATCH_TERMINAL)
            page.goto(served.url)
            shown = " && ".join(f"screen.includes({week!r})" for week in WEEKS)
            try:
                page.wait_for_function(f"(screen => {shown})(({SCREEN})())", timeout=15_000)
            finally:
                page.screenshot(path=tmp_path / "weeks.png")
            screen = page.evaluate(SCREEN)
            assert "demo: bundled sample logs" in screen
            assert page.locator("body.-first-byte").count() == 1  # the terminal is shown
        finally:
            browser.close()
