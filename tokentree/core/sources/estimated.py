"""Chat apps' usage, estimated from their data exports and kept as counts only.

ChatGPT and claude.ai log no tokens anywhere tokentree can read. `tokentree
import` reads their official data export once, estimates each reply's tokens
from the length of its text, and writes a counts file: one JSON line per
estimated request (conversation id, message id, time, model when the export
names one, input and output estimates) and one per user prompt (its time).
No message text is ever written. Each chat app is then a source like any log:
its counts file, found under tokentree's data dir, is read as a log, and its
calls are always `Fidelity.ESTIMATED` (the `~` flag), never exact.

The estimate (the same for both apps):
- a message's tokens are ceil(characters / CHARS_PER_TOKEN) of its text, where
  CHARS_PER_TOKEN = 4, the usual rule of thumb for English text with OpenAI's and
  Anthropic's tokenizers (code and other languages differ: it is an estimate);
- each assistant message with text is one request: its output is its own tokens,
  its input is the tokens of every message before it in its conversation (the
  app sends the whole history again with each message), all as uncached input,
  since the export says nothing of caching;
- images, files and voice carry no text in the export and count nothing, except
  the text claude.ai extracted from attachments, which counts as its message's.

Counts file (`<data dir>/estimates/<source>/counts.jsonl`, JSON Lines):
  {"tokentree_estimates": 1, "source": "chatgpt", "chars_per_token": 4}   first line
  {"conversation": ID, "message": ID, "time": EPOCH, "model": SLUG?,
   "input": N, "output": N, "reasoning": N?}                                a request
  {"conversation": ID, "prompt": EPOCH}                                     a user message
Importing merges into it by (conversation, message) and (conversation, prompt
time) and replaces it whole, so an export imported twice counts once.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import platformdirs

from tokentree.core.records import ApiCall, Fidelity, Prompt, Tokens
from tokentree.core.sources.base import (
    BAD_TIMESTAMP,
    FileParse,
    json_objects,
    parse_epoch_seconds,
)
from tokentree.core.sources.declaration import Source
from tokentree.core.tail import Markers

CHARS_PER_TOKEN = 4
"""Characters of text per token: OpenAI's and Anthropic's rule of thumb for English."""
FOLDER_ENV = "TOKENTREE_ESTIMATES_DIR"
"""Where the counts files live instead of `<data dir>/estimates` (tests point it into a home)."""
COUNTS_FILE = "counts.jsonl"
FORMAT = 1
UNKNOWN_MODEL = "unknown"
"""The model of a request the export does not name: priced as unknown (unpriced), never $0."""
_HEADER = b'{"tokentree_estimates"'


def estimate_tokens(characters: int) -> int:
    """Tokens of a text this many characters long: ceil(characters / CHARS_PER_TOKEN)."""
    return math.ceil(characters / CHARS_PER_TOKEN) if characters > 0 else 0


def counts_folder(env: Mapping[str, str]) -> Path:
    """Where the counts files are: `TOKENTREE_ESTIMATES_DIR`, else tokentree's data dir."""
    configured = env.get(FOLDER_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return platformdirs.user_data_path("tokentree") / "estimates"


def counts_path(folder: Path, source: str) -> Path:
    return folder / source / COUNTS_FILE


@dataclass(frozen=True, slots=True)
class Estimate:
    """One request of a chat app, as estimated: counts and ids, never text."""

    conversation: str
    message: str
    time: float
    model: str | None
    input: int
    output: int
    reasoning: int = 0


@dataclass(slots=True)
class Estimates:
    """What reading one export gave: its requests, its prompts' times, and what was skipped."""

    requests: list[Estimate] = field(default_factory=list)
    prompts: list[tuple[str, float]] = field(default_factory=list)  # (conversation, time)
    conversations: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def read_conversations(
    conversations: Any,
    title: str,
    body: tuple[str, type],
    ids: tuple[str, ...],
    read: Callable[[Estimates, str, dict[str, Any]], None],
) -> Estimates:
    """The estimates of an export's `conversations.json` (already decoded): a list of
    conversations, each with an id (its first field of `ids` that is set) and its messages in
    field `body` of the given type; `read` estimates one conversation's messages."""
    found = Estimates()
    if not isinstance(conversations, list):
        found.skip(f"not a {title} export")
        return found
    field_name, kind = body
    for conversation in conversations:
        if not isinstance(conversation, dict) or not isinstance(conversation.get(field_name), kind):
            found.skip(f"not a {title} conversation")
            continue
        ident = next((conversation[name] for name in ids if conversation.get(name)), None)
        if not isinstance(ident, str):
            found.skip("conversation without an id")
            continue
        found.conversations += 1
        read(found, ident, conversation)
    return found


def write_counts(folder: Path, source: str, found: Estimates) -> tuple[Path, int]:
    """Merge `found` into the source's counts file, replacing it whole (atomically).

    Returns the file and how many of its requests are new to it.
    """
    path = counts_path(folder, source)
    records: dict[str, dict[str, Any]] = {}
    for record in _existing(path):
        records[_identity(record)] = record
    before = sum(1 for record in records.values() if "message" in record)
    for conversation, time in found.prompts:
        record = {"conversation": conversation, "prompt": time}
        records[_identity(record)] = record
    for request in found.requests:
        record = _request_record(request)
        records[_identity(record)] = record
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"tokentree_estimates": FORMAT, "source": source, "chars_per_token": CHARS_PER_TOKEN}
    ordered = sorted(records.items(), key=lambda item: (_when(item[1]), item[0]))
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".counts-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(orjson.dumps(header) + b"\n")
            for _, record in ordered:
                out.write(orjson.dumps(record) + b"\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    after = sum(1 for record in records.values() if "message" in record)
    return path, after - before


def _existing(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return
    for record in json_objects(lines, Counter()):
        if isinstance(record.get("conversation"), str):
            yield record


def _when(record: dict[str, Any]) -> float:
    when = record.get("time", record.get("prompt"))
    return when if type(when) in (int, float) else 0.0


def _identity(record: dict[str, Any]) -> str:
    if "message" in record:
        return f"m {record['conversation']} {record['message']}"
    return f"p {record['conversation']} {record['prompt']!r}"


def _request_record(request: Estimate) -> dict[str, Any]:
    record: dict[str, Any] = {
        "conversation": request.conversation,
        "message": request.message,
        "time": request.time,
    }
    if request.model:
        record["model"] = request.model
    record["input"] = request.input
    record["output"] = request.output
    if request.reasoning:
        record["reasoning"] = request.reasoning
    return record


# --- reading a counts file as a log ----------------------------------------------------------


def parser(name: str) -> Callable[[Iterable[bytes], dict[str, Any], str], FileParse]:
    """The reader of one chat app's counts file: every request an estimated call."""

    def parse(lines: Iterable[bytes], state: dict[str, Any], path: str) -> FileParse:
        result = FileParse(state=state)
        for record in json_objects(lines, result.skipped):
            if "tokentree_estimates" in record:
                continue
            conversation = record.get("conversation")
            if not isinstance(conversation, str):
                result.skipped["wrong field types"] += 1
            elif "prompt" in record:
                time = parse_epoch_seconds(record["prompt"])
                if time is None:
                    result.skipped[BAD_TIMESTAMP] += 1
                else:
                    result.prompts.append(Prompt(name, conversation, time))
            else:
                _request(result, name, conversation, record, path)
        return result

    return parse


def _request(
    result: FileParse, name: str, conversation: str, record: dict[str, Any], path: str
) -> None:
    time = parse_epoch_seconds(record.get("time"))
    message, model = record.get("message"), record.get("model")
    counts = [record.get(kind, 0) for kind in ("input", "output", "reasoning")]
    if time is None:
        result.skipped[BAD_TIMESTAMP] += 1
        return
    if not isinstance(message, str) or not isinstance(model, str | None):
        result.skipped["wrong field types"] += 1
        return
    if any(type(count) is not int or count < 0 for count in counts):
        result.skipped["token count out of range or not an integer"] += 1
        return
    fresh, output, reasoning = counts
    result.calls.append(
        ApiCall(
            source=name,
            key=f"{name}:{conversation}:{message}",
            session_id=conversation,
            project="",
            timestamp=time,
            model=model or UNKNOWN_MODEL,
            tokens=Tokens(input=fresh, output=output, reasoning=min(reasoning, output)),
            fidelity=Fidelity.ESTIMATED,
            file=path,
        )
    )
    result.ranks.append(0)


def estimated_source(
    *,
    name: str,
    title: str,
    badge: str,
    colour: str,
    aliases: tuple[str, ...],
    provider: str | None,
) -> Source:
    """The declaration of a chat app whose usage is imported: its counts file is its log."""
    sniffed = f'"source":"{name}"'.encode()

    def discover(env: Mapping[str, str], home: Path) -> list[Path]:
        return [counts_folder(env) / name]

    return Source(
        name=name,
        version=1,
        title=title,
        badge=badge,
        colour=colour,
        aliases=aliases,
        provider=provider,
        home_env={FOLDER_ENV: ".local/share/tokentree/estimates"},
        discover=discover,
        accepts=lambda path: os.path.basename(path) == COUNTS_FILE,
        sniff=lambda path, head: head.startswith(_HEADER) and sniffed in head,
        parse=parser(name),
        markers=Markers(((b'"conversation"', None),)),
        estimated=True,
    )
