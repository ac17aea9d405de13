"""One part of the overview (calendar, trend, drivers…), drawn by core to its width and
coloured by role from the current theme."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.widget import Widget

from tokentree.core.overview_charts import Line
from tokentree.core.overview_text import Part

HEAT = (0.35, 0.55, 0.78, 1.0)
"""How far each heat level goes from the surface to the theme's warning text colour: the
levels stay in order on a dark and a light background (and their glyphs differ without
colour)."""


def role_styles(variables: Mapping[str, str]) -> dict[str, Style]:
    """A Rich style per drawing role, from a theme's CSS variables."""
    surface = Color.parse(variables["surface"])
    heat = Color.parse(variables["text-warning"])
    muted = Style(color=variables["muted-text"])
    styles = {
        "title": Style(bold=True, color=variables["text-accent"]),
        "subtitle": Style(bold=True),
        "value": Style(bold=True),
        "dim": muted,
        "axis": muted,
        "none": muted,
        "bar": Style(color=variables["text-primary"]),
        "peak": Style(bold=True, color=variables["text-error"]),
        "average": Style(bold=True, color=variables["text-warning"]),
    }
    for level, share in enumerate(HEAT, 1):
        styles[f"heat{level}"] = Style(color=surface.blend(heat, share).rich_color)
    return styles


def coloured(lines: list[Line], styles: Mapping[str, Style]) -> Text:
    """The drawing as one Text, never wrapped: a line too long is cut at the widget's edge."""
    text = Text(no_wrap=True, overflow="crop", end="")
    for number, line in enumerate(lines):
        if number:
            text.append("\n")
        for part, role in line:
            text.append(part, styles.get(role) or "")
    return text


class OverviewDrawing(Widget):
    """A part of the overview: `draw(data, width)` gives its lines, a title goes above them.
    It is as tall as its lines at its width, and hidden when it has none."""

    DEFAULT_CSS = """
    OverviewDrawing { height: auto; width: 1fr; margin-top: 1; }
    OverviewDrawing.-first { margin-top: 0; }
    """

    def __init__(self, title: str, draw: Part, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.heading = title
        self.draw = draw
        self.data: dict[str, Any] | None = None
        self._drawn: tuple[int, list[Line]] | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def show(self, data: dict[str, Any] | None) -> None:
        """New data (another range or a newer analysis): draw again."""
        self.data, self._drawn = data, None
        self.display = bool(self.lines(max(20, self.size.width or 76)))
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Line]:
        """The part's lines at `width`, the title first (kept for the last width asked)."""
        if self._drawn is None or self._drawn[0] != width:
            drawn = self.draw(self.data, width) if self.data is not None else []
            if drawn and self.heading:
                drawn = [[(self.heading, "title")], *drawn]
            self._drawn = (width, drawn)
        return self._drawn[1]

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        return coloured(self.lines(self.size.width), role_styles(self.app.get_css_variables()))
