"""The byom conformance suite on tiny self-built models: a converted layout-A decoder and a
layout-D sentence-transformers encoder (fast; the real models have their own tests).

Faults are provoked for real: a prompt longer than the context (``bad_request``), a deadline
that has passed (``timeout``) and a graph that fails inside onnxruntime (``model_error``). A
local model has no rate limit or endpoint, so ``throttled`` / ``unavailable`` are not offered.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from byom_onnx_tiny import break_graph_output, write_tiny_bert, write_tiny_gguf

from byom_sdk.testing.conformance import ModelConformance


@cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="byom-onnx-conformance-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@cache
def _decoder_folder(broken: bool = False) -> Path:
    from byom_onnx import convert_gguf

    gguf = _root() / "tiny-words.gguf"
    if not gguf.exists():
        # Greedy output is words, so stop checks have material; the context holds a tool list.
        write_tiny_gguf(gguf, words=True, context=1024)
    folder = convert_gguf(gguf, _root() / ("tiny-broken" if broken else "tiny-a"), progress=False)
    if broken:
        break_graph_output(folder / "model.onnx", "logits")
    return folder


@cache
def _encoder_folder(broken: bool = False) -> Path:
    from byom_onnx import converted_bert

    source = _root() / "bert"
    if not source.exists():
        write_tiny_bert(source)
    converted = converted_bert(source, cache=_root() / "cache")
    if not broken:
        return converted
    target = _root() / "bert-broken"
    shutil.copytree(converted, target)
    break_graph_output(target / "onnx" / "model.onnx", "last_hidden_state")
    return target


class TestOnnxDecoderConformance(ModelConformance):
    def make_model(self):
        from byom_onnx import OnnxModel

        return OnnxModel(_decoder_folder(), threads=1, device="cpu", temperature=0.0)

    def tool_request(self, model):
        # The grammar makes even the tiny random-weight model call the tool with valid arguments.
        from byom_sdk import GenerateRequest

        tool = {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]},
            },
        }
        return GenerateRequest(
            messages=[{"role": "user", "content": "look it up"}], tools=(tool,), tool_choice="required", max_tokens=64
        )

    def make_faulty_model(self, fault):
        from byom_onnx import OnnxModel

        if fault == "bad_request":  # every chat prompt is longer than 16 tokens here
            return OnnxModel(_decoder_folder(), threads=1, device="cpu", max_context=16)
        if fault == "timeout":
            return OnnxModel(_decoder_folder(), threads=1, device="cpu", timeout=1e-9)
        if fault == "model_error":
            return OnnxModel(_decoder_folder(broken=True), threads=1, device="cpu")
        return None


class TestOnnxEmbeddingConformance(ModelConformance):
    def make_model(self):
        from byom_onnx import OnnxModel

        return OnnxModel(_encoder_folder(), threads=1, device="cpu")

    def make_faulty_model(self, fault):
        from byom_onnx import OnnxModel

        if fault == "timeout":
            return OnnxModel(_encoder_folder(), threads=1, device="cpu", timeout=1e-9)
        if fault == "model_error":
            return OnnxModel(_encoder_folder(broken=True), threads=1, device="cpu")
        return None  # long texts are truncated (as sentence-transformers does), never refused
