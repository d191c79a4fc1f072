"""byom.toml mistakes found by an adversarial review: each one is a ConfigError naming the
file and the field, never a silently wrong value or a huge read."""

from __future__ import annotations

import pytest

from byom_sdk import Client, ConfigError
from byom_sdk._config import MAX_CONFIG_BYTES, load_config_file


def _write(tmp_path, text):
    path = tmp_path / "byom.toml"
    path.write_text(text)
    return path


def test_a_file_too_big_to_be_a_config_is_refused_before_it_is_read(tmp_path):
    """`-c model.gguf` must not read gigabytes into memory to find out it is not TOML."""
    path = tmp_path / "model.gguf"
    with path.open("wb") as handle:
        handle.truncate(MAX_CONFIG_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match=r"model\.gguf: the config file is over 8 MiB"):
        Client.from_config(path)


def test_a_default_applies_when_the_variable_is_set_but_empty(tmp_path, monkeypatch):
    """${VAR:-default} as in the shell: the default also stands in for an empty value."""
    monkeypatch.setenv("BYOM_TEST_EMPTY", "")
    path = _write(tmp_path, '[models.bot]\nprovider = "scripted"\nreplies = ["${BYOM_TEST_EMPTY:-fallback}"]\n')
    with Client.from_config(path, trust="off") as client:
        assert client.model("bot").generate("x").text == "fallback"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("${AWS-REGION}", "'${AWS-REGION}' is not a ${VAR}"),
        ("${UNCLOSED", "'${UNCLOSED' is not a ${VAR}"),
        ("${}", "'${}' is not a ${VAR}"),
        ("${A:-${B}}", "the default of ${A:-...} cannot hold another reference"),
    ],
)
def test_a_malformed_reference_is_an_error_not_a_literal_value(tmp_path, value, shown):
    path = _write(tmp_path, f'[models.bot]\nprovider = "scripted"\nreplies = ["ok", "{value}"]\n')
    with pytest.raises(ConfigError) as info:
        Client.from_config(path)
    assert info.value.alias == "bot" and info.value.field == "replies[1]"
    assert shown in str(info.value) and "$$" in str(info.value)


def test_dollar_dollar_still_escapes_a_brace(tmp_path):
    path = _write(tmp_path, '[models.bot]\nprovider = "scripted"\nreplies = ["$${NOT_A_VAR}"]\n')
    with Client.from_config(path, trust="off") as client:
        assert client.model("bot").generate("x").text == "${NOT_A_VAR}"


def test_an_unknown_top_level_table_suggests_the_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"did you mean \[routes\]\? unknown top-level table\(s\) \['rotues'\]"):
        load_config_file(_write(tmp_path, "[rotues.a]\n"))


def test_a_plugins_table_is_refused_not_silently_ignored(tmp_path):
    """Nothing reads [plugins]; accepting it made `disabled = [...]` look effective."""
    with pytest.raises(ConfigError, match="BYOM_LOAD_PLUGINS") as info:
        load_config_file(_write(tmp_path, '[plugins]\ndisabled = ["acme"]\n'))
    assert info.value.field == "plugins"


@pytest.mark.parametrize(
    ("body", "field", "shown"),
    [
        ("client = 5\n", "client", "[client] must be a table, not an integer"),
        ('serve = "x"\n', "serve", "[serve] must be a table, not a string"),
        ("retry = [1]\n", "retry", "[retry] must be a table, not an array"),
        ("trust = true\n", "trust", "[trust] must be a table, not a boolean"),
    ],
)
def test_a_top_level_value_that_is_not_a_table_is_named_even_without_models(tmp_path, body, field, shown):
    """Caught when the file is read, so `byom models` on a file with no alias reports it."""
    with pytest.raises(ConfigError) as info:
        load_config_file(_write(tmp_path, body))
    assert info.value.field == field and shown in str(info.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[retry]\nmax_attempts = "${BYOM_TEST_ATTEMPTS}"\n', "retry.max_attempts"),
        ('[client]\nmax_concurrency = "${BYOM_TEST_THREADS:-8}"\n', "client.max_concurrency"),
    ],
)
def test_a_reference_where_none_is_expanded_says_so(tmp_path, monkeypatch, body, field):
    """Not "Input should be a valid integer" about a string the user never wrote."""
    monkeypatch.setenv("BYOM_TEST_ATTEMPTS", "5")
    with pytest.raises(ConfigError, match=r"\$\{VAR\} is not expanded in \[") as info:
        Client.from_config(_write(tmp_path, body))
    assert info.value.field == field


@pytest.mark.parametrize("value", ["{ text = 'x' }", "5", "['a']"])
def test_a_description_that_is_not_a_string_is_an_error(tmp_path, value):
    path = _write(tmp_path, f'[models.bot]\nprovider = "scripted"\ndescription = {value}\n')
    with pytest.raises(ConfigError, match="must be a string") as info:
        Client.from_config(path)
    assert info.value.alias == "bot" and info.value.field == "description"


def test_an_empty_config_path_is_named_as_empty_not_as_the_current_folder():
    with pytest.raises(ConfigError, match="the config file path is empty"):
        load_config_file("")
