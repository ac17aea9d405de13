"""Chat apps' data exports built from their documented structure (chatgpt.py, claude_ai.py).

Every message's text is the word SECRET_WORD repeated to an exact length, so the
tests know each estimate and can look for the text where it must never be.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

SECRET_WORD = "zebracorn"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def text(characters: int) -> str:
    """A message's text of exactly `characters` characters."""
    return (f"{SECRET_WORD} " * characters)[:characters]


def _node(ident: str, parent: str | None, children: list[str], message: Any) -> dict:
    return {"id": ident, "parent": parent, "children": children, "message": message}


def _gpt_message(
    ident: str, role: str, when: datetime | None, parts: list[Any], **extra: Any
) -> dict:
    content = extra.pop("content", {"content_type": "text", "parts": parts})
    return {
        "id": ident,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": when.timestamp() if when else None,
        "update_time": None,
        "content": content,
        "status": "finished_successfully",
        "metadata": extra.pop("metadata", {}),
        "recipient": "all",
        **extra,
    }


def chatgpt_conversations() -> list[dict]:
    """Two conversations.

    c-1 (2026-11-20, default model gpt-4o): a hidden empty system message; a prompt of 40
    characters (10 tokens); a reply of 18 (5, gpt-4o); a prompt of 21 characters and an image
    (6); hidden thoughts with no parts (no request); then two branches after the thoughts and
    the prompt: a reply of 8 characters (2, no slug: the default gpt-4o) and a regenerated one
    of 12 (3, o3). Requests: (10 in, 5 out), (21, 2), (21, 3).
    c-2 (2026-11-21, no model named): a prompt of 4 characters (1) and a reply of 100 (25)
    without a time: it takes the conversation's. Request: (1, 25), unpriced.
    """
    t = T0
    first = {
        "root": _node("root", None, ["sys"], None),
        "sys": _node("sys", "root", ["u1"], _gpt_message("sys", "system", None, [""])),
        "u1": _node("u1", "sys", ["a1"], _gpt_message("u1", "user", t + _s(10), [text(40)])),
        "a1": _node(
            "a1",
            "u1",
            ["u2"],
            _gpt_message(
                "a1", "assistant", t + _s(20), [text(18)], metadata={"model_slug": "gpt-4o"}
            ),
        ),
        "u2": _node(
            "u2",
            "a1",
            ["th"],
            _gpt_message(
                "u2",
                "user",
                t + _s(60),
                [text(21), {"content_type": "image_asset_pointer", "size_bytes": 1234}],
            ),
        ),
        "th": _node(
            "th",
            "u2",
            ["a2", "a2b"],
            _gpt_message(
                "th",
                "assistant",
                t + _s(61),
                [],
                content={"content_type": "thoughts", "thoughts": []},
            ),
        ),
        "a2": _node("a2", "th", [], _gpt_message("a2", "assistant", t + _s(70), [text(8)])),
        "a2b": _node(
            "a2b",
            "th",
            [],
            _gpt_message("a2b", "assistant", t + _s(90), [text(12)], metadata={"model_slug": "o3"}),
        ),
    }
    day_two = T0 + timedelta(days=1)
    second = {
        "r": _node("r", None, ["q"], None),
        "q": _node("q", "r", ["a"], _gpt_message("q", "user", day_two, [text(4)])),
        "a": _node("a", "q", [], _gpt_message("a", "assistant", None, [text(100)])),
    }
    return [
        {
            "title": f"{SECRET_WORD} title",
            "create_time": T0.timestamp(),
            "update_time": (T0 + _s(90)).timestamp(),
            "mapping": first,
            "current_node": "a2b",
            "conversation_id": "c-1",
            "id": "c-1",
            "default_model_slug": "gpt-4o",
        },
        {
            "title": "second",
            "create_time": day_two.timestamp(),
            "update_time": day_two.timestamp(),
            "mapping": second,
            "current_node": "a",
            "id": "c-2",
        },
    ]


def claude_ai_conversations() -> list[dict]:
    """One conversation (2026-11-20 12:00, no model named).

    A prompt of 30 characters with an attachment's 10 extracted (10 tokens); a reply of 14
    characters of text (4) after 20 of thinking (5): (10 in, 9 out, 5 reasoning); a prompt of
    7 characters given as `text` only (2); a reply of 3 characters with an empty content list
    (1): (16 in, 1 out). Thinking is not history.
    """
    t = T0 + timedelta(hours=2)
    return [
        {
            "uuid": "k-1",
            "name": f"{SECRET_WORD} chat",
            "created_at": _iso(t),
            "updated_at": _iso(t + _s(60)),
            "account": {"uuid": "acct"},
            "chat_messages": [
                {
                    "uuid": "h1",
                    "sender": "human",
                    "created_at": _iso(t + _s(1)),
                    "text": text(30),
                    "content": [{"type": "text", "text": text(30)}],
                    "attachments": [{"file_name": "notes.txt", "extracted_content": text(10)}],
                    "files": [],
                },
                {
                    "uuid": "b1",
                    "sender": "assistant",
                    "created_at": _iso(t + _s(5)),
                    "text": text(14),
                    "content": [
                        {"type": "thinking", "thinking": text(20)},
                        {"type": "text", "text": text(14)},
                    ],
                    "attachments": [],
                    "files": [],
                },
                {"uuid": "h2", "sender": "human", "created_at": _iso(t + _s(30)), "text": text(7)},
                {
                    "uuid": "b2",
                    "sender": "assistant",
                    "created_at": _iso(t + _s(40)),
                    "text": text(3),
                    "content": [],
                },
            ],
        }
    ]


def write_export(path: Path, conversations: list[dict]) -> Path:
    """The export as downloaded: a zip with `conversations.json` (and other files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("user.json", b'{"id": "user-1"}')
        archive.writestr("conversations.json", orjson.dumps(conversations))
    return path


def _s(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
