"""byom-sdk provider for Azure Machine Learning managed online endpoints (``provider = "azureml"``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import AzureMLConfig

if TYPE_CHECKING:
    from ._model import AzureMLModel

__all__ = ["AzureMLConfig", "AzureMLModel"]


def __getattr__(name: str) -> Any:
    if name == "AzureMLModel":  # imports httpx: on first use, not when the plugin loads
        from ._model import AzureMLModel

        return AzureMLModel
    raise AttributeError(name)
