"""`tokentree import` and `report --receipts`: chat apps as estimated sources, end to end."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.builders import claude_call, claude_prompt
from tests.builders import write as write_lines
from tests.chat_exports import (
    SECRET_WORD,
    T0,
    chatgpt_conversations,
    claude_ai_conversations,
    write_export,
)
from tokentree.cli import main
from tokentree.core.schemas import ReportDocument


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def imported(capsys, isolated_home: Path, tmp_path: Path) -> Path:
    """A Claude Code call on 2026-11-20, then both apps' exports imported (ChatGPT's twice)."""
    write_lines(
        isolated_home / ".claude" / "projects" / "-home-dev-atlas" / "s1.jsonl",
        claude_prompt(T0),
        claude_call("msg_1", T0 + timedelta(minutes=1), input=100, output=200),
    )
    gpt = write_export(tmp_path / "exports" / "chatgpt.zip", chatgpt_conversations())
    claude = write_export(tmp_path / "exports" / "claude.zip", claude_ai_conversations())
    status, out, _ = run(capsys, "import", "chatgpt", str(gpt))
    assert status == 0 and "2 conversations, 4 replies (4 new)" in out
    assert "~53 input and ~35 output tokens" in out
    status, out, _ = run(capsys, "report", "--json", "--source", "chatgpt")
    assert status == 0 and json.loads(out)["totals"]["calls"] == 4  # indexed once already
    status, out, _ = run(capsys, "import", "chatgpt", str(gpt))
    assert status == 0 and "(0 new)" in out
    status, out, _ = run(capsys, "import", "claude-ai", str(claude))
    assert status == 0 and "1 conversations, 2 replies (2 new)" in out
    return isolated_home


def test_imported_apps_are_sources_of_estimated_counts(capsys, imported: Path) -> None:
    status, out, _ = run(capsys, "report", "--json", "--by", "source")
    assert status == 0
    document = json.loads(out)
    ReportDocument.model_validate(document)
    rows = {row["key"]: row for row in document["rows"]}
    assert set(rows) == {"claude-code", "chatgpt", "claude-ai"}
    assert (rows["chatgpt"]["calls"], rows["chatgpt"]["input"], rows["chatgpt"]["output"]) == (
        4,
        53,
        35,
    )  # imported twice, counted once
    assert (rows["claude-ai"]["input"], rows["claude-ai"]["output"]) == (26, 10)
    assert rows["claude-ai"]["reasoning"] == 5
    assert rows["claude-ai"]["unpriced_calls"] == 2  # the export names no model: never $0
    assert rows["chatgpt"]["unpriced_calls"] == 1 and rows["chatgpt"]["cost_usd"] > 0


def test_no_message_text_reaches_the_index_or_the_counts(capsys, imported: Path) -> None:
    run(capsys, "report", "--json")
    found = [
        path
        for path in imported.rglob("*")
        if path.is_file() and SECRET_WORD.encode() in path.read_bytes()
    ]
    assert found == []
    counts = list(imported.rglob("counts.jsonl"))
    assert len(counts) == 2 and (imported / ".cache" / "tokentree" / "index.sqlite").exists()


def test_receipts_put_exact_and_estimated_side_by_side(capsys, imported: Path) -> None:
    status, out, _ = run(capsys, "report", "--by", "day", "--receipts", "--json", "--tz", "UTC")
    assert status == 0
    document = json.loads(out)
    ReportDocument.model_validate(document)
    receipts = document["receipts"]
    assert [
        (r["period"], r["source"], r["kind"], r["calls"], r["tokens"]) for r in receipts["rows"]
    ] == [
        ("2026-11-20", "claude-code", "exact", 1, 300),
        ("2026-11-20", "chatgpt", "estimated", 3, 62),
        ("2026-11-20", "claude-ai", "estimated", 2, 36),
        ("2026-11-21", "chatgpt", "estimated", 1, 26),
    ]
    first = receipts["periods"][0]
    assert first["period"] == "2026-11-20"
    assert (first["exact"]["tokens"], first["estimated"]["tokens"]) == (300, 98)
    assert first["estimated"]["unpriced_calls"] == 2
    totals = receipts["totals"]
    assert (totals["exact"]["calls"], totals["estimated"]["calls"]) == (1, 6)
    assert (totals["exact"]["tokens"], totals["estimated"]["tokens"]) == (300, 124)
    assert receipts["chars_per_token"] == 4


def test_receipts_in_text_mark_every_estimate(capsys, imported: Path) -> None:
    status, out, _ = run(capsys, "report", "--by", "day", "--receipts", "--tz", "UTC")
    assert status == 0
    receipts = out[out.index("Exact tokens") - 40 :]
    rows = [line for line in receipts.splitlines() if "chatgpt" in line or "claude-ai" in line]
    assert len(rows) == 3 and all("~" in row for row in rows)
    assert any("unpriced" in row for row in rows)  # claude.ai: no model, no price
    claude = next(line for line in receipts.splitlines() if "claude-code" in line)
    assert "~" not in claude and "300" in claude
    assert "4 characters a token" in receipts


def test_receipts_list_periods_only(capsys, imported: Path) -> None:
    status, _, err = run(capsys, "report", "--by", "source", "--receipts")
    assert status == 2 and "--by day" in err


def test_an_export_without_conversations_is_a_usage_error(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nothing.zip"
    status, _, err = run(capsys, "import", "chatgpt", str(missing))
    assert status == 2 and "no such file" in err
    wrong = write_export(tmp_path / "claude.zip", claude_ai_conversations())
    status, _, err = run(capsys, "import", "chatgpt", str(wrong))
    assert status == 2 and "no chatgpt conversations" in err
    with pytest.raises(SystemExit) as exit:
        main(["import", "bard", str(wrong)])
    assert exit.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_the_plain_report_flags_the_estimates_in_its_totals(capsys, imported: Path) -> None:
    status, out, _ = run(capsys, "report", "--by", "day")
    assert status == 0
    assert "~ includes 6 estimated calls (chatgpt, claude-ai:" in out
    _, out, _ = run(capsys, "report", "--by", "day", "--source", "claude-code")
    assert "estimated calls" not in out


def test_the_overview_puts_exact_and_estimated_side_by_side_per_day(capsys, imported) -> None:
    """The overview's days (summed by the index) agree with the receipts' per-day split."""
    status, out, _ = run(capsys, "report", "--by", "day", "--receipts", "--overview", "--json")
    assert status == 0
    document = json.loads(out)
    ReportDocument.model_validate(document)
    overview, periods = document["overview"], document["receipts"]["periods"]
    assert [row["day"] for row in overview["side_by_side"]] == ["2026-11-20", "2026-11-21"]
    for row, period in zip(overview["side_by_side"], periods, strict=True):
        for kind in ("exact", "estimated"):
            assert row[kind]["calls"] == period[kind]["calls"]
            assert row[kind]["tokens"] == period[kind]["tokens"]
            assert row[kind]["cost_usd"] == pytest.approx(period[kind]["cost_usd"])
    assert (overview["estimated"]["calls"], overview["estimated"]["tokens"]) == (6, 124)
    assert overview["calls"] == 7 and overview["tokens"] == 424  # counted in the totals too
    status, out, _ = run(capsys, "report", "--overview", "--tz", "UTC")
    text = out[out.index("Overview  ") :]
    assert "estimated: ~124 tokens" in " ".join(text.split("\n\n")[0].split())  # the header
    table = text[text.index("Exact and estimated, per day") :].splitlines()
    assert table[2].split()[:2] == ["2026-11-20", "300"] and "~98" in table[2]
    assert table[3].split()[:2] == ["2026-11-21", "–"] and "~26" in table[3]
    assert table[4].split()[:2] == ["range", "300"] and "~124" in table[4]


def test_an_overview_without_estimates_has_no_side_by_side(capsys, imported) -> None:
    status, out, _ = run(capsys, "report", "--overview", "--json", "--source", "claude-code")
    overview = json.loads(out)["overview"]
    assert overview["side_by_side"] == [] and overview["estimated"]["calls"] == 0
    _, out, _ = run(capsys, "report", "--overview", "--source", "claude-code")
    assert "Exact and estimated" not in out and "estimated:" not in out
