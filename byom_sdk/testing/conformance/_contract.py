"""Checks of the request side of the contract: the caller's objects, bad input, tools."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ..._errors import BadRequest, ByomError, SchemaError
from ..._provider import Provider
from ..._types import EmbedRequest, GenerateRequest, RequestMetadata, ToolCall
from ._core import check, plugin_label, require_capability
from ._subject import ModelSubject, collect, collect_async

__all__ = ["RequestChecks"]


def _snapshot(request: GenerateRequest | EmbedRequest) -> Any:
    # model_dump copies containers, so a later mutation of the request shows as a difference.
    return copy.deepcopy(request.model_dump(mode="python"))


def _tool_names(tools: tuple[dict[str, Any], ...]) -> set[str]:
    names = set()
    for tool in tools:
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
        if isinstance(name, str):
            names.add(name)
    return names


class RequestChecks(ModelSubject):
    """The caller's request is the caller's; bad input is refused the same way everywhere;
    a declared ``tools`` capability works."""

    @check("request.unchanged")
    def test_request_unchanged(self, byom_model: Provider) -> None:
        """The caller's request — nested ``extra``, ``metadata`` (its ``tags`` included), tool
        definitions and (declared structured output) the ``response_format`` schema — is
        exactly as it was after every operation, sync and async, unary and streaming.

        Requests are frozen, but ``extra``, ``metadata.tags`` and ``tools`` hold plain dicts
        the caller still owns (the same request is often sent twice). Sent with
        ``request_extra`` and a full ``metadata`` (tenant, user, conversation and request
        ids, routing-style tags); a provider that refuses unknown ``extra`` keys with
        ``BadRequest`` is re-checked with an empty one. Fix: copy before adding defaults
        (``body = {**defaults, **request.extra}``, ``copy.deepcopy`` for nested values); read
        tags with ``get`` and never ``setdefault`` / ``update`` / ``pop`` on
        ``request.extra``, ``request.metadata.tags``, ``request.response_format`` or their
        values.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat", "embed"))
        problems = []
        for name in self.operations(byom_model):
            for extra in (self.request_extra, {}):
                generate = self.reference(byom_model, extra=copy.deepcopy(dict(extra)), metadata=_metadata())
                embed = self.embed_request(extra=copy.deepcopy(dict(extra)), metadata=_metadata())
                used: GenerateRequest | EmbedRequest = embed if name.endswith("embed") else generate
                before = _snapshot(used)
                operation = self.operations(
                    byom_model, request=functools.partial(_same, generate), embed=functools.partial(_same, embed)
                )[name]
                try:
                    operation(byom_model)
                except BadRequest:
                    if extra:
                        continue  # the provider refuses unknown extra keys; try without
                    raise
                after = _snapshot(used)
                if after != before:
                    changed = sorted(k for k in before if before[k] != after.get(k))
                    shown = "; ".join(f"{k} {before[k]!r} became {after.get(k)!r}" for k in changed)
                    problems.append(f"{name}: the caller's request changed: {shown}")
                break
        if byom_model.info.capabilities.structured_output:
            problems += self._response_format_unchanged(byom_model)
        assert not problems, f"{plugin_label(byom_model)} mutated the caller's request: " + "; ".join(problems[:3])

    def _response_format_unchanged(self, model: Provider) -> list[str]:
        """Each generating operation with a ``response_format`` (declared structured
        output): the caller's schema dict must come back as it was, whatever the answer."""
        problems = []
        for name in self.operations(model):
            if name.endswith("embed"):
                continue
            response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": _ANSWER_SCHEMA}}
            request = self.reference(model, max_tokens=96, response_format=copy.deepcopy(response_format))
            operation = self.operations(model, request=functools.partial(_same, request))[name]
            try:
                operation(model)
            except ByomError:
                pass  # a refusal or a SchemaError is structured.output's business; only mutation is looked at
            if request.response_format != response_format:
                problems.append(f"{name}: the caller's response_format changed: {request.response_format!r}")
        return problems

    def _invalid_inputs(self, model: Provider) -> list[tuple[str, str, Callable[[], object]]]:
        caps = model.info.capabilities
        cases: list[tuple[str, str, Callable[[], object]]] = []
        if caps.generate or caps.chat:
            calls: dict[str, Callable[..., object]] = {
                "generate": model.generate,
                "agenerate": lambda *a, **k: asyncio.run(model.agenerate(*a, **k)),
            }
            if caps.stream:
                calls["stream"] = lambda *a, **k: collect(model.stream(*a, **k))
                calls["astream"] = lambda *a, **k: asyncio.run(_drain(model, *a, **k))
            for name, call in calls.items():
                cases += [
                    (f"{name}: lone surrogate", "prompt", functools.partial(call, "bad \ud800 text", max_tokens=2)),
                    (
                        f"{name}: NUL in a message",
                        "messages.0.content",
                        functools.partial(call, [{"role": "user", "content": "a\x00b"}], max_tokens=2),
                    ),
                    (f"{name}: max_tokens=0", "max_tokens", functools.partial(call, "hi", max_tokens=0)),
                    (f"{name}: temperature='hot'", "temperature", functools.partial(call, "hi", temperature="hot")),
                    (f"{name}: top_p=2", "top_p", functools.partial(call, "hi", top_p=2.0)),
                ]
        if caps.embed:
            cases += [
                ("embed: lone surrogate", "texts.1", lambda: model.embed(["fine", "bad \udfff"])),
                ("aembed: NUL", "texts.0", lambda: asyncio.run(model.aembed(["a\x00b"]))),
            ]
        return cases

    @check("input.invalid")
    def test_input_invalid(self, byom_model: Provider) -> None:
        """Invalid input is refused with ``BadRequest`` naming the field, before anything is
        sent, on every operation: lone surrogates, NUL, out-of-range or mistyped parameters.

        The core validates the caller's arguments (``BadRequest.details["field"]``); an
        ``InvalidValue`` (a request type built by the plugin), a raw ``ValidationError``,
        ``UnicodeEncodeError`` or ``TypeError`` means the plugin bypassed it. Fix: do not
        override the public ``generate`` / ``stream`` / ``embed`` methods; implement the
        ``handle_*`` hooks, which receive validated requests.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat", "embed"))
        problems = []
        for what, field, call in self._invalid_inputs(byom_model):
            try:
                call()
            except BadRequest as exc:
                named = str(exc.details.get("field") or "")
                if not named.startswith(field) and field not in str(exc):
                    problems.append(f"{what}: BadRequest does not name {field!r} ({exc})")
            except Exception as exc:  # noqa: BLE001 - any other outcome is the finding.
                problems.append(f"{what}: raised {type(exc).__module__}.{type(exc).__name__}: {exc}")
            else:
                problems.append(f"{what}: accepted")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("input.empty")
    def test_input_empty(self, byom_model: Provider) -> None:
        """An empty prompt and an empty user message get an answer or a ``ByomError`` (a
        ``BadRequest``, say) on every generating operation — never a raw exception.

        ``prompt[-1]``, ``content[-1]`` or ``prompt.split()[0]`` on an empty string raise
        ``IndexError`` from inside the plugin. Fix: handle the empty text (``endswith``,
        ``prompt[-1:]``), or refuse it with ``BadRequest`` naming the field.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        caps = byom_model.info.capabilities
        calls: dict[str, Callable[[Any], object]] = {
            "generate": lambda given: byom_model.generate(given, max_tokens=4),
            "agenerate": lambda given: asyncio.run(byom_model.agenerate(given, max_tokens=4)),
        }
        if caps.stream:
            calls["stream"] = lambda given: collect(byom_model.stream(given, max_tokens=4))
            calls["astream"] = lambda given: asyncio.run(_drain(byom_model, given, max_tokens=4))
        inputs: dict[str, Any] = {"an empty prompt": "", "an empty user message": [{"role": "user", "content": ""}]}
        problems = []
        for name, call in calls.items():
            for what, given in inputs.items():
                try:
                    call(given)
                except ByomError:
                    continue
                except Exception as exc:  # noqa: BLE001 - a raw exception escaping is the finding.
                    problems.append(
                        f"{name} with {what}: raised raw {type(exc).__module__}.{type(exc).__name__}: {exc}"
                    )
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("tools.call")
    def test_tools_call(self, byom_model: Provider) -> None:
        """A declared ``tools`` capability works: the subject's ``tool_request()`` yields tool
        calls naming a tool that was offered, with JSON arguments, a non-empty id unique in
        the answer and ``finish_reason "tool_calls"`` — from ``generate``, ``agenerate`` and
        (declared) ``stream`` and ``astream``; the request's tool definitions are left
        unchanged.

        Fix: send ``request.tools`` to the provider in its wire shape and map the answer's
        tool calls (``ToolCall`` / ``ToolCallEvent``, with the provider's call id, or one
        made up when it gives none) on every path; or stop declaring ``tools``.
        """
        require_capability(byom_model, "tools")
        request = self.tool_request(byom_model)
        assert request is not None, (
            f"{plugin_label(byom_model)} declares 'tools' but {type(self).__name__}.tool_request() supplies no "
            "request that makes it call a tool; a declared capability must be exercised"
        )
        assert request.tools, "tool_request() returned a request without tools"
        offered = _tool_names(request.tools)
        before = copy.deepcopy(request.tools)
        problems = []

        def inspect(name: str, calls: list[ToolCall], finish: str | None) -> None:
            if not calls:
                problems.append(f"{name}: no tool call (finish_reason={finish!r}); are the tools sent?")
                return
            for call in calls:
                if offered and call.name not in offered:
                    problems.append(f"{name}: called {call.name!r}, offered {sorted(offered)}")
                try:
                    json.loads(call.arguments)
                except ValueError:
                    problems.append(f"{name}: arguments of {call.name!r} are not JSON: {call.arguments!r}")
            if finish != "tool_calls":
                problems.append(f"{name}: finish_reason {finish!r} after a tool call, expected 'tool_calls'")
            ids = [call.id for call in calls]
            if not all(isinstance(i, str) and i.strip() for i in ids):
                problems.append(f"{name}: a tool call without an id ({ids!r}): the tool result cannot name its call")
            elif len(set(ids)) != len(ids):
                problems.append(f"{name}: tool call ids repeat ({ids!r})")

        reply = byom_model.generate(request)
        inspect("generate", list(reply.tool_calls), reply.finish_reason)
        areply = asyncio.run(byom_model.agenerate(request))
        inspect("agenerate", list(areply.tool_calls), areply.finish_reason)
        if byom_model.info.capabilities.stream:
            result = collect(byom_model.stream(request))
            inspect("stream", [event.tool_call for event in result.tool_calls], result.finish_reason)
            aresult = asyncio.run(collect_async(byom_model.astream(request)))
            inspect("astream", [event.tool_call for event in aresult.tool_calls], aresult.finish_reason)
        if request.tools != before:
            problems.append("the caller's tool definitions were changed")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("tools.choice_none")
    def test_tools_choice_none(self, byom_model: Provider) -> None:
        """``tool_choice="none"`` is honoured: the subject's ``tool_request()`` with
        ``tool_choice="none"`` gets an answer without tool calls, from ``generate`` and
        ``agenerate``.

        Fix: send ``request.tool_choice`` in the provider's wire shape, or leave the tools
        out of the request when it is ``"none"``.
        """
        require_capability(byom_model, "tools")
        request = self.tool_request(byom_model)
        if request is None or not request.tools:
            pytest.skip(f"{type(self).__name__}.tool_request() supplies no request with tools")
        declined = request.model_copy(update={"tool_choice": "none"})
        problems = []
        for name, reply in (
            ("generate", byom_model.generate(declined)),
            ("agenerate", asyncio.run(byom_model.agenerate(declined))),
        ):
            if reply.tool_calls:
                names = sorted({call.name for call in reply.tool_calls})
                problems.append(f"{name} with tool_choice='none' called {names}")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems) + ": tool_choice is not honoured"

    @check("structured.output")
    def test_structured_output(self, byom_model: Provider) -> None:
        """A declared ``structured_output`` (native or constrained) works: a request with an
        easy ``response_format`` JSON schema gets a ``parsed`` object that follows it, from
        ``generate``, ``agenerate`` and (declared) ``stream``; a schema no value can satisfy
        ends in ``SchemaError`` (with the raw text) or another typed error, never in an answer.

        Fix: send ``response_format`` in the server's shape (OpenAI ``json_schema``, TGI
        ``grammar``) or constrain decoding with it; or stop declaring ``structured_output``
        so the SDK emulates it.
        """
        require_capability(byom_model, "structured_output")
        schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": _ANSWER_SCHEMA}}
        request = self.reference(byom_model).model_copy(update={"response_format": schema, "max_tokens": 96})

        def unary() -> Any:
            reply = byom_model.generate(request)
            return reply.text, reply.parsed

        def async_unary() -> Any:
            reply = asyncio.run(byom_model.agenerate(request))
            return reply.text, reply.parsed

        def streamed() -> Any:
            import json as _json

            text = collect(byom_model.stream(request)).text
            return text, _json.loads(text)  # the stream's final check passed: the text is the object

        runs = [("generate", unary), ("agenerate", async_unary)]
        if byom_model.info.capabilities.stream:
            runs.append(("stream", streamed))
        problems = [problem for name, run in runs if (problem := _structured_outcome(name, run))]
        impossible = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 3}}}
        unsatisfiable = request.model_copy(
            update={
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "impossible", "schema": {**impossible, "required": ["n"]}},
                }
            }
        )
        try:
            reply = byom_model.generate(unsatisfiable)
        except SchemaError as exc:
            if "raw_text" not in exc.details:
                problems.append("a SchemaError without the model's raw_text in its details")
        except ByomError:
            pass  # refused (a grammar that cannot be built, a server's 400 or 500): fine
        else:
            problems.append(f"an answer for a schema nothing satisfies: {reply.text[:80]!r}")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)


#: what structured.output asks for: small enough for any model to fill within max_tokens.
_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 40}},
    "required": ["answer"],
}


def _same(value: Any, *_: Any) -> Any:
    return value


def _metadata() -> RequestMetadata:
    """Everything a caller puts in ``metadata``, with tags a router would read."""
    return RequestMetadata(
        tenant="byom-conformance-tenant",
        user="byom-conformance-user",
        conversation_id="byom-conformance-conversation",
        request_id="byom-conformance-request",
        tags={"route": "blue", "deployment": "canary", "team": "conformance", "priority": "low"},
    )


def _structured_outcome(name: str, run: Callable[[], Any]) -> str | None:
    """What is wrong with one structured call on the easy schema (None when nothing)."""
    from ..._structured import validate

    try:
        text, parsed = run()
    except SchemaError as exc:
        raw = str(exc.details.get("raw_text", ""))[:80]
        return f"{name}: SchemaError on a schema any model can follow (the answer was {raw!r}); is it sent?"
    if parsed is None:
        return f"{name}: no parsed object for the answer {text[:80]!r}"
    problems = validate(parsed, _ANSWER_SCHEMA)
    return f"{name}: the parsed object breaks the schema: {problems[0]}" if problems else None


async def _drain(model: Provider, *args: Any, **kwargs: Any) -> None:
    async for _ in model.astream(*args, **kwargs):
        pass
