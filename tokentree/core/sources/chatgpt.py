"""ChatGPT, estimated from its data export (`tokentree import chatgpt EXPORT.zip`).

The export (Settings → Data controls → Export data) is a zip holding
`conversations.json`, a JSON array of conversations. What is read of it:

  conversation: {"id" | "conversation_id": str, "create_time": epoch float,
                 "default_model_slug": str?, "mapping": {node id: node}}
  node:         {"id": str, "parent": node id | null, "children": [node id],
                 "message": message | null}
  message:      {"id": str, "author": {"role": "user" | "assistant" | "system" | "tool"},
                 "create_time": epoch float | null,
                 "content": {"content_type": str, "parts": [str | object]?, "text": str?},
                 "metadata": {"model_slug": str?}}

`mapping` is a tree: an edited prompt or a regenerated reply starts a branch,
and every branch was sent, so every node counts, each with the history on its
own path from the root (its ancestors). A message's text is its string `parts`
plus `content.text` (code and tool output); image and file parts count nothing.
A message without a time takes its conversation's. The model is the message's
`model_slug`, else the conversation's `default_model_slug`. Rules: estimated.py.
"""

from __future__ import annotations

from typing import Any

from tokentree.core.sources.base import parse_epoch_seconds
from tokentree.core.sources.estimated import (
    Estimate,
    Estimates,
    estimate_tokens,
    estimated_source,
    read_conversations,
)

NAME = "chatgpt"


def read_export(conversations: Any) -> Estimates:
    """The requests and prompts of `conversations.json` (already decoded), as counts only."""
    ids = ("conversation_id", "id")
    return read_conversations(conversations, "ChatGPT", ("mapping", dict), ids, _conversation)


def _conversation(found: Estimates, ident: str, conversation: dict[str, Any]) -> None:
    mapping: dict[str, Any] = conversation["mapping"]
    started = parse_epoch_seconds(conversation.get("create_time"))
    default_model = conversation.get("default_model_slug")
    tokens: dict[str, int] = {}  # node id → its message's tokens
    history: dict[str, int] = {}  # node id → the tokens on the path before it

    def before(node_id: str) -> int:
        """Tokens of the messages above a node: walked up iteratively, since a long chat is a
        deep tree, and remembered per node, since branches share their trunk."""
        path: list[str] = []
        current = _parent(mapping, node_id)
        while current is not None and current not in history and current not in path:
            path.append(current)
            current = _parent(mapping, current)
        known = current is not None and current in history
        total = history[current] + _tokens_of(mapping, current, tokens) if known else 0
        for node in reversed(path):  # from the root (or a node already summed) down
            history[node] = total
            total += _tokens_of(mapping, node, tokens)
        return total

    for node_id, node in mapping.items():
        message = node.get("message") if isinstance(node, dict) else None
        if not isinstance(message, dict):
            continue
        author = message.get("author")
        role = author.get("role") if isinstance(author, dict) else None
        time = parse_epoch_seconds(message.get("create_time")) or started
        if role == "user":
            if time is not None:
                found.prompts.append((ident, time))
            continue
        output = _tokens_of(mapping, node_id, tokens)
        if role != "assistant" or not output:
            continue  # system and tool messages are only history; an empty reply is none
        if time is None:
            found.skip("message without a time")
            continue
        metadata = message.get("metadata")
        model = metadata.get("model_slug") if isinstance(metadata, dict) else None
        model = model if isinstance(model, str) and model else default_model
        message_id = message.get("id") if isinstance(message.get("id"), str) else node_id
        found.requests.append(
            Estimate(
                conversation=ident,
                message=message_id,
                time=time,
                model=model if isinstance(model, str) and model else None,
                input=before(node_id),
                output=output,
            )
        )


def _parent(mapping: dict[str, Any], node_id: str) -> str | None:
    node = mapping.get(node_id)
    parent = node.get("parent") if isinstance(node, dict) else None
    return parent if isinstance(parent, str) and parent in mapping else None


def _tokens_of(mapping: dict[str, Any], node_id: str, known: dict[str, int]) -> int:
    if node_id not in known:
        node = mapping.get(node_id)
        message = node.get("message") if isinstance(node, dict) else None
        known[node_id] = estimate_tokens(_characters(message))
    return known[node_id]


def _characters(message: Any) -> int:
    """Characters of a message's text: its string parts and its `text` (code, tool output)."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), dict):
        return 0
    content = message["content"]
    parts = content.get("parts") if isinstance(content.get("parts"), list) else []
    count = sum(len(part) for part in parts if isinstance(part, str))
    text = content.get("text")
    return count + (len(text) if isinstance(text, str) else 0)


SOURCE = estimated_source(
    name=NAME,
    title="ChatGPT",
    badge="gpt",
    colour="warning",
    aliases=("chat-gpt",),
    provider="openai",
)
