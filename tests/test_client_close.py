"""Closing a Client with calls in flight: they finish and are audited, new calls are refused,
streams left open are recorded as cancelled, and nothing waits forever."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from byom_sdk import AuditError, ByomError, Client
from byom_sdk.testing import ScriptedModel

REPLY = "the answer is forty two"


def _client(tmp_path: Any, registry: Any, **model: Any) -> Client:
    scripted = ScriptedModel([REPLY], **model)
    return Client(
        models={"m": scripted},
        policy={"audit": {"path": str(tmp_path / "audit.sqlite")}},
        retry=None,
        registry=registry,
    )


def _outcomes(tmp_path: Any) -> list[dict[str, Any]]:
    import json
    import sqlite3

    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        bodies = [json.loads(row[0]) for row in db.execute("SELECT body FROM records ORDER BY seq")]
    return [b for b in bodies if b.get("kind") == "outcome"]


def test_close_lets_a_call_in_flight_on_another_thread_finish_and_be_audited(tmp_path, registry):
    client = _client(tmp_path, registry, delay=0.4)
    model = client.model("m")
    got: dict[str, Any] = {}

    def call() -> None:
        try:
            got["text"] = model.generate("hello").text
        except Exception as exc:
            got["error"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)  # the call is with the provider
    client.close()
    worker.join(5)
    assert got == {"text": REPLY}
    [outcome] = _outcomes(tmp_path)
    assert outcome["outcome"] == "ok"
    with pytest.raises(ByomError, match="model 'm' is closed"):
        model.generate("again")


def test_aclose_lets_the_loops_own_calls_finish_without_blocking_it(tmp_path, registry):
    client = _client(tmp_path, registry, delay=0.4)

    async def scenario() -> tuple[str, float]:
        task = asyncio.create_task(client.model("m").agenerate("hello"))
        await asyncio.sleep(0.1)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        await client.aclose()
        beat.cancel()
        return (await task).text, ticks

    text, ticks = asyncio.run(scenario())
    assert text == REPLY
    assert ticks >= 10  # the loop kept running while aclose waited (~0.3 s)
    assert [o["outcome"] for o in _outcomes(tmp_path)] == ["ok"]


def test_new_calls_are_refused_while_closing_waits(tmp_path, registry):
    client = _client(tmp_path, registry, delay=0.5)
    model = client.model("m")
    worker = threading.Thread(target=lambda: model.generate("first"))
    worker.start()
    time.sleep(0.1)
    closer = threading.Thread(target=client.close)
    closer.start()
    time.sleep(0.1)  # close() is waiting for the first call
    with pytest.raises(ByomError, match="model 'm' is closed"):
        model.generate("second")
    closer.join(5)
    worker.join(5)
    assert [o["outcome"] for o in _outcomes(tmp_path)] == ["ok"]  # the refused call sent nothing


def test_a_stream_left_open_is_recorded_cancelled_and_a_later_read_raises(tmp_path, registry):
    client = _client(tmp_path, registry)
    stream = client.model("m").stream("hello")
    first = next(stream)
    assert first.type == "text"
    client.close()  # the same thread holds the stream: nothing to wait for
    [outcome] = _outcomes(tmp_path)
    assert outcome["outcome"] == "cancelled"
    with pytest.raises(ByomError, match="closed while the stream was open"):
        next(stream)


def test_an_async_stream_left_open_is_recorded_cancelled(tmp_path, registry):
    client = _client(tmp_path, registry)

    async def scenario() -> None:
        stream = client.model("m").astream("hello")
        await stream.__anext__()
        await client.aclose()
        with pytest.raises(ByomError, match="closed while the stream was open"):
            await stream.__anext__()

    asyncio.run(scenario())
    assert [o["outcome"] for o in _outcomes(tmp_path)] == ["cancelled"]


def test_a_call_longer_than_the_timeout_fails_closed_instead_of_holding_close(tmp_path, registry):
    client = _client(tmp_path, registry, delay=1.5)
    got: dict[str, Any] = {}

    def call() -> None:
        try:
            got["text"] = client.model("m").generate("hello").text
        except Exception as exc:
            got["error"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)
    started = time.perf_counter()
    client.close(timeout=0.2)
    assert time.perf_counter() - started < 1.0
    worker.join(5)
    assert isinstance(got.get("error"), AuditError)  # the answer is not released unaudited


def test_sync_close_on_a_loop_does_not_wait_for_that_loops_calls(tmp_path, registry):
    """Those calls cannot progress while close() holds the loop's thread: no deadlock."""
    client = _client(tmp_path, registry, delay=0.3)

    async def scenario() -> float:
        task = asyncio.create_task(client.model("m").agenerate("hello"))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        client.close(timeout=10)
        took = time.perf_counter() - started
        with pytest.raises(ByomError):
            await task
        return took

    assert asyncio.run(scenario()) < 2.0
