"""The genuine public logs give exactly the totals in expected.json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REAL_SAMPLES
from tokentree.core.index import Index, Scope
from tokentree.core.sources import explicit_roots, find_files

EXPECTED = json.loads((REAL_SAMPLES / "expected.json").read_text())


def _calls(relative: str, source: str):
    roots = explicit_roots([REAL_SAMPLES / relative], [source])
    found = find_files(roots, [source])
    index = Index(None)
    index.update(found.files, roots)
    return index.calls(Scope(tuple(str(r.path) for r in roots), (source,)))


@pytest.mark.parametrize("name", sorted(EXPECTED["claude_code"]))
def test_claude_code_sample_totals(name: str) -> None:
    expected = EXPECTED["claude_code"][name]
    calls = _calls(f"claude_code/{name}", "claude-code")
    assert len(calls) == expected["api_calls"]
    assert sum(c.tokens.input for c in calls) == expected["input_tokens"]
    assert sum(c.tokens.output for c in calls) == expected["output_tokens"]
    assert sum(c.tokens.cache_write for c in calls) == expected["cache_creation_input_tokens"]
    assert sum(c.tokens.cache_read for c in calls) == expected["cache_read_input_tokens"]
    assert len({c.session_id for c in calls}) == 1


@pytest.mark.parametrize("name", sorted(EXPECTED["codex"]))
def test_codex_sample_totals(name: str) -> None:
    expected = EXPECTED["codex"][name]
    calls = _calls(f"codex/{name}", "codex")
    assert len(calls) == expected["api_calls"]
    # tokentree stores input without the cached part (Anthropic semantics)
    assert sum(c.tokens.input + c.tokens.cache_read for c in calls) == expected["input_tokens"]
    assert sum(c.tokens.cache_read for c in calls) == expected["cached_input_tokens"]
    assert sum(c.tokens.output for c in calls) == expected["output_tokens"]
    assert sum(c.tokens.reasoning for c in calls) == expected["reasoning_output_tokens"]


def test_sub_agent_and_compaction_calls_are_marked_and_join_the_parent_session() -> None:
    calls = _calls("claude_code/spotter_ae4a77f8-aedd-4bc1-888f-c94edc91af04", "claude-code")
    assert all(c.subagent for c in calls)
    assert {c.session_id for c in calls} == {"ae4a77f8-aedd-4bc1-888f-c94edc91af04"}


def test_streaming_placeholder_versions_are_lower_bounds() -> None:
    heavy = _calls("claude_code/spotter_tool_heavy.jsonl", "claude-code")  # 2.1.38
    pomodoro = _calls(
        "claude_code/yoavf-ai-sessions_claude-code-pomodoro-timer.jsonl", "claude-code"
    )  # 2.0.24
    assert {c.fidelity.value for c in heavy} == {"lower-bound"}
    assert {c.fidelity.value for c in pomodoro} == {"exact"}


def test_tool_labels_use_metadata_only() -> None:
    calls = _calls("codex/yoavf-ai-sessions_codex-pomodor-timer.jsonl", "codex")
    tools = [tool for call in calls for tool in call.tools]
    assert "shell ls" in tools
    assert "apply_patch index.html" in tools
    assert all(len(tool) < 60 for tool in tools)
