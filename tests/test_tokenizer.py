"""HFTokenizer over a real tokenizer.json, sandboxed chat templates, context checks."""

from __future__ import annotations

import json

import pytest

from byom_sdk import BadRequest, ChatTemplate, Client, ConfigError, HFTokenizer, Message, Tokenizer

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """A byte-level BPE tokenizer trained here, saved as tokenizer.json + tokenizer_config.json."""
    from tokenizers import Tokenizer as Backend
    from tokenizers import decoders, models, pre_tokenizers, trainers

    backend = Backend(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    corpus = ["the quick brown fox jumps over the lazy dog", "hello world", "café ünïcödé 🙂"] * 50
    backend.train_from_iterator(corpus, trainer)
    folder = tmp_path_factory.mktemp("tok")
    backend.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"chat_template": TEMPLATE, "bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": True}
        )
    )
    return folder


def test_round_trip_count_and_special_tokens(tokenizer_dir):
    """Encoding round-trips (unicode too), count matches encode, special tokens are known."""
    tok = HFTokenizer.from_file(tokenizer_dir)
    assert isinstance(tok, Tokenizer)
    for text in ["hello world", "café ünïcödé 🙂", "  leading and trailing  ", ""]:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert tok.count(text) == len(ids)
    assert set(tok.special_tokens) == {"<s>", "</s>"}
    assert tok.eos_token_ids == (tok.special_tokens["</s>"],)
    assert tok.encode("hello", add_special_tokens=True)[0] == tok.special_tokens["<s>"]
    assert tok.decode(tok.encode("hello", add_special_tokens=True), skip_special_tokens=True) == "hello"


def test_chat_template_from_config(tokenizer_dir):
    """The folder's chat template renders with bos/eos tokens and the generation prompt."""
    tok = HFTokenizer.from_file(tokenizer_dir / "tokenizer.json")
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}, Message(role="assistant", content="yo")])
    assert text == "<s>[user] hi</s>\n[assistant] yo</s>\n[assistant] "


def test_chatml_fallback_when_no_template(tokenizer_dir, tmp_path):
    """Without a template, ChatML is used."""
    (tmp_path / "tokenizer.json").write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
    tok = HFTokenizer.from_file(tmp_path)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=False) == (
        "<|im_start|>user\nhi<|im_end|>\n"
    )


def test_template_runs_in_the_sandbox():
    """A malicious template cannot reach Python internals."""
    from jinja2.exceptions import SecurityError

    evil = ChatTemplate("{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        evil.render([{"role": "user", "content": "x"}])
    raising = ChatTemplate("{{ raise_exception('no system role') }}")
    with pytest.raises(ValueError, match="chat template: no system role"):
        raising.render([])


def test_bad_tokenizer_files_are_named(tmp_path):
    """Missing or corrupt tokenizer files give a ConfigError naming the file."""
    with pytest.raises(ConfigError, match="tokenizer file not found"):
        HFTokenizer.from_file(tmp_path / "missing.json")
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read tokenizer"):
        HFTokenizer.from_file(tmp_path)


def test_client_counts_context_with_configured_tokenizer(tokenizer_dir, tmp_path):
    """A model given a tokenizer in config refuses prompts over its context window before sending."""
    import shutil

    shutil.copytree(tokenizer_dir, tmp_path / "tok")
    (tmp_path / "byom.toml").write_text(
        '[models.remote]\nprovider = "scripted"\ntokenizer = "tok"\n'  # relative to byom.toml
    )
    client = Client.from_config(tmp_path / "byom.toml", trust="off")
    model = client.model("remote")
    assert isinstance(model.tokenizer, HFTokenizer)
    inner = model.provider
    prompt = "hello world " * 200
    used = model.tokenizer.count(prompt)
    assert used < 4096
    with pytest.raises(BadRequest, match="over the context window of 4096"):
        model.generate(prompt, max_tokens=4096)
    assert inner.requests == []  # refused before the provider saw anything
    assert model.generate(prompt, max_tokens=10).finish_reason in {"stop", "length"}


def test_tokenizer_config_errors_name_alias(tmp_path):
    """A bad tokenizer path in config names the alias."""
    (tmp_path / "byom.toml").write_text('[models.remote]\nprovider = "scripted"\ntokenizer = "nowhere"\n')
    with pytest.raises(ConfigError, match=r"model 'remote'.*tokenizer file not found"):
        Client.from_config(tmp_path / "byom.toml").model("remote")


def test_estimated_usage_is_recounted_with_configured_tokenizer(tokenizer_dir, tmp_path):
    """A provider that only estimates usage gets real counts from the configured tokenizer."""
    import asyncio
    import shutil

    from byom_sdk import FinishEvent, GenerateResponse, TextDelta, Usage, UsageEvent
    from byom_sdk.testing import ScriptedModel

    class Estimating(ScriptedModel):
        def _generate(self, request):
            response = super()._generate(request)
            return response.model_copy(update={"usage": Usage.estimate(request.prompt or "", response.text)})

        def _stream(self, request):
            for event in super()._stream(request):
                if isinstance(event, (UsageEvent, FinishEvent)):
                    event = event.model_copy(update={"usage": Usage.estimate("", "")})
                yield event

    shutil.copytree(tokenizer_dir, tmp_path / "tok")
    tok = HFTokenizer.from_file(tmp_path / "tok")
    from byom_sdk import ManagedModel, Pipeline
    from byom_sdk._executors import shared_executors
    from byom_sdk._tokens import TokenizerMiddleware

    pipeline = Pipeline([TokenizerMiddleware(tok)], retry=None, executors=shared_executors())
    model = ManagedModel("m", Estimating(["the quick brown fox"]), pipeline, tokenizer=tok)
    response = model.generate("hello world")
    assert isinstance(response, GenerateResponse)
    # The prompt is counted as the endpoint sees it: with the BOS it prepends.
    assert response.usage == Usage(
        input_tokens=len(tok.encode("hello world", add_special_tokens=True)),
        output_tokens=tok.count("the quick brown fox"),
        source="tokenizer",
    )
    events = list(model.stream("hello world"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "the quick brown fox"
    assert events[-1].usage == response.usage

    async def run():
        return [e async for e in model.astream("hello world")]

    assert asyncio.run(run())[-1].usage == response.usage


def test_backend_that_pads_or_truncates_still_counts_every_token(tokenizer_dir):
    """A backend set to pad/truncate (a sentence-transformers export, or one reconfigured by
    its owner later) must not shrink counts: that would let oversized prompts through."""
    from tokenizers import Tokenizer as Backend

    text = "hello world " * 50
    real = HFTokenizer.from_file(tokenizer_dir).count(text)
    backend = Backend.from_file(str(tokenizer_dir / "tokenizer.json"))
    backend.enable_truncation(8)
    backend.enable_padding(length=16)
    tok = HFTokenizer(backend)
    assert tok.count(text) == real > 16
    assert tok.count("hello") == 1  # no padding
    backend.enable_truncation(4)  # the caller's object, changed afterwards
    assert tok.count(text) == real


def test_malformed_tokenizer_config_is_a_config_error(tokenizer_dir, tmp_path):
    """tokenizer_config.json that is not an object, odd fields, or a broken template give a
    ConfigError at load, never an AttributeError or a failure on the first call."""
    (tmp_path / "tokenizer.json").write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
    config = tmp_path / "tokenizer_config.json"
    for text in ["[1, 2]", "null"]:
        config.write_text(text)
        with pytest.raises(ConfigError, match="not a JSON object"):
            HFTokenizer.from_file(tmp_path)
    config.write_text(json.dumps({"chat_template": ["x", {"name": "default", "template": "T"}]}))
    assert HFTokenizer.from_file(tmp_path).chat_template == "T"
    config.write_text(json.dumps({"bos_token": "<s>", "add_bos_token": "false"}))
    assert HFTokenizer.from_file(tmp_path).add_bos_token is not True
    config.write_text(json.dumps({"chat_template": "{% for %}"}))
    with pytest.raises(ConfigError, match="chat_template does not compile"):
        HFTokenizer.from_file(tmp_path)


def test_chatml_counts_tool_calls_and_accepts_null_content():
    """The ChatML fallback renders tool calls (so they are counted) and OpenAI's
    ``content: null`` for a tool-calling turn; a message without a role is named."""
    from byom_sdk import ToolCall

    template = ChatTemplate()
    call = {"id": "1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    text = template.render([{"role": "assistant", "content": None, "tool_calls": [call]}], add_generation_prompt=False)
    assert "lookup" in text and "<tool_call>" in text and "&lt;" not in text
    as_message = template.render(
        [Message(role="assistant", tool_calls=(ToolCall(id="1", name="lookup", arguments='{"q": "x"}'),))],
        add_generation_prompt=False,
    )
    assert as_message == text
    with pytest.raises(ValueError, match="message 1 has no role"):
        template.render([{"role": "user", "content": "a"}, {"content": "b"}])


def test_context_window_edges_count_bos_and_one_output_token(tokenizer_dir):
    """Prompt + max_tokens equal to the window passes, one more is refused; the BOS the
    endpoint prepends is counted; without max_tokens a prompt that fills the window is
    refused, as the model has no room for a single token."""
    from byom_sdk import Capabilities, ManagedModel, Pipeline
    from byom_sdk._executors import shared_executors
    from byom_sdk._tokens import TokenizerMiddleware
    from byom_sdk.testing import ScriptedModel

    tok = HFTokenizer.from_file(tokenizer_dir)
    prompt = "hello world " * 10
    used = len(tok.encode(prompt, add_special_tokens=True))
    assert used == tok.count(prompt) + 1  # the fixture adds BOS
    caps = Capabilities(generate=True, chat=True, stream=True, max_context=used + 5)
    pipeline = Pipeline([TokenizerMiddleware(tok)], retry=None, executors=shared_executors())
    model = ManagedModel("m", ScriptedModel(["ok"], capabilities=caps), pipeline, tokenizer=tok)
    model.generate(prompt, max_tokens=5)
    with pytest.raises(BadRequest, match="over the context window"):
        model.generate(prompt, max_tokens=6)
    tight = Capabilities(generate=True, chat=True, stream=True, max_context=used)
    model = ManagedModel("m", ScriptedModel(["ok"], capabilities=tight), pipeline, tokenizer=tok)
    with pytest.raises(BadRequest, match="over the context window"):
        model.generate(prompt)
    room = Capabilities(generate=True, chat=True, stream=True, max_context=used + 1)
    model = ManagedModel("m", ScriptedModel(["ok"], capabilities=room), pipeline, tokenizer=tok)
    model.generate(prompt)


def test_post_processor_adds_special_tokens_when_config_is_silent(tokenizer_dir, tmp_path):
    """Without ``add_bos_token`` in tokenizer_config.json (Llama 3), the tokenizer.json
    post-processor decides, as in transformers, so BOS is not dropped from counts."""
    from tokenizers import Tokenizer as Backend
    from tokenizers import processors

    backend = Backend.from_file(str(tokenizer_dir / "tokenizer.json"))
    bos = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    backend.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>"}))
    tok = HFTokenizer.from_file(tmp_path)
    assert tok.encode("hello", add_special_tokens=True) == [bos, *tok.encode("hello")]
