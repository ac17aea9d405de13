"""Claude Code sessions as 2.1.2xx writes them (FORMATS.md §9.1): an advisor and a compaction
billed as steps of their own, a fallback to another model, thinking tokens, fast mode, and
cache misses the cache diagnosis names a cause for."""

from __future__ import annotations

import re
from typing import Any

from tokentree.synthetic_2026.files import Files, iso

SOURCE = "claude-code"
VERSION = "2.1.251"
SONNET, OPUS, ADVISOR = "claude-sonnet-4-6", "claude-opus-4-8", "claude-opus-4-7"

Counts = tuple[int, int, int, int]
"""input, cache write (1 h), cache read, output: one request's usage."""


def write(files: Files) -> None:
    _ledger_fix(files)
    _chart_speedup(files)
    _exporter_migration(files)


def _counts(counts: Counts) -> dict[str, Any]:
    fresh, written, read, output = counts
    return {
        "input_tokens": fresh,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": written},
        "output_tokens": output,
    }


def _step(kind: str, counts: Counts, model: str | None = None) -> dict[str, Any]:
    """One entry of `usage.iterations`."""
    return {"type": kind, **_counts(counts), **({"model": model} if model else {})}


class _Session:
    """One transcript: prompts, calls (a line per content block) and tool results."""

    def __init__(self, files: Files, cwd: str, branch: str, slug: str, start: int) -> None:
        self.files = files
        self.t = start
        self.cwd = cwd
        self.head: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": False,
            "userType": "external",
            "cwd": cwd,
            "sessionId": files.ids.uuid(),
            "version": VERSION,
            "gitBranch": branch,
            "slug": slug,
        }
        self.lines: list[dict[str, Any]] = []

    def _line(self, kind: str, seconds: float, **fields: Any) -> None:
        self.t += int(seconds * 1000)
        parent = self.lines[-1]["uuid"] if self.lines else None
        line = {**self.head, "parentUuid": parent, "type": kind, **fields}
        line |= {"uuid": self.files.ids.uuid(), "timestamp": iso(self.t)}
        self.lines.append(line)

    def prompt(self, seconds: float, text: str) -> None:
        self._line("user", seconds, message={"role": "user", "content": text})

    def call(
        self,
        seconds: float,
        model: str,
        blocks: list[dict[str, Any]],
        counts: Counts | None = None,
        *,
        steps: tuple[dict[str, Any], ...] = (),
        thinking: int = 0,
        speed: str = "standard",
        miss: tuple[str, int] | None = None,
    ) -> None:
        """A response; without `counts` its top level is the sum of its `message` (or
        `fallback_message`) steps, as the API reports it."""
        served = [s for s in steps if s["type"] in ("message", "fallback_message")]
        keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        fresh, written, read, output = counts or tuple(
            sum(s[k] for s in served) for k in (*keys, "output_tokens")
        )
        usage = _counts((fresh, written, read, output))
        usage |= {"service_tier": "standard", "inference_geo": "not_available", "speed": speed}
        if thinking:
            usage["output_tokens_details"] = {"thinking_tokens": thinking}
        if steps:
            usage["iterations"] = list(steps)
        message: dict[str, Any] = {
            "model": model,
            "id": self.files.ids.tag("msg_01", 22),
            "type": "message",
            "role": "assistant",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        if miss is not None:
            reason, missed = miss
            message["diagnostics"] = {
                "cache_miss_reason": {"type": reason, "cache_missed_input_tokens": missed}
            }
        extra = {"advisorModel": ADVISOR} if any(s.get("model") == ADVISOR for s in steps) else {}
        request = self.files.ids.tag("req_011C", 20)
        for number, block in enumerate(blocks):
            last = number == len(blocks) - 1
            stop = ("tool_use" if block["type"] == "tool_use" else "end_turn") if last else None
            content = {**message, "content": [block], "stop_reason": stop}
            self._line("assistant", 0.4 if number else seconds, message=content, requestId=request)
            self.lines[-1].update(extra)
        self.files.call(SOURCE, fresh, written, read, output, thinking)
        for s in steps:
            if s["type"] in ("advisor_message", "compaction"):
                self.files.call(
                    SOURCE,
                    s["input_tokens"],
                    s["cache_creation_input_tokens"],
                    s["cache_read_input_tokens"],
                    s["output_tokens"],
                )

    def tool_result(self, seconds: float, text: str) -> None:
        """The result of the tool the last call asked for."""
        asked = self.lines[-1]["message"]["content"][0]
        block = {"tool_use_id": asked["id"], "type": "tool_result", "content": text}
        self._line(
            "user",
            seconds,
            message={"role": "user", "content": [block | {"is_error": False}]},
            toolUseResult={"stdout": text, "stderr": "", "interrupted": False},
            sourceToolAssistantUUID=self.lines[-1]["uuid"],
        )

    def tool(self, name: str, **arguments: Any) -> dict[str, Any]:
        return {
            "type": "tool_use",
            "id": self.files.ids.tag("toolu_01", 22),
            "name": name,
            "input": arguments,
        }

    def save(self) -> None:
        folder = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)
        self.files.jsonl(f"claude/projects/{folder}/{self.head['sessionId']}.jsonl", self.lines)


def _thought(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": "EqQBCkYIBxgCKkB" + "x" * 24}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _ledger_fix(files: Files) -> None:
    """Sonnet consults an Opus advisor; then an MCP server is connected a minute later, which
    changes the tools and rewrites the whole cached prompt."""
    s = _Session(
        files,
        "/home/dev/src/atlas",
        "fix/retry-loop",
        "quiet-humming-ledger",
        files.at(2, 10, 4, 12),
    )
    s.prompt(0, "the retry loop in the ledger sync double-counts refunds; find out why and fix it")
    read = s.tool("Read", file_path="/home/dev/src/atlas/atlas/ledger/sync.py")
    s.call(
        3.1,
        SONNET,
        [_thought("Start with the sync loop."), read],
        (3, 10_110, 14_200, 690),
        thinking=412,
    )
    s.tool_result(0.2, "   1\timport logging\n   2\tfrom atlas.ledger import refunds\n")
    edit = s.tool("Edit", file_path="/home/dev/src/atlas/atlas/ledger/sync.py", old_string="x")
    steps = (
        _step("message", (1, 2_900, 24_300, 40)),
        _step("advisor_message", (31_540, 0, 0, 1_960), ADVISOR),
        _step("message", (1, 280, 27_200, 610)),
    )
    s.call(7.5, SONNET, [_text("Asking the advisor before I change the retry."), edit], steps=steps)
    s.tool_result(0.3, "The file has been updated.")
    test = s.tool("Bash", command="pytest -q tests/ledger", description="run the ledger tests")
    s.call(4.2, SONNET, [test], (4, 1_420, 27_480, 230))
    s.tool_result(6.8, "........ 8 passed in 1.92s")
    s.call(
        3.0,
        SONNET,
        [_text("Fixed: a retried page re-applied its refunds.")],
        (2, 650, 28_900, 410),
        thinking=120,
    )
    s.prompt(96, "also add a regression test for the double refund")
    write_test = s.tool("Write", file_path="/home/dev/src/atlas/tests/ledger/test_refunds.py")
    s.call(4.4, SONNET, [write_test], (6, 30_940, 0, 1_180), miss=("tools_changed", 29_870))
    s.tool_result(0.2, "File created successfully.")
    s.call(2.6, SONNET, [_text("Added test_a_retried_page_refunds_once.")], (3, 1_220, 30_946, 540))
    s.save()


def _chart_speedup(files: Files) -> None:
    """Opus 4.8 in fast mode; one answer served by Sonnet after a fallback (a new model, so
    its cache missed), and CLAUDE.md edited between two prompts."""
    s = _Session(
        files,
        "/home/dev/src/web-dashboard",
        "feat/usage-page",
        "bright-swift-chart",
        files.at(1, 15, 30, 40),
    )
    s.prompt(0, "the usage chart re-renders on every keystroke; memoise it")
    read = s.tool("Read", file_path="/home/dev/src/web-dashboard/src/charts/UsageChart.tsx")
    s.call(
        2.4,
        OPUS,
        [_thought("Find what changes identity."), read],
        (5, 21_000, 12_400, 880),
        thinking=530,
        speed="fast",
    )
    s.tool_result(0.1, "   1\timport { useMemo } from 'react'\n")
    edit = s.tool("Edit", file_path="/home/dev/src/web-dashboard/src/charts/UsageChart.tsx")
    s.call(
        3.3,
        OPUS,
        [_thought("Wrap the series in useMemo."), edit],
        (1, 2_300, 33_400, 1_240),
        thinking=310,
        speed="fast",
    )
    s.tool_result(0.2, "The file has been updated.")
    test = s.tool("Bash", command="npm test -- UsageChart", description="run the chart tests")
    fallback = (_step("fallback_message", (4, 37_020, 0, 380), SONNET),)
    s.call(5.1, OPUS, [test], steps=fallback, miss=("model_changed", 36_100))
    s.tool_result(9.4, "Tests: 12 passed, 12 total")
    s.call(
        2.2,
        OPUS,
        [_text("Memoised the series and the axis ticks.")],
        (2, 1_900, 35_600, 620),
        thinking=200,
        speed="fast",
    )
    s.prompt(150, "I updated CLAUDE.md with our hook rules; check the chart against them")
    s.call(
        3.8,
        OPUS,
        [_thought("Re-read the rules."), _text("Checked.")],
        (6, 29_350, 9_800, 760),
        thinking=240,
        speed="fast",
        miss=("system_changed", 28_400),
    )
    s.call(
        2.9,
        OPUS,
        [_text("It follows them: no hooks in loops.")],
        (2, 700, 39_156, 450),
        thinking=90,
        speed="fast",
    )
    s.save()


def _exporter_migration(files: Files) -> None:
    """A long migration: big reads, an advisor on the plan, then the API compacts the context
    in the same request (the compaction billed apart, at the response's model)."""
    s = _Session(
        files,
        "/home/dev/src/billing-api",
        "feat/export",
        "patient-mapping-heron",
        files.at(0, 9, 10, 3),
    )
    s.prompt(0, "migrate the invoice exporter to the new ledger schema")
    read = s.tool("Read", file_path="/home/dev/src/billing-api/billing/export/invoices.py")
    s.call(
        2.7,
        SONNET,
        [_thought("Read the exporter first."), read],
        (4, 61_200, 14_300, 520),
        thinking=180,
    )
    s.tool_result(0.3, "   1\tfrom billing.ledger import Ledger\n")
    grep = s.tool("Grep", pattern="LedgerEntry", path="/home/dev/src/billing-api")
    s.call(3.6, SONNET, [grep], (2, 48_800, 75_504, 610))
    s.tool_result(0.4, "billing/ledger/models.py:12:class LedgerEntry:")
    plan = s.tool("TodoWrite", todos=[{"content": "map the columns", "status": "in_progress"}])
    steps = (
        _step("message", (1, 1_100, 124_306, 30)),
        _step("advisor_message", (126_900, 0, 0, 2_480), ADVISOR),
        _step("message", (1, 540, 125_406, 820)),
    )
    s.call(6.2, SONNET, [_text("Checking the plan with the advisor."), plan], steps=steps)
    s.tool_result(0.1, "Todos have been modified successfully.")
    edit = s.tool("Edit", file_path="/home/dev/src/billing-api/billing/export/invoices.py")
    steps = (
        _step("compaction", (2_100, 0, 125_946, 4_180)),
        _step("message", (3, 9_400, 14_300, 690)),
    )
    s.call(
        21.5, SONNET, [_thought("Context compacted; continue."), edit], steps=steps, thinking=210
    )
    s.tool_result(0.2, "The file has been updated.")
    s.call(3.1, SONNET, [_text("The exporter reads the new schema.")], (2, 1_200, 23_703, 380))
    s.save()
