"""Other machines' call ledgers in the view (config `machines`, `--with`): each call once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.builders import claude_call, claude_prompt, write
from tokentree.cli import main
from tokentree.core.grouping import view_tree
from tokentree.core.ledger import LEDGER_SCHEMA, MANIFEST, write_ledger
from tokentree.core.sources.ledger import NAME as LEDGER
from tokentree.core.tree import Grouping, Kind, Node
from tokentree.workspace import Choices, Workspace, open_workspace

OCT = datetime(2026, 10, 30, 22, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def session(folder: Path, name: str, calls: Sequence[tuple[str, datetime]]) -> Path:
    """A Claude Code session file: a prompt, then each (message id, time) as a call whose
    numbers follow from its id (the same call in any machine's logs)."""
    sid = f"{name}-0000-0000-0000-000000000000"
    lines = [claude_prompt(calls[0][1] - timedelta(seconds=5), session=sid)]
    for message, when in calls:
        size = sum(map(ord, message)) % 50
        lines.append(claude_call(message, when, input=10 + size, output=100 + size, session=sid))
    return write(folder / "-src-billing" / f"{name}.jsonl", *lines)


@pytest.fixture
def machines(tmp_path: Path, isolated_home: Path) -> dict[str, Path]:
    """NDJSON ledgers of a desk and a server in a synced folder, and this laptop's logs (its
    config names it): one call is in both ledgers, another in the server's and the laptop's."""
    logs = {name: tmp_path / "logs" / name for name in ("desk", "server", "laptop")}
    shared = ("msg_shared", NOV + timedelta(hours=1))
    mine = ("msg_mine", NOV + timedelta(hours=3))
    session(logs["desk"], "d", [("msg_d1", OCT), shared])
    session(logs["server"], "s", [("msg_s1", NOV), shared, mine])
    session(logs["laptop"], "l", [mine, ("msg_l1", NOV + timedelta(days=1))])
    sync = tmp_path / "sync"
    for name in ("desk", "server"):
        workspace = open_workspace(Choices(paths=[str(logs[name])], use_cache=False))
        write_ledger(workspace.index, workspace.scope, sync / name, name, "ndjson")
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('machine = "laptop"\n')
    return logs | {"sync": sync, "config": config}


def view_of(machines: dict[str, Path], *, named: bool = True) -> Workspace:
    """A workspace as the view opens it on the laptop's logs, with `--with SYNC` if `named`."""
    return open_workspace(
        Choices(
            paths=[str(machines["laptop"])],
            use_cache=False,
            timezone="UTC",
            machines=True,
            ledgers=[str(machines["sync"])] if named else [],
        )
    )


def calls_below(node: Node) -> list[Node]:
    return [leaf for leaf in node.walk() if leaf.kind is Kind.CALL]


def test_the_view_counts_each_call_once_and_the_local_copy_wins(machines) -> None:
    workspace = view_of(machines)
    assert workspace.machine == "laptop"
    assert [root.source for root in workspace.roots].count(LEDGER) == 2
    view = view_tree(workspace.served(), Grouping.WEEK, machine=workspace.machine)
    assert view.root.totals.calls == 5  # 7 calls in the logs, two of them twice
    assert view.root.machines == 3
    calls = {call.key: call.file for call in workspace.index.calls(workspace.scope)}
    assert len(calls) == 5
    mine = next(file for key, file in calls.items() if key.endswith("msg_mine"))
    assert mine.startswith(str(machines["laptop"]))  # its own log, not the server's ledger
    shared = next(file for key, file in calls.items() if key.endswith("msg_shared"))
    assert shared.startswith(str(machines["sync"] / "desk"))  # of two ledgers: the first


def test_grouped_by_machine_each_lists_its_calls(machines) -> None:
    workspace = view_of(machines)
    view = view_tree(workspace.served(), Grouping.MACHINE, machine=workspace.machine)
    rows = {row.label: row for row in view.root.children}
    assert {label: row.totals.calls for label, row in rows.items()} == {
        "desk": 2,
        "server": 1,
        "laptop": 2,
    }
    assert all(row.kind is Kind.MACHINE for row in rows.values())
    for row in rows.values():  # its days, served from its calls alone
        assert [day.kind for day in row.children] and all(
            day.kind is Kind.DAY for day in row.children
        )
        assert len(calls_below(row)) == row.totals.calls
    assert sum(row.totals.cost for row in rows.values()) == pytest.approx(view.root.totals.cost)


def test_a_filter_matches_a_machine(machines) -> None:
    workspace = view_of(machines)
    view = view_tree(workspace.served(), Grouping.WEEK, "serv", machine=workspace.machine)
    assert view.root.totals.calls == 1 and view.root.machines == 1
    by_machine = view_tree(workspace.served(), Grouping.MACHINE, "lapt", workspace.machine)
    assert [(row.label, row.totals.calls) for row in by_machine.root.children] == [("laptop", 2)]


def test_the_views_totals_equal_report_with(machines, capsys) -> None:
    pytest.importorskip("duckdb")
    workspace = view_of(machines)
    totals = view_tree(workspace.served(), Grouping.WEEK, machine=workspace.machine).root.totals
    status = main(["report", str(machines["laptop"]), "--with", str(machines["sync"]), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["totals"]["machines"] == 3
    assert report["totals"]["calls"] == totals.calls
    for name in ("input", "cache_read", "output", "reasoning"):
        assert report["totals"][name] == getattr(totals, name)
    assert report["totals"]["cost_usd"] == pytest.approx(totals.cost, abs=1e-6)


def test_the_config_machines_join_the_view_and_this_machines_ledger_stays_out(
    machines,
) -> None:
    machines["config"].write_text(f'machine = "laptop"\nmachines = ["{machines["sync"]}"]\n')
    laptop = open_workspace(
        Choices(paths=[str(machines["laptop"])], use_cache=False, timezone="UTC")
    )
    write_ledger(laptop.index, laptop.scope, machines["sync"] / "laptop", "laptop", "ndjson")
    workspace = view_of(machines, named=False)
    assert [root.machine for root in workspace.roots if root.source == LEDGER] == [
        "desk",
        "server",
    ]
    assert workspace.index.span(workspace.scope) is not None
    view = view_tree(workspace.served(), Grouping.MACHINE, machine=workspace.machine)
    assert sorted(row.label for row in view.root.children) == ["desk", "laptop", "server"]


def test_this_machines_own_ledger_holds_its_own_calls_alone(machines, tmp_path: Path) -> None:
    workspace = view_of(machines)
    done = write_ledger(workspace.index, workspace.own_scope, tmp_path / "mine", "laptop", "ndjson")
    assert done.calls == 2


def test_without_machines_nothing_is_added(machines) -> None:
    plain = open_workspace(
        Choices(paths=[str(machines["laptop"])], use_cache=False, ledgers=[str(machines["sync"])])
    )
    assert plain.machine is None and plain.own_scope == plain.scope
    assert all(root.source != LEDGER for root in plain.roots)


def test_parquet_ledgers_are_left_out_without_duckdb(machines, monkeypatch) -> None:
    folder = machines["sync"] / "tower"
    (folder / "month=2026-11").mkdir(parents=True)
    (folder / "month=2026-11" / "calls.parquet").write_bytes(b"PAR1")
    manifest = {"schema": LEDGER_SCHEMA, "machine": "tower", "format": "parquet", "months": {}}
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest))
    monkeypatch.setattr("tokentree.workspace.find_spec", lambda name: None)
    workspace = view_of(machines)
    assert [root.machine for root in workspace.roots if root.source == LEDGER] == [
        "desk",
        "server",
    ]
    assert sum("Parquet ledger" in notice for notice in workspace.notices) == 1
