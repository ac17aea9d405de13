"""The overview's two charts as lines of (text, role) cells: the calendar heatmap and the
weekly trend, both on a log scale.

A role names what a cell shows ("heat3", "peak", "axis"…); `report --overview` prints the text
alone and the overview screen colours each role from its theme. The glyphs alone keep every
level apart (░ ▒ ▓ █, ▼ for the peak), so a terminal without colour (NO_COLOR) loses nothing.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from tokentree import format as fmt

Cell = tuple[str, str]
"""Some text and its role ("" for plain text)."""
Line = list[Cell]

SHADES = ("░", "▒", "▓", "█")
"""The heatmap's four levels, least to most; "heat1" … "heat4" are their roles."""
EMPTY = "·"  # a day of the range without usage
BLOCKS = "▁▂▃▄▅▆▇█"  # a bar's top, in eighths of a row
WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AXIS_WIDTH = 8  # "$0.001 ┤"


def plain(lines: list[Line]) -> list[str]:
    """The lines as text, each without trailing spaces."""
    return ["".join(text for text, _ in line).rstrip() for line in lines]


def shade_limits(costs: list[float]) -> tuple[float, float, float]:
    """Where the four shades change: evenly spaced in log(cost) from the cheapest day to the
    dearest, so a month of $2 days and one of $200 days both use every shade."""
    if not costs:
        return (1.0, 1.0, 1.0)
    low, high = min(costs), max(costs)
    if high <= low * 1.01:
        return (low, low, low)
    step = math.log(high / low) / 4
    first, second, third = (low * math.exp(step * i) for i in (1, 2, 3))
    return (first, second, third)


def heat_level(cost: float, limits: tuple[float, float, float]) -> int:
    """1 … 4: the shade of a day with usage."""
    return 1 + sum(1 for limit in limits if cost >= limit)


def calendar(data: dict[str, Any], width: int) -> list[Line]:
    """A column per week, a row per weekday (as GitHub draws contributions), in bands as wide
    as `width` allows; then the legend with each shade's bounds."""
    weeks, days = data["weeks"], data["days"]
    if not weeks:
        return []
    first = date.fromisoformat(data["range"]["first"])
    last = date.fromisoformat(data["range"]["last"])
    limits = shade_limits([cost for cost in days.values() if cost > 0])
    room = max(1, width - 3)
    cell = 2 if len(weeks) * 2 <= room else 1
    per_band = max(1, room // cell)
    names = [WEEKDAYS[(data["week_start"] + row) % 7] for row in range(7)]
    lines: list[Line] = []
    for band in range(0, len(weeks), per_band):
        starts = [date.fromisoformat(week["start"]) for week in weeks[band : band + per_band]]
        lines.append([("   ", ""), (_months(starts, cell), "dim")])
        for row in range(7):
            line: Line = [(f"{names[row]} ", "dim")]
            for start in starts:
                day = start + timedelta(days=row)
                cost = days.get(day.isoformat(), 0.0)
                if not first <= day <= last:
                    line.append((" " * cell, ""))
                elif cost <= 0:
                    line.append((EMPTY.ljust(cell), "none"))
                else:
                    level = heat_level(cost, limits)
                    line.append((SHADES[level - 1], f"heat{level}"))
                    line.append((" " * (cell - 1), ""))
            lines.append(line)
    return lines + legend(limits, [cost for cost in days.values() if cost > 0], width)


def legend(limits: tuple[float, float, float], costs: list[float], width: int) -> list[Line]:
    """Each shade with the daily spend it stands for, wrapped to `width`."""
    items: list[Line] = [[(EMPTY, "none"), (" none", "dim")]]
    if costs:
        least, most = min(costs), max(costs)
        bounds = [least, *limits, most]
        levels = range(4) if limits[0] > least else range(3, 4)  # one level: all alike
        for level in levels:
            low = bounds[level] if len(levels) > 1 else least
            text = f" {fmt.cost(low)}–{fmt.cost(bounds[level + 1])}"
            items.append([(SHADES[level], f"heat{level + 1}"), (text, "dim")])
    return _wrapped([("daily spend, log scale:", "dim")], items, width)


def trend(data: dict[str, Any], width: int, height: int = 6) -> list[Line]:
    """Weekly spend as bars on a log axis (a tick per power of ten), the peak week marked ▼;
    weeks that do not fit one a column are merged, each column their mean."""
    costs = [week["cost_usd"] for week in data["weeks"]]
    if not any(cost > 0 for cost in costs):
        return []
    room = max(1, width - AXIS_WIDTH)
    merge = math.ceil(len(costs) / room)
    columns = [
        sum(costs[i : i + merge]) / len(costs[i : i + merge]) for i in range(0, len(costs), merge)
    ]
    cell = max(1, min(4, room // len(columns)))
    peak_week = max(range(len(costs)), key=lambda i: costs[i])
    peak = peak_week // merge
    low, high = _decades([cost for cost in columns if cost > 0])
    tall = [_eighths(cost, low, high, height) for cost in columns]
    ticks = {
        _tick_row(power - low, high - low, height): power for power in range(low + 1, high + 1)
    }
    marker = _peak_label(data["weeks"][peak_week], peak * cell, room)
    lines: list[Line] = [[(" " * AXIS_WIDTH, ""), *marker]]
    for row in reversed(range(height)):
        axis = f"{_money(10.0 ** ticks[row])} ┤" if row in ticks else "│"
        line: Line = [(axis.rjust(AXIS_WIDTH), "axis")]
        for column, eighths in enumerate(tall):
            part = eighths - row * 8
            glyph = " " if part <= 0 else BLOCKS[min(8, part) - 1]
            bar = glyph * (cell - 1 if cell > 1 else 1)
            line.append((bar, "peak" if column == peak else "bar"))
            line.append((" " * (cell - len(bar)), ""))
        lines.append(line)
    span = len(columns) * cell
    lines.append([(f"{_money(10.0**low)} └".rjust(AXIS_WIDTH), "axis"), ("─" * span, "axis")])
    first, last = data["weeks"][0]["week"], data["weeks"][-1]["week"]
    under = first if first == last else first + last.rjust(max(len(last) + 1, span - len(first)))
    note = f"   {merge} weeks a column, each their mean" if merge > 1 else ""
    lines.append([(" " * AXIS_WIDTH, ""), (under, "dim"), (note, "dim")])
    return lines


def _decades(costs: list[float]) -> tuple[int, int]:
    """The powers of ten the axis runs between: below the least cost, above the most."""
    low = math.floor(math.log10(min(costs)))
    high = math.ceil(math.log10(max(costs)))
    return low, max(high, low + 1)


def _eighths(cost: float, low: int, high: int, height: int) -> int:
    """A bar's height in eighths of a row; any spend shows at least one."""
    if cost <= 0:
        return 0
    share = (math.log10(cost) - low) / (high - low)
    return max(1, min(height * 8, round(share * height * 8)))


def _tick_row(step: int, steps: int, height: int) -> int:
    """The row a power of ten falls in (0 at the bottom)."""
    return max(0, math.ceil(step / steps * height) - 1)


def _peak_label(week: dict[str, Any], column: int, room: int) -> Line:
    """▼ over the peak column, its week and spend beside it (before it near the right edge)."""
    text = f"peak {week['week']} {fmt.cost(week['cost_usd'])}"
    if column + 2 + len(text) <= room:
        return [(" " * column, ""), ("▼", "peak"), (" " + text, "peak")]
    start = max(0, column - len(text) - 1)
    return [(" " * start, ""), (text + " ", "peak"), ("▼", "peak")]


def _money(usd: float) -> str:
    """An axis tick: $0.01, $1, $100, $10k."""
    if usd >= 1000:
        return f"${usd / 1000:g}k"
    return f"${usd:g}"


def _months(starts: list[date], cell: int) -> str:
    """Month names over the weeks a month begins in (and the first), where there is room."""
    text = ""
    for column, start in enumerate(starts):
        end = start + timedelta(days=6)
        begins = start.day == 1 or end.month != start.month
        if column and not begins:
            continue
        middle = start + timedelta(days=3)  # the first column: the month most of it is in
        month = middle.month if not column else end.month if start.day != 1 else start.month
        at = column * cell
        if not text or at > len(text):
            text = text.ljust(at) + MONTHS[month - 1]
    return text


def _wrapped(head: Line, items: list[Line], width: int) -> list[Line]:
    """`head` and the items after it, two spaces apart, onto as many lines as `width` needs."""
    lines: list[Line] = [list(head)]
    used = _width(head)
    for item in items:
        size = _width(item)
        if used and used + 2 + size > width:
            lines.append(list(item))
            used = size
        else:
            lines[-1] += [("  ", ""), *item] if used else item
            used += size + (2 if used else 0)
    return lines


def _width(line: Line) -> int:
    return sum(len(text) for text, _ in line)
