"""The call ledger (tokentree.calls/1): written, read back, merged across machines and people."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders import append, claude_call, claude_prompt, jsonl, write
from tokentree.cli import main
from tokentree.core.ledger import (
    LEDGER_SCHEMA,
    MANIFEST,
    NAMES,
    find_ledgers,
    ndjson_reader,
    parquet_reader,
    write_ledger,
)
from tokentree.core.report import build_report
from tokentree.team import DuckDBEngine, Part, ledger_report
from tokentree.workspace import Choices, Workspace, open_workspace

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).parent.parent.parent
OCT = datetime(2026, 10, 30, 22, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PROMPT = "PROMPT-SNIPPET please refactor the billing module"
EDIT = "FILE-TEXT-SNIPPET def charge(card): pass"
SUMMED = ("calls", "input", "cache_write", "cache_read", "output", "reasoning", "unpriced_calls")


def session(
    folder: Path, name: str, calls: Sequence[tuple[str, datetime]], *, session_id: str = ""
) -> Path:
    """A Claude Code session file: a prompt, then each (message id, time) as a call."""
    sid = session_id or f"{name}-0000-0000-0000-000000000000"
    lines: list[dict[str, Any]] = [
        claude_prompt(calls[0][1] - timedelta(seconds=5), PROMPT, session=sid)
    ]
    for message, when in calls:
        tools = (("Edit", {"file_path": "/src/billing.py", "old_string": "x", "new_string": EDIT}),)
        size = sum(map(ord, message)) % 50  # a call's numbers follow from its id, in any log
        lines.append(
            claude_call(
                message,
                when,
                input=10 + size,
                output=100 + size,
                cache_read=1000,
                session=sid,
                tools=tools if size % 2 else (),
            )
        )
    return write(folder / "-src-billing" / f"{name}.jsonl", *lines)


def workspace_of(*paths: Path) -> Workspace:
    return open_workspace(Choices(paths=[str(path) for path in paths], use_cache=False))


def sums(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {name: sum(row[name] for row in rows) for name in SUMMED} | {
        "cost_usd": pytest.approx(sum(row["cost_usd"] for row in rows), abs=1e-6)
    }


def report_totals(document: dict[str, Any]) -> dict[str, Any]:
    totals = document["totals"]
    return {name: totals[name] for name in SUMMED} | {
        "cost_usd": pytest.approx(totals["cost_usd"], abs=1e-6)
    }


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_demo_ledger_reads_back_with_the_reports_totals_per_month(tmp_path: Path) -> None:
    workspace = open_workspace(Choices(demo=True, use_cache=False))
    done = write_ledger(workspace.index, workspace.scope, tmp_path / "ledger", "laptop")
    assert done.written == ["2026-10", "2026-11"] and done.calls == 596
    ledger = find_ledgers(tmp_path / "ledger")[0]
    assert (ledger.machine, ledger.format) == ("laptop", "parquet")
    with duckdb.connect() as db:
        metadata = db.execute(
            f"SELECT key, value FROM parquet_kv_metadata('{ledger.files()[0]}')"
        ).fetchall()
        assert (b"schema", LEDGER_SCHEMA.encode()) in metadata
        assert (b"machine", b"laptop") in metadata
        names = [
            row[0]
            for row in db.execute(
                f"DESCRIBE SELECT * FROM {parquet_reader(ledger.files())}"
            ).fetchall()
        ]
    assert tuple(names) == NAMES
    engine = DuckDBEngine()
    for group in ("month", "week", "day", "project", "model", "source", "session"):
        expected = build_report(
            workspace.index, workspace.scope, group, workspace.calendar, workspace.zone_name
        )
        got = ledger_report(
            engine, [Part("", ledger)], group, workspace.calendar, workspace.zone_name
        )
        assert [row["key"] for row in got["rows"]] == [row["key"] for row in expected["rows"]]
        for mine, theirs in zip(got["rows"], expected["rows"], strict=True):
            assert {k: mine[k] for k in SUMMED} == {k: theirs[k] for k in SUMMED}, group
            assert mine["cost_usd"] == pytest.approx(theirs["cost_usd"], abs=1e-6)
        assert {k: got["totals"][k] for k in SUMMED} == {k: expected["totals"][k] for k in SUMMED}
    by_machine = ledger_report(
        engine, [Part("", ledger)], "machine", workspace.calendar, workspace.zone_name
    )
    assert [row["key"] for row in by_machine["rows"]] == ["laptop"]
    assert by_machine["totals"]["machines"] == 1
    engine.close()


def test_every_call_reads_back_field_for_field(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    session(logs, "a", [("msg_1", NOV), ("msg_2", NOV + timedelta(minutes=3))])
    workspace = workspace_of(logs)
    write_ledger(workspace.index, workspace.scope, tmp_path / "ledger", "laptop")
    ledger = find_ledgers(tmp_path / "ledger")[0]
    with duckdb.connect() as db:
        cursor = db.execute(f"SELECT * FROM {parquet_reader(ledger.files())} ORDER BY time")
        columns = [item[0] for item in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    calls = sorted(workspace.index.calls(workspace.scope), key=lambda call: call.timestamp)
    assert len(rows) == len(calls) == 2
    for row, call in zip(rows, calls, strict=True):
        assert row["call_key"] == call.key and row["session"] == call.session_id
        assert row["time"].timestamp() == pytest.approx(call.timestamp, abs=1e-6)
        assert row["input"] == call.tokens.input and row["output"] == call.tokens.output
        assert row["cost_usd"] == pytest.approx(call.cost)
        assert row["tools"] == list(call.tools) and row["turn"] == 1
        assert row["machine"] == "laptop" and row["project"] == "/home/dev/atlas"
    assert sorted((row["activity"], row["tools"]) for row in rows) == [
        ("conversation", []),
        ("editing", ["Edit billing.py"]),
    ]


def test_no_text_from_the_logs_reaches_the_ledger(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    session(logs, "a", [("msg_1", NOV), ("msg_2", NOV + timedelta(minutes=3))])
    demo = open_workspace(Choices(demo=True, use_cache=False))
    snippets = [PROMPT, EDIT, "PROMPT-SNIPPET", "FILE-TEXT-SNIPPET", *_demo_texts()]
    for format in ("parquet", "ndjson"):
        for name, workspace in (("fixture", workspace_of(logs)), ("demo", demo)):
            target = tmp_path / f"{name}-{format}"
            write_ledger(workspace.index, workspace.scope, target, "laptop", format)
            ledger = find_ledgers(target)[0]
            data = b"".join(path.read_bytes() for path in ledger.files())
            reader = parquet_reader if format == "parquet" else ndjson_reader
            with duckdb.connect() as db:
                values = db.execute(
                    f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {reader(ledger.files())}"
                ).fetchall()
            text = "\n".join(str(value) for row in values for value in row)
            assert len(values) == (2 if name == "fixture" else 596)
            for snippet in snippets:
                assert snippet.encode() not in data, (format, name, snippet)
                assert snippet not in text, (format, name, snippet)


def _demo_texts() -> list[str]:
    """Prompts and tool results of the bundled sample logs (long enough to be telling)."""
    found = []
    for path in sorted((ROOT / "sample_logs" / "claude").rglob("*.jsonl"))[:20]:
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            content = (
                record.get("message", {}).get("content") if record.get("type") == "user" else None
            )
            if isinstance(content, str) and len(content) > 25:
                found.append(content[:40])
            elif isinstance(content, list):
                found += [
                    part["content"][:40]
                    for part in content
                    if isinstance(part.get("content"), str) and len(part["content"]) > 25
                ]
    assert len(found) > 10
    return found


def test_writing_again_rewrites_only_the_months_that_changed(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    session(logs, "october", [("msg_o1", OCT), ("msg_o2", OCT + timedelta(minutes=1))])
    november = session(logs, "november", [("msg_n1", NOV)])
    target = tmp_path / "ledger"
    workspace = workspace_of(logs)
    first = write_ledger(workspace.index, workspace.scope, target, "laptop")
    assert first.written == ["2026-10", "2026-11"]
    ledger = find_ledgers(target)[0]
    october_before = os.stat(ledger.file("2026-10"))

    again = write_ledger(workspace.index, workspace.scope, target, "laptop")
    assert again.written == [] and again.unchanged == ["2026-10", "2026-11"]

    append(
        november,
        jsonl(
            claude_call(
                "msg_n2", NOV + timedelta(minutes=5), session="november-0000-0000-0000-000000000000"
            )
        ),
    )
    workspace.refresh()
    third = write_ledger(workspace.index, workspace.scope, target, "laptop")
    assert third.written == ["2026-11"] and third.unchanged == ["2026-10"]
    october_after = os.stat(ledger.file("2026-10"))
    assert (october_after.st_ino, october_after.st_mtime_ns) == (
        october_before.st_ino,
        october_before.st_mtime_ns,
    )
    manifest = json.loads((target / MANIFEST).read_text())
    assert manifest["months"]["2026-11"]["calls"] == 2

    ndjson = write_ledger(workspace.index, workspace.scope, target, "laptop", "ndjson")
    assert ndjson.written == ["2026-10", "2026-11"]
    assert sorted(path.name for path in target.rglob("calls.*")) == ["calls.ndjson"] * 2


def test_export_calls_on_the_command_line(tmp_path: Path, capsys, isolated_home: Path) -> None:
    logs = tmp_path / "logs"
    session(logs, "a", [("msg_1", NOV)])
    target = tmp_path / "ledger"
    status, _, err = run(capsys, "export", str(logs), "--calls", "-o", str(target))
    assert status == 0 and "1 calls in 1 months; 1 written" in err
    status, _, err = run(capsys, "export", str(logs), "--calls", "-o", str(target))
    assert status == 0 and "0 written, 1 unchanged" in err
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('machine = "desk"\n')
    status, _, err = run(capsys, "export", str(logs), "--calls", "-o", str(target))
    assert status == 2 and "holds the ledger of machine" in err and "not 'desk'" in err
    status, _, err = run(capsys, "export", str(logs), "--calls")
    assert status == 2 and "-o DIR" in err


def test_a_missing_duckdb_is_one_clear_line(tmp_path: Path, capsys, monkeypatch) -> None:
    logs = tmp_path / "logs"
    session(logs, "a", [("msg_1", NOV)])
    monkeypatch.setitem(sys.modules, "duckdb", None)
    status, _, err = run(capsys, "export", str(logs), "--calls", "-o", str(tmp_path / "l"))
    assert (
        status == 2
        and err.strip() == "tokentree: DuckDB is not installed: pip install 'tokentree[team]'"
    )
    status, _, _ = run(
        capsys, "export", str(logs), "--calls", "-o", str(tmp_path / "n"), "--format", "ndjson"
    )
    assert status == 0


@pytest.fixture
def machines(tmp_path: Path) -> dict[str, Path]:
    """Logs of a desk, a server and this laptop: one call is in both the desk's and the
    server's logs, another in the server's and the laptop's."""
    logs = {name: tmp_path / "logs" / name for name in ("desk", "server", "laptop")}
    shared = ("msg_shared", NOV + timedelta(hours=1))
    mine = ("msg_mine", NOV + timedelta(hours=3))
    session(logs["desk"], "d", [("msg_d1", OCT), shared])
    session(logs["server"], "s", [("msg_s1", NOV), shared, mine])
    session(logs["laptop"], "l", [mine, ("msg_l1", NOV + timedelta(days=1))])
    sync = tmp_path / "sync"
    for name in ("desk", "server"):
        workspace = workspace_of(logs[name])
        write_ledger(workspace.index, workspace.scope, sync / name, name)
    return logs | {"sync": sync}


def test_other_machines_merge_into_the_report_each_call_once(
    capsys, machines: dict[str, Path], isolated_home: Path
) -> None:
    config = isolated_home / ".config" / "tokentree" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('machine = "laptop"\n')
    everything = [str(machines[name]) for name in ("desk", "server", "laptop")]
    _, out, _ = run(capsys, "report", *everything, "--by", "month", "--json")
    alone = json.loads(out)
    assert alone["totals"]["calls"] == 5  # 7 calls written, two of them twice

    laptop = str(machines["laptop"])
    _, out, _ = run(
        capsys, "report", laptop, "--with", str(machines["sync"]), "--by", "month", "--json"
    )
    merged = json.loads(out)
    assert merged["schema"] == "tokentree.ledger-report/1"
    assert report_totals(merged) == report_totals(alone)
    assert [row["key"] for row in merged["rows"]] == [row["key"] for row in alone["rows"]]
    for mine, theirs in zip(merged["rows"], alone["rows"], strict=True):
        assert {k: mine[k] for k in SUMMED} == {k: theirs[k] for k in SUMMED}
    assert merged["totals"]["machines"] == 3
    assert [row["machines"] for row in merged["rows"]] == [1, 3]  # October: the desk's alone

    _, out, _ = run(
        capsys, "report", laptop, "--with", str(machines["sync"]), "--by", "machine", "--json"
    )
    by_machine = {row["key"]: row["calls"] for row in json.loads(out)["rows"]}
    assert by_machine == {"desk": 2, "server": 1, "laptop": 2}  # shared: the desk's (by name)

    config.write_text(f'machine = "laptop"\nmachines = ["{machines["sync"]}"]\n')
    _, table, _ = run(capsys, "report", laptop, "--by", "month")
    assert "the total covers 3 machines (desk, laptop, server)" in table
    assert "2026-10 · 1 machine" in table

    config.write_text(
        'machine = "desk"\n'
    )  # the desk's own ledger is left out: its index is fresher
    _, out, _ = run(
        capsys, "report", str(machines["desk"]), "--with", str(machines["sync"]), "--json"
    )
    assert json.loads(out)["machines"] == {"desk": 2, "server": 2}


def test_team_equals_the_sum_of_each_persons_report(tmp_path: Path, capsys) -> None:
    logs = tmp_path / "logs"
    session(logs / "alice", "a", [("msg_a1", OCT), ("msg_a2", NOV)])
    session(logs / "bob-laptop", "b", [("msg_b1", NOV), ("msg_b2", NOV + timedelta(hours=2))])
    session(logs / "bob-desk", "c", [("msg_c1", NOV + timedelta(days=2))])
    team = tmp_path / "team"
    for person, machine, folders in (
        ("alice", "mbp", ["alice"]),
        ("bob", "laptop", ["bob-laptop"]),
        ("bob", "desk", ["bob-desk"]),
    ):
        workspace = workspace_of(*(logs / folder for folder in folders))
        write_ledger(workspace.index, workspace.scope, team / person / machine, machine, "parquet")
    shutil.copytree(team / "alice" / "mbp", tmp_path / "copy-of-alice" / "mbp")  # same calls again

    people = {
        "alice": report_of(capsys, logs / "alice"),
        "bob": report_of(capsys, logs / "bob-laptop", logs / "bob-desk"),
    }
    status, out, _ = run(
        capsys,
        "team",
        str(team / "alice"),
        str(team / "bob"),
        str(tmp_path / "copy-of-alice"),
        "--json",
    )
    assert status == 0
    document = json.loads(out)
    rows = {row["key"]: row for row in document["rows"]}
    assert set(rows) == {"alice", "bob"}  # the copy's calls are alice's: counted once
    for person, expected in people.items():
        assert report_totals({"totals": rows[person]}) == report_totals(expected)
    assert report_totals(document) == sums([people["alice"]["totals"], people["bob"]["totals"]])
    assert rows["bob"]["machines"] == 2 and document["totals"]["people"] == 2

    _, out, _ = run(
        capsys, "team", str(team / "alice"), str(team / "bob"), "--by", "month", "--json"
    )
    months = {row["key"]: row["calls"] for row in json.loads(out)["rows"]}
    assert months == {"2026-10": 1, "2026-11": 4}
    _, table, _ = run(capsys, "team", str(team / "alice"), str(team / "bob"))
    assert "the total covers 3 machines of 2 people (desk, laptop, mbp)" in table
    status, _, err = run(capsys, "team", str(tmp_path / "logs"))
    assert status == 2 and "no call ledger in" in err


def report_of(capsys, *paths: Path) -> dict[str, Any]:
    _, out, _ = run(capsys, "report", *map(str, paths), "--json", "--no-cache")
    return json.loads(out)


@pytest.mark.spark
def test_team_on_spark_equals_duckdb(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyspark")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("Spark needs Java")
    workspace = open_workspace(Choices(demo=True, use_cache=False))
    write_ledger(workspace.index, workspace.scope, tmp_path / "ann" / "laptop", "laptop")
    session(tmp_path / "logs", "b", [("msg_b1", OCT), ("msg_b2", NOV)])
    ben = workspace_of(tmp_path / "logs")
    write_ledger(ben.index, ben.scope, tmp_path / "ben" / "desk", "desk", "ndjson")
    people = [str(tmp_path / "ann"), str(tmp_path / "ben")]
    for group in ("person", "week", "model", "machine"):
        _, out, _ = run(capsys, "team", *people, "--by", group, "--json")
        duck = json.loads(out)
        _, out, _ = run(capsys, "team", *people, "--by", group, "--json", "--engine", "spark")
        spark = json.loads(out)
        assert spark["engine"] == "spark" and duck["engine"] == "duckdb"
        assert [row["key"] for row in spark["rows"]] == [row["key"] for row in duck["rows"]]
        for left, right in zip(spark["rows"], duck["rows"], strict=True):
            assert left | {"cost_usd": 0} == right | {"cost_usd": 0}
            assert left["cost_usd"] == pytest.approx(right["cost_usd"], abs=1e-6)
        assert spark["machines"] == duck["machines"]
