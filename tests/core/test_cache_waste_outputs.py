"""The cache waste leaves tokentree the ways its costs do: report, export (and back), ledger.

One Claude session idles 39 minutes, past the 5-minute cache, and sends its history
again as cache writes; another day's session reads its cache as it should. The
waste of that one call is worked out by hand at Sonnet 4.5's rates.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.builders import claude_call, claude_prompt, write
from tokentree.cli import main
from tokentree.core.cache_misses import IDLE
from tokentree.core.export import export_document
from tokentree.core.ledger import NAMES, find_ledgers, parquet_reader, write_ledger
from tokentree.core.saved import read_saved
from tokentree.core.schemas import ExportDocument, ReportDocument
from tokentree.core.tree import Calendar, Kind, Node, build_tree
from tokentree.workspace import Choices, Workspace, open_workspace

INPUT, WRITE_5M, READ = 3.0, 3.75, 0.3  # Sonnet 4.5, USD per million tokens
SENT_AGAIN = 10 + 40_000 + 2_000  # the prompt before the idle gap: all of it written again
FRESH_RATE = (10 * INPUT + 43_000 * WRITE_5M) / (10 + 43_000)
WASTE = SENT_AGAIN * (FRESH_RATE - READ) / 1_000_000  # ≈ $0.1449


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs" / "-home-dev-atlas"
    write(
        folder / "s1.jsonl",
        claude_prompt("2026-11-20T08:59:50Z", session="s1"),
        claude_call("a1", "2026-11-20T09:00:00Z", cache_write=40_000, session="s1"),
        claude_call(
            "a2", "2026-11-20T09:01:00Z", cache_write=2_000, cache_read=40_000, session="s1"
        ),
        claude_call("a3", "2026-11-20T09:40:00Z", cache_write=43_000, session="s1"),
    )
    write(
        folder / "s2.jsonl",
        claude_prompt("2026-11-21T08:59:50Z", session="s2"),
        claude_call("b1", "2026-11-21T09:00:00Z", cache_write=30_000, session="s2"),
        claude_call(
            "b2", "2026-11-21T09:02:00Z", cache_write=1_000, cache_read=30_000, session="s2"
        ),
    )
    return tmp_path / "logs"


def workspace_of(logs: Path) -> Workspace:
    return open_workspace(Choices(paths=[str(logs)], timezone="UTC", use_cache=False))


def run(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_the_report_sums_the_waste_per_row(capsys, logs: Path) -> None:
    document = json.loads(run(capsys, "report", "--json", "--tz", "UTC", "--no-cache", str(logs)))
    ReportDocument.model_validate(document)
    assert [(row["key"], row["cache_waste_usd"]) for row in document["rows"]] == [
        ("2026-11-20", round(WASTE, 6)),
        ("2026-11-21", 0.0),
    ]
    assert document["totals"]["cache_waste_usd"] == round(WASTE, 6)
    by_session = json.loads(
        run(capsys, "report", "--json", "--by", "session", "--no-cache", str(logs))
    )
    assert {row["key"].split()[1]: row["cache_waste_usd"] for row in by_session["rows"]} == {
        "s1": round(WASTE, 6),
        "s2": 0.0,
    }


def test_the_report_table_has_a_waste_column_only_where_some_was_wasted(capsys, logs: Path) -> None:
    table = run(capsys, "report", "--tz", "UTC", "--no-cache", str(logs)).splitlines()
    assert table[0].split()[-2:] == ["Cost", "Waste"]
    cells = {line.split()[0]: line.split()[-1] for line in table[2:4] + table[5:6]}
    assert cells == {"2026-11-20": "$0.145", "2026-11-21": "·", "Total": "$0.145"}
    assert any(line.startswith("waste: ") for line in table)
    quiet = run(capsys, "report", "--tz", "UTC", "--no-cache", "--since", "2026-11-21", str(logs))
    assert "Waste" not in quiet and "waste: " not in quiet


def test_an_export_read_back_has_the_same_waste_per_node(
    capsys, logs: Path, tmp_path: Path
) -> None:
    target = tmp_path / "tree.json"
    run(capsys, "export", "--tz", "UTC", "--no-cache", "-o", str(target), str(logs))
    document = orjson.loads(target.read_bytes())
    ExportDocument.model_validate(document)
    assert document["root"]["cache_waste_usd"] == round(WASTE, 6)
    saved = read_saved(target.read_bytes())
    workspace = workspace_of(logs)
    index, scope = workspace.index, workspace.scope
    built = build_tree(index.calls(scope), index.prompts(scope), Calendar(ZoneInfo("UTC")))
    pairs = list(_pairs(saved.root, built))
    assert len(pairs) == sum(1 for _ in built.walk())
    for again, first in pairs:
        assert math.isclose(again.totals.cache_waste, first.totals.cache_waste, abs_tol=1e-6)
    missed = [first.call for _, first in pairs if first.call and first.call.cache_miss]
    assert [(call.key.split(":")[0], call.cache_miss) for call in missed] == [("a3", IDLE)]
    assert math.isclose(missed[0].cache_waste, WASTE, rel_tol=1e-9)
    calls = {node.call.key: node.call for node in saved.root.walk() if node.call is not None}
    assert calls[missed[0].key].cache_waste == round(WASTE, 6)
    assert calls[missed[0].key].cache_miss == IDLE
    again = export_document(saved.root, "", "UTC", prices=index.prices)
    assert again["root"]["cache_waste_usd"] == document["root"]["cache_waste_usd"]


def test_an_export_without_the_waste_reads_as_none(capsys, logs: Path, tmp_path: Path) -> None:
    """An export written before the field existed reads as no waste anywhere."""
    document = orjson.loads(run(capsys, "export", "--tz", "UTC", "--no-cache", str(logs)))
    _strip(document["root"])
    saved = read_saved(orjson.dumps(document))
    assert saved.root.totals.calls == 5
    assert all(node.totals.cache_waste == 0 for node in saved.root.walk())
    assert all(node.call.cache_waste == 0 for node in saved.root.walk() if node.call)


def test_the_ledger_has_each_calls_waste(logs: Path, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    workspace = workspace_of(logs)
    write_ledger(workspace.index, workspace.scope, tmp_path / "ledger", "laptop")
    ledger = find_ledgers(tmp_path / "ledger")[0]
    with duckdb.connect() as db:
        cursor = db.execute(f"SELECT * FROM {parquet_reader(ledger.files())}")
        columns = [item[0] for item in cursor.description]
        rows = {row[columns.index("call_key")]: row for row in cursor.fetchall()}
    assert tuple(columns) == NAMES and "cache_waste_usd" in columns
    calls = workspace.index.calls(workspace.scope)
    assert len(rows) == len(calls) == 5
    at = columns.index("cache_waste_usd"), columns.index("cache_miss")
    assert {key: (row[at[0]], row[at[1]]) for key, row in rows.items()} == {
        call.key: (call.cache_waste, call.cache_miss or None) for call in calls
    }
    assert math.isclose(sum(row[at[0]] for row in rows.values()), WASTE, rel_tol=1e-9)


def _pairs(saved: Node, built: Node):
    """Each node of the saved tree with the node at its path in the tree built from calls."""
    yield saved, built
    if built.kind is Kind.CALL:
        return
    by_key = {child.key: child for child in built.children}
    assert sorted(by_key) == sorted(child.key for child in saved.children)
    for child in saved.children:
        yield from _pairs(child, by_key[child.key])


def _strip(node: dict) -> None:
    node.pop("cache_waste_usd")
    for child in node["children"]:
        _strip(child)
