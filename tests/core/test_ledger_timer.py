"""The shared ledger on a timer (config `share_ledger`): written once per interval, only the
months that changed, and a failure said once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from tests.builders import append, claude_call, claude_prompt, jsonl, write
from tokentree import config
from tokentree.cli import main
from tokentree.core.ledger import MANIFEST
from tokentree.live.ledger_timer import LedgerTimer, ledger_timer
from tokentree.workspace import Choices, Workspace, open_workspace

OCT = datetime(2026, 10, 30, 22, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SID = "timer000-0000-4000-8000-000000000000"


class Clock:
    """A clock the test moves on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def logs(home: Path) -> Path:
    log = home / "logs" / "-src-billing" / f"{SID}.jsonl"
    write(
        log,
        claude_prompt(OCT - timedelta(seconds=5), session=SID),
        claude_call("msg_oct", OCT, input=10, output=100, session=SID),
        claude_call("msg_nov", NOV, input=20, output=200, session=SID),
    )
    return log


def workspace_of(folder: Path) -> Workspace:
    return open_workspace(Choices(paths=[str(folder)], use_cache=False))


def timer_of(workspace: Workspace, target: Path, clock: Clock, said: list[str]) -> LedgerTimer:
    return LedgerTimer(
        workspace.index,
        workspace.scope,
        target,
        "laptop",
        every=600,
        report=said.append,
        clock=clock,
        format="ndjson",
    )


def test_the_ledger_is_written_once_per_interval_and_only_changed_months(
    isolated_home: Path, tmp_path: Path
) -> None:
    log = logs(isolated_home)
    workspace = workspace_of(log.parent.parent)
    clock, said = Clock(), []
    target = tmp_path / "Sync" / "laptop"
    timer = timer_of(workspace, target, clock, said)

    first = timer.tick()  # at once
    assert first is not None and first.written == ["2026-10", "2026-11"]
    manifest = orjson.loads((target / MANIFEST).read_bytes())
    assert manifest["machine"] == "laptop" and set(manifest["months"]) == {"2026-10", "2026-11"}
    clock.now = 599.0
    assert timer.tick() is None  # not yet due
    clock.now = 600.0
    second = timer.tick()
    assert second is not None and second.written == [] and len(second.unchanged) == 2

    append(log, jsonl(claude_call("msg_nov_2", NOV + timedelta(minutes=3), input=5, session=SID)))
    workspace.refresh()
    clock.now = 900.0
    assert timer.tick() is None
    clock.now = 1200.0
    third = timer.tick()
    assert third is not None and third.written == ["2026-11"] and third.unchanged == ["2026-10"]
    assert len(timer.writes) == 3 and said == []


def test_a_failure_is_said_once_until_a_write_works(isolated_home: Path, tmp_path: Path) -> None:
    workspace = workspace_of(logs(isolated_home).parent.parent)
    clock, said = Clock(), []
    target = tmp_path / "taken"
    target.write_text("a file, not a folder")
    timer = timer_of(workspace, target, clock, said)
    assert timer.tick() is None
    clock.now = 600.0
    assert timer.tick() is None
    assert len(said) == 1 and "is not a folder" in said[0] and str(target) in said[0]
    target.unlink()
    clock.now = 1200.0
    assert timer.tick() is not None and len(said) == 1


def test_the_config_names_the_shared_folder_and_the_interval(
    isolated_home: Path, tmp_path: Path
) -> None:
    workspace = workspace_of(logs(isolated_home).parent.parent)
    assert ledger_timer(workspace, print) is None  # not asked for
    config.config_path().parent.mkdir(parents=True, exist_ok=True)
    config.config_path().write_text(
        f'machine = "desk"\nshare_ledger = "{tmp_path / "Sync"}"\nshare_minutes = 2\n'
    )
    workspace = replace(workspace, settings=config.load_settings())
    timer = ledger_timer(workspace, print)
    assert timer is not None
    assert (timer.target, timer.machine, timer.every) == (tmp_path / "Sync" / "desk", "desk", 120)


def test_watch_shares_the_ledger(isolated_home: Path, tmp_path: Path, capsys) -> None:
    folder = logs(isolated_home).parent.parent
    config.config_path().parent.mkdir(parents=True, exist_ok=True)
    config.config_path().write_text(f'machine = "desk"\nshare_ledger = "{tmp_path / "Sync"}"\n')
    assert main(["watch", "--once", "--no-cache", str(folder)]) == 0
    manifest = orjson.loads((tmp_path / "Sync" / "desk" / MANIFEST).read_bytes())
    assert manifest["machine"] == "desk" and set(manifest["months"]) == {"2026-10", "2026-11"}
    assert capsys.readouterr().err == ""
