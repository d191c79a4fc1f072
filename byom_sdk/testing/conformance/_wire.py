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

import asyncio
import copy
import functools
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ..._errors import BadRequest, ByomError, CapabilityNotSupported
from ..._provider import Provider
from ..._types import EmbedRequest, GenerateRequest, Message, RequestMetadata
from ._capture import WireCapture
from ._core import check, plugin_label, require_capability
from ._subject import ModelSubject
from ._wire_body import ROLE_NAMES, Exchange, Request, beside, greedy_switch, has_number, order, paths_of, same_place

__all__ = ["WireChecks"]

#: the probe's sampling parameters: values no API uses as a default (then 0, which a
#: plugin testing ``if request.temperature:`` drops).
PROBE_TEMPERATURE = 0.35
PROBE_TOP_P = 0.85
PROBE_SEED = 7919
PROBE_TOP_K = 37


class WireChecks(ModelSubject):
    """What the endpoint receives is what the caller asked for, and nothing of the caller's
    identity."""

    # -- the probe ---------------------------------------------------------------------------

    def _sent_during(self, operation: Callable[[], object]) -> list[Request]:
        """What reached the endpoint while ``operation`` ran: the harness's log when it
        keeps one, else the HTTP/1.1 requests read off this process's sockets."""
        logged = self.received_requests()
        if logged is not None:
            before = len(list(logged))
            operation()
            return [Request(body) for body in list(self.received_requests() or ())[before:]]
        with WireCapture() as capture:
            operation()
        return [Request(r.body, r.headers, r.target, r.peer) for r in capture.requests()]

    def _metadata(self, tag: str) -> RequestMetadata:
        return RequestMetadata(
            tenant=f"byom-wire-tenant-{tag}",
            user=f"byom-wire-user-{tag}",
            conversation_id=f"byom-wire-conversation-{tag}",
            tags={"byom_wire": f"byom-wire-tag-{tag}"},
        )

    def _probe_request(
        self, model: Provider, tag: str, *, extra: bool = True, temperature: float = PROBE_TEMPERATURE
    ) -> GenerateRequest:
        caps = model.info.capabilities
        fields: dict[str, Any] = {
            "max_tokens": self.max_tokens + 5,
            "temperature": temperature,
            "top_p": PROBE_TOP_P,
            "metadata": self._metadata(tag),
            "extra": copy.deepcopy(dict(self.request_extra)) if extra else {},
        }
        if caps.seed:
            fields["seed"] = PROBE_SEED
        if caps.chat or not caps.generate:
            # Whitespace at both ends, CRLF, a tab, non-ASCII, characters a sanitiser or a
            # compatibility normalisation would change (a ligature, a full-width digit, a
            # no-break and a zero-width space), every role of a conversation.
            messages = (
                Message(role="system", content=f"byom-wire system {tag}: answer briefly.\n"),
                Message(role="user", content=f"  byom-wire user one {tag}: naïve café 東京 🎉 ﬁ１\u00a0a\u200bb\r\n\n"),
                Message(role="assistant", content=f"byom-wire assistant {tag}:\tnoted."),
                Message(role="user", content=f"byom-wire user two {tag} ends with spaces.  "),
            )
            return GenerateRequest(messages=messages, **fields)
        return GenerateRequest(prompt=f"  byom-wire prompt {tag}: naïve café 東京 🎉 ﬁ１\u00a0a\r\n\n", **fields)

    def _probe_embed(self, tag: str, *, extra: bool = True) -> EmbedRequest:
        # In no sorted order (neither by text nor by length, either way).
        texts = (
            f"  alpha byom-wire embed {tag}: Zürich 東京\n",
            f"zeta byom-wire embed {tag}: the longest of the three texts, to be embedded second",
            f"mid byom-wire {tag}  ",
        )
        return EmbedRequest(
            texts=texts, metadata=self._metadata(tag), extra=copy.deepcopy(dict(self.request_extra)) if extra else {}
        )

    def _exchanges(
        self, model: Provider, tag: str, *, embed: bool = True, temperature: float = PROBE_TEMPERATURE
    ) -> list[Exchange]:
        """Each declared operation once with the probe, and what the endpoint received."""
        require_capability(model, "generate", any_of=("generate", "chat", "embed"))
        exchanges = []
        for name in self.operations(model):
            if name.endswith("embed") and not embed:
                continue
            refused = False
            for with_extra in (True, False):
                request = self._probe_request(model, tag, extra=with_extra, temperature=temperature)
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
                exchanges.append(Exchange(name, tag, received, extra_refused=refused))
                break
        if self.received_requests() is None and not any(e.received for e in exchanges):
            pytest.skip(
                f"{plugin_label(model)} sent no HTTP/1.1 request on a socket of this process (in-process, "
                f"gRPC or HTTP/2) and {type(self).__name__}.received_requests offers no request bodies: "
                "what it sends is not examined"
            )
        return exchanges

    def _sent_or_refused(
        self, model: Provider, request: GenerateRequest, tag: str, named: re.Pattern[str], what: str
    ) -> tuple[list[Exchange], list[str]]:
        """``request`` on every generating operation: what reached the endpoint, or a
        refusal (``BadRequest`` / ``CapabilityNotSupported``) that must name ``what``."""
        exchanges, problems = [], []
        for name, operation in self.operations(model, request=functools.partial(_same, request)).items():
            if name.endswith("embed"):
                continue
            failure: list[ByomError] = []
            received = self._sent_during(functools.partial(_failing_into, failure, operation, model))
            if failure and isinstance(failure[0], BadRequest | CapabilityNotSupported):
                if named.search(str(failure[0])) is None:
                    kind = type(failure[0]).__name__
                    problems.append(f"{name}: refused with {kind} that does not name {what}: {failure[0]}")
                continue
            exchanges.append(Exchange(name, tag, received))
        if exchanges and self.received_requests() is None and not any(e.received for e in exchanges):
            pytest.skip(
                f"{plugin_label(model)} sent no HTTP/1.1 request on a socket of this process and "
                f"{type(self).__name__}.received_requests offers no request bodies: what it sends is not examined"
            )
        return exchanges, problems

    # -- the checks --------------------------------------------------------------------------

    @check("wire.one_request")
    def test_wire_one_request(self, byom_model: Provider) -> None:
        """Each call reaches the endpoint exactly once, on every operation (an embedding API
        that takes one text per request: once per text).

        A provider that sends a call twice — a warm-up or probe request first, a retry on its
        own after a success, a stream opened to read the usage — doubles the cost and the
        endpoint's log, and the audit records one call. Requests that do not carry the
        probe's text (a token fetch) are not counted. Fix: one request per call; retrying
        is the SDK's ``RetryPolicy``'s job.
        """
        tag = uuid.uuid4().hex[:10]
        per_text = len(self._probe_embed(tag).texts)
        wrong = []
        for exchange in self._exchanges(byom_model, tag):
            allowed = (1, per_text) if exchange.operation.endswith("embed") else (1,)
            if len(exchange.bodies) not in allowed:
                wrong.append(f"{exchange.operation}: {len(exchange.bodies)} requests carrying the probe")
        assert not wrong, f"{plugin_label(byom_model)}: one call must send exactly one request: {'; '.join(wrong)}"

    @check("wire.messages")
    def test_wire_messages(self, byom_model: Provider) -> None:
        """Every message arrives verbatim, in order, under its own role; every embedded text
        arrives verbatim, in order.

        The probe's messages carry spaces, CRLF and newlines at their ends, a tab,
        non-ASCII text and characters a normalisation would change; each must appear in a
        request body as it is (or exactly as the model's own chat template renders it, for
        a plugin that renders the prompt). Where the body keeps roles (a ``role`` /
        ``author`` next to the text, up to three objects up), each must be the message's
        role or a name APIs use for it (``model`` for ``assistant``...), holding that
        message alone (a system message may be folded into the first user turn, or sit
        under a ``system``-named key). Messages in one array, or one string, keep the
        caller's order. A body without roles must hold the chat as the model's tokenizer
        renders it. Fix: send ``message.content`` untouched (no ``strip()``, no
        normalisation), map each role by a table, keep the order.
        """
        tag = uuid.uuid4().hex[:10]
        problems: list[str] = []
        for exchange in self._exchanges(byom_model, tag):
            absent = exchange.missing()
            if absent:
                problems.append(absent)
            elif exchange.operation.endswith("embed"):
                problems += _in_order(exchange, list(self._probe_embed(tag).texts), "texts")
            else:
                problems += self._messages_arrive(byom_model, exchange, self._probe_request(byom_model, tag))
        assert not problems, f"{plugin_label(byom_model)} changed what the caller sent: " + "; ".join(problems[:4])

    def _messages_arrive(self, model: Provider, exchange: Exchange, request: GenerateRequest) -> list[str]:
        messages = request.as_messages()
        try:
            rendered = self.prompt_text(model, request)
        except Exception:  # noqa: BLE001 - a template that refuses the chat: compare with the contents.
            rendered = "\n".join(m.content for m in messages)
        # What the model itself reads for each message: its content, unless the model's
        # own chat template trims it (then the trimmed text is what a renderer sends).
        wanted = [_as_rendered(m.content, rendered) for m in messages]
        problems = _in_order(exchange, wanted, "messages")
        system = next((w for m, w in zip(messages, wanted, strict=True) if m.role == "system"), None)
        roles_seen = False
        for index, (message, text) in enumerate(zip(messages, wanted, strict=True)):
            found = exchange.find(text)
            if not found:
                continue  # reported by _in_order
            holder = found[0]
            role = holder.role
            roles_seen = roles_seen or role is not None
            if role is None:
                continue
            alone = holder.value.strip() == text.strip()
            if system is not None and message.role != "system" and system in holder.value:
                alone = holder.value.replace(system, "", 1).strip() == text.strip()  # system folded in
            if message.role == "system" and (holder.under_system_key or (role in ROLE_NAMES["user"] and not alone)):
                continue  # kept apart, or folded into the first user turn
            if role not in ROLE_NAMES.get(message.role, frozenset({message.role})):
                problems.append(f"{exchange.operation}: the {message.role} message {text!r} arrived as role {role!r}")
            elif not alone:
                problems.append(
                    f"{exchange.operation}: messages[{index}] ({message.role}) arrived with other text in it: "
                    f"{holder.value[:120]!r}"
                )
        if not roles_seen and len(messages) > 1:
            problems += self._rendered_chat_arrives(model, exchange, messages)
        return problems

    def _rendered_chat_arrives(self, model: Provider, exchange: Exchange, messages: Sequence[Message]) -> list[str]:
        tokenizer = self.tokenizer_for(model)
        if tokenizer is None:
            return []
        try:
            # What every renderer sends: the part both renderings share (a template may end
            # the chat with an EOS when no generation prompt follows).
            with_prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
            without = tokenizer.apply_chat_template(messages, add_generation_prompt=False)
        except Exception:  # noqa: BLE001 - no chat template: nothing to compare the roles with.
            return []
        chat = _common_prefix(with_prompt, without)
        # A renderer may leave the BOS (or another leading special token) to the server.
        for token in sorted(tokenizer.special_tokens, key=len, reverse=True):
            if token and chat.startswith(token):
                chat = chat[len(token) :]
                break
        if not chat.strip() or exchange.find(chat):
            return []
        return [
            f"{exchange.operation}: the body names no roles and does not hold the chat as the model's "
            f"tokenizer renders it ({chat[:120]!r}...): roles mapped or turns merged differently"
        ]

    @check("wire.parameters")
    def test_wire_parameters(self, byom_model: Provider) -> None:
        """``max_tokens``, ``temperature``, ``top_p`` (and ``seed`` when declared) reach the
        endpoint on every generating operation — ``temperature=0`` too.

        The probe asks for values no API uses as its default, then for ``temperature=0``;
        each must appear in the request (as a number or a numeric string, under whatever
        name the API uses; a form, a query string or a text body count). A dropped
        ``temperature`` makes every call greedy (or sampled) whatever the caller asked;
        ``if request.temperature:`` drops the greedy 0. Fix: map every parameter the caller
        set (``is not None``), on unary and streaming paths alike.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        problems = []
        request = self._probe_request(byom_model, "params")
        wanted = {"max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p}
        if request.seed is not None:
            wanted["seed"] = request.seed
        for exchange in self._exchanges(byom_model, uuid.uuid4().hex[:10], embed=False):
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            sent = [*exchange.bodies, *exchange.queries]
            missing = [
                f"{name}={value}"
                for name, value in wanted.items()
                if value is not None and not any(has_number(body, value) for body in sent)
            ]
            if missing:
                problems.append(f"{exchange.operation}: {', '.join(missing)} not in the request")
        # Greedy: temperature 0, or the container's switch for it (TGI refuses a 0 and takes
        # do_sample=false).
        for exchange in self._exchanges(byom_model, uuid.uuid4().hex[:10], embed=False, temperature=0.0):
            sent = [*exchange.bodies, *exchange.queries]
            if exchange.bodies and not any(has_number(body, 0.0) or greedy_switch(body) for body in sent):
                problems.append(f"{exchange.operation}: temperature=0 (greedy) not in the request")
        assert not problems, f"{plugin_label(byom_model)} dropped sampling parameters: " + "; ".join(problems[:4])

    @check("wire.top_k")
    def test_wire_top_k(self, byom_model: Provider) -> None:
        """A caller's ``top_k`` reaches the endpoint on every generating operation (under a
        ``top_k``-like key: ``top_k``, ``topK``, ``k``…), or the call is refused with
        ``BadRequest`` or ``CapabilityNotSupported`` naming it — never sent without it.

        Many APIs take ``top_k`` (TGI, vLLM, Vertex, Anthropic); some refuse it (OpenAI,
        TGI's Messages API). A plugin for the latter that drops it samples from the whole
        vocabulary while the caller asked for 37 candidates, and nobody learns of it.
        Fix: send it under the API's name, or refuse a request that sets it.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        tag = uuid.uuid4().hex[:10]
        request = self._probe_request(byom_model, tag, extra=False).model_copy(update={"top_k": PROBE_TOP_K})
        exchanges, problems = self._sent_or_refused(byom_model, request, tag, _TOP_K_NAMED, "top_k")
        for exchange in exchanges:
            name = exchange.operation
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            if not any(_has_top_k(body) for body in [*exchange.bodies, *exchange.queries]):
                problems.append(f"{name}: top_k={PROBE_TOP_K} not in the request, and the call was not refused")
        assert not problems, f"{plugin_label(byom_model)} dropped top_k: " + "; ".join(problems[:4])

    @check("wire.tool_choice")
    def test_wire_tool_choice(self, byom_model: Provider) -> None:
        """A caller's named ``tool_choice`` (``{"type": "function", "function": {"name":
        N}}``: call N, no other tool and no text) reaches the endpoint on every generating
        operation, or the call is refused with ``BadRequest`` or ``CapabilityNotSupported``
        naming it. Reaching it means N stands under a tool-choice key (OpenAI's and
        Anthropic's ``tool_choice``, Bedrock's ``toolChoice``, Gemini's ``toolConfig``…), or
        only N is offered (the other tools left out, as a grammar built for N does).

        A plugin that sends a named choice as ``"required"``, or only string choices, lets
        the model call another tool the caller ruled out. The probe offers the subject's
        ``tool_request()`` tools plus one of its own, and names that one.
        Fix: send the name in the API's shape, or refuse a named choice.
        """
        require_capability(byom_model, "tools")
        request = self.tool_request(byom_model)
        if request is None or not request.tools:
            pytest.skip(f"{type(self).__name__}.tool_request() supplies no request with tools")
        tag = uuid.uuid4().hex[:10]
        forced = f"byom_wire_forced_{tag}"
        offered = sorted(_tool_names(request.tools))
        probe_tool = {
            "type": "function",
            "function": {
                "name": forced,
                "description": "Records that the conformance probe's named tool_choice arrived.",
                "parameters": {"type": "object", "properties": {"note": {"type": "string"}}},
            },
        }
        named = request.model_copy(
            update={
                "tools": (*request.tools, probe_tool),
                "tool_choice": {"type": "function", "function": {"name": forced}},
            }
        )
        exchanges, problems = self._sent_or_refused(byom_model, named, tag, _TOOL_CHOICE_NAMED, "tool_choice")
        for exchange in exchanges:
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            sent = [*exchange.bodies, *exchange.queries]
            if any(_names_under_choice(body, forced) for body in sent):
                continue
            if not any(_holds_string(body, set(offered)) for body in sent):
                continue  # only the named tool was offered: the choice is in what was sent
            problems.append(
                f"{exchange.operation}: tool_choice naming {forced!r} not in the request (no tool-choice key "
                f"names it, and the other tools {offered[:3]} were offered too), and the call was not refused"
            )
        assert not problems, f"{plugin_label(byom_model)} dropped a named tool_choice: " + "; ".join(problems[:4])

    @check("wire.extra")
    def test_wire_extra(self, byom_model: Provider) -> None:
        """The caller's ``extra`` reaches the endpoint, nested values intact, in the same
        place on every operation (unless the provider refuses unknown keys with
        ``BadRequest``).

        ``extra`` is how a caller reaches what the contract has no field for (a container's
        own option); each of ``request_extra``'s top-level keys must appear in a request
        with its whole value — merged where the API reads options, not sent as a literal
        ``extra`` object, and at the same place on unary, streaming and async paths. Fix:
        merge ``extra`` into the body on every path (the stream and embed payloads too).
        """
        if not self.request_extra:
            pytest.skip(f"{type(self).__name__}.request_extra is empty")
        problems = []
        places: dict[str, dict[str, tuple[str | int, ...]]] = {}
        for exchange in self._exchanges(byom_model, uuid.uuid4().hex[:10]):
            if exchange.extra_refused:
                continue
            absent = exchange.missing()
            if absent:
                problems.append(absent)
                continue
            sent = [*exchange.bodies, *exchange.queries]
            for key, value in self.request_extra.items():
                found = [path for body in sent for path in paths_of(body, key, _plain(value))]
                if not found:
                    problems.append(f"{exchange.operation}: extra[{key!r}] not in the request")
                elif all(path and path[-1] == "extra" for path in found):
                    problems.append(f"{exchange.operation}: extra[{key!r}] sent inside a literal 'extra' object")
                else:
                    # Where it sits beside the content (a Vertex predict instance and a raw
                    # body are two envelopes around the same request).
                    kind = "embed" if exchange.operation.endswith("embed") else "generate"
                    content = exchange.find(exchange.tag)
                    anchor = content[0].path if content else ()
                    places.setdefault(f"{kind}:{key}", {})[exchange.operation] = beside(found[0], anchor)
        for where in places.values():
            if not same_place(list(where.values())):
                spread = ", ".join(f"{op}: {'.'.join(map(str, path)) or '<top>'}" for op, path in where.items())
                problems.append(f"extra sent at different places ({spread})")
        assert not problems, f"{plugin_label(byom_model)} dropped the caller's extra: " + "; ".join(problems[:4])

    @check("wire.metadata")
    def test_wire_metadata(self, byom_model: Provider) -> None:
        """The caller's identity — ``metadata.tenant``, ``user``, ``conversation_id`` and
        ``tags`` — never appears in a request: its body, its URL or (when read off the
        socket) its headers.

        Metadata is for the trust layer and the audit record; it must not leave the
        boundary with the prompt (``request_id``, a correlation id, may travel). Fix: build
        the request from the request's content and sampling fields only.
        """
        tag = uuid.uuid4().hex[:10]
        metadata = self._metadata(tag)
        secrets = [v for v in (metadata.tenant, metadata.user, metadata.conversation_id) if v]
        secrets += list(metadata.tags.values())
        problems = []
        for exchange in self._exchanges(byom_model, tag):
            if not exchange.received:
                problems.append(f"{exchange.operation}: no request received")
            for text in exchange.seen:
                leaked = [s.rsplit("-", 1)[0].removeprefix("byom-wire-") for s in secrets if s in text]
                if leaked:
                    problems.append(f"{exchange.operation}: {', '.join(leaked)} in a request")
        assert not problems, f"{plugin_label(byom_model)} sent the caller's identity: " + "; ".join(problems[:4])

    # -- correlation ids ---------------------------------------------------------------------

    def _rid_request(self, model: Provider, tag: str, request_id: str | None) -> GenerateRequest:
        metadata = RequestMetadata(request_id=request_id)
        return self.reference(model, prompt=f"{self.prompts[0]} ({tag})", metadata=metadata)

    def _rid_embed(self, tag: str, request_id: str | None) -> EmbedRequest:
        return EmbedRequest(texts=(f"byom-wire request id {tag}",), metadata=RequestMetadata(request_id=request_id))

    def _rid_operation(self, model: Provider, name: str, tag: str, request_id: str | None) -> Callable[[], object]:
        request = self._rid_request(model, tag, request_id)
        embed = self._rid_embed(tag, request_id)
        operation = self.operations(
            model, request=functools.partial(_same, request), embed=functools.partial(_same, embed)
        )[name]
        return functools.partial(operation, model)

    def _seen(self, name: str, received: list[Request]) -> list[str]:
        """Each request as text: target, headers (when read off the socket) and body."""
        return Exchange(name, "", received).seen

    @check("wire.request_id")
    def test_wire_request_id(self, byom_model: Provider) -> None:
        """Each request carries only its own call's ``metadata.request_id``: a call without
        one sends none of an earlier call's, and concurrent calls (threads, asyncio tasks)
        with distinct ids never carry each other's.

        For every operation a call with an id is followed by one without; then four
        ``generate`` calls (``embed`` without generation) run in threads, and four
        ``agenerate`` as gathered tasks, each with its own id. A provider need not send the
        id at all. Setting it as a default header of a shared client (``client.headers[...]
        = request_id``) stamps it on every later call, and on concurrent calls of other
        callers. Fix: pass the id per request (``client.post(..., headers={...})``).
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat", "embed"))
        label = plugin_label(byom_model)
        run = uuid.uuid4().hex[:10]
        problems: list[str] = []
        captured = 0
        for name in self.operations(byom_model):
            first = f"byom-wire-rid-{run}-{name}"
            received = self._sent_during(self._rid_operation(byom_model, name, f"{run}-{name}-a", first))
            captured += len(received)
            received = self._sent_during(self._rid_operation(byom_model, name, f"{run}-{name}-b", None))
            captured += len(received)
            if any(first in text for text in self._seen(name, received)):
                problems.append(f"{name}: a call without a request_id sent the previous call's {first!r}")
        caps = byom_model.info.capabilities
        sync, asynchronous = ("generate", "agenerate") if caps.generate or caps.chat else ("embed", "aembed")
        ids = {f"{run}-t{i}": f"byom-wire-rid-{run}-t{i}" for i in range(4)}
        calls = [self._rid_operation(byom_model, sync, tag, rid) for tag, rid in ids.items()]

        def threads() -> None:
            with ThreadPoolExecutor(max_workers=len(calls)) as pool:
                list(pool.map(lambda call: call(), calls))

        received = self._sent_during(threads)
        captured += len(received)
        problems += _crossed(sync, ids, self._seen(sync, received), "threads")
        aids = {f"{run}-a{i}": f"byom-wire-rid-{run}-a{i}" for i in range(4)}

        async def gathered() -> None:
            requests = [(self._rid_request(byom_model, t, r), self._rid_embed(t, r)) for t, r in aids.items()]
            if asynchronous == "agenerate":
                await asyncio.gather(*(byom_model.agenerate(request) for request, _ in requests))
            else:
                await asyncio.gather(*(byom_model.aembed(embed) for _, embed in requests))

        received = self._sent_during(lambda: asyncio.run(gathered()))
        captured += len(received)
        problems += _crossed(asynchronous, aids, self._seen(asynchronous, received), "asyncio tasks")
        if not captured:
            pytest.skip(
                f"{label} sent no HTTP/1.1 request on a socket of this process (in-process, gRPC or HTTP/2) and "
                f"{type(self).__name__}.received_requests offers no request bodies: what it sends is not examined"
            )
        assert not problems, f"{label} sent another call's request_id: " + "; ".join(problems[:4])


def _crossed(name: str, ids: dict[str, str], seen: list[str], how: str) -> list[str]:
    """Requests of one call (found by its tag) that carry another call's id."""
    problems = []
    for text in seen:
        own = [tag for tag in ids if f"({tag})" in text or f"request id {tag}" in text]
        if len(own) != 1:
            continue
        foreign = [rid for tag, rid in ids.items() if tag != own[0] and rid in text]
        if foreign:
            problems.append(f"{name} from {how}: the call {own[0]!r} sent {foreign[0]!r}")
    return problems


def _in_order(exchange: Exchange, texts: Sequence[str], what: str) -> list[str]:
    """Each text arrives verbatim; no two arrive in the opposite order where order means
    something (one array, one string, two requests)."""
    problems = []
    first: list[tuple[int, Any, int] | None] = []
    for index, text in enumerate(texts):
        places = exchange.places(text)
        if not places:
            problems.append(f"{exchange.operation}: {what}[{index}] {text!r} {exchange.near_miss(text)}")
        first.append(places[0] if places else None)
    for i, a in enumerate(first):
        for j in range(i + 1, len(first)):
            b = first[j]
            if a is not None and b is not None and order(a, b) == 1:
                problems.append(f"{exchange.operation}: {what}[{j}] arrived before {what}[{i}]")
    return problems


def _common_prefix(a: str, b: str) -> str:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return a[:size]


#: the names APIs give top_k (Cohere's ``k``); the probe's value is looked for under them
#: only, so that another number of the body (``max_tokens``, the tag) cannot stand for it.
_TOP_K_KEYS = frozenset({"top_k", "topK", "top-k", "topk", "TopK", "k"})
_TOP_K_NAMED = re.compile(r"top[_\- ]?k", re.IGNORECASE)


def _has_top_k(node: object) -> bool:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _TOP_K_KEYS and _is_probe_top_k(value):
                return True
            if _has_top_k(value):
                return True
    elif isinstance(node, list | tuple):
        return any(_has_top_k(item) for item in node)
    return False


def _is_probe_top_k(value: object) -> bool:
    if isinstance(value, list | tuple) and len(value) == 1:  # a query string's one value
        value = value[0]
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == PROBE_TOP_K
    return isinstance(value, str) and value.strip() == str(PROBE_TOP_K)


#: where APIs put the tool choice: OpenAI, Anthropic, Mistral, Cohere (``tool_choice``),
#: Bedrock Converse (``toolChoice``), Gemini (``toolConfig.functionCallingConfig``), the
#: legacy OpenAI ``function_call``.
_TOOL_CHOICE_KEYS = frozenset(
    {"tool_choice", "toolChoice", "tool-choice", "tool_config", "toolConfig", "function_call",
     "functionCallingConfig", "function_calling_config"}
)  # fmt: skip
_TOOL_CHOICE_NAMED = re.compile(r"tool[_\- ]?choice|named tool|function_call", re.IGNORECASE)


def _failing_into(failure: list[ByomError], operation: Callable[[Provider], object], model: Provider) -> None:
    """Run ``operation``; a core error is kept in ``failure`` (what was sent still counts)."""
    try:
        operation(model)
    except ByomError as exc:
        failure.append(exc)


def _tool_names(tools: Sequence[Mapping[str, Any]]) -> set[str]:
    names = set()
    for tool in tools:
        function = tool.get("function", tool)
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str) and name:
            names.add(name)
    return names


def _names_under_choice(node: object, name: str, under: bool = False) -> bool:
    """``name`` is a string (or the whole of one) somewhere under a tool-choice key."""
    if isinstance(node, Mapping):
        return any(_names_under_choice(v, name, under or k in _TOOL_CHOICE_KEYS) for k, v in node.items())
    if isinstance(node, list | tuple):
        return any(_names_under_choice(item, name, under) for item in node)
    return under and isinstance(node, str) and node.strip() == name


def _holds_string(node: object, wanted: set[str]) -> bool:
    """One of ``wanted`` is a whole string value of ``node`` (a tool's name, a ``const``)."""
    if isinstance(node, Mapping):
        return any(_holds_string(value, wanted) for value in node.values())
    if isinstance(node, list | tuple):
        return any(_holds_string(item, wanted) for item in node)
    return isinstance(node, str) and node.strip() in wanted


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
