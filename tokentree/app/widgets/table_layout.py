"""How the list's columns share a width, and how a cell's text is made to fit it.

Pure functions and plain data: the widget (usage_table.py) asks `layout` once per
width and list, and cuts labels and advice marks with `fit` and `fit_mark`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.cells import cell_len, set_cell_size

from tokentree.core.advice.report import MARK_SEPARATOR
from tokentree.core.tree import Node
from tokentree.core.view import MIX_CLASSES, SOURCE_BADGE, Graph

COST_WIDTH = 9
PERCENT_WIDTH = 6
TOKENS_WIDTH = 8
CACHE_WIDTH = 6
WASTE_WIDTH = 7  # "$12.34": cache waste, the history sent again without the cache
COUNT_WIDTH = 6
BADGE_WIDTH = max(len(badge) for badge, _ in SOURCE_BADGE.values()) + 1  # "claude "
MIX_WIDTH = MIX_CLASSES
MIX_MIN_TABLE = 100  # the Mix column is the first to go on a narrower terminal
LABEL_MIN = 24
LABEL_WANT = 48  # cells of label the optional columns give way to, at most
BAR_MIN = 6
MARK_GAP = 3  # cells between a label and its advice mark
MARKS_MAX = 40  # cells of marks the bar gives way to
MARK_WORDS_MIN = 8  # cells of words a mark needs beside its saving; fewer: its glyph only


@dataclass(frozen=True, eq=False)
class Decor:
    """What the analysis adds to a list: each row's activity mix and advice marks (by key).

    `order` names the Mix column's classes (its heading shows their letters);
    `mix` gives a row's glyphs, called only for the rows drawn. `pending` while
    the first analysis is still running.
    """

    order: tuple[str, ...] = ()
    mix: Callable[[Node], str] | None = None
    marks: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False


NO_DECOR = Decor()


@dataclass(frozen=True, slots=True)
class Layout:
    """Column widths for one table width; 0 means the column is hidden."""

    percent: int
    bar: int
    flags: int
    badge: int
    label: int
    mix: int = 0
    cache: int = CACHE_WIDTH
    waste: int = 0


def layout(
    width: int,
    graph: Graph,
    flags: int,
    badge: bool,
    marks: int = 0,
    label: int = LABEL_MIN,
    waste: bool = False,
) -> Layout:
    """Share the width: numbers fixed, the bar up to 26 cells, the rest for the label.

    The label wants `label` cells (its rows' longest, up to LABEL_WANT): rather than
    cut it, the optional columns go, least useful first: Mix (only ever from 100
    cells on), Waste (only where some cache was wasted), Cache, %, then the bar. When
    labels and their advice marks need `marks` cells, the bar shrinks (to 6 at least)
    until they have them.
    """
    fixed = 1 + COST_WIDTH + 1 + TOKENS_WIDTH + 1 + COUNT_WIDTH + 2
    fixed += (flags + 1 if flags else 0) + (BADGE_WIDTH if badge else 0)
    # (column, cells with its gap): in the order they are given up
    optional = [
        ("mix", MIX_WIDTH + 2 if width >= MIX_MIN_TABLE else 0),
        ("waste", WASTE_WIDTH + 1 if waste else 0),
        ("cache", CACHE_WIDTH + 1),
        ("percent", PERCENT_WIDTH + 1 if graph is not Graph.BAR else 0),
        ("bar", BAR_MIN + 1 if graph is not Graph.PERCENT else 0),
    ]
    kept = {name: cells for name, cells in optional if cells}
    want = min(max(label, LABEL_MIN), LABEL_WANT)
    for name, _ in optional:
        if fixed + sum(kept.values()) + want <= width:
            break
        kept.pop(name, None)
    if "waste" in kept and fixed + sum(kept.values()) + max(want, marks) > width:
        kept.pop("waste")  # the marks say why, and what it cost: they need the room more
    fixed += sum(cells for name, cells in kept.items() if name != "bar")
    bar_width = 0
    if "bar" in kept:
        room = width - fixed - 1  # for the bar and the label
        bar_width = min(26, max(BAR_MIN, round((room - LABEL_MIN) * 0.45)), room - want)
        short = marks - (room - bar_width)
        if short > 0:
            bar_width -= short
        bar_width = max(BAR_MIN, bar_width)
        fixed += bar_width + 1
    return Layout(
        PERCENT_WIDTH if "percent" in kept else 0,
        bar_width,
        flags + 1 if flags else 0,
        BADGE_WIDTH if badge else 0,
        max(8, width - fixed),
        MIX_WIDTH if "mix" in kept else 0,
        CACHE_WIDTH if "cache" in kept else 0,
        WASTE_WIDTH if "waste" in kept else 0,
    )


def fit_mark(mark: str, width: int) -> str:
    """A mark cut to `width`, keeping its saving ("◆ cache rebuilt … ≈ $0.22"); of several
    that do not fit, the first one and how many more ("◆ context compounding ≈ $7.71 +1")."""
    if cell_len(mark) <= width:
        return fit(mark, width)
    first, *others = mark.split(MARK_SEPARATOR)
    head, sep, saving = first.rpartition(" ≈ ")
    if not sep:
        head, saving = first, ""
    tail = sep + saving + (f" +{len(others)}" if others else "")
    if cell_len(tail) + MARK_WORDS_MIN > width:
        return fit(mark_glyphs(mark), width)
    return fit(head, width - cell_len(tail)).rstrip() + tail


def mark_glyphs(mark: str) -> str:
    """A row's marks as their glyphs only ("◆▲"), for a narrow terminal."""
    return "".join(part.split(" ", 1)[0] for part in mark.split(MARK_SEPARATOR))


def fit(text: str, width: int) -> str:
    """Pad to `width` cells, or cut with an ellipsis (wide characters count double)."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…" if width > 0 else ""
