"""`tokentree import APP EXPORT`: a chat app's data export turned into estimated counts."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tokentree import config
from tokentree.core.sources import chatgpt, claude_ai
from tokentree.core.sources.estimated import CHARS_PER_TOKEN, Estimates, write_counts
from tokentree.workspace import UsageError

READERS: dict[str, Callable[[Any], Estimates]] = {
    chatgpt.NAME: chatgpt.read_export,
    claude_ai.NAME: claude_ai.read_export,
}
"""The chat apps whose exports can be imported, by source name."""
CONVERSATIONS = "conversations.json"


def import_export(app: str, export: str, folder: Path | None = None) -> int:
    """Estimate the export's requests and merge their counts into the app's counts file; the
    export's text is read in memory only and never written anywhere."""
    found = READERS[app](load_conversations(Path(export)))
    if found.conversations == 0:
        raise UsageError(f"{export}: no {app} conversations found in its {CONVERSATIONS}")
    path, new = write_counts(folder or config.estimates_path(), app, found)
    inputs = sum(request.input for request in found.requests)
    outputs = sum(request.output for request in found.requests)
    print(
        f"{app}: {found.conversations:,} conversations, {len(found.requests):,} replies"
        f" ({new:,} new): ~{inputs:,} input and ~{outputs:,} output tokens, estimated at"
        f" {CHARS_PER_TOKEN} characters a token"
    )
    print(f"counts only (no text) in {path}; `tokentree report --source {app}` shows them")
    for why, count in sorted(found.skipped.items()):
        print(f"tokentree: skipped {count:,}: {why}", file=sys.stderr)
    return 0


def load_conversations(export: Path) -> Any:
    """`conversations.json` from the export: the zip as downloaded, its unpacked folder, or
    the file itself."""
    try:
        if export.is_dir():
            return orjson.loads((export / CONVERSATIONS).read_bytes())
        if zipfile.is_zipfile(export):
            with zipfile.ZipFile(export) as archive:
                return orjson.loads(archive.read(_member(archive, export)))
        return orjson.loads(export.read_bytes())
    except FileNotFoundError as error:
        raise UsageError(f"no such file: {error.filename or export}") from error
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"cannot read {export}: {error}") from error
    except orjson.JSONDecodeError as error:
        raise UsageError(f"{export}: {CONVERSATIONS} is not JSON ({error})") from error


def _member(archive: zipfile.ZipFile, export: Path) -> str:
    """The archive's `conversations.json`, the shallowest if it holds several."""
    names = [name for name in archive.namelist() if Path(name).name == CONVERSATIONS]
    if not names:
        raise UsageError(f"{export}: no {CONVERSATIONS} in the archive")
    return min(names, key=lambda name: (name.count("/"), name))
