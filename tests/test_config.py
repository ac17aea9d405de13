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
from tokentree.core.advice import AdviceSettings
from tokentree.validation import Invalid, validate
from tokentree.workspace import Choices, UsageError, prepare_workspace


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


# Values a config file may hold, good and bad, for every type the settings use.
_TOP_LEVEL = [
    {"timezone": "Europe/Berlin", "week_start": "sunday", "workers": "4", "share_minutes": 5},
    {"workers": 2.0, "context_warn": "90000", "context_high": True, "alert_command": "x"},
    {"workers": 2.5, "context_warn": "lots", "timezone": 3, "week_start": "Monday"},
    {"share_minutes": "soon", "machine": ["a"], "machines": "a", "share_ledger": True},
    {"machines": ["a", 2], "unknown_key": 1, "workers": datetime(2026, 1, 1)},
    {"prices": {"m": {"input": 1, "output": "2.5", "web_search_per_1k": 10}}},
    {"prices": {"m": {"input": "cheap"}, "n": 3, "o": {"input": 1, "output": 2, "x": 1}}},
    {"prices": [1], "plan": {"name": "Max", "usd_per_month": "200"}},
    {"plan": {"name": "Max"}, "budget": {"period": "day", "usd": 1}},
    {"budget": [{"period": "week", "tokens": "1000000", "project": "atlas"}, {"period": "day"}]},
    {"budget": [{"period": "year", "usd": 5}, {"period": "day", "usd": -1}, 3]},
    {"budget": [{"period": "month", "usd": 5, "tokens": 5, "source": "claude"}]},
]
_ADVICE = [
    {"min_saving_usd": "0.5", "cache_rebuilt": {"enabled": "no", "min_tokens": 1.0}},
    {"min_saving_share": "x", "low_cache_hit": {"enabled": 2, "margin": "a lot"}},
    {"model_choice": {"alternatives": {"opus": "sonnet", "x": 1}}, "fast_mode": 3},
    {"concentration": {"enabled": "TRUE", "session_share": 1}, "fast_mode": {"enabled": 0}},
]


def _pydantic(cls: type, raw: dict) -> object:
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(cls).validate_python(raw, strict=False)
    except ValidationError as error:
        return sorted((error["loc"], error["msg"]) for error in error.errors())


def _ours(cls: type, raw: dict) -> object:
    try:
        return validate(cls, raw)
    except Invalid as error:
        return sorted(error.problems)


@pytest.mark.parametrize(
    ("cls", "raw"),
    [(Settings, raw) for raw in _TOP_LEVEL] + [(AdviceSettings, raw) for raw in _ADVICE],
)
def test_the_settings_are_checked_as_pydantic_would(cls: type, raw: dict) -> None:
    """The config is checked by hand (pydantic costs the status line 60 ms): the same values
    accepted, the same refused, with the same messages."""
    assert _ours(cls, raw) == _pydantic(cls, raw)


def test_advice_is_checked_only_where_advice_is_given(isolated_home: Path, capsys) -> None:
    """A bad `[advice]` value stops what gives advice, with the key named, but not the status
    line, a budget or a plain report, which never read it."""
    _config(isolated_home, '[[budget]]\nperiod = "day"\nusd = 5\n[advice]\nmin_saving_usd = "x"\n')
    settings = load_settings()
    assert settings.budget[0].usd == 5.0
    with pytest.raises(ConfigError, match=r"config.toml: advice.min_saving_usd: Input should"):
        settings.advice_settings()
    with pytest.raises(UsageError, match="advice.min_saving_usd"):
        prepare_workspace(Choices(use_cache=False))  # the view's: before any screen
    assert prepare_workspace(Choices(use_cache=False, advice=False)).settings == settings
    for command in (["report", "--overview"], ["export", "--output", "-"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "advice.min_saving_usd" in err
    assert main(["report"]) == main(["budget"]) == 0
    _config(isolated_home, "advice = 3\n")
    with pytest.raises(ConfigError, match="advice: Input should be a valid dictionary"):
        load_settings()
    _config(isolated_home, "[advice.model_choice.alternatives]\nopus = 'claude-haiku-4-5'\n")
    assert load_settings().advice_settings().model_choice.cheaper("claude-opus-4") == (
        "claude-haiku-4-5"
    )


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
