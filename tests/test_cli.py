"""The `byom` CLI: every verb's --json output, JSON errors, exit codes, `models --check`."""

from __future__ import annotations

import http.server
import io
import json
import socket
import subprocess
import sys
import threading

import click
import pytest
from pydantic import BaseModel

import byom_sdk
from byom_sdk.cli import main
from byom_sdk.testing import ScriptedModel, isolated_registry

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
def config(tmp_path, monkeypatch, registry):
    path = tmp_path / "byom.toml"
    path.write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    # Builtins only: deterministic output. The registry of the test's own keeps in-process
    # runs from loading the process-wide one without plugins (later tests would find no
    # `batch` or `serve` command); the variable does the same for subprocesses.
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    return path


def run(capsys, *args):
    """(exit code, stdout, stderr) of `byom ARGS`."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- plugins ----------------------------------------------------------------------------------


def test_plugins_json(config, capsys):
    """`byom plugins --json` lists builtin plugins with versions, providers and failures."""
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["plugin_api"] == {"min": 1, "current": 2}
    builtin = next(p for p in data["plugins"] if "scripted" in p["providers"])
    assert builtin["builtin"] and builtin["distribution"] == "byom-sdk" and builtin["version"] == data["core_version"]
    assert data["failures"] == []


def test_plugins_table(config, capsys):
    code, out, _ = run(capsys, "plugins")
    assert code == 0 and "scripted" in out


# -- models -----------------------------------------------------------------------------------


def test_models_json_reports_each_alias_and_exits_1_on_broken_ones(config, capsys):
    """Every alias with its status; broken ones are listed and make the exit code 1."""
    code, out, _ = run(capsys, "models", "--json")
    assert code == 1
    data = json.loads(out)
    rows = {r["alias"]: r for r in data["models"]}
    assert rows["bot"] == {
        "alias": "bot",
        "provider": "scripted",
        "description": "test double",
        "status": "ok",
        "error": None,
        "available": True,
    }
    assert rows["ghost"]["status"] == "provider not installed" and not rows["ghost"]["available"]
    assert "byom.toml: model 'ghost': field 'provider': no provider named 'no-such-provider'" in rows["ghost"]["error"]
    assert rows["typo"]["status"] == "invalid config"
    assert "model 'typo': field 'replys'" in rows["typo"]["error"]
    assert data["broken"] == ["ghost", "typo"] and data["checked"] is False


def test_models_all_usable_exits_0(tmp_path, monkeypatch, capsys, registry):
    (tmp_path / "byom.toml").write_text('[models.bot]\nprovider = "scripted"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    code, out, _ = run(capsys, "models", "--check", "--json")
    assert code == 0
    row = json.loads(out)["models"][0]
    assert row["checks"] == {"config": "ok", "files": "ok (0 checked)", "build": "ok", "endpoint": "in process"}


class FileModelConfig(BaseModel):
    path: byom_sdk.ConfigPath
    endpoint: str | None = None


class FilePlugin:
    """A provider whose config names a file and, optionally, an endpoint."""

    @byom_sdk.hookimpl
    def byom_model_providers(self):
        def build(config):
            boundary = byom_sdk.Boundary(provider="filer", location_kind="customer-cloud", endpoint=config.endpoint)
            model = ScriptedModel(boundary=boundary if config.endpoint else None)
            model._info = model._info.model_copy(update={"version": "file-v7"})  # what a deployment pins
            return model

        return [byom_sdk.ModelProviderSpec(name="filer", factory=build, config_schema=FileModelConfig)]


@pytest.fixture
def listening():
    """A loopback HTTP server that answers every GET with 404 (still an answer)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_models_check_really_checks_each_alias(tmp_path, monkeypatch, capsys, listening, registry):
    """--check finds missing and unparsable files, unreachable loopback endpoints and bad
    tokenizer paths; it never contacts a remote endpoint; it exits 1."""
    (tmp_path / "good.json").write_text('{"ok": true}')
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "fake.gguf").write_bytes(b"NOPE" + bytes(60))
    down = f"http://127.0.0.1:{_closed_port()}/v1"
    (tmp_path / "byom.toml").write_text(
        f"""
[models.fine]
provider = "filer"
path = "good.json"
endpoint = "{listening}"

[models.missing]
provider = "filer"
path = "models/absent.gguf"

[models.corrupt]
provider = "filer"
path = "bad.json"

[models.notgguf]
provider = "filer"
path = "fake.gguf"

[models.down]
provider = "filer"
path = "good.json"
endpoint = "{down}"

[models.remote]
provider = "filer"
path = "good.json"
endpoint = "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/x"

[models.tok]
provider = "scripted"
tokenizer = "tokenizers/none.json"
"""
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    with isolated_registry(FilePlugin()):
        code, out, _ = run(capsys, "models", "--check", "--json")
        plain_code, _, _ = run(capsys, "models", "--json")
    assert code == 1
    rows = {r["alias"]: r for r in json.loads(out)["models"]}
    assert rows["fine"]["status"] == "ok" and rows["fine"]["checks"]["endpoint"].startswith(listening)
    assert rows["fine"]["version"] == "file-v7"  # --check builds the model and reports its version
    assert rows["missing"]["status"] == "missing file"
    assert "field 'path'" in rows["missing"]["error"] and "absent.gguf does not exist" in rows["missing"]["error"]
    assert rows["corrupt"]["status"] == "unreadable file"
    assert rows["notgguf"]["status"] == "unreadable file" and "bad magic" in rows["notgguf"]["error"]
    assert rows["down"]["status"] == "endpoint unreachable" and down in rows["down"]["error"]
    assert rows["remote"]["status"] == "ok" and "not contacted (remote)" in rows["remote"]["checks"]["endpoint"]
    assert rows["tok"]["status"] == "missing file" and "tokenizer.path" in rows["tok"]["error"]
    assert plain_code == 0  # without --check only the config is validated


def test_models_check_reports_a_provider_that_fails_to_build(tmp_path, monkeypatch, capsys, registry):
    class Broken:
        @byom_sdk.hookimpl
        def byom_model_providers(self):
            def build(config):
                raise RuntimeError("weights are corrupt")

            return [byom_sdk.ModelProviderSpec(name="broken", factory=build)]

    (tmp_path / "byom.toml").write_text('[models.b]\nprovider = "broken"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    with isolated_registry(Broken()):
        code, out, _ = run(capsys, "models", "--check", "--json")
    assert code == 1
    row = json.loads(out)["models"][0]
    assert row["status"] == "build failed" and "weights are corrupt" in row["error"]


def test_models_check_builds_what_the_first_call_builds(tmp_path, monkeypatch, capsys, registry):
    """A tokenizer folder without tokenizer.json and a per-model trust override naming an
    entity no detector reports pass the file check but fail the first call: --check says so."""
    (tmp_path / "tokenizers" / "empty").mkdir(parents=True)
    (tmp_path / "byom.toml").write_text(
        '[models.bot]\nprovider = "scripted"\n\n'
        '[models.tok]\nprovider = "scripted"\ntokenizer = "tokenizers/empty"\n\n'
        '[models.masked]\nprovider = "scripted"\ntrust = { masking = { entities = ["EMIAL"] } }\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    code, out, _ = run(capsys, "models", "--check", "--json")
    rows = {r["alias"]: r for r in json.loads(out)["models"]}
    assert code == 1 and json.loads(out)["broken"] == ["masked", "tok"]
    assert rows["bot"]["status"] == "ok"
    assert rows["tok"]["status"] == "invalid config"
    assert "field 'tokenizer.path': tokenizer file not found" in rows["tok"]["error"]
    assert rows["masked"]["status"] == "invalid config"
    assert "field 'trust.masking.entities': no configured detector reports entity 'EMIAL'" in rows["masked"]["error"]


# -- generate, embed, chat --------------------------------------------------------------------


def test_one_bad_alias_does_not_block_another(config, capsys):
    """Commands that target one alias validate only that alias."""
    assert run(capsys, "generate", "bot", "hi")[:2] == (0, "Hello there, friend\n")
    code, _, err = run(capsys, "generate", "typo", "hi")
    assert code == 3 and "field 'replys'" in err


def test_generate_stream_and_json(config, capsys):
    """generate prints the reply; --stream the same text; --json the whole response."""
    assert run(capsys, "generate", "bot", "hi", "--stream")[:2] == (0, "Hello there, friend\n")
    code, out, _ = run(capsys, "generate", "bot", "hi", "--max-tokens", "1", "--json")
    body = json.loads(out)
    assert code == 0 and body["text"] == "Hello" and body["finish_reason"] == "length"
    assert body["usage"]["output_tokens"] == 1 and body["usage"]["source"] == "tokenizer"


def test_generate_stream_json_is_one_event_per_line(config, capsys):
    code, out, _ = run(capsys, "generate", "bot", "hi", "--stream", "--json")
    events = lines(out)
    assert code == 0
    assert "".join(e["text"] for e in events if e["type"] == "text") == "Hello there, friend"
    assert [e["type"] for e in events][-2:] == ["usage", "finish"]
    assert events[-1]["finish_reason"] == "stop" and events[-1]["usage"]["output_tokens"] == 3


def test_embed_json(config, capsys):
    for args in (("embed", "bot", "a", "b"), ("embed", "bot", "a", "b", "--json")):
        code, out, _ = run(capsys, *args)
        data = json.loads(out)
        assert code == 0 and data["dimension"] == 8 and len(data["vectors"]) == 2
        assert data["usage"]["source"] == "tokenizer"


def test_chat_reads_lines_until_empty(config, capsys, monkeypatch):
    """chat sends each line and prints streamed replies; an empty line ends it."""
    answers = iter(["hello", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    code, out, _ = run(capsys, "chat", "bot")
    assert code == 0 and "bot> Hello there, friend" in out


def test_chat_json_reads_stdin_and_prints_one_object_per_reply(config, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\nagain\n"))
    code, out, _ = run(capsys, "chat", "bot", "--json")
    replies = lines(out)
    assert code == 0 and [r["turn"] for r in replies] == [1, 2]
    assert replies[0]["text"] == "Hello there, friend" and replies[0]["finish_reason"] == "stop"
    assert replies[1]["usage"]["input_tokens"] > replies[0]["usage"]["input_tokens"]  # history is sent


# -- errors and exit codes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["generate", "nobody", "hi"], 3, "error: byom.toml: no model named 'nobody' (configured: bot, ghost, typo)"),
        (["generate", "ghost", "hi"], 3, "error: byom.toml: model 'ghost': field 'provider': no provider named"),
        (["--config", "missing.toml", "models"], 3, "error: missing.toml: config file not found"),
        (["generate", "bot", "hi", "--temperature", "9"], 2, "error: invalid request: temperature:"),
    ],
)
def test_errors_are_one_line_without_traceback(config, capsys, args, code, message):
    """Errors print one line to stderr with the documented exit code; no traceback."""
    got, out, err = run(capsys, *args)
    assert got == code and out == ""
    assert err.startswith(message)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "fields"),
    [
        (["generate", "nobody", "hi", "--json"], 3, {"type": "ConfigError", "source": "byom.toml"}),
        (["generate", "typo", "hi", "--json"], 3, {"type": "ConfigError", "alias": "typo", "field": "replys"}),
        (["generate", "bot", "a\x00b", "--json"], 2, {"type": "BadRequest", "field": "messages.0.content"}),
        (
            ["generate", "bot", "a\udcffb", "--stream", "--json"],
            2,
            {"type": "BadRequest", "field": "messages.0.content"},
        ),
        (["embed", "bot", "ok", "bad\ud800", "--json"], 2, {"type": "BadRequest", "field": "texts.1"}),
        (["generate", "bot", "hi", "--temperature", "9", "--json"], 2, {"field": "temperature"}),
        (["generate", "--json"], 2, {"type": "MissingParameter"}),
        (["--config", "missing.toml", "models", "--json"], 3, {"type": "ConfigError"}),
    ],
)
def test_errors_are_json_objects_with_json(config, capsys, args, code, fields):
    """With --json an error is one JSON object on stdout naming its type and fields."""
    got, out, _ = run(capsys, *args)
    error = json.loads(out)["error"]
    assert got == code == error["exit_code"]
    assert error["message"] and "\n" not in error["message"]
    for key, value in fields.items():
        assert error[key] == value, (key, error)


def test_policy_refusal_exits_4(tmp_path, monkeypatch, capsys, registry):
    (tmp_path / "byom.toml").write_text(
        '[trust]\nallowed_regions = ["eu-*"]\n\n[models.us]\nprovider = "scripted"\nregion = "us-east-1"\n'
        'location_kind = "customer-cloud"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BYOM_LOAD_PLUGINS", "")
    code, out, _ = run(capsys, "generate", "us", "hi", "--json")
    error = json.loads(out)["error"]
    assert code == 4 and error["type"] == "PolicyViolation" and error["rule"] == "allowed_regions"


def test_usage_error_exit_code(config, capsys):
    code, _, err = run(capsys, "generate")
    assert code == 2 and "Missing argument" in err


def test_debug_shows_traceback(config):
    with pytest.raises(byom_sdk.ConfigError):
        main(["--debug", "generate", "nobody", "hi"])


def test_console_script_runs(config):
    """`python -m byom_sdk.cli` runs end to end in a subprocess."""
    out = subprocess.run(
        [sys.executable, "-m", "byom_sdk.cli", "generate", "bot", "hi"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Hello there, friend\n"


# -- plugin commands --------------------------------------------------------------------------


class CommandPlugin:
    @byom_sdk.hookimpl
    def byom_cli_commands(self):
        @click.command("shout")
        @click.argument("word")
        def shout(word):
            """Print WORD loudly (a plugin command without --json of its own)."""
            if word == "fail":
                raise click.ClickException("cannot shout that")
            click.echo(word.upper())
            click.echo("done")

        return [shout]


def test_plugin_commands_get_json(config, capsys):
    """A plugin command that lacks --json gets it: one JSON object per output line, then
    `ok` — or the JSON error."""
    with isolated_registry(CommandPlugin()):
        assert run(capsys, "shout", "hey")[:2] == (0, "HEY\ndone\n")
        code, out, _ = run(capsys, "shout", "hey", "--json")
        assert code == 0 and lines(out) == [
            {"command": "shout", "output": "HEY"},
            {"command": "shout", "output": "done"},
            {"command": "shout", "ok": True},
        ]
        code, out, _ = run(capsys, "shout", "fail", "--json")
        assert code == 1 and lines(out)[-1]["error"]["message"] == "cannot shout that"


def test_convert_and_audit_take_json(config, monkeypatch, tmp_path):
    """The verbs plugins add (`convert` from byom-onnx, `audit` from the trust layer) answer
    with JSON too (a subprocess: every installed plugin loads there)."""
    pytest.importorskip("byom_onnx")
    monkeypatch.delenv("BYOM_LOAD_PLUGINS")

    def byom(*args):
        done = subprocess.run(
            [sys.executable, "-m", "byom_sdk.cli", *args], capture_output=True, text=True, timeout=120
        )
        return done.returncode, json.loads(done.stdout)

    code, body = byom("convert", str(tmp_path / "absent.gguf"), str(tmp_path / "out"), "--json")
    assert code == 2 == body["error"]["exit_code"] and "absent.gguf" in body["error"]["message"]
    code, body = byom("audit", "verify", str(tmp_path / "absent.sqlite"), "--json")
    assert code == 2 and body["error"]["message"]


# -- conformance ------------------------------------------------------------------------------


def test_conformance_command_writes_a_report(config, tmp_path):
    """`byom conformance ALIAS --report PATH` runs the suite, with the builtin scripted
    provider's fault and slow scenarios, on a configured model."""
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
    for check_id in ("errors.throttled", "errors.auth", "errors.retry_after", "timeout.request"):
        assert statuses[check_id] == "passed", check_id  # the profile's scenarios ran


def test_conformance_json_prints_the_report(config, capsys):
    code, out, _ = run(capsys, "conformance", "bot", "--json", "--no-scenarios")
    data = json.loads(out)
    assert code == 0 and data["totals"]["failed"] == 0
    statuses = {check["id"]: check["status"] for check in data["subjects"][0]["checks"]}
    assert statuses["errors.auth"] == "skipped"  # --no-scenarios: no fault scenarios


def test_conformance_without_pytest_names_the_extra(config, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pytest" else real(name, *a))
    code, _, err = run(capsys, "conformance", "bot")
    assert code == 5 and "pip install 'byom-sdk[conformance]'" in err
    code, out, _ = run(capsys, "conformance", "bot", "--json")
    error = json.loads(out)["error"]
    assert code == 5 and error["extra"] == "conformance" and error["package"] == "pytest"


def test_conformance_command_bad_alias_is_one_line(config, capsys):
    code, _, err = run(capsys, "conformance", "nobody")
    assert code == 3 and err.startswith("error: byom.toml: no model named 'nobody'")
