"""The command line as a script sees it: exact JSON shapes, clear errors, no tracebacks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import (
    OpenCodeStore,
    claude_call,
    claude_prompt,
    codex_context,
    codex_meta,
    codex_tokens,
    gemini_meta,
    gemini_prompt,
    gemini_reply,
    gemini_usage,
    opencode_usage,
)
from tests.builders import write as write_lines
from tests.conftest import REAL_SAMPLES
from tokentree.cli import main
from tokentree.core.schemas import ExportDocument, ReportDocument

ROOT = Path(__file__).parent.parent
T0 = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def home_logs(isolated_home: Path) -> Path:
    """A Claude Code session across UTC midnight and a Codex session with an unpriced model."""
    project = isolated_home / ".claude" / "projects" / "-home-dev-atlas"
    write_lines(
        project / "s1.jsonl",
        claude_prompt(T0),
        claude_call(
            "msg_1",
            T0 + timedelta(minutes=1),
            input=100,
            cache_write=1000,
            cache_read=5000,
            output=200,
        ),
        claude_call(
            "msg_2",
            T0 + timedelta(minutes=50),
            input=50,
            cache_read=6000,
            output=300,
            tools=(("Read", {"file_path": "/x/app.py"}),),
        ),
    )
    codex = isolated_home / ".codex" / "sessions" / "2026" / "11" / "21"
    write_lines(
        codex / "rollout-2026-11-21T10-00-00-abc.jsonl",
        codex_meta("abc", T0 + timedelta(hours=10)),
        codex_context(T0 + timedelta(hours=10), model="gpt-oss-120b-local"),
        codex_tokens(T0 + timedelta(hours=10, minutes=1), (1000, 400, 60, 20)),
    )
    return isolated_home


def test_report_json_has_the_documented_shape_and_exact_totals(capsys, home_logs) -> None:
    status, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--by", "day")
    assert status == 0
    document = json.loads(out)
    ReportDocument.model_validate(document)
    assert [row["key"] for row in document["rows"]] == ["2026-11-20", "2026-11-21"]
    assert document["totals"] | {"cost_usd": 0} == {
        "calls": 3,
        "input": 750,
        "cache_write": 1000,
        "cache_read": 11400,
        "output": 560,
        "reasoning": 20,
        "total": 13710,
        "cost_usd": 0,
        "cache_hit": round(11400 / 13150, 6),
        "unpriced_calls": 1,
        "cache_waste_usd": 0.0,  # msg_2's history came back as cache reads
    }
    sonnet = (100 * 3 + 1000 * 3.75 + 5000 * 0.3 + 200 * 15 + 50 * 3 + 6000 * 0.3 + 300 * 15) / 1e6
    assert document["totals"]["cost_usd"] == pytest.approx(sonnet, abs=1e-6)


def test_report_days_follow_tz(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "report", "--json", "--tz", "America/Los_Angeles")
    assert [row["key"] for row in json.loads(out)["rows"]] == ["2026-11-20", "2026-11-21"]
    _, out, _ = run(capsys, "report", "--json", "--tz", "Asia/Tokyo", "--by", "week")
    assert [row["key"] for row in json.loads(out)["rows"]] == ["2026-W47"]


def test_report_by_month_follows_tz(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--by", "month")
    document = json.loads(out)
    ReportDocument.model_validate(document)
    assert [(row["key"], row["calls"]) for row in document["rows"]] == [("2026-11", 3)]


def test_report_by_session_names_each_session(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--by", "session")
    document = json.loads(out)
    ReportDocument.model_validate(document)
    claude = next(row for row in document["rows"] if row["key"].startswith("claude-code"))
    assert claude["project"] == "/home/dev/atlas" and claude["calls"] == 2
    assert claude["start"] == "2026-11-20T23:31:00Z" and claude["end"] == "2026-11-21T00:20:00Z"
    assert (
        claude["label"] == f"claude-code · atlas · {claude['key'].split()[1][:8]} 2026-11-20 23:31"
    )
    _, table, _ = run(capsys, "report", "--tz", "UTC", "--by", "session")
    assert claude["label"] in table


def test_version_and_help_name_every_source(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("tokentree ")
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # wrapped at a dash
    assert "Claude Code, Codex, Gemini CLI and OpenCode" in text
    assert "claude-code, claude, codex, gemini-cli, gemini, opencode" in text


def test_report_table_marks_unpriced_costs(capsys, home_logs) -> None:
    status, out, _ = run(capsys, "report", "--by", "source", "--tz", "UTC")
    assert status == 0
    codex_line = next(line for line in out.splitlines() if line.startswith("codex"))
    assert codex_line.rstrip().endswith("unpriced")
    assert "lower bound: 1 calls used models with no known price" in out
    assert "$0 " not in out and not out.rstrip().endswith("$0")


def test_since_and_until_are_local_days(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--since", "2026-11-21")
    assert json.loads(out)["totals"]["calls"] == 2
    _, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--until", "2026-11-20")
    assert json.loads(out)["totals"]["calls"] == 1


def test_explicit_paths_and_source_override_discovery(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "report", "--json", "--by", "source", str(REAL_SAMPLES))
    rows = {row["key"]: row["calls"] for row in json.loads(out)["rows"]}
    assert rows == {"claude-code": 49, "codex": 27, "gemini-cli": 14}
    _, out, _ = run(capsys, "report", "--json", "--source", "codex", "--by", "source")
    assert [row["key"] for row in json.loads(out)["rows"]] == ["codex"]


def test_report_by_source_shows_all_four_assistants(capsys, home_logs, tmp_path) -> None:
    """Gemini CLI and OpenCode logs in their default places join the same report and tree."""
    chats = home_logs / ".gemini" / "tmp" / "atlas" / "chats"
    write_lines(
        chats / "session-2026-11-21T08-00-7d9e3c1a.jsonl",
        gemini_meta("7d9e3c1a-55aa-4bb2-9c1d-0123456789ab", T0 + timedelta(hours=8)),
        gemini_prompt("u1", T0 + timedelta(hours=8)),
        gemini_reply("g1", T0 + timedelta(hours=8, minutes=1), gemini_usage(5000, 4000, 100, 50)),
    )
    store = OpenCodeStore(home_logs / ".local" / "share" / "opencode")
    store.session("ses_1", T0 + timedelta(hours=9))
    store.user("msg_1", "ses_1", T0 + timedelta(hours=9))
    store.assistant(
        "msg_2", "ses_1", T0 + timedelta(hours=9, minutes=1), [opencode_usage(300, 40, read=2000)]
    )
    store.close()
    status, out, _ = run(capsys, "report", "--json", "--tz", "UTC", "--by", "source")
    assert status == 0
    document = json.loads(out)
    ReportDocument.model_validate(document)
    rows = {
        row["key"]: (row["calls"], row["input"], row["cache_read"], row["output"])
        for row in document["rows"]
    }
    assert rows == {
        "claude-code": (2, 150, 11000, 500),
        "codex": (1, 600, 400, 60),
        "gemini-cli": (1, 1000, 4000, 150),
        "opencode": (1, 300, 2000, 40),
    }
    _, out, _ = run(capsys, "report", "--tz", "UTC", "--by", "source")
    names = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"claude-code", "codex", "gemini-cli", "opencode"} <= names
    _, out, _ = run(capsys, "report", "--json", "--source", "gemini", "--by", "source")
    assert [row["key"] for row in json.loads(out)["rows"]] == ["gemini-cli"]
    target = tmp_path / "all.json"
    assert run(capsys, "export", "--tz", "UTC", "-o", str(target))[0] == 0
    document = json.loads(target.read_text())
    ExportDocument.model_validate(document)
    sessions = {
        session["source"]: session["project"]
        for week in document["root"]["children"]
        for day in week["children"]
        for session in day["children"]
    }
    assert sessions["gemini-cli"] == "atlas" and sessions["opencode"] == "/home/dev/shop"


def test_export_writes_a_subtree_and_never_clobbers(capsys, home_logs, tmp_path) -> None:
    target = tmp_path / "out.json"
    status, _, err = run(
        capsys, "export", "--tz", "UTC", "--node", "2026-W47/2026-11-20", "-o", str(target)
    )
    assert status == 0 and "wrote" in err
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    document = json.loads(target.read_text())
    ExportDocument.model_validate(document)
    day = document["root"]
    assert (day["kind"], day["calls"], day["output"]) == ("day", 1, 200)
    [session] = day["children"]
    assert session["source"] == "claude-code" and session["project"] == "/home/dev/atlas"
    assert session["children"][0]["children"][0]["kind"] == "call"
    status, _, err = run(capsys, "export", "--tz", "UTC", "-o", str(target))
    assert status == 2 and "already exists" in err
    assert json.loads(target.read_text())["node_path"] == "2026-W47/2026-11-20"
    assert run(capsys, "export", "--tz", "UTC", "-o", str(target), "--force")[0] == 0
    assert json.loads(target.read_text())["root"]["calls"] == 3


def test_export_has_no_prompt_or_file_text(capsys, home_logs) -> None:
    _, out, _ = run(capsys, "export", "--tz", "UTC")
    assert "do the thing" not in out and "/x/app.py" not in out
    assert "Read app.py" in out


def test_schemas_are_printed(capsys) -> None:
    for command in ("report", "export"):
        status, out, _ = run(capsys, command, "--schema")
        assert status == 0 and json.loads(out)["type"] == "object"


def test_diagnostics_list_skipped_lines(capsys, home_logs) -> None:
    bad = home_logs / ".claude" / "projects" / "-home-dev-atlas" / "broken.jsonl"
    bad.write_bytes(b'{"type":"assistant","usage":\n')
    _, _, err = run(capsys, "report")
    assert "skipped 1 unreadable lines in 1 files" in err
    _, _, err = run(capsys, "report", "--diagnostics")
    assert f"{bad} [claude-code]: 1 × malformed JSON" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["report", "/no/such/folder"], "no such file or folder"),
        (["report", "--source", "cursor"], "unknown source"),
        (["export", "--node", "1999-W01"], "no node at"),
        (["report", "--since", "2026-11-22", "--until", "2026-11-01"], "--since is after"),
    ],
)
def test_bad_input_gets_a_clear_message(capsys, home_logs, args, message) -> None:
    status, _, err = run(capsys, *args)
    assert status == 2 and message in err and "Traceback" not in err


def test_a_corrupt_index_is_rebuilt_with_one_line(capsys, home_logs) -> None:
    run(capsys, "report")
    index = home_logs / ".cache" / "tokentree" / "index.sqlite"
    assert index.exists()
    index.write_bytes(b"\x00garbage" * 64)
    status, out, err = run(capsys, "report", "--json")
    assert status == 0 and json.loads(out)["totals"]["calls"] == 3
    assert len([line for line in err.splitlines() if "rebuilt" in line]) == 1


def test_no_cache_leaves_no_index(capsys, home_logs) -> None:
    assert run(capsys, "report", "--no-cache")[0] == 0
    assert not (home_logs / ".cache" / "tokentree").exists()


def test_a_warm_report_imports_neither_the_ui_nor_pricing_nor_pydantic(home_logs) -> None:
    """Costs are stored in the index, so the warm path stays light (nor the advice rules)."""
    subprocess.run([sys.executable, "-m", "tokentree", "report"], check=True, capture_output=True)
    code = (
        "import sys, tokentree.cli as c; c.main(['report', '--json']);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'textual', 'genai_prices', 'pydantic'}) + "
        "sorted({'tokentree.core.advice'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:sh|bash)\n(.*?)```", readme, re.S)
    test_command = next(c.strip() for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
