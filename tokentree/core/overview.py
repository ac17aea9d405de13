"""The period at a glance, as plain data: daily spend, the weekly trend, what drove it, quick
windows, the last 30 days and the top advice; narrowed to a range from its days alone.

`build_overview` returns the `overview` of `report --json --overview`; each day keeps its own
parts (`daily`), so `in_range` can narrow every part to 90 days, 180 days or a year without
the tree. `core/overview_text.py` draws it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tokentree import format as fmt
from tokentree.core.attribution import Attribution, turn_calls
from tokentree.core.overview_estimates import add_counts, estimated_of, no_counts, side_by_side
from tokentree.core.sources import SOURCES
from tokentree.core.tree import Kind, Node, project_name, week_key, week_of

if TYPE_CHECKING:  # the served tree imports this module, and `report` the served tree's
    from tokentree.core.advice import AdviceReport

WORDS_PER_TOKEN = 0.75  # English prose: about 1.33 tokens a word
WORDS_PER_NOVEL = 90_000
WORDS_PER_MINUTE = 250  # silent reading
SOURCE_NAMES = {name: source.title for name, source in SOURCES.items()}
AVERAGE_DAYS = 7  # the moving average's window
TABLE_DAYS = 30  # the daily table's length
RANGES: dict[str, tuple[str, int | None]] = {
    "90d": ("90 days", 90),
    "180d": ("180 days", 180),
    "1y": ("1 year", 365),
    "all": ("all", None),
}
"""The range selector's choices, in the order `r` cycles them: title and days (None: all)."""
SPARKS = "▁▂▃▄▅▆▇█"
SPLITS = ("by_source", "by_model", "by_project")
_PLACES = 9  # a day's parts keep nano-dollars: a year of them sums to the cent and below

Splits = tuple[Counter[str], Counter[str], Counter[str]]
"""Cost by source, by model and by project (each call's own)."""


def build_overview(
    root: Node,
    attribution: Attribution,
    advice: AdviceReport,
    week_start: int = 0,
    top: int = 5,
    day_splits: Mapping[str, Splits] | None = None,
    day_sessions: Mapping[str, set[str]] | None = None,
    day_estimates: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything the overview shows for the period below `root`, as plain data, over all of
    it. Each day's splits, session keys and estimated calls are read from its calls unless
    given (a served tree's come from the index, and reading its days' sessions would load
    them)."""
    base = {
        "week_start": week_start,
        "filter": "",
        "lead": None,
        "daily": day_parts(root, attribution, day_splits, day_sessions, day_estimates),
        "top_advice": [item.as_dict() for item in advice.top(top)],
        "advice_by_rule": _by_rule(advice),
        "notes": [item.as_dict() for item in advice.items if item.saving_usd <= 0][:top],
    }
    return in_range(base, "all")


def day_parts(
    root: Node,
    attribution: Attribution,
    day_splits: Mapping[str, Splits] | None = None,
    day_sessions: Mapping[str, set[str]] | None = None,
    day_estimates: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each day's spend, tokens, calls, the sessions it began, its cost by source, model and
    project, its activity and its estimated calls: all a range needs to sum up its days (see
    `in_range`)."""
    found: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for day in sorted(_nodes(root, Kind.DAY), key=lambda node: node.key):
        keys = day_sessions.get(day.key, set()) if day_sessions is not None else None
        if keys is None:
            keys = {session.key for session in day.children}
        splits = day_splits.get(day.key) if day_splits is not None else None
        estimated = (
            day_estimates.get(day.key, no_counts())
            if day_estimates is not None
            else estimated_of(day)
        )
        part = found.setdefault(day.key, _empty_part())
        sessions = len(keys - seen)
        _add_part(part, _part_of(day, attribution, splits or splits_of(day), sessions, estimated))
        seen |= keys
    return {key: _rounded(part, _PLACES) for key, part in found.items()}


def in_range(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The overview of the range's last days (counted back from the last day with usage),
    every part summed again from `daily`. Advice is the period's top advice that falls in
    the range; `advice_by_rule` counts the whole period, so a narrower range leaves it out."""
    title, count = RANGES[key]
    daily = data["daily"]
    first, last = min(daily, default=None), max(daily, default=None)
    if count is not None and first is not None and last is not None:
        first = max(first, (date.fromisoformat(last) - timedelta(days=count - 1)).isoformat())
    kept = {day: part for day, part in sorted(daily.items()) if first is None or day >= first}
    summed = _empty_part()
    for part in kept.values():
        _add_part(summed, part)
    days = {day: round(part["cost_usd"], 6) for day, part in kept.items()}
    weeks = _weeks(days, data["week_start"], first)
    peak = max(weeks, key=lambda week: week["cost_usd"]) if weeks else None
    cost = summed["cost_usd"]
    keep_week = {week["week"] for week in weeks}
    return data | {
        "range": {"key": key, "title": title, "days": count, "first": first, "last": last},
        "start": min(kept, default=None),
        "end": max(kept, default=None),
        "cost_usd": round(cost, 6),
        "unpriced_calls": summed["unpriced_calls"],
        "tokens": summed["tokens"],
        "calls": summed["calls"],
        "sessions": summed["sessions"],
        "daily": kept,
        "days": days,
        "weeks": weeks,
        "peak_week": peak["week"] if peak else None,
        **{name: _shares(Counter(summed[name]), cost) for name in SPLITS},
        "activity": _rounded(summed["activity"], 6),
        "estimated": _rounded(summed["estimated"], 6),
        "side_by_side": side_by_side(kept),
        "top_advice": _advice_in(data["top_advice"], first, keep_week),
        "notes": _advice_in(data["notes"], first, keep_week),
        "advice_by_rule": data["advice_by_rule"] if count is None else [],
        "scale": scale(summed["tokens"]),
        "windows": windows(days),
        "last_days": daily_table(days),
    }


def viewed(data: dict[str, Any], needle: str, lead: str | None) -> dict[str, Any]:
    """The overview as the view shows it: of the calls `needle` matches (its title says so)
    and its drivers led by the view's grouping (`lead`: project, model or source)."""
    return data | {"filter": needle, "lead": lead}


def next_range(key: str) -> str:
    """The range after `key`, in the order `r` cycles them."""
    keys = list(RANGES)
    return keys[(keys.index(key) + 1) % len(keys)]


def _empty_part() -> dict[str, Any]:
    return {
        "cost_usd": 0.0,
        "tokens": 0,
        "calls": 0,
        "unpriced_calls": 0,
        "sessions": 0,
        **{name: {} for name in SPLITS},
        "activity": {},
        "estimated": no_counts(),
    }


def _part_of(
    day: Node, attribution: Attribution, splits: Splits, sessions: int, estimated: dict[str, Any]
) -> dict[str, Any]:
    totals = day.totals
    return {
        "cost_usd": totals.cost,
        "tokens": totals.total,
        "calls": totals.calls,
        "unpriced_calls": totals.unpriced_calls,
        "sessions": sessions,
        **{name: dict(split) for name, split in zip(SPLITS, splits, strict=True)},
        "activity": {
            name: {"tokens": tokens, "cost_usd": cost}
            for name, (tokens, cost) in attribution[day].classes().items()
        },
        "estimated": estimated,
    }


def _add_part(into: dict[str, Any], part: dict[str, Any]) -> None:
    for name in ("cost_usd", "tokens", "calls", "unpriced_calls", "sessions"):
        into[name] += part[name]
    for name in SPLITS:
        for key, cost in part[name].items():
            into[name][key] = into[name].get(key, 0.0) + cost
    for name, sums in part["activity"].items():
        summed = into["activity"].setdefault(name, {"tokens": 0, "cost_usd": 0.0})
        summed["tokens"] += sums["tokens"]
        summed["cost_usd"] += sums["cost_usd"]
    add_counts(into["estimated"], part["estimated"])


def _rounded(value: Any, places: int) -> Any:
    """Every float in a nest of dicts rounded to `places`."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {key: _rounded(item, places) for key, item in value.items()}
    return value


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^\d{4}-W\d{2}$")


def _advice_in(items: list[dict[str, Any]], first: str | None, weeks: set[str]) -> list[Any]:
    """The items whose node lies in the range: by its day, else by its week."""

    def inside(item: dict[str, Any]) -> bool:
        parts = item["node"].split("/")
        day = next((part for part in parts if _DAY.match(part)), None)
        if day is not None:
            return first is None or day >= first
        week = next((part for part in parts if _WEEK.match(part)), None)
        return week is None or week in weeks

    return [item for item in items if inside(item)]


def windows(days: dict[str, float]) -> dict[str, Any]:
    """The quick windows, counted back from the period's last day (a day with no usage is
    $0): that day, the 7 and 30 days ending on it, the peak day, and how many days had usage."""
    if not days:
        return {
            "last_day": None,
            "day_usd": 0.0,
            "week_usd": 0.0,
            "month_usd": 0.0,
            "peak_day": None,
            "peak_usd": 0.0,
            "active_days": 0,
            "span_days": 0,
        }
    last = date.fromisoformat(max(days))
    peak = max(sorted(days), key=lambda key: days[key])

    def back(count: int) -> float:
        keys = ((last - timedelta(days=offset)).isoformat() for offset in range(count))
        return round(sum(days.get(key, 0.0) for key in keys), 6)

    return {
        "last_day": last.isoformat(),
        "day_usd": back(1),
        "week_usd": back(7),
        "month_usd": back(30),
        "peak_day": peak,
        "peak_usd": round(days[peak], 6),
        "active_days": sum(1 for cost in days.values() if cost > 0),
        "span_days": (last - date.fromisoformat(min(days))).days + 1,
    }


def moving_average(values: list[float], window: int = AVERAGE_DAYS) -> list[float]:
    """Each value's trailing mean over `window` values (itself and those before it); the first
    ones average what there is, so the line starts at the first day rather than a week in."""
    averages, running = [], 0.0
    for position, value in enumerate(values):
        running += value
        if position >= window:
            running -= values[position - window]
        averages.append(running / min(position + 1, window))
    return averages


def daily_table(days: dict[str, float], count: int = TABLE_DAYS) -> list[dict[str, Any]]:
    """The last `count` days of the period (from its first day at most), each with its spend
    and the 7-day moving average; the average reaches back before the table's first row."""
    if not days:
        return []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    start = max(first, last - timedelta(days=count - 1))
    reach = max(first, start - timedelta(days=AVERAGE_DAYS - 1))
    keys = [(reach + timedelta(days=n)).isoformat() for n in range((last - reach).days + 1)]
    costs = [days.get(key, 0.0) for key in keys]
    rows = zip(keys, costs, moving_average(costs), strict=True)
    return [
        {"day": key, "cost_usd": round(cost, 6), "average_usd": round(average, 6)}
        for key, cost, average in rows
        if key >= start.isoformat()
    ]


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


def _weeks(days: dict[str, float], week_start: int, first: str | None) -> list[dict[str, Any]]:
    """Every week from the one holding `first` to the last day's (empty ones too), with its
    spend."""
    if not days:
        return []
    starts: Counter[date] = Counter()
    for key, cost in days.items():
        starts[week_of(date.fromisoformat(key), week_start)] += cost
    week, last = week_of(date.fromisoformat(first or min(days)), week_start), max(starts)
    weeks = []
    while week <= last:
        weeks.append({"week": week_key(week), "start": week.isoformat(), "cost_usd": starts[week]})
        week += timedelta(days=7)
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
