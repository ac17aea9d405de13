"""`?`: the keys, the live line, the columns, the flags, activity classes and advice rules."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tokentree.app.screens.panel import PanelScreen
from tokentree.core.advice import rule_help
from tokentree.core.attribution import CLASS_HELP
from tokentree.core.live import DEFAULT_THRESHOLDS, Thresholds
from tokentree.core.overview import SOURCE_NAMES
from tokentree.core.view import FLAGS, MIX_LETTERS, SOURCE_BADGE

KEYS = (
    ("↑ ↓  j k", "move; PgUp PgDn Home End jump; gg first row, G last row"),
    ("→ l Enter", "open the row (a call opens its info)"),
    ("← h Backspace", "back to the parent, cursor on where you were"),
    ("s  t  c", "sort by cost, tokens, cache hit rate"),
    ("n  C", "sort by time (or name), by count; the same key again reverses"),
    ("w", "sort by cache waste: history sent again without the cache, in $"),
    ("a", "bar and % by cost or by tokens"),
    ("g", "show the bar, the percentage, or both (g g quickly: first row)"),
    ("i", "info panel: token kinds and costs, activity, context, models, advice"),
    ("J K", "scroll the info panel (also Shift+↓ Shift+↑, or the wheel)"),
    ("o", "overview: daily spend, trend, drivers, top advice; of the filter's calls if set"),
    ("r", "in the overview: the last 90 days, 180 days, 1 year, or all; every part follows"),
    ("b", "group the top by week, month, day, project, model or source (--by)"),
    (
        "/",
        "filter: only calls whose model, project, source or tool holds the text, in"
        " every list, totals summed again (Enter keeps it, Esc clears it)",
    ),
    ("e", "export the selected subtree as JSON"),
    ("H", "copy the selected session's handoff prompt (for a fresh thread)"),
    ("T", "light or dark theme; theme, sorts, bar, graph, grouping: kept for next time"),
    ("Ctrl+P", "command palette: every action above, by name"),
    ("click", "a column title sorts by it, again reverses; a breadcrumb goes up"),
    ("? q Ctrl+C", "this help; quit"),
)
COLUMNS = (
    ("Cost", "USD at each call's dated price; ≥$… a lower bound (some unpriced)"),
    ("%", "share of the parent (by cost or tokens, see a)"),
    ("Bar", "relative to the largest row shown"),
    ("Tokens", "input + cache writes + cache reads + output"),
    ("Cache", "cache hit: cache reads ÷ everything sent"),
    ("Waste", "cache waste: what history sent again after a miss cost over cache reads (i: why)"),
    ("Sess/Turns/Calls", "sessions in a week or day, turns in a session, calls in a turn"),
    (
        "Mix",
        "each row's cost by activity: one bar per class, the list's costliest classes first, "
        "headed by their letters (below); from 100 columns on",
    ),
    (
        "source",
        "where a session came from: "
        + " · ".join(
            f"{badge} {SOURCE_NAMES[source]}" for source, (badge, _) in SOURCE_BADGE.items()
        ),
    ),
    ("◆ ▲ after a row", "advice about the row (◆ a saving, ▲ where the money went); i explains"),
)

ACTIVITY_INTRO = (
    "what each call was doing, from the tools it asked for and where it ran (a sub-agent, "
    "a compaction); a call that asked for several tools is split between their classes. "
    "The letters head the Mix column."
)
ADVICE_INTRO = (
    "Rules that fire only on numbers in the logs, each with the saving's arithmetic (i on "
    "the row it is about, or o). Their thresholds are in config.toml under [advice.<rule>]."
)


def live_help(thresholds: Thresholds) -> tuple[tuple[str, str], ...]:
    warn, high = f"{thresholds.warn:,}", f"{thresholds.high:,}"
    return (
        ("● live", "following the logs as they are written; ◌ polling, ○ not watching"),
        ("today", "cost and tokens of today's calls"),
        ("5h block", "ccusage's 5-hour block (from its first call's hour): cost, time left;"),
        ("", "$/h, tok/min over the last 30 min; → its cost at the end at that rate"),
        ("● … ctx", "a session with a call in the last 30 min: the context that call sent,"),
        ("", f"green below {warn} tokens, yellow below {high}, red from there"),
        ("codex", "Codex's own 5-hour and weekly limits as last logged, and their resets"),
    )


def help_text(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(Text("Keys", style="bold underline"), "")
    # Text, not str: a str is Rich markup, and "[advice.<rule>]" would vanish as a tag
    for keys, meaning in KEYS:
        table.add_row(Text(keys), Text(meaning))
    table.add_row("", "")
    table.add_row(Text("Live line", style="bold underline"), "")
    for name, meaning in live_help(thresholds):
        table.add_row(Text(name), Text(meaning))
    table.add_row("", "")
    table.add_row(Text("Columns", style="bold underline"), "")
    for name, meaning in COLUMNS:
        table.add_row(Text(name), Text(meaning))
    table.add_row("", "")
    table.add_row(Text("Flags", style="bold underline"), "")
    for flag in FLAGS:
        table.add_row(Text(f"{flag.glyph}  {flag.name}"), Text(flag.meaning))
    table.add_row("", "")
    table.add_row(Text("Activity", style="bold underline"), "")
    table.add_row("", Text(ACTIVITY_INTRO))
    for name, meaning in CLASS_HELP.items():
        table.add_row(Text(f"{MIX_LETTERS.get(name, '?')}  {name}"), Text(meaning))
    table.add_row("", "")
    table.add_row(Text("Advice", style="bold underline"), "")
    table.add_row("", Text(ADVICE_INTRO))
    for rule, title, explanation in rule_help():
        table.add_row("", "")
        text = Text(title, style="bold") + Text(f"  [advice.{rule}]\n", style="dim")
        table.add_row("", text + Text(explanation))
    return table


class HelpScreen(PanelScreen[None]):
    """Closed by any of Esc, ?, q."""

    DEFAULT_CSS = "HelpScreen > .panel { width: 96; }"
    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def __init__(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        super().__init__()
        self.thresholds = thresholds

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="panel") as scroll:
            scroll.border_title = "tokentree help"
            scroll.border_subtitle = "Esc to close"
            yield Static(help_text(self.thresholds))
