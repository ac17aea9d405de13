"""A day's advice is digested once: an analysis of a served tree replays the days whose
calls did not change from their digests, and gives the advice a full analysis gives."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.builders import claude_call, jsonl
from tests.core.test_advice_pass import LOOSE, PRICES, SAMPLE
from tokentree.core.advice import advice_dicts
from tokentree.core.advice.digest import DayDigest
from tokentree.core.analysis import Analysis, analyse
from tokentree.core.index import Index, Scope
from tokentree.core.served import ServedTree, served_tree
from tokentree.core.sources import SOURCES, explicit_roots, find_files
from tokentree.core.tree import Calendar, days_below

CALENDAR = Calendar(ZoneInfo("America/Los_Angeles"))


def _index(folder: Path) -> tuple[Index, Scope]:
    roots = explicit_roots([folder])
    index = Index(None)
    index.update(find_files(roots).files, roots, workers=1)
    return index, Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))


def _served(index: Index, scope: Scope) -> tuple[ServedTree, list[Scope]]:
    """A served tree whose reader notes the scope of every day it reads."""
    reader = index.reader()
    read_days: list[Scope] = []
    calls = reader.calls

    def noting(part: Scope) -> Any:
        read_days.append(part)
        return calls(part)

    reader.calls = noting  # type: ignore[method-assign]
    return served_tree(reader, scope, CALENDAR), read_days


def _analysed(served: ServedTree, digests: dict[str, Any] | None = None) -> Analysis:
    return analyse(served.root, PRICES, LOOSE, 0, served=served, digests=digests)


def _same(one: Analysis, other: Analysis) -> None:
    assert advice_dicts(one.advice.items) == advice_dicts(other.advice.items)
    assert one.overview == other.overview


def test_unchanged_days_are_replayed_with_the_same_advice(tmp_path: Path) -> None:
    index, scope = _index(SAMPLE)
    whole = _analysed(_served(index, scope)[0])
    assert {item.rule for item in whole.advice.items} >= {"oversized_turns", "concentration"}
    digests: dict[str, Any] = {}
    first, read_first = _served(index, scope)
    _same(_analysed(first, digests), whole)
    assert len(read_first) == len(list(days_below(first.root))) == len(digests)

    again, read_again = _served(index, scope)  # the next analysis: nothing changed
    _same(_analysed(again, digests), whole)
    assert read_again == []

    decoded = {  # as the index keeps them: encoded, decoded
        path: (stamp, DayDigest.decode(digest.encode()))
        for path, (stamp, digest) in digests.items()
    }
    replayed = _analysed(_served(index, scope)[0], decoded)
    _same(replayed, whole)
    for item in whole.advice.items:
        assert advice_dicts(replayed.advice.for_path(item.path)) == advice_dicts(
            whole.advice.for_path(item.path)
        )


def test_after_a_live_append_only_the_changed_day_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    shutil.copytree(SAMPLE / "claude", folder)
    index, scope = _index(folder)
    served, read_days = _served(index, scope)
    digests: dict[str, Any] = {}
    _analysed(served, digests)
    days = list(days_below(served.root))
    when = datetime.fromtimestamp(days[len(days) // 2].start + 60, UTC)
    session_file = next((folder / "projects").rglob("*.jsonl"))
    with session_file.open("ab") as out:
        out.write(jsonl(claude_call("msg_late", when, session="late-1", output=90_000)))
    roots = explicit_roots([folder])
    index.update(find_files(roots).files, roots, workers=1)

    read_days.clear()
    grown = served.grown()
    live = _analysed(grown, digests)
    changed = CALENDAR.day(when.timestamp())
    assert {CALENDAR.day(part.since or 0) for part in read_days} == {changed}
    _same(live, _analysed(_served(index, scope)[0]))
