"""Continuous batching: concurrent calls share decode steps, each output equal to its solo run.

The tiny random model (two layers, fast) is used at the default accuracy level, so batched
decode steps run the same int8 kernels as a real model; one check repeats this on SmolLM2.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from byom_sdk import ByomError, FinishEvent, ModelError, TextDelta

PROMPTS = ["the cat", "in the", "42 the", "the in the", "cat cat", "the 4", "in in", "2 the cat"]
KW = {"temperature": 0, "max_tokens": 24, "extra": {"ignore_eos": True}}


@pytest.fixture(scope="module")
def batched(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu", max_batch=4)
    yield model
    model.close()


@pytest.fixture(scope="module")
def solo(batched):
    return {p: batched.generate(p, **KW).text for p in PROMPTS}


def _text(events):
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_concurrent_calls_share_steps_and_equal_solo_outputs(batched, solo):
    assert len(set(solo.values())) > 4  # the prompts really lead to different outputs
    steps, rows = batched.engine.steps, batched.engine.rows
    results: dict[str, str] = {}
    barrier = threading.Barrier(len(PROMPTS))

    def call(prompt):
        barrier.wait()
        results[prompt] = batched.generate(prompt, **KW).text

    threads = [threading.Thread(target=call, args=(p,)) for p in PROMPTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == solo
    # 8 calls x 23 decode steps each; with 4 slots they ran in shared steps, not one by one.
    ran = batched.engine.steps - steps
    assert batched.engine.rows - rows == len(PROMPTS) * (KW["max_tokens"] - 1)
    assert ran < len(PROMPTS) * (KW["max_tokens"] - 1) / 2


def test_request_joining_mid_batch(batched, solo, monkeypatch):
    engine = batched.engine
    gate = threading.Event()
    pause_at = engine.steps + 5
    step = engine._step

    def paused_step():
        if engine.steps == pause_at:
            gate.wait(10)  # hold the first sequence mid-decode until the second is queued
        step()

    monkeypatch.setattr(engine, "_step", paused_step)
    events = iter(batched.stream("the cat", **KW))
    head = [next(events)]
    _wait_until(lambda: engine.steps == pause_at)
    steps, rows = engine.steps, engine.rows
    joined: dict[str, str] = {}
    second = threading.Thread(target=lambda: joined.update(text=batched.generate("in the", **KW).text))
    second.start()
    _wait_until(lambda: len(engine._pending) == 1)
    gate.set()
    second.join()
    rest = list(events)
    shared = (engine.rows - rows) - (engine.steps - steps)
    assert shared >= KW["max_tokens"] - 1 - 6  # it joined between steps and decoded alongside
    assert _text(head + rest) == solo["the cat"]
    assert joined["text"] == solo["in the"]
    assert isinstance(rest[-1], FinishEvent) and rest[-1].usage.output_tokens == KW["max_tokens"]


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_closing_one_stream_frees_its_slot_and_keeps_the_others(tiny_gguf):
    from byom_onnx import OnnxModel

    with OnnxModel(tiny_gguf, threads=1, device="cpu", max_batch=2) as model:
        solo = {p: model.generate(p, **KW).text for p in ("the cat", "in the", "42 the")}
        long = {**KW, "max_tokens": 200}
        a = model.stream("the cat", **long)
        b = model.stream("in the", **KW)
        a_events, b_events = iter(a), iter(b)
        next(a_events)
        b_first = next(b_events)
        _wait_until(lambda: model.engine.active == 2)
        a.close()  # the reader leaves: its slot must come free while b decodes on
        _wait_until(lambda: model.engine.active <= 1)
        # Both slots were taken; a third call only runs if the closed stream's slot is free.
        third = model.generate("42 the", **KW)
        assert third.text == solo["42 the"]
        assert _text([b_first, *b_events]) == solo["in the"]
        _wait_until(lambda: model.engine.active == 0)


async def test_cancelling_an_async_stream_keeps_the_others(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu", max_batch=2)
    try:
        solo = {p: (await model.agenerate(p, **KW)).text for p in ("the cat", "in the", "42 the")}
        started = asyncio.Event()

        async def endless():
            async for _event in model.astream("the cat", **{**KW, "max_tokens": 200}):
                started.set()

        async def read(prompt):
            return _text([e async for e in model.astream(prompt, **KW)])

        victim = asyncio.create_task(endless())
        other = asyncio.create_task(read("in the"))
        await started.wait()
        victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim
        third = await asyncio.wait_for(read("42 the"), 10)  # needs the cancelled stream's slot
        assert await other == solo["in the"]
        assert third == solo["42 the"]
        for _ in range(400):
            if model.engine.active == 0:
                break
            await asyncio.sleep(0.005)
        assert model.engine.active == 0
        engine = model.engine
    finally:
        await model.aclose()
    assert model.engine is None and not engine.alive


async def test_async_streams_share_steps_and_equal_solo_outputs(batched, solo):
    async def read(prompt):
        return _text([e async for e in batched.astream(prompt, **KW)])

    got = await asyncio.gather(*(read(p) for p in PROMPTS))
    assert dict(zip(PROMPTS, got, strict=True)) == solo


async def test_waiting_on_the_engine_never_blocks_the_event_loop(batched):
    ticks = 0
    done = False

    async def ticker():
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(batched.agenerate(p, **{**KW, "max_tokens": 60}) for p in PROMPTS[:4]))
    elapsed = time.perf_counter() - started
    done = True
    await task
    assert ticks > elapsed / 0.001 * 0.3  # the loop kept turning while the model worked


def test_close_fails_waiting_calls_and_stops_the_thread(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu", max_batch=1)
    stream = iter(model.stream("the cat", **{**KW, "max_tokens": 200}))
    next(stream)
    engine = model.engine
    model.close()
    with pytest.raises(ByomError, match="closed"):
        list(stream)
    assert model.engine is None and not engine.alive


# -- NaN logits --------------------------------------------------------------------------


def _poison_embedding(folder, token_ids):
    """NaN into the embedding scales of ``token_ids``: any sequence reading them goes NaN."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    path = folder / "model.onnx"
    model = onnx.load(str(path))
    init = next(i for i in model.graph.initializer if i.name == "embed.scales")
    scales = numpy_helper.to_array(init).copy()
    scales[token_ids] = np.nan
    init.CopyFrom(numpy_helper.from_array(scales, "embed.scales"))
    onnx.save(model, str(path))


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_nan_logits_raise_model_error_for_that_sequence_only(tiny_gguf, tmp_path, temperature):
    from byom_onnx import OnnxModel, convert_gguf

    folder = convert_gguf(tiny_gguf, tmp_path / "poisoned", progress=False)
    model = OnnxModel(folder, threads=1, device="cpu", max_batch=4)
    digits = model.tokenizer.encode("42")
    clean = model.generate("the cat", **KW).text
    _poison_embedding(folder, digits)
    model.close()
    model = OnnxModel(folder, threads=1, device="cpu", max_batch=4)
    kwargs = {**KW, "temperature": temperature, "seed": 1}
    results: dict[str, object] = {}

    def call(prompt):
        try:
            results[prompt] = model.generate(prompt, **kwargs).text
        except ByomError as exc:
            results[prompt] = exc

    threads = [threading.Thread(target=call, args=(p,)) for p in ("42", "the cat")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    model.close()
    assert isinstance(results["42"], ModelError) and "NaN" in str(results["42"])
    if temperature == 0.0:
        assert results["the cat"] == clean
    else:
        assert isinstance(results["the cat"], str)


@pytest.mark.slow
def test_smollm2_batched_greedy_equals_solo(smollm2):
    prompts = ["Write a haiku about the sea.", "What is 12 times 7?", "Name a famous painter."]
    kwargs = {"temperature": 0, "max_tokens": 32, "extra": {"ignore_eos": True}}
    solo = {p: smollm2.generate([{"role": "user", "content": p}], **kwargs).text for p in prompts}

    async def both():
        return await asyncio.gather(*(smollm2.agenerate([{"role": "user", "content": p}], **kwargs) for p in prompts))

    batched = asyncio.run(both())
    assert [r.text for r in batched] == [solo[p] for p in prompts]
