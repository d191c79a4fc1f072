"""Answers real servers and proxies send that the reference servers do not: compressed
streams, bodies that trickle in past the call's deadline, redirects, a close-delimited
stream cut inside a record, SSE framed as the specification allows (bare CR, an event's
data over several ``data:`` lines, a byte order mark), JSON nested past what ``json`` reads,
and embeddings of the wrong size. Each over a real socket, through ``HttpTransport``."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import time
import zlib
from collections.abc import Iterator

import pytest

from byom_sdk import (
    BadRequest,
    EmbedRequest,
    GenerateRequest,
    ModelError,
    TextDelta,
    Timeout,
    Unavailable,
)
from byom_sdk.wire import LineDecoder, StreamDecodeError, WireProvider, decode_stream
from byom_sdk.wire._lines import MAX_EVENT_BYTES
from byom_sdk.wire.openai import OpenAIChat

from ._servers import HI, USAGE, answer, chunk, chunked, completion, head


def streamed(provider: WireProvider, request: GenerateRequest = HI) -> str:
    return "".join(e.text for e in provider.handle_stream(request) if isinstance(e, TextDelta))


def astreamed(provider: WireProvider, request: GenerateRequest = HI) -> str:
    async def run() -> str:
        return "".join([e.text async for e in provider.ahandle_stream(request) if isinstance(e, TextDelta)])

    return asyncio.run(run())


def sse_body(*records: dict) -> bytes:
    return b"".join(f"data: {json.dumps(r)}\n\n".encode() for r in records) + b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)], ids=["gzip", "deflate"]
)
def test_compressed_answers_and_streams_are_decoded(serve, encoding, compress):
    """httpx asks for gzip and deflate: a server or a proxy (nginx's gzip_types) may use it."""

    def handler(conn: socket.socket, body: bytes) -> None:
        if json.loads(body).get("stream"):
            stream = compress(sse_body(chunk("Hel"), chunk("lo", "stop", usage=USAGE)))
            chunked(conn, [stream[:7], stream[7:]], Content_Encoding=encoding)
        else:
            answer(conn, compress(json.dumps(completion("Hello")).encode()), Content_Encoding=encoding)

    provider = serve(handler)
    assert provider.handle_generate(HI).text == "Hello"
    assert asyncio.run(provider.ahandle_generate(HI)).text == "Hello"
    assert streamed(provider) == astreamed(provider) == "Hello"


def test_a_body_that_does_not_decode_is_a_model_error(serve):
    provider = serve(lambda conn, _: answer(conn, b"not gzip at all", Content_Encoding="gzip"))
    with pytest.raises(ModelError, match="content encoding"):
        provider.handle_generate(HI)


def trickle(conn: socket.socket, _: bytes) -> None:
    """A valid answer led by JSON whitespace, one byte every 0.1 s for 3 s: every read
    comes within the read timeout, the whole body long after the call's time."""
    body = json.dumps(completion("Hello")).encode()
    conn.sendall(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body) + 30)}))
    for _ in range(30):
        conn.sendall(b" ")
        time.sleep(0.1)
    conn.sendall(body)


@pytest.mark.parametrize("call", ["generate", "agenerate"])
def test_a_unary_answer_trickling_in_ends_at_the_calls_deadline(serve, call):
    provider = serve(trickle)
    request = HI.model_copy(update={"timeout": 0.8})
    started = time.monotonic()
    with pytest.raises(Timeout, match="time ran out") as caught:
        if call == "generate":
            provider.handle_generate(request)
        else:
            asyncio.run(provider.ahandle_generate(request))
    assert time.monotonic() - started < 2.0
    assert caught.value.retryable is False  # the server may still be generating


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "307 Temporary Redirect", "308 Permanent"])
def test_a_redirect_is_refused_never_followed_nor_taken_for_an_answer(serve, status):
    """The residency gate judged the configured host: a redirect is not an answer (a 302 to
    a login page carrying a JSON body is not the model's) and is not followed."""

    def handler(conn: socket.socket, _: bytes) -> None:
        body = json.dumps(completion("from the redirect")).encode()
        answer(conn, body, status, Location="https://user:pw@other-region.example/v1/chat/completions")

    provider = serve(handler)
    for run in (lambda: provider.handle_generate(HI), lambda: streamed(provider), lambda: astreamed(provider)):
        with pytest.raises(BadRequest, match="redirect") as caught:
            run()
        assert caught.value.code == "redirect" and caught.value.request_sent  # it reached the configured host
        assert "pw@" not in str(caught.value)  # the Location's userinfo is redacted


def test_a_close_delimited_stream_cut_inside_a_record_is_a_cut_stream(serve):
    """HTTP/1.0 framing (the body ends when the connection closes) says nothing about a
    cut: a record begun and not finished is one, as a broken chunked stream is."""
    cut = f"data: {json.dumps(chunk('Hel'))}\n\n".encode() + b'data: {"object":"chat.completion.chunk","choi'

    def handler(conn: socket.socket, _: bytes) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + cut)

    provider = serve(handler)
    for run in (lambda: streamed(provider), lambda: astreamed(provider)):
        with pytest.raises(Unavailable, match="middle of a record") as caught:
            run()
        assert caught.value.request_sent is True
        assert caught.value.details["partial_text"] == "Hel"


def test_json_nested_past_what_json_reads_is_a_model_error(serve):
    provider = serve(lambda conn, _: answer(conn, b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(ModelError, match="not JSON"):
        provider.handle_generate(HI)


@pytest.mark.parametrize(
    ("vectors", "problem"),
    [
        ([[1.0, 0.0], [0.0, 1.0]], "2] dimensions, the model declares 3"),
        ([[1.0, 0.0, 0.0], [0.0, 1.0]], "dimensions"),
        ([[1.0, float("nan"), 0.0], [0.0, 1.0, 0.0]], "finite"),
    ],
)
def test_embeddings_of_the_wrong_size_or_not_finite_are_a_model_error(serve, vectors, problem):
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    provider = serve(lambda conn, _: answer(conn, json.dumps({"data": data}).encode()), dimension=3)
    with pytest.raises(ModelError, match=problem):
        provider.handle_embed(EmbedRequest(texts=("a", "b")))


def test_vectors_of_different_sizes_are_refused_without_a_declared_dimension(serve):
    data = [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0]}]
    provider = serve(lambda conn, _: answer(conn, json.dumps({"data": data}).encode()))
    with pytest.raises(ModelError, match="different sizes"):
        provider.handle_embed(EmbedRequest(texts=("a", "b")))


# -- SSE framing the specification allows (the line decoder alone) ---------------------------

RECORDS = [chunk("Hel"), chunk("lo", "stop", usage=USAGE)]


def text_of(parts: list[bytes]) -> str:
    return "".join(e.text for e in decode_stream(OpenAIChat(), parts) if isinstance(e, TextDelta))


def every_cut(body: bytes) -> Iterator[list[bytes]]:
    for at in range(1, len(body)):
        yield [body[:at], body[at:]]


@pytest.mark.parametrize("newline", [b"\r", b"\r\n", b"\n"], ids=["cr", "crlf", "lf"])
def test_lines_end_in_cr_crlf_or_lf_wherever_the_chunks_are_cut(newline):
    body = sse_body(*RECORDS).replace(b"\n", newline)
    for parts in every_cut(body):
        assert text_of(parts) == "Hello", parts


def test_an_events_data_over_several_data_lines_is_joined_with_newlines():
    """sse-starlette and others split data holding newlines (pretty-printed JSON) into one
    ``data:`` line per line; the event ends at the blank line."""
    lines = [f"data: {line}" for line in json.dumps(RECORDS[0], indent=2).split("\n")]
    body = ("\n".join(lines) + "\n\n").encode() + sse_body(RECORDS[1])
    for parts in every_cut(body):
        assert text_of(parts) == "Hello"
    crlf = body.replace(b"\n", b"\r\n")
    assert text_of([crlf]) == "Hello"


def test_a_byte_order_mark_opening_the_stream_is_dropped():
    body = b"\xef\xbb\xbf" + sse_body(*RECORDS)
    for parts in every_cut(body):
        assert text_of(parts) == "Hello"


def test_a_broken_data_line_is_still_an_error_at_the_end_of_its_event():
    with pytest.raises(StreamDecodeError):
        decode_stream(OpenAIChat(), [b"data: {not json\n\n", *[sse_body(*RECORDS)]])
    with pytest.raises(StreamDecodeError):
        decode_stream(OpenAIChat(), [b"<html>bad gateway</html>"])  # no record begun: not a cut


def test_one_bad_line_never_swallows_the_records_after_it():
    """A server writing one record per data: line without blank lines: a broken line is an
    error at the next record, not the head of an event that gathers the rest of the stream."""
    decoder = LineDecoder()
    with pytest.raises(StreamDecodeError, match="choi"):
        decoder.feed(b'data: {"object":"chat.completion.chunk","choi\ndata: {"choices": []}\n')
    with pytest.raises(StreamDecodeError):
        LineDecoder().feed(b'data: {"a":\ndata: [DONE]\n')  # [DONE] while a value is open
    with pytest.raises(StreamDecodeError):
        LineDecoder().feed(b"data: hello\ndata: {}\n")  # opens no value: an error at once
    big = LineDecoder()
    with pytest.raises(StreamDecodeError):
        big.feed(b'data: {"a": [\n' + b"data: 1,\n" * (MAX_EVENT_BYTES // 2))


def test_the_containers_error_line_inside_an_open_event_is_kept():
    records = LineDecoder().feed(b'data: {"a":\nerror: {"message": "out of memory"}\n\n')
    assert records == [{"error": {"message": "out of memory"}}]


@pytest.mark.parametrize("call", ["generate", "agenerate"])
def test_a_whole_answer_arriving_just_past_the_deadline_is_kept(serve, call):
    """The deadline ends a body still coming, not one that has arrived: a complete answer
    (its Content-Length read) is returned, as an error answer's status is."""

    def late(conn: socket.socket, _: bytes) -> None:
        body = json.dumps(completion("Hello")).encode()
        time.sleep(0.5)
        conn.sendall(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}))
        time.sleep(0.5)  # each read within the 0.8 s read timeout, the whole past the deadline
        conn.sendall(body)

    provider = serve(late)
    request = HI.model_copy(update={"timeout": 0.8})
    if call == "generate":
        assert provider.handle_generate(request).text == "Hello"
    else:
        assert asyncio.run(provider.ahandle_generate(request)).text == "Hello"
