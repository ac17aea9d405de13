"""The app's own actions in Textual's command palette (Ctrl+P), beside Textual's."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (what the palette lists, what it does, the app action), in the order the help lists keys
COMMANDS = (
    ("Sort by cost", "s; again reverses", "sort('cost')"),
    ("Sort by tokens", "t; again reverses", "sort('tokens')"),
    ("Sort by cache hit", "c; again reverses", "sort('cache')"),
    ("Sort by time", "n; again reverses", "sort('time')"),
    ("Sort by count", "C; again reverses", "sort('count')"),
    ("Sort by cache waste", "w; again reverses", "sort('waste')"),
    ("Bar by cost or tokens", "a: what the bar and % measure", "toggle_metric"),
    ("Graph: bar, percent or both", "g", "cycle_graph"),
    ("Info panel", "i: token kinds, activity, context, advice of the row", "toggle_info"),
    ("Overview", "o: daily spend, trend, drivers, advice; r in it: 90d, 180d, 1y, all", "overview"),
    ("Export the selected subtree", "e: as JSON", "export"),
    ("Handoff of the selected session", "H: a prompt for a new thread, copied", "handoff"),
    ("Light or dark theme", "T", "toggle_theme"),
    ("Filter every list", "/: model, project, source or tool; totals summed again", "filter"),
    ("Group by", "b: week, month, day, project, model, source, and around", "cycle_grouping"),
    ("Help", "?: keys, columns, flags, activity, advice", "help"),
)


class ViewCommands(Provider):
    """Every view key as a command, for those who would rather type than remember."""

    async def discover(self) -> Hits:
        for name, help_text, action in COMMANDS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(self.app.run_action, action),
                    help=help_text,
                )
