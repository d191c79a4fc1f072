"""The provider plugin: entry point, config schema, cheap import, and ``byom convert``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from byom_sdk import ConfigError
from byom_sdk.testing import isolated_registry


def test_entry_point_module_does_not_import_heavy_libraries():
    code = (
        "import sys, byom_onnx._plugin as p; p.byom_model_providers();"
        "heavy = [m for m in ('onnxruntime', 'numpy', 'onnx', 'gguf') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_provider_registered_with_config_schema(tiny_gguf, tmp_path):
    import byom_onnx._plugin as plugin

    with isolated_registry(plugin) as registry:
        spec = registry.provider("onnx")
        assert spec.config_schema.__name__ == "OnnxConfig"
        from byom_sdk import Client

        (tmp_path / "byom.toml").write_text(
            f'[models.tiny]\nprovider = "onnx"\npath = "{tiny_gguf.name}"\nthreads = 1\nexact = true\n'
        )
        (tmp_path / tiny_gguf.name).write_bytes(tiny_gguf.read_bytes())  # relative path resolution
        client = Client.from_config(tmp_path / "byom.toml", registry=registry, trust="off")
        model = client.model("tiny")
        assert model.info.provider == "onnx"
        assert model.generate("the", temperature=0, max_tokens=2, extra={"ignore_eos": True}).usage.output_tokens == 2
        client.close()


def test_bad_config_names_the_field(tmp_path):
    import byom_onnx._plugin as plugin

    from byom_sdk import Client

    with isolated_registry(plugin) as registry, pytest.raises(ConfigError, match="field 'device'"):
        Client(models={"m": {"provider": "onnx", "path": str(tmp_path), "device": "tpu"}}, registry=registry).model("m")


def test_convert_cli_command(tiny_gguf, tmp_path):
    from byom_onnx._cli import convert_command
    from click.testing import CliRunner

    result = CliRunner().invoke(convert_command, [str(tiny_gguf), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "genai_config.json").read_text())["model"]["type"] == "llama"
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00")
    result = CliRunner().invoke(convert_command, [str(bad), str(tmp_path / "out2")])
    assert result.exit_code != 0 and "corrupt or truncated GGUF" in result.output


def test_byom_cli_exposes_convert(tiny_gguf, tmp_path, capsys):
    from byom_sdk.cli import main

    code = main(["convert", str(tiny_gguf), str(tmp_path / "cli-out")])
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "cli-out" / "model.onnx").is_file()
    assert (tmp_path / "cli-out" / "tokenizer.json").is_file()
