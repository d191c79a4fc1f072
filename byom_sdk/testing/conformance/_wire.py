"""Checks of what reaches the endpoint: the request bodies the plugin sends.

Every other check sees the plugin from the caller's side, where a plugin can pass while it
trims the caller's messages, sends an assistant turn as the user's, drops ``temperature``
or ``extra``, copies the caller's identity into the body or sends each call twice. These
checks read the requests that left: the harness's log
(:meth:`~ModelSubject.received_requests`), or the HTTP/1.1 requests read off this process's
sockets (:mod:`._capture`). They know no API: they look for the probe's own values anywhere
in a body, and for a role next to each message where the body keeps roles.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..._errors import BadRequest
from ..._provider import Provider
from ..._types import EmbedRequest, GenerateRequest, Message, RequestMetadata
from ._capture import WireCapture
from ._core import check, plugin_label, require_capability
from ._subject import ModelSubject

__all__ = ["WireChecks"]

#: the names APIs give each role (compared case-insensitively).
ROLE_NAMES: Mapping[str, frozenset[str]] = {
    "system": frozenset({"system", "developer"}),
    "user": frozenset({"user", "human"}),
    "assistant": frozenset({"assistant", "model", "ai", "bot", "chatbot"}),
    "tool": frozenset({"tool", "function", "ipython"}),
}
_ROLE_KEYS = ("role", "author")
#: how many enclosing objects up a role may sit (OpenAI content parts, Gemini parts).
_ROLE_DEPTH = 3
#: keys under which an API keeps the system message apart from the turns.
_SYSTEM_KEYS = ("system", "preamble", "instruction")

#: the probe's sampling parameters: values no API uses as a default.
PROBE_TEMPERATURE = 0.35
PROBE_TOP_P = 0.85
PROBE_SEED = 7919


@dataclass(frozen=True)
class _Text:
    """One string of a body, with the objects that hold it (nearest first)."""

    value: str
    keys: tuple[str, ...]
    holders: tuple[Mapping[str, Any], ...]

    @property
    def role(self) -> str | None:
        for holder in self.holders[:_ROLE_DEPTH]:
            for key in _ROLE_KEYS:
                role = holder.get(key)
                if isinstance(role, str):
                    return role.lower()
        return None

    @property
    def under_system_key(self) -> bool:
        return any(name in key.lower() for key in self.keys for name in _SYSTEM_KEYS)


@dataclass
class _Exchange:
    """One operation's call and what the endpoint received meanwhile.

    ``bodies`` are the requests that carry the probe's tag (a token fetch or a health
    check sent meanwhile is not the call); ``seen`` is everything, headers included, for
    the identity check.
    """

    operation: str
    tag: str
    received: list[tuple[object, Mapping[str, str]]]
    extra_refused: bool = False
    bodies: list[object] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    texts: list[list[_Text]] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = [(_parse(body), headers) for body, headers in self.received]
        self.seen = [_dump(body) + "\n" + _dump(dict(headers)) for body, headers in parsed]
        self.bodies = [body for body, _ in parsed if self.tag in _dump(body)]
        self.texts = [list(_texts(body)) for body in self.bodies]

    def missing(self) -> str | None:
        """Why there is nothing to examine, if so."""
        if not self.received:
            return f"{self.operation}: no request received"
        if not self.bodies:
            return f"{self.operation}: no request carried the probe's text ({len(self.received)} other requests)"
        return None

    def find(self, wanted: str) -> list[_Text]:
        """The strings of the bodies that hold ``wanted``, in body order."""
        return [text for texts in self.texts for text in texts if wanted in text.value]

    def position_after(self, wanted: str, last: tuple[int, int, int]) -> tuple[int, int, int] | None:
        """The first place (body, string, offset) after ``last`` where ``wanted`` starts."""
        for b, texts in enumerate(self.texts):
            for i, text in enumerate(texts):
                offset = text.value.find(wanted)
                while offset >= 0:
                    if (b, i, offset) > last:
                        return (b, i, offset)
                    offset = text.value.find(wanted, offset + 1)
        return None


def _parse(body: object) -> object:
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body  # not JSON: searched as text
    return body


def _texts(node: object, keys: tuple[str, ...] = (), holders: tuple[Mapping[str, Any], ...] = ()) -> Iterator[_Text]:
    if isinstance(node, str):
        yield _Text(node, keys, holders)
    elif isinstance(node, Mapping):
        inner = (node, *holders)
        for key, value in node.items():
            yield from _texts(value, (*keys, str(key)), inner)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _texts(value, keys, holders)


def _scalars(node: object) -> Iterator[object]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _scalars(value)
    else:
        yield node


def _has_number(body: object, wanted: float) -> bool:
    for value in _scalars(body):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and math.isclose(value, wanted, rel_tol=1e-6, abs_tol=1e-9):  # type: ignore[arg-type]
            return True
    return False


def _has_entry(node: object, key: str, wanted: object) -> bool:
    """Some object in ``node`` maps ``key`` to ``wanted``."""
    if isinstance(node, Mapping):
        if key in node and node[key] == wanted:
            return True
        return any(_has_entry(value, key, wanted) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(_has_entry(value, key, wanted) for value in node)
    return False


def _dump(body: object) -> str:
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(body)


class WireChecks(ModelSubject):
    """What the endpoint receives is what the caller asked for, and nothing of the caller's
    identity."""

    # -- the probe ---------------------------------------------------------------------------

    def _sent_during(self, operation: Callable[[], object]) -> list[tuple[object, Mapping[str, str]]] | None:
        """What reached the endpoint while ``operation`` ran: the harness's log when it
        keeps one, else the HTTP/1.1 requests read off this process's sockets."""
        logged = self.received_requests()
        if logged is not None:
            before = len(list(logged))
            operation()
            after = self.received_requests()
            return [(body, {}) for body in list(after or ())[before:]]
        with WireCapture() as capture:
            operation()
        return [(request.body, request.headers) for request in capture.requests()]

    def _metadata(self, tag: str) -> RequestMetadata:
        return RequestMetadata(
            tenant=f"byom-wire-tenant-{tag}",
            user=f"byom-wire-user-{tag}",
            conversation_id=f"byom-wire-conversation-{tag}",
            tags={"byom_wire": f"byom-wire-tag-{tag}"},
        )

    def _probe_request(self, model: Provider, tag: str, *, extra: bool = True) -> GenerateRequest:
        caps = model.info.capabilities
        fields: dict[str, Any] = {
            "max_tokens": self.max_tokens + 5,
            "temperature": PROBE_TEMPERATURE,
            "top_p": PROBE_TOP_P,
            "metadata": self._metadata(tag),
            "extra": copy.deepcopy(dict(self.request_extra)) if extra else {},
        }
        if caps.seed:
            fields["seed"] = PROBE_SEED
        if caps.chat or not caps.generate:
            # Whitespace at both ends, non-ASCII, a tab, every role of a conversation.
            messages = (
                Message(role="system", content=f"byom-wire system {tag}: answer briefly.\n"),
                Message(role="user", content=f"  byom-wire user one {tag}: naïve café 東京 🎉\n\n"),
                Message(role="assistant", content=f"byom-wire assistant {tag}:\tnoted."),
                Message(role="user", content=f"byom-wire user two {tag} ends with spaces.  "),
            )
            return GenerateRequest(messages=messages, **fields)
        return GenerateRequest(prompt=f"  byom-wire prompt {tag}: naïve café 東京 🎉\n\n", **fields)

    def _probe_embed(self, tag: str, *, extra: bool = True) -> EmbedRequest:
        return EmbedRequest(
            texts=(f"  byom-wire embed one {tag}\n", f"byom-wire embed two {tag}: Zürich 東京  "),
            metadata=self._metadata(tag),
            extra=copy.deepcopy(dict(self.request_extra)) if extra else {},
        )

    def _exchanges(self, model: Provider, tag: str, *, embed: bool = True) -> list[_Exchange]:
        """Each declared operation once with the probe, and what the endpoint received."""
        require_capability(model, "generate", any_of=("generate", "chat", "embed"))
        exchanges = []
        for name in self.operations(model):
            if name.endswith("embed") and not embed:
                continue
            refused = False
            for with_extra in (True, False):
                request = self._probe_request(model, tag, extra=with_extra)
                embed_request = self._probe_embed(tag, extra=with_extra)
                operation = self.operations(
                    model, request=functools.partial(_same, request), embed=functools.partial(_same, embed_request)
                )[name]
                try:
                    received = self._sent_during(functools.partial(operation, model))
                except BadRequest:
                    if with_extra and self.request_extra:
                        refused = True  # the provider refuses unknown extra keys; try without
                        continue
                    raise
                exchanges.append(_Exchange(name, tag, received or [], extra_refused=refused))
                break
        if self.received_requests() is None and not any(e.received for e in exchanges):
            pytest.skip(
                f"{plugin_label(model)} sent no HTTP/1.1 request on a socket of this process (in-process, "
                f"gRPC or HTTP/2) and {type(self).__name__}.received_requests offers no request bodies: "
                "what it sends is not examined"
            )
        return exchanges

    # -- the checks --------------------------------------------------------------------------

    @check("wire.one_request")
    def test_wire_one_request(self, byom_model: Provider) -> None:
        """Each call reaches the endpoint exactly once, on every operation.

        A provider that sends a call twice — a warm-up or probe request first, a retry on its
        own after a success, a stream opened to read the usage — doubles the cost and the
        endpoint's log, and the audit records one call. Fix: one request per call; retrying
        is the SDK's ``RetryPolicy``'s job.
        """
        exchanges = self._exchanges(byom_model, uuid.uuid4().hex[:10])
        wrong = [f"{e.operation}: {len(e.bodies)} requests carrying the probe" for e in exchanges if len(e.bodies) != 1]
        assert not wrong, (
            f"{plugin_label(byom_model)}: one call must send exactly one request (received_requests counts "
            f"them): {'; '.join(wrong)}"
        )

    @check("wire.messages")
    def test_wire_messages(self, byom_model: Provider) -> None:
        """Every message arrives verbatim, in order, under its own role; every embedded text
        arrives verbatim, in order.

        The probe's messages carry spaces and newlines at their ends, a tab and non-ASCII
        text; each must appear in a request body as it is (or exactly as the model's own chat
        template renders it, for a plugin that renders the prompt), the turns in the
        caller's order. Where the body keeps roles (a ``role`` / ``author`` next to the
        text, up to three objects up), each must be the message's role or a name APIs use for
        it (``model`` for ``assistant``...); a system message may instead sit under a
        ``system``-named key. A body without roles must hold the chat as the model's
        tokenizer renders it. Fix: send ``message.content`` untouched (no ``strip()``),
        map each role by a table, keep the order.
        """
        tag = uuid.uuid4().hex[:10]
        problems: list[str] = []
        for exchange in self._exchanges(byom_model, tag):
            absent = exchange.missing()
            if absent:
                problems.append(absent)
            elif exchange.operation.endswith("embed"):
                problems += self._texts_arrive(exchange, list(self._probe_embed(tag).texts))
            else:
                problems += self._messages_arrive(byom_model, exchange, self._probe_request(byom_model, tag))
        assert not problems, f"{plugin_label(byom_model)} changed what the caller sent: " + "; ".join(problems[:4])

    def _texts_arrive(self, exchange: _Exchange, texts: Sequence[str], *, what: str = "texts") -> list[str]:
        problems = []
        last = (-1, -1, -1)
        for index, text in enumerate(texts):
            if not exchange.find(text):
                problems.append(f"{exchange.operation}: {what}[{index}] {text!r} {_near_miss(exchange, text)}")
                continue
            place = exchange.position_after(text, last)
            if place is None:
                problems.append(f"{exchange.operation}: {what}[{index}] {text!r} arrived out of order")
            else:
                last = place
        return problems

    def _messages_arrive(self, model: Provider, exchange: _Exchange, request: GenerateRequest) -> list[str]:
        messages = request.as_messages()
        try:
            rendered = self.prompt_text(model, request)
        except Exception:  # noqa: BLE001 - a template that refuses the chat: compare with the contents.
            rendered = "\n".join(m.content for m in messages)
        # What the model itself reads for each message: its content, unless the model's
        # own chat template trims it (then the trimmed text is what a renderer sends).
        wanted = [_as_rendered(m.content, rendered) for m in messages]
        turns = [(i, w) for i, (m, w) in enumerate(zip(messages, wanted, strict=True)) if m.role != "system"]
        problems = self._texts_arrive(exchange, [w for _, w in turns], what="turns")
        roles_seen = False
        for message, text in zip(messages, wanted, strict=True):
            found = exchange.find(text)
            if not found:
                if message.role == "system":
                    problems.append(f"{exchange.operation}: the system message {text!r} {_near_miss(exchange, text)}")
                continue
            holder = found[0]
            role = holder.role
            roles_seen = roles_seen or role is not None
            if role is None:
                continue
            if role not in ROLE_NAMES.get(message.role, frozenset({message.role})) and not (
                message.role == "system" and holder.under_system_key
            ):
                problems.append(f"{exchange.operation}: the {message.role} message {text!r} arrived as role {role!r}")
        if not roles_seen and len(messages) > 1:
            problems += self._rendered_chat_arrives(model, exchange, messages)
        return problems

    def _rendered_chat_arrives(self, model: Provider, exchange: _Exchange, messages: Sequence[Message]) -> list[str]:
        tokenizer = self.tokenizer_for(model)
        if tokenizer is None:
            return []
        try:
            chat = tokenizer.apply_chat_template(messages, add_generation_prompt=False)
        except Exception:  # noqa: BLE001 - no chat template: nothing to compare the roles with.
            return []
        # A renderer may leave the BOS (or another leading special token) to the server.
        for token in sorted(tokenizer.special_tokens, key=len, reverse=True):
            if token and chat.startswith(token):
                chat = chat[len(token) :]
                break
        if exchange.find(chat):
            return []
        return [
            f"{exchange.operation}: the body names no roles and does not hold the chat as the model's "
            f"tokenizer renders it ({chat[:120]!r}...): roles mapped or turns merged differently"
        ]

    @check("wire.parameters")
    def test_wire_parameters(self, byom_model: Provider) -> None:
        """``max_tokens``, ``temperature``, ``top_p`` (and ``seed`` when declared) reach the
        endpoint on every generating operation.

        The probe asks for values no API uses as its default; each must appear in the
        request body (as a number or a numeric string, under whatever name the API uses). A
        dropped ``temperature`` makes every call greedy (or sampled) whatever the caller
        asked. Fix: map every parameter the caller set, on unary and streaming paths alike.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        request = self._probe_request(byom_model, "params")
        wanted = {"max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if request.seed is not None:
            wanted["seed"] = request.seed
        problems = []
        for exchange in self._exchanges(byom_model, uuid.uuid4().hex[:10], embed=False):
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            missing = [
                f"{name}={value}"
                for name, value in wanted.items()
                if value is not None and not any(_has_number(body, value) for body in exchange.bodies)
            ]
            if missing:
                problems.append(f"{exchange.operation}: {', '.join(missing)} not in the request")
        assert not problems, f"{plugin_label(byom_model)} dropped sampling parameters: " + "; ".join(problems[:4])

    @check("wire.extra")
    def test_wire_extra(self, byom_model: Provider) -> None:
        """The caller's ``extra`` reaches the endpoint, nested values intact, on every
        operation (unless the provider refuses unknown keys with ``BadRequest``).

        ``extra`` is how a caller reaches what the contract has no field for (a container's
        own option); each of ``request_extra``'s top-level keys must appear in a request
        body with its whole value. Fix: merge ``extra`` into the body on every path (the
        stream and embed payloads too).
        """
        if not self.request_extra:
            pytest.skip(f"{type(self).__name__}.request_extra is empty")
        problems = []
        for exchange in self._exchanges(byom_model, uuid.uuid4().hex[:10]):
            if exchange.extra_refused:
                continue
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            missing = [
                key
                for key, value in self.request_extra.items()
                if not any(_has_entry(body, key, _plain(value)) for body in exchange.bodies)
            ]
            if missing:
                problems.append(f"{exchange.operation}: extra {missing} not in the request")
        assert not problems, f"{plugin_label(byom_model)} dropped the caller's extra: " + "; ".join(problems[:4])

    @check("wire.metadata")
    def test_wire_metadata(self, byom_model: Provider) -> None:
        """The caller's identity — ``metadata.tenant``, ``user``, ``conversation_id`` and
        ``tags`` — never appears in a request body.

        Metadata is for the trust layer and the audit record; it must not leave the
        boundary inside the prompt's body (``request_id``, a correlation id, may travel).
        Fix: build the body from the request's content and sampling fields only.
        """
        tag = uuid.uuid4().hex[:10]
        metadata = self._metadata(tag)
        secrets = [v for v in (metadata.tenant, metadata.user, metadata.conversation_id) if v]
        secrets += list(metadata.tags.values())
        problems = []
        for exchange in self._exchanges(byom_model, tag):
            for text in exchange.seen:
                leaked = [s.rsplit("-", 1)[0].removeprefix("byom-wire-") for s in secrets if s in text]
                if leaked:
                    problems.append(f"{exchange.operation}: {', '.join(leaked)} in a request")
        assert not problems, f"{plugin_label(byom_model)} sent the caller's identity: " + "; ".join(problems[:4])


def _same(value: Any, *_: Any) -> Any:
    return value


def _plain(value: object) -> object:
    """``value`` as it reads back from JSON (tuples are lists)."""
    result: object = json.loads(json.dumps(value, default=str))
    return result


def _as_rendered(content: str, rendered: str) -> str:
    if content in rendered or content.strip() not in rendered:
        return content
    return content.strip()


def _near_miss(exchange: _Exchange, text: str) -> str:
    """Why ``text`` was not found, when a near form of it was."""
    if text.strip() != text and exchange.find(text.strip()):
        return "arrived with the whitespace at its ends changed"
    folded = " ".join(text.split()).casefold()
    if any(folded in " ".join(t.value.split()).casefold() for texts in exchange.texts for t in texts):
        return "arrived with its whitespace or case changed"
    return "is not in the request"
