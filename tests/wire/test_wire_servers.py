"""What real servers send beyond the reference shapes: vLLM's unwrapped error objects and
aborted requests, llama.cpp's ``error:`` stream field, TGI 2.0-3.1's single-object tool
calls with the name inside the arguments, LMI's repeated names, special tokens and legacy
details, Ollama's tool calls without ``index``, whole messages in stream chunks, and
choices listed out of order."""

from __future__ import annotations

import json

import pytest

from byom_sdk import TextDelta, ToolCallEvent
from byom_sdk.wire import ContainerError, decode_stream, finish_reason, read_usage
from byom_sdk.wire.hf import LMI
from byom_sdk.wire.openai import OpenAIChat


def sse(*records: object) -> list[bytes]:
    return [f"data: {json.dumps(r)}\n\n".encode() for r in records] + [b"data: [DONE]\n\n"]


def chunk(delta: dict | None = None, finish: str | None = None, **choice: object) -> dict:
    body = {"index": 0, "finish_reason": finish, **choice}
    if delta is not None:
        body["delta"] = delta
    return {"object": "chat.completion.chunk", "choices": [body]}


def calls(events: list) -> list[tuple[str, str]]:
    return [(e.tool_call.name, e.tool_call.arguments) for e in events if isinstance(e, ToolCallEvent)]


def test_vllm_error_object_in_a_stream_is_an_error_not_a_finished_answer():
    error = {"object": "error", "message": "engine loop stopped", "type": "InternalServerError", "code": 500}
    with pytest.raises(ContainerError, match="engine loop stopped"):
        decode_stream(OpenAIChat(), sse(chunk({"content": "Hel"}), error))


def test_llama_cpp_error_field_is_an_error_record():
    line = b'error: {"code":400,"message":"the request exceeds the available context size","type":"x"}\n\n'
    with pytest.raises(ContainerError, match="exceeds the available context size"):
        decode_stream(OpenAIChat(), [line, b"data: [DONE]\n\n"])


def test_an_aborted_request_ends_in_error_not_stop():
    assert finish_reason("abort") == "error"


def test_tgi_single_object_tool_calls_with_the_name_in_the_arguments():
    pieces = ['{"function": {"_name": "get_weather",', ' "city": "Paris"}}', "<|eot_id|>"]
    records = [
        chunk({"tool_calls": {"index": 0, "id": "", "function": {"name": None, "arguments": p}}}) for p in pieces
    ]
    events = decode_stream(OpenAIChat(), sse(*records, chunk({}, "stop")))
    assert calls(events) == [("get_weather", '{"city": "Paris"}')]


def test_a_name_repeated_in_every_chunk_is_one_name():
    parts = ['{"city"', ': "Paris"', "}"]
    records = [
        chunk({"tool_calls": [{"index": 0, "function": {"name": "get_weather", "arguments": p}}]}) for p in parts
    ]
    events = decode_stream(OpenAIChat(), sse(*records, chunk({}, "tool_calls")))
    assert calls(events) == [("get_weather", '{"city": "Paris"}')]


def test_tool_calls_without_index_are_told_apart_by_position():
    both = [
        {"id": "a", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
        {"id": "b", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    events = decode_stream(OpenAIChat(), sse(chunk({"tool_calls": both}), chunk({}, "tool_calls")))
    assert calls(events) == [("get_weather", '{"city":"Paris"}'), ("get_time", "{}")]


def test_whole_messages_in_stream_chunks_are_read_as_deltas():
    records = [
        chunk(None, message={"role": "assistant", "content": "Hel"}),
        chunk(None, "stop", message={"content": "lo"}),
    ]
    events = decode_stream(OpenAIChat(), sse(*records))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"


def test_the_first_choice_is_index_zero_wherever_it_is_listed():
    body = {
        "choices": [
            {"index": 1, "message": {"content": "ONE"}, "finish_reason": "length"},
            {"index": 0, "message": {"content": "ZERO"}, "finish_reason": "stop"},
        ]
    }
    decoded = OpenAIChat().decode_generate(body)
    assert decoded.text == "ZERO" and decoded.finish_reason == "stop"


def test_lmi_legacy_details_error_message_and_special_tokens():
    usage = read_usage({"finish_reason": "length", "generated_tokens": 2, "prompt_tokens": 6, "tokens": []})
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.source) == (6, 2, "server")
    special = b'{"token":{"id":2,"text":"</s>","special_token":true},"generated_text":null}\n'
    text = b'{"token":{"id":1,"text":" Paris"},"generated_text":null}\n'
    events = decode_stream(LMI(), [text, special])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == " Paris"
    failed = (
        b'{"token":{"id":-1,"text":"","special_token":true,"error_msg":"exception during rolling batch"},'
        b'"generated_text":" Pa","details":{"finish_reason":"error"}}\n'
    )
    with pytest.raises(ContainerError, match="exception during rolling batch"):
        decode_stream(LMI(), [text, failed])
