"""Cache forensics: why a call missed the cache, and the dollars that miss cost over a hit.

Sequences in the shapes of FORMATS.md §1.6 (Claude's usage: uncached input, 5-minute
and 1-hour cache writes, cache reads) and §9.1 (`cache_miss_reason`, copied into
`cache_miss` as "tools_changed 29870"), each checked against the arithmetic by hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tests.builders import claude_call, write
from tokentree.core.cache_misses import (
    IDLE,
    MODEL_SWITCH,
    NOT_CACHED,
    cache_miss_text,
    file_misses,
)
from tokentree.core.index import Index, Scope
from tokentree.core.pricing import PriceBook
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.served import served_tree
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import Calendar, build_tree
from tokentree.core.view import Sort, SortKey, sort_nodes

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-5-20251101"
T0 = 1_795_000_000.0
PRICES = PriceBook()


def call(
    n: int,
    minutes: float,
    *,
    model: str = SONNET,
    fresh: int = 10,
    write_5m: int = 0,
    write_1h: int = 0,
    read: int = 0,
    miss: str = "",
    subagent: bool = False,
    key: str = "",
) -> ApiCall:
    tokens = Tokens(fresh, write_5m, write_1h, read, 100, 0)
    return ApiCall(
        "claude-code",
        key or f"m{n}",
        "s1",
        "/home/dev/atlas",
        T0 + minutes * 60,
        model,
        tokens,
        subagent=subagent,
        cache_miss=miss,
    )


def rates_of(found: ApiCall):
    return PRICES.rates_for(found.model, found.source, found.timestamp, found.speed)


def misses(calls: list[ApiCall], state: dict | None = None) -> list[tuple[str, float]]:
    return file_misses(calls, rates_of, {} if state is None else state)


def waste(again: int, fresh: int, written: int, model: str = SONNET) -> float:
    """By hand: the history sent again × (its blended fresh rate − the cache read rate)."""
    rates = rates_of(call(0, 0, model=model))
    assert rates is not None
    rate = (fresh * rates.input + written * rates.cache_write_5m) / (fresh + written)
    return again * (rate - rates.cache_read) / 1_000_000


def test_a_warm_cache_is_no_miss_and_an_idle_gap_is() -> None:
    calls = [
        call(1, 0, write_5m=40_000),
        call(2, 2, write_5m=3_000, read=40_000),  # read the history back: a hit
        call(3, 30, write_5m=45_000),  # 28 min later, the whole history written again
    ]
    found = misses(calls)
    assert [cause for cause, _ in found] == ["", "", IDLE]
    # min(uncached input + writes, the previous prompt) = min(10 + 45,000, 43,010) = 43,010
    assert math.isclose(found[2][1], waste(43_010, 10, 45_000))


def test_a_one_hour_write_keeps_the_cache_for_an_hour() -> None:
    calls = [
        call(1, 0, write_1h=40_000),
        call(2, 30, write_1h=2_000, read=40_000),  # 30 min: still warm
        call(3, 75, write_1h=43_000),  # 45 min after the last: warm, yet missed
        call(4, 140, write_1h=44_000),  # 65 min: expired
    ]
    assert [cause for cause, _ in misses(calls)] == ["", "", NOT_CACHED, IDLE]


def test_a_logged_cause_is_taken_at_its_word_within_the_lifetime() -> None:
    calls = [
        call(1, 0, write_5m=30_000),
        call(2, 1, write_5m=29_000, read=2_000, miss="tools_changed 29870"),
        call(3, 20, write_5m=31_000, miss="tools_changed 30000"),  # but idle first
    ]
    found = misses(calls)
    assert [cause for cause, _ in found] == ["", "tools_changed", IDLE]
    assert math.isclose(found[1][1], waste(29_010, 10, 29_000))


def test_a_model_switch_writes_the_new_models_cache_and_the_old_one_stays_warm() -> None:
    calls = [
        call(1, 0, write_5m=30_000),
        call(2, 1, model=OPUS, write_5m=31_000),  # opus has no cache of this history
        call(3, 2, write_5m=1_500, read=30_000),  # back to sonnet: its cache is warm
        call(4, 3, model=OPUS, write_5m=2_000, read=31_000),
    ]
    found = misses(calls)
    assert [cause for cause, _ in found] == ["", MODEL_SWITCH, "", ""]
    assert math.isclose(found[1][1], waste(30_010, 10, 31_000, OPUS))


def test_compaction_sub_agents_and_small_prompts_are_no_miss() -> None:
    calls = [
        call(1, 0, write_5m=90_000),
        call(2, 1, write_5m=8_000),  # compacted: a much shorter prompt, written anew
        call(3, 2, write_5m=50_000, subagent=True),  # a sub-agent's own thread
        call(4, 3, write_5m=500, read=7_000),
        call(5, 30, fresh=900),  # idle, but under the smallest cached prompt
    ]
    assert [cause for cause, _ in misses(calls)] == [""] * 5


def test_copies_of_a_call_get_one_answer() -> None:
    first, later = call(1, 0, write_5m=40_000), call(2, 10, write_5m=40_500, key="m2")
    placeholder = later._replace(tokens=later.tokens._replace(output=3))
    found = misses([first, placeholder, later])
    assert found[1] == found[2] and found[1][0] == IDLE


def test_sessions_interleaved_in_one_file_each_keep_their_own_cache() -> None:
    """The loop keeps the session of the call before: one of another session (or of another
    source with the same id) must switch to its own."""
    first = [call(1, 0, write_5m=30_000), call(2, 9, write_5m=31_000)]
    second = [
        call(3, 1, write_5m=20_000)._replace(session_id="s2"),
        call(4, 2, write_5m=500, read=20_000)._replace(session_id="s2"),
    ]
    other = [
        call(5, 3, write_5m=25_000)._replace(source="codex"),
        call(6, 30, write_5m=26_000)._replace(source="codex"),
    ]
    mixed = [first[0], second[0], other[0], second[1], first[1], other[1]]
    found = dict(zip(mixed, misses(mixed), strict=True))
    for session in (first, second, other):
        assert [found[c] for c in session] == misses(session)
    assert [found[c][0] for c in mixed] == ["", "", "", "", IDLE, IDLE]


SEQUENCE = [
    call(1, 0, write_5m=30_000),
    call(2, 1, write_5m=2_000, read=30_000),
    call(3, 9, write_5m=33_000),
    call(4, 10, model=OPUS, write_5m=34_000),
    call(5, 11, write_5m=5_000, read=28_000, miss="system_changed 20000"),
    call(6, 12, write_1h=36_000),
    call(7, 50, write_1h=1_000, read=36_000),
    call(8, 130, write_1h=38_000),
]


@given(st.integers(0, len(SEQUENCE)), st.integers(0, len(SEQUENCE)))
def test_an_appended_log_gives_what_one_read_gives(first: int, second: int) -> None:
    """The sessions' caches are carried in the file's state from one read to the next."""
    cut, later = sorted((first, second))
    state: dict = {}
    parts = [SEQUENCE[:cut], SEQUENCE[cut:later], SEQUENCE[later:]]
    found = [answer for part in parts for answer in misses(part, state)]
    assert found == misses(SEQUENCE)
    assert [cause for cause, _ in found] == [
        "",
        "",
        IDLE,
        MODEL_SWITCH,
        "system_changed",
        NOT_CACHED,
        "",
        IDLE,
    ]


def test_the_waste_is_summed_at_every_level_and_sorts(tmp_path: Path) -> None:
    """Indexed from a Claude log: each call keeps its cause and waste, the weeks and days
    served from the rollup sum them, and they equal the tree built from the calls."""
    lines = [
        claude_call("a1", "2026-11-20T09:00:00Z", cache_write=40_000, session="s1"),
        claude_call(
            "a2", "2026-11-20T09:01:00Z", cache_write=2_000, cache_read=40_000, session="s1"
        ),
        claude_call("a3", "2026-11-20T09:40:00Z", cache_write=43_000, session="s1"),
        claude_call("b1", "2026-11-21T09:00:00Z", cache_write=30_000, session="s2"),
        claude_call(
            "b2", "2026-11-21T09:02:00Z", cache_write=1_000, cache_read=30_000, session="s2"
        ),
    ]
    write(tmp_path / "projects" / "p" / "s1.jsonl", *lines[:3])
    write(tmp_path / "projects" / "p" / "s2.jsonl", *lines[3:])
    roots = explicit_roots([tmp_path])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))
    calls = index.calls(scope)
    wasted = {found.key.split(":")[0]: (found.cache_miss, found.cache_waste) for found in calls}
    assert wasted["a3"][0] == IDLE and wasted["a3"][1] > 0
    assert all(cause == "" for name, (cause, _) in wasted.items() if name != "a3")
    calendar = Calendar(ZoneInfo("UTC"))
    built = build_tree(calls, index.prompts(scope), calendar)
    served = served_tree(index.reader(), scope, calendar)
    assert math.isclose(served.root.totals.cache_waste, wasted["a3"][1])
    assert math.isclose(built.totals.cache_waste, wasted["a3"][1])
    days = served.root.children[0].children
    assert [day.totals.cache_waste > 0 for day in days] == [True, False]
    ranked = sort_nodes(days, Sort(SortKey.WASTE))
    assert ranked[0].key == "2026-11-20"


def test_a_miss_in_words_names_the_cause_claudes_estimate_and_the_dollars() -> None:
    assert cache_miss_text(IDLE) == "idle past the cache's lifetime"
    assert cache_miss_text(MODEL_SWITCH, 0.5).endswith("own cache); $0.500 over a cache hit")
    assert cache_miss_text(NOT_CACHED).startswith("cache not used")
    logged = cache_miss_text("tools_changed 89018", 2.0)
    assert logged == (
        "tools changed, ≈89,018 tok not cached (Claude's estimate); $2.00 over a cache hit"
    )
