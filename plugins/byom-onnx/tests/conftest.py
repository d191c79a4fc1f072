"""Fixtures for the byom-onnx tests: tiny self-built models, and the real SmolLM2 / MiniLM
converted once per session into a temporary cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # byom_onnx_refs / byom_onnx_tiny helpers

pytest_plugins = ["byom_sdk.testing.plugin"]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("byom-cache")


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory):
    from byom_onnx_tiny import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny-q4_1.gguf")


@pytest.fixture(scope="session")
def tiny_model(tiny_gguf, onnx_cache, monkeypatch_session):
    from byom_onnx import OnnxModel

    model = OnnxModel(tiny_gguf, threads=1, exact=True)
    yield model
    model.close()


@pytest.fixture(scope="session", autouse=True)
def monkeypatch_session(onnx_cache):
    # Every conversion in this session goes to a temporary cache, never the user's ~/.cache.
    mp = pytest.MonkeyPatch()
    mp.setenv("BYOM_CACHE_DIR", str(onnx_cache))
    yield mp
    mp.undo()


@pytest.fixture(scope="session")
def smollm2_gguf():
    from byom_onnx import smollm2_path

    return smollm2_path()


@pytest.fixture(scope="session")
def smollm2_folder(smollm2_gguf, onnx_cache):
    from byom_onnx import converted_gguf

    return converted_gguf(smollm2_gguf, cache=onnx_cache, progress=False)


@pytest.fixture(scope="session")
def smollm2(smollm2_folder, monkeypatch_session):
    from byom_onnx import OnnxModel

    model = OnnxModel(smollm2_folder, threads=2)
    yield model
    model.close()


@pytest.fixture(scope="session")
def smollm2_exact(smollm2_folder, monkeypatch_session):
    from byom_onnx import OnnxModel

    model = OnnxModel(smollm2_folder, threads=2, exact=True)
    yield model
    model.close()


@pytest.fixture(scope="session")
def minilm(onnx_cache, monkeypatch_session):
    from byom_onnx import OnnxModel, minilm_path

    model = OnnxModel(minilm_path(), threads=2)
    yield model
    model.close()
