"""The synthetic log generator: deterministic, well-formed, covering the special cases, and with
every source's 2026 shapes in the demo set, counted exactly."""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from tests.builders import token_totals
from tokentree.core.index import Index, Scope
from tokentree.core.records import ApiCall
from tokentree.core.sources import SOURCES, explicit_roots, find_files
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


def _lines(
    root: Path, pattern: str, skip: tuple[str, ...] = ()
) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(root.glob(pattern)):
        if path.relative_to(root).as_posix() in skip:
            continue
        for line in path.read_bytes().splitlines():
            yield path, orjson.loads(line)


def _content(path: Path) -> bytes:
    """What a file holds: a database's rows (its header names the SQLite library), a compressed
    log's lines (the bytes depend on the zstd library), any other file's bytes."""
    if path.suffix == ".db":
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            return "\n".join(db.iterdump()).encode()
        finally:
            db.close()
    if path.suffix == ".zst":
        return zstandard.ZstdDecompressor().decompress(path.read_bytes())
    return path.read_bytes()


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
    assert summary.recent is not None
    for name, data in files.items():
        if name.endswith((".db", ".json")):
            assert name in summary.recent.files
            continue
        if name.endswith(".zst"):
            data = _content(root / name)
        assert name.endswith((".jsonl", ".jsonl.zst"))
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
    """The summary is ground truth: dedupe by (message.id, requestId), keep the largest copy
    (the 2026-shape files have totals of their own: see test_recent_shapes)."""
    root, summary = demo
    assert summary.recent is not None
    recent = summary.recent.files
    best: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for _, d in _lines(root, "claude/projects/**/*.jsonl", recent):
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
        if path.relative_to(root).as_posix() in recent:
            continue
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
    assert all(_content(bundled / name) == _content(made / name) for name in names)


# --- the 2026 shapes (FORMATS.md §9): indexed from their own files, every call exactly once ------

RECENT_KINDS = ("input", "cache_write", "cache_read", "output", "reasoning")
RECENT = {
    # 17 responses (a fallback's priced at its model) + 2 advisor steps + 1 compaction step;
    # input 31,560 (atlas, 31,540 the advisor's) + 20 (dashboard) + 129,013 (billing: advisor
    # 126,900, compaction 2,100)
    "claude-code": (20, 160_593, 262_030, 786_847, 19_700, 2_292),
    # 5 responses of the plain rollout (the first from its snapshot alone, 4 with a record and a
    # snapshot) + 3 of the .zst; input less cached and written: 400+250+250+200+300 + 400+300+300
    "codex": (8, 2_400, 29_250, 132_850, 6_240, 3_136),
    # 5 replies (4 rewound, one by a rewind to an id no longer in the chat) + 2 of the sub-agent;
    # input less cached, plus tool prompts: 14,200+2,140+4,100+3,600+1,200 + 8,300+4,020
    "gemini-cli": (7, 37_560, 0, 61_600, 7_210, 2_450),
    # 4 v1 steps (3 messages) + 5 v2 rows; the backfilled copies of the split session's v1
    # messages never: 5,200+420+180+3,400 + 260+12,600+4,100+6,900+140
    "opencode": (9, 33_200, 15_720, 94_900, 6_134, 1_004),
}


@pytest.fixture(scope="module")
def recent(demo: tuple[Path, GenerationSummary]) -> dict[str, list[ApiCall]]:
    """The calls the index finds in the 2026-shape files alone, per source, oldest first."""
    root, summary = demo
    assert summary.recent is not None
    roots = explicit_roots([root / name for name in summary.recent.files])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(r.path) for r in roots), tuple(SOURCES))
    assert not any(d.skipped or d.pending_bytes for d in index.diagnostics(scope))
    found: dict[str, list[ApiCall]] = {}
    for call in sorted(index.calls(scope), key=lambda call: (call.timestamp, call.key)):
        found.setdefault(call.source, []).append(call)
    return found


def test_the_2026_shapes_count_exactly_what_the_generator_wrote(
    demo: tuple[Path, GenerationSummary], recent: dict[str, list[ApiCall]]
) -> None:
    _, summary = demo
    assert summary.recent is not None
    for source, expected in RECENT.items():
        assert token_totals(recent[source], RECENT_KINDS) == expected, source
        t = summary.recent.totals(source)
        assert (t.calls, t.input, t.cache_write, t.cache_read, t.output, t.reasoning) == expected


def test_the_2026_claude_calls(recent: dict[str, list[ApiCall]]) -> None:
    calls = recent["claude-code"]
    assert [c.model for c in calls if c.key.endswith(":iter:1")] == ["claude-opus-4-7"] * 2
    assert [c.tokens.input for c in calls if c.key.endswith(":iter:0")] == [2_100]  # compaction
    assert [(c.model, c.cache_miss) for c in calls if c.cache_miss] == [
        ("claude-sonnet-4-6", "tools_changed 29870"),
        ("claude-sonnet-4-6", "model_changed 36100"),  # the fallback: priced at its model
        ("claude-opus-4-8", "system_changed 28400"),
    ]
    assert {c.model for c in calls if c.speed == "fast"} == {"claude-opus-4-8"}
    assert sum(c.speed == "fast" for c in calls) == 5 and not any(c.unpriced for c in calls)


def test_the_2026_codex_calls(recent: dict[str, list[ApiCall]]) -> None:
    calls = recent["codex"]
    compressed = [c for c in calls if c.file.endswith(".jsonl.zst")]
    assert len(compressed) == 3 and not Path(compressed[0].file[: -len(".zst")]).exists()
    plain = [c for c in calls if c.file.endswith(".jsonl")]
    assert [c.speed for c in plain] == ["", "fast", "fast", "flex", ""]
    [rollout] = {c.file for c in plain}
    kinds = [d["type"] for d in map(orjson.loads, Path(rollout).read_bytes().splitlines())]
    assert kinds.count("token_usage_record") == 4  # each beside a snapshot: counted once
    assert {c.model for c in plain} == {"gpt-5.5"} and not any(c.unpriced for c in calls)


def test_the_2026_gemini_calls(recent: dict[str, list[ApiCall]]) -> None:
    calls = recent["gemini-cli"]
    rewound = [c for c in calls if c.rewound]
    assert len(rewound) == 4 and all(c.tokens.total for c in rewound)  # paid for: kept
    assert not calls[-1].rewound
    assert [c.subagent for c in calls].count(True) == 2
    assert {c.session_id for c in calls} == {calls[0].session_id}
    assert {c.project for c in calls} == {"/home/dev/src/mobile-app"}


def test_the_2026_opencode_calls(
    demo: tuple[Path, GenerationSummary], recent: dict[str, list[ApiCall]]
) -> None:
    root, _ = demo
    db = sqlite3.connect(f"{(root / 'opencode/opencode.db').as_uri()}?mode=ro", uri=True)
    copies = db.execute(
        "SELECT count(*) FROM session_message WHERE id GLOB 'evt_legacy_backfill_*'"
    ).fetchone()[0]
    db.close()
    assert copies == 2  # the split session's v1 prompt and response
    calls = recent["opencode"]
    assert not any("evt_legacy_backfill" in c.key for c in calls)
    assert [c.subagent for c in calls].count(True) == 1
    assert {c.model for c in calls} == {"claude-sonnet-4-5", "claude-sonnet-4-6", "gpt-5.1"}
