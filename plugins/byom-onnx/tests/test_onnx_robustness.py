"""Bad input an application can send or ship: each is a byom error naming the file or field,
and a request that fails never takes the other sequences of its decode batch down with it."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time

import numpy as np
import pytest

from byom_sdk import BadRequest, ConfigError, ModelError, TextDelta

KW = {"temperature": 0, "max_tokens": 24, "extra": {"ignore_eos": True}}


@pytest.fixture(scope="module")
def batched(tiny_gguf):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, device="cpu", max_batch=2)
    yield model
    model.close()


def _wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _beside_a_stream(model, monkeypatch, victim):
    """Run ``victim()`` while a greedy stream is mid-decode, so that the victim is admitted
    (prefilled and sampled) in the same scheduler iteration as the stream's next steps.
    Returns the stream's text and what the victim raised (or returned)."""
    engine = model.engine
    gate = threading.Event()
    pause_at = engine.steps + 3
    step = engine._step

    def paused_step():
        if engine.steps == pause_at:
            gate.wait(10)  # hold the stream mid-decode until the victim is queued
        step()

    monkeypatch.setattr(engine, "_step", paused_step)
    events = iter(model.stream("the cat", **KW))
    head = [next(events)]
    _wait_until(lambda: engine.steps == pause_at)
    outcome: dict[str, object] = {}

    def call():
        try:
            outcome["result"] = victim()
        except Exception as exc:  # recorded for the assertions
            outcome["result"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    _wait_until(lambda: len(engine._pending) == 1)
    gate.set()
    thread.join()
    text = "".join(e.text for e in [*head, *events] if isinstance(e, TextDelta))
    _wait_until(lambda: engine.active == 0)
    return text, outcome["result"]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"repetition_penalty": 0}, r"extra\.repetition_penalty"),
        ({"repetition_penalty": -1.0}, r"extra\.repetition_penalty"),
        ({"repetition_penalty": "x"}, r"extra\.repetition_penalty"),
        ({"ignore_eos": "false"}, r"extra\.ignore_eos"),
    ],
)
def test_bad_extra_is_a_bad_request_naming_it_and_the_batch_goes_on(batched, monkeypatch, extra, match):
    solo = batched.generate("the cat", **KW).text
    text, result = _beside_a_stream(
        batched, monkeypatch, lambda: batched.generate("in the", temperature=1.0, max_tokens=4, extra=extra)
    )
    assert isinstance(result, BadRequest)  # a byom error naming the field, not a bare ValueError
    assert re.search(match, str(result))
    assert text == solo


class _RejectingGrammar:
    """A constraint whose matcher refuses the sampled token (an llguidance defect, say)."""

    def mask(self, logits):
        return logits

    def consume(self, token):
        raise ModelError("the grammar rejected token", provider="onnx")


def _nan_sampling(seq):
    from byom_onnx._sampling import SamplingParams

    # Penalty 0 divides the seen tokens' logits by zero: numpy then refuses the distribution.
    seq.params = SamplingParams(temperature=1.0, repetition_penalty=0.0)


def _rejecting_grammar(seq):
    seq.constraint = _RejectingGrammar()


@pytest.mark.parametrize("breaks", [_nan_sampling, _rejecting_grammar], ids=["sampling", "grammar"])
def test_a_row_that_fails_to_sample_fails_alone(batched, monkeypatch, breaks):
    solo = batched.generate("the cat", **KW).text
    prepare = batched._prepare

    def breaking_prepare(seq):
        prepare(seq)
        if seq.request.prompt == "in the":
            breaks(seq)

    monkeypatch.setattr(batched, "_prepare", breaking_prepare)
    text, result = _beside_a_stream(batched, monkeypatch, lambda: batched.generate("in the", **KW))
    assert isinstance(result, ModelError)
    assert text == solo  # the stream decoded beside it is untouched
    # ... and its slot is free again for the next call.
    monkeypatch.setattr(batched, "_prepare", prepare)
    assert batched.generate("the cat", **KW).text == solo


def test_negative_seed_is_a_reproducible_seed(batched):
    kwargs = {"temperature": 1.0, "max_tokens": 8, "extra": {"ignore_eos": True}}
    first = batched.generate("the cat", seed=-1, **kwargs).text
    assert batched.generate("the cat", seed=-1, **kwargs).text == first


def test_prompt_over_the_context_has_the_sdk_error_code(batched):
    with pytest.raises(BadRequest, match="context") as caught:
        batched.generate("the " * 600, max_tokens=3)
    assert caught.value.code == "ContextWindowExceeded"


def test_wrong_option_type_is_a_config_error_naming_the_option(tiny_gguf):
    from byom_onnx import OnnxModel

    with pytest.raises(ConfigError, match="max_batch") as caught:
        OnnxModel(tiny_gguf, max_batch="many")
    assert caught.value.field == "max_batch"


@pytest.fixture
def tiny_folder(tiny_gguf, tmp_path):
    from byom_onnx import converted_gguf

    folder = tmp_path / "tiny"
    shutil.copytree(converted_gguf(tiny_gguf, progress=False), folder)
    return folder


def _edit_json(file, change):
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("file", "change", "match"),
    [
        ("genai_config.json", lambda d: d["model"].update(context_length="abc"), r"'model\.context_length'"),
        ("genai_config.json", lambda d: d["model"].update(eos_token_id="x"), r"'model\.eos_token_id'"),
        ("genai_config.json", lambda d: d.update(model=[]), r"'model' must be an object"),
        ("generation_config.json", lambda d: d.update(eos_token_id=[None]), r"'eos_token_id'"),
    ],
    ids=["context-str", "eos-str", "model-list", "eos-null"],
)
def test_config_file_with_wrong_types_names_file_and_key(tiny_folder, file, change, match):
    from byom_onnx import OnnxModel

    target = tiny_folder / file
    if not target.exists():
        target.write_text("{}")
    _edit_json(target, change)
    with pytest.raises(ConfigError, match=match) as caught:
        OnnxModel(tiny_folder, threads=1, device="cpu")
    assert file in str(caught.value)


def test_chat_template_syntax_error_is_refused_at_load(tiny_folder):
    from byom_onnx import OnnxModel

    _edit_json(tiny_folder / "tokenizer_config.json", lambda d: d.update(chat_template="{% if %}"))
    with pytest.raises(ConfigError, match=r"tokenizer_config\.json: chat_template does not compile") as caught:
        OnnxModel(tiny_folder, threads=1, device="cpu")
    assert caught.value.field is not None and caught.value.field.endswith("chat_template")


@pytest.mark.parametrize(
    "template", ["{{ raise_exception('system messages are not supported') }}", "{{ messages[5].content }}"]
)
def test_chat_template_that_raises_is_a_bad_request(tiny_folder, template):
    from byom_onnx import OnnxModel

    _edit_json(tiny_folder / "tokenizer_config.json", lambda d: d.update(chat_template=template))
    with OnnxModel(tiny_folder, threads=1, device="cpu") as model:
        with pytest.raises(BadRequest, match=r"chat template .*tokenizer_config\.json.* refused these messages"):
            model.generate([{"role": "user", "content": "hi"}], max_tokens=2)
        # The prompt path needs no template and still works.
        assert model.generate("the cat", max_tokens=2, temperature=0).usage.output_tokens >= 1


@pytest.mark.slow
def test_long_text_is_truncated_for_embedding_but_counted_in_full(minilm):
    long = "word " * 1000
    assert minilm.tokenizer.count(long) == 1000  # the model's tokenizer does not truncate
    limit = minilm.info.capabilities.max_context
    truncated = minilm.tokenizer.decode(minilm.tokenizer.encode(long)[: limit - 2])
    got = np.array(minilm.embed([long, truncated]).vectors)
    np.testing.assert_allclose(got[0], got[1], atol=1e-5)
