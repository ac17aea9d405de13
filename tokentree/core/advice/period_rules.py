"""The rules about the whole period that compare sessions or add up its calls: low cache hit,
files read in session after session, and the shares of sub-agents, compaction and fast mode.

Each is a tally: `part` takes a few numbers of a session as the pass reaches it (plain data,
kept in the day's digest), `add_part` counts them, `finish` emits once every session was seen.
None keeps a session's calls or turns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tokentree import format as fmt
from tokentree.core.advice.context import (
    Context,
    Place,
    Session,
    median,
    prompt,
)
from tokentree.core.advice.digest import Part, place_of
from tokentree.core.attribution import is_compaction
from tokentree.core.pricing import PER_MILLION, Rates
from tokentree.core.tree import project_name, short_model


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


class CacheHitTally:
    """low_cache_hit: each session's usage per source and model, against the median of all."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.per: dict[tuple[str, str], list[tuple[Part, _Usage]]] = defaultdict(list)
        """Each session's place (made a Place when advice is about it) and usage."""

    def part(self, session: Session) -> Part:
        s = self.context.settings.low_cache_hit
        # token sums per (source, model, day, long-context tier): priced once per group
        groups: dict[tuple[str, str, int, bool], list[int]] = {}
        for _, call in session.calls:
            fresh, write_5m, write_1h, read = call.tokens[:4]
            size = fresh + write_5m + write_1h + read
            key = (call.source, call.model, int(call.timestamp // 86_400), size > 200_000)
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
            rates = self.context.prices.rates_on((model, source, day, ""))
            found.add(sums, rates.for_prompt(200_001 if long else 0) if rates else None)
        place = session.place
        return [
            [*key, place, *(getattr(found, name) for name in _Usage.__slots__)]
            for key, found in usage.items()
            if found.prompt >= s.min_prompt and found.calls >= s.min_calls
        ]

    def add_part(self, part: Part) -> None:
        for source, model, place, *numbers in part:
            self.per[(source, model)].append((place, _Usage(*numbers)))

    def finish(self) -> None:
        s = self.context.settings.low_cache_hit
        for (source, model), entries in self.per.items():
            if len(entries) < s.min_sessions:
                continue
            middle = median(found.hit for _, found in entries)
            for place, found in entries:
                if found.hit >= middle - s.margin or not found.priced_prompt:
                    continue
                shift = (middle - found.hit) * found.prompt
                fresh_rate, read_rate = found.fresh_rate, found.read_rate
                saving = shift * (fresh_rate - read_rate) / PER_MILLION
                message = (
                    f"cache hit {found.hit:.1%} on {short_model(model)}, against your median "
                    f"{middle:.1%} for {source} + {short_model(model)} ({len(entries)} sessions): "
                    f"{fmt.tokens(shift)} more tokens were sent uncached or re-written. At your "
                    f"median it would have cost ≈ ${saving:,.2f} less."
                )
                formula = (
                    f"({middle:.1%} − {found.hit:.1%}) × {fmt.tokens(found.prompt)} prompt tok = "
                    f"{fmt.tokens(shift)} tok × (${fresh_rate:.2f} − ${read_rate:.2f})/M "
                    f"(uncached/write − cache read) = ${saving:,.2f}"
                )
                evidence = {
                    "source": source,
                    "model": model,
                    "cache_hit": round(found.hit, 6),
                    "median_cache_hit": round(middle, 6),
                    "sessions_in_median": len(entries),
                    "prompt_tokens": found.prompt,
                    "formula": formula,
                }
                self.context.emit("low_cache_hit", place_of(place), message, evidence, saving)


class SharedReadsTally:
    """repeated_reads across sessions: per project, the files each of its sessions read."""

    def __init__(self, context: Context) -> None:
        self.context = context
        # project → file → session → the round-trip share of its first read there
        self.seen: dict[str, dict[str, dict[tuple[str, str], float]]] = defaultdict(dict)
        self.spent: Counter[str] = Counter()

    def part(self, session: Session) -> Part:
        node = session.node
        firsts = {name: shares[0] for name, shares in session.reads.items()}
        return [node.project, node.totals.cost, node.source, node.session_id, firsts]

    def add_part(self, part: Part) -> None:
        project, cost, source, session_id, firsts = part
        self.spent[project] += cost
        files = self.seen[project]
        for name, share in firsts.items():
            files.setdefault(name, {}).setdefault((source, session_id), share)

    def finish(self) -> None:
        s = self.context.settings.repeated_reads
        root, base_path = self.context.root, self.context.base_path
        for project, files in sorted(self.seen.items()):
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
            name = project_name(project)
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
            place = Place(root, base_path, f"{root.label} · project {name}")
            spent = self.spent[project]
            self.context.emit("repeated_reads", place, message, evidence, saving, spent)


class SubagentTally:
    """subagent_share: what sub-agents spent, and what their cheaper models would have."""

    def __init__(self, context: Context) -> None:
        self.context = context
        totals = context.root.totals
        self.counting = totals.cost > 0 and totals.subagent_calls > 0
        self.cost = self.saving = 0.0
        self.calls = 0
        self.models: Counter[str] = Counter()
        self.alternatives: Counter[str] = Counter()

    def part(self, session: Session) -> Part:
        context = self.context
        cost = saving = 0.0
        calls = 0
        models: Counter[str] = Counter()
        alternatives: Counter[str] = Counter()
        for _, call in session.calls:
            if not call.subagent or is_compaction(call):
                continue
            cost += call.cost
            calls += 1
            models[call.model] += 1
            alt = context.alternative(call.model)
            rates = context.rates(call, alt) if alt else None
            if rates is not None and not call.unpriced:
                saving += max(0.0, call.cost - rates.cost(call.tokens))
                alternatives[alt or ""] += 1
        return [cost, calls, saving, models, alternatives]

    def add_part(self, part: Part) -> None:
        cost, calls, saving, models, alternatives = part
        if self.counting:
            self.cost += cost
            self.calls += calls
            self.saving += saving
            self.models.update(models)
            self.alternatives.update(alternatives)

    def finish(self) -> None:
        s = self.context.settings.subagent_share
        total, cost, calls = self.context.root.totals.cost, self.cost, self.calls
        if not self.counting or not calls or cost / total < s.min_share:
            return
        share = cost / total
        top_model, top_calls = self.models.most_common(1)[0]
        message = (
            f"sub-agents made {share:.0%} of the spend (${cost:,.2f} of ${total:,.2f}, "
            f"{calls:,} calls, {top_calls / calls:.0%} on {short_model(top_model)})."
        )
        evidence = {
            "share": round(share, 6),
            "cost_usd": round(cost, 6),
            "calls": calls,
            "models": dict(self.models.most_common()),
        }
        place = self.context.place
        if self.alternatives:
            alt_model = short_model(self.alternatives.most_common(1)[0][0])
            advice = (
                f" Running them on {alt_model} (the agent's `model` setting) would have saved "
                f"≈ ${self.saving:,.2f}."
            )
            formula = (
                f"Σ over {sum(self.alternatives.values())} sub-agent calls on a model with a "
                f"cheaper alternative of (cost − the same tokens on {alt_model}) = "
                f"${self.saving:,.2f}"
            )
            proof = evidence | {"formula": formula}
            if self.context.emit("subagent_share", place, message + advice, proof, self.saving):
                return
        self.context.emit("subagent_share", place, message, evidence)


class FastModeTally:
    """fast_mode: fast-mode calls, and the same tokens at the standard rates."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.counting = context.root.totals.fast_calls > 0
        self.cost = self.standard = 0.0
        self.calls = 0
        self.models: Counter[str] = Counter()

    def part(self, session: Session) -> Part:
        cost = standard = 0.0
        calls = 0
        models: Counter[str] = Counter()
        for _, call in session.calls:
            rates = self.context.rates(call, call.model) if call.speed == "fast" else None
            if rates is None or call.unpriced:
                continue
            calls += 1
            cost += call.cost
            standard += rates.cost(call.tokens)
            models[call.model] += 1
        return [calls, cost, standard, models]

    def add_part(self, part: Part) -> None:
        calls, cost, standard, models = part
        if self.counting:
            self.calls += calls
            self.cost += cost
            self.standard += standard
            self.models.update(models)

    def finish(self) -> None:
        cost, standard, calls = self.cost, self.standard, self.calls
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
            "models": dict(self.models.most_common()),
            "formula": formula,
        }
        self.context.emit("fast_mode", self.context.place, message, evidence, saving)


class CompactionTally:
    """compaction_share: what compaction calls cost, and how much each re-read."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.counting = context.root.totals.subagent_calls > 0  # compactions are sidechain calls
        self.cost = 0.0
        self.sizes: list[int] = []
        """The prompt of each compaction call, for their median."""

    def part(self, session: Session) -> Part:
        compactions = [call for _, call in session.calls if call.subagent and is_compaction(call)]
        return [sum(call.cost for call in compactions), [prompt(c.tokens) for c in compactions]]

    def add_part(self, part: Part) -> None:
        cost, sizes = part
        if self.counting:
            self.cost += cost
            self.sizes += sizes

    def finish(self) -> None:
        total, cost, count = self.context.root.totals.cost, self.cost, len(self.sizes)
        s = self.context.settings.compaction_share
        if not self.counting or total <= 0 or not count or cost / total < s.min_share:
            return
        size = median(self.sizes)
        message = (
            f"compaction took {cost / total:.0%} of the spend (${cost:,.2f}, {count} "
            f"compactions, each re-reading a median {fmt.tokens(size)} tokens to summarise them). "
            "Sessions split before they fill up need no compaction."
        )
        evidence = {
            "share": round(cost / total, 6),
            "cost_usd": round(cost, 6),
            "compactions": count,
            "median_context": int(size),
        }
        self.context.emit("compaction_share", self.context.place, message, evidence)
