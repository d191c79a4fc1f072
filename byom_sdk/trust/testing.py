"""Leak-test helpers: canary PII values and assertions over what crossed the boundary.

A provider plugin proves the trust layer covers it by sending :func:`canary_messages`
through a Client-built model backed by its local test server, then asserting that the
server (and the audit file) saw none of the canaries while the application got them
back::

    from byom_sdk.trust.testing import assert_all_canaries, assert_no_canaries, canary_messages

    reply = client.model("bot").generate(canary_messages(), metadata={"conversation_id": "c"})
    assert_no_canaries(server.received_bytes, where="local SageMaker server")
    assert_no_canaries(Path("byom-audit.sqlite").read_bytes(), where="audit file")
    assert_all_canaries(reply.text, where="the reply the app got")   # with an echoing model

Each canary is valid for its detector (checksums included) and distinctive enough that
finding any listed variant of it in captured bytes is a leak, not a coincidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "CANARIES",
    "assert_all_canaries",
    "assert_no_canaries",
    "canary_messages",
    "canary_text",
    "echo_all",
    "find_canaries",
]

#: entity type → a valid, distinctive value of it.
CANARIES: Mapping[str, str] = {
    "EMAIL": "canary.leak7731@example-bank.test",
    "PHONE": "+44 20 7946 0958",
    "CREDIT_CARD": "2223 0000 4840 0011",
    "US_SSN": "536-22-1784",
    "IBAN": "DE89 3704 0044 0532 0130 00",
    "IP_ADDRESS": "203.0.113.77",
    "AWS_ACCESS_KEY": "AKIAZ2X7CANARY7LEAK4",
    "API_KEY": "sk-proj-CanaryLeak0000TestValue1234",
}

#: Distinctive fragments that must not appear either (a value re-spaced or cut).
_FRAGMENTS: Mapping[str, tuple[str, ...]] = {
    "EMAIL": ("canary.leak7731",),
    "PHONE": ("7946 0958", "79460958"),
    "CREDIT_CARD": ("2223000048400011", "4840 0011"),
    "US_SSN": ("536221784",),
    "IBAN": ("DE89370400440532013000", "0532 0130"),
    "IP_ADDRESS": (),
    "AWS_ACCESS_KEY": ("CANARY7LEAK4",),
    "API_KEY": ("CanaryLeak0000",),
}


def canary_text() -> str:
    """One prompt holding every canary next to its usual context words."""
    c = CANARIES
    return (
        f"Customer email {c['EMAIL']}, phone {c['PHONE']}. Card {c['CREDIT_CARD']}, "
        f"SSN {c['US_SSN']}, IBAN {c['IBAN']}. Seen from IP {c['IP_ADDRESS']}. "
        f"Deploy key {c['AWS_ACCESS_KEY']} and token {c['API_KEY']}."
    )


def canary_messages() -> list[dict[str, Any]]:
    """A chat with canaries in a system message, a user message and tool-call arguments
    (plus the tool's result)."""
    c = CANARIES
    arguments = json.dumps({"email": c["EMAIL"], "note": f"card {c['CREDIT_CARD']}"})
    return [
        {"role": "system", "content": f"You help the customer with IBAN {c['IBAN']}."},
        {"role": "user", "content": canary_text()},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "name": "lookup", "arguments": arguments}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"found account for {c['EMAIL']}"},
        {"role": "user", "content": f"Please repeat: {canary_text()}"},
    ]


def _variants(value: str) -> set[str]:
    compact = value.replace(" ", "").replace("-", "")
    found = {value, compact, json.dumps(value)[1:-1]}
    return {v for v in found if len(v) >= 6}


def find_canaries(data: str | bytes | Iterable[str | bytes]) -> list[str]:
    """Which canaries (or their variants and fragments) occur in ``data``."""
    if isinstance(data, (str, bytes)):
        chunks: list[str | bytes] = [data]
    else:
        chunks = list(data)
    blobs = [c if isinstance(c, bytes) else c.encode("utf-8") for c in chunks]
    found = []
    for entity, value in CANARIES.items():
        needles = _variants(value) | set(_FRAGMENTS.get(entity, ()))
        for needle in sorted(needles):
            raw = needle.encode("utf-8")
            if any(raw in blob for blob in blobs):
                found.append(f"{entity} ({needle!r})")
                break
    return found


def assert_no_canaries(data: str | bytes | Iterable[str | bytes], *, where: str) -> None:
    """Fail naming every canary found in ``data`` (what crossed the boundary)."""
    leaked = find_canaries(data)
    if leaked:
        raise AssertionError(f"PII leaked into {where}: {', '.join(leaked)}")


def assert_all_canaries(text: str, *, where: str) -> None:
    """Fail naming every canary missing from ``text`` (what the application got back)."""
    missing = [entity for entity, value in CANARIES.items() if value not in text]
    if missing:
        raise AssertionError(f"{where} is missing restored values for: {', '.join(missing)}")


def echo_all(request: Any) -> str:
    """A ``ScriptedModel`` reply function that echoes every message (so a test sees
    the placeholders come back in the reply and be restored)."""
    if getattr(request, "prompt", None) is not None:
        return str(request.prompt)
    return "\n".join(m.content for m in request.messages if m.content)
