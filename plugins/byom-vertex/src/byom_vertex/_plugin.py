"""The ``byom`` entry point of byom-vertex: registers the ``vertex`` provider.

Loading this module imports pydantic and the config schema only; the Google libraries
load when a model makes its first call (or verifies its boundary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom_sdk import ModelProviderSpec, hookimpl

from ._config import VertexConfig

if TYPE_CHECKING:
    from byom_sdk import Provider


def _build(config: VertexConfig) -> Provider:
    from ._model import VertexModel

    return VertexModel.from_config(config)


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [
        ModelProviderSpec(
            name="vertex",
            factory=_build,
            config_schema=VertexConfig,
            description="Vertex AI endpoints (vLLM, TGI, OpenAI, TEI, Google embeddings) over GAPIC gRPC/REST",
        )
    ]
