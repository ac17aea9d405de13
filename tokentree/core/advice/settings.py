"""Advice settings: one class per rule, whose docstring is the rule's explanation (the help
screen shows it), and `AdviceSettings`, what config.toml's `[advice]` tables are read into."""

from __future__ import annotations

from dataclasses import dataclass, field


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
class CacheMissed:
    """Calls whose prompt cache missed for a cause Claude logged (its cache diagnosis: the
    tools, the system prompt, the model or earlier messages changed), not after an idle gap
    (see cache_rebuilt). Saving if the cache had held: Σ rewritten tokens × (cache-write
    rate − cache-read rate), where rewritten = min(uncached input + cache write, the previous
    call's prompt). Claude's own count of missed tokens is shown, never summed."""

    enabled: bool = True
    min_tokens: int = 5_000
    """Misses that rewrote fewer tokens than this are not counted."""


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

    def cheaper(self, model: str) -> str | None:
        """The cheaper model of `model`'s family (the first part its name holds), if another."""
        lowered = model.lower()
        other = next((o for part, o in self.alternatives.items() if part.lower() in lowered), None)
        return None if other is None or other.lower() == lowered else other


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
    cache_missed: CacheMissed = field(default_factory=CacheMissed)
    low_cache_hit: LowCacheHit = field(default_factory=LowCacheHit)
    repeated_reads: RepeatedReads = field(default_factory=RepeatedReads)
    oversized_turns: OversizedTurns = field(default_factory=OversizedTurns)
    concentration: Concentration = field(default_factory=Concentration)
    model_choice: ModelChoice = field(default_factory=ModelChoice)
    subagent_share: SubagentShare = field(default_factory=SubagentShare)
    compaction_share: CompactionShare = field(default_factory=CompactionShare)
    fast_mode: FastMode = field(default_factory=FastMode)
