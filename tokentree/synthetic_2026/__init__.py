"""Sample logs in the 2026 shapes of every source (FORMATS.md §9), for the demo set.

synthetic.py simulates Claude Code and Codex as they logged in 2025; these few hand-written
sessions add what each assistant writes since 2026, so `--demo` shows all four sources and
every 2026 field the readers know. Their token counts are fixed tables, so the totals a reader
must find are known exactly (RecentSummary); the seed draws only the ids.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tokentree.synthetic_2026 import claude, codex, gemini, opencode
from tokentree.synthetic_2026.files import Files, RecentSummary, SourceTotals

__all__ = ["RecentSummary", "SourceTotals", "write_recent"]


def write_recent(dest: Path, seed: int, end: date, claude_only: bool = False) -> RecentSummary:
    """Write the sessions below `dest`, dated in the week up to `end` (one rollout, and an
    OpenCode session, older), the same bytes for the same arguments."""
    files = Files(dest, seed, end)
    claude.write(files)
    if not claude_only:
        codex.write(files)
        gemini.write(files)
        opencode.write(files)
    return files.summary()
