"""The list view's choices without Textual: sorting, reversal, filter, bars, shares, names."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokentree.core.breakdown import breakdown
from tokentree.core.pricing import PriceBook, Pricing
from tokentree.core.records import ApiCall, Prompt, Tokens
from tokentree.core.tree import Calendar, Kind, build_tree
from tokentree.core.view import (
    BarMetric,
    Sort,
    SortKey,
    bar,
    export_name,
    flag_glyphs,
    listing,
    resolve,
)

UTC_CAL = Calendar(ZoneInfo("UTC"))


def call(
    when: str, *, session: str = "s1", output: int = 10, cost: float = 0.01, subagent: bool = False
) -> ApiCall:
    return ApiCall(
        source="claude-code",
        key=f"{session}:{when}",
        session_id=session,
        project="/home/dev/atlas",
        timestamp=datetime.fromisoformat(when).timestamp(),
        model="claude-sonnet-4-5-20250929",
        tokens=Tokens(input=1, cache_read=100 * len(session), output=output),
        subagent=subagent,
        cost=cost,
    )


def prompt(when: str, session: str = "s1") -> Prompt:
    return Prompt("claude-code", session, datetime.fromisoformat(when).timestamp())


def _tree():
    calls = [
        call("2026-11-17T09:00:00+00:00", session="a", output=10, cost=0.30),
        call("2026-11-17T09:01:00+00:00", session="a", output=10, cost=0.30),
        call("2026-11-17T11:00:00+00:00", session="b", output=5000, cost=0.10),
        call("2026-11-18T10:00:00+00:00", session="c", output=100, cost=0.20, subagent=True),
    ]
    prompts = [prompt("2026-11-17T08:59:00+00:00", "a"), prompt("2026-11-17T10:59:00+00:00", "b")]
    return build_tree(calls, prompts, UTC_CAL)


def test_the_same_key_again_reverses_and_a_new_key_starts_biggest_first() -> None:
    sort = Sort()
    assert sort.pressed(SortKey.COST) == Sort(SortKey.COST, descending=False)
    assert sort.pressed(SortKey.TOKENS) == Sort(SortKey.TOKENS, descending=True)
    assert Sort(SortKey.TOKENS, False).pressed(SortKey.CACHE) == Sort(SortKey.CACHE, True)
    assert sort.pressed(SortKey.TIME) == Sort(SortKey.TIME, descending=False)  # oldest first
    assert sort.pressed(SortKey.TIME).pressed(SortKey.TIME).descending is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (SortKey.COST, lambda n: n.totals.cost),
        (SortKey.TOKENS, lambda n: n.totals.total),
        (SortKey.CACHE, lambda n: n.totals.cache_hit),
        (SortKey.TIME, lambda n: n.start),
        (SortKey.COUNT, lambda n: n.turns),
    ],
)
def test_each_sort_key_orders_rows_and_reverses(key, value) -> None:
    day = _tree().find("2026-W47/2026-11-17")
    sort = Sort(key, key is not SortKey.TIME)
    values = [value(row) for row in listing(day, sort, BarMetric.COST).rows]
    assert values == sorted(values, reverse=sort.descending)
    again = sort.pressed(key)
    assert [value(r) for r in listing(day, again, BarMetric.COST).rows] == values[::-1]


def test_turns_sort_by_number_not_text() -> None:
    calls = [call(f"2026-11-17T09:{m:02d}:30+00:00") for m in range(12)]
    prompts = [prompt(f"2026-11-17T09:{m:02d}:00+00:00") for m in range(12)]
    session = build_tree(calls, prompts, UTC_CAL).children[0].children[0].children[0]
    keys = [row.key for row in listing(session, Sort(SortKey.TIME, False), BarMetric.COST).rows]
    assert keys == [str(n) for n in range(1, 13)]


def test_listing_shares_and_bars_are_relative_to_parent_and_largest() -> None:
    day = _tree().find("2026-W47/2026-11-17")
    shown = listing(day, Sort(), BarMetric.COST)
    first, second = shown.rows
    assert shown.bar_fraction(first) == 1.0
    assert shown.bar_fraction(second) == pytest.approx(0.10 / 0.60)
    assert shown.share(first) == pytest.approx(0.60 / 0.70)
    by_tokens = listing(day, Sort(), BarMetric.TOKENS)
    assert by_tokens.share(by_tokens.rows[0]) == pytest.approx(
        by_tokens.rows[0].totals.total / day.totals.total
    )


@given(st.floats(0, 1), st.integers(1, 40))
def test_bars_fill_in_eighths_and_keep_their_width(fraction: float, width: int) -> None:
    drawn = bar(fraction, width)
    assert len(drawn) == width
    filled = drawn.count("█") * 8 + sum(" ▏▎▍▌▋▊▉".index(c) for c in drawn if c in "▏▎▍▌▋▊▉")
    assert abs(filled - fraction * width * 8) <= 1
    assert (fraction == 0) == (drawn.strip() == "")


def test_flags_and_paths() -> None:
    tree = _tree()
    assert flag_glyphs(tree.totals) == "↳"
    chain, keys = resolve(tree, ("2026-W47", "2026-11-17", "claude-code:gone", "1"))
    assert keys == ("2026-W47", "2026-11-17") and chain[-1].kind is Kind.DAY


def test_export_names_say_what_was_exported() -> None:
    tree = _tree()
    chain, _ = resolve(tree, ("2026-W47", "2026-11-17", "claude-code:a", "1"))
    assert export_name(chain[:1]) == "./tokentree-all.json"
    assert export_name(chain[:3]) == "./tokentree-2026-11-17.json"
    assert export_name(chain[:4]) == "./tokentree-atlas-2026-11-17.json"
    assert export_name(chain) == "./tokentree-atlas-2026-11-17-turn1.json"


def test_breakdown_prices_each_kind_and_adds_up_to_the_stored_cost() -> None:
    prices = PriceBook()
    raw = [
        ApiCall(
            "claude-code",
            f"k{i}",
            "s",
            "/p",
            1795000000.0 + i,
            "claude-sonnet-4-5-20250929",
            Tokens(
                input=100 * i, cache_write_5m=1000, cache_write_1h=500, cache_read=9000, output=70
            ),
            file="/logs/s.jsonl",
            web_searches=i - 1,
        )
        for i in range(1, 4)
    ] + [ApiCall("codex", "u", "t", "/p", 1795000100.0, "no-such-model", Tokens(input=5))]
    priced = [(c, *prices.price(c)) for c in raw]
    calls = [c._replace(cost=cost, unpriced=found is Pricing.UNPRICED) for c, cost, found in priced]
    tree = build_tree(calls, [], UTC_CAL)
    found = breakdown(tree, prices)
    assert found.web_search_cost == pytest.approx(3 * 0.01)  # $10 per 1,000 searches
    assert tree.totals.web_searches == 3
    assert sum(found.cost_by_kind.values()) + found.web_search_cost == pytest.approx(
        tree.totals.cost
    )
    assert found.cost_by_kind["cache_write_1h"] == pytest.approx(3 * 500 * 6.0 / 1e6)
    assert found.unpriced_models == {"no-such-model"}
    assert found.calls_by_source == {"claude-code": 3, "codex": 1}
    assert found.files == {"/logs/s.jsonl": False}


def test_core_never_imports_textual() -> None:
    code = (
        "import sys, tokentree.core.view, tokentree.core.breakdown, tokentree.core.tree,"
        " tokentree.core.index, tokentree.core.export, tokentree.workspace;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
