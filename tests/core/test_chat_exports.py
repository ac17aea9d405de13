"""Chat apps estimated from their exports: the estimates, the counts file, and its reading."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.chat_exports import SECRET_WORD, T0, chatgpt_conversations, claude_ai_conversations
from tokentree.core.records import Fidelity, Tokens
from tokentree.core.sources import SOURCES, chatgpt, claude_ai, find_files, sniff
from tokentree.core.sources.estimated import (
    CHARS_PER_TOKEN,
    UNKNOWN_MODEL,
    Estimates,
    counts_folder,
    counts_path,
    estimate_tokens,
    write_counts,
)


def _requests(found: Estimates) -> list[tuple]:
    return [
        (r.conversation, r.message, r.model, r.input, r.output, r.reasoning) for r in found.requests
    ]


def test_the_factor_is_four_characters_a_token_rounded_up() -> None:
    assert CHARS_PER_TOKEN == 4
    assert [estimate_tokens(n) for n in (0, 1, 4, 5, 8, 100)] == [0, 1, 1, 2, 2, 25]


def test_chatgpt_replies_count_the_history_on_their_branch() -> None:
    found = chatgpt.read_export(chatgpt_conversations())
    assert found.conversations == 2
    assert sorted(_requests(found)) == [
        ("c-1", "a1", "gpt-4o", 10, 5, 0),
        ("c-1", "a2", "gpt-4o", 21, 2, 0),  # no slug: the conversation's default
        ("c-1", "a2b", "o3", 21, 3, 0),  # a regenerated branch: the same history
        ("c-2", "a", None, 1, 25, 0),
    ]
    day_two = T0.timestamp() + 86_400
    assert [r.time for r in found.requests if r.conversation == "c-2"] == [day_two]
    assert sorted(found.prompts) == [
        ("c-1", T0.timestamp() + 10),
        ("c-1", T0.timestamp() + 60),
        ("c-2", day_two),
    ]
    assert found.skipped == {}


def test_claude_ai_replies_count_earlier_messages_and_thinking_only_once() -> None:
    found = claude_ai.read_export(claude_ai_conversations())
    assert found.conversations == 1
    assert _requests(found) == [
        ("k-1", "b1", None, 10, 9, 5),
        ("k-1", "b2", None, 16, 1, 0),
    ]
    assert len(found.prompts) == 2


def test_an_export_of_another_shape_is_no_conversation() -> None:
    assert chatgpt.read_export({"not": "a list"}).conversations == 0
    assert claude_ai.read_export(chatgpt_conversations()).conversations == 0
    assert chatgpt.read_export(claude_ai_conversations()).conversations == 0


def test_the_counts_file_holds_no_text_and_merges_by_key(tmp_path: Path) -> None:
    found = chatgpt.read_export(chatgpt_conversations())
    path, new = write_counts(tmp_path, "chatgpt", found)
    assert path == counts_path(tmp_path, "chatgpt") and new == 4
    first = path.read_bytes()
    assert SECRET_WORD.encode() not in first and b"title" not in first
    _, new = write_counts(tmp_path, "chatgpt", chatgpt.read_export(chatgpt_conversations()))
    assert new == 0 and path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["counts.jsonl"]  # no temporary left


def test_a_counts_file_reads_as_estimated_calls(tmp_path: Path) -> None:
    path, _ = write_counts(tmp_path, "claude-ai", claude_ai.read_export(claude_ai_conversations()))
    assert sniff(str(path)) == "claude-ai"
    parsed = SOURCES["claude-ai"].parse(path.read_bytes().splitlines(), {}, str(path))
    assert [(c.key, c.model, c.tokens, c.fidelity) for c in parsed.calls] == [
        ("claude-ai:k-1:b1", UNKNOWN_MODEL, Tokens(input=10, output=9, reasoning=5), "estimated"),
        ("claude-ai:k-1:b2", UNKNOWN_MODEL, Tokens(input=16, output=1), Fidelity.ESTIMATED),
    ]
    assert {c.session_id for c in parsed.calls} == {"k-1"}
    assert len(parsed.prompts) == 2 and not parsed.skipped


def test_discovered_counts_files_belong_to_their_app(tmp_path: Path) -> None:
    folder = counts_folder({"TOKENTREE_ESTIMATES_DIR": str(tmp_path)})
    write_counts(folder, "chatgpt", chatgpt.read_export(chatgpt_conversations()))
    write_counts(folder, "claude-ai", claude_ai.read_export(claude_ai_conversations()))
    env = {"TOKENTREE_ESTIMATES_DIR": str(tmp_path)}
    from tokentree.core.sources import default_roots

    found = find_files(default_roots(env, tmp_path, ["chatgpt", "claude-ai"]))
    assert sorted((Path(f.path).parent.name, f.source) for f in found.files) == [
        ("chatgpt", "chatgpt"),
        ("claude-ai", "claude-ai"),
    ]
    assert SOURCES["chatgpt"].estimated and not SOURCES["claude-code"].estimated


def test_a_counts_line_of_the_wrong_shape_is_skipped(tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"conversation": "c", "message": "m", "time": "soon", "input": 1}),
        orjson.dumps({"conversation": "c", "message": "m", "time": T0.timestamp(), "input": -1}),
        orjson.dumps({"conversation": 7, "message": "m"}),
    ]
    parsed = SOURCES["chatgpt"].parse(lines, {}, str(tmp_path / "counts.jsonl"))
    assert not parsed.calls and sum(parsed.skipped.values()) == 3
