"""The ``byom`` entry point: registers the ``sagemaker`` provider.

Loading this module imports only the pydantic config; boto3 is imported when the first
SageMaker model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom_sdk import ModelProviderSpec, hookimpl

from ._config import SageMakerConfig

if TYPE_CHECKING:
    from ._model import SageMakerModel

__all__ = ["build_model", "byom_model_providers"]


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
