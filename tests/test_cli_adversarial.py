"""The `byom` command under mistakes found by an adversarial review: statuses that say what
is wrong, no secrets, no tracebacks on Ctrl-C, an empty --config named as such."""

from __future__ import annotations

import importlib.abc
import io
import json
import sys

import pytest

from byom_sdk.cli import main, run


@pytest.fixture(autouse=True)
def _builtins_only(registry):
    """Builtins only, in a registry of the test's own: setting BYOM_LOAD_PLUGINS instead
    would leave the process-wide registry without the plugins' commands for later tests."""


def _models(tmp_path, capsys, body):
    (tmp_path / "byom.toml").write_text(body)
    code = main(["models", "--json"])
    return code, {row["alias"]: row for row in json.loads(capsys.readouterr().out)["models"]}


def test_models_calls_a_provider_of_the_wrong_type_invalid_not_missing(tmp_path, capsys, monkeypatch):
    """Only a provider name no plugin registers is "provider not installed"."""
    monkeypatch.delenv("BYOM_TEST_UNSET_PROVIDER", raising=False)
    code, rows = _models(
        tmp_path,
        capsys,
        '[models.number]\nprovider = 5\n[models.unset]\nprovider = "${BYOM_TEST_UNSET_PROVIDER}"\n'
        '[models.typo]\nprovider = "scriptd"\n',
    )
    assert code == 1
    assert rows["number"]["status"] == "invalid config" and "must be a plugin name" in rows["number"]["error"]
    assert rows["unset"]["status"] == "invalid config" and "is not set" in rows["unset"]["error"]
    assert rows["typo"]["status"] == "provider not installed" and "did you mean 'scripted'" in rows["typo"]["error"]


def test_models_shows_a_description_from_the_environment_by_its_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BYOM_TEST_DESCRIPTION_TOKEN", "sk-live-0123456789")
    code, rows = _models(
        tmp_path, capsys, '[models.bot]\nprovider = "scripted"\ndescription = "key ${BYOM_TEST_DESCRIPTION_TOKEN}"\n'
    )
    assert code == 0
    assert rows["bot"]["description"] == "key ${BYOM_TEST_DESCRIPTION_TOKEN}"


def test_models_reports_a_top_level_table_of_the_wrong_type_with_no_alias(tmp_path, capsys):
    (tmp_path / "byom.toml").write_text("client = 5\n")
    assert main(["models"]) == 3
    assert "field 'client': [client] must be a table" in capsys.readouterr().err


def test_an_empty_config_option_is_a_usage_error_naming_it(tmp_path, capsys):
    assert main(["--config", "", "models", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "BadParameter" and "'--config': the config path is empty" in error["message"]


def test_an_empty_byom_config_variable_means_the_default(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BYOM_CONFIG", "")
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n')
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"] == "byom.toml"


class _CtrlC(io.StringIO):
    def readline(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt


def test_ctrl_c_under_json_says_interrupted(tmp_path, capsys, monkeypatch):
    """click turns Ctrl-C into Abort, whose message is just "Abort"."""
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n')
    monkeypatch.setattr(sys, "stdin", _CtrlC())
    assert main(["chat", "bot", "--json"]) == 130
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["message"] == "interrupted" and error["exit_code"] == 130


class _InterruptImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "byom_sdk.cli._main":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_command_is_starting_is_not_a_traceback(capsys, monkeypatch):
    """Importing click and the commands takes a tenth of a second at every start."""
    monkeypatch.delitem(sys.modules, "byom_sdk.cli._main")
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
