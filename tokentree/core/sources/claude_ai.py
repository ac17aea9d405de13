"""claude.ai, estimated from its data export (`tokentree import claude-ai EXPORT.zip`).

The export (Settings → Privacy → Export data) is a zip holding `conversations.json`,
a JSON array of conversations. What is read of it:

  conversation: {"uuid": str, "created_at": ISO-8601, "model": str?,
                 "chat_messages": [message]}
  message:      {"uuid": str, "sender": "human" | "assistant", "created_at": ISO-8601,
                 "text": str, "content": [{"type": "text", "text": str}
                                          | {"type": "thinking", "thinking": str} | …]?,
                 "attachments": [{"extracted_content": str?}]?}

`chat_messages` is the conversation in order. A message's text is its content
blocks' `text` (or its `text` when it has no blocks) plus the text extracted from
its attachments, which was sent with it; an assistant's `thinking` counts as its
output (and reasoning) but not as later history, since earlier thinking is not
sent again. The export names no model (a conversation's `model`, where present,
is used): such requests are unpriced, never $0. Rules: estimated.py.
"""

from __future__ import annotations

from typing import Any

from tokentree.core.sources.base import parse_timestamp
from tokentree.core.sources.estimated import (
    Estimate,
    Estimates,
    estimate_tokens,
    estimated_source,
    read_conversations,
)

NAME = "claude-ai"


def read_export(conversations: Any) -> Estimates:
    """The requests and prompts of `conversations.json` (already decoded), as counts only."""
    body = ("chat_messages", list)
    return read_conversations(conversations, "claude.ai", body, ("uuid",), _conversation)


def _conversation(found: Estimates, ident: str, conversation: dict[str, Any]) -> None:
    started = parse_timestamp(conversation.get("created_at"))
    model = conversation.get("model")
    model = model if isinstance(model, str) and model else None
    history = 0
    for position, message in enumerate(conversation["chat_messages"]):
        if not isinstance(message, dict):
            found.skip("wrong field types")
            continue
        time = parse_timestamp(message.get("created_at")) or started
        visible, thinking = _characters(message)
        said = estimate_tokens(visible)
        if message.get("sender") == "human":
            if time is not None:
                found.prompts.append((ident, time))
        elif message.get("sender") == "assistant" and (visible or thinking):
            if time is None:
                found.skip("message without a time")
            else:
                reasoning = estimate_tokens(thinking)
                message_id = message.get("uuid")
                found.requests.append(
                    Estimate(
                        conversation=ident,
                        message=message_id if isinstance(message_id, str) else str(position),
                        time=time,
                        model=model,
                        input=history,
                        output=said + reasoning,
                        reasoning=reasoning,
                    )
                )
        history += said


def _characters(message: dict[str, Any]) -> tuple[int, int]:
    """Characters of a message's text (with its attachments' extracted text) and of its
    thinking."""
    blocks = message.get("content")
    visible = thinking = 0
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            if isinstance(block, dict):
                if isinstance(block.get("text"), str):
                    visible += len(block["text"])
                if isinstance(block.get("thinking"), str):
                    thinking += len(block["thinking"])
    elif isinstance(message.get("text"), str):
        visible = len(message["text"])
    attachments = message.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else ():
        if isinstance(attachment, dict) and isinstance(attachment.get("extracted_content"), str):
            visible += len(attachment["extracted_content"])
    return visible, thinking


SOURCE = estimated_source(
    name=NAME,
    title="claude.ai",
    badge="cl.ai",
    colour="error",  # every badge has a colour of its own: the theme has six
    aliases=("claude.ai", "claudeai"),
    provider="anthropic",
)
