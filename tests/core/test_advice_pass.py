"""Advice reads the sessions once, day by day: `done_with` sees each day right after its
sessions, a day dropped then is never read again, and the advice is the same as over a tree
kept whole, found by path on a tree loaded again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import pytest

from tokentree.core.advice import (
    RULES,
    AdviceReport,
    AdviceSettings,
    CacheRebuilt,
    CompactionShare,
    Concentration,
    ContextCompounding,
    LowCacheHit,
    ModelChoice,
    OversizedTurns,
    RepeatedReads,
    SubagentShare,
    advice_dicts,
    advise,
)
from tokentree.core.attribution import Attribution
from tokentree.core.index import Index, Scope
from tokentree.core.pricing import PriceBook
from tokentree.core.records import ApiCall, Prompt
from tokentree.core.sources import explicit_roots, find_files
from tokentree.core.tree import Calendar, Kind, Node, build_tree, days_below

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"
OPUS_FAST = {"input": 30, "output": 150, "cache_read": 3, "cache_write": 37.5, "cache_write_1h": 60}
PRICES = PriceBook({"claude-opus-4-5-20251101-fast": OPUS_FAST})
LOOSE = AdviceSettings(
    min_saving_usd=0.0,
    min_saving_share=0.0,
    context_compounding=ContextCompounding(min_context=20_000, min_calls=3),
    cache_rebuilt=CacheRebuilt(min_tokens=500),
    low_cache_hit=LowCacheHit(margin=0.01, min_prompt=1_000, min_calls=2, min_sessions=2),
    repeated_reads=RepeatedReads(min_reads=2, min_sessions=2),
    oversized_turns=OversizedTurns(top=8, min_factor=1.5, min_turns=4),
    concentration=Concentration(session_share=0.03, project_share=0.15, min_sessions=2),
    model_choice=ModelChoice(min_run=2),
    subagent_share=SubagentShare(min_share=0.001),
    compaction_share=CompactionShare(min_share=0.0001),
)
"""Thresholds low enough for every rule to fire on the sample logs."""


@pytest.fixture(scope="module")
def sample() -> tuple[list[ApiCall], list[Prompt]]:
    """The sample logs' calls, every third Opus call made in fast mode (for the fast_mode rule)."""
    roots = explicit_roots([SAMPLE])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), ("claude-code", "codex"))
    calls = index.calls(scope)
    opus = [i for i, call in enumerate(calls) if call.model == "claude-opus-4-5-20251101"]
    for i in opus[::3]:
        fast = calls[i]._replace(speed="fast")
        calls[i] = fast._replace(cost=PRICES.price(fast)[0])
    return calls, index.prompts(scope)


def _tree(sample: tuple[list[ApiCall], list[Prompt]]) -> Node:
    return build_tree(*sample, Calendar(ZoneInfo("America/Los_Angeles")))


class _Dropped(list[Node]):
    """A dropped day's children: advice must never ask for them again."""

    def _read(self, *_: Any) -> NoReturn:
        raise AssertionError("a day was read after done_with")

    __iter__ = __len__ = __getitem__ = __bool__ = __contains__ = _read  # type: ignore[assignment]


def _advise(root: Node, path: str, drop: bool) -> tuple[AdviceReport, list[Node]]:
    """The advice below `root`, and the days `done_with` was called with (dropped if `drop`)."""
    seen: list[Node] = []

    def done_with(day: Node) -> None:
        seen.append(day)
        if drop:
            day._children = _Dropped()

    report = advise(root, PRICES, LOOSE, Attribution(root), path, done_with=done_with)
    return report, seen


def _roots(tree: Node) -> list[tuple[Node, str]]:
    """The whole tree, its second week, a day and a session, with their paths."""
    week = tree.children[1]
    day = week.children[0]
    return [
        (tree, ""),
        (week, week.key),
        (day, f"{week.key}/{day.key}"),
        (day.children[0], f"{week.key}/{day.key}/{day.children[0].key}"),
    ]


def test_every_rule_fires_on_the_sample(sample) -> None:
    tree = _tree(sample)
    report = advise(tree, PRICES, LOOSE, Attribution(tree))
    assert {item.rule for item in report.items} == set(RULES)


@pytest.mark.parametrize("which", range(4))
def test_done_with_sees_each_day_once_in_tree_order(sample, which: int) -> None:
    root, path = _roots(_tree(sample))[which]
    expected = list(days_below(root))
    _, seen = _advise(root, path, drop=False)
    assert [id(day) for day in seen] == [id(day) for day in expected]
    assert seen if root.kind is not Kind.SESSION else not seen


@pytest.mark.parametrize("which", range(4))
def test_days_dropped_after_done_with_give_the_same_advice(sample, which: int) -> None:
    whole_root, path = _roots(_tree(sample))[which]
    whole = advise(whole_root, PRICES, LOOSE, Attribution(whole_root), path)
    dropped_root, _ = _roots(_tree(sample))[which]
    dropped, seen = _advise(dropped_root, path, drop=True)
    assert advice_dicts(dropped.items) == advice_dicts(whole.items)
    assert all(isinstance(day._children, _Dropped) for day in seen)
    for item in whole.items:
        assert advice_dicts(dropped.for_path(item.path)) == advice_dicts(whole.for_path(item.path))


def test_advice_of_a_dropped_day_is_found_by_path_on_the_day_loaded_again(sample) -> None:
    """Kept whole, `marks` by node; dropped, `marks_at` by path on a new tree: the same marks."""
    whole_tree = _tree(sample)
    whole = advise(whole_tree, PRICES, LOOSE, Attribution(whole_tree))
    dropped, _ = _advise(_tree(sample), "", drop=True)
    again = _tree(sample)  # every day loaded anew: new nodes at the same paths
    marked = 0
    for (node, path), (new_node, new_path) in zip(
        _paths(whole_tree, ""), _paths(again, ""), strict=True
    ):
        assert path == new_path and node is not new_node
        marks = whole.marks(node)
        assert whole.marks_at(node, path) == marks
        assert dropped.marks_at(new_node, path) == marks
        assert advice_dicts(dropped.for_path(path)) == advice_dicts(whole.for_node(node))
        marked += bool(marks)
    assert marked > 10


def _paths(node: Node, path: str) -> Iterator[tuple[Node, str]]:
    """Every node down to the turns, with its path."""
    yield node, path
    if node.kind is not Kind.TURN:
        for child in node.children:
            yield from _paths(child, f"{path}/{child.key}" if path else child.key)


def test_a_subagent_share_without_a_floor_over_compactions_only_is_no_advice(sample) -> None:
    compactions = [
        call._replace(subagent=True, file="/p/s/subagents/agent-acompact-1.jsonl")
        for call in sample[0][:5]
    ]
    tree = build_tree(compactions, [], Calendar(ZoneInfo("UTC")))
    settings = AdviceSettings(subagent_share=SubagentShare(min_share=0.0))
    report = advise(tree, PRICES, settings, Attribution(tree))
    assert [item.rule for item in report.items if item.rule == "subagent_share"] == []
