"""Claude Code lines: typed decoding reads only what a call needs and tolerates wrong types."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import (
    SESSION,
    agent_progress_copy,
    claude_call,
    claude_prompt,
    jsonl,
    token_totals,
    write,
)
from tests.conftest import REAL_SAMPLES
from tokentree.core.index import Index, Scope
from tokentree.core.records import ApiCall, Fidelity, Tokens
from tokentree.core.sources import claude_code_parse, explicit_roots, find_files
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    BAD_TOKENS,
    TOKEN_LIMIT,
    FileParse,
    parse_epoch_ms,
    parse_timestamp,
    token_count_problem,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PATH = f"/logs/projects/-home-dev-atlas/{SESSION}.jsonl"


def _parse(*records: dict | bytes, path: str = PATH) -> FileParse:
    return claude_code_parse.parse(jsonl(*records).splitlines(), {}, path)


def test_tool_labels_come_from_the_few_arguments_read() -> None:
    line = claude_call(
        "msg_1",
        T0,
        tools=(
            ("Read", {"file_path": "/src/app.py"}),
            ("Write", {"file_path": "/src/big.txt", "content": "x" * 100_000}),
            ("NotebookEdit", {"notebook_path": "/nb/a.ipynb", "new_source": "y"}),
            ("Bash", {"command": "FOO=1 pytest -q tests", "description": "run"}),
            ("WebFetch", {"url": "https://docs.example.com/a?b", "prompt": "read"}),
            ("Task", {"subagent_type": "explore", "prompt": "look"}),
            ("Glob", {"pattern": "*.py"}),
            ("Bash", "not an object"),
        ),
    )
    [call] = _parse(line).calls
    assert call.tools == (
        "Read app.py",
        "Write big.txt",
        "NotebookEdit a.ipynb",
        "Bash pytest",
        "WebFetch docs.example.com",
        "Task explore",
        "Glob",
        "Bash",
    )


def test_cache_writes_split_into_five_minutes_and_one_hour() -> None:
    line = claude_call("msg_1", T0, cache_write=30, cache_write_1h=70, version="2.1.50")
    [call] = _parse(line).calls
    assert (call.tokens.cache_write_5m, call.tokens.cache_write_1h) == (30, 70)
    assert call.fidelity is Fidelity.LOWER_BOUND
    line["message"]["usage"]["cache_creation"]["ephemeral_1h_input_tokens"] = 1000
    [call] = _parse(line).calls
    assert (call.tokens.cache_write_5m, call.tokens.cache_write_1h) == (100, 0)


def _wrong(path: tuple[str, ...], value: object) -> dict:
    line = claude_call("msg_bad", T0)
    node = line
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return line


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("message",), [1, 2], "assistant line without message"),
        (("message", "usage"), "usage", "assistant line without usage or id"),
        (("message", "id"), 7, "assistant line without usage or id"),
        (("message", "model"), {"name": "x"}, "wrong field types"),
        (("message", "usage", "output_tokens"), "many", "wrong field types"),
        (("message", "usage", "input_tokens"), 1.5, BAD_TOKENS),
        (("message", "usage", "input_tokens"), 12.0, BAD_TOKENS),
        (("message", "usage", "input_tokens"), 2**63, BAD_TOKENS),
        (("message", "usage", "output_tokens"), -1, BAD_TOKENS),
        (("message", "usage", "cache_creation_input_tokens"), True, BAD_TOKENS),
        (("message", "usage", "cache_read_input_tokens"), None, "wrong field types"),
        (("message", "usage", "cache_creation", "ephemeral_1h_input_tokens"), -5, BAD_TOKENS),
        (("message", "usage", "server_tool_use"), {"web_search_requests": 2**53}, BAD_TOKENS),
        (
            ("message", "usage", "server_tool_use"),
            {"web_search_requests": "2"},
            "wrong field types",
        ),
        (("timestamp",), 1_700_000_000, BAD_TIMESTAMP),
        (("timestamp",), "9999-12-31T23:59:59.000Z", BAD_TIMESTAMP),
        (("timestamp",), "0001-01-01T00:00:00.000Z", BAD_TIMESTAMP),
    ],
)
def test_a_wrongly_typed_field_skips_its_call_and_is_counted(
    path: tuple[str, ...], value: object, reason: str
) -> None:
    parsed = _parse(claude_call("msg_1", T0), _wrong(path, value))
    assert [call.key for call in parsed.calls] == ["msg_1:req_msg_1"]
    assert parsed.skipped == {reason: 1}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), ["2.1.50"]),
        (("cwd",), 3),
        (("sessionId",), {"id": 1}),
        (("requestId",), []),
        (("message", "content"), {"type": "tool_use"}),
        (("message", "content"), ["text", 1, None]),
        (("message", "usage", "cache_creation"), "1h"),
    ],
)
def test_a_wrongly_typed_detail_keeps_the_call(path: tuple[str, ...], value: object) -> None:
    parsed = _parse(_wrong(path, value))
    [call] = parsed.calls
    assert call.session_id == SESSION and call.tokens.total == 110 and not parsed.skipped


def test_lines_that_are_not_json_objects_are_counted() -> None:
    parsed = _parse(b'{"type":"assistant","usage"', b"[1, 2]", b'{"timestamp": 1e400}')
    assert parsed.skipped == {"malformed JSON": 2, "not a JSON object": 1}


def test_synthetic_messages_are_not_calls() -> None:
    assert _parse(claude_call("msg_1", T0, model="<synthetic>")).calls == []


def test_agent_progress_copies_a_whole_line_or_a_bare_message() -> None:
    inner = claude_call("msg_sub", T0, request_id="req_sub", sidechain=True)
    whole = agent_progress_copy(inner, T0)
    bare = agent_progress_copy(inner, T0)
    bare["data"]["message"] = inner["message"]
    bare["requestId"] = "req_sub"
    for line in (whole, bare):
        parsed = _parse(line)
        [call] = parsed.calls
        assert (call.key, call.subagent, call.tokens.total) == ("msg_sub:req_sub", True, 110)
        assert parsed.ranks[0] < claude_code_parse._RANK_TOP_LEVEL
    not_assistant = agent_progress_copy(claude_prompt(T0), T0)
    assert _parse(not_assistant).calls == []


def test_only_real_prompts_start_turns() -> None:
    answered = [{"type": "tool_result", "content": "ok"}, {"type": "text", "text": "x"}]
    parsed = _parse(
        claude_prompt(T0, "fix the bug"),
        claude_prompt(T0, [{"type": "image"}, {"type": "text", "text": "and this"}]),
        claude_prompt(T0, answered),
        claude_prompt(T0, "<command-name>/clear</command-name>"),
        claude_prompt(T0, "  [Request interrupted by user]"),
        claude_prompt(T0, "meta", isMeta=True),
        claude_prompt(T0, "warmup", isSidechain=True),
        claude_prompt(T0, "summary", isCompactSummary=True),
        claude_prompt(T0, {"text": "an object"}),
        claude_prompt(T0, "no session", session=None),
    )
    assert [prompt.timestamp for prompt in parsed.prompts] == [T0.timestamp()] * 2


def test_web_searches_and_fast_mode_are_read_from_the_usage() -> None:
    line = claude_call("msg_1", T0)
    line["message"]["usage"] |= {
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
        "speed": "fast",
    }
    [call] = _parse(line).calls
    assert (call.web_searches, call.speed) == (2, "fast")
    line["message"]["usage"] |= {"server_tool_use": "none", "speed": 1}
    [call] = _parse(line).calls
    assert (call.web_searches, call.speed) == (0, "")


def test_bad_counts_and_times_skip_their_lines_and_the_others_count_exactly() -> None:
    """A count of 2**63 once broke every later step (SQLite cannot store it)."""
    huge, negative, flag = (claude_call(f"msg_{n}", T0) for n in ("huge", "neg", "flag"))
    huge["message"]["usage"]["input_tokens"] = 2**63
    negative["message"]["usage"]["output_tokens"] = -100
    flag["message"]["usage"]["cache_read_input_tokens"] = True
    parsed = _parse(
        claude_call("msg_1", T0, input=5, output=50, cache_read=1000),
        huge,
        negative,
        flag,
        claude_call("msg_far", "9999-12-31T23:59:59.999Z"),
        claude_call("msg_old", "0001-01-01T00:00:00.000Z"),
        claude_prompt("0001-01-01T00:00:00.000Z"),  # not a prompt
        claude_prompt(T0),
        claude_call("msg_2", T0, input=7, output=70, cache_write=300),
    )
    assert [call.key for call in parsed.calls] == ["msg_1:req_msg_1", "msg_2:req_msg_2"]
    assert sum(call.tokens.total for call in parsed.calls) == 5 + 50 + 1000 + 7 + 70 + 300
    assert [prompt.timestamp for prompt in parsed.prompts] == [T0.timestamp()]
    assert parsed.skipped == {BAD_TOKENS: 3, BAD_TIMESTAMP: 2}


def test_a_token_count_is_an_int_from_zero_below_two_to_the_53() -> None:
    assert token_count_problem(0, 2**53 - 1) is None
    assert token_count_problem() is None
    for bad in (2**53, -1, True, False, 12.0, 1.5, float("nan")):
        assert token_count_problem(0, bad) == BAD_TOKENS, bad
    for wrong in ("12", None, [1], {"n": 1}):
        assert token_count_problem(wrong, 0) == "wrong field types", wrong


def test_the_quick_count_check_agrees_with_token_count_problem() -> None:
    """_count_problem checks all counts at once by their bitwise OR: right only while the
    limit is a power of two."""
    assert TOKEN_LIMIT & (TOKEN_LIMIT - 1) == 0
    for bad in (2**53, 2**53 + 1, 2**63, -1, -(2**60), True, False, 12.0, "12", None):
        for field in ("input_tokens", "output_tokens", "cache_read_input_tokens"):
            line = claude_call("msg_1", T0, input=2**52, output=2**52 - 1)
            line["message"]["usage"][field] = bad
            parsed = _parse(line)
            assert parsed.calls == [] and parsed.skipped == {token_count_problem(bad): 1}
    [call] = _parse(claude_call("msg_1", T0, input=2**52, output=2**53 - 1, cache_read=0)).calls
    assert call.tokens.total == 2**52 + 2**53 - 1


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("message", "usage", "output_tokens"), True, BAD_TOKENS),
        (("message", "usage", "input_tokens"), -1, BAD_TOKENS),
        (("message", "usage", "cache_read_input_tokens"), 2**53, BAD_TOKENS),
        (("message", "usage", "cache_creation", "ephemeral_1h_input_tokens"), False, BAD_TOKENS),
        (("message", "usage", "server_tool_use"), {"web_search_requests": True}, BAD_TOKENS),
        (("message", "usage", "output_tokens"), "9000", "wrong field types"),
        (("message", "model"), 7, "wrong field types"),
    ],
)
def test_a_bad_later_line_of_a_call_is_skipped_and_counted_and_cannot_win(
    path: tuple[str, ...], value: object, reason: str
) -> None:
    """Each content block repeats the usage: every copy is checked, not only the first."""
    first = claude_call("msg_1", T0, tools=(("Read", {"file_path": "/src/app.py"}),))
    later = claude_call("msg_1", T0, output=9_000, tools=(("Bash", {"command": "pytest"}),))
    later["message"]["usage"]["server_tool_use"] = {"web_search_requests": 0}
    node = later
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    parsed = _parse(first, later)
    [call] = parsed.calls
    assert (call.tokens.total, call.tools) == (110, ("Read app.py",))
    assert parsed.skipped == {reason: 1}


def test_the_lines_of_a_call_join_their_tools_and_the_fullest_usage_and_rank_win() -> None:
    read = ("Read", {"file_path": "/src/app.py"})
    bash = ("Bash", {"command": "pytest -q"})
    replay = claude_call("msg_1", T0, sidechain=True)  # a sidechain replay ranks lower
    parsed = _parse(
        replay,
        claude_call("msg_1", T0, tools=(read,)),
        claude_call("msg_1", T0, output=500, tools=(bash, read, bash)),
        claude_call("msg_1", T0, output=300, tools=(read,)),
    )
    [call] = parsed.calls
    assert call.tools == ("Read app.py", "Bash pytest", "Bash pytest")
    assert (call.tokens.output, call.subagent) == (500, True)  # as its first line says
    top = claude_code_parse._RANK_TOP_LEVEL + claude_code_parse._RANK_MAIN_THREAD
    assert parsed.ranks == [top + 10 + 500]


def test_a_timestamp_lies_between_2000_and_a_day_from_now() -> None:
    assert parse_timestamp("2000-01-01T00:00:00Z") == 946_684_800
    assert parse_timestamp("1999-12-31T23:59:59.999Z") is None
    soon, later = time.time() + 3600, time.time() + 2 * 86_400
    assert parse_timestamp(datetime.fromtimestamp(soon, UTC).isoformat()) is not None
    assert parse_timestamp(datetime.fromtimestamp(later, UTC).isoformat()) is None
    assert parse_epoch_ms(946_684_800_000) == 946_684_800
    assert parse_epoch_ms(later * 1000) is None
    assert parse_epoch_ms(946_684_799_999) is None
    assert parse_epoch_ms(True) is None and parse_epoch_ms("946684800000") is None


# FORMATS.md §9.1, ccusage issue #1115: a Sonnet 4.6 executor that consulted an Opus 4.7
# advisor. The top level is the sum of the two `message` steps; the advisor is not in it.
EXECUTOR = "claude-sonnet-4-6"
ADVISOR = "claude-opus-4-7"
EXECUTOR_TOKENS = Tokens(input=2, cache_write_5m=7_853, cache_read=226_584, output=491)
ADVISOR_TOKENS = Tokens(input=159_419, output=7_805)


def _step(
    kind: str, input: int, output: int, cache_read: int, cache_write: int, **extra: object
) -> dict:
    return {
        "type": kind,
        "input_tokens": input,
        "output_tokens": output,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        **extra,
    }


def _advised(message_id: str = "msg_adv", **line: object) -> dict:
    """The genuine response: a `message` step, the advisor's, then a `message` step with the
    rest of the top level (1 / 446 / 116,888 / 661)."""
    response = claude_call(
        message_id,
        T0,
        model=EXECUTOR,
        input=2,
        output=491,
        cache_read=226_584,
        cache_write=7_853,
        **line,
    )
    response["message"]["usage"]["iterations"] = [
        _step("message", 1, 45, 109_696, 7_192),
        _step("advisor_message", 159_419, 7_805, 0, 0, model=ADVISOR),
        _step("message", 1, 446, 116_888, 661),
    ]
    return response


def _counted(projects: Path) -> list[ApiCall]:
    """The calls that count once every file below `projects` is indexed: copies merged."""
    roots = explicit_roots([projects], ["claude-code"])
    index = Index(None)
    index.update(find_files(roots, ["claude-code"]).files, roots)
    return index.calls(Scope(tuple(str(root.path) for root in roots), ("claude-code",)))


TOTAL_KINDS = ("input", "cache_write", "cache_read", "output")
ADVISED_TOTALS = (2, 2 + 159_419, 7_853, 226_584, 491 + 7_805)


def test_an_advisor_step_is_a_call_of_its_own_at_the_advisor_model() -> None:
    parsed = _parse(_advised(tools=(("Read", {"file_path": "/src/app.py"}),)))
    executor, advisor = parsed.calls
    assert (executor.key, executor.model, executor.tokens) == (
        "msg_adv:req_msg_adv",
        EXECUTOR,
        EXECUTOR_TOKENS,
    )
    assert (advisor.key, advisor.model, advisor.tokens) == (
        "msg_adv:req_msg_adv:iter:1",
        ADVISOR,
        ADVISOR_TOKENS,
    )
    assert (executor.tools, advisor.tools) == (("Read app.py",), ())
    assert executor[2:5] == advisor[2:5]  # session, project, time
    assert parsed.families == {executor.key: "msg_adv", advisor.key: "msg_adv:iter:1"}
    assert parsed.ranks == [
        claude_code_parse._RANK_TOP_LEVEL + claude_code_parse._RANK_MAIN_THREAD + total
        for total in (2 + 491 + 226_584 + 7_853, 159_419 + 7_805)
    ]


def test_an_advisor_step_repeated_on_each_content_block_counts_once() -> None:
    blocks = [
        _advised(tools=(("Read", {"file_path": "/src/app.py"}),)),
        _advised(),
        _advised(tools=(("Bash", {"command": "pytest -q"}),)),
    ]
    parsed = _parse(*blocks)
    assert [call.key for call in parsed.calls] == [
        "msg_adv:req_msg_adv",
        "msg_adv:req_msg_adv:iter:1",
    ]
    assert token_totals(parsed.calls, TOTAL_KINDS) == ADVISED_TOTALS
    assert parsed.calls[0].tools == ("Read app.py", "Bash pytest")


def test_an_advisor_step_copied_into_other_files_counts_once(tmp_path: Path) -> None:
    projects = tmp_path / "projects"
    folder = projects / "-home-dev-atlas"
    write(folder / f"{SESSION}.jsonl", claude_prompt(T0), _advised(), _advised())
    write(folder / "resumed.jsonl", _advised(session="resumed"))  # --resume copies the line
    replayed = _advised(request_id="req_btw", sidechain=True)  # a /btw replay: a new requestId
    write(folder / SESSION / "subagents" / "agent-btw1.jsonl", replayed)
    write(folder / "parent.jsonl", agent_progress_copy(_advised(sidechain=True), T0))
    calls = _counted(projects)
    assert sorted((call.key, call.model) for call in calls) == [
        ("msg_adv:req_msg_adv", EXECUTOR),
        ("msg_adv:req_msg_adv:iter:1", ADVISOR),
    ]
    assert token_totals(calls, TOTAL_KINDS) == ADVISED_TOTALS
    assert {call.session_id for call in calls} == {SESSION} and not any(c.subagent for c in calls)


def test_a_btw_replay_of_an_advised_response_read_later_counts_once(tmp_path: Path) -> None:
    """Decided again alone (the update touches few calls): the replay's family, and its
    advisor step's, are found along the key index (derive._in_family)."""
    projects = tmp_path / "projects"
    folder = projects / "-home-dev-atlas"
    others = [claude_call(f"msg_{n}", T0 + timedelta(minutes=n), input=n) for n in range(1, 13)]
    write(folder / f"{SESSION}.jsonl", claude_prompt(T0), _advised(), *others)
    roots = explicit_roots([projects], ["claude-code"])
    index = Index(None)
    index.update(find_files(roots, ["claude-code"]).files, roots)
    replayed = _advised(request_id="req_btw", sidechain=True)
    write(folder / SESSION / "subagents" / "agent-btw1.jsonl", replayed)
    index.update(find_files(roots, ["claude-code"]).files, roots)
    calls = index.calls(Scope(tuple(str(root.path) for root in roots), ("claude-code",)))
    advised = sorted(call.key for call in calls if call.key.startswith("msg_adv"))
    assert advised == ["msg_adv:req_msg_adv", "msg_adv:req_msg_adv:iter:1"]
    assert len(calls) == 2 + len(others) and index.check() == []


@pytest.mark.parametrize("claude", sorted((REAL_SAMPLES / "claude_code").rglob("*.jsonl")))
def test_a_call_s_key_begins_with_its_family_up_to_the_first_colon(claude: Path) -> None:
    """What the index relies on to find a family's copies along the key index."""
    parsed = claude_code_parse.parse(claude.read_bytes().splitlines(), {}, str(claude))
    advised = _parse(_advised(), _advised(request_id="req_btw", sidechain=True))
    for key, family in {**parsed.families, **advised.families}.items():
        root = family.split(":")[0]
        assert key == root or key.startswith(f"{root}:"), (key, family)


def test_a_sub_agent_that_consulted_an_advisor_counts_both_calls(tmp_path: Path) -> None:
    """The advisor step is not a replay of its own response: both count, as sub-agent calls."""
    projects = tmp_path / "projects"
    sub_agent = _advised(sidechain=True)
    write(projects / "-home-dev-atlas" / SESSION / "subagents" / "agent-a1.jsonl", sub_agent)
    calls = _counted(projects)
    assert token_totals(calls, TOTAL_KINDS) == ADVISED_TOTALS
    assert all(call.subagent for call in calls)


def test_a_compaction_step_is_a_call_of_its_own_at_the_response_model() -> None:
    """Made-up numbers: no genuine compaction step is quoted in FORMATS.md."""
    line = claude_call(
        "msg_cmp", T0, model="claude-opus-4-6", input=3, output=120, cache_read=9_000
    )
    line["message"]["usage"]["iterations"] = [
        _step("compaction", 150_000, 4_000, 20_000, 1_000),
        _step("message", 3, 120, 9_000, 0),
    ]
    executor, compaction = _parse(line, line).calls
    assert (executor.model, executor.tokens) == ("claude-opus-4-6", Tokens(3, 0, 0, 9_000, 120))
    assert (compaction.key, compaction.model) == ("msg_cmp:req_msg_cmp:iter:0", "claude-opus-4-6")
    assert compaction.tokens == Tokens(150_000, 1_000, 0, 20_000, 4_000)


def test_a_fallback_step_names_the_model_that_served_the_top_level() -> None:
    line = claude_call("msg_fb", T0, model="claude-opus-4-8", input=5, output=60, cache_read=800)
    line["message"]["usage"]["iterations"] = [
        _step("fallback_message", 5, 60, 800, 0, model="claude-sonnet-4-6")
    ]
    [call] = _parse(line).calls
    assert (call.key, call.model, call.tokens) == (
        "msg_fb:req_msg_fb",
        "claude-sonnet-4-6",
        Tokens(5, 0, 0, 800, 60),
    )


@pytest.mark.parametrize(
    "steps",
    [
        None,
        [_step("message", 10, 100, 0, 0)],
        [_step("message", 4, 40, 0, 0), _step("message", 6, 60, 0, 0)],
        "steps",
        [1, "message", None],
        [_step("message", -1, 1.5, 0, 0)],  # never read: the top level is their sum
        [{"type": "an unknown step", "input_tokens": "many"}],
    ],
)
def test_a_response_without_steps_billed_apart_is_one_call_as_before(steps: object) -> None:
    line = claude_call("msg_1", T0)
    if steps is not None:
        line["message"]["usage"]["iterations"] = steps
    parsed = _parse(line)
    [call] = parsed.calls
    assert (call.key, call.model, call.tokens) == (
        "msg_1:req_msg_1",
        "claude-sonnet-4-5-20250929",
        Tokens(input=10, output=100),
    )
    assert parsed.families == {"msg_1:req_msg_1": "msg_1"} and not parsed.skipped


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ({"input_tokens": -1}, BAD_TOKENS),
        ({"output_tokens": 2**63}, BAD_TOKENS),
        ({"cache_read_input_tokens": "many"}, "wrong field types"),
        ({"cache_creation": {"ephemeral_1h_input_tokens": 1.5}}, BAD_TOKENS),
        ({"model": None}, "wrong field types"),
        ({"model": ""}, "wrong field types"),
    ],
)
def test_a_bad_advisor_step_skips_its_line_and_is_counted(step: dict, reason: str) -> None:
    bad = _advised("msg_bad")
    bad["message"]["usage"]["iterations"][1] |= step
    parsed = _parse(claude_call("msg_1", T0), bad)
    assert [call.key for call in parsed.calls] == ["msg_1:req_msg_1"]
    assert parsed.skipped == {reason: 1}


def test_a_fallback_step_without_a_model_skips_its_line() -> None:
    line = claude_call("msg_fb", T0)
    line["message"]["usage"]["iterations"] = [{"type": "fallback_message", "model": 4}]
    parsed = _parse(line)
    assert parsed.calls == [] and parsed.skipped == {"wrong field types": 1}


# --- §9.1 informational fields: thinking tokens, the cache-miss reason ------------------------


def test_thinking_tokens_are_the_of_which_part_of_output_never_added() -> None:
    line = claude_call("msg_th", T0, input=10, output=900)
    line["message"]["usage"]["output_tokens_details"] = {"thinking_tokens": 700}
    (call,) = _parse(line).calls
    assert call.tokens == Tokens(10, 0, 0, 0, 900, 700) and call.tokens.total == 910


@pytest.mark.parametrize("thinking", [901, -1, "700", None, 7.5])
def test_a_wrong_thinking_count_is_not_shown_and_keeps_the_call(thinking: object) -> None:
    line = claude_call("msg_th", T0, input=10, output=900)
    line["message"]["usage"]["output_tokens_details"] = {"thinking_tokens": thinking}
    (call,) = _parse(line).calls
    assert call.tokens == Tokens(10, 0, 0, 0, 900, 0)


@pytest.mark.parametrize(
    ("diagnostics", "kept"),
    [
        (
            {"cache_miss_reason": {"type": "tools_changed", "cache_missed_input_tokens": 89018}},
            "tools_changed 89018",
        ),
        (
            {"cache_miss_reason": {"type": "previous_message_not_found"}},
            "previous_message_not_found",
        ),
        ({"cache_miss_reason": None}, ""),
        ("not an object", ""),
        ({"cache_miss_reason": {"type": 4}}, ""),
    ],
)
def test_the_cache_miss_reason_is_kept_per_call_and_never_counted(
    diagnostics: object, kept: str
) -> None:
    line = claude_call("msg_cm", T0, input=90_000, cache_write=1_000, output=50)
    line["message"]["diagnostics"] = diagnostics
    (call,) = _parse(line).calls
    assert call.cache_miss == kept
    assert call.tokens == Tokens(90_000, 1_000, 0, 0, 50)


def test_the_cache_miss_reason_and_thinking_survive_the_index(tmp_path: Path) -> None:
    line = claude_call("msg_cm", T0, input=90_000, output=900)
    line["message"]["diagnostics"] = {
        "cache_miss_reason": {"type": "system_changed", "cache_missed_input_tokens": 4_000}
    }
    line["message"]["usage"]["output_tokens_details"] = {"thinking_tokens": 300}
    write(tmp_path / "projects" / "-p" / f"{SESSION}.jsonl", line)
    roots = explicit_roots([tmp_path])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    (call,) = index.calls(Scope(tuple(str(r.path) for r in roots), ("claude-code",)))
    assert (call.cache_miss, call.tokens.reasoning) == ("system_changed 4000", 300)
