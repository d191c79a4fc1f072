"""byom-onnx: local ONNX models (CPU or CUDA) behind the byom-sdk contract.

::

    from byom_onnx import OnnxModel, default_models

    chat = default_models().chat_model()          # SmolLM2-135M-Instruct, converted once
    print(chat.generate("What is the capital of France?", temperature=0).text)

Heavy libraries load on first use of a name, never at import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._bert import convert_bert, converted_bert
    from ._config import OnnxConfig
    from ._convert import CONVERTER_VERSION, cache_dir, convert_gguf, converted_gguf
    from ._defaults import DefaultModels, default_models, minilm_path, smollm2_path
    from ._layout import Layout, detect_layout
    from ._model import OnnxModel
    from ._session import cuda_status

__all__ = [
    "CONVERTER_VERSION",
    "DefaultModels",
    "Layout",
    "OnnxConfig",
    "OnnxModel",
    "cache_dir",
    "convert_bert",
    "convert_gguf",
    "converted_bert",
    "converted_gguf",
    "cuda_status",
    "default_models",
    "detect_layout",
    "minilm_path",
    "smollm2_path",
]

_LAZY = {
    "CONVERTER_VERSION": "._convert",
    "DefaultModels": "._defaults",
    "Layout": "._layout",
    "OnnxConfig": "._config",
    "OnnxModel": "._model",
    "cache_dir": "._convert",
    "convert_bert": "._bert",
    "convert_gguf": "._convert",
    "converted_bert": "._bert",
    "converted_gguf": "._convert",
    "cuda_status": "._session",
    "default_models": "._defaults",
    "detect_layout": "._layout",
    "minilm_path": "._defaults",
    "smollm2_path": "._defaults",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'byom_onnx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
