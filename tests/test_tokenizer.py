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
    assert response.usage == Usage(
        input_tokens=tok.count("hello world"), output_tokens=tok.count("the quick brown fox"), source="tokenizer"
    )
    events = list(model.stream("hello world"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "the quick brown fox"
    assert events[-1].usage == response.usage

    async def run():
        return [e async for e in model.astream("hello world")]

    assert asyncio.run(run())[-1].usage == response.usage
