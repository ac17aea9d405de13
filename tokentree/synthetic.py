"""Deterministic generator of realistic Claude Code and Codex logs (demo set, benchmarks); the demo
set also gets every source's 2026 shapes from synthetic_2026."""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from calendar import timegm
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tokentree.core.sources import home_environment

if TYPE_CHECKING:
    from tokentree.synthetic_2026 import RecentSummary

__all__ = ["GenerationSummary", "generate", "main"]

_NL = orjson.OPT_APPEND_NEWLINE
_MIN = 60_000
_HOUR = 60 * _MIN
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_B64 = _ALNUM + "+/"

_DEMO_TARGET = 3_000_000
# Above this many bytes a day, extra days are added so a day stays believable.
_MAX_BYTES_PER_DAY = 80_000_000
_COMPACT_AT = 160_000  # context size (tokens) at which Claude Code compacts
_CODEX_END_AT = 200_000  # context size at which a Codex session is given up

_CLAUDE_MODELS = (
    ("claude-sonnet-4-5-20250929", 55),
    ("claude-opus-4-5-20251101", 35),
    ("claude-haiku-4-5-20251001", 10),
)
_SUBAGENT_MODELS = (("claude-sonnet-4-5-20250929", 70), ("claude-haiku-4-5-20251001", 30))
_VERSIONS = (("2.0.24", 20), ("2.1.38", 35), ("2.1.112", 45))
_CODEX_MODELS = (("gpt-5-codex", 55), ("gpt-5.1-codex", 45))
_UNPRICED_CODEX_MODEL = "gpt-oss-120b-local"

# cwd, language
_PROJECTS = (
    ("/home/dev/src/atlas", "py"),
    ("/home/dev/src/billing-api", "py"),
    ("/home/dev/src/web-dashboard", "ts"),
    ("/home/dev/src/infra-tools", "py"),
    ("/home/dev/src/mobile-app", "ts"),
)
_BRANCHES = ("main", "main", "feat/export", "fix/retry-loop", "feat/usage-page", "chore/deps")

_WORDS = (
    "account adapter audit batch buffer cache channel client config context cursor delta digest "
    "event export filter handler index invoice job ledger limit loader metric node offset order "
    "parser payload policy queue record report request retry route schema session shard signal "
    "snapshot source state stream summary table task tenant token tree user value window worker "
    "budget quota price plan usage entry field column widget layout panel chart label timer"
).split()
_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua enim minim veniam quis nostrud exercitation ullamco laboris "
    "nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse"
).split()
_TYPES_PY = ("int", "str", "bool", "float", "list[str]", "dict[str, int]", "None", "Path")
_TYPES_TS = ("number", "string", "boolean", "string[]", "Record<string, number>", "void")

_PY_LINES = (
    "def {a}_{b}(self, {c}: {t}) -> {u}:",
    '    """{S}"""',
    "    {a} = self.{b}.get({c}, {n})",
    "    if {a} is None:",
    "        return {b}",
    "    for {a} in self.{b}_{c}:",
    "        {a}.{b}({c}, {d}={n})",
    "",
    "class {A}{B}:",
    "    {a}: {t} = {n}",
    "import {a}",
    "from {a}.{b} import {A}{B}",
    '        raise {A}Error(f"{a} {b} failed: {{{c}}}")',
    "    # {S}",
    "    return {a}_{b}({c})",
    "",
)
_TS_LINES = (
    "export function {a}{B}({c}: {t}): {u} {{",
    "  const {a} = await this.{b}.{c}({d});",
    "  if (!{a}) return {b};",
    "  return {a}.map(({c}) => {c}.{d});",
    "}}",
    "",
    "import {{ {A}{B} }} from './{a}/{b}';",
    "  // {S}",
    "export interface {A}{B} {{",
    "  {a}: {t};",
    "  {a}{B}?: {t};",
    "  const [{a}, set{A}] = useState<{t}>({n});",
    "",
)
_PROMPTS = (
    "fix the failing test in {path}",
    "add a --{a} option to the {b} command",
    "why is {a}_{b} so slow? profile it and fix the worst part",
    "refactor {path} so {a} and {b} live in separate modules",
    "write tests for the {a} {b} edge cases",
    "update the docs for the {a} {b}",
    "rename {a} to {b} everywhere and keep the old name as an alias",
    "the {a} endpoint returns 500 when {b} is empty, fix it",
    "run the build and fix any errors",
    "review my changes on this branch and tidy them up",
    "add pagination to the {a} list",
    "make the {a} {b} configurable",
)
_SUBAGENT_TYPES = ("general-purpose", "Explore", "Plan")


@dataclass(frozen=True)
class GenerationSummary:
    """What a `generate` run wrote, including the true token totals a correct parser must find."""

    files: int
    bytes: int
    claude_sessions: int
    codex_sessions: int
    claude_calls: int
    codex_calls: int
    claude_input_tokens: int
    claude_output_tokens: int
    claude_cache_creation_tokens: int
    claude_cache_read_tokens: int
    codex_input_tokens: int
    codex_cached_input_tokens: int
    codex_output_tokens: int
    first_day: date
    last_day: date
    recent: RecentSummary | None = None
    """The demo set's 2026-shape files, which the fields above do not count (files and bytes
    aside)."""

    def describe(self) -> str:
        """A few human-readable lines for the CLI."""
        return "\n".join(
            (
                f"files            {self.files:,}",
                f"bytes            {self.bytes:,} ({self.bytes / 1e6:.1f} MB)",
                f"days             {self.first_day} .. {self.last_day}",
                f"claude sessions  {self.claude_sessions:,}  calls {self.claude_calls:,}",
                f"  input {self.claude_input_tokens:,}  output {self.claude_output_tokens:,}"
                f"  cache write {self.claude_cache_creation_tokens:,}"
                f"  cache read {self.claude_cache_read_tokens:,}",
                f"codex sessions   {self.codex_sessions:,}  calls {self.codex_calls:,}",
                f"  input {self.codex_input_tokens:,} (cached {self.codex_cached_input_tokens:,})"
                f"  output {self.codex_output_tokens:,}",
                *(self.recent.describe() if self.recent else ()),
            )
        )


@dataclass(frozen=True)
class _Profile:
    """Size knobs: the demo set has short sessions, the bulk set looks like a heavy user."""

    turns: tuple[int, int, int]  # low, high, mode
    calls_mean: float
    calls_max: int
    file_lines: tuple[int, int]
    output_median: int  # bytes of a shell output
    output_max: int
    token_scale: float  # tokens per written character, relative to ~3.6 chars a token
    files_per_project: int
    codex_share: float
    task_rate: float  # chance that a main-thread call starts a sub-agent
    resume_rate: float
    synthetic_rate: float


_DEMO = _Profile(
    turns=(2, 8, 3),
    calls_mean=2.5,
    calls_max=10,
    file_lines=(8, 90),
    output_median=500,
    output_max=3_000,
    token_scale=4.0,
    files_per_project=16,
    codex_share=0.4,
    task_rate=0.01,
    resume_rate=0.0,
    synthetic_rate=0.0,
)
_BULK = _Profile(
    turns=(3, 60, 12),
    calls_mean=4.5,
    calls_max=25,
    file_lines=(20, 550),
    output_median=1_800,
    output_max=20_000,
    token_scale=1.0,
    files_per_project=60,
    codex_share=0.2,
    task_rate=0.004,
    resume_rate=0.03,
    synthetic_rate=0.003,
)


def _iso(ms: int) -> str:
    """UTC timestamp as Claude Code and Codex write it: `2026-11-03T14:02:11.123Z`."""
    g = time.gmtime(ms // 1000)
    return (
        f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}T"
        f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}.{ms % 1000:03d}Z"
    )


def _encode_cwd(cwd: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], [w for _, w in table])[0]


def _lognorm(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(median * math.exp(rng.gauss(0.0, sigma)))))


class _Ids:
    """Ids shaped like the real ones, drawn from the seeded generator (never uuid4)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def uuid7(self, ms: int) -> str:
        r = self.rng.getrandbits(76)
        h = f"{ms:012x}"
        tail = f"{r >> 12:016x}"
        return (
            f"{h[:8]}-{h[8:]}-7{r & 0xFFF:03x}-{'89ab'[int(tail[0], 16) & 3]}{tail[1:4]}-{tail[4:]}"
        )

    def tag(self, prefix: str, n: int) -> str:
        return prefix + "".join(self.rng.choices(_ALNUM, k=n))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"


@dataclass
class _FakeFile:
    path: str
    raw: str
    numbered: str
    lines: list[str]


@dataclass
class _Project:
    cwd: str
    lang: str
    files: list[_FakeFile]
    dirs: list[str] = field(default_factory=list)


class _Text:
    """Filler text built once, then sliced: fake code, prose, logs and opaque blobs."""

    def __init__(self, rng: random.Random, profile: _Profile) -> None:
        self.rng = rng
        self.prose = self._build(lambda: self.sentence() + ("\n\n" if rng.random() < 0.2 else " "))
        self.logs = self._build(self._log_line)
        self.tests = self._build(self._test_line)
        self.blob = "".join(rng.choices(_B64, k=96_000))
        self.code = {lang: [self._code_line(lang) for _ in range(3_000)] for lang in ("py", "ts")}
        self.projects = [self._project(cwd, lang, profile) for cwd, lang in _PROJECTS]

    def _build(self, make: Callable[[], str], size: int = 160_000) -> str:
        parts: list[str] = []
        n = 0
        while n < size:
            s = make()
            parts.append(s)
            n += len(s)
        return "".join(parts)

    def word(self) -> str:
        return self.rng.choice(_WORDS)

    def sentence(self, lo: int = 6, hi: int = 16) -> str:
        rng = self.rng
        words = [
            rng.choice(_WORDS) if rng.random() < 0.6 else rng.choice(_LOREM)
            for _ in range(rng.randint(lo, hi))
        ]
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    def _log_line(self) -> str:
        rng = self.rng
        level = rng.choice(("INFO", "INFO", "INFO", "DEBUG", "WARN"))
        return (
            f"2026-10-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d},{rng.randint(0, 999):03d} {level} "
            f"{self.word()}.{self.word()}: {self.sentence(3, 9)}\n"
        )

    def _test_line(self) -> str:
        rng = self.rng
        status = "PASSED" if rng.random() < 0.95 else "FAILED"
        return (
            f"tests/test_{self.word()}.py::test_{self.word()}_{self.word()} {status}"
            f" [{rng.randint(0, 100):3d}%]\n"
        )

    def _code_line(self, lang: str) -> str:
        rng = self.rng
        tmpl = rng.choice(_PY_LINES if lang == "py" else _TS_LINES)
        types = _TYPES_PY if lang == "py" else _TYPES_TS
        a, b, c, d = (rng.choice(_WORDS) for _ in range(4))
        return tmpl.format(
            a=a,
            b=b,
            c=c,
            d=d,
            A=a.capitalize(),
            B=b.capitalize(),
            t=rng.choice(types),
            u=rng.choice(types),
            n=rng.randint(0, 500),
            S=self.sentence(4, 10) if "{S}" in tmpl else "",
        )

    def code_lines(self, lang: str, n: int) -> list[str]:
        """`n` lines of fake code, a random run of the prebuilt pool."""
        pool = self.code[lang]
        start = self.rng.randrange(0, len(pool) - n) if n < len(pool) else 0
        return pool[start : start + n]

    def _project(self, cwd: str, lang: str, profile: _Profile) -> _Project:
        rng = self.rng
        ext = ".py" if lang == "py" else ".ts"
        dirs = ["src", "src/" + self.word(), "src/" + self.word(), "tests"]
        files: list[_FakeFile] = []
        seen: set[str] = set()
        lo, hi = profile.file_lines
        while len(files) < profile.files_per_project:
            folder = rng.choice(dirs)
            stem = (
                f"{self.word()}_{self.word()}"
                if lang == "py"
                else self.word() + self.word().capitalize()
            )
            path = f"{cwd}/{folder}/{'test_' if folder == 'tests' else ''}{stem}{ext}"
            if path in seen:
                continue
            seen.add(path)
            n = _lognorm(rng, (lo * hi) ** 0.5, 0.6, lo, hi)
            lines = self.code_lines(lang, n)
            numbered = "\n".join(f"{i:>6}→{line}" for i, line in enumerate(lines, 1))
            files.append(_FakeFile(path, "\n".join(lines) + "\n", numbered, lines))
        return _Project(cwd, lang, files, dirs)

    def cut(self, pool: str, n: int) -> str:
        """About `n` characters of `pool`, starting and ending on line boundaries."""
        if n >= len(pool) - 1:
            return pool
        start = self.rng.randrange(0, len(pool) - n)
        s = pool.find("\n", start) + 1
        e = pool.rfind("\n", s, s + n)
        return pool[s:e] if e > s else pool[s : s + n]

    def say(self, n: int) -> str:
        """About `n` characters of prose, from the start of a sentence to the end of one."""
        pool = self.prose
        start = self.rng.randrange(0, len(pool) - n - 200)
        s = pool.find(". ", start) + 2
        e = pool.rfind(".", s, s + n)
        return pool[s : e + 1] if e > s else pool[s : s + n]

    def blob_of(self, n: int) -> str:
        start = self.rng.randrange(0, len(self.blob) - n) if n < len(self.blob) else 0
        return self.blob[start : start + n]


@dataclass
class _Totals:
    files: int = 0
    bytes: int = 0
    claude_sessions: int = 0
    codex_sessions: int = 0
    claude_calls: int = 0
    codex_calls: int = 0
    c_in: int = 0
    c_out: int = 0
    c_cw: int = 0
    c_cr: int = 0
    x_in: int = 0
    x_cached: int = 0
    x_out: int = 0


class _Thread:
    """One Claude Code transcript being built: a main session, a sub-agent or a compaction call.

    It tracks the prompt size the API saw so that cache reads, cache writes and idle-gap
    cache rebuilds follow the same arithmetic as real sessions.
    """

    def __init__(
        self,
        path: Path,
        head: dict[str, Any],
        *,
        ttl_ms: int,
        system_tokens: int,
        warm_prefix: int,
        keep_tail: bool = False,
    ) -> None:
        self.path = path
        self.head = head
        self.version = head["version"]
        self.new_format = not self.version.startswith("2.0.")
        self.placeholders = self.version.startswith("2.1.") and int(self.version.split(".")[2]) < 98
        self.chunks: list[bytes] = []
        self.nbytes = 0
        self.parent: str | None = None
        self.ctx = 0
        self.pending = system_tokens
        self.system_tokens = system_tokens
        self.warm_prefix = warm_prefix
        self.ttl_ms = ttl_ms
        self.last_call_ms: int | None = None
        self.tail: deque[dict[str, Any]] | None = deque(maxlen=8) if keep_tail else None
        self.assistant_lines: list[dict[str, Any]] = []  # sub-agents: copied into the parent

    def emit(self, d: dict[str, Any]) -> None:
        b = orjson.dumps(d, option=_NL)
        self.chunks.append(b)
        self.nbytes += len(b)
        uid = d.get("uuid")
        if uid is not None and d.get("type") != "file-history-snapshot":
            self.parent = uid
        if self.tail is not None and d.get("type") in ("user", "assistant"):
            self.tail.append(d)

    def line(self, parent: str | None = "") -> dict[str, Any]:
        d = dict(self.head)
        d["parentUuid"] = self.parent if parent == "" else parent
        return d

    def usage(self, rng: random.Random, t_ms: int, output: int) -> tuple[int, int, int]:
        """(input, cache write, cache read) of a call made now; its output joins the context."""
        prompt = self.ctx + self.pending
        if self.last_call_ms is None:
            read = self.warm_prefix
        elif t_ms - self.last_call_ms > self.ttl_ms:
            read = self.warm_prefix if rng.random() < 0.5 else 0
        else:
            read = self.ctx
        fresh = max(1, min(rng.randint(1, 50), prompt - read - 1))
        write = max(0, prompt - read - fresh)
        self.ctx = read + write + fresh
        self.pending = output
        self.last_call_ms = t_ms
        return fresh, write, read


class _Generator:
    def __init__(
        self,
        dest: Path,
        seed: int,
        end: date,
        days: int,
        target_bytes: int | None,
        claude_only: bool,
    ) -> None:
        self.dest = dest
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.profile = _DEMO if target_bytes is None else _BULK
        self.target = _DEMO_TARGET if target_bytes is None else max(1, target_bytes)
        self.claude_only = claude_only
        self.days = max(1, days, math.ceil(self.target / _MAX_BYTES_PER_DAY))
        self.first_day = end - timedelta(days=self.days - 1)
        self.end = end
        # Nothing is written after the end day (long sessions on the last day stop early).
        self.end_ms = timegm((end + timedelta(days=1)).timetuple()) * 1000 - _HOUR
        self.text = _Text(random.Random(seed * 7919 + 17), self.profile)
        self.t = _Totals()
        # Special cases given to the first Claude sessions, so that every set has them.
        self.claude_specials = ["task+synthetic", "compact+resume", "midnight+mcp", "task-flat"]
        self.rate_window = (0, 0.0, 0, 0.0)  # 5 h window end (s), used %, weekly end (s), used %

    # ------------------------------------------------------------------ driver

    def run(self) -> GenerationSummary:
        rng = self.rng
        weights = []
        for i in range(self.days):
            weekday = (self.first_day + timedelta(days=i)).weekday()
            weights.append(rng.uniform(0.25, 0.5) if weekday >= 5 else rng.uniform(0.6, 1.5))
        total_w = sum(weights)
        cum = 0.0
        codex_share = 0.0 if self.claude_only else self.profile.codex_share
        for i in range(self.days):
            cum += weights[i]
            quota = self.target * cum / total_w
            day_ms = timegm((self.first_day + timedelta(days=i)).timetuple()) * 1000
            today = 0
            last_day = i == self.days - 1
            while self.t.bytes < quota or (last_day and today == 0):
                if self.t.bytes >= self.target and today > 0:
                    break
                start = day_ms + rng.randint(7 * _HOUR, 20 * _HOUR)
                if rng.random() < codex_share:
                    self._codex_session(start)
                else:
                    self._claude_session(start, day_ms, last_day)
                today += 1
        return GenerationSummary(
            files=self.t.files,
            bytes=self.t.bytes,
            claude_sessions=self.t.claude_sessions,
            codex_sessions=self.t.codex_sessions,
            claude_calls=self.t.claude_calls,
            codex_calls=self.t.codex_calls,
            claude_input_tokens=self.t.c_in,
            claude_output_tokens=self.t.c_out,
            claude_cache_creation_tokens=self.t.c_cw,
            claude_cache_read_tokens=self.t.c_cr,
            codex_input_tokens=self.t.x_in,
            codex_cached_input_tokens=self.t.x_cached,
            codex_output_tokens=self.t.x_out,
            first_day=self.first_day,
            last_day=self.end,
        )

    def _write(self, path: Path, chunks: list[bytes], nbytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb", buffering=1 << 20) as f:
            f.writelines(chunks)
        self.t.files += 1
        self.t.bytes += nbytes

    def _over_budget(self, pending: int) -> bool:
        """Stop a session early once the size target is met (the demo set keeps sessions whole)."""
        return self.profile is _BULK and self.t.bytes + pending >= self.target

    def _tok(self, chars: int) -> int:
        """Context tokens for `chars` characters (the demo set writes less than it counts)."""
        return int(chars * self.profile.token_scale / 3.6) + 1

    @staticmethod
    def _out_tok(chars: int) -> int:
        return int(chars / 3.6) + 1

    # ------------------------------------------------------------ claude code

    def _claude_session(self, start: int, day_ms: int, last_day: bool) -> None:
        rng = self.rng
        special = self.claude_specials.pop(0) if self.claude_specials else ""
        version = _weighted(rng, _VERSIONS)
        if special == "task-flat":
            version = "2.0.24"
        elif special:
            version = "2.1.38" if special == "compact+resume" else "2.1.112"
        if "midnight" in special and not last_day:
            start = day_ms + 23 * _HOUR + 30 * _MIN + rng.randint(0, 59_999)
        project = rng.choice(self.text.projects)
        model = _weighted(rng, _CLAUDE_MODELS)
        lo, hi, mode = self.profile.turns
        turns = int(rng.triangular(lo, hi, mode))
        if "midnight" in special:
            turns = 16
        session = _ClaudeSession(self, project, version, model, start, special)
        session.play(turns)
        self.t.claude_sessions += 1
        if special == "compact+resume" or (
            session.main.new_format and rng.random() < self.profile.resume_rate
        ):
            later = session.t + rng.randint(1 * _HOUR, 10 * _HOUR)
            if not self._over_budget(0) and later < self.end_ms:
                resumed = _ClaudeSession(self, project, version, model, later, "", resume=session)
                resumed.play(max(2, turns // 2))
                self.t.claude_sessions += 1

    # ----------------------------------------------------------------- codex

    def _rate_limits(self, t_ms: int, tokens: int) -> dict[str, Any]:
        end5, used5, endw, usedw = self.rate_window
        now = t_ms // 1000
        if now >= end5:
            end5, used5 = now + 5 * 3600, 0.0
        if now >= endw:
            endw, usedw = now + 7 * 86400, 0.0
        used5 = min(100.0, used5 + tokens / 60_000)
        usedw = min(100.0, usedw + tokens / 900_000)
        self.rate_window = (end5, used5, endw, usedw)
        return {
            "limit_id": "codex",
            "limit_name": None,
            "primary": {
                "used_percent": float(int(used5)),
                "window_minutes": 300,
                "resets_at": end5,
            },
            "secondary": {
                "used_percent": float(int(usedw)),
                "window_minutes": 10080,
                "resets_at": endw,
            },
            "credits": {"has_credits": False, "unlimited": False, "balance": None},
            "plan_type": "plus",
        }

    def _codex_session(self, start: int) -> None:
        _CodexSession(self, start).play()
        self.t.codex_sessions += 1


class _ClaudeSession:
    """Plays one Claude Code session: prompts, calls, tool results, sub-agents, compaction."""

    def __init__(
        self,
        gen: _Generator,
        project: _Project,
        version: str,
        model: str,
        start: int,
        special: str,
        resume: _ClaudeSession | None = None,
    ) -> None:
        self.g = gen
        self.rng = gen.rng
        self.ids = gen.ids
        self.text = gen.text
        self.project = project
        self.model = model
        self.special = special
        self.t = start
        self.session_id = self.ids.uuid()
        self.proj_dir = gen.dest / "claude" / "projects" / _encode_cwd(project.cwd)
        self.branch = resume.branch if resume else self.rng.choice(_BRANCHES)
        self.slug = "-".join(self.rng.choice(_WORDS) for _ in range(3))
        head: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": False,
            "userType": "external",
            "cwd": project.cwd,
            "sessionId": self.session_id,
            "version": version,
            "gitBranch": self.branch,
        }
        if not version.startswith("2.0."):
            head["slug"] = resume.slug if resume else self.slug
        system = self.rng.randint(16_000, 24_000)
        self.main = _Thread(
            self.proj_dir / f"{self.session_id}.jsonl",
            head,
            ttl_ms=_HOUR if head.get("slug") else 5 * _MIN,
            system_tokens=system,
            warm_prefix=int(system * 0.65) if self.rng.random() < 0.7 else 0,
            keep_tail=True,
        )
        self.side_files: list[_Thread] = []
        self.todos: list[dict[str, str]] = []
        if resume is not None:
            self._copy_history(resume)

    # ------------------------------------------------------------ the session

    def _pending_bytes(self) -> int:
        return self.main.nbytes + sum(s.nbytes for s in self.side_files)

    def play(self, turns: int) -> None:
        rng = self.rng
        main = self.main
        if main.new_format and rng.random() < 0.5:
            self._hook(main, "SessionStart", "SessionStart:startup", "startup-hook.sh", None)
        synthetic_turn = rng.randint(0, max(0, turns - 2)) if "synthetic" in self.special else -1
        if "compact" in self.special:
            turns = max(turns, 6)
        compact_turn = turns * 2 // 3 if "compact" in self.special else -1
        for turn in range(turns):
            if turn > 0:
                if self.g._over_budget(self._pending_bytes()):
                    break
                self.t += self._gap()
                if self.t > self.g.end_ms:
                    break
                if turn == compact_turn:
                    self._compact(manual=True)  # the user typed /compact
                elif main.ctx + main.pending > _COMPACT_AT:
                    if not main.new_format:
                        break  # an old build: the user starts a fresh session instead
                    self._compact(manual=False)
            self._turn(turn == synthetic_turn or rng.random() < self.g.profile.synthetic_rate)
        self._flush()

    def _gap(self) -> int:
        rng = self.rng
        if "midnight" in self.special:
            return rng.randint(3 * _MIN, 5 * _MIN)
        r = rng.random()
        if r < 0.06:
            return rng.randint(65 * _MIN, 180 * _MIN)  # long break: even the 1 h cache is gone
        if r < 0.18:
            return rng.randint(6 * _MIN, 45 * _MIN)  # past the 5 min cache
        return rng.randint(20_000, 4 * _MIN)

    def _flush(self) -> None:
        for th in [self.main, *self.side_files]:
            self.g._write(th.path, th.chunks, th.nbytes)
            th.chunks = []

    def _copy_history(self, old: _ClaudeSession) -> None:
        """`--resume` starts the new file with copies of the old one's last messages."""
        main = self.main
        assert old.main.tail is not None
        tail = list(old.main.tail)
        main.emit(
            {
                "type": "summary",
                "summary": self.text.sentence(3, 7)[:-1],
                "leafUuid": tail[-1]["uuid"],
            }
        )
        for d in tail:
            copy = dict(d)
            copy["sessionId"] = self.session_id
            main.emit(copy)
        main.ctx = old.main.ctx
        main.pending = old.main.pending
        main.last_call_ms = old.main.last_call_ms

    # ----------------------------------------------------------------- lines

    def _hook(self, th: _Thread, event: str, name: str, command: str, tool_id: str | None) -> None:
        d = th.line()
        d["type"] = "progress"
        d["data"] = {
            "type": "hook_progress",
            "hookEvent": event,
            "hookName": name,
            "command": command,
        }
        tid = tool_id or self.ids.uuid()
        d["parentToolUseID"] = tid
        d["toolUseID"] = tid
        d["timestamp"] = _iso(self.t)
        d["uuid"] = self.ids.uuid()
        th.emit(d)

    def _prompt(self, th: _Thread, text: str, *, meta: dict[str, Any] | None = None) -> str:
        uid = self.ids.uuid()
        if th is self.main:
            snap = {"messageId": uid, "trackedFileBackups": {}, "timestamp": _iso(self.t + 9)}
            th.emit(
                {
                    "type": "file-history-snapshot",
                    "messageId": uid,
                    "snapshot": snap,
                    "isSnapshotUpdate": False,
                }
            )
        d = th.line()
        d["type"] = "user"
        d["message"] = {"role": "user", "content": text}
        d["uuid"] = uid
        d["timestamp"] = _iso(self.t)
        if meta:
            d.update(meta)
        th.emit(d)
        th.pending += self.g._tok(len(text))
        return uid

    def _call(
        self,
        th: _Thread,
        model: str,
        blocks: list[dict[str, Any]],
        output: int,
        *,
        final: bool,
        web_search: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Write one API call, one line per content block; returns the lines and the usage."""
        rng = self.rng
        fresh, write, read = th.usage(rng, self.t, output)
        one_hour = th.ttl_ms >= _HOUR
        usage: dict[str, Any] = {
            "input_tokens": fresh,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if one_hour else write,
                "ephemeral_1h_input_tokens": write if one_hour else 0,
            },
            "output_tokens": output,
        }
        if web_search:
            usage["server_tool_use"] = {"web_search_requests": 1, "web_fetch_requests": 0}
        usage["service_tier"] = "standard"
        if th.new_format:
            usage["inference_geo"] = "not_available"
        msg_id = self.ids.tag("msg_01", 22)
        req_id = self.ids.tag("req_011C", 20)
        lines = []
        last = len(blocks) - 1
        for i, block in enumerate(blocks):
            if i < last and th.placeholders:
                u = dict(usage)
                u["output_tokens"] = rng.randint(1, 30)
            else:
                u = usage
            stop = None
            if i == last and th.version == "2.1.112":
                stop = "end_turn" if final else "tool_use"
            d = th.line()
            d["message"] = {
                "model": model,
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": u,
            }
            d["requestId"] = req_id
            d["type"] = "assistant"
            d["uuid"] = self.ids.uuid()
            d["timestamp"] = _iso(self.t)
            th.emit(d)
            lines.append(d)
            if th.head["isSidechain"]:
                th.assistant_lines.append(d)
            self.t += rng.randint(80, 1500)
        t = self.g.t
        t.claude_calls += 1
        t.c_in += fresh
        t.c_out += output
        t.c_cw += write
        t.c_cr += read
        return lines, usage

    def _tool_result(
        self,
        th: _Thread,
        source: dict[str, Any],
        tool_id: str,
        content: Any,
        result: Any,
        *,
        error: bool = False,
    ) -> None:
        d = th.line(source["uuid"])
        d["type"] = "user"
        block: dict[str, Any] = {"tool_use_id": tool_id, "type": "tool_result", "content": content}
        if th.new_format or error:
            block["is_error"] = error
        d["message"] = {"role": "user", "content": [block]}
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = _iso(self.t)
        d["toolUseResult"] = result
        if th.new_format:
            d["sourceToolAssistantUUID"] = source["uuid"]
        th.emit(d)

    # ------------------------------------------------------------------ turns

    def _turn(self, synthetic: bool) -> None:
        rng = self.rng
        main = self.main
        text = self.text
        turn_start = self.t
        prompt = rng.choice(_PROMPTS).format(
            path=rng.choice(self.project.files).path.removeprefix(self.project.cwd + "/"),
            a=text.word(),
            b=text.word(),
        )
        if rng.random() < 0.3:
            prompt += "\n\n" + text.say(rng.randint(100, 900))
        meta: dict[str, Any] = {
            "thinkingMetadata": {"maxThinkingTokens": 31999}
            if main.new_format
            else {"level": "high", "disabled": False, "triggers": []},
            "todos": [],
            "permissionMode": rng.choice(("default", "acceptEdits", "bypassPermissions")),
        }
        self._prompt(main, prompt, meta=meta)
        if synthetic:
            self.t += rng.randint(2_000, 30_000)
            self._synthetic()
            return
        prof = self.g.profile
        calls = min(prof.calls_max, 1 + int(rng.expovariate(1.0 / prof.calls_mean)))
        if "task" in self.special or "mcp" in self.special:
            calls = max(calls, 2)  # room for the forced tool call before the final answer
        for c in range(calls):
            self.t += rng.randint(1_500, 20_000)
            self._step(main, self.model, final=c == calls - 1, allow_task=True)
        if main.new_format and rng.random() < 0.7:
            d = main.line()
            d["type"] = "system"
            d["subtype"] = "turn_duration"
            d["durationMs"] = self.t - turn_start
            d["timestamp"] = _iso(self.t)
            d["uuid"] = self.ids.uuid()
            d["isMeta"] = False
            main.emit(d)
        if main.new_format and rng.random() < 0.05:
            for op in ("enqueue", "remove"):
                main.emit(
                    {
                        "type": "queue-operation",
                        "operation": op,
                        "timestamp": _iso(self.t + 200),
                        "sessionId": self.session_id,
                        **({"content": text.sentence(3, 8)} if op == "enqueue" else {}),
                    }
                )

    def _step(self, th: _Thread, model: str, *, final: bool, allow_task: bool) -> None:
        """One API call with its blocks, then the results of the tools it asked for."""
        rng = self.rng
        text = self.text
        blocks: list[dict[str, Any]] = []
        out_chars = 0
        if rng.random() < 0.4:
            thought = text.say(rng.randint(150, 2_500))
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": thought,
                    "signature": text.blob_of(rng.randint(300, 900)),
                }
            )
            out_chars += len(thought)
        if final or rng.random() < 0.45:
            said = text.say(rng.randint(40, 1_200 if final else 300))
            blocks.append({"type": "text", "text": said})
            out_chars += len(said)
        tools: list[tuple[str, dict[str, Any], Any, Any, int]] = []
        web_search = False
        if not final:
            n = 1 if rng.random() < 0.85 else rng.randint(2, 3)
            for _ in range(n):
                name = self._pick_tool(th, allow_task and n == 1)
                web_search |= name == "WebSearch"
                tool_input, content, result, tokens = self._tool(name)
                tool_id = self.ids.tag("toolu_01", 22)
                block: dict[str, Any] = {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": name,
                    "input": tool_input,
                }
                if th.new_format:
                    block["caller"] = {"type": "direct"}
                blocks.append(block)
                out_chars += len(orjson.dumps(tool_input)) + 80
                tools.append((tool_id, tool_input, content, result, tokens))
        if not blocks:
            said = text.say(rng.randint(40, 300))
            blocks.append({"type": "text", "text": said})
            out_chars += len(said)
        output = max(50, min(8_000, self.g._out_tok(out_chars) + rng.randint(10, 60)))
        lines, _ = self._call(th, model, blocks, output, final=final, web_search=web_search)
        first_tool_line = len(lines) - len(tools)
        for i, (tool_id, tool_input, content, result, tokens) in enumerate(tools):
            source = lines[first_tool_line + i]
            name = source["message"]["content"][0]["name"]
            if th.new_format and rng.random() < 0.3:
                self._hook(th, "PreToolUse", f"PreToolUse:{name}", "guard.sh", tool_id)
            self.t += rng.randint(50, 4_000)
            if name == "Task":
                content, result, tokens = self._run_subagent(th, source, tool_id, tool_input)
            self._tool_result(th, source, tool_id, content, result)
            th.pending += tokens

    def _pick_tool(self, th: _Thread, allow_task: bool) -> str:
        rng = self.rng
        if (
            allow_task
            and th is self.main
            and ("task" in self.special or rng.random() < self.g.profile.task_rate)
        ):
            if "task" in self.special:
                self.special = self.special.replace("task-flat", "").replace("task", "")
            return "Task"
        if th is self.main and ("mcp" in self.special or rng.random() < 0.004):
            self.special = self.special.replace("mcp", "")
            return "mcp__github__create_issue"
        return rng.choices(
            ("Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite", "WebFetch", "WebSearch"),
            (30, 22, 15, 8, 5, 5, 5, 2, 2),
        )[0]

    # ------------------------------------------------------------------ tools

    def _tool(self, name: str) -> tuple[dict[str, Any], Any, Any, int]:
        """(input, result content, toolUseResult, tokens the result adds to the context)."""
        rng = self.rng
        text = self.text
        proj = self.project
        tok = self.g._tok
        if name == "Read":
            f = rng.choice(proj.files)
            n = len(f.lines)
            result = {
                "type": "text",
                "file": {
                    "filePath": f.path,
                    "content": f.raw,
                    "numLines": n,
                    "startLine": 1,
                    "totalLines": n,
                },
            }
            return {"file_path": f.path}, f.numbered, result, tok(len(f.numbered))
        if name == "Edit":
            f = rng.choice(proj.files)
            n = len(f.lines)
            k = rng.randint(0, max(0, n - 4))
            m = min(n - k, rng.randint(1, 6))
            old = "\n".join(f.lines[k : k + m])
            new_lines = [*f.lines[k : k + m], *text.code_lines(proj.lang, 1)]
            new = "\n".join(new_lines)
            lo = max(0, k - 4)
            snippet = "\n".join(
                f"{i:>6}→{line}" for i, line in enumerate(f.lines[lo : k + m + 5], lo + 1)
            )
            content = f"Updated {f.path}. Lines around the change:\n{snippet}"
            patch = [
                {
                    "oldStart": k + 1,
                    "oldLines": m,
                    "newStart": k + 1,
                    "newLines": m + 1,
                    "lines": [" " + x for x in f.lines[k : k + m]] + ["+" + new_lines[-1]],
                }
            ]
            result = {
                "filePath": f.path,
                "oldString": old,
                "newString": new,
                "originalFile": f.raw,
                "structuredPatch": patch,
                "userModified": False,
                "replaceAll": False,
            }
            inp = {"file_path": f.path, "old_string": old, "new_string": new}
            return inp, content, result, tok(len(content))
        if name == "Write":
            folder = rng.choice(proj.dirs)
            ext = ".py" if proj.lang == "py" else ".ts"
            path = f"{proj.cwd}/{folder}/{text.word()}_{text.word()}{ext}"
            body = "\n".join(text.code_lines(proj.lang, rng.randint(10, 120))) + "\n"
            content = f"Created {path}"
            result = {"type": "create", "filePath": path, "content": body, "structuredPatch": []}
            return {"file_path": path, "content": body}, content, result, tok(len(content))
        if name == "Bash":
            command, desc, out = self._shell()
            result = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
            return {"command": command, "description": desc}, out, result, tok(len(out))
        if name == "Grep":
            pattern = text.word() if rng.random() < 0.6 else f"def {text.word()}_"
            hits = []
            for _ in range(rng.randint(1, 40)):
                f = rng.choice(proj.files)
                i = rng.randrange(len(f.lines))
                hits.append(f"{f.path.removeprefix(proj.cwd + '/')}:{i + 1}:{f.lines[i]}")
            content = "\n".join(hits)
            result = {
                "mode": "content",
                "numFiles": len({h.split(":", 1)[0] for h in hits}),
                "filenames": [],
                "content": content,
                "numLines": len(hits),
            }
            inp = {"pattern": pattern, "path": "src", "output_mode": "content", "-n": True}
            return inp, content, result, tok(len(content))
        if name == "Glob":
            ext = "py" if proj.lang == "py" else "ts"
            names = sorted(
                {f.path for f in rng.sample(proj.files, min(len(proj.files), rng.randint(1, 30)))}
            )
            content = "\n".join(names)
            result = {
                "filenames": names,
                "durationMs": rng.randint(5, 400),
                "numFiles": len(names),
                "truncated": False,
            }
            return {"pattern": f"**/*.{ext}"}, content, result, tok(len(content))
        if name == "WebFetch":
            url = f"https://docs.example.com/{text.word()}/{text.word()}"
            body = "# " + text.sentence(3, 6) + "\n\n" + text.say(rng.randint(500, 6_000))
            result = {
                "bytes": len(body) * 9,
                "code": 200,
                "codeText": "OK",
                "result": body,
                "durationMs": rng.randint(800, 9_000),
                "url": url,
            }
            return {"url": url, "prompt": text.sentence()}, body, result, tok(len(body))
        if name == "WebSearch":
            query = " ".join(text.word() for _ in range(rng.randint(3, 7)))
            links = [
                {
                    "title": text.sentence(3, 7),
                    "url": f"https://example.org/{text.word()}/{rng.randint(1, 9999)}",
                }
                for _ in range(rng.randint(3, 8))
            ]
            summary = text.say(rng.randint(300, 2_000))
            content = (
                f'Search results for "{query}"\n\nLinks: '
                + orjson.dumps(links).decode()
                + "\n\n"
                + summary
            )
            result = {
                "query": query,
                "results": [
                    {"tool_use_id": self.ids.tag("srvtoolu_01", 22), "content": links},
                    summary,
                ],
                "durationSeconds": round(rng.uniform(2.0, 12.0), 3),
            }
            return {"query": query}, content, result, tok(len(content))
        if name == "TodoWrite":
            old = self.todos
            todos = []
            for i in range(rng.randint(3, 7)):
                item = text.sentence(4, 9)[:-1]
                status = (
                    "completed"
                    if i < len(old) // 2
                    else ("in_progress" if i == len(old) // 2 else "pending")
                )
                todos.append(
                    {"content": item, "status": status, "activeForm": "Working on " + item.lower()}
                )
            self.todos = todos
            content = "Todo list updated. Keep it current as the work moves on."
            return (
                {"todos": todos},
                content,
                {"oldTodos": old, "newTodos": todos},
                tok(len(content)),
            )
        if name == "mcp__github__create_issue":
            title = text.sentence(4, 8)[:-1]
            body = text.say(rng.randint(200, 1_200))
            number = rng.randint(10, 900)
            repo = proj.cwd.rsplit("/", 1)[1]
            issue = {
                "number": number,
                "html_url": f"https://github.example/dev-team/{repo}/issues/{number}",
                "state": "open",
                "title": title,
            }
            content = [{"type": "text", "text": orjson.dumps(issue).decode()}]
            inp = {"owner": "dev-team", "repo": repo, "title": title, "body": body}
            return inp, content, content, tok(len(content[0]["text"]))
        if name == "Task":
            inp = {
                "subagent_type": rng.choice(_SUBAGENT_TYPES),
                "description": text.sentence(3, 5)[:-1],
                "prompt": text.say(rng.randint(200, 1_500)),
            }
            return inp, "", {}, 0
        raise ValueError(name)

    def _shell(self) -> tuple[str, str, str]:
        rng = self.rng
        text = self.text
        proj = self.project
        size = _lognorm(rng, self.g.profile.output_median, 1.0, 40, self.g.profile.output_max)
        py = proj.lang == "py"
        kind = rng.choice(("test", "test", "status", "diff", "ls", "build", "grep", "log"))
        if kind == "test":
            cmd = "pytest -q" if py else "npm test"
            body = text.cut(text.tests, size)
            passed = body.count("PASSED")
            failed = body.count("FAILED")
            tail = f"{passed} passed" + (f", {failed} failed" if failed else "")
            return (
                cmd,
                "Run the test suite",
                f"{body}\n=== {tail} in {rng.uniform(0.5, 40):.2f}s ===",
            )
        if kind == "status":
            mods = rng.sample(proj.files, min(len(proj.files), rng.randint(1, 8)))
            rel = [f.path.removeprefix(proj.cwd + "/") for f in mods]
            out = (
                f"On branch {self.branch}\nChanges not staged for commit:\n"
                '  (use "git add <file>..." to update what will be committed)\n'
                + "".join(f"\tmodified:   {r}\n" for r in rel)
            )
            return "git status", "Show working tree status", out
        if kind == "diff":
            f = rng.choice(proj.files)
            rel = f.path.removeprefix(proj.cwd + "/")
            k = rng.randrange(len(f.lines))
            hunk = f.lines[k : k + max(3, size // 40)]
            out = (
                f"diff --git a/{rel} b/{rel}\n--- a/{rel}\n+++ b/{rel}\n"
                f"@@ -{k + 1},{len(hunk)} +{k + 1},{len(hunk) + 1} @@\n"
                + "\n".join(("+" if rng.random() < 0.2 else " ") + x for x in hunk)
            )
            return "git diff", "Show unstaged changes", out
        if kind == "ls":
            rows = [f"total {rng.randint(8, 400)}"]
            for f in rng.sample(proj.files, min(len(proj.files), rng.randint(3, 25))):
                rows.append(
                    f"-rw-r--r--  1 dev dev {len(f.raw):>6} Nov {rng.randint(1, 28):>2} "
                    f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {f.path.rsplit('/', 1)[1]}"
                )
            return "ls -la", "List files", "\n".join(rows)
        if kind == "build":
            cmd = "ruff check ." if py else "npm run build"
            return cmd, "Build and lint", text.cut(text.logs, size)
        if kind == "grep":
            w = text.word()
            hits = []
            for _ in range(max(1, size // 70)):
                f = rng.choice(proj.files)
                i = rng.randrange(len(f.lines))
                hits.append(f"{f.path.removeprefix(proj.cwd + '/')}:{i + 1}:{f.lines[i]}")
            return f"rg -n {w} src", f"Search for {w}", "\n".join(hits)
        return "tail -n 200 logs/app.log", "Read the recent log", text.cut(text.logs, size)

    # ------------------------------------------------------------- specials

    def _synthetic(self) -> None:
        """A locally generated error line: `<synthetic>` model, zero usage, no requestId."""
        main = self.main
        d = main.line()
        d["type"] = "assistant"
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = _iso(self.t)
        d["message"] = {
            "id": self.ids.uuid(),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": None,
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            },
            "content": [{"type": "text", "text": "API Error: 529 Overloaded. Try again shortly."}],
        }
        d["isApiErrorMessage"] = True
        main.emit(d)

    def _side_thread(self, agent_id: str, flat: bool, *, system: int, warm: int) -> _Thread:
        head = dict(self.main.head)
        head["isSidechain"] = True
        slug = head.pop("slug", None)
        head["agentId"] = agent_id
        if slug is not None:
            head["slug"] = slug
        if flat:
            path = self.proj_dir / f"agent-{agent_id}.jsonl"
        else:
            path = self.proj_dir / self.session_id / "subagents" / f"agent-{agent_id}.jsonl"
        th = _Thread(path, head, ttl_ms=5 * _MIN, system_tokens=system, warm_prefix=warm)
        self.side_files.append(th)
        return th

    def _run_subagent(
        self, parent: _Thread, source: dict[str, Any], tool_id: str, task: dict[str, Any]
    ) -> tuple[Any, Any, int]:
        """A sub-agent: its own file, plus copies of its calls in the parent's progress lines."""
        rng = self.rng
        flat = not parent.new_format
        agent_id = "a" + self.ids.hex(6)
        system = rng.randint(9_000, 15_000)
        th = self._side_thread(
            agent_id, flat, system=system, warm=0 if rng.random() < 0.5 else system // 2
        )
        model = _weighted(rng, _SUBAGENT_MODELS)
        start = self.t
        self._prompt(th, task["prompt"])
        steps = rng.randint(3, 12)
        for s in range(steps):
            self.t += rng.randint(1_000, 8_000)
            self._step(th, model, final=s == steps - 1, allow_task=False)
        # The parent's progress lines carry full copies of the agent's assistant lines.
        copies = th.assistant_lines
        tail_usage: dict[str, Any] = copies[-1]["message"]["usage"] if copies else {}
        tools_used = steps - 1
        if parent.new_format:
            for c in copies:
                d = parent.line()
                d["type"] = "progress"
                d["data"] = {
                    "message": c,
                    "normalizedMessages": [],
                    "type": "agent_progress",
                    "prompt": task["prompt"],
                    "agentId": agent_id,
                }
                d["toolUseID"] = "agent_" + c["message"]["id"]
                d["parentToolUseID"] = tool_id
                d["uuid"] = self.ids.uuid()
                d["timestamp"] = c["timestamp"]
                parent.emit(d)
        report = self.text.say(rng.randint(300, 2_500))
        content: list[dict[str, str]] = [{"type": "text", "text": report}]
        if parent.new_format:
            content.append(
                {"type": "text", "text": f"agentId: {agent_id} (use it to resume this agent)"}
            )
        total = sum(
            tail_usage.get(k, 0)
            for k in (
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
            )
        )
        result: dict[str, Any] = {
            "status": "completed",
            "prompt": task["prompt"],
        }
        if parent.new_format:
            result["agentId"] = agent_id
        result.update(
            {
                "content": [content[0]],
                "totalDurationMs": self.t - start,
                "totalTokens": total,
                "totalToolUseCount": tools_used,
                "usage": tail_usage,
            }
        )
        return content, result, self.g._tok(len(report))

    def _compact(self, *, manual: bool) -> None:
        """Compaction: the summarising call in `agent-acompact-*`, then a fresh context."""
        rng = self.rng
        main = self.main
        text = self.text
        if manual:
            self._prompt(
                main,
                "<command-name>/compact</command-name>\n            "
                "<command-message>compact</command-message>\n            "
                "<command-args></command-args>",
            )
        self.t += rng.randint(1_000, 5_000)
        pre = main.ctx + main.pending
        th = self._side_thread("acompact-" + self.ids.hex(6), False, system=0, warm=0)
        th.parent = main.parent
        instructions = (
            "Summarise the conversation so far so that the work can continue in a fresh context. "
            + text.say(rng.randint(1_500, 4_000))
        )
        self._prompt(th, instructions)
        # The summary call re-sends the whole conversation; most of it is a cache write.
        th.ctx = 0
        th.pending = pre + self.g._tok(len(instructions))
        th.warm_prefix = min(pre, main.system_tokens)
        summary = text.say(rng.randint(3_000, 9_000))
        self.t += rng.randint(20_000, 90_000)
        output = max(500, self.g._out_tok(len(summary)))
        self._call(th, self.model, [{"type": "text", "text": summary}], output, final=True)
        boundary = main.line(None)
        boundary.update(
            {
                "logicalParentUuid": main.parent,
                "type": "system",
                "subtype": "compact_boundary",
                "content": "Conversation compacted",
                "isMeta": False,
                "timestamp": _iso(self.t),
                "uuid": self.ids.uuid(),
                "level": "info",
                "compactMetadata": {"trigger": "manual" if manual else "auto", "preTokens": pre},
            }
        )
        main.emit(boundary)
        body = "This session is being continued from a previous conversation. Summary:\n" + summary
        d = main.line()
        d["type"] = "user"
        d["message"] = {"role": "user", "content": body}
        d["isVisibleInTranscriptOnly"] = True
        d["isCompactSummary"] = True
        d["uuid"] = self.ids.uuid()
        d["timestamp"] = _iso(self.t + 5)
        main.emit(d)
        main.ctx = 0
        main.pending = main.system_tokens + self.g._tok(len(body))
        main.last_call_ms = None
        self.special = self.special.replace("compact", "")


class _CodexSession:
    """Plays one Codex CLI rollout: cumulative token_count events, half of them re-emitted."""

    def __init__(self, gen: _Generator, start: int) -> None:
        self.g = gen
        self.rng = gen.rng
        self.text = gen.text
        self.t = start
        self.chunks: list[bytes] = []
        self.nbytes = 0
        rng = self.rng
        self.project = rng.choice(gen.text.projects)
        # The second rollout (and a few later ones) uses a model that has no known price.
        self.unpriced = gen.t.codex_sessions == 1 or rng.random() < 0.03
        self.model = _UNPRICED_CODEX_MODEL if self.unpriced else _weighted(rng, _CODEX_MODELS)
        self.total = [0, 0, 0, 0, 0]
        self.ctx = 0
        self.pending = rng.randint(8_000, 12_000)
        self.last_ms: int | None = None

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        b = orjson.dumps({"timestamp": _iso(self.t), "type": kind, "payload": payload}, option=_NL)
        self.chunks.append(b)
        self.nbytes += len(b)

    def play(self) -> None:
        g = self.g
        rng = self.rng
        sid = g.ids.uuid7(self.t)
        cwd = self.project.cwd
        g_ = time.gmtime(self.t // 1000)
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", g_)
        path = (
            g.dest
            / "codex"
            / "sessions"
            / f"{g_.tm_year:04d}"
            / f"{g_.tm_mon:02d}"
            / f"{g_.tm_mday:02d}"
            / f"rollout-{stamp}-{sid}.jsonl"
        )
        self.emit(
            "session_meta",
            {
                "id": sid,
                "timestamp": _iso(self.t - rng.randint(5, 400)),
                "cwd": cwd,
                "originator": "codex_cli_rs",
                "cli_version": "0.63.0",
                "instructions": None,
                "source": "cli",
                "model_provider": "oss" if self.unpriced else "openai",
                "git": {
                    "commit_hash": g.ids.hex(40),
                    "branch": rng.choice(_BRANCHES),
                    "repository_url": f"git@github.example:dev-team/{cwd.rsplit('/', 1)[1]}.git",
                },
            },
        )
        env = (
            f"<environment_context>\n  <cwd>{cwd}</cwd>\n"
            "  <approval_policy>on-request</approval_policy>\n"
            "  <sandbox_mode>workspace-write</sandbox_mode>\n"
            "  <network_access>restricted</network_access>\n"
            "  <shell>bash</shell>\n</environment_context>"
        )
        self.emit(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": env}]},
        )
        lo, hi, mode = g.profile.turns
        turns = max(1, int(rng.triangular(lo, max(lo + 1, hi // 2), mode)))
        for turn in range(turns):
            if turn > 0:
                if g._over_budget(self.nbytes) or self.ctx > _CODEX_END_AT:
                    break
                self.t += (
                    rng.randint(20_000, 4 * _MIN)
                    if rng.random() < 0.85
                    else rng.randint(6 * _MIN, 50 * _MIN)
                )
                if self.t > g.end_ms:
                    break
            self._turn()
        g._write(path, self.chunks, self.nbytes)

    def _turn(self) -> None:
        g = self.g
        rng = self.rng
        text = self.text
        cwd = self.project.cwd
        prompt = rng.choice(_PROMPTS).format(
            path=rng.choice(self.project.files).path.removeprefix(cwd + "/"),
            a=text.word(),
            b=text.word(),
        )
        self.emit(
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": prompt}],
            },
        )
        self.emit("event_msg", {"type": "user_message", "message": prompt, "images": []})
        self.emit(
            "turn_context",
            {
                "cwd": cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {
                    "type": "workspace-write",
                    "writable_roots": [cwd],
                    "network_access": False,
                    "exclude_tmpdir_env_var": False,
                    "exclude_slash_tmp": False,
                },
                "model": self.model,
                "effort": "medium",
                "summary": "auto",
            },
        )
        self.pending += g._tok(len(prompt))
        if rng.random() < 0.3:
            self.t += rng.randint(300, 1_500)
            self.emit(
                "event_msg",
                {"type": "token_count", "info": None, "rate_limits": g._rate_limits(self.t, 0)},
            )
        calls = min(g.profile.calls_max, 1 + int(rng.expovariate(1.0 / g.profile.calls_mean)))
        for c in range(calls):
            self._call(final=c == calls - 1)

    def _call(self, *, final: bool) -> None:
        g = self.g
        rng = self.rng
        text = self.text
        self.t += rng.randint(2_000, 20_000)
        title = "**" + text.sentence(2, 5)[:-1] + "**"
        self.emit("event_msg", {"type": "agent_reasoning", "text": title})
        self.emit(
            "response_item",
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": title}],
                "content": None,
                "encrypted_content": "gAAAAAB" + text.blob_of(rng.randint(800, 3_200)),
            },
        )
        call_id = g.ids.tag("call_", 24)
        output_item: tuple[str, dict[str, Any]] | None = None
        out_chars = len(title) * 4
        if final:
            said = text.say(rng.randint(150, 1_500))
            self.emit("event_msg", {"type": "agent_message", "message": said})
            self.emit(
                "response_item",
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": said}],
                },
            )
            out_chars += len(said)
        else:
            r = rng.random()
            if r < 0.7:
                command = self._command()
                args = orjson.dumps(
                    {"command": ["bash", "-lc", command], "workdir": self.project.cwd}
                ).decode()
                self.emit(
                    "response_item",
                    {
                        "type": "function_call",
                        "name": "shell",
                        "arguments": args,
                        "call_id": call_id,
                    },
                )
                size = _lognorm(rng, g.profile.output_median, 1.0, 20, g.profile.output_max // 2)
                body = text.cut(text.logs if "rg" not in command else text.tests, size)
                out = f"Exit code: 0\nWall time: {rng.uniform(0.1, 9):.1f} seconds\nOutput:\n{body}"
                output_item = (
                    "function_call_output",
                    {"type": "function_call_output", "call_id": call_id, "output": out},
                )
                out_chars += len(args)
            elif r < 0.92:
                f = rng.choice(self.project.files)
                rel = f.path.removeprefix(self.project.cwd + "/")
                k = rng.randrange(len(f.lines))
                lines = f.lines[k : k + rng.randint(2, 12)]
                patch = (
                    f"*** Begin Patch\n*** Update File: {rel}\n@@\n"
                    + "".join(f"-{x}\n" for x in lines[:1])
                    + "".join(f"+{x}\n" for x in lines)
                    + "*** End Patch"
                )
                self.emit(
                    "response_item",
                    {
                        "type": "custom_tool_call",
                        "status": "completed",
                        "call_id": call_id,
                        "name": "apply_patch",
                        "input": patch,
                    },
                )
                meta = {
                    "output": f"Patch applied. Changed:\nM {rel}\n",
                    "metadata": {"exit_code": 0, "duration_seconds": 0.0},
                }
                output_item = (
                    "custom_tool_call_output",
                    {
                        "type": "custom_tool_call_output",
                        "call_id": call_id,
                        "output": orjson.dumps(meta).decode(),
                    },
                )
                out_chars += len(patch)
            else:
                plan = [
                    {"step": text.sentence(3, 7)[:-1], "status": s}
                    for s in ("completed", "in_progress", "pending")
                ]
                args = orjson.dumps({"plan": plan}).decode()
                self.emit(
                    "response_item",
                    {
                        "type": "function_call",
                        "name": "update_plan",
                        "arguments": args,
                        "call_id": call_id,
                    },
                )
                output_item = (
                    "function_call_output",
                    {"type": "function_call_output", "call_id": call_id, "output": "Plan updated"},
                )
                out_chars += len(args)
        output = max(20, min(6_000, g._out_tok(out_chars) + rng.randint(20, 400)))
        reasoning = int(output * rng.uniform(0.2, 0.7))
        prompt = self.ctx + self.pending
        if self.last_ms is None or self.t - self.last_ms > 10 * _MIN:
            cached = rng.choice((0, 3456, 4480)) if prompt > 5_000 else 0
        else:
            cached = (self.ctx // 128) * 128
        cached = min(cached, prompt)
        last = {
            "input_tokens": prompt,
            "cached_input_tokens": cached,
            "output_tokens": output,
            "reasoning_output_tokens": reasoning,
            "total_tokens": prompt + output,
        }
        tot = self.total
        for i, v in enumerate(last.values()):
            tot[i] += v
        total = dict(zip(last, tot, strict=True))
        self.ctx = prompt + output
        self.pending = 0
        self.last_ms = self.t
        window = 272_000 if not self.model.startswith("gpt-oss") else 131_072
        info = {
            "total_token_usage": total,
            "last_token_usage": last,
            "model_context_window": window,
        }
        self.t += rng.randint(5, 60)
        self.emit(
            "event_msg",
            {
                "type": "token_count",
                "info": info,
                "rate_limits": g._rate_limits(self.t, prompt - cached + output),
            },
        )
        if rng.random() < 0.5:
            self.t += rng.randint(200, 2_000)
            self.emit(
                "event_msg",
                {"type": "token_count", "info": info, "rate_limits": g._rate_limits(self.t, 0)},
            )
        if output_item is not None:
            self.t += rng.randint(100, 6_000)
            kind, payload = output_item
            self.emit("response_item", payload)
            self.pending += g._tok(len(payload["output"]))
        t = g.t
        t.codex_calls += 1
        t.x_in += prompt
        t.x_cached += cached
        t.x_out += output

    def _command(self) -> str:
        rng = self.rng
        w = self.text.word()
        py = self.project.lang == "py"
        return rng.choice(
            (
                f"rg -n {w} src",
                "pytest -q" if py else "npm test",
                "git status --short",
                f"sed -n '1,200p' src/{w}.{'py' if py else 'ts'}",
                "ls -la",
                "git diff --stat",
            )
        )


def isolated_environment(home: Path) -> dict[str, str]:
    """Every variable a log source or platformdirs reads, pointed into `home`.

    Tests, benchmarks and screenshots run with these, so nothing ever reads the
    real home directory; a new source's variables are covered by its declaration.
    """
    folders = {
        "HOME": ".",
        "XDG_CACHE_HOME": ".cache",
        "XDG_CONFIG_HOME": ".config",
        "XDG_DATA_HOME": ".local/share",
        "XDG_STATE_HOME": ".local/state",
    }
    return {name: str(home / folder) for name, folder in folders.items()} | home_environment(home)


def generate(
    dest: Path,
    *,
    seed: int = 7,
    end: date = date(2026, 11, 22),
    days: int = 28,
    target_bytes: int | None = None,
    claude_only: bool = False,
) -> GenerationSummary:
    """Write Claude Code logs under `dest/claude/projects` and Codex rollouts under `dest/codex`.

    Without `target_bytes`: a demo set of about 3 MB over `days` days, with a few sessions of
    each source in its 2026 shape (Gemini CLI and OpenCode too) in the last days. With it:
    sessions are added (Claude-heavy, like a heavy user) until about that many bytes are
    written. The same arguments always give the same files.
    """
    summary = _Generator(Path(dest), seed, end, days, target_bytes, claude_only).run()
    if target_bytes is not None:
        return summary
    from tokentree.synthetic_2026 import write_recent  # it builds on this module's helpers

    recent = write_recent(Path(dest), seed, end, claude_only)
    files, nbytes = summary.files + len(recent.files), summary.bytes + recent.bytes
    return replace(summary, files=files, bytes=nbytes, recent=recent)


def main(argv: list[str] | None = None) -> int:
    """`python -m tokentree.synthetic DEST [--seed N] [--mb N] [--claude-only]`."""
    parser = argparse.ArgumentParser(prog="python -m tokentree.synthetic", description=main.__doc__)
    parser.add_argument("dest", type=Path, help="folder to write the logs into, one per source")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--mb", type=float, default=None, help="about this many MB (default: demo set)"
    )
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 22))
    parser.add_argument("--claude-only", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate(
        args.dest,
        seed=args.seed,
        end=args.end,
        days=args.days,
        target_bytes=None if args.mb is None else int(args.mb * 1_000_000),
        claude_only=args.claude_only,
    )
    print(summary.describe())
    print(f"took             {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
