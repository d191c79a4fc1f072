"""Entry point ``azureml`` (group ``byom``): loads the config schema only, never httpx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import byom_sdk

from ._config import AzureMLConfig

if TYPE_CHECKING:
    from ._model import AzureMLModel


def _build(config: AzureMLConfig) -> AzureMLModel:
    from ._model import AzureMLModel

    return AzureMLModel(config)


@byom_sdk.hookimpl
def byom_model_providers() -> list[byom_sdk.ModelProviderSpec]:
    return [
        byom_sdk.ModelProviderSpec(
            name="azureml",
            factory=_build,
            config_schema=AzureMLConfig,
            description="Azure Machine Learning managed online endpoints",
        )
    ]
