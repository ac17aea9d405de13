"""Codex rollouts as 0.148–0.153 write them (FORMATS.md §9.2): cache writes, one
token_usage_record per response beside its token_count, the service tier set with /fast, and
a rollout a week old compressed to `.jsonl.zst` (its plain file gone)."""

from __future__ import annotations

import time
from typing import Any

import zstandard

from tokentree.synthetic_2026.files import Files, iso, lines

SOURCE = "codex"
CWD = "/home/dev/src/billing-api"

Usage = tuple[int, int, int, int, int]
"""input (cached and written parts included), cached, cache write, output, reasoning."""


def write(files: Files) -> None:
    _tiered(files)
    _compressed(files)


def _usage(usage: Usage) -> dict[str, int]:
    fresh, cached, written, output, reasoning = usage
    return {
        "input_tokens": fresh,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": written,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": fresh + output,
    }


class _Rollout:
    """One rollout file: its items, the thread's running totals, and the tally of calls."""

    def __init__(self, files: Files, start: int, cli: str, model: str) -> None:
        self.files = files
        self.start = self.t = start
        self.thread = files.ids.uuid7(start)
        self.model = model
        self.items: list[dict[str, Any]] = []
        self.total: Usage = (0, 0, 0, 0, 0)
        self.turn = ""
        self.emit(0, "session_meta", id=self.thread, timestamp=iso(start), cwd=CWD)
        self.items[-1]["payload"] |= {
            "originator": "codex_cli_rs",
            "cli_version": cli,
            "source": "cli",
            "model_provider": "openai",
        }

    def emit(self, seconds: float, kind: str, **payload: Any) -> None:
        self.t += int(seconds * 1000)
        self.items.append({"timestamp": iso(self.t), "type": kind, "payload": payload})

    def prompt(self, seconds: float, text: str) -> None:
        self.turn = self.files.ids.uuid7(self.t)
        self.emit(seconds, "event_msg", type="user_message", message=text, images=[])
        self.emit(0.01, "turn_context", cwd=CWD, approval_policy="on-request", model=self.model)
        self.items[-1]["payload"] |= {"effort": "medium", "summary": "auto"}

    def settings(self, seconds: float, tier: str) -> None:
        """`/fast` and friends: written when the thread's settings change."""
        applied = {"model": self.model, "model_provider_id": "openai", "service_tier": tier}
        applied |= {"reasoning_effort": "medium", "cwd": CWD, "approval_policy": "on-request"}
        self.emit(seconds, "event_msg", type="thread_settings_applied", thread_settings=applied)

    def shell(self, seconds: float, command: str, output: str) -> None:
        call = f"call_{self.files.ids.tag('', 24)}"
        arguments = f'{{"command":["bash","-lc","{command}"],"workdir":"{CWD}"}}'
        self.emit(seconds, "response_item", type="function_call", name="shell", call_id=call)
        self.items[-1]["payload"]["arguments"] = arguments
        self.emit(0.6, "response_item", type="function_call_output", call_id=call, output=output)

    def count(self, seconds: float, usage: Usage) -> None:
        """A token_count snapshot: the thread's running total and this response's usage."""
        fresh, cached, written, output, reasoning = (
            before + now for before, now in zip(self.total, usage, strict=True)
        )
        self.total = (fresh, cached, written, output, reasoning)
        info = {
            "total_token_usage": _usage(self.total),
            "last_token_usage": _usage(usage),
            "model_context_window": 272_000,
        }
        limits = {
            "limit_id": "codex",
            "primary": {
                "used_percent": 12.0,
                "window_minutes": 300,
                "resets_at": self.t // 1000 + 9_000,
            },
            "secondary": {
                "used_percent": 31.0,
                "window_minutes": 10_080,
                "resets_at": self.t // 1000 + 260_000,
            },
            "plan_type": "plus",
        }
        self.emit(seconds, "event_msg", type="token_count", info=info, rate_limits=limits)

    def record(self, seconds: float, usage: Usage, tier: str | None) -> None:
        """The response's own billing record (0.151+); the tier is left out when standard."""
        attribution: dict[str, Any] = {"model": self.model, "model_provider": "openai"}
        if tier is not None:
            attribution["service_tier"] = tier
        self.emit(
            seconds,
            "token_usage_record",
            thread_id=self.thread,
            turn_id=self.turn,
            session_id=self.thread,
            root_turn_id=self.turn,
            response_id=f"resp_{self.files.ids.hex(32)}",
            usage=_usage(usage),
            turn_token_usage=_usage(usage),
            thread_token_usage=_usage(self.total),
            attribution=attribution,
            completed_at_ms=self.t + int(seconds * 1000),
        )

    def called(self, usage: Usage) -> None:
        fresh, cached, written, output, reasoning = usage
        self.files.call(SOURCE, fresh - cached - written, written, cached, output, reasoning)

    def path(self) -> str:
        """Where Codex files it: by the day it began, named by its start and thread."""
        when = time.gmtime(self.start // 1000)
        day, stamp = time.strftime("%Y/%m/%d", when), time.strftime("%Y-%m-%dT%H-%M-%S", when)
        return f"codex/sessions/{day}/rollout-{stamp}-{self.thread}.jsonl"


def _tiered(files: Files) -> None:
    """Begun on 0.150 (snapshots only), resumed on 0.153: from then on each response has a
    record beside its snapshot, and the tier moves standard → Fast → flex → standard."""
    start = files.at(1, 9, 40, 5)
    r = _Rollout(files, start, "0.150.1", "gpt-5.5")
    r.prompt(2.0, "why does the invoice export time out on big tenants?")
    r.shell(6.2, "rg -n 'def export' billing/export", "billing/export/invoices.py:41:def export(")
    first: Usage = (18_400, 9_100, 8_900, 640, 320)
    r.count(3.4, first)
    r.called(first)
    r.settings(1_260.0, "priority")  # resumed on 0.153.2, which writes records; /fast
    r.prompt(4.0, "page the export by tenant and stream it")
    steps: list[tuple[Usage, str | None]] = [
        ((21_300, 18_000, 3_050, 1_120, 512), "priority"),
        ((24_900, 21_050, 3_600, 430, 128), "priority"),
    ]
    for number, (usage, tier) in enumerate(steps):
        r.shell(5.5, "pytest -q tests/export", "14 passed in 3.02s")
        if number == 0:  # the snapshot first, then the record: the two are one response
            r.count(2.2, usage)
            r.record(0.3, usage, tier)
        else:
            r.record(2.2, usage, tier)
            r.count(0.2, usage)
        r.called(usage)
    r.settings(95.0, "flex")  # a slow, cheap batch
    r.prompt(3.0, "now backfill the exports of last quarter")
    usage = (26_200, 24_600, 1_400, 2_050, 1_408)
    r.record(48.0, usage, "flex")
    r.count(0.1, usage)
    r.called(usage)
    r.settings(30.0, "default")
    r.prompt(2.5, "summarise what changed for the PR")
    usage = (28_800, 26_000, 2_500, 310, 64)
    r.record(6.0, usage, None)
    r.count(0.1, usage)
    r.called(usage)
    files.jsonl(r.path(), r.items)


def _compressed(files: Files) -> None:
    """A rollout of 0.148 (cache writes, no records), compressed by Codex a week later."""
    start = files.at(10, 16, 20, 5)
    r = _Rollout(files, start, "0.148.0", "gpt-5.1-codex")
    r.prompt(1.5, "add a retry budget to the webhook sender")
    for usage in ((12_800, 6_400, 6_000, 520, 256), (15_200, 12_600, 2_300, 880, 448)):
        r.shell(4.0, "pytest -q tests/webhooks", "9 passed in 0.84s")
        r.count(2.0, usage)
        r.called(usage)
    r.items.append(r.items[-1])  # the same snapshot written again: not a call
    r.prompt(40.0, "log the budget when it runs out")
    usage = (16_900, 15_100, 1_500, 290, 0)
    r.count(7.0, usage)
    r.called(usage)
    compressed = zstandard.ZstdCompressor(level=3).compress(lines(r.items))
    files.raw(r.path() + ".zst", compressed)
