"""Offline testing for Vertex AI endpoint models: a local prediction server.

::

    import byom_sdk
    from byom_vertex.testing import LocalVertexServer

    def test_support_bot_answers():
        with LocalVertexServer(codec="vllm") as server:
            with byom_sdk.Client(models={"bot": server.model_config()}) as client:
                assert client.model("bot").generate("hi").text == "echo: hi"

The server speaks gRPC and REST on 127.0.0.1 ephemeral ports, answers in the codec's
container format from any byom ``Model`` (``ScriptedModel`` by default), injects faults
(``server.inject("throttled", times=2)``) and logs every request (``server.requests``).
With ``container_url=`` it forwards to a real container instead (``byom serve --profile
vertex``), the way Vertex calls a custom container. For batch jobs (``byom batch run --runner
vertex-batch``): :class:`LocalGCS` (gcp-storage-emulator) and
:class:`LocalBatchPredictionService` (a JobService that runs BatchPredictionJobs).
"""

from __future__ import annotations

from ._batch import LocalBatchPredictionService, LocalGCS
from ._containers import (
    CONTAINERS,
    Container,
    GoogleEmbeddingsContainer,
    OpenAIContainer,
    TEIContainer,
    TGIContainer,
    VLLMContainer,
)
from ._forward import ForwardingContainer
from ._server import FAULTS, Fault, LocalVertexServer, LoggedRequest

__all__ = [
    "CONTAINERS",
    "FAULTS",
    "Container",
    "Fault",
    "ForwardingContainer",
    "GoogleEmbeddingsContainer",
    "LocalBatchPredictionService",
    "LocalGCS",
    "LocalVertexServer",
    "LoggedRequest",
    "OpenAIContainer",
    "TEIContainer",
    "TGIContainer",
    "VLLMContainer",
]
