"""The shared stream decoder: line framing, stop trimming, and split-anywhere properties."""

from __future__ import annotations

import itertools
import json

import pytest
from botocore.eventstream import EventStreamBuffer
from byom_sagemaker import DONE, LineDecoder, LMICodec, OpenAICodec, TGICodec, decode_stream
from byom_sagemaker.testing import (
    LMIPersonality,
    OpenAIPersonality,
    TGIPersonality,
    encode_payload_part,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byom_sdk import FinishEvent, TextDelta, UsageEvent
from byom_sdk.testing import ScriptedModel
from byom_sdk.wire import StopTrimmer, StreamDecodeError


def test_sse_with_and_without_space_bare_json_blank_and_done():
    decoder = LineDecoder()
    data = (
        b'data:{"a":1}\n\n'
        b'data: {"a":2}\r\n\r\n'
        b": keep-alive comment\n"
        b"event: message\nid: 7\nretry: 10\n"
        b'{"a":3}\n'
        b"\n\n"
        b"data: [DONE]\n"
    )
    assert decoder.feed(data) == [{"a": 1}, {"a": 2}, {"a": 3}, DONE]
    assert decoder.close() == []


def test_buffers_partial_lines_and_utf8_split_inside_a_character():
    decoder = LineDecoder()
    raw = 'data:{"t":"h\u00e9llo \U0001f600"}\n'.encode()
    cut = raw.index(b"\xf0") + 2  # inside the 4-byte emoji
    assert decoder.feed(raw[:cut]) == []
    assert decoder.feed(raw[cut:]) == [{"t": "h\u00e9llo \U0001f600"}]


def test_final_line_without_newline_is_flushed():
    decoder = LineDecoder()
    assert decoder.feed(b'{"a":1}\n{"a":') == [{"a": 1}]
    assert decoder.feed(b"2}") == []
    assert decoder.close() == [{"a": 2}]


def test_a_line_that_is_not_json_is_an_error_naming_it():
    with pytest.raises(StreamDecodeError, match="not JSON: 'data-ish garbage'"):
        LineDecoder().feed(b"data-ish garbage\n")


@pytest.mark.parametrize(
    ("pieces", "stops", "expected"),
    [
        (["Hello", " wor", "ld"], ["world"], "Hello "),
        (["a", "b", "c"], ["x"], "abc"),
        (["ab", "cSTO", "P rest"], ["STOP"], "abc"),
        (["one\n", "\ntwo"], ["\n\n"], "one"),
        (["sto", "ne"], ["stop"], "stone"),
    ],
)
def test_stop_trimmer_cuts_across_deltas(pieces, stops, expected):
    trimmer = StopTrimmer(stops)
    out = "".join(trimmer.feed(p) for p in pieces) + trimmer.end()
    assert out == expected
    assert trimmer.hit == (expected != "".join(pieces))


# -- split anywhere ---------------------------------------------------------------------

CASES = {
    "tgi-sse": (TGIPersonality(), TGICodec(), {"inputs": "hi", "parameters": {"details": True}}),
    "lmi-jsonlines": (LMIPersonality(), LMICodec(), {"inputs": "hi", "parameters": {}}),
    "lmi-sse": (LMIPersonality(stream_format="sse"), LMICodec(stream_format="sse"), {"inputs": "hi"}),
    "openai-sse": (
        OpenAIPersonality(),
        OpenAICodec(),
        {"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
    ),
    "openai-jsonlines": (
        OpenAIPersonality(stream_format="jsonlines"),
        OpenAICodec(stream_format="jsonlines"),
        {"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
    ),
}

words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=6
).filter(lambda w: w.strip() == w and w != "")


def _container_output(case: str, reply: str) -> list[bytes]:
    personality, _, body = CASES[case]
    return list(personality.stream(ScriptedModel([reply]), json.dumps(body).encode(), {}))


def _frames(chunks: list[bytes], part_size: int) -> bytes:
    payload = b"".join(chunks)
    return b"".join(encode_payload_part(payload[i : i + part_size]) for i in range(0, len(payload), part_size))


def _decode_wire(codec, wire: bytes, cuts: list[int]):
    """Feed the event-stream bytes through botocore's decoder in pieces cut at ``cuts``."""
    buffer = EventStreamBuffer()
    parts = []
    edges = [0, *cuts, len(wire)]
    for start, end in itertools.pairwise(edges):
        buffer.add_data(wire[start:end])
        for message in buffer:
            assert message.headers[":event-type"] == "PayloadPart"
            parts.append(message.payload)
    return decode_stream(codec, parts, prompt="hi")


def _normalised(events):
    # Delta boundaries follow the PayloadParts; the text and the closing events may not.
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, [e for e in events if not isinstance(e, TextDelta)]


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply_words=st.lists(words, min_size=1, max_size=5))
def test_payload_split_at_every_byte_decodes_identically(case, reply_words):
    reply = " ".join(reply_words)
    chunks = _container_output(case, reply)
    codec = CASES[case][1]
    reference = decode_stream(codec, chunks, prompt="hi")
    assert "".join(e.text for e in reference if isinstance(e, TextDelta)) == reply
    assert sum(isinstance(e, FinishEvent) for e in reference) == 1 and isinstance(reference[-1], FinishEvent)
    expected = _normalised(reference)
    payload = b"".join(chunks)
    for cut in range(len(payload) + 1):  # every byte boundary of the SSE / JSON-lines payload
        assert _normalised(decode_stream(codec, [payload[:cut], payload[cut:]], prompt="hi")) == expected


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reply_words=st.lists(words, min_size=1, max_size=2), part_size=st.integers(24, 64))
def test_event_stream_split_at_every_byte_decodes_identically(case, reply_words, part_size):
    reply = " ".join(reply_words)
    chunks = _container_output(case, reply)
    codec = CASES[case][1]
    expected = _normalised(decode_stream(codec, chunks, prompt="hi"))
    wire = _frames(chunks, part_size)  # PayloadParts cut mid-line, framed like SageMaker does
    for cut in range(len(wire) + 1):  # every byte boundary of the event-stream bytes
        assert _normalised(_decode_wire(codec, wire, [cut])) == expected


@settings(max_examples=40, deadline=None)
@given(
    reply_words=st.lists(words, min_size=1, max_size=8),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
    case=st.sampled_from(sorted(CASES)),
)
def test_stream_split_at_many_random_points_decodes_identically(reply_words, cuts, case):
    reply = " ".join(reply_words)
    chunks = _container_output(case, reply)
    codec = CASES[case][1]
    payload = b"".join(chunks)
    points = sorted({c % (len(payload) + 1) for c in cuts})
    edges = [0, *points, len(payload)]
    parts = [payload[a:b] for a, b in itertools.pairwise(edges)]
    events = decode_stream(codec, parts, prompt="hi")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == reply
    kinds = [type(e) for e in events if not isinstance(e, TextDelta)]
    assert kinds[-1] is FinishEvent and kinds.count(FinishEvent) == 1
    if case.startswith("openai"):
        assert kinds == [UsageEvent, FinishEvent]  # the server's usage chunk was read
