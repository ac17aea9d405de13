"""A day's advice is digested once: an analysis of a served tree replays the days whose
calls did not change from their digests, and gives the advice a full analysis gives."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.builders import claude_call, jsonl
from tests.core.test_advice_pass import LOOSE, PRICES, SAMPLE
from tokentree.core.advice import advice_dicts
from tokentree.core.advice.digest import KeptDigests
from tokentree.core.analysis import Analysis, analyse, analyse_served
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


def _analysed(served: ServedTree, digests: KeptDigests | None = None) -> Analysis:
    return analyse(served.root, PRICES, LOOSE, 0, served=served, digests=digests)


def _same(one: Analysis, other: Analysis) -> None:
    assert advice_dicts(one.advice.items) == advice_dicts(other.advice.items)
    assert one.overview == other.overview


def test_unchanged_days_are_replayed_with_the_same_advice() -> None:
    index, scope = _index(SAMPLE)
    whole = _analysed(_served(index, scope)[0])
    assert {item.rule for item in whole.advice.items} >= {"oversized_turns", "concentration"}
    digests = KeptDigests()
    first, read_first = _served(index, scope)
    _same(_analysed(first, digests), whole)
    assert len(read_first) == len(list(days_below(first.root))) == len(digests.kept)

    again, read_again = _served(index, scope)  # the next analysis: nothing changed
    _same(_analysed(again, digests), whole)
    assert read_again == []


def test_digests_kept_in_the_index_serve_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    shutil.copytree(SAMPLE / "claude", folder)
    roots = explicit_roots([folder])
    index = Index(tmp_path / "index.sqlite")
    index.update(find_files(roots).files, roots, workers=1)
    scope = Scope(tuple(str(root.path) for root in roots), tuple(SOURCES))
    whole = _analysed(_served(index, scope)[0])
    served, _ = _served(index, scope)
    analyse_served(served, PRICES, LOOSE, 0, KeptDigests(), index.keep_advice)
    paths = [f"{week.key}/{day.key}" for week in served.root.children for day in week.children]
    index.close()

    index = Index(tmp_path / "index.sqlite")  # the next start
    again, read_again = _served(index, scope)
    assert sorted(again.reads.kept_advice(scope, again.view)) == sorted(paths)
    replayed = analyse_served(again, PRICES, LOOSE, 0, KeptDigests(), index.keep_advice)
    assert read_again == []
    _same(replayed, whole)
    for item in whole.advice.items:
        assert advice_dicts(replayed.advice.for_path(item.path)) == advice_dicts(
            whole.advice.for_path(item.path)
        )
    index.keep_advice(again.view, {}, paths[1:])  # a day gone: its digest goes
    assert sorted(again.reads.kept_advice(scope, again.view)) == sorted(paths[1:])


def test_after_a_live_append_only_the_changed_day_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    shutil.copytree(SAMPLE / "claude", folder)
    index, scope = _index(folder)
    served, read_days = _served(index, scope)
    digests = KeptDigests()
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


def test_an_analysis_pauses_after_every_day_read_or_replayed() -> None:
    """The analyser waits there while the indexer serves a live change."""
    index, scope = _index(SAMPLE)
    digests = KeptDigests()
    for _ in range(2):  # read, then replayed
        served, _ = _served(index, scope)
        pauses: list[int] = []
        analyse(served.root, PRICES, LOOSE, 0, 0, served, digests, partial(pauses.append, 1))
        assert len(pauses) == len(list(days_below(served.root)))
