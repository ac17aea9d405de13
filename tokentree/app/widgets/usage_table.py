"""The ncdu-style list: one line per child of the current node, drawn lazily with the Line API.

Only the lines on screen are rendered, so a node with 10,000 children opens as
fast as one with ten. Line 0 is the column header and stays put; row `i` is
drawn on line `i - scroll_y + 1`. What the analysis adds (each row's activity
mix and the advice marks beside its label) comes as a `Decor`, a moment after
the tree, and is drawn the same lazy way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tokentree import format as fmt
from tokentree.app.widgets.table_layout import (
    BADGE_WIDTH,
    CACHE_WIDTH,
    COST_WIDTH,
    COUNT_WIDTH,
    LABEL_MIN,
    MARK_GAP,
    MARK_WORDS_MIN,
    MARKS_MAX,
    NO_DECOR,
    PERCENT_WIDTH,
    TOKENS_WIDTH,
    WASTE_WIDTH,
    Decor,
    Layout,
    fit,
    fit_mark,
    layout,
    mark_glyphs,
)
from tokentree.core.live import Busy
from tokentree.core.tree import Kind, Node
from tokentree.core.view import (
    COUNT_TITLE,
    LABEL_TITLE,
    SOURCE_BADGE,
    BarMetric,
    Graph,
    Listing,
    SortKey,
    bar,
    cost_text,
    count_of,
    flag_glyphs,
    mix_heading,
)

BADGE_COLOURS = sorted({colour for _, colour in SOURCE_BADGE.values()})
BADGE_CSS = "".join(
    f"UsageTable > .usage-table--badge-{colour} {{ color: $text-{colour}; }}\n"
    for colour in BADGE_COLOURS
)
STRIP_CACHE = 512  # rendered lines kept; a few screens' worth


class UsageTable(ScrollView, can_focus=True):
    """The children of one node, sorted and filtered by the app; cursor and scroll kept here."""

    DEFAULT_CSS = (
        """
    UsageTable {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
    }
    UsageTable > .usage-table--header { color: $muted-text; text-style: bold; }
    UsageTable > .usage-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    UsageTable > .usage-table--cursor-blurred {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    UsageTable > .usage-table--bar { color: $primary; }
    UsageTable > .usage-table--dim { color: $muted-text; }
    UsageTable > .usage-table--hot { color: $text-error; text-style: bold; }
    UsageTable > .usage-table--warm { color: $text-warning; }
    UsageTable > .usage-table--cache-low { color: $text-warning; }
    UsageTable > .usage-table--cache-bad { color: $text-error; }
    UsageTable > .usage-table--flag { color: $text-warning; }
    UsageTable > .usage-table--mix { color: $text-primary; }
    UsageTable > .usage-table--advice { color: $text-warning; }
    UsageTable > .usage-table--empty { color: $muted-text; text-style: italic; }
    UsageTable > .usage-table--live-ok { color: $text-success; text-style: bold; }
    UsageTable > .usage-table--live-warn { color: $text-warning; text-style: bold; }
    UsageTable > .usage-table--live-high { color: $text-error; text-style: bold; }
    """
        + BADGE_CSS
    )

    COMPONENT_CLASSES = {
        "usage-table--header",
        "usage-table--cursor",
        "usage-table--cursor-blurred",
        "usage-table--bar",
        "usage-table--dim",
        "usage-table--hot",
        "usage-table--warm",
        "usage-table--cache-low",
        "usage-table--cache-bad",
        "usage-table--flag",
        "usage-table--mix",
        "usage-table--advice",
        "usage-table--empty",
        "usage-table--live-ok",
        "usage-table--live-warn",
        "usage-table--live-high",
    } | {f"usage-table--badge-{colour}" for colour in BADGE_COLOURS}

    BINDINGS = [
        Binding("up,k", "move(-1)", "up", show=False),
        Binding("down,j", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
        Binding("enter,right,l", "open", "open", show=False),
        Binding("left,h,backspace", "back", "back", show=False),
    ]

    @dataclass
    class Highlighted(Message):
        """The cursor is on another row (or on none) of `listing`."""

        table: UsageTable
        node: Node | None
        listing: Listing | None

    @dataclass
    class Opened(Message):
        """Descend into this row."""

        table: UsageTable
        node: Node

    @dataclass
    class BackRequested(Message):
        """Go up to the parent."""

        table: UsageTable

    @dataclass
    class HeaderClicked(Message):
        """A column's title was clicked: sort by it (again: the other way)."""

        table: UsageTable
        key: SortKey

    graph: reactive[Graph] = reactive(Graph.BOTH)
    empty_text: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.listing: Listing | None = None
        self.cursor = 0
        self._strips: LRUCache[tuple[int, bool], Strip] = LRUCache(STRIP_CACHE)
        self._layout_key: tuple | None = None
        self._layout = Layout(0, 0, 0, 0, 0)
        self._flags_width = 0
        self._label_want = 0  # cells of the longest label in the list
        self._cost_shape = (0, 0)  # the costs' cells before and from the decimal point
        self._label_column = 0  # cells before the advice marks start, once per list
        self._header_spans: list[tuple[int, int, SortKey]] = []  # where each title was drawn
        self._mark_width = 0
        self._styles: dict[str, Style] = {}
        self.busy: Mapping[str, Busy] = {}
        self.decor = NO_DECOR

    # --- data -----------------------------------------------------------------------------------

    @property
    def rows(self) -> tuple[Node, ...]:
        return self.listing.rows if self.listing else ()

    @property
    def current(self) -> Node | None:
        rows = self.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    def show(
        self,
        listing: Listing,
        select: str | None = None,
        *,
        keep_screen_row: bool,
        decor: Decor = NO_DECOR,
    ) -> None:
        """Show `listing` with the cursor on `select`, else on the first row.

        With `keep_screen_row` (a refresh of the same list) the cursor stays on
        the same screen line, so reordered rows do not make the view jump, and a
        row that vanished leaves the cursor at its index.
        """
        offset = self.cursor - round(self.scroll_y)
        found = listing.index_of(select)
        if found is None and not keep_screen_row:
            found = 0
        self.listing = listing
        self.decor = decor
        self._flags_width = max((len(flag_glyphs(row.totals)) for row in listing.rows), default=0)
        self._label_want = max((cell_len(row.label) for row in listing.rows), default=0)
        self._cost_shape = fmt.decimal_shape(cost_text(row.totals) for row in listing.rows)
        self._label_column = 0
        self._strips.clear()
        self._layout_key = None
        self.cursor = found if found is not None else min(self.cursor, len(listing.rows) - 1)
        self.cursor = max(self.cursor, 0)
        self.virtual_size = Size(0, len(listing.rows) + 1)
        if keep_screen_row:
            self.scroll_to(y=max(0, self.cursor - offset), animate=False, immediate=True)
        self._scroll_to_cursor(center=not keep_screen_row)
        self.refresh()
        self.post_message(self.Highlighted(self, self.current, self.listing))

    def decorate(self, decor: Decor) -> None:
        """New activity and advice for the rows shown (an analysis arrived)."""
        self.decor = decor
        self._label_column = 0
        self._strips.clear()
        self.refresh()

    def show_busy(self, busy: Mapping[str, Busy]) -> None:
        """The live sessions (by key), drawn with a dot in their context's colour."""
        if busy != self.busy:
            self.busy = busy
            self._strips.clear()
            self.refresh()

    def watch_graph(self) -> None:
        self._strips.clear()
        self.refresh()

    def watch_empty_text(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()

    # --- movement -------------------------------------------------------------------------------

    @property
    def visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_to(self, index: int) -> None:
        rows = self.rows
        if not rows:
            return
        index = min(max(index, 0), len(rows) - 1)
        if index == self.cursor:
            return
        self._forget_row(self.cursor)
        self._forget_row(index)
        self.cursor = index
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.current, self.listing))

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * self.visible_rows)

    def action_jump(self, index: int) -> None:
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self, self.current))

    def action_back(self) -> None:
        self.post_message(self.BackRequested(self))

    def _scroll_to_cursor(self, *, center: bool = False) -> None:
        top = round(self.scroll_y)
        visible = self.visible_rows
        if center and not top <= self.cursor < top + visible:
            target = self.cursor - visible // 2
        elif self.cursor < top:
            target = self.cursor
        elif self.cursor >= top + visible:
            target = self.cursor - visible + 1
        else:
            return
        self.scroll_to(y=max(0, target), animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            key = next((k for start, end, k in self._header_spans if start <= event.x < end), None)
            if key is not None:
                self.post_message(self.HeaderClicked(self, key))
            return
        index = round(self.scroll_y) + event.y - 1
        if event.y < 1 or not 0 <= index < len(self.rows):
            return
        if index == self.cursor and event.chain > 1:
            self.action_open()
        else:
            self.move_to(index)

    # --- drawing --------------------------------------------------------------------------------

    def _forget_row(self, index: int) -> None:
        self._strips.discard((index, True))
        self._strips.discard((index, False))

    def _current_layout(self) -> Layout:
        listing = self.listing
        width = self.scrollable_content_region.width
        key = (width, self.graph, id(listing), id(self.decor))
        if key != self._layout_key:
            badge = listing is not None and listing.child_kind is Kind.SESSION
            self._layout_key = key
            wasted = listing is not None and listing.node.totals.cache_waste > 0
            self._layout = layout(
                width,
                self.graph,
                self._flags_width,
                badge,
                self._marks_room(),
                self._label_want,
                wasted,
            )
        return self._layout

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base_style()
        if y == 0:
            return self._header_strip(width, base)
        index = round(self.scroll_y) + y - 1
        rows = self.rows
        if not rows:
            if y == 2 and self.empty_text:
                style = base + self._style("empty")
                text = ("   " + self.empty_text)[:width]
                return Strip([Segment(text.ljust(width), style)], width)
            return Strip.blank(width, base)
        if index >= len(rows):
            return Strip.blank(width, base)
        selected = index == self.cursor
        cached = self._strips.get((index, selected))
        if cached is None or cached.cell_length != width:
            cached = self._row_strip(rows[index], selected, width, base)
            self._strips[(index, selected)] = cached
        return cached

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(
                f"usage-table--{name}", partial=True
            )
        return style

    def _base_style(self) -> Style:
        """The widget's own style, looked up once per style change rather than per line."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.rich_style
        return style

    def _header_strip(self, width: int, base: Style) -> Strip:
        listing = self.listing
        lay = self._current_layout()
        style = base + self._style("header")
        sort = listing.sort if listing else None
        arrow = "▼" if sort is None or sort.descending else "▲"

        def title(text: str, key: SortKey) -> str:
            return text + arrow if sort is not None and sort.key is key else text

        child_kind = listing.child_kind if listing else Kind.WEEK
        cells: list[tuple[str, SortKey | None]] = [
            (" ", None),
            (title("Cost", SortKey.COST).rjust(COST_WIDTH), SortKey.COST),
        ]
        if lay.percent:
            cells += [(" ", None), ("%".rjust(PERCENT_WIDTH), None)]
        if lay.bar:
            metric = "$" if listing is None or listing.bar_metric is BarMetric.COST else "tokens"
            name = f"Bar ({metric})" if lay.bar >= len(metric) + 6 else "Bar"
            cells += [(" ", None), (name.ljust(lay.bar)[: lay.bar], None)]
        tokens = title("Tokens", SortKey.TOKENS).rjust(TOKENS_WIDTH)
        cells += [(" ", None), (tokens, SortKey.TOKENS)]
        if lay.cache:
            cache = title("Cache", SortKey.CACHE).rjust(CACHE_WIDTH)
            cells += [(" ", None), (cache, SortKey.CACHE)]
        if lay.waste:
            waste = title("Waste", SortKey.WASTE).rjust(WASTE_WIDTH)
            cells += [(" ", None), (waste, SortKey.WASTE)]
        count = title(COUNT_TITLE.get(child_kind, "Calls"), SortKey.COUNT).rjust(COUNT_WIDTH)
        cells += [(" ", None), (count, SortKey.COUNT), ("  ", None)]
        if lay.mix:
            heading = mix_heading(self.decor.order) if self.decor.order else "Mix"
            cells += [(heading.ljust(lay.mix)[: lay.mix], None), ("  ", None)]
        if lay.flags:
            cells += [(" " * lay.flags, None)]
        label = title(LABEL_TITLE[child_kind], SortKey.TIME)
        cells.append((label, SortKey.TIME))
        self._header_spans = _spans(cells)
        text = "".join(text for text, _ in cells)
        return Strip([Segment(fit(text, width), style)], width)

    def _row_strip(self, node: Node, selected: bool, width: int, base: Style) -> Strip:
        listing = self.listing
        assert listing is not None
        lay = self._current_layout()
        if selected:
            cursor = self._style("cursor" if self.has_focus else "cursor-blurred")
            plain = base + cursor

            def styled(_name: str | None) -> Style:
                return plain
        else:

            def styled(name: str | None) -> Style:
                return base + self._style(name) if name else base

        totals = node.totals
        fraction = listing.bar_fraction(node)
        share = listing.share(node)
        heat = None
        if share is not None and len(listing.rows) > 1:
            heat = "hot" if share >= 0.5 else "warm" if share >= 0.2 else None
        cache = totals.cache_hit
        cache_style = None
        if cache is not None and totals.prompt:
            cache_style = "cache-bad" if cache < 0.6 else "cache-low" if cache < 0.8 else None
        segments: list[tuple[str, str | None]] = [
            (" ", None),
            (fmt.on_decimal(cost_text(totals), self._cost_shape, COST_WIDTH), heat),
        ]
        if lay.percent:
            segments += [(" ", None), (_percent(share).rjust(PERCENT_WIDTH), "dim")]
        if lay.bar:
            segments += [(" ", None), (bar(fraction, lay.bar), "bar")]
        segments += [
            (" ", None),
            (fmt.tokens(totals.total).rjust(TOKENS_WIDTH), None),
        ]
        if lay.cache:
            segments += [(" ", None), (fmt.percent(cache).rjust(CACHE_WIDTH), cache_style)]
        if lay.waste:
            wasted = totals.cache_waste
            shown = fmt.cost(wasted) if wasted >= 0.005 else "·"
            segments += [(" ", None), (shown.rjust(WASTE_WIDTH), "warm" if wasted else "dim")]
        segments += [
            (" ", None),
            (f"{count_of(node):,}".rjust(COUNT_WIDTH), "dim"),
            ("  ", None),
        ]
        if lay.mix:
            decor = self.decor
            glyphs = decor.mix(node) if decor.mix is not None else ""
            if decor.pending:
                glyphs = "…"
            segments += [(glyphs.ljust(lay.mix)[: lay.mix], "mix"), ("  ", None)]
        if lay.flags:
            segments.append((flag_glyphs(totals).ljust(lay.flags), "flag"))
        if lay.badge:
            badge, colour = SOURCE_BADGE.get(node.source, (node.source[:6], "success"))
            segments.append((badge.ljust(BADGE_WIDTH), f"badge-{colour}"))
        busy = self.busy.get(node.key) if node.kind is Kind.SESSION else None
        if busy is not None:
            segments += [
                ("● ", f"live-{busy.tone}"),
                (f"{fmt.tokens(busy.pulse.context)} ctx · ", "dim"),
            ]
        used = sum(cell_len(text) for text, _ in segments)
        room = max(0, width - used)
        mark = self.decor.marks.get(node.key, "")
        words = room - MARK_GAP - MARK_WORDS_MIN  # the most a label may take beside a worded mark
        if mark and cell_len(node.label) <= words:
            column = max(cell_len(node.label), min(self._marks_column(room), words))
            label = set_cell_size(node.label, column) + " " * MARK_GAP
            segments += [(label, None), (fit_mark(mark, room - cell_len(label)), "advice")]
        elif mark:  # narrow: the label keeps its cells, the mark shrinks to its glyphs
            glyphs = mark_glyphs(mark)
            label = fit(node.label, min(cell_len(node.label), room - cell_len(glyphs) - 1))
            label += " "
            segments += [(label, None), (fit(glyphs, room - cell_len(label)), "advice")]
        else:
            segments.append((fit(node.label, room), None))
        return Strip([Segment(text, styled(name)) for text, name in segments], width)

    def _measure_marks(self) -> None:
        """The longest label of a marked row, and the longest mark, once per list."""
        if not self._label_column:
            marks = self.decor.marks
            labels = [cell_len(row.label) for row in self.rows if row.key in marks] if marks else []
            self._label_column = max(labels, default=1)
            self._mark_width = max((cell_len(mark) for mark in marks.values()), default=0)

    def _marks_room(self) -> int:
        """Cells the marked rows want for label and mark (a label up to LABEL_MIN of them)."""
        self._measure_marks()
        if not self._mark_width:
            return 0
        return min(self._label_column, LABEL_MIN) + MARK_GAP + min(self._mark_width, MARKS_MAX)

    def _marks_column(self, room: int) -> int:
        """Where the marks start: after the longest marked label, so they line up, unless
        that leaves a mark less room than it needs."""
        self._measure_marks()
        return min(self._label_column, max(0, room - self._mark_width - MARK_GAP))


def _spans(cells: list[tuple[str, SortKey | None]]) -> list[tuple[int, int, SortKey]]:
    """The cells each sortable title takes, its padding included: (start, end, key)."""
    spans, start = [], 0
    for text, key in cells:
        end = start + cell_len(text)
        if key is not None:
            spans.append((start, end, key))
        start = end
    return spans


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"
