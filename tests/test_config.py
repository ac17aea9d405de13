"""The config file: validated by pydantic, clear errors, user prices that change stored costs."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.builders import claude_call, write
from tokentree.cli import main
from tokentree.config import ConfigError, Settings, load_settings, settings_schema


def _config(home: Path, text: str) -> Path:
    path = home / ".config" / "tokentree" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_config_file_means_defaults(isolated_home: Path) -> None:
    assert load_settings() == Settings()


def test_settings_are_validated(isolated_home: Path) -> None:
    _config(
        isolated_home,
        'week_start = "sunday"\ntimezone = "Asia/Tokyo"\n'
        '[prices.my-model]\ninput = 1\noutput = "2.5"\n',
    )
    settings = load_settings()
    assert settings.week_start == "sunday" and settings.timezone == "Asia/Tokyo"
    assert settings.user_prices() == {"my-model": {"input": 1.0, "output": 2.5}}
    _config(isolated_home, 'week_start = "someday"\n[prices.x]\ninput = "cheap"\n')
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "week_start" in str(error.value) and "prices.x" in str(error.value)
    _config(isolated_home, "this is = = not toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings()
    assert settings_schema()["properties"]["week_start"]["enum"][0] == "monday"


def test_a_bad_config_is_a_clear_message(isolated_home: Path, capsys) -> None:
    _config(isolated_home, "week_start = 3\n")
    assert main(["report"]) == 2
    assert "week_start" in capsys.readouterr().err


def test_user_prices_reprice_stored_calls(isolated_home: Path, capsys) -> None:
    when = datetime(2026, 11, 20, 9, tzinfo=UTC)
    write(
        isolated_home / ".claude" / "projects" / "p" / "s.jsonl",
        claude_call("msg_1", when, model="my-local-model", input=1_000_000, output=0),
    )
    main(["report", "--json"])
    assert json.loads(capsys.readouterr().out)["totals"]["unpriced_calls"] == 1
    _config(isolated_home, "[prices.my-local-model]\ninput = 2.0\noutput = 4.0\n")
    main(["report", "--json"])
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert (totals["unpriced_calls"], totals["cost_usd"]) == (0, 2.0)


def test_unreadable_folders_are_reported_not_fatal(isolated_home: Path, capsys, monkeypatch):
    project = isolated_home / ".claude" / "projects" / "p"
    write(project / "s.jsonl", claude_call("msg_1", datetime(2026, 11, 20, tzinfo=UTC)))
    (isolated_home / ".claude" / "projects" / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["report", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["totals"]["calls"] == 1
    assert "cannot read" in captured.err and "locked: Permission denied" in captured.err
