"""The synthetic log generator: deterministic, well-formed, and covering the special cases."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tokentree.synthetic import GenerationSummary, generate

_COMMON = ("parentUuid", "isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch")
_ROLLOUT = re.compile(
    r"codex/sessions/\d{4}/\d{2}/\d{2}/"
    r"rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-"
    r"[0-9a-f]{4}-[0-9a-f]{12}\.jsonl"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    root = tmp_path_factory.mktemp("demo")
    return root, generate(root)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lines(root: Path, pattern: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(root.glob(pattern)):
        for line in path.read_bytes().splitlines():
            yield path, orjson.loads(line)


def test_same_seed_gives_identical_bytes(demo: tuple[Path, GenerationSummary], tmp_path: Path):
    root, summary = demo
    again = generate(tmp_path / "again")
    assert again == summary
    assert _files(tmp_path / "again") == _files(root)
    other = generate(tmp_path / "other", seed=8)
    assert _files(tmp_path / "other") != _files(root)
    assert other.files > 0


def test_every_line_is_one_json_object_ending_in_newline(demo: tuple[Path, GenerationSummary]):
    root, summary = demo
    files = _files(root)
    assert len(files) == summary.files
    assert sum(len(b) for b in files.values()) == summary.bytes
    for name, data in files.items():
        assert name.endswith(".jsonl")
        assert data.endswith(b"\n")
        for line in data.split(b"\n")[:-1]:
            assert isinstance(orjson.loads(line), dict)


def test_demo_set_shape(demo: tuple[Path, GenerationSummary]):
    root, summary = demo
    assert 2_000_000 <= summary.bytes <= 4_000_000
    assert (
        0.5 <= summary.claude_sessions / (summary.claude_sessions + summary.codex_sessions) <= 0.7
    )
    assert (summary.last_day - summary.first_day).days == 27
    for path, line in _lines(root, "claude/projects/*/*.jsonl"):
        if "cwd" in line:
            assert path.parent.name == re.sub(r"[^A-Za-z0-9]", "-", line["cwd"])
        if line["type"] in ("user", "assistant", "system", "progress"):
            assert all(key in line for key in _COMMON), line
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    rollouts = [p.relative_to(root).as_posix() for p in root.glob("codex/sessions/**/*.jsonl")]
    assert rollouts and all(_ROLLOUT.fullmatch(r) for r in rollouts)


def test_size_is_near_a_small_target(tmp_path: Path):
    summary = generate(tmp_path, target_bytes=2_000_000, claude_only=True)
    assert 1_500_000 <= summary.bytes <= 2_500_000
    assert summary.codex_sessions == 0
    assert not (tmp_path / "codex").exists()
    assert summary.claude_calls * 5_000 < summary.bytes  # bulk sets: several KB per API call


def test_special_cases_are_present(demo: tuple[Path, GenerationSummary]):
    root, _ = demo
    names = [p.relative_to(root).as_posix() for p in root.rglob("*.jsonl")]
    assert any(re.search(r"/subagents/agent-a[0-9a-f]{6}\.jsonl$", n) for n in names)
    assert any(re.search(r"/subagents/agent-acompact-[0-9a-f]{6}\.jsonl$", n) for n in names)
    assert any(re.search(r"projects/[^/]+/agent-a[0-9a-f]{6}\.jsonl$", n) for n in names)

    claude = list(_lines(root, "claude/projects/**/*.jsonl"))
    progress = [d for _, d in claude if d.get("data", {}).get("type") == "agent_progress"]
    assert progress and all(d["data"]["message"]["message"]["usage"] for d in progress)
    assert any(d.get("subtype") == "compact_boundary" for _, d in claude)
    assert any(d.get("isCompactSummary") for _, d in claude)
    assert any(
        d.get("isApiErrorMessage") and d["message"]["model"] == "<synthetic>" for _, d in claude
    )
    assert any(d["type"] == "summary" for _, d in claude)

    # A resumed session repeats calls (same message.id and requestId) in another file.
    files_of: dict[tuple[str, str], set[Path]] = {}
    dates_of: dict[Path, set[str]] = {}
    for path, d in claude:
        if d["type"] == "assistant" and "requestId" in d:
            files_of.setdefault((d["message"]["id"], d["requestId"]), set()).add(path)
        if "timestamp" in d and "subagents" not in path.parts:
            dates_of.setdefault(path, set()).add(d["timestamp"][:10])
    assert any(len(paths) > 1 for paths in files_of.values())
    assert any(len(dates) > 1 for dates in dates_of.values())  # crosses midnight (UTC)

    codex = list(_lines(root, "codex/sessions/**/*.jsonl"))
    counts = [
        (p, d["payload"]["info"]) for p, d in codex if d["payload"].get("type") == "token_count"
    ]
    assert any(
        a[1] is not None and a[0] == b[0] and a[1] == b[1] for a, b in itertools.pairwise(counts)
    ), "no re-emitted token_count"
    models = {d["payload"]["model"] for _, d in codex if d["type"] == "turn_context"}
    assert "gpt-oss-120b-local" in models


def test_placeholder_lines_only_in_the_placeholder_era(demo: tuple[Path, GenerationSummary]):
    root, _ = demo
    outputs: dict[tuple[Path, str], list[int]] = {}
    version: dict[tuple[Path, str], str] = {}
    for path, d in _lines(root, "claude/projects/**/*.jsonl"):
        if d["type"] == "assistant" and "requestId" in d:
            key = (path, d["requestId"])
            outputs.setdefault(key, []).append(d["message"]["usage"]["output_tokens"])
            version[key] = d["version"]
    for key, outs in outputs.items():
        if version[key] == "2.1.38" and len(outs) > 1:
            assert max(outs[:-1]) <= 30 < outs[-1] or len(set(outs)) == 1
        else:
            assert len(set(outs)) == 1


def test_summary_totals_match_the_logs(demo: tuple[Path, GenerationSummary]):
    """The summary is ground truth: dedupe by (message.id, requestId), keep the largest copy."""
    root, summary = demo
    best: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for _, d in _lines(root, "claude/projects/**/*.jsonl"):
        if d["type"] != "assistant" or "requestId" not in d:
            continue
        u = d["message"]["usage"]
        row = (
            u["input_tokens"],
            u["output_tokens"],
            u["cache_creation_input_tokens"],
            u["cache_read_input_tokens"],
        )
        key = (d["message"]["id"], d["requestId"])
        if sum(row) > sum(best.get(key, (0, 0, 0, 0))):
            best[key] = row
    assert len(best) == summary.claude_calls
    totals = [sum(col) for col in zip(*best.values(), strict=True)]
    assert totals == [
        summary.claude_input_tokens,
        summary.claude_output_tokens,
        summary.claude_cache_creation_tokens,
        summary.claude_cache_read_tokens,
    ]

    calls = inp = cached = out = 0
    for path in root.glob("codex/sessions/**/*.jsonl"):
        prev = None
        for line in path.read_bytes().splitlines():
            d = orjson.loads(line)
            info = d["payload"].get("info") if d["payload"].get("type") == "token_count" else None
            if info is None or info["total_token_usage"] == prev:
                continue
            now = info["total_token_usage"]
            base = prev or dict.fromkeys(now, 0)
            calls += 1
            inp += now["input_tokens"] - base["input_tokens"]
            cached += now["cached_input_tokens"] - base["cached_input_tokens"]
            out += now["output_tokens"] - base["output_tokens"]
            assert now["total_tokens"] == now["input_tokens"] + now["output_tokens"]
            prev = now
    assert (calls, inp, cached, out) == (
        summary.codex_calls,
        summary.codex_input_tokens,
        summary.codex_cached_input_tokens,
        summary.codex_output_tokens,
    )


def test_the_bundled_sample_logs_are_what_the_generator_makes(
    demo: tuple[Path, GenerationSummary],
) -> None:
    """An installed wheel regenerates the demo set: it must be the checkout's sample_logs/."""
    made, _ = demo
    bundled = Path(__file__).parents[2] / "sample_logs"
    names = sorted(p.relative_to(bundled) for p in bundled.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(made) for p in made.rglob("*") if p.is_file())
    assert all((bundled / name).read_bytes() == (made / name).read_bytes() for name in names)
