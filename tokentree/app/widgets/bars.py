"""The lines around the list: what is read, what goes on now (the live line: live_line.py),
where we are; keys and status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tokentree import format as fmt
from tokentree.app.widgets.live_line import Piece, fit_pieces, live_pieces
from tokentree.core.budgets import BudgetUse
from tokentree.core.live import Summary
from tokentree.core.tree import ABOVE_SESSIONS, Kind, Node
from tokentree.core.view import bar, cost_text


def crumb(node: Node) -> str:
    """A node's name in the breadcrumbs: short for weeks and turns."""
    if node.kind is Kind.WEEK:
        return node.key
    if node.kind is Kind.TURN:
        return node.label.split(" · ", 1)[0]
    return node.label


def totals_text(node: Node) -> str:
    return " · ".join(totals_parts(node))


def totals_parts(node: Node) -> list[str]:
    """Cost, tokens, cache hit, then the counts: what the breadcrumbs line ends with."""
    totals = node.totals
    parts = [
        cost_text(totals),
        f"{fmt.tokens(totals.total)} tok",
        f"cache {fmt.percent(totals.cache_hit)}",
    ]
    if node.kind in ABOVE_SESSIONS:
        parts.append(fmt.counted(node.sessions, "session"))
    elif node.kind is Kind.SESSION:
        parts.append(fmt.counted(node.turns, "turn"))
    if node.kind is not Kind.CALL:
        parts.append(fmt.counted(totals.calls, "call"))
    if node.machines > 1:
        parts.append(fmt.counted(node.machines, "machine"))
    return parts


CRUMB_MIN = 20  # cells the current node's name keeps before the names above it go


class PathBar(Widget):
    """Title and what is read; the live line; the breadcrumbs and the current node's totals."""

    DEFAULT_CSS = """
    PathBar { height: 3; background: $panel; padding: 0 1; }
    PathBar > .path-bar--title { color: $text-accent; text-style: bold; }
    PathBar > .path-bar--dim { color: $muted-text; }
    PathBar > .path-bar--crumbs { text-style: bold; }
    PathBar > .path-bar--totals { text-style: bold; }
    PathBar > .path-bar--value { text-style: bold; }
    PathBar > .path-bar--live { color: $text-success; text-style: bold; }
    PathBar > .path-bar--busy { color: $text-warning; text-style: bold; }
    PathBar > .path-bar--error { color: $text-error; text-style: bold; }
    PathBar > .path-bar--ok { color: $text-success; }
    PathBar > .path-bar--warn { color: $text-warning; }
    PathBar > .path-bar--high { color: $text-error; text-style: bold; }
    """
    COMPONENT_CLASSES = {
        "path-bar--title",
        "path-bar--dim",
        "path-bar--crumbs",
        "path-bar--totals",
        "path-bar--value",
        "path-bar--live",
        "path-bar--busy",
        "path-bar--error",
        "path-bar--ok",
        "path-bar--warn",
        "path-bar--high",
    }

    def __init__(
        self, reading: str, zone: str, tz: tzinfo | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.reading = reading
        self.zone = zone
        self.tz = tz
        self.chain: Sequence[Node] = ()
        self.live: tuple[Piece, ...] = ()

    def show(self, chain: Sequence[Node]) -> None:
        self.chain = tuple(chain)
        self.refresh()

    def show_live(self, summary: Summary, state: str, budgets: Sequence[BudgetUse] = ()) -> None:
        """The live line for this moment; redrawn only when what it says changed."""
        pieces = live_pieces(summary, state, self.tz, budgets)
        if pieces != self.live:
            self.live = pieces
            self.refresh()

    @dataclass
    class CrumbClicked(Message):
        """Go up to the node `depth` steps below the root (0: the root)."""

        depth: int

    def crumbs(self, room: int) -> str:
        """The path, cutting the last name (down to CRUMB_MIN cells), then dropping whole
        names from the left, to fit: the names above stay to be clicked."""
        return self._crumb_spans(room)[0]

    def _crumb_spans(self, room: int) -> tuple[str, list[tuple[int, int, int]]]:
        """The crumbs' text and where each name shown is in it: (start, end, depth)."""
        names = [crumb(node) for node in self.chain]
        above = cell_len(" › ".join(names[:-1]) + " › ") if len(names) > 1 else 0
        if cell_len(names[-1]) > room - above >= CRUMB_MIN:
            names[-1] = set_cell_size(names[-1], room - above - 1) + "…"
        first = 0
        text = " › ".join(names)
        while cell_len(text) > room and len(names) - first > 1:
            first += 1
            text = "… › " + " › ".join(names[first:])
        spans = []
        start = 4 if first else 0
        for depth in range(first, len(names)):
            end = start + cell_len(names[depth])
            spans.append((start, end, depth))
            start = end + 3
        if cell_len(text) > room:
            text = set_cell_size(text, max(0, room - 1)) + "…"
        return text, spans

    def _totals(self, width: int) -> str:
        """The current node's totals, the counts then the cache hit left out where the
        breadcrumbs would keep fewer than CRUMB_MIN cells."""
        parts = totals_parts(self.chain[-1])
        while len(parts) > 2 and cell_len(" · ".join(parts)) > width - CRUMB_MIN - 4:
            parts.pop()
        return " · ".join(parts)

    def on_click(self, event: events.Click) -> None:
        """A click on a name in the breadcrumbs goes up to it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y != 2 or not self.chain:
            return
        totals = self._totals(self.content_region.width)
        text, spans = self._crumb_spans(max(8, self.content_region.width - len(totals) - 4))
        for start, end, depth in spans:
            if start <= offset.x < min(end, cell_len(text)) and depth < len(self.chain) - 1:
                self.post_message(self.CrumbClicked(depth))
                return

    def render(self) -> Text:
        width = self.content_region.width
        style = self.get_component_rich_style
        title = Text.assemble(
            ("tokentree", style("path-bar--title", partial=True)),
            "  ",
            (self.reading, style("path-bar--dim", partial=True)),
        )
        zone = f"times in {self.zone}"
        pad = width - cell_len(title.plain) - len(zone)
        if pad >= 2:
            title.append(" " * pad)
            title.append(zone, style("path-bar--dim", partial=True))
        title.truncate(width)
        live = Text()
        for number, piece in enumerate(fit_pieces(self.live, width)):
            if number:
                live.append("   ")
            for text, name in piece.parts:
                live.append(text, style(f"path-bar--{name}", partial=True) if name else "")
        live.truncate(width)
        line = Text()
        if self.chain:
            totals = self._totals(width)
            crumbs = self.crumbs(max(8, width - len(totals) - 4))
            line.append(crumbs, style("path-bar--crumbs", partial=True))
            rule = max(1, width - cell_len(crumbs) - len(totals) - 2)
            line.append(" " + "─" * rule + " ", style("path-bar--dim", partial=True))
            line.append(totals, style("path-bar--totals", partial=True))
        line.truncate(width)
        return Text("\n").join([title, live, line])


@dataclass(frozen=True, slots=True)
class Hint:
    keys: str
    action: str
    priority: int  # lower stays longer when the line is short


HINTS = (
    Hint("↑↓", "move", 0),
    Hint("→", "open", 0),
    Hint("←", "back", 0),
    Hint("s", "cost", 2),
    Hint("t", "tokens", 2),
    Hint("c", "cache", 3),
    Hint("n", "time", 2),
    Hint("C", "count", 4),
    Hint("a", "bar $/tok", 4),
    Hint("g", "graph", 5),
    Hint("i", "info", 1),
    Hint("o", "overview", 1),
    Hint("e", "export", 1),
    Hint("/", "filter", 1),
    Hint("?", "help", 0),
    Hint("q", "quit", 0),
)


class StatusBar(Widget):
    """Key hints on the left; indexing progress or live status on the right."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    StatusBar > .status-bar--key { color: $text-accent; text-style: bold; }
    StatusBar > .status-bar--action { color: $muted-text; }
    StatusBar > .status-bar--busy { color: $text-warning; }
    StatusBar > .status-bar--live { color: $text-success; }
    StatusBar > .status-bar--error { color: $text-error; text-style: bold; }
    """
    COMPONENT_CLASSES = {
        "status-bar--key",
        "status-bar--action",
        "status-bar--busy",
        "status-bar--live",
        "status-bar--error",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = "starting"
        self.tone = "busy"

    def set_status(self, text: str, tone: str = "live") -> None:
        if (text, tone) != (self.status, self.tone):
            self.status, self.tone = text, tone
            self.refresh()

    def show_progress(self, done: int, total: int, partial: bool) -> None:
        share = done / total if total else 1.0
        text = f"indexing {bar(share, 12)}▏{share * 100:3.0f}%  {_mb(done)}/{_mb(total)}"
        if partial:
            text += " · partial"
        self.set_status(text, "busy")

    def render(self) -> Text:
        width = self.content_region.width
        style = self.get_component_rich_style
        status = Text(self.status, style(f"status-bar--{self.tone}", partial=True))
        room = width - cell_len(self.status) - 2
        shown = list(HINTS)
        while shown and _hints_width(shown) > room:
            worst = max(hint.priority for hint in shown)
            drop = max(i for i, hint in enumerate(shown) if hint.priority == worst)
            shown.pop(drop)
        line = Text()
        for number, hint in enumerate(shown):
            if number:
                line.append("  ")
            line.append(hint.keys, style("status-bar--key", partial=True))
            line.append(" " + hint.action, style("status-bar--action", partial=True))
        line.append(" " * max(1, width - cell_len(line.plain) - cell_len(self.status)))
        line.append_text(status)
        line.truncate(width)
        return line


def _hints_width(hints: Sequence[Hint]) -> int:
    return sum(cell_len(h.keys) + 1 + cell_len(h.action) for h in hints) + 2 * (len(hints) - 1)


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size / 1024:,.0f} KB"
