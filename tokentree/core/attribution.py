"""What each call was doing (reading, editing, testing…) and how much of its prompt was history.

A call is classified from the tool labels it requested (metadata only: "Read app.py",
"Bash pytest", "shell rg", "apply_patch x.py") and from where it ran (a sub-agent, the
compaction call). A call that asked for several tools is split across their classes in
proportion to how many tools of each it asked for; token counts are split with the
largest-remainder method, so the parts of every node add up to its totals exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tokentree.core.records import ApiCall
from tokentree.core.tree import ABOVE_SESSIONS, Kind, Node

CLASSES = (
    "reading",
    "editing",
    "commands",
    "testing",
    "git",
    "web",
    "planning",
    "delegation",
    "compaction",
    "conversation",
    "other",
)
"""Every activity class, in the order they are shown and ties are broken."""

CLASS_HELP = {
    "reading": "reading and searching files: Read, Grep, Glob, read_file, grep_search, list, "
    "and shell commands that only look (cat, sed, rg, ls, find…)",
    "editing": "changing files: Edit, Write, MultiEdit, apply_patch, write_file, replace, edit",
    "commands": "running other shell commands (Bash, shell, run_shell_command, bash)",
    "testing": "shell commands whose program is a test runner (pytest, jest, vitest, tox…); "
    "`npm test` or `go test` count as commands: only the program's name is logged",
    "git": "git, gh and other version-control programs, and git-hosting MCP servers",
    "web": "WebFetch, WebSearch, web_search, google_web_search, webfetch, curl, wget",
    "planning": "TodoWrite, update_plan, write_todos, todowrite, plan mode",
    "delegation": "every call a sub-agent made, and the calls that launched one (Task, Agent, "
    "task)",
    "compaction": "the call that summarised a long conversation (Claude Code's acompact agent)",
    "conversation": "calls that asked for no tool: answers, questions, thinking",
    "other": "MCP tools (by server name) and tools tokentree does not know",
}


def _table(spec: dict[str, str]) -> dict[str, str]:
    """{class: "name name …"} → {name: class}."""
    return {name: activity for activity, names in spec.items() for name in names.split()}


_BY_NAME = _table(
    {  # lower-cased tool names of Claude Code, Codex, Gemini CLI and OpenCode
        "reading": "read notebookread grep glob ls view_image read_file read_many_files "
        "list_directory grep_search search_file_content list codesearch lsp",
        "editing": "edit multiedit write notebookedit apply_patch write_file replace patch",
        "commands": "bashoutput killshell killbash write_stdin kill_shell",
        "web": "webfetch websearch web_search web_fetch google_web_search",
        "planning": "todowrite todoread exitplanmode enterplanmode update_plan write_todos",
        "delegation": "task agent spawn_agent",
        "conversation": "askuserquestion",
    }
)
SHELL_TOOLS = frozenset(
    "bash shell shell_command exec_command local_shell container.exec run_shell_command".split()
)
_PROGRAMS = _table(
    {  # the program a shell tool ran: the only part of a command that is logged
        "testing": "pytest py.test jest vitest mocha ava tox nox rspec phpunit ctest karma "
        "cypress nosetests unittest bats",
        "git": "git gh glab hub jj hg svn",
        "reading": "cat head tail less more ls find fd rg grep egrep ag ack tree wc nl sed awk "
        "jq yq file stat du pwd which bat diff",
        "web": "curl wget http xh",
        "editing": "apply_patch applypatch patch",
    }
)
_MCP_SERVERS = (
    ("git", ("github", "gitlab", "bitbucket", "git")),
    ("web", ("playwright", "puppeteer", "browser", "fetch", "search", "brave", "exa", "tavily")),
    ("web", ("firecrawl", "context7", "perplexity")),
)
_MECHANICAL = frozenset({"reading", "commands", "testing", "git"})
"""Classes whose calls mostly shuttle tool output: candidates for a cheaper model."""


class Bucket(NamedTuple):
    """Where a tool label goes: its class and, for "other", the MCP server or tool name."""

    activity: str
    detail: str = ""

    @property
    def code(self) -> str:
        """The bucket as the index stores it: "reading", "other/mcp:linear"."""
        return f"{self.activity}/{self.detail}" if self.detail else self.activity

    @classmethod
    def of_code(cls, code: str) -> Bucket:
        activity, _, detail = code.partition("/")
        return cls(activity, detail)


_label_cache: dict[str, Bucket] = {}


def tool_bucket(label: str) -> Bucket:
    """The class of one tool label ("Read app.py", "shell rg", "mcp__github__create_issue")."""
    found = _label_cache.get(label)
    if found is None:
        found = _label_cache[label] = _classify(label)
    return found


def _classify(label: str) -> Bucket:
    name, _, target = label.partition(" ")
    lowered = name.lower()
    if lowered.startswith("mcp__"):
        server = lowered.split("__")[1] if lowered.count("__") >= 2 else lowered[5:]
        for activity, words in _MCP_SERVERS:
            if any(word in server for word in words):
                return Bucket(activity)
        return Bucket("other", f"mcp:{server}")
    if lowered in SHELL_TOOLS:
        program = target.lower().removesuffix(".exe")
        return Bucket(_PROGRAMS.get(program, "commands"))
    activity = _BY_NAME.get(lowered)
    return Bucket(activity) if activity else Bucket("other", name)


COMPACTION_MARK = "acompact"
"""In the name of the file Claude Code writes a compaction's summarising call to."""


def is_compaction(call: ApiCall) -> bool:
    """The summarising call of a compaction (Claude Code writes it to `agent-acompact-*`)."""
    return COMPACTION_MARK in call.file


Weights = tuple[tuple[Bucket, int], ...]
"""Buckets and how many of a call's tools fell in each, in CLASSES order."""

_COMPACTION: Weights = ((Bucket("compaction"), 1),)
_DELEGATION: Weights = ((Bucket("delegation"), 1),)
_CONVERSATION: Weights = ((Bucket("conversation"), 1),)
_weights_cache: dict[tuple[str, ...], tuple[Weights, bool]] = {}


def call_buckets(call: ApiCall) -> Weights:
    """How many of the call's tools fall in each bucket; where it ran decides first."""
    return weights_of(call.tools, call.subagent, is_compaction(call))


def weights_of(tools: tuple[str, ...], subagent: bool, compaction: bool) -> Weights:
    """The buckets of a call with these tools, run by a sub-agent or compacting or not: what
    the index decides once per copy (buckets.py) and the tree once per call."""
    if compaction:
        return _COMPACTION
    if subagent:
        return _DELEGATION
    if not tools:
        return _CONVERSATION
    return _tool_facts(tools)[0]


def _tool_facts(tools: tuple[str, ...]) -> tuple[Weights, bool]:
    """The buckets of a tool tuple and whether they are all mechanical, computed once."""
    found = _weights_cache.get(tools)
    if found is None:
        if len(_weights_cache) > 200_000:  # tool tuples name files: bound the memory
            _weights_cache.clear()
        counts: dict[Bucket, int] = {}
        for label in tools:
            bucket = tool_bucket(label)
            counts[bucket] = counts.get(bucket, 0) + 1
        order = sorted(counts, key=lambda bucket: (_ORDER[bucket.activity], bucket.detail))
        weights = tuple((bucket, counts[bucket]) for bucket in order)
        mechanical = all(bucket.activity in _MECHANICAL for bucket in counts)
        found = _weights_cache[tools] = (weights, mechanical)
    return found


def call_activity(call: ApiCall) -> str:
    """The call's main class: the one most of its tools fall in (ties: the first in CLASSES)."""
    return max(call_buckets(call), key=lambda item: item[1])[0].activity


def activity_split(call: ApiCall) -> str:
    """What the call was doing, split as its cost is split between classes (by its tools):
    "reading 50% · editing 50%", or one class."""
    counts: dict[str, int] = {}
    for bucket, count in call_buckets(call):
        counts[bucket.activity] = counts.get(bucket.activity, 0) + count
    if len(counts) == 1:
        return next(iter(counts))
    whole = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: -item[1])  # ties stay in class order
    return " · ".join(f"{name} {count / whole:.0%}" for name, count in ranked)


def is_mechanical(call: ApiCall) -> bool:
    """A main-thread call that only read, ran commands, tests or git: no judgement needed."""
    if call.subagent or not call.tools or is_compaction(call):
        return False
    return _tool_facts(call.tools)[1]


def mechanical(tools: tuple[str, ...]) -> bool:
    """Every tool in `tools` only reads, runs a command, a test or git."""
    return _tool_facts(tools)[1]


_ORDER = {name: position for position, name in enumerate(CLASSES)}


def split_call(call: ApiCall) -> list[tuple[Bucket, int, float]]:
    """The call's tokens and cost per bucket; the token parts sum exactly to its total."""
    return split(call_buckets(call), _total(call), call.cost)


def split(weights: Weights, total: int, cost: float) -> list[tuple[Bucket, int, float]]:
    """`total` tokens and `cost` split across the buckets in proportion to their tool counts."""
    if len(weights) == 1:
        return [(weights[0][0], total, cost)]
    counts = [count for _, count in weights]
    return list(
        zip(
            (bucket for bucket, _ in weights),
            largest_remainder(total, counts),
            _shares(cost, counts),
            strict=True,
        )
    )


def _total(call: ApiCall) -> int:
    t = call.tokens  # the properties chain three calls deep: this runs once per call
    return t.input + t.cache_write_5m + t.cache_write_1h + t.cache_read + t.output


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights` in integers that add up to `total` exactly.

    Each part gets its floor; the units left over go to the largest fractions,
    ties to the earliest part, so the split is deterministic.
    """
    whole = sum(weights)
    if whole <= 0:
        return [total] + [0] * (len(weights) - 1) if weights else []
    parts = [total * weight // whole for weight in weights]
    left = total - sum(parts)
    by_fraction = sorted(range(len(weights)), key=lambda i: (-((total * weights[i]) % whole), i))
    for i in by_fraction[:left]:
        parts[i] += 1
    return parts


def _shares(amount: float, weights: Sequence[int]) -> list[float]:
    whole = sum(weights)
    parts = [amount * weight / whole for weight in weights[:-1]]
    return [*parts, amount - sum(parts)]


@dataclass(slots=True)
class Activity:
    """Tokens and cost per bucket below a node; `classes()` folds "other" details together."""

    tokens: dict[Bucket, int] = field(default_factory=dict)
    cost: dict[Bucket, float] = field(default_factory=dict)

    def add_call(self, call: ApiCall) -> None:
        self.add_calls((call,))

    def add_calls(self, calls: Iterable[ApiCall]) -> None:
        """Add each call's split; one loop with no call per call: it runs 100k times a tree."""
        tokens, cost = self.tokens, self.cost
        for call in calls:
            weights = call_buckets(call)
            if len(weights) == 1:
                bucket = weights[0][0]
                t = call.tokens
                total = t.input + t.cache_write_5m + t.cache_write_1h + t.cache_read + t.output
                tokens[bucket] = tokens.get(bucket, 0) + total
                cost[bucket] = cost.get(bucket, 0.0) + call.cost
                continue
            for bucket, count, dollars in split_call(call):
                tokens[bucket] = tokens.get(bucket, 0) + count
                cost[bucket] = cost.get(bucket, 0.0) + dollars

    def add(self, other: Activity) -> None:
        tokens, cost = self.tokens, self.cost
        for bucket, count in other.tokens.items():
            tokens[bucket] = tokens.get(bucket, 0) + count
            cost[bucket] = cost.get(bucket, 0.0) + other.cost[bucket]

    def classes(self) -> dict[str, tuple[int, float]]:
        """(tokens, cost) per class, in CLASSES order, only the classes present."""
        folded: dict[str, list[Any]] = {}
        for bucket, count in self.tokens.items():
            part = folded.setdefault(bucket.activity, [0, 0.0])
            part[0] += count
            part[1] += self.cost[bucket]
        return {name: (folded[name][0], folded[name][1]) for name in CLASSES if name in folded}

    def other(self) -> dict[str, tuple[int, float]]:
        """The "other" class by MCP server ("mcp:linear") or unknown tool name, biggest first."""
        found = [
            (bucket.detail, (count, self.cost[bucket]))
            for bucket, count in self.tokens.items()
            if bucket.activity == "other"
        ]
        return dict(sorted(found, key=lambda item: (-item[1][1], -item[1][0], item[0])))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """`{class: {"tokens": n, "cost_usd": x}}`: the export's `activity`."""
        return {
            name: {"tokens": tokens, "cost_usd": round(cost, 6)}
            for name, (tokens, cost) in self.classes().items()
        }

    def dominant(self) -> str | None:
        """The class that cost the most (by tokens when nothing was priced)."""
        classes = self.classes()
        if not classes:
            return None
        return max(classes, key=lambda name: (classes[name][1], classes[name][0]))


SPARKS = "▁▂▃▄▅▆▇█"


def mix(activity: Activity, order: Sequence[str] = CLASSES) -> str:
    """One glyph per class of `order`, as tall as its share of the cost (of tokens if unpriced);
    a space where a class has nothing. The list view's Mix column."""
    classes = activity.classes()
    by_cost = any(cost > 0 for _, cost in classes.values())
    values = {name: part[1] if by_cost else part[0] for name, part in classes.items()}
    total = sum(values.values())
    glyphs = []
    for name in order:
        value = values.get(name, 0)
        share = value / total if total else 0
        glyphs.append(SPARKS[min(7, int(share * 8))] if value > 0 else " ")
    return "".join(glyphs)


def turn_calls(turn: Node) -> Sequence[ApiCall]:
    """A turn's calls in time order, without building its call rows (most are never shown)."""
    pending = turn._unbuilt_calls
    if pending is not None:
        return pending[0]
    return [leaf.call for leaf in turn._children if leaf.call is not None]


def calls_of(node: Node) -> Iterator[ApiCall]:
    """Every call below `node`, in tree order, without building turns' call rows."""
    if node.call is not None:
        yield node.call
    elif node.kind is Kind.TURN:
        yield from turn_calls(node)
    else:
        for child in node.children:
            yield from calls_of(child)


class Attribution:
    """The activity of every node of a tree: a built tree's filled in one pass (call rows on
    demand); a served tree's (served.py) known for its weeks and days, the rest when asked."""

    def __init__(self, root: Node, known: Mapping[Node, Activity] | None = None) -> None:
        self._known: Mapping[Node, Activity] = known or {}  # read, never written: a grouped
        self._activity: dict[Node, Activity] = {}  # view adds its groups' days as they load
        if known is None:
            self._fill(root)

    def _fill(self, node: Node) -> Activity:
        activity = Activity()
        if node.call is not None:
            activity.add_call(node.call)
        elif node.kind is Kind.TURN:
            activity.add_calls(turn_calls(node))
        else:
            for child in node.children:
                activity.add(self._fill(child))
        self._activity[node] = activity
        return activity

    def __getitem__(self, node: Node) -> Activity:
        found = self._activity.get(node)
        if found is None:
            found = self._known.get(node)
        if found is None:  # a call row built after the pass, a node of another tree, or a
            if node.kind in ABOVE_SESSIONS or node.kind is Kind.SESSION:  # served day's
                found = Activity()
                for child in node.children:
                    found.add(self[child])
            else:
                found = activity_of(node)
            self._activity[node] = found
        return found


def activity_of(node: Node) -> Activity:
    """The activity below one node (use Attribution for many nodes of one tree)."""
    activity = Activity()
    activity.add_calls(calls_of(node))
    return activity


# --- context accounting ---------------------------------------------------------------------


class ContextPoint(NamedTuple):
    """One main-thread call of a session: how big its prompt was and how much was history."""

    timestamp: float
    turn: str
    prompt: int
    carried: int
    new: int


def carried(call: ApiCall) -> int:
    """Tokens of the prompt an earlier call had already sent: what the cache served.

    The rest (uncached input and cache writes) is new material: the prompt,
    tool results, or history whose cache had expired.
    """
    return call.tokens.cache_read


def new_material(call: ApiCall) -> int:
    return call.tokens.input + call.tokens.cache_write


def carried_share(call: ApiCall) -> float | None:
    prompt = call.tokens.prompt
    return call.tokens.cache_read / prompt if prompt else None


def context_curve(session: Node) -> list[ContextPoint]:
    """The session's context per main-thread call: its growth, compactions and resets.

    Sub-agent calls are left out: each starts its own small context.
    """
    return [
        ContextPoint(
            call.timestamp, turn.key, call.tokens.prompt, carried(call), new_material(call)
        )
        for turn in session.children
        for call in turn_calls(turn)
        if not call.subagent
    ]
