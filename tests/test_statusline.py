"""`tokentree statusline`: Claude Code's status JSON in, one line out, from the index."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.builders import claude_call, write
from tokentree.commands import statusline
from tokentree.workspace import Choices, open_workspace

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
SESSION = "5b0c3f1e-0000-4000-8000-000000000001"
STATUS = {
    "session_id": SESSION,
    "cwd": "/home/dev/atlas",
    "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
    "context_window": {
        "context_window_size": 200_000,
        "current_usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 990,
            "cache_read_input_tokens": 89_000,
        },
    },
}


@pytest.fixture
def workspace(isolated_home: Path, monkeypatch: pytest.MonkeyPatch):
    """This session: two calls today at $1.50 and $0.50; another session yesterday at $4."""
    monkeypatch.setenv("NO_COLOR", "1")
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[prices."test-model"]\ninput = 1.0\noutput = 0.0\n'
        '[[budget]]\nperiod = "day"\nusd = 4\n[[budget]]\nperiod = "month"\nusd = 100\n',
        encoding="utf-8",
    )
    logs = isolated_home / "logs" / "projects" / "-home-dev-atlas"
    model = {"model": "test-model", "output": 0}
    write(
        logs / f"{SESSION}.jsonl",
        claude_call("m1", NOW - timedelta(hours=2), input=1_500_000, session=SESSION, **model),
        claude_call("m2", NOW - timedelta(minutes=5), input=500_000, session=SESSION, **model),
    )
    write(
        logs / "other.jsonl",
        claude_call("m3", NOW - timedelta(days=1), input=4_000_000, session="other", **model),
    )
    return open_workspace(Choices(paths=[str(isolated_home / "logs")], timezone="UTC"))


def _line(workspace, capsys, status: object = STATUS) -> str:
    raw = status if isinstance(status, bytes) else orjson.dumps(status)
    assert statusline(workspace, raw, now=NOW.timestamp()) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return out.rstrip("\n")


def test_the_line_says_session_today_block_context_and_the_closest_budget(
    workspace, capsys
) -> None:
    # the block began at 12:00 (the first call's hour) and runs to 17:00: 2 h 30 min left
    assert _line(workspace, capsys) == (
        "$2.00 session · $2.00 today · block $2.00 (2h30m left) · ctx 45% ● · day 50% of $4.00"
    )


def test_without_its_context_the_sessions_newest_call_is_the_context(workspace, capsys) -> None:
    status = {"session_id": SESSION}
    assert "ctx 250% ●" in _line(workspace, capsys, status)  # 500k of an assumed 200k


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"session_id": 5}'])
def test_any_stdin_still_gets_a_line(workspace, capsys, raw: bytes) -> None:
    assert (
        _line(workspace, capsys, raw) == "$2.00 today · block $2.00 (2h30m left) · day 50% of $4.00"
    )


@pytest.mark.parametrize("config", ["", '[[budget]]\nperiod = "day"\nusd = 4\n[advice]\n'])
def test_the_line_loads_no_ui_prices_schemas_advice_or_web_server(
    isolated_home: Path, config: str
) -> None:
    """Claude Code runs it after every message: each import is paid each time, with a config
    file too (it is checked by hand, its `[advice]` not at all)."""
    if config:
        path = isolated_home / ".config" / "tokentree" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config, encoding="utf-8")
    code = (
        "import io, sys; sys.stdin = io.TextIOWrapper(io.BytesIO(b'{}'));"
        "import tokentree.cli as c; c.main(['statusline']);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual', 'genai_prices', 'pydantic', 'socket', 'logging'}) + "
        "sorted({'tokentree.core.advice', 'tokentree.web'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
