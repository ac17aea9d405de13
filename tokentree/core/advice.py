"""Evidence-based advice: rules that fire only on numbers in the logs, with the saving's arithmetic.

Every rule names the node it is about, states its evidence in numbers and, where
it can, estimates what a different habit would have saved, with the formula in
`evidence["formula"]`. Each rule's thresholds live in the config file under
`[advice.<rule>]`; the docstring of its settings class is the explanation the help
screen shows. Rules read metadata only: token counts, costs, times, tool labels.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokentree import format as fmt
from tokentree.core.attribution import (
    Attribution,
    activity_of,
    is_compaction,
    mechanical,
    tool_bucket,
    turn_calls,
)
from tokentree.core.pricing import PER_MILLION, PriceBook, Rates
from tokentree.core.records import ApiCall, Tokens
from tokentree.core.tree import Kind, Node, short_model

# --- settings: one class per rule; its docstring is the rule's explanation -----------------


@dataclass(frozen=True)
class ContextCompounding:
    """A session whose later calls re-send a large context: every call pays to read the whole
    history again. Once the context passes `min_context` tokens, each further call re-reads
    about that much until the session ends or is compacted. Saving if the session had been
    split after the turn where it crossed, with a `handoff_tokens` summary: Σ over later calls
    of min(cache read, context at the split − handoff) × cache-read rate, minus writing the
    handoff once."""

    enabled: bool = True
    min_context: int = 100_000
    """Prompt size (tokens) from which carrying the history counts as compounding."""
    min_calls: int = 10
    """Calls after the split needed before the rule fires."""
    handoff_tokens: int = 4_000
    """Size of the summary a fresh session would start from."""


@dataclass(frozen=True)
class CacheRebuilt:
    """Calls after an idle gap longer than the cache lifetime (5 minutes, or 1 hour once the
    session writes 1-hour cache) that wrote the whole history to the cache again. Saving if the
    cache had still been warm: Σ rebuilt tokens × (cache-write rate − cache-read rate), where
    rebuilt = min(cache write, the previous call's prompt)."""

    enabled: bool = True
    min_tokens: int = 5_000
    """Cache writes smaller than this after a gap are not counted as a rebuild."""
    min_rebuilds: int = 1


@dataclass(frozen=True)
class LowCacheHit:
    """A session whose cache hit rate on a model is well below your own median for that source
    and model. Saving if it had hit at the median: (median − hit) × its prompt tokens ×
    (its average uncached/write rate − cache-read rate)."""

    enabled: bool = True
    margin: float = 0.20
    """How far below the median (as a fraction, 0.20 = 20 points) a session must be."""
    min_prompt: int = 100_000
    """Prompt tokens a session needs on a model to count, in the median and for the rule."""
    min_calls: int = 10
    """Calls a session needs on a model to count: short sessions always start cold."""
    min_sessions: int = 5
    """Sessions on a source and model needed for a median."""


@dataclass(frozen=True)
class RepeatedReads:
    """The same file (by basename) read again and again within a session, or in many sessions
    of one project. Every re-read is a round trip that re-sends the whole context. Saving: the
    re-reads' share of the calls that requested them (call cost ÷ tools in the call); across
    sessions, the reads in every session but one (a note in CLAUDE.md/AGENTS.md instead)."""

    enabled: bool = True
    min_reads: int = 4
    """Reads of one file in one session before it counts as repeated."""
    min_sessions: int = 5
    """Sessions of one project reading the same file before it counts across sessions."""
    top_files: int = 3
    """Files a note would cover: the saving counts the most-read few, not all of them."""


@dataclass(frozen=True)
class OversizedTurns:
    """The biggest turns of the period, far above your median turn, and what dominated them
    (activity, token kind, context size). Informational: no saving is claimed; the session's
    other advice says what would have helped."""

    enabled: bool = True
    top: int = 3
    """How many of the biggest turns to name."""
    min_factor: float = 10.0
    """A turn must cost at least this many times the median turn."""
    min_turns: int = 20
    """Turns the period needs for its median to mean something."""


@dataclass(frozen=True)
class Concentration:
    """One session or project taking an outsized share of a period's spend (the whole range, and
    each week). Informational: where the money went, and how much advice inside it saves."""

    enabled: bool = True
    session_share: float = 0.30
    project_share: float = 0.60
    min_sessions: int = 5
    """Sessions a period needs before one of them can be outsized."""


@dataclass(frozen=True)
class ModelChoice:
    """Long loops of mechanical calls (only reading, running commands, tests or git) on the most
    expensive model of a family. Saving if the same tokens had gone to the cheaper model in
    `alternatives` (the first key contained in the model's name): Σ (cost − cost on the
    alternative) − rewriting the cache once per loop on the alternative."""

    enabled: bool = True
    min_run: int = 8
    """Consecutive mechanical calls in one turn that make a loop."""
    alternatives: dict[str, str] = field(
        default_factory=lambda: {
            "opus": "claude-sonnet-4-5",
            "gpt-5.1-codex-max": "gpt-5.1-codex-mini",
            "gpt-5.2-codex": "gpt-5.1-codex-mini",
            "gpt-5.1-codex": "gpt-5.1-codex-mini",
            "gpt-5-codex": "gpt-5.1-codex-mini",
            "gemini-2.5-pro": "gemini-2.5-flash",
            "gemini-3-pro": "gemini-2.5-flash",
        }
    )
    """Part of a model name → the cheaper model of its family to compare with."""


@dataclass(frozen=True)
class SubagentShare:
    """Sub-agents making a large share of the period's spend. Saving if those that ran on an
    expensive model had run on its alternative (see model_choice): Σ (cost − cost on the
    alternative)."""

    enabled: bool = True
    min_share: float = 0.30


@dataclass(frozen=True)
class CompactionShare:
    """Compaction calls (each re-reads the whole conversation to summarise it) making a notable
    share of the period's spend. Informational: the sessions that needed compaction are the long
    ones; see context compounding for what splitting them would save."""

    enabled: bool = True
    min_share: float = 0.05


@dataclass(frozen=True)
class FastMode:
    """Calls made in Claude's fast mode, billed at its higher rates. Saving if the same tokens
    had gone at the standard speed: Σ (cost − the same tokens at standard rates)."""

    enabled: bool = True


@dataclass(frozen=True)
class AdviceSettings:
    """`[advice]` in config.toml: global floors, then one table per rule."""

    min_saving_usd: float = 0.05
    """A rule with a saving fires only if the saving is at least this many dollars…"""
    min_saving_share: float = 0.05
    """…and at least this share of the cost of the node it is about."""
    context_compounding: ContextCompounding = field(default_factory=ContextCompounding)
    cache_rebuilt: CacheRebuilt = field(default_factory=CacheRebuilt)
    low_cache_hit: LowCacheHit = field(default_factory=LowCacheHit)
    repeated_reads: RepeatedReads = field(default_factory=RepeatedReads)
    oversized_turns: OversizedTurns = field(default_factory=OversizedTurns)
    concentration: Concentration = field(default_factory=Concentration)
    model_choice: ModelChoice = field(default_factory=ModelChoice)
    subagent_share: SubagentShare = field(default_factory=SubagentShare)
    compaction_share: CompactionShare = field(default_factory=CompactionShare)
    fast_mode: FastMode = field(default_factory=FastMode)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    settings: type

    @property
    def explanation(self) -> str:
        """The settings class's docstring as one paragraph, for the help screen."""
        return " ".join((self.settings.__doc__ or "").split())


RULES = {
    rule.id: rule
    for rule in (
        Rule("context_compounding", "Context compounding", ContextCompounding),
        Rule("cache_rebuilt", "Cache rebuilt after idle", CacheRebuilt),
        Rule("low_cache_hit", "Low cache hit rate", LowCacheHit),
        Rule("repeated_reads", "Same file read again and again", RepeatedReads),
        Rule("model_choice", "Mechanical loops on the priciest model", ModelChoice),
        Rule("subagent_share", "Sub-agent share of spend", SubagentShare),
        Rule("oversized_turns", "Oversized turn", OversizedTurns),
        Rule("concentration", "Concentrated spend", Concentration),
        Rule("compaction_share", "Compaction share of spend", CompactionShare),
        Rule("fast_mode", "Fast mode", FastMode),
    )
}


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Advice:
    """One piece of advice about one node; `evidence["formula"]` shows the saving's arithmetic."""

    rule: str
    node: Node
    path: str
    where: str
    message: str
    saving_usd: float
    evidence: dict[str, Any]

    @property
    def title(self) -> str:
        return RULES[self.rule].title

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "node": self.path,
            "where": self.where,
            "message": self.message,
            "saving_usd": round(self.saving_usd, 6),
            "evidence": self.evidence,
        }


@dataclass(slots=True)
class AdviceReport:
    """Every piece of advice for a tree, biggest saving first, and the advice of each node."""

    items: list[Advice] = field(default_factory=list)
    _by_node: dict[Node, list[Advice]] = field(default_factory=dict)

    def for_node(self, node: Node) -> list[Advice]:
        return self._by_node.get(node, [])

    def top(self, count: int) -> list[Advice]:
        """The advice with a saving, biggest first."""
        return [item for item in self.items if item.saving_usd > 0][:count]

    def marks(self, node: Node) -> dict[str, str]:
        """A short flag per child row of `node` (by key) that advice is about, for a list view:
        "◆ cache rebuilt after 14 min idle" on a turn, "▲ 44% in one session" on a week."""
        found: dict[str, list[str]] = defaultdict(list)
        for item in self.for_node(node):  # session advice that points at some of its turns
            if item.rule == "cache_rebuilt":
                for rebuild in item.evidence["rebuilds"]:
                    gap = rebuild["gap_minutes"]
                    found[rebuild["turn"]].append(f"◆ cache rebuilt after {gap:.0f} min idle")
            elif item.rule == "context_compounding":
                context = fmt.tokens(item.evidence["context_at_split"])
                found[item.evidence["split_after_turn"]].append(f"◆ split here: context {context}")
        for child in node.children if node.kind is not Kind.TURN else ():
            for item in self.for_node(child):
                if item.rule == "concentration" and "session" in item.evidence:
                    found[child.key].append(f"▲ {item.evidence['share']:.0%} in one session")
                elif item.rule == "oversized_turns":
                    found[child.key].append(f"◆ {item.evidence['factor']:.0f}× the median turn")
                elif item.saving_usd > 0:
                    found[child.key].append(f"◆ {item.title.lower()} ≈ ${item.saving_usd:,.2f}")
        return {key: " · ".join(texts) for key, texts in found.items()}

    def _add(self, item: Advice) -> None:
        self.items.append(item)
        self._by_node.setdefault(item.node, []).append(item)


# --- the engine ------------------------------------------------------------------------------


class Place(NamedTuple):
    """The node advice is about: the node, its path below the analysed root, and in words."""

    node: Node
    path: str
    where: str


@dataclass(slots=True)
class _Session:
    """A session node with its calls gathered once for every rule."""

    place: Place
    node: Node
    turns: list[Node]
    calls: list[tuple[Node, ApiCall]]
    main: list[tuple[Node, ApiCall]]
    reads: dict[str, list[float]]
    """Basename → the round-trip share (call cost ÷ tools) of each read of it."""


def _session(node: Node, path: str, where: str) -> _Session:
    turns = list(node.children)
    calls = [(turn, call) for turn in turns for call in turn_calls(turn)]
    main = [item for item in calls if not item[1].subagent]
    reads: dict[str, list[float]] = {}
    for _, call in calls:
        tools = call.tools
        if tools:
            for name in _file_reads(tools):
                reads.setdefault(name, []).append(call.cost / len(tools))
    return _Session(Place(node, path, where), node, turns, calls, main, reads)


def advise(
    root: Node,
    prices: PriceBook,
    settings: AdviceSettings | None = None,
    attribution: Attribution | None = None,
    base_path: str = "",
) -> AdviceReport:
    """Run every enabled rule on the tree below `root` (a period, a week, a day or a session).

    Paths in the advice are `base_path` + the node's keys below `root`.
    """
    engine = _Engine(root, prices, settings or AdviceSettings(), attribution, base_path)
    return engine.run()


class _Engine:
    def __init__(
        self,
        root: Node,
        prices: PriceBook,
        settings: AdviceSettings,
        attribution: Attribution | None,
        base_path: str,
    ) -> None:
        self.root = root
        self.prices = prices
        self.settings = settings
        self.attribution = attribution
        self.report = AdviceReport()
        self.sessions = list(self._sessions(root, base_path, ""))
        self._alternatives: dict[str, str | None] = {}
        self.base_path = base_path
        self.place = Place(root, base_path, root.label)

    def run(self) -> AdviceReport:
        s = self.settings
        session_rules: list[tuple[bool, Callable[[_Session], None]]] = [
            (s.context_compounding.enabled, self.context_compounding),
            (s.cache_rebuilt.enabled, self.cache_rebuilt),
            (s.repeated_reads.enabled, self.repeated_reads),
            (s.model_choice.enabled, self.model_choice),
        ]
        for session in self.sessions:
            for enabled, rule in session_rules:
                if enabled:
                    rule(session)
        if s.low_cache_hit.enabled:
            self.low_cache_hit()
        if s.repeated_reads.enabled:
            self.repeated_reads_across_sessions()
        if s.subagent_share.enabled:
            self.subagent_share()
        if s.compaction_share.enabled:
            self.compaction_share()
        if s.fast_mode.enabled:
            self.fast_mode()
        if s.oversized_turns.enabled:
            self.oversized_turns()
        if s.concentration.enabled:
            self.concentration()
        self.report.items.sort(key=lambda item: (-item.saving_usd, item.path, item.rule))
        return self.report

    # -- helpers --

    def _sessions(self, node: Node, path: str, day: str) -> Iterator[_Session]:
        if node.kind is Kind.SESSION:
            yield _session(node, path, f"{day} · {node.label}" if day else node.label)
        elif node.kind in (Kind.ALL, Kind.WEEK, Kind.DAY):
            day = node.label if node.kind is Kind.DAY else day
            for child in node.children:
                yield from self._sessions(child, _join(path, child.key), day)

    def rates(self, call: ApiCall, model: str | None = None) -> Rates | None:
        """The rates of the call's day (for its prompt size), for its model and speed or for
        another model at the standard speed."""
        if model is None:
            found = self.prices.rates_for(call.model, call.source, call.timestamp, call.speed)
        else:
            found = self.prices.rates_for(model, call.source, call.timestamp)
        if found is None or found.tier is None:
            return found
        return found.for_prompt(_prompt(call.tokens))

    def _calls(self) -> Iterator[ApiCall]:
        return (call for session in self.sessions for _, call in session.calls)

    def alternative(self, model: str) -> str | None:
        """The cheaper model of the same family to compare with, if there is one."""
        if model not in self._alternatives:
            lowered, found = model.lower(), None
            for part, other in self.settings.model_choice.alternatives.items():
                if part.lower() in lowered:
                    found = None if other.lower() == lowered else other
                    break
            self._alternatives[model] = found
        return self._alternatives[model]

    def emit(
        self,
        rule: str,
        place: Place,
        message: str,
        evidence: dict[str, Any],
        saving: float | None = None,
        cost_base: float | None = None,
    ) -> bool:
        """Add the advice if its saving clears the global floors; `saving=None` is informational.

        The share floor is of the node's cost, or of `cost_base` (a project's) when given.
        """
        if saving is None:
            saving = 0.0
            evidence.setdefault("formula", _NO_SAVING)
        else:
            base = place.node.totals.cost if cost_base is None else cost_base
            floor = max(self.settings.min_saving_usd, self.settings.min_saving_share * base)
            if saving < floor or saving <= 0:
                return False
        node, path, where = place
        self.report._add(Advice(rule, node, path, where, message, saving, evidence))
        return True

    # -- session rules --

    def context_compounding(self, session: _Session) -> None:
        s = self.settings.context_compounding
        main = session.main
        if session.node.totals.calls < s.min_calls:
            return
        prompts = [_prompt(call.tokens) for _, call in main]
        first = next((i for i, prompt in enumerate(prompts) if prompt >= s.min_context), None)
        if first is None:
            return
        split_turn = main[first][0]
        end = first
        while end < len(main) and main[end][0] is split_turn:
            end += 1
        later = main[end:]
        if len(later) < s.min_calls:
            return
        at_split = max(prompts[:end])
        keep = at_split - s.handoff_tokens
        if keep <= 0:
            return
        avoided = read_cost = 0.0
        for _, call in later:
            rates = self.rates(call)
            if rates is None:
                continue
            tokens = min(call.tokens.cache_read, keep)
            avoided += tokens
            read_cost += tokens * rates.cache_read / PER_MILLION
        first_rates = self.rates(later[0][1])
        write_rate = first_rates.cache_write_5m if first_rates else 0.0
        handoff = s.handoff_tokens * write_rate / PER_MILLION
        saving = read_cost - handoff
        if avoided <= 0:
            return
        carried = [call.tokens.cache_read for _, call in later]
        peak = max(prompts[end:])
        median = _median(carried)
        read_rate = read_cost / avoided * PER_MILLION
        turn = split_turn.key
        formula = (
            f"Σ over {len(later)} calls after turn #{turn} of min(cache read, "
            f"{fmt.tokens(at_split)} − {fmt.tokens(s.handoff_tokens)}) = "
            f"{fmt.tokens(avoided)} tok × ${read_rate:.2f}/M (cache read) − "
            f"{fmt.tokens(s.handoff_tokens)} handoff × ${write_rate:.2f}/M (cache write) "
            f"= ${saving:,.2f}"
        )
        message = (
            f"after turn #{turn} the context passed {fmt.tokens(s.min_context)}; the "
            f"{len(later)} calls after it re-sent a median {fmt.tokens(median)} tokens of history "
            f"(peak context {fmt.tokens(peak)}). Splitting after #{turn} with a "
            f"{fmt.tokens(s.handoff_tokens)}-token handoff would have saved ≈ ${saving:,.2f}."
        )
        evidence = {
            "split_after_turn": turn,
            "context_at_split": at_split,
            "calls_after_split": len(later),
            "median_carried": int(median),
            "peak_context": peak,
            "avoidable_tokens": int(avoided),
            "cache_read_rate": round(read_rate, 6),
            "handoff_tokens": s.handoff_tokens,
            "formula": formula,
        }
        self.emit("context_compounding", session.place, message, evidence, saving)

    def cache_rebuilt(self, session: _Session) -> None:
        s = self.settings.cache_rebuilt
        ttl = 300
        rebuilds: list[dict[str, Any]] = []
        tokens = fresh_cost = saving = 0.0
        previous: ApiCall | None = None
        for turn, call in session.main:
            if previous is not None and call.timestamp - previous.timestamp > ttl:
                gap = call.timestamp - previous.timestamp
                t = call.tokens
                before = _prompt(previous.tokens)
                rebuilt = min(t.input + t.cache_write, before)
                if (
                    rebuilt >= s.min_tokens
                    and t.cache_read < before / 2
                    and (rates := self.rates(call)) is not None
                ):
                    fresh_rate = _fresh_rate(t, rates)
                    tokens += rebuilt
                    fresh_cost += rebuilt * fresh_rate / PER_MILLION
                    saving += rebuilt * (fresh_rate - rates.cache_read) / PER_MILLION
                    rebuilds.append(
                        {
                            "turn": turn.key,
                            "gap_minutes": round(gap / 60, 1),
                            "cache_lifetime_minutes": ttl // 60,
                            "tokens": rebuilt,
                        }
                    )
            if call.tokens.cache_write_1h:
                ttl = 3600
            previous = call
        if len(rebuilds) < max(1, s.min_rebuilds):
            return
        gaps = [item["gap_minutes"] for item in rebuilds]
        short_lived = [item for item in rebuilds if item["cache_lifetime_minutes"] == 5]
        lifetime = "5 min" if short_lived else "1 h"
        fresh_rate = fresh_cost / tokens * PER_MILLION
        read_rate = (fresh_cost - saving) / tokens * PER_MILLION
        within_hour = sum(1 for item in short_lived if item["gap_minutes"] <= 60)
        remedy = (
            "1-hour caching or shorter pauses"
            if within_hour and session.node.source == "claude-code"
            else "shorter pauses (or a fresh session with a handoff)"
        )
        gap_text = (
            f"{min(gaps):.0f} min" if len(gaps) == 1 else f"{min(gaps):.0f}–{max(gaps):.0f} min"
        )
        gaps_text = "an idle gap" if len(rebuilds) == 1 else "idle gaps"
        message = (
            f"cache rebuilt {_times(len(rebuilds))} after {gaps_text} > {lifetime} ({gap_text}): "
            f"sending {fmt.tokens(tokens)} tokens of history again without the cache cost "
            f"${fresh_cost:,.2f}. {remedy.capitalize()} would have saved ≈ ${saving:,.2f}."
        )
        formula = (
            f"Σ over {len(rebuilds)} rebuild{'s' if len(rebuilds) > 1 else ''} of "
            f"min(uncached input + cache write, previous prompt) = {fmt.tokens(tokens)} tok × "
            f"(${fresh_rate:.2f} − ${read_rate:.2f})/M (write or uncached − cache read) "
            f"= ${saving:,.2f}"
        )
        evidence = {
            "rebuilds": rebuilds,
            "rebuilt_tokens": int(tokens),
            "rebuild_cost_usd": round(fresh_cost, 6),
            "gaps_within_an_hour": within_hour,
            "formula": formula,
        }
        self.emit("cache_rebuilt", session.place, message, evidence, saving)

    def repeated_reads(self, session: _Session) -> None:
        s = self.settings.repeated_reads
        repeated = {
            name: shares for name, shares in session.reads.items() if len(shares) >= s.min_reads
        }
        if not repeated:
            return
        ranked = sorted(repeated.items(), key=lambda item: (-len(item[1]), item[0]))
        rereads = sum(len(shares) - 1 for shares in repeated.values())
        saving = sum(sum(shares[1:]) for shares in repeated.values())
        files = ", ".join(f"{name} {len(shares)}×" for name, shares in ranked[:3])
        more = f" and {len(ranked) - 3} more" if len(ranked) > 3 else ""
        message = (
            f"files read again and again: {files}{more}. Each re-read is a round trip that "
            f"re-sends the whole context; the {rereads} re-reads' share of their calls cost "
            f"≈ ${saving:,.2f}."
        )
        formula = (
            f"Σ over {rereads} re-reads (every read of a file but its first) of "
            f"call cost ÷ tools in the call = ${saving:,.2f}"
        )
        evidence = {
            "scope": "session",
            "files": {name: len(shares) for name, shares in ranked},
            "rereads": rereads,
            "formula": formula,
        }
        self.emit("repeated_reads", session.place, message, evidence, saving)

    def model_choice(self, session: _Session) -> None:
        s = self.settings.model_choice
        if not any(self.alternative(model) for model in session.node.models):
            return
        alternative = self.alternative
        runs: list[list[ApiCall]] = []
        current: list[ApiCall] = []
        current_turn: Node | None = None
        for turn, call in session.main:  # main-thread calls: neither sub-agent nor compaction
            tools = call.tools
            candidate = bool(tools) and mechanical(tools) and alternative(call.model) is not None
            if turn is not current_turn or not candidate:
                if len(current) >= s.min_run:
                    runs.append(current)
                current, current_turn = [], turn
            if candidate:
                current.append(call)
        if len(current) >= s.min_run:
            runs.append(current)
        if not runs:
            return
        actual = cheaper = switch = 0.0
        models: Counter[str] = Counter()
        alternatives: Counter[str] = Counter()
        calls = 0
        for run in runs:
            run_cheaper = 0.0
            priced = True
            for call in run:
                alt = self.alternative(call.model)
                rates = self.rates(call, alt) if alt else None
                if rates is None or call.unpriced:
                    priced = False
                    break
                run_cheaper += rates.cost(call.tokens)
            if not priced:
                continue
            first = run[0]
            first_rates = self.rates(first, self.alternative(first.model))
            assert first_rates is not None
            actual += sum(call.cost for call in run)
            cheaper += run_cheaper
            switch += (
                _prompt(first.tokens)
                * (first_rates.cache_write_5m - first_rates.cache_read)
                / PER_MILLION
            )
            calls += len(run)
            models.update(call.model for call in run)
            alternatives[self.alternative(first.model) or ""] += len(run)
        saving = actual - cheaper - switch
        if calls == 0 or saving <= 0:
            return
        model = short_model(models.most_common(1)[0][0])
        alt_model = short_model(alternatives.most_common(1)[0][0])
        message = (
            f"{len(runs)} loop{'s' if len(runs) > 1 else ''} of ≥ {s.min_run} mechanical calls "
            f"(only reading, commands, tests or git; {calls} calls in all) ran on {model}: "
            f"${actual:,.2f}. The same tokens on {alt_model} would have cost ${cheaper:,.2f}, "
            f"≈ ${saving:,.2f} less after re-writing the cache once per loop."
        )
        formula = (
            f"${actual:,.2f} on {model} − ${cheaper:,.2f} for the same tokens on {alt_model} − "
            f"${switch:,.2f} to write each loop's first prompt to {alt_model}'s cache "
            f"= ${saving:,.2f}"
        )
        evidence = {
            "loops": len(runs),
            "calls": calls,
            "model": models.most_common(1)[0][0],
            "alternative": alternatives.most_common(1)[0][0],
            "cost_usd": round(actual, 6),
            "alternative_cost_usd": round(cheaper, 6),
            "switch_cost_usd": round(switch, 6),
            "formula": formula,
        }
        self.emit("model_choice", session.place, message, evidence, saving)

    # -- period rules --

    def low_cache_hit(self) -> None:
        s = self.settings.low_cache_hit
        per: dict[tuple[str, str], list[tuple[_Session, _Usage]]] = defaultdict(list)
        for session in self.sessions:
            # token sums per (source, model, day, long-context tier): priced once per group
            groups: dict[tuple[str, str, int, bool], list[int]] = {}
            for _, call in session.calls:
                fresh, write_5m, write_1h, read = call.tokens[:4]
                prompt = fresh + write_5m + write_1h + read
                key = (call.source, call.model, int(call.timestamp // 86_400), prompt > 200_000)
                sums = groups.get(key)
                if sums is None:
                    sums = groups[key] = [0, 0, 0, 0, 0]
                sums[0] += 1
                sums[1] += fresh
                sums[2] += write_5m
                sums[3] += write_1h
                sums[4] += read
            usage: dict[tuple[str, str], _Usage] = {}
            for (source, model, day, long), sums in groups.items():
                found = usage.get((source, model))
                if found is None:
                    found = usage[(source, model)] = _Usage()
                rates = self.prices.rates_on((model, source, day, ""))
                found.add(sums, rates.for_prompt(200_001 if long else 0) if rates else None)
            for key, found in usage.items():
                if found.prompt >= s.min_prompt and found.calls >= s.min_calls:
                    per[key].append((session, found))
        for (source, model), entries in per.items():
            if len(entries) < s.min_sessions:
                continue
            median = _median(found.hit for _, found in entries)
            for session, found in entries:
                if found.hit >= median - s.margin or not found.priced_prompt:
                    continue
                shift = (median - found.hit) * found.prompt
                fresh_rate, read_rate = found.fresh_rate, found.read_rate
                saving = shift * (fresh_rate - read_rate) / PER_MILLION
                message = (
                    f"cache hit {found.hit:.1%} on {short_model(model)}, against your median "
                    f"{median:.1%} for {source} + {short_model(model)} ({len(entries)} sessions): "
                    f"{fmt.tokens(shift)} more tokens were sent uncached or re-written. At your "
                    f"median it would have cost ≈ ${saving:,.2f} less."
                )
                formula = (
                    f"({median:.1%} − {found.hit:.1%}) × {fmt.tokens(found.prompt)} prompt tok = "
                    f"{fmt.tokens(shift)} tok × (${fresh_rate:.2f} − ${read_rate:.2f})/M "
                    f"(uncached/write − cache read) = ${saving:,.2f}"
                )
                evidence = {
                    "source": source,
                    "model": model,
                    "cache_hit": round(found.hit, 6),
                    "median_cache_hit": round(median, 6),
                    "sessions_in_median": len(entries),
                    "prompt_tokens": found.prompt,
                    "formula": formula,
                }
                self.emit("low_cache_hit", session.place, message, evidence, saving)

    def repeated_reads_across_sessions(self) -> None:
        s = self.settings.repeated_reads
        # project → file → session → the round-trip share of its first read there
        seen: dict[str, dict[str, dict[tuple[str, str], float]]] = defaultdict(dict)
        spent: Counter[str] = Counter()
        for session in self.sessions:
            node = session.node
            key = (node.source, node.session_id)
            spent[node.project] += node.totals.cost
            files = seen[node.project]
            for name, shares in session.reads.items():
                files.setdefault(name, {}).setdefault(key, shares[0])
        for project, files in sorted(seen.items()):
            wide = {
                name: sessions
                for name, sessions in files.items()
                if len(sessions) >= s.min_sessions
            }
            if not wide:
                continue
            ranked = sorted(wide.items(), key=lambda item: (-len(item[1]), item[0]))
            noted = ranked[: s.top_files]  # a short note covers a few files, not dozens
            saving = 0.0
            for _, sessions in noted:
                firsts = sorted(sessions.values(), reverse=True)
                saving += sum(firsts[1:])
            name = project.rstrip("/").rsplit("/", 1)[-1] or "(no project)"
            files_text = ", ".join(f"{file} in {len(sessions)}" for file, sessions in noted)
            more = len(ranked) - len(noted)
            more_text = f"; {more} more files in ≥ {s.min_sessions}" if more else ""
            message = (
                f"the same files are read in session after session ({files_text} sessions"
                f"{more_text}). A short note on them in CLAUDE.md / AGENTS.md would spare those "
                f"round trips: ≈ ${saving:,.2f}."
            )
            formula = (
                f"Σ over the {len(noted)} most-read files of the first read's share of its call "
                f"(call cost ÷ tools) in every session but the costliest = ${saving:,.2f}"
            )
            evidence = {
                "scope": "project",
                "project": project,
                "files": {file: len(sessions) for file, sessions in noted},
                "more_files": more,
                "formula": formula,
            }
            place = Place(self.root, self.base_path, f"{self.root.label} · project {name}")
            self.emit("repeated_reads", place, message, evidence, saving, spent[project])

    def subagent_share(self) -> None:
        s = self.settings.subagent_share
        total = self.root.totals.cost
        if total <= 0:
            return
        cost = saving = 0.0
        calls = 0
        models: Counter[str] = Counter()
        alternative: Counter[str] = Counter()
        if not self.root.totals.subagent_calls:
            return
        for call in self._calls():
            if not call.subagent or is_compaction(call):
                continue
            cost += call.cost
            calls += 1
            models[call.model] += 1
            alt = self.alternative(call.model)
            rates = self.rates(call, alt) if alt else None
            if rates is not None and not call.unpriced:
                saving += max(0.0, call.cost - rates.cost(call.tokens))
                alternative[alt or ""] += 1
        share = cost / total
        if share < s.min_share:
            return
        top_model, top_calls = models.most_common(1)[0]
        message = (
            f"sub-agents made {share:.0%} of the spend (${cost:,.2f} of ${total:,.2f}, "
            f"{calls:,} calls, {top_calls / calls:.0%} on {short_model(top_model)})."
        )
        evidence = {
            "share": round(share, 6),
            "cost_usd": round(cost, 6),
            "calls": calls,
            "models": dict(models.most_common()),
        }
        if alternative:
            alt_model = short_model(alternative.most_common(1)[0][0])
            advice = (
                f" Running them on {alt_model} (the agent's `model` setting) would have saved "
                f"≈ ${saving:,.2f}."
            )
            formula = (
                f"Σ over {sum(alternative.values())} sub-agent calls on a model with a cheaper "
                f"alternative of (cost − the same tokens on {alt_model}) = ${saving:,.2f}"
            )
            proof = evidence | {"formula": formula}
            if self.emit("subagent_share", self.place, message + advice, proof, saving):
                return
        self.emit("subagent_share", self.place, message, evidence)

    def fast_mode(self) -> None:
        if not self.root.totals.fast_calls:
            return
        cost = standard = 0.0
        calls = 0
        models: Counter[str] = Counter()
        for call in self._calls():
            rates = self.rates(call, call.model) if call.speed == "fast" else None
            if rates is None or call.unpriced:
                continue
            calls += 1
            cost += call.cost
            standard += rates.cost(call.tokens)
            models[call.model] += 1
        saving = cost - standard
        if not calls:
            return
        message = (
            f"{calls:,} calls ran in fast mode for ${cost:,.2f}; at the standard speed the same "
            f"tokens cost ${standard:,.2f}. Keep fast mode for the work that needs the speed: "
            f"≈ ${saving:,.2f} saved."
        )
        formula = (
            f"Σ over {calls:,} fast-mode calls of (cost − the same tokens at standard rates) = "
            f"${cost:,.2f} − ${standard:,.2f} = ${saving:,.2f}"
        )
        evidence = {
            "calls": calls,
            "cost_usd": round(cost, 6),
            "standard_cost_usd": round(standard, 6),
            "models": dict(models.most_common()),
            "formula": formula,
        }
        self.emit("fast_mode", self.place, message, evidence, saving)

    def compaction_share(self) -> None:
        s = self.settings.compaction_share
        total = self.root.totals.cost
        if not self.root.totals.subagent_calls:  # compaction calls are sidechain calls
            return
        compactions = [call for call in self._calls() if call.subagent and is_compaction(call)]
        cost = sum(call.cost for call in compactions)
        if total <= 0 or not compactions or cost / total < s.min_share:
            return
        size = _median(_prompt(call.tokens) for call in compactions)
        message = (
            f"compaction took {cost / total:.0%} of the spend (${cost:,.2f}, {len(compactions)} "
            f"compactions, each re-reading a median {fmt.tokens(size)} tokens to summarise them). "
            "Sessions split before they fill up need no compaction."
        )
        evidence = {
            "share": round(cost / total, 6),
            "cost_usd": round(cost, 6),
            "compactions": len(compactions),
            "median_context": int(size),
        }
        self.emit("compaction_share", self.place, message, evidence)

    def oversized_turns(self) -> None:
        s = self.settings.oversized_turns
        turns = [(session, turn) for session in self.sessions for turn in session.turns]
        if len(turns) < s.min_turns:
            return
        median = _median(turn.totals.cost for _, turn in turns)
        if median <= 0:
            return
        ranked = sorted(turns, key=lambda item: -item[1].totals.cost)[: s.top]
        for session, turn in ranked:
            cost = turn.totals.cost
            if cost < s.min_factor * median:
                break
            calls = turn_calls(turn)
            activity = self.attribution[turn] if self.attribution else activity_of(turn)
            dominant = activity.dominant() or "conversation"
            share = activity.classes()[dominant][1] / cost
            kinds = self._cost_by_kind(calls)
            kind, kind_cost = max(kinds.items(), key=lambda item: item[1])
            tools = Counter(label.split(" ", 1)[0] for call in calls for label in call.tools)
            tools_text = " ".join(f"{name}×{count}" for name, count in tools.most_common(3))
            peak = max(_prompt(call.tokens) for call in calls)
            message = (
                f"turn #{turn.key} cost ${cost:,.2f}, {cost / median:.0f}× your median turn "
                f"(${median:,.2f}): {len(calls)} calls, {dominant} {share:.0%} of it"
                + (f" ({tools_text})" if tools_text else "")
                + f"; {kind.replace('_', ' ')} made {kind_cost / cost:.0%} of the cost, "
                f"context up to {fmt.tokens(peak)}."
            )
            evidence = {
                "cost_usd": round(cost, 6),
                "median_turn_usd": round(median, 6),
                "factor": round(cost / median, 2),
                "calls": len(calls),
                "dominant_activity": dominant,
                "dominant_share": round(share, 6),
                "cost_by_kind": {name: round(value, 6) for name, value in kinds.items()},
                "peak_context": peak,
            }
            place = Place(
                turn,
                _join(session.place.path, turn.key),
                f"{session.place.where} · turn #{turn.key}",
            )
            self.emit("oversized_turns", place, message, evidence)

    def _cost_by_kind(self, calls: Iterable[ApiCall]) -> dict[str, float]:
        kinds = dict.fromkeys(("input", "cache_write", "cache_read", "output"), 0.0)
        for call in calls:
            rates = self.rates(call)
            if rates is None:
                continue
            t = call.tokens
            kinds["input"] += t.input * rates.input / PER_MILLION
            kinds["cache_write"] += (
                t.cache_write_5m * rates.cache_write_5m + t.cache_write_1h * rates.cache_write_1h
            ) / PER_MILLION
            kinds["cache_read"] += t.cache_read * rates.cache_read / PER_MILLION
            kinds["output"] += t.output * rates.output / PER_MILLION
        return kinds

    def concentration(self) -> None:
        periods: list[tuple[Node, str, list[_Session]]] = []
        if self.root.kind in (Kind.ALL, Kind.WEEK):
            periods.append((self.root, self.base_path, self.sessions))
        if self.root.kind is Kind.ALL and len(self.root.children) > 1:
            for week in self.root.children:
                path = _join(self.base_path, week.key)
                inside = [
                    session
                    for session in self.sessions
                    if session.place.path.startswith(path + "/")
                ]
                periods.append((week, path, inside))
        for period, path, sessions in periods:
            self._concentration(period, path, sessions)

    def _concentration(self, period: Node, path: str, sessions: list[_Session]) -> None:
        s = self.settings.concentration
        total = period.totals.cost
        by_session: dict[tuple[str, str], list[_Session]] = defaultdict(list)
        by_project: Counter[str] = Counter()
        for session in sessions:
            by_session[(session.node.source, session.node.session_id)].append(session)
            by_project[session.node.project] += session.node.totals.cost
        if total <= 0 or len(by_session) < s.min_sessions:
            return
        parts = max(by_session.values(), key=lambda parts: sum(p.node.totals.cost for p in parts))
        cost = sum(part.node.totals.cost for part in parts)
        if cost / total >= s.session_share:
            biggest = max(parts, key=lambda part: part.node.totals.cost)
            inside = sum(
                item.saving_usd for part in parts for item in self.report.for_node(part.node)
            )
            message = (
                f"one session took {cost / total:.0%} of {_period_name(period)}: "
                f"{biggest.place.where} (${cost:,.2f} of ${total:,.2f})"
                + (f"; its advice would save ≈ ${inside:,.2f}." if inside else ".")
            )
            evidence = {
                "session": biggest.place.path,
                "share": round(cost / total, 6),
                "cost_usd": round(cost, 6),
                "period_cost_usd": round(total, 6),
                "sessions_in_period": len(by_session),
                "advice_saving_usd": round(inside, 6),
            }
            self.emit("concentration", Place(period, path, period.label), message, evidence)
        if len(by_project) >= 3:
            project, cost = by_project.most_common(1)[0]
            if cost / total >= s.project_share:
                name = project.rstrip("/").rsplit("/", 1)[-1] or "(no project)"
                message = (
                    f"one project took {cost / total:.0%} of {_period_name(period)}: {name} "
                    f"(${cost:,.2f} of ${total:,.2f}, {len(by_project)} projects)."
                )
                evidence = {
                    "project": project,
                    "share": round(cost / total, 6),
                    "cost_usd": round(cost, 6),
                    "period_cost_usd": round(total, 6),
                }
                self.emit("concentration", Place(period, path, period.label), message, evidence)


@dataclass(slots=True)
class _Usage:
    """One session's prompt tokens on one model, and what its uncached part cost per token."""

    calls: int = 0
    prompt: int = 0
    cache_read: int = 0
    priced_prompt: int = 0
    fresh_tokens: int = 0
    fresh_cost: float = 0.0
    read_cost: float = 0.0

    def add(self, sums: Sequence[int], rates: Rates | None) -> None:
        """Add [calls, input, cache write 5m, cache write 1h, cache read] priced at `rates`."""
        calls, fresh, write_5m, write_1h, read = sums
        prompt = fresh + write_5m + write_1h + read
        self.calls += calls
        self.prompt += prompt
        self.cache_read += read
        if rates is None:
            return
        self.priced_prompt += prompt
        self.fresh_tokens += fresh + write_5m + write_1h
        self.fresh_cost += (
            fresh * rates.input + write_5m * rates.cache_write_5m + write_1h * rates.cache_write_1h
        )
        self.read_cost += prompt * rates.cache_read

    @property
    def hit(self) -> float:
        return self.cache_read / self.prompt if self.prompt else 0.0

    @property
    def fresh_rate(self) -> float:
        return self.fresh_cost / self.fresh_tokens if self.fresh_tokens else 0.0

    @property
    def read_rate(self) -> float:
        return self.read_cost / self.priced_prompt if self.priced_prompt else 0.0


_FILE_READERS = frozenset({"read", "notebookread", "read_file", "view_image"})


_read_targets: dict[str, str] = {}


def _file_reads(tools: tuple[str, ...]) -> Iterator[str]:
    """The basenames a call asked to read ("Read app.py", "read_file app.py", "read app.py")."""
    for label in tools:
        target = _read_targets.get(label)
        if target is None:
            name, _, target = label.partition(" ")
            if name.lower() not in _FILE_READERS or tool_bucket(label).activity != "reading":
                target = ""
            if len(_read_targets) > 100_000:
                _read_targets.clear()
            _read_targets[label] = target
        if target:
            yield target


def _median(values: Iterable[float]) -> float:
    """The median (statistics costs its import on the report's warm path)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if not ordered:
        return 0.0
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _prompt(tokens: Tokens) -> int:
    return tokens.input + tokens.cache_write_5m + tokens.cache_write_1h + tokens.cache_read


def _fresh_rate(tokens: Tokens, rates: Rates) -> float:
    """USD per million of a call's uncached part (uncached input and cache writes)."""
    fresh = tokens.input + tokens.cache_write
    if not fresh:
        return rates.input
    return (
        tokens.input * rates.input
        + tokens.cache_write_5m * rates.cache_write_5m
        + tokens.cache_write_1h * rates.cache_write_1h
    ) / fresh


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count}×"


_NO_SAVING = "informational: no saving claimed"


def _join(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


def _period_name(node: Node) -> str:
    if node.kind is Kind.WEEK:
        return node.key
    return "the period" if node.kind is Kind.ALL else node.label


def rule_help() -> list[tuple[str, str, str]]:
    """(id, title, explanation) of every rule, for a help screen."""
    return [(rule.id, rule.title, rule.explanation) for rule in RULES.values()]


def advice_dicts(items: Sequence[Advice]) -> list[dict[str, Any]]:
    return [item.as_dict() for item in items]
