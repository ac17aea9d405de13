"""What the view remembers across runs: one small JSON object in the state dir.

A damaged or unwritable file is ignored, never an error: forgetting the theme
is better than refusing to start. The file is a dict, and keys this code does
not know (another version's, or a feature's such as `grouping`) are kept when
it is rewritten.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokentree import config
from tokentree.core.tree import Grouping, Kind
from tokentree.core.view import BarMetric, Graph, Sort, SortKey


def load_state(path: Path | None = None) -> dict[str, Any]:
    """The remembered values, or {} when there are none or the file cannot be read."""
    path = path or config.state_path()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def save_state(values: Mapping[str, Any], path: Path | None = None) -> None:
    """Merge `values` into the file, keeping its other keys; silently nothing on failure."""
    path = path or config.state_path()
    merged = {**load_state(path), **values}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".view-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(merged, file, indent=2, sort_keys=True)
            os.replace(temporary, path)  # a reader never sees half a file
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


@dataclass(frozen=True)
class ViewState:
    """The view's remembered choices; `theme` None keeps Textual's default. A sort is kept
    per kind of row listed (weeks, sessions, calls…): see `view.default_sort`."""

    sorts: Mapping[Kind, Sort] = field(default_factory=dict)
    bar_metric: BarMetric = BarMetric.COST
    graph: Graph = Graph.BOTH
    theme: str | None = None
    grouping: Grouping = Grouping.WEEK

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any]) -> ViewState:
        """What `saved` holds that this version understands; anything else is the default."""
        default = cls()
        raw_sorts = saved.get("sorts")
        sorts = {
            Kind(kind): Sort(SortKey(raw["key"]), bool(raw.get("descending", True)))
            for kind, raw in (raw_sorts.items() if isinstance(raw_sorts, dict) else ())
            if kind in set(Kind) and isinstance(raw, dict) and raw.get("key") in set(SortKey)
        }
        metric = saved.get("bar_metric")
        graph = saved.get("graph")
        theme = saved.get("theme")
        grouping = saved.get("grouping")
        return cls(
            sorts,
            BarMetric(metric) if metric in set(BarMetric) else default.bar_metric,
            Graph(graph) if graph in set(Graph) else default.graph,
            theme if isinstance(theme, str) else None,
            Grouping(grouping) if grouping in set(Grouping) else default.grouping,
        )

    def to_saved(self) -> dict[str, Any]:
        saved: dict[str, Any] = {
            "sorts": {
                kind.value: {"key": sort.key.value, "descending": sort.descending}
                for kind, sort in self.sorts.items()
            },
            "bar_metric": self.bar_metric.value,
            "graph": self.graph.value,
            "grouping": self.grouping.value,
        }
        if self.theme is not None:
            saved["theme"] = self.theme
        return saved
