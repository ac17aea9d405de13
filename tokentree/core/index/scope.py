"""Which part of the index a view reads, as SQL."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from tokentree.core.index.store import marks

FILE_COLUMNS = frozenset({"machine"})
"""Columns a call has through its file (files.machine): the rows summed per file and the
copies both keep their file's id."""


def column_test(alias: str, column: str, test: str) -> str:
    """SQL that the column of a row (`alias`: the table's alias and a dot, or '') passes
    `test` ("= ?", "IN (?, ?)"): a file's column is looked up by the row's file."""
    if column in FILE_COLUMNS:
        return f"{alias}file_id IN (SELECT id FROM files WHERE {column} {test})"
    return f"{alias}{column} {test}"


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls of a scope a view counts: those with every `equal` column's value (a group
    of the view: one project, model or source) and, when `any_of` or `tool` is set, at least
    one of its columns among the values or a tool label holding `tool` (the carried filter)."""

    equal: tuple[tuple[str, str], ...] = ()
    any_of: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tool: str = ""  # case-folded

    def sql(self, copy: str = "") -> tuple[str, list[Any]]:
        """As SQL over a copy's columns (`AND …`; `copy`: the table's alias and a dot), and
        its parameters."""
        clauses = [f"AND {column_test(copy, column, '= ?')}" for column, _ in self.equal]
        params: list[Any] = [value for _, value in self.equal]
        alternatives = [
            column_test(copy, column, f"IN ({marks(values)})")
            for column, values in self.any_of
            if values
        ]
        params += [value for _, values in self.any_of for value in values]
        if self.tool:
            alternatives.append(f"instr(lower({copy}tools), ?) > 0")
            params.append(self.tool)
        if self.any_of or self.tool:
            clauses.append(f"AND ({' OR '.join(alternatives) or '0'})")
        return " ".join(clauses), params

    def narrowed(self, column: str, value: str) -> CallFilter:
        """This filter within one group (`column` = `value`) too."""
        return replace(self, equal=(*self.equal, (column, value)))


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the index a view reads: the folders it was started on and the sources,
    and, for a view of some calls only, which (summed from the copies, not the rollup)."""

    roots: tuple[str, ...]
    sources: tuple[str, ...]
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive
    only: CallFilter | None = None


def filters(scope: Scope, source: str, time: str, per: int | None = None) -> tuple[str, list[Any]]:
    """The scope's sources and time span as SQL (`per`: the time column counts slots of it)."""
    clauses, params = span_filter(scope, time, per)
    return f"AND {source} IN ({marks(scope.sources)}) {clauses}", [*scope.sources, *params]


def span_filter(scope: Scope, time: str, per: int | None = None) -> tuple[str, list[Any]]:
    """The scope's time span alone as SQL."""
    clauses: list[str] = []
    params: list[Any] = []
    for bound, operator in ((scope.since, ">="), (scope.until, "<")):
        if bound is not None:
            clauses.append(f"AND {time} {operator} ?")
            if per is None:
                params.append(bound)
            else:  # in slots the end is the first slot wholly after it: a span may end inside one
                params.append(math.ceil(bound / per) if operator == "<" else int(bound // per))
    return " ".join(clauses), params
