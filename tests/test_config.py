"""byom.toml loading: errors name the file, the alias and the field."""

from __future__ import annotations

import os

import pytest

from byom_sdk import Client, ConfigError, RetryPolicy


def _write(tmp_path, text):
    path = tmp_path / "byom.toml"
    path.write_text(text)
    return path


def test_valid_config_builds_models(tmp_path):
    """Aliases map to providers, provider keys are validated by the provider's schema."""
    path = _write(
        tmp_path,
        """
[retry]
max_attempts = 2

[models.bot]
provider = "scripted"
description = "support bot"
replies = ["hello"]
retry = { max_attempts = 5 }
""",
    )
    client = Client.from_config(path, trust="off")
    assert client.aliases == ["bot"]
    assert client.entry("bot").description == "support bot"
    model = client.model("bot")
    assert model.generate("hi").text == "hello"
    assert model.pipeline.retry == RetryPolicy(max_attempts=5)
    assert client.retry.max_attempts == 2
    assert client.model("bot") is model  # built once


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[models.bot]\ndescription = "x"\n', "byom.toml: model 'bot': field 'provider': 'provider' is required"),
        (
            '[models.bot]\nprovider = "scripted"\nembedding_dimension = "wide"\n',
            "model 'bot': field 'embedding_dimension': embedding_dimension: Input should be a valid integer",
        ),
        (
            '[models.bot]\nprovider = "scripted"\nreplys = ["typo"]\n',
            "model 'bot': field 'replys': did you mean 'replies'? replys: Extra inputs are not permitted",
        ),
        (
            '[models.bot]\nprovider = "scripted"\nretry = { max_attempts = 0 }\n',
            "model 'bot': field 'retry.max_attempts'",
        ),
        ('[modles.bot]\nprovider = "scripted"\n', "unknown top-level table(s) ['modles']"),
        ("[models.bot\n", "invalid TOML"),
        ('[retry]\nmax_attempts = "many"\n', "field 'retry.max_attempts'"),
    ],
)
def test_config_errors_name_file_alias_and_field(tmp_path, body, expected):
    """Each mistake is reported in one line naming where it is."""
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        Client.from_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_config_file_is_named(tmp_path):
    """A missing file is named in the error."""
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        Client.from_config(tmp_path / "nope.toml")


def test_env_interpolation(tmp_path, monkeypatch):
    """${VAR} and ${VAR:-default} are replaced; $$ is a literal dollar."""
    monkeypatch.setenv("BOT_REPLY", "from env")
    path = _write(
        tmp_path,
        """
[models.bot]
provider = "scripted"
replies = ["${BOT_REPLY}", "${UNSET_VAR_XYZ:-fallback}", "cost $$5"]
""",
    )
    model = Client.from_config(path, trust="off").model("bot")
    assert [model.generate("x").text for _ in range(3)] == ["from env", "fallback", "cost $5"]


def test_missing_env_var_names_alias_and_field(tmp_path):
    """An unset variable without default is an error naming the alias, field and variable."""
    path = _write(tmp_path, '[models.bot]\nprovider = "scripted"\nregion = "${BYOM_TEST_UNSET_REGION}"\n')
    with pytest.raises(ConfigError) as info:
        Client.from_config(path)
    message = str(info.value)
    assert "model 'bot'" in message and "field 'region'" in message and "BYOM_TEST_UNSET_REGION" in message


def test_unknown_alias_lists_configured_ones():
    """Asking for an alias that is not configured lists the ones that are."""
    client = Client(models={"a": {"provider": "scripted"}, "b": {"provider": "scripted"}})
    with pytest.raises(ConfigError, match="no model named 'c' \\(configured: a, b\\)"):
        client.model("c")


def test_inline_models_and_instances(registry):
    """Client(models=...) accepts config mappings and ready Model instances."""
    from byom_sdk.testing import ScriptedModel

    instance = ScriptedModel(["inst"])
    client = Client(models={"cfg": {"provider": "scripted", "replies": ["cfg"]}, "obj": instance}, trust="off")
    assert client.model("cfg").generate("x").text == "cfg"
    assert client.model("obj").generate("x").text == "inst"
    client.close()
    assert instance.closed
    with pytest.raises(Exception, match="client is closed"):
        client.model("cfg")


def test_inline_config_error_names_the_source():
    """Errors from inline configs name the Client(models=...) source."""
    with pytest.raises(ConfigError, match=r"<Client\(models=...\)>: model 'x': field 'provider'"):
        Client(models={"x": {"replies": []}})


def test_only_validates_the_named_aliases(tmp_path):
    """Client.from_config(only=[...]) builds just those aliases; other entries are not checked."""
    path = _write(tmp_path, '[models.good]\nprovider = "scripted"\n\n[models.bad]\nprovider = "scripted"\nnope = 1\n')
    with pytest.raises(ConfigError, match="model 'bad'"):
        Client.from_config(path)
    client = Client.from_config(path, only=["good"], trust="off")
    assert client.aliases == ["good"] and client.model("good").generate("x").text == "echo: x"
    with pytest.raises(ConfigError, match=r"no model named 'other' \(configured: bad, good\)"):
        Client.from_config(path, only=["other"])


def test_config_error_context_is_added_without_repeating_the_field():
    from byom_sdk import ConfigError

    inner = ConfigError("tokenizer file not found", field="path")
    outer = inner.within(source="byom.toml", alias="bot", field="tokenizer")
    assert str(outer) == "byom.toml: model 'bot': field 'tokenizer.path': tokenizer file not found"
    assert outer.detail == inner.detail and outer.field == "tokenizer.path"
    assert str(inner.within()) == str(inner)


def test_a_config_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[models.bot]\nprovider = "scripted"\nreplies = ["caf\xe9"]\n')
    with pytest.raises(ConfigError) as caught:
        Client.from_config(path)
    message = str(caught.value)
    assert str(path) in message and "not UTF-8" in message and "0xe9" in message


def test_a_fifo_as_the_config_file_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "byom.toml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        Client.from_config(path)


def test_only_takes_one_alias_as_a_string_too(tmp_path):
    path = tmp_path / "byom.toml"
    path.write_text('[models.bot]\nprovider = "scripted"\n\n[models.other]\nprovider = "scripted"\n')
    with Client.from_config(path, only="bot") as client:
        assert client.aliases == ["bot"]


@pytest.mark.parametrize(("models", "fragment"), [(5, "must be a mapping"), ({1: {"provider": "scripted"}}, "strings")])
def test_models_of_the_wrong_shape_are_config_errors(models, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Client(models=models)


def test_an_unknown_tokenizer_kind_names_the_alias_and_field():
    client = Client(models={"m": {"provider": "scripted", "tokenizer": {"kind": "nosuchkind", "path": "x"}}})
    with pytest.raises(ConfigError) as caught:
        client.model("m")
    assert "model 'm'" in str(caught.value) and caught.value.field == "tokenizer.kind"
    assert "nosuchkind" in str(caught.value)
