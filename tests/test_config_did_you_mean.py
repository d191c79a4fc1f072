"""A misspelled alias or provider option names the nearest real one; an empty path is named."""

from __future__ import annotations

import pytest

from byom_sdk import Client, ConfigError
from byom_sdk.testing import ScriptedModel


def write(tmp_path, text):
    path = tmp_path / "byom.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_alias_suggests_the_nearest_model_or_route(tmp_path):
    with Client(models={"support-bot": ScriptedModel(), "local": ScriptedModel()}, trust="off") as client:
        with pytest.raises(ConfigError, match=r"did you mean 'support-bot'\? no model named 'suport-bot'"):
            client.model("suport-bot")
        with pytest.raises(ConfigError, match=r": no model named 'zzz' \(configured: local, support-bot\)"):
            client.model("zzz")
    path = write(tmp_path, '[models.support-bot]\nprovider = "scripted"\n')
    with pytest.raises(ConfigError, match=r"did you mean 'support-bot'\?"):
        Client.from_config(path, only=["support-bott"])


def test_a_misspelled_provider_option_suggests_the_real_one(tmp_path):
    path = write(tmp_path, '[models.bot]\nprovider = "scripted"\nreplys = ["hi"]\n')
    with pytest.raises(ConfigError) as error:
        Client.from_config(path, trust="off").model("bot")
    assert "did you mean 'replies'?" in str(error.value) and error.value.field == "replys"


def test_an_empty_config_path_is_named_as_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        Client.from_config("")
    assert "empty" in str(error.value) and "not a regular file" not in str(error.value)
