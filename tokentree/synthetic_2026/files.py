"""Where the 2026-shape sessions are written, and the tally of what they bill."""

from __future__ import annotations

import random
from calendar import timegm
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import orjson

from tokentree.synthetic import _Ids
from tokentree.synthetic import _iso as iso  # the timestamps Claude Code and Codex write

__all__ = ["Files", "RecentSummary", "SourceTotals", "iso", "lines"]

_SECOND = 1_000
_DAY = 86_400 * _SECOND


@dataclass(frozen=True)
class SourceTotals:
    """What one source's files bill, as tokentree counts it: `input` is uncached input,
    `output` includes `reasoning`."""

    calls: int = 0
    input: int = 0
    cache_write: int = 0
    cache_read: int = 0
    output: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class RecentSummary:
    """The 2026-shape files written (paths relative to the destination) and, per source, the
    calls and tokens a correct reader must find in them."""

    files: tuple[str, ...] = ()
    bytes: int = 0
    sources: tuple[tuple[str, SourceTotals], ...] = ()

    def totals(self, source: str) -> SourceTotals:
        return dict(self.sources).get(source, SourceTotals())

    def describe(self) -> list[str]:
        """A line per source for the generator's CLI."""
        return [
            f"2026 shapes      {source}: calls {t.calls:,}  input {t.input:,}"
            f"  cache write {t.cache_write:,}  cache read {t.cache_read:,}  output {t.output:,}"
            for source, t in self.sources
        ]


def lines(records: list[dict]) -> bytes:
    """JSONL as the assistants write it: one compact object a line."""
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


class Files:
    """Writes files below `dest` and tallies the calls in them; ids come from the seed and
    times are counted back from the demo's last day, so a rerun writes the same bytes."""

    def __init__(self, dest: Path, seed: int, end: date) -> None:
        self.dest = dest
        self.ids = _Ids(random.Random(seed * 7_919 + 2026))
        self.end_ms = timegm(end.timetuple()) * _SECOND
        self.written: list[str] = []
        self.nbytes = 0
        self.totals: dict[str, SourceTotals] = {}

    def at(self, days_before: int, hour: int, minute: int, second: int = 0) -> int:
        """Epoch milliseconds of a time on a day before the last one (0: the last day)."""
        return self.end_ms - days_before * _DAY + ((hour * 60 + minute) * 60 + second) * _SECOND

    def jsonl(self, relative: str, records: list[dict]) -> None:
        self.raw(relative, lines(records))

    def raw(self, relative: str, data: bytes) -> None:
        path = self.dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.noted(relative)

    def noted(self, relative: str) -> None:
        """Count a file written by other means (the SQLite database)."""
        self.written.append(relative)
        self.nbytes += (self.dest / relative).stat().st_size

    def call(
        self,
        source: str,
        input: int = 0,
        cache_write: int = 0,
        cache_read: int = 0,
        output: int = 0,
        reasoning: int = 0,
    ) -> None:
        """One billed call, in tokentree's terms (see SourceTotals)."""
        t = self.totals.get(source, SourceTotals())
        self.totals[source] = replace(
            t,
            calls=t.calls + 1,
            input=t.input + input,
            cache_write=t.cache_write + cache_write,
            cache_read=t.cache_read + cache_read,
            output=t.output + output,
            reasoning=t.reasoning + reasoning,
        )

    def summary(self) -> RecentSummary:
        return RecentSummary(tuple(self.written), self.nbytes, tuple(self.totals.items()))
