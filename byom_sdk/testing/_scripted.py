"""``ScriptedModel``: a deterministic test double for application developers' unit tests.

It is not a model: it replies from a script (or echoes), counts whitespace tokens, and
honours ``max_tokens`` and ``stop`` exactly like a real provider must, so code under test
sees the real contract: the same response types, stream events, errors and capability
checks. Queue errors with ``failures=`` to exercise retries.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._errors import AuthError, BadRequest, ByomError, ModelError, Throttled, Timeout, Unavailable
from .._model import Model
from .._structured import schema_of
from .._tokenizer import ChatTemplate
from .._types import (
    Boundary,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    FinishReason,
    GenerateRequest,
    GenerateResponse,
    Message,
    ModelInfo,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

__all__ = ["ScriptedModel", "ScriptedModelConfig", "WhitespaceTokenizer"]

_TOKEN = re.compile(r"\s*\S+|\s+$")


class WhitespaceTokenizer:
    """Tokens are whitespace-separated words (each keeping its leading space)."""

    special_tokens: Mapping[str, int] = {}
    eos_token_ids: tuple[int, ...] = ()

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._words: list[str] = []
        self._lock = threading.Lock()
        self._chat: ChatTemplate | None = None

    def pieces(self, text: str) -> list[str]:
        return _TOKEN.findall(text)

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        ids = []
        with self._lock:
            for piece in self.pieces(text):
                if piece not in self._vocab:
                    self._vocab[piece] = len(self._words)
                    self._words.append(piece)
                ids.append(self._vocab[piece])
        return ids

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False) -> str:
        return "".join(self._words[i] for i in ids)

    def count(self, text: str) -> int:
        return len(self.pieces(text))

    def apply_chat_template(
        self, messages: Sequence[Message | Mapping[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        if self._chat is None:
            self._chat = ChatTemplate()
        return self._chat.render(messages, add_generation_prompt=add_generation_prompt)


FailureKind = Literal["throttled", "unavailable", "timeout", "model_error", "bad_request", "auth"]
_FAILURES: dict[str, Callable[[], ByomError]] = {
    "throttled": lambda: Throttled("scripted throttle", provider="scripted", status_code=429),
    "unavailable": lambda: Unavailable("scripted outage", provider="scripted", status_code=503),
    "timeout": lambda: Timeout("scripted timeout", provider="scripted"),
    "model_error": lambda: ModelError("scripted model error", provider="scripted", status_code=424),
    "bad_request": lambda: BadRequest("scripted: invalid request", provider="scripted", status_code=422),
    "auth": lambda: AuthError("scripted: credentials refused", provider="scripted", status_code=401),
}


class ScriptedModelConfig(BaseModel):
    """Config of the ``scripted`` provider (``provider = "scripted"`` in byom.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    replies: list[str] = Field(default_factory=list)
    embedding_dimension: int = Field(default=8, ge=1, le=4096)
    region: str | None = None
    location_kind: Literal["process", "customer-cloud", "third-party"] = "process"
    retention: str | None = "none"
    fail_first: list[FailureKind] = Field(default_factory=list)


class ScriptedModel(Model):
    """A deterministic test double that honours the whole contract.

    :param replies: replies given in turn (cycling); a callable computes the reply from
        the request; by default it echoes the last message.
    :param failures: errors raised by the first calls, one per call, before replying.
    :param delay: seconds to wait before answering, like a slow endpoint. A request whose
        ``timeout`` is shorter raises ``Timeout`` after ``timeout`` seconds.
    :param stall: seconds a stream stalls after its first piece (same ``timeout`` rule).
    :param tools: declare native tools: offered tools (``tool_choice`` not ``"none"``) and
        no tool result yet, it calls the named or first tool with the smallest arguments its
        parameters schema accepts; after a tool result it answers in text.
    :param structured: declare native structured output: a request with a
        ``response_format`` schema is answered with the smallest value the schema accepts
        (as a server with structured outputs would), instead of the scripted reply.
    :param capabilities: override the declared capabilities.
    :param boundary: override the declared boundary.
    """

    def __init__(
        self,
        replies: Sequence[str] | Callable[[GenerateRequest], str] | None = None,
        *,
        model_id: str = "scripted",
        embedding_dimension: int = 8,
        failures: Sequence[ByomError] = (),
        delay: float = 0.0,
        stall: float = 0.0,
        tools: bool = False,
        structured: bool = False,
        capabilities: Capabilities | None = None,
        boundary: Boundary | None = None,
    ) -> None:
        self._replies = replies
        self._index = 0
        self._failures = list(failures)
        self._fail_always: Callable[[], ByomError] | None = None
        self._lock = threading.Lock()
        self.delay = delay
        self.stall = stall
        self.requests: list[GenerateRequest | EmbedRequest] = []
        self.tokenizer_impl = WhitespaceTokenizer()
        self._info = ModelInfo(
            id=model_id,
            provider="scripted",
            capabilities=capabilities
            or Capabilities(
                generate=True,
                chat=True,
                stream=True,
                embed=True,
                seed=True,
                max_context=4096,
                tools=tools,
                tools_mode="native" if tools else None,
                structured_output="native" if structured else None,
            ),
            boundary=boundary
            or Boundary(provider="scripted", location_kind="process", network_path="in-process", retention="none"),
            embedding_dimension=embedding_dimension,
            embedding_normalized=True,
            description="deterministic test double (not a model)",
        )

    @classmethod
    def from_config(cls, config: ScriptedModelConfig) -> ScriptedModel:
        boundary = Boundary(
            provider="scripted",
            location_kind=config.location_kind,
            region=config.region,
            network_path="in-process",
            retention=config.retention,
        )
        return cls(
            config.replies or None,
            embedding_dimension=config.embedding_dimension,
            failures=[_FAILURES[kind]() for kind in config.fail_first],
            boundary=boundary,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> WhitespaceTokenizer:
        return self.tokenizer_impl

    def fail_always(self, make: Callable[[], ByomError]) -> None:
        """Make every later call raise ``make()`` (a fault scenario for conformance runs)."""
        self._fail_always = make

    # -- behaviour ------------------------------------------------------------------------

    @staticmethod
    def _wait(seconds: float, timeout: float | None) -> None:
        if seconds <= 0:
            return
        if timeout is not None and timeout < seconds:
            time.sleep(timeout)
            raise Timeout(f"scripted: no answer within timeout={timeout:g} s", provider="scripted")
        time.sleep(seconds)

    def _fail(self) -> None:
        if self._fail_always is not None:
            raise self._fail_always()
        if self._failures:
            raise self._failures.pop(0)

    def _next_reply(self, request: GenerateRequest) -> str:
        with self._lock:
            self.requests.append(request)
            self._fail()
            schema = schema_of(request.response_format)
            if schema is not None and self._info.capabilities.structured_output == "native":
                return json.dumps(_smallest_instance(schema))
            if callable(self._replies):
                return self._replies(request)
            if self._replies:
                reply = self._replies[self._index % len(self._replies)]
                self._index += 1
                return reply
        last = request.as_messages()[-1].content if request.messages else request.prompt or ""
        return f"echo: {last}"

    def _shape(self, request: GenerateRequest) -> tuple[list[str], FinishReason, int]:
        self._wait(self.delay, request.timeout)
        reply = self._next_reply(request)
        finish: FinishReason = "stop"
        for stop in request.stop:
            cut = reply.find(stop)
            if cut != -1:
                reply = reply[:cut]
        pieces = self.tokenizer_impl.pieces(reply)
        if request.max_tokens is not None and len(pieces) > request.max_tokens:
            pieces, finish = pieces[: request.max_tokens], "length"
        return pieces, finish, self._prompt_tokens(request)

    def _prompt_tokens(self, request: GenerateRequest) -> int:
        prompt = (
            request.prompt
            if request.prompt is not None
            else self.tokenizer_impl.apply_chat_template(request.as_messages())
        )
        return self.tokenizer_impl.count(prompt)

    def _tool_call(self, request: GenerateRequest) -> ToolCall | None:
        """The call this double makes for ``request``, if it makes one."""
        caps = self._info.capabilities
        if not (caps.tools and request.tools) or request.tool_choice == "none":
            return None
        if request.messages and request.messages[-1].role == "tool":
            return None
        named = (
            request.tool_choice.get("function", request.tool_choice) if isinstance(request.tool_choice, Mapping) else {}
        )
        functions = [t.get("function", t) for t in request.tools]
        chosen = next((f for f in functions if f.get("name") == named.get("name")), functions[0])
        with self._lock:
            self.requests.append(request)
            self._fail()
        arguments = _smallest_instance(chosen.get("parameters") or {"type": "object"})
        return ToolCall(id="call_0", name=str(chosen.get("name")), arguments=json.dumps(arguments))

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        call = self._tool_call(request)
        if call is not None:
            return GenerateResponse(
                text="",
                finish_reason="tool_calls",
                tool_calls=(call,),
                usage=Usage(input_tokens=self._prompt_tokens(request), output_tokens=1, source="tokenizer"),
                model=self._info.id,
                latency_ms=(time.perf_counter() - started) * 1000.0,
            )
        pieces, finish, prompt_tokens = self._shape(request)
        text = "".join(pieces)
        return GenerateResponse(
            text=text,
            finish_reason=finish,
            usage=Usage(input_tokens=prompt_tokens, output_tokens=len(pieces), source="tokenizer"),
            model=self._info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw={"pieces": pieces},
        )

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        call = self._tool_call(request)
        if call is not None:
            usage = Usage(input_tokens=self._prompt_tokens(request), output_tokens=1, source="tokenizer")
            yield ToolCallEvent(tool_call=call)
            yield UsageEvent(usage=usage)
            yield FinishEvent(finish_reason="tool_calls", usage=usage)
            return
        pieces, finish, prompt_tokens = self._shape(request)
        for index, piece in enumerate(pieces):
            if index == 1:
                self._wait(self.stall, request.timeout)
            yield TextDelta(text=piece)
        usage = Usage(input_tokens=prompt_tokens, output_tokens=len(pieces), source="tokenizer")
        yield UsageEvent(usage=usage)
        yield FinishEvent(finish_reason=finish, usage=usage)

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        self._wait(self.delay, request.timeout)
        with self._lock:
            self.requests.append(request)
            self._fail()
        dim = self._info.embedding_dimension or 8
        vectors = []
        for text in request.texts:
            digest = hashlib.sha256(text.encode("utf-8")).digest()
            while len(digest) < dim:
                digest += hashlib.sha256(digest).digest()
            raw = [(b - 127.5) / 127.5 for b in digest[:dim]]
            norm = math.sqrt(sum(v * v for v in raw)) or 1.0
            vectors.append(tuple(v / norm for v in raw))
        tokens = sum(self.tokenizer_impl.count(t) for t in request.texts)
        return EmbedResponse(
            vectors=tuple(vectors),
            model=self._info.id,
            normalized=True,
            usage=Usage(input_tokens=tokens, output_tokens=0, source="tokenizer"),
        )


def _smallest_instance(schema: Mapping[str, Any]) -> Any:
    """A small value that ``schema`` accepts (required properties, minimum bounds, first
    enum member); for the scripted double's tool arguments."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _smallest_instance(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _smallest_instance(properties.get(name) or {}) for name in schema.get("required", properties)}
    if kind == "array":
        return [_smallest_instance(schema.get("items") or {}) for _ in range(int(schema.get("minItems", 0)))]
    if kind in ("integer", "number"):
        low = schema["minimum"] if "minimum" in schema else schema.get("exclusiveMinimum", -1) + 1
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * max(1, int(schema.get("minLength", 1)))
