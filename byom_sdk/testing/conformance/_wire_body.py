"""Reading request bodies without knowing their API: the strings in them (with the path
and the objects above each), their numbers, their entries, and what is before what.

The ``wire.*`` checks look for the probe's own values in whatever the plugin sent: JSON,
a form, a multipart form, a query string or plain text.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import math
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "ROLE_NAMES",
    "Exchange",
    "Request",
    "Text",
    "beside",
    "dump",
    "greedy_switch",
    "has_entry",
    "has_number",
    "order",
    "paths_of",
    "same_place",
]

#: the names APIs give each role (compared case-insensitively).
ROLE_NAMES: Mapping[str, frozenset[str]] = {
    "system": frozenset({"system", "developer"}),
    "user": frozenset({"user", "human"}),
    "assistant": frozenset({"assistant", "model", "ai", "bot", "chatbot"}),
    "tool": frozenset({"tool", "function", "ipython"}),
}
_ANY_ROLE = frozenset().union(*ROLE_NAMES.values())
_ROLE_KEYS = ("role", "author")
#: keys that name a role only when their value is a role name (LangChain's ``type``...).
_MAYBE_ROLE_KEYS = ("type", "from", "speaker", "sender")
#: how many enclosing objects up a role may sit (OpenAI content parts, Gemini parts).
_ROLE_DEPTH = 3
#: keys under which an API keeps the system message apart from the turns.
_SYSTEM_KEYS = ("system", "preamble", "instruction")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

#: a step of a path in a body: a key of an object or an index in an array.
Step = str | int


class Request(NamedTuple):
    """One request as it reached the endpoint (headers, target and peer when captured)."""

    body: object
    headers: Mapping[str, str] = {}
    target: str = ""
    peer: object = None


@dataclass(frozen=True)
class Text:
    """One string of a body, with its path and the objects that hold it (nearest first)."""

    value: str
    path: tuple[Step, ...]
    holders: tuple[Mapping[str, Any], ...]

    @property
    def role(self) -> str | None:
        for holder in self.holders[:_ROLE_DEPTH]:
            for key in _ROLE_KEYS:
                role = holder.get(key)
                if isinstance(role, str):
                    return role.lower()
            for key in _MAYBE_ROLE_KEYS:
                role = holder.get(key)
                if isinstance(role, str) and role.lower() in _ANY_ROLE:
                    return role.lower()
        return None

    @property
    def under_system_key(self) -> bool:
        return any(isinstance(k, str) and name in k.lower() for k in self.path for name in _SYSTEM_KEYS)


def order(a: tuple[int, Text, int], b: tuple[int, Text, int]) -> int | None:
    """-1 / 1 when ``a`` (body, string, offset) comes before / after ``b`` in a way the
    API can read — one string, or two items of one array — else None (two keys of an
    object: JSON objects are unordered; two requests: a preflight may repeat the turns)."""
    (body_a, text_a, offset_a), (body_b, text_b, offset_b) = a, b
    if body_a != body_b:
        return None
    if text_a.path == text_b.path and text_a is text_b:
        return None if offset_a == offset_b else (-1 if offset_a < offset_b else 1)
    for step_a, step_b in zip(text_a.path, text_b.path, strict=False):
        if step_a != step_b:
            if isinstance(step_a, int) and isinstance(step_b, int):
                return -1 if step_a < step_b else 1
            return None
    return None


@dataclass
class Exchange:
    """One operation's call and what the endpoint received meanwhile.

    ``bodies`` are the requests that carry the probe's tag and went where the first of
    them went (a token fetch, a health check, or a loopback server forwarding the request
    on, is not the call); ``seen`` is everything, target and headers included, for the
    identity check.
    """

    operation: str
    tag: str
    received: list[Request]
    extra_refused: bool = False
    bodies: list[object] = field(default_factory=list)
    queries: list[object] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    texts: list[list[Text]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = [(request, _parse(request.body, request.headers)) for request in self.received]
        self.seen = [f"{r.target}\n{dump(dict(r.headers))}\n{dump(body)}" for r, body in parsed]
        tagged = [(r, body) for r, body in parsed if self.tag in dump(body)]
        if tagged:
            peer = tagged[0][0].peer
            tagged = [(r, body) for r, body in tagged if r.peer == peer]
        self.bodies = [body for _, body in tagged]
        self.queries = [_query(r.target) for r, _ in tagged if "?" in r.target]
        self.texts = [list(_texts(body)) for body in self.bodies]

    def missing(self) -> str | None:
        """Why there is nothing to examine, if so."""
        if not self.received:
            return f"{self.operation}: no request received"
        if not self.bodies:
            return f"{self.operation}: no request carried the probe's text ({len(self.received)} other requests)"
        return None

    def places(self, wanted: str) -> list[tuple[int, Text, int]]:
        """Every (body, string, offset) where ``wanted`` starts, in body order."""
        found = []
        for b, texts in enumerate(self.texts):
            for text in texts:
                offset = text.value.find(wanted)
                while offset >= 0:
                    found.append((b, text, offset))
                    offset = text.value.find(wanted, offset + 1)
        return found

    def find(self, wanted: str) -> list[Text]:
        """The strings of the bodies that hold ``wanted``, in body order."""
        return [text for texts in self.texts for text in texts if wanted in text.value]

    def near_miss(self, text: str) -> str:
        """Why ``text`` was not found, when a near form of it was."""
        if text.strip() != text and self.find(text.strip()):
            return "arrived with the whitespace at its ends changed"
        folded = " ".join(text.split()).casefold()
        if any(folded in " ".join(t.value.split()).casefold() for texts in self.texts for t in texts):
            return "arrived with its whitespace or case changed"
        return "is not in the request"


def _parse(body: object, headers: Mapping[str, str]) -> object:
    """A body as data: JSON, a form or a multipart form (fields holding JSON decoded), else
    its text."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        kind = headers.get("content-type", "").lower()
        if kind.startswith("multipart/"):
            return _multipart(raw, headers["content-type"])
        body = raw.decode("utf-8", errors="replace")
        if kind.startswith("application/x-www-form-urlencoded"):
            return _form(str(body))
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body  # not JSON: searched as text
    return body


def _json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _form(text: str) -> dict[str, object]:
    return {key: _json_or_text(value) for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True)}


def _query(target: str) -> dict[str, object]:
    return _form(urllib.parse.urlsplit(target).query)


def _multipart(raw: bytes, content_type: str) -> object:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return raw.decode("utf-8", errors="replace")
    fields: dict[str, object] = {}
    for index, part in enumerate(message.iter_parts()):
        name = part.get_param("name", header="content-disposition") or str(index)
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
        fields[str(name)] = _json_or_text(text)
    return fields


def _texts(node: object, path: tuple[Step, ...] = (), holders: tuple[Mapping[str, Any], ...] = ()) -> Iterator[Text]:
    if isinstance(node, str):
        yield Text(node, path, holders)
    elif isinstance(node, Mapping):
        inner = (node, *holders)
        for key, value in node.items():
            yield from _texts(value, (*path, str(key)), inner)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _texts(value, (*path, index), holders)


def _scalars(node: object) -> Iterator[object]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _scalars(value)
    else:
        yield node


def _close(value: object, wanted: float) -> bool:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isclose(value, wanted, rel_tol=1e-6, abs_tol=1e-9)


def has_number(body: object, wanted: float) -> bool:
    """``wanted`` is a number (or a numeric string) in ``body``; in a body that is plain
    text, any number written in it."""
    if isinstance(body, str):
        return any(_close(found, wanted) for found in _NUMBER.findall(body))
    return any(_close(value, wanted) for value in _scalars(body))


def paths_of(node: object, key: str, wanted: object, path: tuple[Step, ...] = ()) -> Iterator[tuple[Step, ...]]:
    """The paths of the objects in ``node`` that map ``key`` to ``wanted``."""
    if isinstance(node, Mapping):
        if key in node and node[key] == wanted:
            yield path
        for name, value in node.items():
            yield from paths_of(value, key, wanted, (*path, str(name)))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from paths_of(value, key, wanted, (*path, index))


def has_entry(node: object, key: str, wanted: object) -> bool:
    """Some object in ``node`` maps ``key`` to ``wanted``."""
    return next(paths_of(node, key, wanted), None) is not None


def greedy_switch(node: object) -> bool:
    """``node`` turns sampling off the way containers without ``temperature=0`` take it
    (``do_sample: false``, ``greedy: true``)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = str(key).lower()
            if ("sampl" in name and value is False) or ("greedy" in name and value is True):
                return True
            if greedy_switch(value):
                return True
    elif isinstance(node, (list, tuple)):
        return any(greedy_switch(value) for value in node)
    return False


def beside(path: tuple[Step, ...], anchor: tuple[Step, ...]) -> tuple[Step, ...]:
    """``path`` from where it parts from ``anchor`` (the content's path)."""
    shared = 0
    for a, b in zip(path, anchor, strict=False):
        if a != b:
            break
        shared += 1
    return path[shared:]


def same_place(paths: list[tuple[Step, ...]]) -> bool:
    return len({tuple(step for step in path if isinstance(step, str)) for path in paths}) <= 1


def dump(body: object) -> str:
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(body)
