"""Entry-point module of the ``onnx`` provider: hook implementations only.

Loading it must stay cheap: onnxruntime, numpy, onnx and gguf are imported when a model is
built or the CLI runs ``byom convert``, never here.
"""

from __future__ import annotations

from typing import Any

from byom_sdk import ModelProviderSpec, hookimpl

from ._config import OnnxConfig

__all__ = ["byom_cli_commands", "byom_model_providers"]


def _factory(config: OnnxConfig) -> Any:
    from ._model import OnnxModel

    return OnnxModel.from_config(config)


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [
        ModelProviderSpec(
            name="onnx",
            factory=_factory,
            config_schema=OnnxConfig,
            description="local ONNX models on CPU or CUDA: genai/Optimum/sentence-transformers folders and GGUF files",
        )
    ]


@hookimpl
def byom_cli_commands() -> list[Any]:
    from ._cli import convert_command

    return [convert_command]
