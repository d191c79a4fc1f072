"""The demo the README runs: examples/local_chat.py through byom_sdk.Client (real models)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "local_chat.py"


def test_default_models_convert_once_and_are_cached(onnx_cache, monkeypatch_session):
    from byom_onnx import default_models

    first = default_models(cache=onnx_cache, progress=False)
    again = default_models(cache=onnx_cache, progress=False)
    assert first == again
    assert (first.chat / "model.onnx").is_file() and (first.embed / "onnx" / "model.onnx").is_file()
    assert set(first.config()) == {"chat", "embed"}


def test_local_chat_example_streams_paris_and_prints_similarities(monkeypatch_session):
    spec = importlib.util.spec_from_file_location("local_chat_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    answer = module.run("What is the capital of France?", out=out)
    assert "Paris" in answer
    printed = out.getvalue()
    assert "cosine similarity" in printed and printed.count("\n") >= 8
