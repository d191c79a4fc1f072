"""Offline testing for SageMaker apps: a local SageMaker Runtime server.

- :class:`LocalSageMakerServer`: the runtime API on 127.0.0.1 with container
  personalities for every codec, fault injection, SigV4 checks and a request log.
- :class:`Personality`: subclass it to emulate your own container (pair it with a
  ``custom`` codec).
- :class:`ForwardingPersonality` (``add_endpoint(..., container_url=URL)``): forward an
  endpoint to a real container, e.g. ``byom serve --profile sagemaker``.
- :func:`encode_payload_part` and friends: the AWS event-stream encoder the server uses.
- :class:`LocalContainer`, :class:`LocalTransformService`, :class:`LocalS3`: Batch Transform
  offline (a container's ``/invocations``, a control plane that runs jobs, moto's S3).
"""

from __future__ import annotations

from ._eventstream import encode_error, encode_exception, encode_message, encode_payload_part
from ._forward import ForwardingPersonality
from ._personalities import (
    ContainerFailure,
    JumpStartPersonality,
    LMIPersonality,
    OpenAIPersonality,
    Personality,
    TEIPersonality,
    TGIPersonality,
    personality_for,
)
from ._server import Endpoint, Fault, FaultKind, LocalSageMakerServer, LoggedRequest
from ._transform import LocalContainer, LocalS3, LocalTransformService, TransformJob, jsonpath

__all__ = [
    "ContainerFailure",
    "Endpoint",
    "Fault",
    "FaultKind",
    "ForwardingPersonality",
    "JumpStartPersonality",
    "LMIPersonality",
    "LocalContainer",
    "LocalS3",
    "LocalSageMakerServer",
    "LocalTransformService",
    "LoggedRequest",
    "OpenAIPersonality",
    "Personality",
    "TEIPersonality",
    "TGIPersonality",
    "TransformJob",
    "encode_error",
    "encode_exception",
    "encode_message",
    "encode_payload_part",
    "jsonpath",
    "personality_for",
]
