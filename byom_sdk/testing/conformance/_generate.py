"""Checks of ``ModelInfo`` and of non-streamed generation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from ..._errors import BadRequest
from ..._facade import ManagedModel
from ..._provider import Provider
from ..._types import Boundary, GenerateResponse, Message, ModelInfo, Usage
from ._core import check, plugin_label, require_capability
from ._network import recording_connects
from ._subject import ModelSubject, collect

__all__ = [
    "DECOY_STOP",
    "GenerateChecks",
    "InfoChecks",
    "first_word_stop",
    "pick_stop",
    "stop_case_problems",
    "stopped_usage_problem",
]

_FINISH = ("stop", "length", "content_filter", "tool_calls")
_EXACT = ("server", "tokenizer")
_PUNCTUATION = ".,;:!?\"'()"
#: a stop string no answer contains, sent before the real one: a provider that sends only
#: the first stop string (an API whose ``stop`` "takes a string") never stops.
DECOY_STOP = "zqx~byom~nomatch"


def pick_stop(text: str) -> tuple[str, str] | None:
    """A stop string taken from the middle of ``text`` and the text expected before it."""
    words = text.split()
    order = list(range(len(words) // 2, len(words))) + list(range(len(words) // 2 - 1, 0, -1))
    for index in order:
        word = words[index].strip(_PUNCTUATION)
        if len(word) < 2:
            continue
        cut = text.find(word)
        if cut > 0 and text[:cut].strip():
            return word, text[:cut]
    return None


def first_word_stop(text: str) -> tuple[str, str] | None:
    """The first word of ``text`` as a stop string (it matches at the very start) and the
    text expected before it (whitespace or punctuation only)."""
    words = text.split()
    word = words[0].strip(_PUNCTUATION) if words else ""
    if len(word) < 2:
        return None
    cut = text.find(word)
    if text[:cut].strip(_PUNCTUATION + " \t\r\n"):
        return None
    return word, text[:cut]


def stop_case_problems(
    subject: ModelSubject,
    model: Provider,
    full: tuple[str, Usage | None],
    cases: list[tuple[str, str]],
    answer: Callable[[tuple[str, ...]], tuple[str, str | None, Usage | None]],
) -> list[str]:
    """What is wrong across the (stop, text expected before it) ``cases``, each sent alone,
    and the first again behind :data:`DECOY_STOP` (a plugin sending only ``stop[0]``
    fails it). ``answer(stops)`` is the (text, finish reason, usage) of the request with
    those stop strings; a ``BadRequest`` for several of them is a refusal, not a defect."""
    sent: list[tuple[tuple[str, ...], str, str]] = [((stop,), stop, before) for stop, before in cases]
    if cases:
        stop, before = cases[0]
        sent.append(((DECOY_STOP, stop), stop, before))
    problems = []
    for stops, stop, before in sent:
        try:
            stopped = answer(stops)
        except BadRequest:
            if len(stops) > 1:
                continue  # refuses several stop strings: said, not silently half-done
            raise
        found = stop_problems(subject, model, full, stop, before, stopped)
        problems += [f"stop={list(stops)}: {p}" if len(stops) > 1 else p for p in found]
    return problems


def stop_problems(
    subject: ModelSubject,
    model: Provider,
    full: tuple[str, Usage | None],
    stop: str,
    before: str,
    stopped: tuple[str, str | None, Usage | None],
) -> list[str]:
    """What is wrong with an answer cut by ``stop``: ``stopped`` is its (text, finish
    reason, usage), ``before`` the text expected up to the stop string, ``full`` the
    (text, usage) of the same request without it."""
    text, finish_reason, usage = stopped
    problems = []
    if stop in text:
        problems.append(f"stop string {stop!r} present in {text!r}")
    elif text.rstrip() != before.rstrip():
        problems.append(f"with stop={stop!r} expected {before!r}, got {text!r}")
    if finish_reason != "stop":
        problems.append(f"stopped on {stop!r} but finish_reason={finish_reason!r}")
    usage_problem = stopped_usage_problem(subject, model, full, (text, usage), stop)
    if usage_problem is not None:
        problems.append(usage_problem)
    return problems


def stopped_usage_problem(
    subject: ModelSubject, model: Provider, full: tuple[str, Usage | None], stopped: tuple[str, Usage | None], stop: str
) -> str | None:
    """What is wrong with the exact usage of an answer cut by ``stop`` (None when nothing).

    ``full`` is the (text, usage) of the same request without the stop string. The server
    generates up to the stop string and no further: fewer tokens than the full answer when
    that one went on for two more words, and (with a tokenizer) about the tokens of the
    text kept plus those of the stop string.
    """
    text, usage = stopped
    if usage is None or usage.source not in _EXACT:
        return None
    full_text, full_usage = full
    cut = full_text.find(stop)
    after = full_text[cut + len(stop) :] if cut != -1 else ""
    went_on = full_usage is not None and full_usage.source in _EXACT and len(after.split()) >= 2
    if went_on and full_usage is not None and usage.output_tokens >= full_usage.output_tokens:
        return (
            f"stop={stop!r}: usage.output_tokens={usage.output_tokens}, as many as the answer that went on "
            f"past the stop string ({full_usage.output_tokens}): usage counts tokens the caller never got"
        )
    tokenizer = subject.tokenizer_for(model)
    if tokenizer is not None:
        want = tokenizer.count(text) + tokenizer.count(stop)
        slack = subject.usage_tolerance + (subject.server_usage_tolerance * want if usage.source == "server" else 0)
        if usage.output_tokens > want + slack:
            return (
                f"stop={stop!r}: usage.output_tokens={usage.output_tokens}, but the text kept and the stop string "
                f"count {want} tokens: usage counts tokens generated past the stop string"
            )
    return None


class InfoChecks(ModelSubject):
    """``ModelInfo``, capabilities and the declared boundary."""

    @check("info.valid")
    def test_info_valid(self, byom_model: Provider) -> None:
        """``info`` is a stable ``ModelInfo`` with a non-empty id and provider, the same
        before and after a call.

        Fix: return a ``ModelInfo`` from the ``info`` property (build it once, in
        ``__init__``), and return the plugin's own model from ``make_model`` rather than
        ``Client.model(...)``.
        """
        assert not isinstance(byom_model, ManagedModel), (
            "make_model() returned a ManagedModel; return the plugin's own Provider (the managed "
            "wrapper retries and wraps foreign errors, which hides plugin defects)"
        )
        info = byom_model.info
        assert isinstance(info, ModelInfo), f"info is {type(info).__name__}, expected byom_sdk.ModelInfo"
        assert info.id.strip(), "info.id is empty"
        assert info.provider.strip(), "info.provider is empty"
        assert byom_model.info == info, "info changes between two reads without any call"
        caps = info.capabilities
        if caps.generate or caps.chat:
            byom_model.generate(self.reference(byom_model))
        elif caps.embed:
            byom_model.embed(list(self.embed_texts[:1]))
        assert byom_model.info == info, (
            "info changed after the first call: resolve the model's identity when the provider is built"
        )

    @check("info.capabilities")
    def test_info_capabilities(self, byom_model: Provider) -> None:
        """Declared capabilities are coherent with each other and with the implementation.

        At least one of generate/chat/embed; ``stream`` and ``tools`` need generation;
        ``embed`` needs ``embedding_dimension``; ``max_output_tokens`` fits
        ``max_context``; ``async_native`` needs a native ``ahandle_*`` hook (API 1: ``_a*``).
        Fix the ``Capabilities`` the plugin declares.
        """
        info = byom_model.info
        caps = info.capabilities
        label = plugin_label(byom_model)
        assert caps.generate or caps.chat or caps.embed, f"{label} declares none of generate, chat, embed"
        if caps.stream:
            assert caps.generate or caps.chat, f"{label} declares stream without generate or chat"
        if caps.tools:
            assert caps.chat, f"{label} declares tools without chat"
        if caps.embed:
            assert info.embedding_dimension, f"{label} declares embed but no embedding_dimension"
        if caps.max_context and caps.max_output_tokens:
            assert caps.max_output_tokens <= caps.max_context, "max_output_tokens exceeds max_context"
        if caps.async_native:
            native = byom_model.native & {"agenerate", "astream", "aembed"}
            assert native, f"{label} declares async_native but implements no async method natively"

    @check("info.boundary")
    def test_info_boundary(self, byom_model: Provider) -> None:
        """The boundary says where data goes, consistently.

        Non-process models name a region or an endpoint; an ``https`` endpoint is not
        ``tls=False`` and an ``http`` one not ``tls=True``; attestations carry a name and a
        source. Fix the ``Boundary`` the plugin builds from its config.
        """
        boundary = byom_model.info.boundary
        assert isinstance(boundary, Boundary), f"boundary is {type(boundary).__name__}, expected Boundary"
        assert boundary.provider.strip(), "boundary.provider is empty"
        if boundary.location_kind != "process":
            assert boundary.region or boundary.endpoint, (
                f"boundary is {boundary.location_kind!r} but names neither region nor endpoint"
            )
        if boundary.endpoint and boundary.tls is not None:
            scheme = boundary.endpoint.split(":", 1)[0].lower()
            if scheme in ("https", "grpcs"):
                assert boundary.tls, f"endpoint {boundary.endpoint} is TLS but boundary.tls is False"
            if scheme == "http":
                assert not boundary.tls, f"endpoint {boundary.endpoint} is plain http but boundary.tls is True"
        for item in boundary.attestations:
            assert item.name.strip() and item.source.strip(), f"attestation {item!r} lacks a name or source"

    @check("info.in_process")
    def test_info_in_process(self, byom_model: Provider) -> None:
        """A model whose boundary says ``location_kind="process"`` opens no network
        connection: every declared operation, sync and async, runs without one.

        The trust gate lets an in-process model through without a host to check, so a
        remote API declared in-process (a boundary copied from a template) sends prompts
        where no policy looks. Recorded with an audit hook on ``socket.connect`` (TCP and
        UDP; AF_UNIX socket pairs are the machine's own). Fix: declare where the calls go
        (``customer-cloud`` / ``third-party`` with the endpoint), or keep the model in the
        process.
        """
        boundary = byom_model.info.boundary
        if boundary.location_kind != "process":
            pytest.skip(f"{plugin_label(byom_model)}: boundary location_kind is {boundary.location_kind!r}")
        operations = self.operations(byom_model)
        with recording_connects() as connects:
            for operation in operations.values():
                operation(byom_model)
        assert not connects, (
            f"{plugin_label(byom_model)} declares location_kind 'process' but its calls connected to "
            f"{sorted(set(connects))[:3]}"
        )


class GenerateChecks(ModelSubject):
    """Non-streamed generation: response shape, usage, max_tokens, stop, finish reasons."""

    def _generate(self, model: Provider, **fields: Any) -> GenerateResponse:
        require_capability(model, "generate", any_of=("generate", "chat"))
        response = model.generate(self.reference(model, **fields))
        assert isinstance(response, GenerateResponse), (
            f"generate() returned {type(response).__name__}, expected GenerateResponse"
        )
        return response

    def _cut(self, model: Provider) -> tuple[GenerateResponse, int]:
        full = self._generate(model)
        limit = max(1, min(4, self.max_tokens // 4))
        if full.usage.output_tokens <= limit:
            pytest.skip(
                f"{plugin_label(model)}: reference output has only {full.usage.output_tokens} tokens; "
                f"set prompts/max_tokens so the first prompt yields more than {limit}"
            )
        return full, limit

    @check("generate.response")
    def test_generate_response(self, byom_model: Provider) -> None:
        """``generate`` returns a complete ``GenerateResponse`` for the reference prompt.

        Text is non-empty, ``finish_reason`` is a normal reason (a failed generation must
        raise ``ModelError``, not return ``"error"``), ``model`` names the model and
        ``latency_ms`` is measured. Debug this check first: most others build on it. Fix:
        build the response from the provider body's text and finish reason.
        """
        response = self._generate(byom_model)
        assert isinstance(response.text, str) and response.text, "generate() returned empty text"
        assert response.finish_reason in _FINISH, (
            f"finish_reason {response.finish_reason!r}; a failed generation must raise ModelError"
        )
        assert response.model.strip(), "response.model is empty"
        assert response.latency_ms >= 0.0

    @check("generate.latency")
    def test_generate_latency(self) -> None:
        """``latency_ms`` is the call's duration in milliseconds: on the slow scenario, which
        stalls ``slow_seconds``, at least half of that stall and no more than the time the
        caller waited — for ``generate`` and ``agenerate``, and for ``embed`` / ``aembed``
        when they report one (0 there means "not measured").

        Seconds passed off as milliseconds (``perf_counter() - started`` without
        ``* 1000``) read as a thousand times faster than the endpoint is. Fix: set
        ``latency_ms=(time.perf_counter() - started) * 1000.0``, started before the request
        is sent.
        """
        slow = self.make_slow_model()
        if slow is None:
            pytest.skip(f"{type(self).__name__}.make_slow_model offers no slow scenario")
        label = plugin_label(slow)
        caps = slow.info.capabilities
        calls: dict[str, Callable[[], Any]] = {}
        if caps.generate or caps.chat:
            calls["generate"] = lambda: slow.generate(self.reference(slow))
            calls["agenerate"] = lambda: asyncio.run(slow.agenerate(self.reference(slow)))
        if caps.embed:
            calls["embed"] = lambda: slow.embed(self.embed_request())
            calls["aembed"] = lambda: asyncio.run(slow.aembed(self.embed_request()))
        stall_ms = self.slow_seconds * 1000.0
        problems = []
        try:
            for name, call in calls.items():
                started = time.perf_counter()
                reply = call()
                waited_ms = (time.perf_counter() - started) * 1000.0
                latency = float(reply.latency_ms)
                if name.endswith("embed") and latency == 0.0:
                    continue
                if latency > waited_ms + 1.0:
                    problems.append(f"{name}: latency_ms={latency:.3f}, but the call took {waited_ms:.0f} ms")
                elif waited_ms >= 0.8 * stall_ms and latency == 0.0:
                    problems.append(f"{name}: latency_ms is 0 for a call that took {waited_ms:.0f} ms: not measured")
                elif waited_ms >= 0.8 * stall_ms and latency < 0.5 * stall_ms:
                    problems.append(
                        f"{name}: latency_ms={latency:.3f} for a call that took {waited_ms:.0f} ms "
                        f"(the scenario stalls {stall_ms:.0f} ms): not in milliseconds?"
                    )
        finally:
            slow.close()
        assert not problems, f"{label}, slow scenario: " + "; ".join(problems)

    @check("generate.input_forms")
    def test_generate_input_forms(self, byom_model: Provider) -> None:
        """Every declared input form works: a plain prompt (``generate``) and multi-turn
        messages with a system message (``chat``), all of which reach the model.

        With exact usage and a tokenizer (whose rendering of the conversation is longer
        than that of its last message), the whole conversation counts more input tokens
        than its last message alone. Fix: map ``GenerateRequest.prompt`` and ``GenerateRequest.messages``
        (all roles, the whole history) to the provider's payload.
        """
        caps = byom_model.info.capabilities
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        if caps.generate:
            reply = byom_model.generate(self.prompts[1], max_tokens=self.max_tokens, temperature=0.0)
            assert reply.text, "plain prompt gave empty text"
        if caps.chat:
            messages = [
                Message(role="system", content="You answer briefly."),
                Message(role="user", content="Hello."),
                Message(role="assistant", content="Hello! How can I help?"),
                Message(role="user", content=self.prompts[1]),
            ]
            reply = byom_model.generate(messages, max_tokens=self.max_tokens, temperature=0.0)
            assert reply.text, "multi-turn messages gave empty text"
            tokenizer = self.tokenizer_for(byom_model)
            if tokenizer is None or reply.usage.source not in _EXACT:
                return
            longer = tokenizer.count(tokenizer.apply_chat_template(messages)) > tokenizer.count(
                tokenizer.apply_chat_template(messages[-1:])
            )
            last = byom_model.generate(messages[-1:], max_tokens=self.max_tokens, temperature=0.0)
            if longer and last.usage.source in _EXACT:
                assert reply.usage.input_tokens > last.usage.input_tokens, (
                    f"the conversation of {len(messages)} messages counts {reply.usage.input_tokens} input tokens, "
                    f"its last message alone {last.usage.input_tokens}: the system message and the history "
                    "were not sent"
                )

    @check("generate.deterministic")
    def test_generate_deterministic(self, byom_model: Provider) -> None:
        """Two greedy (``temperature=0``) generations of the same request are identical.

        Parity checks (stream, async, threads) rely on it. Fix: send temperature 0 /
        ``do_sample=false`` to the provider for greedy requests.
        """
        first = self._generate(byom_model)
        second = self._generate(byom_model)
        assert first.text == second.text, f"greedy outputs differ: {first.text!r} != {second.text!r}"

    @check("generate.usage")
    def test_generate_usage(self, byom_model: Provider) -> None:
        """``usage`` is present and plausible.

        Input tokens > 0, output tokens > 0 when there is text, and for exact sources
        (``server``, ``tokenizer``) output tokens never exceed ``max_tokens``. Fix: read
        the provider's usage; without one, count with the model's tokenizer; only as a last
        resort return ``Usage.estimate`` (``source="estimate"``).
        """
        response = self._generate(byom_model)
        usage = response.usage
        assert isinstance(usage, Usage), f"usage is {type(usage).__name__}"
        assert usage.input_tokens > 0, "usage.input_tokens is 0 for a non-empty prompt"
        if response.text.strip():
            assert usage.output_tokens > 0, "usage.output_tokens is 0 but text was generated"
        if usage.source in _EXACT:
            assert usage.output_tokens <= self.max_tokens, (
                f"usage.output_tokens={usage.output_tokens} exceeds max_tokens={self.max_tokens}"
            )
        elif usage.source == "estimate" and response.text.strip():
            # An estimate is Usage.estimate's (about four characters a token), not a count
            # of characters or words passed off as one.
            expected = Usage.estimate("", response.text).output_tokens
            assert expected / 3 <= usage.output_tokens <= expected * 3 + 2, (
                f"usage.output_tokens={usage.output_tokens} (source 'estimate') for {len(response.text)} characters; "
                f"Usage.estimate gives {expected}: use Usage.estimate, or count with a tokenizer"
            )

    @check("generate.max_tokens")
    def test_generate_max_tokens(self, byom_model: Provider) -> None:
        """``max_tokens`` is honoured: output is cut to the limit, finish_reason is "length".

        The cut text is a prefix of the longer greedy text, ``usage.output_tokens`` equals
        the limit (exact usage sources) and ``finish_reason == "length"``. Fix: pass
        ``max_tokens`` to the provider (``max_new_tokens``...) and map its finish reason.
        """
        full, limit = self._cut(byom_model)
        cut = self._generate(byom_model, max_tokens=limit)
        assert cut.finish_reason == "length", (
            f"output cut by max_tokens={limit} has finish_reason {cut.finish_reason!r}, expected 'length'"
        )
        if cut.usage.source in _EXACT:
            assert cut.usage.output_tokens == limit, (
                f"max_tokens={limit} but usage.output_tokens={cut.usage.output_tokens}"
            )
        assert len(cut.text.strip()) < len(full.text.strip()), (
            f"max_tokens={limit} did not shorten the output: {cut.text!r}"
        )
        assert full.text.startswith(cut.text.rstrip()), (
            f"cut output {cut.text!r} is not a prefix of the longer greedy output {full.text!r}"
        )

    @check("generate.stop")
    def test_generate_stop(self, byom_model: Provider) -> None:
        """Stop strings are honoured: the text ends before the stop string, which is absent —
        also when it is the answer's very first word — and usage counts only what was
        generated up to it.

        Tried with a word from the middle of the reference answer, with its first word (a
        match at index 0 leaves nothing, or only punctuation, before it) and with two stop
        strings, the one that matches second (a provider may refuse a list with
        ``BadRequest``, never send only its first string). With exact usage,
        the stopped answer counts fewer output tokens than the one that went on past the
        stop string and, with a tokenizer, about those of the text kept plus the stop string.
        Fix: pass ``stop`` to the provider and strip the stop string if the server echoes
        it; when applying stop strings client side, match from index 0 (``find(stop) !=
        -1``) and recount usage for the text kept; send every stop string (or apply the
        rest client side); finish_reason is "stop". Models that
        cannot stop on strings declare ``stop_sequences=False`` (then
        ``capabilities.undeclared`` checks they refuse).
        """
        require_capability(byom_model, "stop_sequences")
        full = self._generate(byom_model)
        picked = pick_stop(full.text)
        if picked is None:
            pytest.skip(f"{plugin_label(byom_model)}: reference output {full.text!r} too short to place a stop string")
        cases = [picked]
        first = first_word_stop(full.text)
        if first is not None and first[0] != picked[0]:
            cases.append(first)

        def answer(stops: tuple[str, ...]) -> tuple[str, str | None, Usage | None]:
            reply = self._generate(byom_model, stop=stops)
            return reply.text, reply.finish_reason, reply.usage

        problems = stop_case_problems(self, byom_model, (full.text, full.usage), cases, answer)
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)

    @check("generate.finish_reason")
    def test_generate_finish_reason(self, byom_model: Provider) -> None:
        """finish_reason agrees with what happened.

        "length" exactly when the output reached ``max_tokens``; a shorter output ended
        on its own and reports "stop"; ``max_tokens=1`` always reports "length" for a
        prompt that yields more. Fix: map the provider's reason (``eos_token``,
        ``stop_sequence`` → "stop"; ``length``/``max_tokens`` → "length").
        """
        response = self._generate(byom_model)
        usage = response.usage
        if usage.source in _EXACT:
            if response.finish_reason == "length":
                assert usage.output_tokens == self.max_tokens, (
                    f"finish_reason 'length' with {usage.output_tokens} tokens < max_tokens={self.max_tokens}"
                )
            elif usage.output_tokens < self.max_tokens:
                assert response.finish_reason in ("stop", "tool_calls", "content_filter")
        if usage.output_tokens > 1:
            one = self._generate(byom_model, max_tokens=1)
            assert one.finish_reason == "length", f"max_tokens=1 gave finish_reason {one.finish_reason!r}"

    @check("generate.empty_text")
    def test_generate_empty_text(self, byom_model: Provider) -> None:
        """A response that counts output tokens carries them: text or tool calls, never nothing.

        Empty text with ``usage.output_tokens > 0`` is an answer lost on the way (a decoding
        bug, a wrong field of the provider body, a corrupted model producing only special
        tokens). Checked for two prompts cut at one token, at a short limit and at
        ``max_tokens``, generated and streamed. Fix: read the text from the right field and
        decode every generated id; a model that produced nothing usable raises ``ModelError``.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        caps = byom_model.info.capabilities
        limits = sorted({1, max(1, min(4, self.max_tokens // 4)), self.max_tokens})
        problems = []
        for prompt in self.prompts[:2]:
            for limit in limits:
                request = self.reference(byom_model, prompt=prompt, max_tokens=limit)
                reply = byom_model.generate(request)
                if reply.usage.output_tokens > 0 and not reply.text and not reply.tool_calls:
                    problems.append(
                        f"generate max_tokens={limit}: empty text with usage.output_tokens="
                        f"{reply.usage.output_tokens} (finish_reason={reply.finish_reason!r})"
                    )
                if not caps.stream:
                    continue
                result = collect(byom_model.stream(request))
                tokens = result.usage.output_tokens if result.usage is not None else 0
                if tokens > 0 and not result.text and not result.tool_calls:
                    problems.append(f"stream max_tokens={limit}: no text with usage.output_tokens={tokens}")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems[:4])

    @check("generate.seed")
    def test_generate_seed(self, byom_model: Provider) -> None:
        """With ``seed`` declared, a sampled request (``temperature=1``) with a fixed seed
        gives the same text twice, and the same text streamed (suite 2.1: out of preview).

        Fix: pass ``request.seed`` to the provider (``seed``, ``random_seed``...) and seed
        the sampler per request, not once per process; or stop declaring ``seed``.
        """
        require_capability(byom_model, "seed")
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        request = self.reference(byom_model, temperature=1.0, seed=1234)
        first = byom_model.generate(request)
        second = byom_model.generate(request)
        assert first.text == second.text, f"seed=1234 gave {first.text!r}, then {second.text!r}"
        if byom_model.info.capabilities.stream:
            streamed = collect(byom_model.stream(request)).text
            assert streamed == first.text, (
                f"seed=1234: generate gave {first.text!r}, stream {streamed!r}: pass the seed on the streaming path too"
            )

    @check("generate.default_limit")
    def test_generate_default_limit(self, byom_model: Provider) -> None:
        """A request without ``max_tokens`` is not cut short by a small default of the
        plugin's (or of a server default it leaves in place).

        Run on the first prompt whose answer ends on its own ("stop") within ``max_tokens``,
        so an unlimited request stays cheap: without ``max_tokens`` the answer must not end
        with "length" nor be shorter. Skipped when every prompt reaches ``max_tokens``. Fix:
        when ``request.max_tokens`` is None send no limit, or the model's
        ``max_output_tokens`` — never a "safe" small default.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        for prompt in self.prompts:
            bounded = self._generate(byom_model, prompt=prompt)
            below = bounded.usage.source not in _EXACT or bounded.usage.output_tokens < self.max_tokens
            if bounded.finish_reason == "stop" and bounded.text.strip() and below:
                break
        else:
            pytest.skip(
                f"{plugin_label(byom_model)}: no prompt's answer ends within max_tokens={self.max_tokens}; "
                "an unlimited request could run long"
            )
        unbounded = byom_model.generate(self.request_for(byom_model, prompt))
        label = plugin_label(byom_model)
        assert unbounded.finish_reason != "length", (
            f"{label}: without max_tokens the answer was cut ('length') after {unbounded.usage.output_tokens} "
            f"tokens, though it ends on its own after {bounded.usage.output_tokens}: a small default limit is sent"
        )
        assert len(unbounded.text.strip()) >= len(bounded.text.strip()), (
            f"{label}: without max_tokens the answer {unbounded.text!r} is shorter than with "
            f"max_tokens={self.max_tokens} ({bounded.text!r})"
        )
