"""The shared wire layer: one implementation per protocol, and the five bugs that two copies
of each used to disagree on (regression tests, by construction)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from byom_sdk import (
    Boundary,
    Capabilities,
    EmbedRequest,
    FinishEvent,
    GenerateRequest,
    Message,
    ModelError,
    ModelInfo,
    TextDelta,
    Throttled,
    ToolCallEvent,
    Unavailable,
    Usage,
    UsageEvent,
)
from byom_sdk.wire import (
    Codec,
    StreamAssembler,
    WireProvider,
    decode_stream,
    embedded,
    error_from_body,
    finish_reason,
    read_usage,
    sampling,
)
from byom_sdk.wire.hf import LMI, TEI, TGI
from byom_sdk.wire.openai import OpenAIChat
from byom_sdk.wire.vertex import VertexOpenAI, VertexTEI, VertexTGI, VertexVLLM

PROMPT = GenerateRequest(prompt="hi", max_tokens=4)
INFO = ModelInfo(
    id="m",
    provider="fake",
    capabilities=Capabilities(generate=True, chat=True, stream=True, embed=True),
    boundary=Boundary(provider="fake", location_kind="process", retention="none"),
)


class FakeTransport:
    """Answers from a script; records what it was sent."""

    streams_records = False

    def __init__(self, answer: Any = None, parts: list[bytes] | None = None, fail_after: Exception | None = None):
        self.answer = answer
        self.parts = parts or []
        self.fail_after = fail_after
        self.sent: list[Any] = []

    def call(self, operation: str, body: Any, request: Any) -> Any:
        self.sent.append(body)
        return self.answer

    def stream(self, body: Any, request: Any):
        self.sent.append(body)
        yield from self.parts
        if self.fail_after is not None:
            raise self.fail_after

    def close(self) -> None:
        return None


def sse(*records: Any) -> list[bytes]:
    return [b"data:" + (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n\n" for r in records]


# -- bug 1: TGI streams report the usage the container sends -------------------------------


def test_tgi_stream_usage_comes_from_details_input_length():
    """SageMaker's copy ignored ``details.input_length`` and estimated; there is one reader now."""
    wire = sse(
        {"token": {"id": 1, "text": "Hel", "special": False}, "generated_text": None, "details": None},
        {
            "token": {"id": 2, "text": "lo", "special": False},
            "generated_text": "Hello",
            "details": {"finish_reason": "length", "generated_tokens": 2, "input_length": 7, "seed": None},
        },
    )
    events = decode_stream(TGI(), wire, prompt="x" * 400)
    server = Usage(input_tokens=7, output_tokens=2, source="server")
    assert events[-2:] == [UsageEvent(usage=server), FinishEvent(finish_reason="length", usage=server)]
    # the same records through the Vertex TGI codec give the same events
    assert decode_stream(VertexTGI(), wire, prompt="x" * 400) == events


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({"generated_tokens": 3, "input_length": 5}, Usage(input_tokens=5, output_tokens=3, source="server")),
        ({"generated_tokens": 3, "prefill": [{}, {}]}, Usage(input_tokens=2, output_tokens=3, source="server")),
        ({"generated_tokens": 3}, None),  # no input count: never half a server usage
        ({"prompt_tokens": 4, "completion_tokens": 1}, Usage(input_tokens=4, output_tokens=1, source="server")),
        ({"input_tokens": 4, "output_tokens": 2}, Usage(input_tokens=4, output_tokens=2, source="server")),
        ({"prompt_tokens": "4", "completion_tokens": 1}, None),
    ],
)
def test_one_usage_reader(details, expected):
    assert read_usage(details) == expected


# -- bug 2: a plain prompt through the Vertex openai codec ----------------------------------


def test_vertex_openai_accepts_a_plain_prompt_as_one_user_message():
    codec = VertexOpenAI({"model": "m"})
    assert codec.generates and codec.chat
    body = codec.encode_generate(GenerateRequest(prompt="hello"), stream=False)
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert body["model"] == "m" and "top_k" not in body
    assert OpenAIChat().encode_generate(GenerateRequest(prompt="hello"), stream=False)["messages"] == body["messages"]


# -- bug 3: unit-length vectors are reported as normalized, whoever decodes them ------------


def test_embeddings_measure_their_norm_for_every_codec():
    unit = [[0.6, 0.8], [1.0, 0.0]]
    request = EmbedRequest(texts=("a", "b"))
    sagemaker_tei = WireProvider(INFO, TEI(), FakeTransport(answer=unit), where="sagemaker")
    vertex_tei = WireProvider(INFO, VertexTEI(), FakeTransport(answer={"predictions": [[v] for v in unit]}), where="v")
    for provider in (sagemaker_tei, vertex_tei):
        response = provider.handle_embed(request)
        assert response.normalized is True and response.vectors == ((0.6, 0.8), (1.0, 0.0))
    raw = WireProvider(INFO, TEI(), FakeTransport(answer=[[3.0, 4.0]]), where="x")
    assert raw.handle_embed(EmbedRequest(texts=("a",))).normalized is False
    normalized = raw.handle_embed(EmbedRequest(texts=("a",), normalize=True))
    assert normalized.normalized and math.isclose(math.hypot(*normalized.vectors[0]), 1.0)


def test_embedded_refuses_a_vector_count_mismatch():
    provider = WireProvider(INFO, TEI(), FakeTransport(answer=[[1.0, 0.0]]), where="sagemaker endpoint 'e'")
    with pytest.raises(ModelError, match="1 vectors for 2 texts"):
        provider.handle_embed(EmbedRequest(texts=("a", "b")))
    assert embedded([[0.0, 0.0]], EmbedRequest(texts=("z",), normalize=True)) == (((0.0, 0.0),), True)


# -- one sampling mapping, one finish table ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"top_p": 0.9}, {"top_p": 0.9, "do_sample": True}),  # sampling without a temperature
        ({"temperature": 0.0}, {"do_sample": False}),  # greedy: TGI refuses temperature 0
        ({"temperature": 0.7}, {"temperature": 0.7, "do_sample": True}),
        ({}, {}),  # nothing said: the container's default stands
        ({"top_p": 1.0, "top_k": 0}, {"do_sample": True}),  # TGI refuses both; omitting means the same
    ],
)
def test_tgi_sampling_is_the_same_through_sagemaker_and_vertex(fields, expected):
    request = GenerateRequest(prompt="p", **fields)
    sagemaker = TGI().encode_generate(request, stream=False)["parameters"]
    vertex = VertexTGI().encode_generate(request, stream=False)["instances"][0]["parameters"]
    assert sagemaker == vertex
    assert {k: v for k, v in sagemaker.items() if k not in ("details", "return_full_text")} == expected


def test_sampling_names_and_zero_temperature():
    request = GenerateRequest(prompt="p", temperature=0.0, max_tokens=3, stop=("x",), seed=1)
    assert sampling(request, {"temperature": "t", "max_tokens": "n", "stop": "s", "seed": "seed"}) == {
        "t": 0.0,
        "n": 3,
        "s": ["x"],
        "seed": 1,
    }
    assert LMI().encode_generate(request, stream=False)["parameters"]["stop_sequences"] == ["x"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eos_token", "stop"),
        ("EOS", "stop"),
        ("length", "length"),
        ("max_tokens", "length"),
        ("tool_calls", "tool_calls"),
        ("weird", "stop"),
        (None, None),
        ("", None),
    ],
)
def test_one_finish_reason_table(value, expected):
    assert finish_reason(value) == expected


# -- streams: stop trimming, tool calls, a silent end, partial text -------------------------------


def test_stop_sequences_are_trimmed_for_every_codec_in_streams_and_answers():
    wire = sse({"choices": [{"delta": {"content": "one END two"}, "finish_reason": None}]}, b"[DONE]")
    request = GenerateRequest(prompt="p", stop=("END",))
    provider = WireProvider(INFO, OpenAIChat(), FakeTransport(parts=wire), where="x")
    events = list(provider.handle_stream(request))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one "
    assert events[-1] == FinishEvent(finish_reason="stop", usage=events[-1].usage)
    answer = {"choices": [{"message": {"content": "one END two"}, "finish_reason": "length"}]}
    unary = WireProvider(INFO, OpenAIChat(), FakeTransport(answer=answer), where="x").handle_generate(request)
    assert (unary.text, unary.finish_reason) == ("one ", "stop")


def test_streamed_tool_call_fragments_are_assembled_by_index():
    call = {"index": 0, "id": "c1", "function": {"name": "get_", "arguments": '{"ci'}}
    more = {"index": 0, "function": {"name": "weather", "arguments": 'ty":"Oslo"}'}}
    wire = sse(
        {"choices": [{"delta": {"tool_calls": [call]}}]},
        {"choices": [{"delta": {"tool_calls": [more]}, "finish_reason": "tool_calls"}]},
        b"[DONE]",
    )
    events = decode_stream(OpenAIChat(), wire)
    [tool] = [e for e in events if isinstance(e, ToolCallEvent)]
    assert (tool.tool_call.id, tool.tool_call.name, tool.tool_call.arguments) == (
        "c1",
        "get_weather",
        '{"city":"Oslo"}',
    )
    assert events[-1].finish_reason == "tool_calls"


def test_an_openai_stream_that_ends_silently_was_cut():
    wire = sse({"choices": [{"delta": {"content": "half"}}]})
    provider = WireProvider(INFO, OpenAIChat(), FakeTransport(parts=wire), where="server x")
    seen = []
    with pytest.raises(Unavailable, match="ended before") as info:
        for event in provider.handle_stream(PROMPT):
            seen.append(event)
    assert seen == [TextDelta(text="half")] and info.value.details["partial_text"] == "half"


def test_a_broken_stream_carries_its_partial_text_and_typed_error():
    wire = sse({"token": {"text": "abc"}})
    dropped = Unavailable("connection reset", provider="fake")
    provider = WireProvider(INFO, TGI(), FakeTransport(parts=wire, fail_after=dropped), where="x")
    with pytest.raises(Unavailable) as info:
        list(provider.handle_stream(PROMPT))
    assert info.value is dropped and info.value.details["partial_text"] == "abc"


def test_container_error_bodies_map_by_what_they_say():
    overloaded = {"error": "Model is overloaded", "error_type": "overloaded"}
    provider = WireProvider(INFO, TGI(), FakeTransport(answer=overloaded), where="endpoint e")
    with pytest.raises(Throttled, match="overloaded"):
        provider.handle_generate(PROMPT)
    in_stream = WireProvider(INFO, TGI(), FakeTransport(parts=sse(overloaded)), where="endpoint e")
    with pytest.raises(Throttled):
        list(in_stream.handle_stream(PROMPT))
    assert (
        isinstance(error_from_body({"error": {"code": 400, "message": "bad"}}, provider="p", where="w"), ModelError)
        is False
    )
    google = error_from_body(
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "q"}}, provider="p", where="w"
    )
    assert isinstance(google, Throttled) and google.status_code == 429


def test_undecodable_answers_are_model_errors_naming_the_codec():
    provider = WireProvider(INFO, OpenAIChat(), FakeTransport(answer={"unexpected": True}), where="server s")
    with pytest.raises(ModelError, match="codec 'openai' cannot decode the response") as info:
        provider.handle_generate(PROMPT)
    assert info.value.code == "DecodeError"


def test_vertex_vllm_predictions_and_raw_response():
    codec = VertexVLLM({"raw_response": False})
    body = codec.encode_generate(GenerateRequest(prompt="p", max_tokens=2), stream=False)
    assert body == {"instances": [{"max_tokens": 2, "prompt": "p", "raw_response": False}]}
    assert codec.decode_generate({"predictions": ["Prompt:\np\nOutput:\nhello"]}).text == "hello"
    chat = codec.encode_generate(GenerateRequest(messages=(Message(role="user", content="q"),)), stream=False)
    assert chat["instances"][0]["@requestFormat"] == "chatCompletions"


def test_a_custom_codec_needs_only_its_own_format():
    class Pipe(Codec):
        name = "pipe"
        generates = True

        def encode_generate(self, request, *, stream):
            return {"q": request.prompt}

        def decode_generate(self, body):
            from byom_sdk.wire import Decoded

            return Decoded(text=body["a"], finish_reason="length")

    transport = FakeTransport(answer={"a": "x y"})
    response = WireProvider(INFO, Pipe(), transport, where="x").handle_generate(PROMPT)
    assert transport.sent == [{"q": "hi"}]
    assert (response.text, response.finish_reason, response.usage.source) == ("x y", "length", "estimate")


def test_assembler_ignores_records_after_done_and_sends_one_finish():
    assembler = StreamAssembler(OpenAIChat(), prompt="p")
    events = assembler.feed(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n\n')
    events += assembler.feed(b'data: {"choices":[{"delta":{"content":"late"}}]}\n\n')
    events += assembler.finish()
    assert [type(e).__name__ for e in events] == ["TextDelta", "UsageEvent", "FinishEvent"]


# -- tools and structured output per container ----------------------------------------------

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def test_openai_sends_tools_tool_choice_and_response_format_in_openai_shape():
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
    request = GenerateRequest(prompt="p", tools=(TOOL,), tool_choice="required", response_format=fmt)
    body = OpenAIChat().encode_generate(request, stream=False)
    assert (body["tools"], body["tool_choice"], body["response_format"]) == ([TOOL], "required", fmt)
    assert OpenAIChat.tools_mode == OpenAIChat.structured_output == "native"


def test_tgi_sends_grammars_and_its_messages_api_its_own_shape():
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}
    tgi = TGI().encode_generate(GenerateRequest(prompt="p", response_format=fmt), stream=False)
    assert tgi["parameters"]["grammar"] == {"type": "json", "value": SCHEMA}
    tools = TGI().encode_generate(GenerateRequest(prompt="p", tools=(TOOL,)), stream=False)
    assert tools["parameters"]["grammar"]["value"]["properties"]["tool_calls"]["items"]["properties"]["name"] == {
        "const": "f"
    }
    chat = VertexTGI().encode_generate(
        GenerateRequest(messages=(Message(role="user", content="q"),), response_format=fmt), stream=False
    )
    assert chat["instances"][0]["response_format"] == {"type": "json", "value": SCHEMA}
    assert LMI.structured_output is None and LMI.tools_mode is None  # emulated by the SDK


def test_a_tgi_stream_cut_before_its_final_event_is_an_error_not_a_finished_answer():
    from byom_sdk.wire import StreamDecodeError, StreamEnded, decode_stream

    def token(text: str, **last: object) -> bytes:
        record = {"token": {"id": 1, "text": text, "logprob": 0, "special": False}, "generated_text": None, **last}
        return f"data:{json.dumps(record)}\n\n".encode()

    with pytest.raises(StreamEnded):
        decode_stream(TGI(), [token("Hello"), token(" wor")])
    with pytest.raises((StreamEnded, StreamDecodeError)):  # cut in the middle of the next event
        decode_stream(TGI(), [token("Hello"), token(" wor"), token("ld")[:20]])
    complete = decode_stream(
        TGI(), [token("Hello"), token(" world", generated_text="Hello world", details={"finish_reason": "length"})]
    )
    assert complete[-1].finish_reason == "length"
    # A final event sent without details (details=false) still ends the stream.
    assert decode_stream(TGI(), [token("Hi", generated_text="Hi")])[-1].finish_reason == "stop"


def test_a_codec_that_cannot_carry_top_k_refuses_it_instead_of_dropping_it():
    # TGI's Messages API and OpenAI itself reject top_k: sent without it, the answer would
    # sample from the whole vocabulary while the caller asked for a few candidates.
    chat = GenerateRequest(messages=(Message(role="user", content="hello"),), top_k=5)
    for codec in (VertexTGI({}), OpenAIChat(top_k=False)):
        with pytest.raises(ValueError, match="top_k"):
            codec.encode_generate(chat, stream=False)
        assert "top_k" not in codec.encode_generate(chat.model_copy(update={"top_k": None}), stream=False)
        codec.encode_generate(chat.model_copy(update={"top_k": 0}), stream=False)  # 0: no top-k asked
    # vLLM's OpenAI server takes it (TGI's OpenAI route refuses it itself, with a 422).
    assert VertexOpenAI({"model": "m"}).encode_generate(chat, stream=False)["top_k"] == 5
    assert OpenAIChat().encode_generate(chat, stream=False)["top_k"] == 5
    # A TGI prompt (its native route) carries it.
    assert VertexTGI({}).encode_generate(GenerateRequest(prompt="hi", top_k=5), stream=False) is not None
