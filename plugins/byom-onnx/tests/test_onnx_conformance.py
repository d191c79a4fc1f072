"""The byom conformance suite on tiny self-built models: a converted layout-A decoder and a
layout-D sentence-transformers encoder (fast; the real models have their own tests)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from byom_onnx_tiny import write_tiny_bert, write_tiny_gguf

from byom_sdk.testing.conformance import ModelConformance


@cache
def _tiny_paths() -> tuple[Path, Path]:
    from byom_onnx import convert_gguf

    root = Path(tempfile.mkdtemp(prefix="byom-onnx-conformance-"))
    atexit.register(shutil.rmtree, root, True)
    folder = convert_gguf(write_tiny_gguf(root / "tiny.gguf"), root / "tiny-a", progress=False)
    return folder, write_tiny_bert(root / "bert")


class TestOnnxDecoderConformance(ModelConformance):
    def make_model(self):
        from byom_onnx import OnnxModel

        return OnnxModel(_tiny_paths()[0], threads=1, device="cpu", temperature=0.0)


class TestOnnxEmbeddingConformance(ModelConformance):
    def make_model(self):
        from byom_onnx import OnnxModel

        return OnnxModel(_tiny_paths()[1], threads=1, device="cpu")
