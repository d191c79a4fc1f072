"""The stream line decoder and codec parsers: any chunking of the HttpBody stream decodes
identically (property test), and the decoder tolerates every SSE / JSON-lines variant."""

from __future__ import annotations

import json

import pytest
from byom_vertex.testing import LocalVertexServer, TGIContainer, VLLMContainer
from hypothesis import given, settings
from hypothesis import strategies as st

import byom_sdk
from byom_sdk.testing import ScriptedModel
from byom_sdk.wire import DONE, LineDecoder, StreamAssembler, StreamDecodeError
from byom_sdk.wire.hf import TGI
from byom_sdk.wire.openai import OpenAIChat

REPLY = 'Grüße — naïve café ☕ tokens with multi-byte text and "quotes"'


def _stream_bytes(container, body) -> bytes:
    return b"".join(container.stream(body))


CHAT = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "stream_options": {"include_usage": True}}
TGI_NATIVE = {"inputs": "hi", "parameters": {}, "stream": True}
STREAMS = {
    "openai-chat": _stream_bytes(VLLMContainer(ScriptedModel([REPLY])), CHAT),
    "openai-completion": _stream_bytes(VLLMContainer(ScriptedModel([REPLY])), {"prompt": "hi", "stream": True}),
    "tgi-native": _stream_bytes(TGIContainer(ScriptedModel([REPLY])), TGI_NATIVE),
}


def _decode(chunks: list[bytes]) -> list[object]:
    decoder = LineDecoder()
    items: list[object] = []
    for chunk in chunks:
        items += decoder.feed(chunk)
    return items + decoder.close()


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, start = [], 0
    for point in points:
        chunks.append(data[start:point])
        start = point
    chunks.append(data[start:])
    return chunks


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(STREAMS)), cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_chunking_decodes_identically(name, cuts):
    data = STREAMS[name]
    assert _decode(_cut(data, cuts)) == _decode([data])


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_chunking_gives_the_same_events(cuts):
    for name, codec in (("openai-chat", OpenAIChat()), ("tgi-native", TGI())):
        assembler = StreamAssembler(codec, prompt="hi")
        events = []
        for part in _cut(STREAMS[name], cuts):
            events += assembler.feed(part)
        events += assembler.finish()
        assert "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta)) == REPLY


def test_byte_at_a_time_over_grpc_and_rest():
    """The local server re-cuts the stream into 1..7-byte HttpBody chunks on the wire."""
    sizes = iter([1, 2, 3, 5, 7] * 1000)

    def chunker(data: bytes) -> list[bytes]:
        out, i = [], 0
        while i < len(data):
            n = next(sizes)
            out.append(data[i : i + n])
            i += n
        return out

    with LocalVertexServer(ScriptedModel([REPLY]), codec="vllm", chunker=chunker) as server:
        for transport in ("grpc", "rest"):
            with server.vertex_model(transport=transport) as model:
                events = list(model.stream([{"role": "user", "content": "hi"}]))
            assert "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta)) == REPLY
            assert events[-1].finish_reason == "stop"
        assert server.count("streamRawPredict") == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'data: {"a": 1}\n\n', [{"a": 1}]),
        (b'data:{"a": 1}\n\n', [{"a": 1}]),
        (b'{"a": 1}\n{"b": 2}\n', [{"a": 1}, {"b": 2}]),
        (b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n', [{"a": 1}, DONE]),
        (b': keep-alive\n\nevent: message\nid: 7\ndata: {"a": 1}\n\n', [{"a": 1}]),
        (b"\n\n\n", []),
        (b'data: {"a": 1}', [{"a": 1}]),  # no trailing newline: flushed by close()
        (b"data:\n\n", []),
        (b"data: [DONE]\n", [DONE]),
    ],
)
def test_line_variants(raw, expected):
    assert _decode([raw]) == expected


def test_multibyte_character_split_across_chunks():
    line = ("data: " + json.dumps({"t": "☕"}, ensure_ascii=False) + "\n").encode()
    cut = line.index("☕".encode()) + 1
    assert _decode([line[:cut], line[cut:]]) == [{"t": "☕"}]


def test_non_json_line_raises_a_decode_error():
    with pytest.raises(StreamDecodeError, match="not JSON"):
        _decode([b"data: {broken\n"])


def test_pending_reports_held_back_bytes():
    decoder = LineDecoder()
    assert decoder.feed(b'data: {"a"') == []
    assert decoder.pending == len(b'data: {"a"')
