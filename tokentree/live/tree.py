"""Keeps the tree current as the logs grow: one full build, then only the days that changed.

Runs on the indexer thread. A full build of a year of logs takes seconds; a
live refresh should take milliseconds. What a refresh changed is read from the
index's own rollup (sums per quarter hour and per session, before and after),
so only the index's public queries are used: the calls from the first changed
day on are read again, built into days, and spliced into the old tree, which
shares everything before that day. If the changed sessions do not then add up
as the rollup says (a call moved to an older day's session), or a log was
removed or rewritten, it builds everything again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from tokentree.core import live
from tokentree.core.index import QUARTER_HOUR_GROUP, UpdateStats
from tokentree.core.records import QUARTER_HOUR, ApiCall, Prompt
from tokentree.core.splice import splice
from tokentree.core.tree import Kind, Node, build_tree
from tokentree.workspace import Workspace

Sums = dict[Any, tuple[Any, ...]]


class LiveTree:
    """The tree of a workspace and the live line's recent calls, grown refresh by refresh."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.tree: Node | None = None
        self.recent = live.Recent()
        self.full_builds = 0  # how many times everything was built (tests, benchmark)
        self._prompts: list[Prompt] = []
        self._recent_calls: list[ApiCall] = []
        self._slots: Sums = {}
        self._sessions: Sums = {}
        self._previewed: tuple[date, list[ApiCall]] | None = None  # see preview()

    def build(self) -> Node:
        """Build everything from the index (the first tree, and the fallback); after a
        preview, only the weeks before it, spliced to it."""
        workspace = self.workspace
        index, scope, calendar = workspace.index, workspace.scope, workspace.calendar
        if self._previewed is not None:
            since, recent = self._previewed
            self._previewed = None
            before = replace(scope, until=min(calendar.day_start(since), scope.until or math.inf))
            older = build_tree(index.calls(before), self._prompts, calendar)
            self.tree = splice(older, self.tree, since) if self.tree else older
        else:
            self._read_sums()
            recent = index.calls(scope)
            self._prompts = index.prompts(scope)
            self.tree = build_tree(recent, self._prompts, calendar)
        self._keep_recent(recent)
        self.full_builds += 1
        return self.tree

    def preview(self, weeks: int, min_calls: int) -> Node | None:
        """The tree of the newest `weeks` weeks alone, when the history holds at least
        `min_calls` calls (it then takes seconds to build whole): a first screen to show
        while build() adds the older weeks. None for a smaller history."""
        index, scope, calendar = self.workspace.index, self.workspace.scope, self.workspace.calendar
        self._read_sums()  # before the calls, as in build(): a change after them shows next time
        calls = sum(sums[0] for sums in self._slots.values())
        if calls < min_calls or not self._slots:
            return None
        newest = calendar.day(max(self._slots) * QUARTER_HOUR)
        since = calendar.week_of(newest) - timedelta(weeks=weeks - 1)
        recent = replace(scope, since=max(calendar.day_start(since), scope.since or -math.inf))
        self._prompts = index.prompts(scope)  # all: a session begun earlier keeps its turns
        fresh = index.calls(recent)
        self.tree = build_tree(fresh, self._prompts, calendar)
        self._previewed = (since, fresh)
        return self.tree

    def _read_sums(self) -> None:
        index, scope = self.workspace.index, self.workspace.scope
        self._slots = _sums(index.sums(scope, QUARTER_HOUR_GROUP))
        self._sessions = _sums(index.sums(scope, "session"))

    def update(self, stats: UpdateStats) -> bool:
        """Bring the tree up to date after a refresh; False when no call in scope changed."""
        if self.tree is None or stats.files_missing or stats.files_reread:
            self.build()
            return True
        index, scope, calendar = self.workspace.index, self.workspace.scope, self.workspace.calendar
        slots = _sums(index.sums(scope, QUARTER_HOUR_GROUP))
        sessions = _sums(index.sums(scope, "session"))
        changed_slots = _changed(self._slots, slots)
        changed_sessions = _changed(self._sessions, sessions)
        if not changed_slots and not changed_sessions:
            return False
        if not changed_slots:  # calls moved between sessions at the same moments: rare
            self.build()
            return True
        since = calendar.day(min(changed_slots) * QUARTER_HOUR)
        start = calendar.day_start(since)
        fresh_scope = replace(scope, since=max(start, scope.since or -math.inf))
        fresh_calls = index.calls(fresh_scope)
        prompts = [p for p in self._prompts if p.timestamp < start]
        prompts += index.prompts(fresh_scope)
        touched = {(call.source, call.session_id) for call in fresh_calls}
        turns = [p for p in prompts if (p.source, p.session_id) in touched]  # all they need
        tree = splice(self.tree, build_tree(fresh_calls, turns, calendar), since)
        if not _adds_up(tree, {key: sessions.get(key) for key in changed_sessions}):
            self.build()
            return True
        self.tree, self._prompts, self._slots, self._sessions = tree, prompts, slots, sessions
        self._keep_recent([c for c in self._recent_calls if c.timestamp < start] + fresh_calls)
        return True

    def _keep_recent(self, calls: list[ApiCall]) -> None:
        self.recent = live.recent(calls)
        newest = self.recent.times[-1] if self.recent.times else 0.0
        self._recent_calls = [c for c in calls if c.timestamp >= newest - live.LOOKBACK]


def _sums(rows: Iterable[tuple[Any, ...]]) -> Sums:
    return {row[0]: tuple(row[1:]) for row in rows}


def _changed(before: Sums, after: Sums) -> list[Any]:
    """Groups whose sums differ; the cost (a float summed by SQLite) with a tolerance."""
    return [
        key for key in before.keys() | after.keys() if not _same(before.get(key), after.get(key))
    ]


def _same(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    return all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) if isinstance(x, float) else x == y
        for x, y in zip(a, b, strict=True)
    )


def _adds_up(tree: Node, expected: Mapping[str, tuple[Any, ...] | None]) -> bool:
    """Do the sessions in `expected` ("source session" → rollup sums) have as many calls here?"""
    if not expected:
        return True
    wanted = {key.replace(" ", ":", 1): sums for key, sums in expected.items()}
    found: dict[str, list[int]] = {}
    for week in tree.children:
        for day in week.children:
            for session in day.children:
                if session.kind is Kind.SESSION and session.key in wanted:
                    totals = found.setdefault(session.key, [0, 0, 0])
                    totals[0] += session.totals.calls
                    totals[1] += session.totals.input
                    totals[2] += session.totals.output
    for key, sums in wanted.items():
        calls, input_tokens, output = found.get(key, [0, 0, 0])
        if sums is None:
            if calls:
                return False
        elif (calls, input_tokens, output) != (sums[0], sums[1], sums[4]):
            return False
    return True
