"""Colours the themes leave out: a muted text colour that stays muted in every theme.

Textual's `$text-muted` is "auto 60%", worked out against the background a
widget is drawn on. The list and the bars draw with component styles taken
without a background (`partial=True`), where "auto" becomes plain white: white
on light grey in the light theme, brighter than normal text in the dark one.
`$muted-text` is a plain colour, the foreground 30% of the way to the surface.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.color import Color

MUTED = 0.7  # how much of the foreground muted text keeps: 4.5:1 contrast or more on both themes


def extra_variables(variables: Mapping[str, str]) -> dict[str, str]:
    """The CSS variables tokentree adds to a theme's."""
    foreground = Color.parse(variables["foreground"])
    surface = Color.parse(variables["surface"])
    return {"muted-text": surface.blend(foreground, MUTED).hex}
