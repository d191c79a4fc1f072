"""The ``byom`` entry point: registers the ``sagemaker`` provider and the
``sagemaker-transform`` batch runner.

Loading this module imports only the pydantic config; boto3 is imported when the first
SageMaker model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom_sdk import BatchRunnerSpec, ModelProviderSpec, hookimpl

from ._config import SageMakerConfig, TransformOptions

if TYPE_CHECKING:
    from ._model import SageMakerModel
    from ._transform import TransformBackend

__all__ = ["build_model", "build_transform_backend", "byom_batch_runners", "byom_model_providers"]


def build_model(config: SageMakerConfig) -> SageMakerModel:
    """Provider factory: imports the boto3-backed provider on first use."""
    from ._model import SageMakerModel

    return SageMakerModel.from_config(config)


@hookimpl
def byom_model_providers() -> list[ModelProviderSpec]:
    return [
        ModelProviderSpec(
            name="sagemaker",
            factory=build_model,
            config_schema=SageMakerConfig,
            description="Amazon SageMaker real-time endpoints (TGI, LMI, OpenAI, JumpStart, TEI, custom codecs)",
        )
    ]


def build_transform_backend(config: SageMakerConfig, options: TransformOptions, *, job_id: str) -> TransformBackend:
    """Batch runner factory: imports the Batch Transform backend (boto3) when a job uses it."""
    from ._transform import TransformBackend

    return TransformBackend(config, options, job_id=job_id)


@hookimpl
def byom_batch_runners() -> list[BatchRunnerSpec]:
    return [
        BatchRunnerSpec(
            name="sagemaker-transform",
            provider="sagemaker",
            factory=build_transform_backend,
            config_schema=TransformOptions,
            description="SageMaker Batch Transform jobs, staged through S3 with the model's codec",
        )
    ]
