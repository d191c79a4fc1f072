"""OpenAI chat-message wire shapes ↔ the contract's messages.

The OpenAI chat shape is what most containers speak (TGI Messages API, vLLM, LMI chat,
Model Garden), so codecs encode with :func:`messages_to_openai` and loopback servers read
what real clients send with :func:`messages_from_openai`: ``content`` as text or a list of
parts, and assistant ``tool_calls`` as ``{"id", "type": "function", "function": {"name",
"arguments"}}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._types import Message, ToolCall

__all__ = ["messages_from_openai", "messages_to_openai"]


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    raise ValueError(f"message content must be text or a list of parts, not {type(content).__name__}")


def _tool_call(item: Mapping[str, Any]) -> ToolCall:
    function = item.get("function")
    if isinstance(function, Mapping):
        return ToolCall(
            id=str(item.get("id", "")),
            name=str(function.get("name", "")),
            arguments=str(function.get("arguments") or "{}"),
        )
    return ToolCall.model_validate(item)  # already the contract's shape


def messages_from_openai(items: Iterable[Mapping[str, Any]]) -> tuple[Message, ...]:
    """OpenAI-style chat messages → :class:`Message` objects (raises ``ValueError``)."""
    messages = []
    for item in items:
        messages.append(
            Message(
                role=item.get("role"),  # validated by Message
                content=_text(item.get("content")),
                name=item.get("name"),
                tool_call_id=item.get("tool_call_id"),
                tool_calls=tuple(_tool_call(c) for c in item.get("tool_calls") or ()),
            )
        )
    return tuple(messages)


def messages_to_openai(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """:class:`Message` objects → OpenAI-style chat messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.name:
            item["name"] = message.name
        if message.tool_call_id:
            item["tool_call_id"] = message.tool_call_id
        if message.tool_calls:
            item["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
        out.append(item)
    return out
