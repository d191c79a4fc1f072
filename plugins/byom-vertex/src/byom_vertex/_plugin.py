"""The ``byom`` entry point of byom-vertex: registers the ``vertex`` provider and the
``vertex-batch`` batch runner.

Loading this module imports pydantic and the config schema only; the Google libraries
load when a model makes its first call (or verifies its boundary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom_sdk import BatchRunnerSpec, ModelProviderSpec, hookimpl

from ._config import VertexBatchOptions, VertexConfig

if TYPE_CHECKING:
    from byom_sdk import Provider

    from ._batch import VertexBatchBackend


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


def _build_batch(config: VertexConfig, options: VertexBatchOptions, *, job_id: str) -> VertexBatchBackend:
    from ._batch import VertexBatchBackend

    return VertexBatchBackend(config, options, job_id=job_id)


@hookimpl
def byom_batch_runners() -> list[BatchRunnerSpec]:
    return [
        BatchRunnerSpec(
            name="vertex-batch",
            provider="vertex",
            factory=_build_batch,
            config_schema=VertexBatchOptions,
            description="Vertex AI BatchPredictionJobs, staged through Cloud Storage with the model's codec",
        )
    ]
