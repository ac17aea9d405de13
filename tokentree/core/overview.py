"""The period at a glance: daily spend as a calendar, the weekly trend, the splits, the top advice.

`build_overview` returns plain data (the `overview` of `report --json --overview`);
`render_overview` turns it into the text lines `report --overview` prints and an
overview screen can show as they are.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tokentree import format as fmt
from tokentree.core.attribution import Attribution, turn_calls
from tokentree.core.sources import SOURCES
from tokentree.core.tree import Kind, Node, project_name, short_model, week_key

if TYPE_CHECKING:  # the served tree imports this module, and `report` the served tree's
    from tokentree.core.advice import AdviceReport

SPARKS = "▁▂▃▄▅▆▇█"
SHADES = ("░", "▒", "▓", "█")
WORDS_PER_TOKEN = 0.75  # English prose: about 1.33 tokens a word
WORDS_PER_NOVEL = 90_000
WORDS_PER_MINUTE = 250  # silent reading
SOURCE_NAMES = {name: source.title for name, source in SOURCES.items()}


Splits = tuple[Counter[str], Counter[str], Counter[str]]
"""Cost by source, by model and by project (each call's own)."""


def build_overview(
    root: Node,
    attribution: Attribution,
    advice: AdviceReport,
    week_start: int = 0,
    top: int = 5,
    splits: Splits | None = None,
) -> dict[str, Any]:
    """Everything the overview shows, for the period below `root`, as plain data; the cost
    splits are summed from its calls unless given (a served tree's come from the index)."""
    days = {day.key: day.totals.cost for day in _nodes(root, Kind.DAY)}
    weeks = _weeks(days, week_start)
    by_source, by_model, by_project = splits or splits_of(root)
    totals = root.totals
    peak = max(weeks, key=lambda week: week["cost_usd"]) if weeks else None
    return {
        "start": min(days) if days else None,
        "end": max(days) if days else None,
        "cost_usd": round(totals.cost, 6),
        "unpriced_calls": totals.unpriced_calls,
        "tokens": totals.total,
        "calls": totals.calls,
        "sessions": root.sessions,
        "week_start": week_start,
        "days": {day: round(cost, 6) for day, cost in sorted(days.items())},
        "weeks": weeks,
        "peak_week": peak["week"] if peak else None,
        "by_source": _shares(by_source, totals.cost),
        "by_model": _shares(by_model, totals.cost),
        "by_project": _shares(by_project, totals.cost),
        "activity": attribution[root].as_dict(),
        "top_advice": [item.as_dict() for item in advice.top(top)],
        "advice_by_rule": _by_rule(advice),
        "notes": [item.as_dict() for item in advice.items if item.saving_usd <= 0][:top],
        "scale": scale(totals.total),
    }


def splits_of(root: Node) -> Splits:
    """Cost by source, model and project, summed over every call below `root`."""
    by_source: Counter[str] = Counter()
    by_model: Counter[str] = Counter()
    by_project: Counter[str] = Counter()
    for session in _nodes(root, Kind.SESSION):
        for turn in session.children:
            for call in turn_calls(turn):
                by_source[call.source] += call.cost
                by_model[call.model] += call.cost
                by_project[project_name(call.project)] += call.cost
    return by_source, by_model, by_project


def _by_rule(advice: AdviceReport) -> list[dict[str, Any]]:
    """How often each rule fired and what it would save in all, biggest saving first."""
    found: dict[str, dict[str, Any]] = {}
    for item in advice.items:
        entry = found.setdefault(
            item.rule, {"rule": item.rule, "title": item.title, "count": 0, "saving_usd": 0.0}
        )
        entry["count"] += 1
        entry["saving_usd"] += item.saving_usd
    entries = sorted(found.values(), key=lambda entry: (-entry["saving_usd"], entry["rule"]))
    return [entry | {"saving_usd": round(entry["saving_usd"], 6)} for entry in entries]


def _nodes(node: Node, kind: Kind) -> list[Node]:
    """The nodes of one kind below `node` (never a turn's call rows)."""
    if node.kind is kind:
        return [node]
    if node.kind in (Kind.TURN, Kind.CALL, Kind.SESSION):
        return []
    return [found for child in node.children for found in _nodes(child, kind)]


def _weeks(days: dict[str, float], week_start: int) -> list[dict[str, Any]]:
    """Every week from the first day to the last (empty ones too), with its spend."""
    if not days:
        return []
    starts: Counter[date] = Counter()
    for key, cost in days.items():
        day = date.fromisoformat(key)
        starts[day - timedelta(days=(day.weekday() - week_start) % 7)] += cost
    first, last = min(starts), max(starts)
    weeks = []
    while first <= last:
        weeks.append(
            {"week": week_key(first), "start": first.isoformat(), "cost_usd": starts[first]}
        )
        first += timedelta(days=7)
    return weeks


def _shares(costs: Counter[str], total: float) -> list[dict[str, Any]]:
    return [
        {"name": name, "cost_usd": round(cost, 6), "share": round(cost / total, 6) if total else 0}
        for name, cost in costs.most_common()
    ]


def scale(tokens: int) -> dict[str, Any]:
    """The token total as something a person can feel, with the arithmetic shown."""
    words = tokens * WORDS_PER_TOKEN
    novels = words / WORDS_PER_NOVEL
    hours = words / WORDS_PER_MINUTE / 60
    text = (
        f"{fmt.tokens(tokens)} tokens ≈ {_round(novels)} novels ({tokens:,} × {WORDS_PER_TOKEN} "
        f"words/token ÷ {WORDS_PER_NOVEL:,} words/novel), or {_duration(hours)} of reading "
        f"nonstop at {WORDS_PER_MINUTE} words/min"
    )
    return {"tokens": tokens, "words": round(words), "novels": round(novels, 2), "text": text}


def _round(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 1 else f"{value:.2f}"


def _duration(hours: float) -> str:
    if hours >= 24 * 365:
        return f"{hours / 24 / 365:,.1f} years"
    if hours >= 48:
        return f"{hours / 24:,.0f} days"
    return f"{hours:,.1f} hours"


# --- text --------------------------------------------------------------------------------------


def render_overview(data: dict[str, Any], width: int = 100) -> list[str]:
    """The overview as text lines: calendar, trend, splits, scale, top advice with arithmetic."""
    if not data["days"]:
        return ["Overview: no usage in this period"]
    lines = [
        f"Overview  {data['start']} – {data['end']} · "
        f"{fmt.cost(data['cost_usd'], unpriced=data['unpriced_calls'], calls=data['calls'])} · "
        f"{fmt.tokens(data['tokens'])} tokens · {data['sessions']:,} sessions",
        "",
    ]
    lines += _calendar(data)
    lines.append("")

    def label(title: str, text: str) -> None:
        wrapped = _wrap(text, width - 12)
        lines.extend(f"{title if i == 0 else '':<12}{line}" for i, line in enumerate(wrapped))

    costs = [week["cost_usd"] for week in data["weeks"]]
    peak = next(week for week in data["weeks"] if week["week"] == data["peak_week"])
    label("week trend", f"{sparkline(costs)}  peak {peak['week']} {fmt.cost(peak['cost_usd'])}")
    for title, key, name in (
        ("by source", "by_source", lambda text: SOURCE_NAMES.get(text, text)),
        ("by model", "by_model", short_model),
        ("by project", "by_project", str),
    ):
        parts = [f"{name(item['name'])} {item['share']:.0%}" for item in data[key][:5]]
        if len(data[key]) > 5:
            parts.append(f"… {len(data[key]) - 5} more")
        label(title, " · ".join(parts))
    cost = data["cost_usd"] or 1
    activity = sorted(data["activity"].items(), key=lambda item: -item[1]["cost_usd"])
    label(
        "activity", " · ".join(f"{name} {part['cost_usd'] / cost:.0%}" for name, part in activity)
    )
    label("scale", data["scale"]["text"])
    lines.append("")
    if data["top_advice"]:
        lines.append("Top advice, by estimated saving")
        for rank, item in enumerate(data["top_advice"], 1):
            lines += _advice_lines(f"{rank}.", item, width)
        parts = [
            f"{entry['title'].lower()} {entry['count']}×"
            + (f" ≈ ${entry['saving_usd']:,.2f}" if entry["saving_usd"] > 0 else "")
            for entry in data["advice_by_rule"]
        ]
        lines += _wrap("All advice: " + " · ".join(parts), width)
    else:
        lines.append("No advice with a saving: nothing in this period crossed a rule's threshold.")
    if data["notes"]:
        lines.append("Notes")
        for item in data["notes"]:
            lines += _advice_lines("·", item, width)
    return lines


def _calendar(data: dict[str, Any]) -> list[str]:
    """One row per week, one cell per day, shaded by spend on a log scale."""
    days = data["days"]
    limits = shade_limits([cost for cost in days.values() if cost > 0])
    names = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
    start = data["week_start"]
    header = " ".join(names[(start + i) % 7] for i in range(7))
    legend = "  ".join(
        [f"{SHADES[0]} <{fmt.cost(limits[0])}"]
        + [f"{SHADES[i + 1]} <{fmt.cost(limits[i + 1])}" for i in range(2)]
        + [f"{SHADES[3]} ≥{fmt.cost(limits[2])}", "· none"]
    )
    lines = [f"{'':<10}{header}"]
    for week in data["weeks"]:
        first = date.fromisoformat(week["start"])
        cells = []
        for offset in range(7):
            cost = days.get((first + timedelta(days=offset)).isoformat())
            cells.append(" ·" if not cost else " " + _shade(cost, limits))
        mark = "  ◀ peak" if week["week"] == data["peak_week"] else ""
        lines.append(
            f"{week['week']:<9}" + " ".join(cells) + f"   {fmt.cost(week['cost_usd'])}{mark}"
        )
    lines.append(f"{'':<10}daily spend, log scale: {legend}")
    return lines


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


def _shade(cost: float, limits: tuple[float, float, float]) -> str:
    for shade, limit in zip(SHADES, limits, strict=False):
        if cost < limit:
            return shade
    return SHADES[-1]


def sparkline(values: list[float]) -> str:
    """One block per value, scaled to the largest; zero is a space."""
    biggest = max(values, default=0)
    if biggest <= 0:
        return " " * len(values)
    return "".join(
        SPARKS[min(len(SPARKS) - 1, int(value / biggest * (len(SPARKS) - 1) + 0.5))]
        if value
        else " "
        for value in values
    )


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


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]
