"""A handoff prompt: what a session did, for a fresh thread to pick up from, built from the
index's metadata only (tool names, file basenames, the first word of a command), so no prompt
or file text can be in it: the index never kept any."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, tzinfo

from tokentree import format as fmt
from tokentree.core.advice import Advice
from tokentree.core.attribution import SHELL_TOOLS, tool_bucket
from tokentree.core.records import ApiCall
from tokentree.core.tree import Node, project_name

SHOWN = 8  # names listed per kind before "+N more"
_KINDS = (
    ("reading", "Files read"),
    ("editing", "Files edited"),
    ("testing", "Tests run"),
    ("commands", "Commands run"),
    ("git", "Git"),
    ("web", "Sites"),
)
_FILE_KINDS = ("reading", "editing")


def handoff_text(
    session: Node, calls: Sequence[ApiCall], advice: Sequence[Advice], zone: tzinfo
) -> str:
    """The prompt, in Markdown: the session's project, span, spend and context, what it read,
    edited and ran (most used first), and the advice about it."""
    calls = sorted(calls, key=lambda call: call.timestamp)
    folder = project_name(session.project)
    start = datetime.fromtimestamp(session.start, zone)
    end = datetime.fromtimestamp(session.end, zone)
    models = ", ".join(model for model, _ in session.models.most_common(3))
    totals = session.totals
    cost = fmt.cost(totals.cost, unpriced=totals.unpriced_calls, calls=totals.calls)
    context = fmt.tokens(calls[-1].tokens.prompt) if calls else "0"
    lines = [
        f"# Handoff: {folder} ({session.source} session {session.session_id[:8]})",
        "",
        f"Continue the work of an earlier session in {session.project or 'an unknown folder'}."
        " What it did, from its logs' metadata (no prompt or file text was kept):",
        "",
        f"- When: {start:%Y-%m-%d %H:%M}–{end:%H:%M} ({start:%Z}),"
        f" {_count(session.turns, 'turn')}, {_count(totals.calls, 'call')} on {models}",
        f"- Cost so far: {cost}; context at the end: {context} tokens per call",
    ]
    used = _targets(calls)
    for activity, title in _KINDS:
        if used[activity]:
            lines.append(f"- {title}: {_listed(used[activity])}")
    for item in advice:
        lines.append(f"- Advice ({item.title.lower()}): {item.message}")
    lines += [
        "",
        "Start from a small context: read the files edited above, look at `git status` and"
        " `git diff`, and run the tests before going on.",
    ]
    return "\n".join(lines) + "\n"


def _targets(calls: Sequence[ApiCall]) -> dict[str, Counter[str]]:
    """Per activity class, what its tools were used on: a file's basename, a program's name."""
    found: dict[str, Counter[str]] = {activity: Counter() for activity, _ in _KINDS}
    for call in calls:
        for label in call.tools:
            activity = tool_bucket(label).activity
            name, _, target = label.partition(" ")
            if name.lower() in SHELL_TOOLS and activity in _FILE_KINDS:
                activity = "commands"  # rg, cat, sed: a program that read or wrote, not a file
            if activity in found and target:  # a search names no file: it is left out
                found[activity][target] += 1
    return found


def _count(number: int, thing: str) -> str:
    return f"{number:,} {thing}" if number == 1 else f"{number:,} {thing}s"


def _listed(counts: Counter[str]) -> str:
    names = [f"{name} ×{count}" if count > 1 else name for name, count in counts.most_common(SHOWN)]
    more = len(counts) - SHOWN
    return ", ".join(names) + (f" (+{more} more)" if more > 0 else "")
