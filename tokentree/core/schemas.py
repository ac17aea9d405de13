"""The documented JSON shapes of `report --json` and `export`, as pydantic models.

The commands build plain data on their hot paths; these models are the
contract: `--schema` prints them and the tests validate every output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportTotals(_Strict):
    calls: int
    input: int
    """Uncached input tokens."""
    cache_write: int
    cache_read: int
    output: int
    """Output tokens, reasoning included."""
    reasoning: int
    total: int
    """input + cache_write + cache_read + output."""
    cost_usd: float
    """A lower bound where unpriced_calls > 0."""
    cache_hit: float | None
    """cache_read / (input + cache_write + cache_read); null when nothing was sent."""
    unpriced_calls: int
    cache_waste_usd: float = 0.0
    """Part of cost_usd: what the history sent again after cache misses cost over reading
    it from the cache."""


class ReportRow(ReportTotals):
    key: str
    label: str | None = None
    """By session: the key in words (source, project, short id, first call's local time)."""
    project: str | None = None
    """By session: its working directory."""
    start: str | None = None
    """By session: its first and last calls (ISO 8601, UTC)."""
    end: str | None = None
    plan_multiple: float | None = None
    """By month, with a plan in the config: the month's cost at API prices ÷ the plan's price."""


class ReceiptPart(_Strict):
    calls: int
    tokens: int
    """input + cache_write + cache_read + output."""
    cost_usd: float
    """A lower bound where unpriced_calls > 0."""
    unpriced_calls: int


class ReceiptRow(ReceiptPart):
    period: str
    """The day (YYYY-MM-DD), week or month."""
    source: str
    kind: Literal["exact", "estimated"]
    """Estimated: a source whose counts are estimated from text (an imported chat app)."""


class ReceiptTotals(_Strict):
    exact: ReceiptPart
    estimated: ReceiptPart


class ReceiptPeriod(ReceiptTotals):
    period: str


class Receipts(_Strict):
    group_by: Literal["day", "week", "month"]
    chars_per_token: int
    """The estimate's factor: characters of text per token."""
    rows: list[ReceiptRow]
    """One per period and source, in period order, exact sources first."""
    periods: list[ReceiptPeriod]
    totals: ReceiptTotals


class ReportDocument(_Strict):
    schema_: Literal["tokentree.report/1"] = Field(alias="schema")
    group_by: Literal["day", "week", "month", "session", "project", "model", "source"]
    timezone: str
    rows: list[ReportRow]
    totals: ReportTotals
    overview: Overview | None = None
    """Only with `--overview`."""
    receipts: Receipts | None = None
    """Only with `--receipts`: exact and estimated side by side per period and source."""
    plan: dict[str, Any] | None = None
    """By month, with `[plan]` in the config: its name and USD per month."""


class ActivityPart(_Strict):
    tokens: int
    cost_usd: float


class AdviceItem(_Strict):
    rule: str
    """The rule's id: the `[advice.<rule>]` table of config.toml that sets its thresholds."""
    title: str
    node: str
    """The path of the node the advice is about (keys joined by '/')."""
    where: str
    """The node in words: day, project, time, models."""
    message: str
    saving_usd: float
    """Estimated saving; 0 for informational rules."""
    evidence: dict[str, Any]
    """The numbers the rule fired on; `formula` shows the saving's arithmetic."""


class OverviewWeek(_Strict):
    week: str
    start: str
    cost_usd: float


class OverviewShare(_Strict):
    name: str
    cost_usd: float
    share: float


class OverviewRange(_Strict):
    key: Literal["90d", "180d", "1y", "all"]
    """`report --overview --range`, `r` in the overview screen."""
    title: str
    days: int | None
    """The range's length, counted back from the last day with usage; None for all."""
    first: str | None
    """The range's first day (the first with usage for all)."""
    last: str | None


class OverviewCounts(_Strict):
    calls: int
    tokens: int
    cost_usd: float
    unpriced_calls: int


class OverviewSideBySide(_Strict):
    """A day with estimated calls: its exact counts beside its estimated ones."""

    day: str
    exact: OverviewCounts
    estimated: OverviewCounts


class OverviewDayParts(_Strict):
    """One day's sums, from which every part of a range is summed again."""

    cost_usd: float
    tokens: int
    calls: int
    unpriced_calls: int
    sessions: int
    """Sessions that began this day (a session running over midnight counts once)."""
    by_source: dict[str, float]
    by_model: dict[str, float]
    by_project: dict[str, float]
    """Cost by source, model and project name."""
    activity: dict[str, ActivityPart]
    estimated: OverviewCounts
    """Its calls of estimated sources (chat apps imported from their exports), also counted
    in the sums above."""


class OverviewWindows(_Strict):
    last_day: str | None
    day_usd: float
    week_usd: float
    """The 7 days ending on `last_day`."""
    month_usd: float
    """The 30 days ending on `last_day`."""
    peak_day: str | None
    peak_usd: float
    active_days: int
    """Days with usage, of the `span_days` from the first to the last."""
    span_days: int


class OverviewDay(_Strict):
    day: str
    cost_usd: float
    average_usd: float
    """The mean of this day and the 6 before it ($0 for a day without usage; fewer at the
    period's start)."""


class Overview(_Strict):
    """The period at a glance (`report --overview`)."""

    start: str | None
    end: str | None
    cost_usd: float
    unpriced_calls: int
    tokens: int
    calls: int
    sessions: int
    week_start: int
    """0 = Monday … 6 = Sunday."""
    days: dict[str, float]
    """Spend per local day (YYYY-MM-DD)."""
    weeks: list[OverviewWeek]
    """Every week from the first to the last, empty ones included."""
    peak_week: str | None
    by_source: list[OverviewShare]
    by_model: list[OverviewShare]
    by_project: list[OverviewShare]
    activity: dict[str, ActivityPart]
    top_advice: list[AdviceItem]
    """Advice with a saving, biggest first."""
    notes: list[AdviceItem]
    """Informational advice (no saving claimed)."""
    advice_by_rule: list[dict[str, Any]]
    """Per rule: `rule`, `title`, how often it fired (`count`) and its `saving_usd` in all."""
    scale: dict[str, Any]
    """The token total in words and novels; `text` shows the arithmetic."""
    windows: OverviewWindows | None = None
    """Quick windows counted back from the period's last day."""
    last_days: list[OverviewDay] = []
    """The period's last 30 days (a day without usage too), with the 7-day moving average."""
    range: OverviewRange
    """Every other part covers these days only; top advice and notes are the whole period's
    that fall in them, and `advice_by_rule` is empty unless the range is all."""
    daily: dict[str, OverviewDayParts]
    """Each day of the range with usage, and its sums."""
    estimated: OverviewCounts
    """The range's calls of estimated sources (chat apps), also counted in the totals."""
    side_by_side: list[OverviewSideBySide]
    """The range's last 30 days with estimated calls, exact and estimated side by side (empty
    when it has none)."""
    filter: str
    """The view's filter (`/` in the view): the calls counted are those it matches; "" for all."""
    lead: Literal["project", "model", "source"] | None
    """The view's grouping the drivers lead with; None for a grouping by time."""


class WhatIfItem(_Strict):
    """The node's calls priced another way; a call that cannot be priced so keeps its cost."""

    way: str
    """"on claude-sonnet-4-5" (each call on the cheaper model of its family, as the
    model_choice advice names them; "on each family's cheaper model" when there are several)
    or "at standard speed" (fast-tier calls at standard rates)."""
    cost_usd: float
    actual_usd: float
    """What the priced calls cost (calls with no known price are left out of both)."""
    saving_usd: float
    """actual_usd − cost_usd."""
    kept_calls: int
    """Calls with no price the other way, counted at their own cost."""


class PlanMonth(_Strict):
    month: str
    """YYYY-MM, local: each exported day or session counts in the month it starts in."""
    cost_usd: float
    """The exported calls of that month at API prices."""
    plan_multiple: float
    """cost_usd ÷ the plan's price per month."""


class ExportPlan(_Strict):
    """With `[plan]` in the config: the exported usage against the subscription's price."""

    name: str
    usd_per_month: float
    months: list[PlanMonth]


class ExportNode(_Strict):
    kind: Literal["all", "week", "day", "session", "turn", "call"]
    key: str
    """Unique among siblings; keys joined by '/' are the node's path (`export --node`)."""
    label: str
    start: str | None
    end: str | None
    calls: int
    input: int
    cache_write: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    output: int
    reasoning: int
    total: int
    cost_usd: float
    cache_hit: float | None
    unpriced_calls: int
    lower_bound_calls: int
    estimated_calls: int
    subagent_calls: int
    source_removed_calls: int
    rewound_calls: int = 0
    """Calls undone in the chat afterwards (Gemini's rewind): counted, they were paid for."""
    fast_calls: int = 0
    """Calls billed in Claude's fast mode, at its own rates."""
    web_searches: int = 0
    """Server-side web searches, billed per search on top of the tokens (in cost_usd)."""
    source_cost_usd: float | None = None
    """The cost the assistant logged itself (OpenCode), for the calls that carry one."""
    source_cost_ours_usd: float | None = None
    """tokentree's cost of those same calls, to compare with source_cost_usd."""
    cache_waste_usd: float = 0.0
    """What the history sent again after cache misses cost over reading it from the cache
    (part of cost_usd); on a call, its own (its cause is cache_miss)."""
    sessions: int
    turns: int
    models: dict[str, int]
    source: str | None = None
    session_id: str | None = None
    project: str | None = None
    model: str | None = None
    tools: list[str] | None = None
    fidelity: Literal["exact", "lower-bound", "estimated"] | None = None
    """"estimated": the model was not logged, or its price is a guess (see price_origin)."""
    speed: str | None = None
    """"standard", or the tier the call was billed at apart ("fast": Claude's fast mode or
    Codex's Fast/priority tier; "flex")."""
    subagent: bool | None = None
    source_removed: bool | None = None
    cache_miss: str | None = None
    """Why the prompt cache missed: as Claude logged it ("tools_changed 89018": the reason,
    then its estimate of the tokens missed), else as tokentree saw it ("idle",
    "model_switch", "not_cached"); never part of the sums (cache_waste_usd is)."""
    price_origin: str | None = None
    """Where the call's rates came from: the price data, the model it was priced as, and any
    estimate made (a normalised model id, a stand-in rate); null when no price is known."""
    activity: dict[str, ActivityPart] | None = None
    """Tokens and cost per activity class (reading, editing, …); they add up to the node's."""
    advice: list[AdviceItem] | None = None
    what_if: list[WhatIfItem] | None = None
    """On the exported node and every session: its calls priced on each family's cheaper
    model and at standard speed, where either changes anything (else empty)."""
    children: list[ExportNode]


class ExportDocument(_Strict):
    schema_: Literal["tokentree.export/1"] = Field(alias="schema")
    generated_at: str
    timezone: str
    node_path: str
    root: ExportNode
    plan: ExportPlan | None = None
