"""The `byom` CLI: plugin listing, model calls, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from byom_sdk.cli import main

CONFIG = """
[models.bot]
provider = "scripted"
description = "test double"
replies = ["Hello there, friend"]

[models.ghost]
provider = "no-such-provider"

[models.typo]
provider = "scripted"
replys = ["misspelled key"]
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "byom.toml"
    path.write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")  # builtins only: deterministic output
    return path


def test_plugins_json(config, capsys):
    """`byom plugins --json` lists builtin plugins with versions, providers and failures."""
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plugin_api"] == {"min": 1, "current": 2}
    providers = {p for plugin in data["plugins"] for p in plugin["providers"]}
    assert "scripted" in providers
    builtin = next(p for p in data["plugins"] if "scripted" in p["providers"])
    assert builtin["builtin"] and builtin["distribution"] == "byom-sdk" and builtin["version"] == data["core_version"]
    assert data["failures"] == []


def test_plugins_table(config, capsys):
    """The human view is a table naming the providers."""
    assert main(["plugins"]) == 0
    assert "scripted" in capsys.readouterr().out


def test_models_json_reports_each_alias_status(config, capsys):
    """`byom models --json` lists every alias with its status: usable, provider missing, or
    invalid config (with the one-line error naming the field)."""
    assert main(["models", "--json"]) == 0
    rows = {r["alias"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert rows["bot"] == {
        "alias": "bot",
        "provider": "scripted",
        "description": "test double",
        "status": "ok",
        "error": None,
        "available": True,
    }
    assert rows["ghost"]["status"] == "provider not installed" and not rows["ghost"]["available"]
    assert "no provider named 'no-such-provider'" in rows["ghost"]["error"]
    assert rows["typo"]["status"] == "invalid config"
    assert "model 'typo': field 'replys'" in rows["typo"]["error"]


def test_one_bad_alias_does_not_block_another(config, capsys):
    """Commands that target one alias validate only that alias."""
    assert main(["generate", "bot", "hi"]) == 0
    assert capsys.readouterr().out == "Hello there, friend\n"
    assert main(["generate", "typo", "hi"]) == 1
    assert "field 'replys'" in capsys.readouterr().err


def test_generate_and_stream(config, capsys):
    """generate prints the reply; --stream prints the same text; --max-tokens is honoured."""
    assert main(["generate", "bot", "hi"]) == 0
    assert capsys.readouterr().out == "Hello there, friend\n"
    assert main(["generate", "bot", "hi", "--stream"]) == 0
    assert capsys.readouterr().out == "Hello there, friend\n"
    assert main(["generate", "bot", "hi", "--max-tokens", "1", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["text"] == "Hello" and body["finish_reason"] == "length" and body["usage"]["source"] == "tokenizer"


def test_embed(config, capsys):
    """embed prints one vector per text."""
    assert main(["embed", "bot", "a", "b"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dimension"] == 8 and len(data["vectors"]) == 2


def test_chat_reads_lines_until_empty(config, capsys, monkeypatch):
    """chat sends each line and prints streamed replies; an empty line ends it."""
    lines = iter(["hello", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat", "bot"]) == 0
    assert "bot> Hello there, friend" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "nobody", "hi"], "error: byom.toml: no model named 'nobody' (configured: bot, ghost, typo)"),
        (["generate", "ghost", "hi"], "error: byom.toml: model 'ghost': field 'provider': no provider named"),
        (["--config", "missing.toml", "models"], "error: missing.toml: config file not found"),
    ],
)
def test_errors_are_one_line_without_traceback(config, capsys, args, message):
    """Errors print one line to stderr and exit 1; no traceback."""
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_usage_error_exit_code(config, capsys):
    """Bad usage exits 2 with click's message."""
    assert main(["generate"]) == 2
    assert "Missing argument" in capsys.readouterr().err


def test_debug_shows_traceback(config):
    """--debug re-raises so the traceback is visible."""
    from byom_sdk import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "generate", "nobody", "hi"])


def test_console_script_runs(config):
    """The installed `byom` script runs end to end in a subprocess."""
    out = subprocess.run(
        [sys.executable, "-m", "byom_sdk.cli", "generate", "bot", "hi"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Hello there, friend\n"


def test_conformance_command_writes_a_report(config, tmp_path):
    """`byom conformance ALIAS --report PATH` runs the suite on a configured model."""
    report = tmp_path / "report.json"
    out = subprocess.run(
        [sys.executable, "-m", "byom_sdk.cli", "conformance", "bot", "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["exit_status"] == 0 and data["totals"]["failed"] == 0
    statuses = {check["id"]: check["status"] for check in data["subjects"][0]["checks"]}
    assert statuses["generate.response"] == "passed"
    assert "failed" not in statuses.values()


def test_conformance_command_bad_alias_is_one_line(config, capsys):
    """A bad alias fails before the suite starts, in one line."""
    assert main(["conformance", "nobody"]) == 1
    assert capsys.readouterr().err.startswith("error: byom.toml: no model named 'nobody'")
