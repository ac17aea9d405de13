"""Which part of the index a view reads, as SQL."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tokentree.core.index.store import marks


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the index a view reads: the folders it was started on and the sources."""

    roots: tuple[str, ...]
    sources: tuple[str, ...]
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive


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
