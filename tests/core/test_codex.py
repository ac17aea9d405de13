"""Codex: one call per advance of the cumulative counter, replays and copies skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.builders import (
    codex_context,
    codex_meta,
    codex_prompt,
    codex_tokens,
    iso,
    jsonl,
    token_totals,
    write,
)
from tokentree.core.export import export_document
from tokentree.core.index import Index, Scope
from tokentree.core.live import limits_at
from tokentree.core.records import Fidelity, Tokens
from tokentree.core.schemas import ExportDocument
from tokentree.core.sources import codex, default_roots, find_files, sniff
from tokentree.core.sources.base import BAD_TIMESTAMP, BAD_TOKENS
from tokentree.core.tree import Calendar, build_tree

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SID = "019a0000-0000-7000-8000-000000000001"


def _parse(*records: dict):
    return codex.parse(jsonl(*records).splitlines(), {}, "rollout-x.jsonl")


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_re_emitted_snapshots_count_once() -> None:
    parsed = _parse(
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_prompt(_at(2)),
        codex_tokens(_at(3), (1000, 200, 50, 10)),
        codex_tokens(_at(4), (1000, 200, 50, 10)),  # rate-limit refresh: same snapshot
        codex_tokens(_at(5), (2500, 1100, 80, 20), last=(1500, 900, 30, 10)),
        codex_tokens(_at(6), (2500, 1100, 80, 20), last=(1500, 900, 30, 10)),
    )
    assert [
        (c.tokens.input, c.tokens.cache_read, c.tokens.output, c.tokens.reasoning)
        for c in parsed.calls
    ] == [(800, 200, 50, 10), (600, 900, 30, 10)]
    assert [c.model for c in parsed.calls] == ["gpt-5-codex"] * 2
    assert len(parsed.prompts) == 1


def test_a_reset_counter_uses_the_last_call_and_restarts() -> None:
    parsed = _parse(
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (100_000, 50_000, 900, 0)),
        codex_tokens(_at(4), (3000, 1000, 40, 0), last=(3000, 1000, 40, 0)),  # after overflow
        codex_tokens(_at(5), (5000, 2000, 70, 0), last=(2000, 1000, 30, 0)),
    )
    assert [c.tokens.output for c in parsed.calls] == [900, 40, 30]


def test_incremental_reads_continue_the_cumulative_counter() -> None:
    lines = jsonl(
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (1000, 200, 50, 0)),
        codex_tokens(_at(5), (2500, 1100, 80, 0)),
    ).splitlines()
    state: dict = {}
    first = codex.parse(lines[:3], state, "r.jsonl")
    second = codex.parse(lines[3:], first.state, "r.jsonl")
    assert [c.tokens.output for c in first.calls + second.calls] == [50, 30]


def test_fork_replay_only_sets_the_baseline() -> None:
    parsed = _parse(
        codex_meta("child", _at(100), forked_from_id=SID),
        codex_meta(SID, _at(0)),  # the parent's, replayed
        codex_context(_at(1)),
        codex_prompt(_at(2)),
        codex_tokens(_at(3), (1000, 200, 50, 0)),
        codex_prompt(_at(101)),
        codex_tokens(_at(102), (1600, 900, 70, 0)),
    )
    assert [(c.tokens.cache_read, c.tokens.output) for c in parsed.calls] == [(700, 20)]
    assert [p.timestamp for p in parsed.prompts] == [_at(101).timestamp()]
    assert parsed.calls[0].session_id == "child"


def test_sub_agent_replay_is_skipped_and_joins_the_parent_session() -> None:
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": SID, "depth": 1}}}
    parsed = _parse(
        codex_meta("sub", _at(50), source=spawn),
        codex_tokens(_at(50.2), (1000, 200, 50, 0)),  # the parent's history, restamped
        codex_tokens(_at(50.4), (2000, 400, 90, 0)),
        codex_context(_at(51)),
        codex_tokens(_at(58), (2600, 700, 120, 0)),
    )
    [call] = parsed.calls
    assert (call.tokens.input, call.tokens.cache_read, call.tokens.output) == (300, 300, 30)
    assert call.subagent and call.session_id == SID


def test_archived_copy_of_a_rollout_counts_once(isolated_home: Path) -> None:
    rollout = [
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (1000, 200, 50, 0)),
    ]
    name = f"rollout-2026-11-20T09-00-00-{SID}.jsonl"
    write(isolated_home / ".codex" / "sessions" / "2026" / "11" / "20" / name, *rollout)
    write(isolated_home / ".codex" / "archived_sessions" / name, *rollout)
    roots = default_roots({"CODEX_HOME": str(isolated_home / ".codex")}, isolated_home, ["codex"])
    found = find_files(roots, ["codex"])
    assert len(found.files) == 2
    index = Index(None)
    index.update(found.files, roots)
    calls = index.calls(Scope(tuple(str(r.path) for r in roots), ("codex",)))
    assert len(calls) == 1


def test_each_logs_newest_rate_limits_are_kept_in_one_shape(isolated_home: Path) -> None:
    limits = {
        "limit_id": "codex",
        "primary": {"used_percent": 7.0, "window_minutes": 300, "resets_at": 1771890497},
        "secondary": {"used_percent": 11.0, "window_minutes": 10080, "resets_at": 1772355702},
    }
    older = {
        "primary": {"used_percent": 1.0, "window_minutes": 299, "resets_in_seconds": 60},
        "secondary": {"used_percent": 2.0, "window_minutes": 10079, "resets_in_seconds": 600},
    }
    base = isolated_home / ".codex" / "sessions"
    write(
        base / "rollout-a.jsonl",
        codex_meta("a", _at(0)),
        codex_tokens(_at(5), (10, 0, 1, 0), rate_limits=older),
    )
    write(
        base / "rollout-b.jsonl",
        codex_meta("b", _at(10)),
        codex_tokens(_at(20), (10, 0, 1, 0), rate_limits=limits),
    )
    roots = default_roots({"CODEX_HOME": str(isolated_home / ".codex")}, isolated_home, ["codex"])
    index = Index(None)
    index.update(find_files(roots).files, roots)
    history = index.rate_limits(Scope(tuple(str(r.path) for r in roots), ("codex",)))
    assert [state["observed_at"] for state in history] == [_at(5).timestamp(), _at(20).timestamp()]
    assert history[-1] == {
        "observed_at": _at(20).timestamp(),
        "five_hour": {"used_percent": 7.0, "window_minutes": 300, "resets_at": 1771890497},
        "weekly": {"used_percent": 11.0, "window_minutes": 10080, "resets_at": 1772355702},
    }
    # a row that ended before the newest was logged is shown what was logged by its end
    assert limits_at(history, _at(19).timestamp()) is history[0]
    assert limits_at(history, _at(20).timestamp()) is history[1]
    assert limits_at(history, _at(4).timestamp()) is None
    old = codex.parse(
        jsonl(codex_tokens(_at(5), (1, 0, 1, 0), rate_limits=older)).splitlines(), {}, "r"
    )
    assert old.rate_limits["five_hour"]["resets_at"] == _at(65).timestamp()


def test_calls_before_any_turn_context_are_estimated_on_the_fallback_model() -> None:
    parsed = _parse(codex_meta(SID, _at(0)), codex_tokens(_at(3), (1000, 0, 50, 0)))
    [call] = parsed.calls
    assert call.model == "gpt-5" and call.fidelity.value == "estimated"


def _spoiled(when: datetime, field: str, value: object, *, usage: str = "total") -> dict:
    """A snapshot one step past `_GOOD[0]` whose `usage`_token_usage holds a bad `field`."""
    line = codex_tokens(when, (1800, 500, 60, 15), last=(800, 300, 10, 5))
    line["payload"]["info"][f"{usage}_token_usage"][field] = value
    return line


_GOOD = (
    codex_meta(SID, _at(0)),
    codex_context(_at(1)),
    codex_tokens(_at(3), (1000, 200, 50, 10)),
)
_AFTER = codex_tokens(_at(9), (2500, 1100, 80, 20), last=(700, 600, 20, 5))


def _summary(parsed) -> tuple[int, ...]:
    return token_totals(parsed.calls, ("input", "cache_read", "output", "reasoning"))


def test_a_snapshot_with_a_bool_count_is_skipped_and_leaves_the_baseline() -> None:
    """`true` is an int to Python: taken, it reset the baseline and the next call counted twice."""
    clean = _parse(*_GOOD, _AFTER)
    assert _summary(clean) == (2, 2500 - 1100, 1100, 80, 20) and not clean.skipped
    parsed = _parse(*_GOOD, _spoiled(_at(5), "cached_input_tokens", True), _AFTER)
    assert _summary(parsed) == _summary(clean)
    assert [c.timestamp for c in parsed.calls] == [_at(3).timestamp(), _at(9).timestamp()]
    assert parsed.skipped == {BAD_TOKENS: 1}
    assert parsed.state["total"] == [2500, 1100, 80, 20, 0]


def test_bad_counts_and_times_skip_their_snapshots_and_the_others_count_exactly() -> None:
    far = codex_tokens("9999-12-31T23:59:59.999Z", (1800, 500, 60, 15))
    old = codex_tokens("0001-01-01T00:00:00.000Z", (1800, 500, 60, 15))
    parsed = _parse(
        *_GOOD,
        _spoiled(_at(4), "input_tokens", 2**63),
        _spoiled(_at(5), "output_tokens", -1),
        _spoiled(_at(6), "reasoning_output_tokens", True, usage="last"),
        _spoiled(_at(7), "cached_input_tokens", 12.0),
        _spoiled(_at(7.5), "input_tokens", "many"),
        far,
        old,
        codex_prompt("9999-12-31T23:59:59.999Z"),  # not a prompt
        _AFTER,
    )
    assert _summary(parsed) == (2, 2500 - 1100, 1100, 80, 20)
    assert not parsed.prompts
    assert parsed.skipped == {BAD_TOKENS: 4, "wrong field types": 1, BAD_TIMESTAMP: 3}


def test_a_bad_snapshot_at_the_end_of_a_read_leaves_the_next_read_exact(
    isolated_home: Path,
) -> None:
    path = write(
        isolated_home / ".codex" / "sessions" / "rollout-2026-11-20T09-00-00-x.jsonl",
        *_GOOD,
        _spoiled(_at(4), "input_tokens", 2**63),
    )
    roots = default_roots({"CODEX_HOME": str(isolated_home / ".codex")}, isolated_home, ["codex"])
    scope = Scope(tuple(str(r.path) for r in roots), ("codex",))
    index = Index(isolated_home / "index.sqlite")
    index.update(find_files(roots).files, roots)
    with open(path, "ab") as handle:
        handle.write(jsonl(_AFTER))
    index.update(find_files(roots).files, roots)
    calls = index.calls(scope)
    assert sorted(c.tokens.output for c in calls) == [30, 50]
    assert sum(c.tokens.input for c in calls) == 2500 - 1100
    [diagnostics] = index.diagnostics(scope)
    assert diagnostics.skipped == {BAD_TOKENS: 1}


# --- 2026 shapes (FORMATS 9.2): cache writes, and one token_usage_record per response --------

THREAD = "019a0000-0000-7000-8000-0000000000aa"
KINDS = ("input", "cache_write", "cache_read", "output", "reasoning")


def _usage(fresh: int, cached: int, output: int, reasoning: int, written: int) -> dict:
    return {
        "input_tokens": fresh,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": written,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": fresh + output,
    }


def _count(when: datetime, total: tuple[int, ...], last: tuple[int, ...]) -> dict:
    """A token_count snapshot with cache writes: totals and last as (input, cached, output,
    reasoning, cache_write)."""
    line = codex_tokens(when, total[:4], last[:4])
    info = line["payload"]["info"]
    info["total_token_usage"] = _usage(*total)
    info["last_token_usage"] = _usage(*last)
    return line


def _record(
    when: datetime, response: str, usage: tuple[int, ...], thread: str = THREAD, **extra
) -> dict:
    return {
        "timestamp": iso(when),
        "type": "token_usage_record",
        "payload": {
            "thread_id": thread,
            "turn_id": "turn-1",
            "session_id": thread,
            "root_turn_id": "turn-1",
            "response_id": response,
            "usage": _usage(*usage),
            "turn_token_usage": _usage(*usage),
            "thread_token_usage": _usage(*usage),
            **extra,
        },
    }


def _tool_call(when: datetime, name: str) -> dict:
    return {
        "timestamp": iso(when),
        "type": "response_item",
        "payload": {"type": "function_call", "name": name, "arguments": "{}"},
    }


def test_cache_writes_are_a_part_of_the_input() -> None:
    """The genuine totals of FORMATS 9.2 (codex-sdk 0.148.0): 946,190 = 935,040 + 11,150."""
    usage = (935_040, 875_306, 11_150, 1_141, 57_610)
    parsed = _parse(codex_meta(SID, _at(0)), codex_context(_at(1)), _count(_at(3), usage, usage))
    [call] = parsed.calls
    assert call.tokens == Tokens(
        input=2_124, cache_write_5m=57_610, cache_read=875_306, output=11_150, reasoning=1_141
    )
    assert call.tokens.total == 946_190


def test_records_count_each_response_once_whichever_line_comes_first() -> None:
    """An older CLI's segment counts from its snapshots; from the first record on, records
    count and snapshots only move the baseline. The first record's twin snapshot, just
    before it, is replaced (its tools kept), not counted twice."""
    parsed = _parse(
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        _count(_at(3), (1000, 200, 50, 10, 0), (1000, 200, 50, 10, 0)),  # the old CLI
        _tool_call(_at(10), "apply_patch"),
        _count(_at(12), (2500, 1100, 80, 20, 100), (1500, 900, 30, 10, 100)),  # the twin…
        _record(_at(12.2), "resp-1", (1500, 900, 30, 10, 100)),  # … then its record
        _record(_at(20), "resp-2", (4000, 3000, 60, 0, 500), attribution={"model": "gpt-5.6"}),
        _count(_at(20.1), (6500, 4100, 140, 20, 600), (4000, 3000, 60, 0, 500)),  # its twin
        _record(
            _at(30), "resp-3", (700, 600, 5, 0, 0), completed_at_ms=int(_at(31).timestamp() * 1000)
        ),
    )
    assert [(c.key, c.model) for c in parsed.calls] == [
        (f"{SID}:{iso(_at(3))}:1050", "gpt-5-codex"),
        (f"{SID}:{iso(_at(12))}:2580", "gpt-5-codex"),
        (f"{THREAD}:resp-2", "gpt-5.6"),
        (f"{THREAD}:resp-3", "gpt-5-codex"),
    ]
    assert parsed.ranks == [0, codex.RECORD_RANK, codex.RECORD_RANK, codex.RECORD_RANK]
    assert parsed.calls[1].tools == ("apply_patch",)
    assert parsed.calls[3].timestamp == _at(31).timestamp()
    # input less its cached and written parts: 800 + 500 + 500 + 100
    assert token_totals(parsed.calls, KINDS) == (4, 1900, 600, 4700, 145, 20)


def test_a_record_read_after_its_twin_was_stored_is_one_call(isolated_home: Path) -> None:
    """The snapshot was read (and stored) before its record was written: the record takes the
    snapshot's key and wins over it, so the response counts once, with the record's model."""
    name = f"rollout-2026-11-20T09-00-00-{SID}.jsonl"
    path = isolated_home / ".codex" / "sessions" / "2026" / "11" / "20" / name
    write(
        path,
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        _count(_at(3), (1000, 200, 50, 10, 0), (1000, 200, 50, 10, 0)),
    )
    roots = default_roots({"CODEX_HOME": str(isolated_home / ".codex")}, isolated_home, ["codex"])
    scope = Scope(tuple(str(r.path) for r in roots), ("codex",))
    index = Index(None)
    index.update(find_files(roots, ["codex"]).files, roots)
    with path.open("ab") as out:
        out.write(
            jsonl(
                _record(
                    _at(3.5), "resp-1", (1000, 200, 50, 10, 0), attribution={"model": "gpt-5.5"}
                )
            )
        )
    index.update(find_files(roots, ["codex"]).files, roots)
    [call] = index.calls(scope)
    assert (call.model, call.tokens.output) == ("gpt-5.5", 50)


def test_a_record_in_two_files_counts_once(isolated_home: Path) -> None:
    """An archived copy, or a delegate's record forwarded into its parent's rollout: one
    (thread, response), one call."""
    child = "019a0000-0000-7000-8000-0000000000cc"
    forwarded = _record(_at(5), "resp-child", (300, 0, 20, 0, 0), thread=child)
    parent = [
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        _record(_at(3), "resp-1", (900, 100, 40, 0, 0)),
        forwarded,
    ]
    name = f"rollout-2026-11-20T09-00-00-{SID}.jsonl"
    codex_home = isolated_home / ".codex"
    write(codex_home / "sessions" / "2026" / "11" / "20" / name, *parent)
    write(codex_home / "archived_sessions" / name, *parent)
    own = [codex_meta(child, _at(4)), codex_context(_at(4)), forwarded]
    write(codex_home / "sessions" / "2026" / "11" / "20" / f"rollout-x-{child}.jsonl", *own)
    roots = default_roots({"CODEX_HOME": str(codex_home)}, isolated_home, ["codex"])
    index = Index(None)
    index.update(find_files(roots, ["codex"]).files, roots)
    calls = index.calls(Scope(tuple(str(r.path) for r in roots), ("codex",)))
    assert sorted(c.key for c in calls) == [f"{THREAD}:resp-1", f"{child}:resp-child"]
    assert token_totals(calls, ("input", "cache_read", "output")) == (2, 1100, 100, 60)


def test_a_baseline_kept_by_an_older_version_continues_exactly() -> None:
    """The index keeps each file's parse state: a total of four counts (before cache writes
    were read) is the baseline of the next read, not a reset."""
    state = {"session": SID, "model": "gpt-5-codex", "total": [1000, 200, 50, 10]}
    lines = jsonl(codex_tokens(_at(5), (2500, 1100, 80, 20), last=(1500, 900, 30, 10)))
    parsed = codex.parse(lines.splitlines(), state, "rollout-x.jsonl")
    [call] = parsed.calls
    assert (call.tokens.input, call.tokens.cache_read, call.tokens.output) == (600, 900, 30)


# --- compressed rollouts (FORMATS 9.2): rollout-….jsonl.zst, a week old -------------------------


def _rollout() -> list[dict]:
    return [
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (1000, 200, 50, 10)),
        _record(_at(20), "resp-2", (4000, 3000, 60, 0, 500)),
    ]


def _compress(path: Path, records: list[dict]) -> Path:
    import zstandard

    target = path.with_name(path.name + ".zst")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zstandard.ZstdCompressor(level=3).compress(jsonl(*records)))
    return target


def _codex_calls(home: Path, index: Index | None = None) -> tuple[Index, list]:
    roots = default_roots({"CODEX_HOME": str(home / ".codex")}, home, ["codex"])
    index = index or Index(None)
    index.update(find_files(roots, ["codex"]).files, roots)
    return index, index.calls(Scope(tuple(str(r.path) for r in roots), ("codex",)))


def test_a_compressed_rollout_is_read_and_its_plain_twin_counts_once(isolated_home: Path) -> None:
    plain = isolated_home / ".codex" / "sessions" / "2026" / "11" / "20" / f"rollout-x-{SID}.jsonl"
    _compress(plain, _rollout())
    index, calls = _codex_calls(isolated_home)
    assert token_totals(calls, ("input", "cache_read", "output")) == (2, 1300, 3200, 110)
    assert {call.session_id for call in calls} == {SID}
    write(plain, *_rollout())  # resumed: Codex decompresses it (the .zst goes a moment later)
    _, calls = _codex_calls(isolated_home, index)
    assert token_totals(calls, ("input", "cache_read", "output")) == (2, 1300, 3200, 110)


def test_a_rollout_compressed_after_it_was_indexed_keeps_its_calls_once(
    isolated_home: Path,
) -> None:
    plain = write(
        isolated_home / ".codex" / "sessions" / "2026" / "11" / "20" / f"rollout-x-{SID}.jsonl",
        *_rollout(),
    )
    index, before = _codex_calls(isolated_home)
    _compress(plain, _rollout())
    plain.unlink()
    _, after = _codex_calls(isolated_home, index)
    assert sorted(c.key for c in after) == sorted(c.key for c in before) and len(after) == 2


def test_a_damaged_compressed_rollout_waits_and_the_rest_is_exact(isolated_home: Path) -> None:
    sessions = isolated_home / ".codex" / "sessions" / "2026" / "11" / "20"
    damaged = _compress(sessions / f"rollout-x-{SID}.jsonl", _rollout())
    damaged.write_bytes(damaged.read_bytes()[:-9])  # caught while written
    other = "019a0000-0000-7000-8000-0000000000dd"
    write(
        sessions / f"rollout-y-{other}.jsonl",
        codex_meta(other, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (500, 100, 20, 0)),
    )
    index, calls = _codex_calls(isolated_home)
    assert token_totals(calls, ("output",)) == (1, 20)
    _compress(sessions / f"rollout-x-{SID}.jsonl", _rollout())  # now whole
    _, calls = _codex_calls(isolated_home, index)
    assert token_totals(calls, ("output",)) == (3, 130)


def test_a_compressed_rollout_given_by_path_is_known_by_its_name(tmp_path: Path) -> None:
    rollout = _compress(tmp_path / f"rollout-x-{SID}.jsonl", _rollout())
    assert sniff(str(rollout)) == codex.NAME
    assert sniff(str(_compress(tmp_path / "notes.jsonl", _rollout()))) is None


def _settings(when: datetime, **settings: object) -> dict:
    return {
        "timestamp": iso(when),
        "type": "event_msg",
        "payload": {"type": "thread_settings_applied", "thread_settings": settings},
    }


def test_the_service_tier_holds_until_set_again_and_a_record_names_its_own() -> None:
    parsed = _parse(
        codex_meta(SID, _at(0)),
        codex_context(_at(1)),
        codex_tokens(_at(3), (1000, 200, 50, 0)),  # no tier recorded: standard
        _settings(_at(4), model="gpt-5.5", service_tier="priority"),  # /fast
        codex_tokens(_at(5), (2000, 400, 60, 0)),
        _settings(_at(6), model="gpt-5.5"),  # a change that names no tier leaves it
        codex_tokens(_at(7), (3000, 600, 70, 0)),
        _settings(_at(8), service_tier="flex"),
        codex_tokens(_at(9), (4000, 800, 80, 0)),
        _settings(_at(10), service_tier="turbo"),  # a tier not known here: standard
        codex_tokens(_at(11), (5000, 1000, 90, 0)),
        _settings(_at(12), service_tier="fast"),
        _record(_at(13), "resp-6", (100, 0, 5, 0, 0), attribution={"service_tier": "flex"}),
        _record(_at(14), "resp-7", (100, 0, 5, 0, 0)),  # the record names none: the file's
        _settings(_at(15), service_tier="standard"),  # Codex Desktop's spelling
        _record(_at(16), "resp-8", (100, 0, 5, 0, 0)),
    )
    assert [call.speed for call in parsed.calls] == [
        "",
        "fast",
        "fast",
        "flex",
        "",
        "flex",
        "fast",
        "",
    ]


def test_a_model_priced_under_a_normalised_id_is_flagged_estimated_in_tree_and_export(
    isolated_home: Path,
) -> None:
    """gpt-5-1-codex-2025-11-13 is unknown to the price data: priced as gpt-5.1-codex, and said."""
    base = isolated_home / ".codex" / "sessions"
    write(
        base / "rollout-a.jsonl",
        codex_meta("a", _at(0)),
        codex_context(_at(1), model="gpt-5-1-codex-2025-11-13"),
        codex_tokens(_at(3), (1000, 200, 50, 10)),
        codex_context(_at(4), model="gpt-5.1"),
        codex_tokens(_at(5), (2500, 1100, 80, 20), last=(1500, 900, 30, 10)),
    )
    roots = default_roots({"CODEX_HOME": str(isolated_home / ".codex")}, isolated_home, ["codex"])
    index = Index(None)
    index.update(find_files(roots).files, roots)
    calls = index.calls(Scope(tuple(str(r.path) for r in roots), ("codex",)))
    assert [call.fidelity for call in calls] == [Fidelity.ESTIMATED, Fidelity.EXACT]
    tree = build_tree(calls, [], Calendar(ZoneInfo("UTC")))
    assert (tree.totals.calls, tree.totals.estimated_calls) == (2, 1)
    document = export_document(tree, "", "UTC", prices=index.prices)
    ExportDocument.model_validate(document)
    leaves = [node for node in _walk(document["root"]) if node["kind"] == "call"]
    guessed, listed = sorted(leaves, key=lambda node: node["start"])
    assert (
        guessed["fidelity"] == "estimated" and "priced as gpt-5.1-codex" in guessed["price_origin"]
    )
    assert listed["fidelity"] == "exact" and "estimated" not in listed["price_origin"]


def _walk(node: dict):
    yield node
    for child in node["children"]:
        yield from _walk(child)
