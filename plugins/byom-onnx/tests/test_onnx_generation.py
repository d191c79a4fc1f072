"""The generation loop on the tiny converted model: sampling, stop strings, streaming, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from byom_sdk import BadRequest, ByomError, FinishEvent, TextDelta, UsageEvent


def test_greedy_and_temperature_zero_pick_argmax():
    from byom_onnx._sampling import SamplingParams, sample_token

    logits = np.array([0.1, 3.0, 2.9, -1.0], np.float32)
    assert sample_token(logits, SamplingParams(temperature=0), [], np.random.default_rng(0)) == 1


def test_top_k_and_top_p_restrict_the_candidates():
    from byom_onnx._sampling import SamplingParams, sample_token

    logits = np.array([5.0, 4.9, 0.0, -3.0, 4.8], np.float32)
    rng = np.random.default_rng(0)
    picks = {sample_token(logits, SamplingParams(temperature=1.0, top_k=2), [], rng) for _ in range(200)}
    assert picks == {0, 1}
    picks = {sample_token(logits, SamplingParams(temperature=1.0, top_p=0.3), [], rng) for _ in range(200)}
    assert picks == {0}


def test_repetition_penalty_discourages_seen_tokens():
    from byom_onnx._sampling import SamplingParams, sample_token

    logits = np.array([2.0, 1.9, 0.0], np.float32)
    assert sample_token(logits, SamplingParams(repetition_penalty=1.5), [0], np.random.default_rng(0)) == 1


def test_seeded_sampling_is_reproducible(tiny_model):
    a = tiny_model.generate("the cat", temperature=1.0, seed=7, max_tokens=12, extra={"ignore_eos": True})
    b = tiny_model.generate("the cat", temperature=1.0, seed=7, max_tokens=12, extra={"ignore_eos": True})
    c = tiny_model.generate("the cat", temperature=1.0, seed=8, max_tokens=12, extra={"ignore_eos": True})
    assert a.text == b.text
    assert a.text != c.text


def test_stop_string_is_held_back_across_tokens():
    from byom_onnx._sampling import StopTextAssembler
    from byom_onnx_tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    ids = tok.encode("the cat END more").ids  # byte-level: "END" arrives one byte per token
    text = StopTextAssembler(tok, ("END",))
    pieces = []
    for token in ids:
        pieces.append(text.push(token))
        assert "E" not in "".join(pieces)  # a possible stop prefix is never emitted early
    pieces.append(text.finish())
    assert text.stopped and "".join(pieces) == "the cat "


def test_text_without_stop_is_released_in_full():
    from byom_onnx._sampling import StopTextAssembler
    from byom_onnx_tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    ids = tok.encode("caf\u00e9 EN! \U0001f600").ids
    text = StopTextAssembler(tok, ("END",))
    out = "".join(text.push(t) for t in ids) + text.finish()
    assert out == "caf\u00e9 EN! \U0001f600" and not text.stopped


def test_stream_equals_generate_and_ends_with_one_finish(tiny_model):
    kwargs = {"temperature": 0, "max_tokens": 16, "extra": {"ignore_eos": True}}
    reply = tiny_model.generate("the the", **kwargs)
    events = list(tiny_model.stream("the the", **kwargs))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == reply.text
    assert isinstance(events[-1], FinishEvent) and sum(isinstance(e, FinishEvent) for e in events) == 1
    assert any(isinstance(e, UsageEvent) for e in events)
    assert reply.finish_reason == "length" and reply.usage.output_tokens == 16


def test_stop_strings_never_leak(tiny_model):
    kwargs = {"temperature": 0, "max_tokens": 24, "extra": {"ignore_eos": True}}
    full = tiny_model.generate("the cat", **kwargs).text
    assert len(full) > 6
    stop = full[3:5]
    cut = tiny_model.generate("the cat", stop=[stop], **kwargs)
    assert cut.text == full[: full.find(stop)]
    assert cut.finish_reason == "stop"
    streamed = "".join(e.text for e in tiny_model.stream("the cat", stop=[stop], **kwargs) if isinstance(e, TextDelta))
    assert streamed == cut.text


def test_max_tokens_and_context_are_honoured(tiny_model):
    reply = tiny_model.generate("the", temperature=0, max_tokens=3, extra={"ignore_eos": True})
    assert reply.usage.output_tokens == 3 and reply.finish_reason == "length"
    with pytest.raises(BadRequest, match="context"):
        tiny_model.generate("the " * 600, max_tokens=3)


def test_concurrent_calls_do_not_corrupt_each_other(tiny_model):
    prompts = ["the cat", "in the", "42 the", "the in the"]
    kwargs = {"temperature": 0, "max_tokens": 20, "extra": {"ignore_eos": True}}
    expected = {p: tiny_model.generate(p, **kwargs).text for p in prompts}
    results: dict[str, list[str]] = {p: [] for p in prompts}
    errors: list[BaseException] = []

    def worker(prompt):
        try:
            for _ in range(3):
                results[prompt].append(tiny_model.generate(prompt, **kwargs).text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for prompt in prompts:
        assert results[prompt] == [expected[prompt]] * 3


async def test_async_twin_matches_sync(tiny_model):
    kwargs = {"temperature": 0, "max_tokens": 8, "extra": {"ignore_eos": True}}
    assert (await tiny_model.agenerate("the cat", **kwargs)).text == tiny_model.generate("the cat", **kwargs).text


def test_deadline_raises_timeout(tiny_model):
    from byom_sdk import GenerateRequest, Timeout

    request = GenerateRequest(prompt="the cat", max_tokens=50, temperature=0, timeout=1e-9)
    with pytest.raises(Timeout, match="deadline"):
        tiny_model.generate(request)


def test_closed_model_refuses_calls(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu")
    model.close()
    assert model.decoder is None  # the KV caches and the runner are released
    with pytest.raises(ByomError, match="closed"):
        model.generate("the", max_tokens=2)
