"""`tokentree handoff SESSION`: a prompt for a fresh thread, from metadata only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import SESSION, claude_call, claude_prompt, write
from tokentree.cli import main

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SECRETS = ("SECRET-PROMPT-TEXT", "SECRET-FILE-CONTENT", "--token=SECRET-ARG")


@pytest.fixture
def logs(isolated_home: Path) -> Path:
    folder = isolated_home / "logs"
    project = folder / "projects" / "-home-dev-atlas"

    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    write(
        project / f"{SESSION}.jsonl",
        claude_prompt(at(0), text=SECRETS[0]),
        claude_call("m1", at(1), tools=(("Read", {"file_path": "/home/dev/atlas/app.py"}),)),
        claude_call("m2", at(2), tools=(("Grep", {"pattern": "TODO"}),)),
        claude_call(
            "m3",
            at(3),
            tools=(
                ("Edit", {"file_path": "/home/dev/atlas/app.py", "new_string": SECRETS[1]}),
                ("Read", {"file_path": "/home/dev/atlas/app.py"}),
            ),
        ),
        claude_call("m4", at(4), tools=(("Bash", {"command": f"pytest -q {SECRETS[2]}"}),)),
        claude_call("m5", at(5), tools=(("Bash", {"command": "rg TODO src"}),), cache_read=9000),
    )
    write(
        project / "other.jsonl",
        claude_call("m6", at(9), session="0badc0de-0000-4000-8000-000000000000"),
    )
    return folder


def test_the_handoff_says_what_the_session_did_and_nothing_it_said(logs: Path, capsys) -> None:
    assert main(["handoff", "--tz", "UTC", str(logs), SESSION[:6]]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# Handoff: atlas (claude-code session {SESSION[:8]})\n")
    assert "- When: 2026-11-20 09:00–09:05 (UTC), 1 turn, 5 calls on claude-sonnet-4-5" in text
    assert "context at the end: 9.01 k tokens per call" in text
    assert "- Files read: app.py ×2\n" in text
    assert "- Files edited: app.py\n" in text
    assert "- Tests run: pytest\n" in text and "- Commands run: rg\n" in text
    assert not any(secret in text for secret in SECRETS) and "TODO" not in text


def test_a_session_is_named_by_the_start_of_its_id(logs: Path, capsys) -> None:
    assert main(["handoff", str(logs), "ffff"]) == 2
    assert "no session id starts with 'ffff'" in capsys.readouterr().err
    out = logs.parent / "handoff.md"
    assert main(["handoff", str(logs), "-o", str(out), "0bad"]) == 0
    assert out.read_text().startswith("# Handoff: atlas (claude-code session 0badc0de)")
    assert main(["handoff", str(logs), "-o", str(out), "0bad"]) == 2  # never clobbered silently
