"""The overview's parts as lines of (text, role) cells, and `report --overview`'s text of them.

The overview screen shows the same parts (`PARTS`), one widget each, coloured by role; the
charts are in `overview_charts.py`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from tokentree import format as fmt
from tokentree.core.overview import SOURCE_NAMES
from tokentree.core.overview_charts import Line, calendar, plain, trend
from tokentree.core.tree import short_model

BAR_EIGHTHS = " ▏▎▍▌▋▊▉"  # a bar's last cell, in eighths
TOP = 5  # the rows a driver lists
BAR_WIDTH = 32  # a driver's longest bar
TWO_COLUMNS = 100  # from this width the drivers sit two by two
LEADS = {"project": "projects", "model": "models", "source": "sources"}
"""The drivers' section that leads when the view is grouped by its dimension."""


def header(data: dict[str, Any], width: int) -> list[Line]:
    """The dates, the range (when not the whole period), the filter, the totals and how much
    of them is estimated."""
    days = data["range"]
    needle = f" · /{data['filter']}" if data["filter"] else ""
    if not data["days"]:
        return [[(f"Overview: no usage in this range ({days['title']}){needle}", "title")]]
    scope = "" if days["days"] is None else f" · last {days['title']}"
    cost = fmt.cost(data["cost_usd"], unpriced=data["unpriced_calls"], calls=data["calls"])
    text = (
        f"Overview  {data['start']} – {data['end']}{scope}{needle} · {cost} · "
        f"{fmt.tokens(data['tokens'])} tokens · {fmt.counted(data['sessions'], 'session')}"
    )
    estimated = data["estimated"]
    if estimated["calls"]:
        text += f" · estimated: ~{fmt.tokens(estimated['tokens'])} tokens, {_about(estimated)}"
    first, *rest = _wrap(text, width)
    return [[("Overview", "title"), (first.removeprefix("Overview"), "")]] + [
        [(line, "")] for line in rest
    ]


def drivers(data: dict[str, Any], width: int) -> list[Line]:
    """What drove the spend: activity, projects, models and sources (the view's grouping
    first), each a bar per name with its share and cost; two by two when `width` allows."""
    cost = data["cost_usd"]
    activity = sorted(data["activity"].items(), key=lambda item: -item[1]["cost_usd"])

    def rows(key: str, name: Callable[[str], str]) -> list[tuple[str, float]]:
        return [(name(item["name"]), item["cost_usd"]) for item in data[key]]

    sections = [
        ("activity", [(name, part["cost_usd"]) for name, part in activity]),
        ("projects", rows("by_project", str)),
        ("models", rows("by_model", short_model)),
        ("sources", rows("by_source", lambda name: SOURCE_NAMES.get(name, name))),
    ]
    lead = LEADS.get(data["lead"] or "")
    sections.sort(key=lambda section: section[0] != lead)  # the view's grouping first
    names = min(20, max((len(name) for _, rows in sections for name, _ in rows[:TOP]), default=0))
    if width < TWO_COLUMNS:
        lines: list[Line] = []
        for title, rows in sections:
            lines += _bars(title, rows, cost, names, width)
        return lines
    half = (width - 3) // 2
    lines = []
    for left, right in (sections[:2], sections[2:]):
        one, other = _bars(*left, cost, names, half), _bars(*right, cost, names, half)
        for number in range(max(len(one), len(other))):
            line = one[number] if number < len(one) else []
            pad = half + 3 - sum(len(text) for text, _ in line)
            lines.append([*line, (" " * pad, ""), *(other[number] if number < len(other) else [])])
    return lines


def _bars(
    title: str, rows: list[tuple[str, float]], total: float, name_width: int, width: int
) -> list[Line]:
    """The biggest `TOP` rows: name, a bar as long as its share, the share and the cost."""
    lines: list[Line] = [[(title, "subtitle")]]
    bar_width = max(4, min(BAR_WIDTH, width - name_width - 19))
    for name, cost in rows[:TOP]:
        share = cost / total if total else 0.0
        label = name if len(name) <= name_width else name[: name_width - 1] + "…"
        lines.append(
            [
                (f"  {label:<{name_width}} ", ""),
                (_bar(share, bar_width), "bar"),
                (f" {share:>4.0%} {fmt.cost(cost):>9}", ""),
            ]
        )
    if len(rows) > TOP:
        rest = sum(cost for _, cost in rows[TOP:])
        lines.append([(f"  … {len(rows) - TOP} more, {fmt.cost(rest)}", "dim")])
    return lines


def _bar(share: float, width: int) -> str:
    """A left-aligned bar `share` of `width` long, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BAR_EIGHTHS[part] if part else "")).ljust(width)


def quick_windows(data: dict[str, Any], width: int) -> list[Line]:
    """The last day, 7 and 30 days, the peak day and the active days, wrapped to `width`."""
    found = data["windows"]
    if not found or found["last_day"] is None:
        return []
    tiles = [
        (f"last day {found['last_day']}", fmt.cost(found["day_usd"])),
        ("7 days", fmt.cost(found["week_usd"])),
        ("30 days", fmt.cost(found["month_usd"])),
        (f"peak day {found['peak_day']}", fmt.cost(found["peak_usd"])),
        ("active", f"{found['active_days']:,} of {found['span_days']:,} days"),
    ]
    lines: list[Line] = [[]]
    used = 0
    for label, value in tiles:
        size = len(label) + 1 + len(value)
        if used and used + 3 + size > width:
            lines.append([])
            used = 0
        if used:
            lines[-1].append((" · ", "dim"))
            used += 3
        lines[-1] += [(label + " ", "dim"), (value, "value")]
        used += size
    return lines


def scale_line(data: dict[str, Any], width: int) -> list[Line]:
    return [[(line, "")] for line in _wrap(data["scale"]["text"], width)]


def daily_lines(rows: list[dict[str, Any]], bar_width: int = 24) -> list[Line]:
    """The daily table: spend, its 7-day moving average, and a bar (█ spend, │ the average)."""
    if not rows:
        return []
    biggest = max(max(row["cost_usd"], row["average_usd"]) for row in rows) or 1.0
    lines: list[Line] = [[(f"{f'Last {len(rows)} days':<14}{'spend':>9}  {'7-day avg':>9}", "dim")]]
    for row in rows:
        filled = round(row["cost_usd"] / biggest * bar_width)
        bar = [("█", "bar")] * filled + [(" ", "")] * (bar_width - filled)
        if row["average_usd"] > 0:
            mark = min(bar_width - 1, round(row["average_usd"] / biggest * bar_width))
            bar[mark] = ("│" if mark >= filled else "┃", "average")
        cost = fmt.cost(row["cost_usd"]) if row["cost_usd"] else "·"
        text = f"  {row['day']}  {cost:>9}  {fmt.cost(row['average_usd']):>9}  "
        lines.append([(text, ""), *_runs(bar)])
    return lines


def _runs(cells: list[tuple[str, str]]) -> Line:
    """Neighbouring cells of one role joined."""
    joined: Line = []
    for text, role in cells:
        if joined and joined[-1][1] == role:
            joined[-1] = (joined[-1][0] + text, role)
        else:
            joined.append((text, role))
    return joined


def daily_table_part(data: dict[str, Any], width: int) -> list[Line]:
    return daily_lines(data["last_days"], max(8, min(40, width - 36)))


def side_by_side_part(data: dict[str, Any], width: int) -> list[Line]:
    """The days with estimated calls, exact and estimated (`~`) tokens and cost side by side,
    and the range's totals; nothing when the range has no estimate."""
    rows = data["side_by_side"]
    if not rows:
        return []
    estimated = data["estimated"]
    exact = {name: data[name] - estimated[name] for name in estimated}
    lines: list[Line] = [
        [(f"{'':12}{'exact tokens':>14}{'cost':>10}{'~est. tokens':>14}{'~est. cost':>12}", "dim")]
    ]
    for row in [*rows, {"day": "range", "exact": exact, "estimated": estimated}]:
        mine, theirs = row["exact"], row["estimated"]
        tokens = fmt.tokens(mine["tokens"]) if mine["calls"] else "–"
        cost = _cost(mine) if mine["calls"] else "–"
        text = f"  {row['day']:<10}{tokens:>14}{cost:>10}"
        text += f"{'~' + fmt.tokens(theirs['tokens']):>14}{_about(theirs):>12}"
        lines.append([(text, "value" if row["day"] == "range" else "")])
    note = "~ chat apps, estimated from their exports' text; counted in the totals, shown apart"
    return lines + [[(line, "dim")] for line in _wrap(note, width)]


def _cost(counts: dict[str, Any]) -> str:
    return fmt.cost(counts["cost_usd"], unpriced=counts["unpriced_calls"], calls=counts["calls"])


def _about(counts: dict[str, Any]) -> str:
    """An estimate's cost, marked `~` (an unpriced one says so, never $0)."""
    cost = _cost(counts)
    return cost if cost == "unpriced" else "~" + cost


def advice(data: dict[str, Any], width: int) -> list[Line]:
    """The top advice with its arithmetic, what every rule found, and the notes."""
    if data["filter"]:
        return [[("No advice for a filter's calls: advice is about all of a node's calls.", "dim")]]
    lines: list[str] = []
    if data["top_advice"]:
        lines.append("Top advice, by estimated saving")
        for rank, item in enumerate(data["top_advice"], 1):
            lines += _advice_lines(f"{rank}.", item, width)
        parts = [
            f"{entry['title'].lower()} {entry['count']}×"
            + (f" ≈ ${entry['saving_usd']:,.2f}" if entry["saving_usd"] > 0 else "")
            for entry in data["advice_by_rule"]
        ]
        if parts:
            lines += _wrap("All advice: " + " · ".join(parts), width)
    else:
        lines.append("No advice with a saving: nothing in this range crossed a rule's threshold.")
    if data["notes"]:
        lines.append("Notes")
        for item in data["notes"]:
            lines += _advice_lines("·", item, width)
    headings = ("Top advice", "Notes", "All advice")
    return [[(line, "subtitle" if line.startswith(headings) else "")] for line in lines]


def _advice_lines(bullet: str, item: dict[str, Any], width: int) -> list[str]:
    saving = f"≈ ${item['saving_usd']:,.2f}  " if item["saving_usd"] > 0 else ""
    head = f" {bullet} {saving}{item['title']} — {item['where']}"
    body = _wrap(item["message"][:1].upper() + item["message"][1:], width - 5)
    lines = [head] + [f"     {line}" for line in body]
    formula = item["evidence"].get("formula", "")
    if formula and item["saving_usd"] > 0:
        wrapped = _wrap(f"formula: {formula}", width - 7)
        lines += [f"     {line}" if i == 0 else f"       {line}" for i, line in enumerate(wrapped)]
    return lines


Part = Callable[[dict[str, Any], int], list[Line]]

PARTS: tuple[tuple[str, str, Part], ...] = (
    ("header", "", header),
    ("calendar", "Daily spend", calendar),
    ("trend", "Weekly trend · log scale", trend),
    ("drivers", "What drove it", drivers),
    ("windows", "Quick windows", quick_windows),
    ("scale", "Scale", scale_line),
    ("table", "The last 30 days · spend and its 7-day moving average", daily_table_part),
    ("estimates", "Exact and estimated, per day", side_by_side_part),
    ("advice", "", advice),
)
"""The overview's parts in order: id, title (none for the header and the advice) and drawing."""


def render_overview(data: dict[str, Any], width: int = 100) -> list[str]:
    """The overview as text lines: every part of `PARTS`, titled, a blank line between."""
    if not data["days"]:
        return plain(header(data, width))
    lines: list[str] = []
    for _, title, draw in PARTS:
        drawn = plain(draw(data, width))
        if not drawn:
            continue
        if lines:
            lines.append("")
        lines += [title] if title else []
        lines += drawn
    return lines


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(20, width)) or [""]
