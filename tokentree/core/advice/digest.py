"""A day's part of the advice as plain data: what its sessions' rules said and what each
period rule kept of each session. A day whose calls did not change is not read again: its
digest is replayed (the analyser keeps digests between analyses, the index between starts).
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tokentree.core.advice.context import Place
from tokentree.core.advice.report import Advice
from tokentree.core.tree import Kind, Node, Totals

Part = Any
"""What a period rule keeps of one session: plain data (lists, dicts, numbers, strings) and
the Places advice may point at (kept as they are in memory, as data in the index)."""


@dataclass(slots=True)
class DayDigest:
    """The advice about a day's sessions and turns, and each session's parts, in tree order."""

    advice: list[Advice]
    parts: list[list[Part]]

    def encode(self) -> bytes:
        """As JSON, compressed (a day of a heavy user's: 150 KB of JSON, 30 KB so)."""
        advice = [advice_data(item) for item in self.advice]
        plain = orjson.dumps({"advice": advice, "parts": self.parts}, default=_plain)
        return zlib.compress(plain, 1)

    @classmethod
    def decode(cls, data: bytes) -> DayDigest:
        loaded = orjson.loads(zlib.decompress(data))
        return cls([advice_of(item) for item in loaded["advice"]], loaded["parts"])


class Digests(Protocol):
    """Where an analysis finds and leaves day digests: `stamp` names what a day's digest
    depends on (its calls, the settings, the prices); None: the day is not digested (see
    core.analysis, which stamps the days of a served tree and keeps them in KeptDigests)."""

    def stamp(self, day: Node, path: str) -> str | None: ...
    def get(self, path: str, stamp: str) -> DayDigest | None: ...
    def put(self, path: str, stamp: str, digest: DayDigest) -> None: ...


@dataclass
class KeptDigests:
    """Day digests by path, kept from one analysis to the next (and between starts: `load`,
    `take_fresh`); kept encoded, decoded each time one is replayed, so that a year's digests
    hold a few MB, not their objects."""

    kept: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)
    loaded: bool = False

    def load(self, encoded: dict[str, tuple[str, bytes]]) -> None:
        """Digests kept encoded (the index's), under those made here."""
        self.kept = {**encoded, **self.kept}
        self.loaded = True

    def get(self, path: str, stamp: str) -> DayDigest | None:
        found = self.kept.get(path)
        return DayDigest.decode(found[1]) if found is not None and found[0] == stamp else None

    def put(self, path: str, stamp: str, digest: DayDigest) -> None:
        self.kept[path] = (stamp, digest.encode())
        self.fresh.add(path)

    def take_fresh(self) -> dict[str, tuple[str, bytes]]:
        """The digests made since last taken (to keep in the index)."""
        fresh, self.fresh = self.fresh, set()
        return {path: self.kept[path] for path in fresh}


def node_data(node: Node) -> list[Any]:
    """A session or turn node as plain data, without its children (what advice points at)."""
    totals = node.totals
    return [
        node.kind.value,
        node.key,
        node.label,
        node.start,
        node.end,
        [getattr(totals, name) for name in Totals.__slots__],
        node.sessions,
        node.turns,
        dict(node.models),
        node.source,
        node.session_id,
        node.project,
    ]


def node_of(data: list[Any]) -> Node:
    kind, key, label, start, end, totals, sessions, turns, models, *rest = data
    node = Node(Kind(kind), key, label, start, end, Totals(*totals), sessions)
    node.turns, node.models = turns, Counter(models)
    node.source, node.session_id, node.project = rest
    return node


def _plain(value: Any) -> Any:
    if isinstance(value, Place):
        return place_data(value)
    raise TypeError(f"{type(value).__name__} in a digest")


def place_data(place: Place) -> list[Any]:
    return [node_data(place.node), place.path, place.where]


def place_of(data: Place | list[Any]) -> Place:
    """A part's place: as it is in memory, or made again from a decoded digest."""
    if isinstance(data, Place):
        return data
    return Place(node_of(data[0]), data[1], data[2])


def advice_data(item: Advice) -> list[Any]:
    place = place_data(Place(item.node, item.path, item.where))
    return [item.rule, place, item.message, item.saving_usd, item.evidence]


def advice_of(data: list[Any]) -> Advice:
    rule, place, message, saving, evidence = data
    node, path, where = place_of(place)
    return Advice(rule, node, path, where, message, saving, evidence)
