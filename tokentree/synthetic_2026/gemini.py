"""A Gemini CLI chat as v0.39+ writes it (FORMATS.md §9.3): a `.jsonl` log that appends a
message again on each change, `$set` updates, two rewinds (one to an id no longer in the chat,
which clears it), and a sub-agent's chat in `chats/<parent session id>/`."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from tokentree.synthetic_2026.files import Files, iso

SOURCE = "gemini-cli"
PROJECT = "/home/dev/src/mobile-app"
MODEL, SUB_AGENT_MODEL = "gemini-3-pro-preview", "gemini-2.5-flash"

Usage = tuple[int, int, int, int, int]
"""prompt (cached part included), cached, output, thoughts, tool-use prompt."""


class _Chat:
    """One chat file: its records and the tally of the replies in it."""

    def __init__(self, files: Files, start: int, kind: str) -> None:
        self.files = files
        self.t = start
        self.session = files.ids.uuid()
        self.records: list[dict[str, Any]] = [
            {
                "sessionId": self.session,
                "projectHash": hashlib.sha256(PROJECT.encode()).hexdigest(),
                "startTime": iso(start),
                "lastUpdated": iso(start),
                "kind": kind,
            }
        ]

    def prompt(self, seconds: float, text: str) -> str:
        self.t += int(seconds * 1000)
        message_id = self.files.ids.uuid()
        self.records.append(
            {
                "id": message_id,
                "timestamp": iso(self.t),
                "type": "user",
                "content": [{"text": text}],
            }
        )
        return message_id

    def reply(
        self,
        seconds: float,
        usage: Usage,
        text: str,
        *,
        tools: tuple[tuple[str, dict[str, Any]], ...] = (),
        model: str = MODEL,
        streamed: bool = False,
    ) -> str:
        """A response; `streamed`: logged first without tokens, then again with them (the
        last record of an id wins)."""
        self.t += int(seconds * 1000)
        prompt, cached, output, thoughts, tool = usage
        record: dict[str, Any] = {
            "id": self.files.ids.uuid(),
            "timestamp": iso(self.t),
            "type": "gemini",
            "content": [{"text": text}],
            "thoughts": [{"subject": "Planning", "description": text, "timestamp": iso(self.t)}],
            "tokens": None,
            "model": model,
        }
        if streamed:
            self.records.append(dict(record))
        record["tokens"] = {
            "input": prompt,
            "output": output,
            "cached": cached,
            "thoughts": thoughts,
            "tool": tool,
            "total": prompt + output + thoughts + tool,
        }
        if tools:
            record["toolCalls"] = [
                {"id": f"{name}-{self.t}-{n}", "name": name, "args": args, "status": "success"}
                for n, (name, args) in enumerate(tools)
            ]
        self.records.append(record)
        self.files.call(SOURCE, prompt - cached + tool, 0, cached, output + thoughts, thoughts)
        return record["id"]

    def touched(self) -> None:
        self.records.append({"$set": {"lastUpdated": iso(self.t)}})


def write(files: Files) -> None:
    """The chat of a crash hunt, its sub-agent's chat and the CLI's project registry."""
    start = files.at(3, 13, 5, 9)
    chat = _Chat(files, start, "main")
    folder = f"gemini/tmp/{chat.records[0]['projectHash']}/chats"
    chat.prompt(0, "the settings screen crashes on rotate; find the cause")
    read = ("read_file", {"absolute_path": f"{PROJECT}/app/settings/SettingsScreen.kt"})
    chat.reply(4.1, (14_200, 0, 310, 540, 0), "Reading the screen.", tools=(read,), streamed=True)
    chat.touched()
    investigate = ("codebase_investigator", {"objective": "who holds the fragment across rotation"})
    chat.reply(6.3, (15_900, 13_800, 220, 180, 40), "Asking an investigator.", tools=(investigate,))
    sub_agent = _Chat(files, chat.t + 500, "subagent")
    sub_agent.prompt(0, "find what keeps a reference to SettingsFragment across rotation")
    glob = ("glob", {"pattern": "app/**/*Settings*.kt"})
    sub_agent.reply(
        3.0, (8_300, 0, 420, 260, 0), "Two candidates.", tools=(glob,), model=SUB_AGENT_MODEL
    )
    sub_agent.reply(4.4, (11_900, 8_000, 760, 0, 120), "The view model.", model=SUB_AGENT_MODEL)
    chat.t = sub_agent.t + 900
    undone = chat.prompt(40, "no, keep the old navigation API")
    chat.reply(5.2, (19_700, 15_600, 1_430, 760, 0), "Switching to the new API.")
    chat.records.append({"$rewindTo": undone})  # the prompt and its answer leave the chat
    chat.prompt(25, "keep the navigation API and patch the fragment instead")
    patch = ("replace", {"file_path": f"{PROJECT}/app/settings/SettingsFragment.kt"})
    chat.reply(5.8, (19_200, 15_600, 980, 410, 0), "Patched the fragment.", tools=(patch,))
    chat.touched()
    chat.records.append({"$rewindTo": files.ids.uuid()})  # gone already: the chat is cleared
    chat.prompt(60, "start over: write a failing test first")
    chat.reply(4.9, (9_800, 8_600, 640, 300, 0), "Here is a failing rotation test.")
    name = f"session-{iso(start)[:16].replace(':', '-')}"
    files.jsonl(f"{folder}/{name}-{chat.session[:8]}.jsonl", chat.records)
    files.jsonl(f"{folder}/{chat.session}/{sub_agent.session}.jsonl", sub_agent.records)
    registry = {"projects": {PROJECT: "mobile-app"}}
    files.raw("gemini/projects.json", orjson.dumps(registry, option=orjson.OPT_INDENT_2))
