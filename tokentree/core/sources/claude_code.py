"""Claude Code transcripts: `<root>/projects/<encoded cwd>/<session>.jsonl` and sub-agent files.

Where they are and which files they are; reading them is claude_code_parse.py, imported
only when a file has something new to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tokentree.core.sources.base import basename
from tokentree.core.sources.declaration import Source, parser_in
from tokentree.core.tail import Markers

NAME = "claude-code"
MARKERS = Markers(((b'"usage"', None), (b'"user"', b'"tool_use_id"')), at_end=(b'"usage"',))
"""Only usage lines and user lines that are not tool results can matter: no other is decoded.
A model response's usage comes last, but for a few ids and the timestamp."""


def discover(env: Mapping[str, str], home: Path) -> list[Path]:
    """The `projects` folders Claude Code writes to, existing or not.

    `CLAUDE_CONFIG_DIR` (a comma-separated list of config dirs or their
    `projects` dirs) replaces the defaults, as it does for Claude Code.
    """
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        roots = []
        for entry in configured.split(","):
            folder = Path(entry.strip()).expanduser()
            if entry.strip():
                roots.append(folder if folder.name == "projects" else folder / "projects")
        return roots
    xdg_config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg_config / "claude" / "projects", home / ".claude" / "projects"]


def accepts(path: str) -> bool:
    """Transcript files; a workflow `journal.jsonl` is metadata, not usage."""
    name = basename(path)
    return name.endswith(".jsonl") and name != "journal.jsonl"


SOURCE = Source(
    name=NAME,
    version=3,  # 2: FORMATS.md §9, the 2026 shapes; 3: cache misses (core/cache_misses.py)
    title="Claude Code",
    badge="claude",
    colour="accent",
    aliases=("claude",),
    provider="anthropic",
    home_env={"CLAUDE_CONFIG_DIR": ".claude"},
    discover=discover,
    accepts=accepts,
    sniff=lambda path, head: b'"type"' in head,  # tried last: the loosest head
    parse=parser_in("tokentree.core.sources.claude_code_parse"),
    markers=MARKERS,
)
