"""byom-sdk: bring your own model — one contract for SageMaker, Vertex AI and local ONNX
models, behind a trust boundary.

::

    import byom_sdk

    client = byom_sdk.Client.from_config("byom.toml")
    reply = client.model("support-bot").generate("Summarise ticket 4711", max_tokens=200)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import Client
    from ._config import ConfigPath
    from ._errors import (
        AuditError,
        AuthError,
        BadRequest,
        ByomError,
        CapabilityNotSupported,
        ConfigError,
        InvalidValue,
        ModelError,
        PluginError,
        PolicyViolation,
        ProviderError,
        SchemaError,
        Throttled,
        Timeout,
        Unavailable,
    )
    from ._facade import ManagedModel
    from ._hookspecs import hookimpl
    from ._middleware import CallContext, Interceptor, Middleware
    from ._model import Model
    from ._openai import messages_from_openai, messages_to_openai
    from ._pipeline import Pipeline
    from ._plugins import PluginLoadWarning, Registry, get_registry
    from ._provider import Provider
    from ._requests import GenerateParams
    from ._retry import RetryPolicy
    from ._specs import (
        API_VERSION,
        AuditSinkSpec,
        BatchRunnerSpec,
        DetectorSpec,
        MiddlewareSpec,
        ModelProviderSpec,
        TokenizerSpec,
    )
    from ._streams import AsyncStream, SyncStream
    from ._structured import ReplyConstraint, reply_constraint
    from ._tokenizer import ChatTemplate, HFTokenizer, Tokenizer
    from ._types import (
        Attestation,
        Boundary,
        Capabilities,
        EmbedRequest,
        EmbedResponse,
        FinishEvent,
        FinishReason,
        GenerateRequest,
        GenerateResponse,
        LocationKind,
        Message,
        ModelInfo,
        RequestMetadata,
        Role,
        StreamEvent,
        StructuredMode,
        TextDelta,
        ToolCall,
        ToolCallEvent,
        Usage,
        UsageEvent,
        UsageSource,
    )
    from .routing import RoutedModel

__all__ = [
    "API_VERSION",
    "AsyncStream",
    "Attestation",
    "AuditError",
    "AuditSinkSpec",
    "AuthError",
    "BadRequest",
    "BatchRunnerSpec",
    "Boundary",
    "ByomError",
    "CallContext",
    "Capabilities",
    "CapabilityNotSupported",
    "ChatTemplate",
    "Client",
    "ConfigError",
    "ConfigPath",
    "DetectorSpec",
    "EmbedRequest",
    "EmbedResponse",
    "FinishEvent",
    "FinishReason",
    "GenerateParams",
    "GenerateRequest",
    "GenerateResponse",
    "HFTokenizer",
    "Interceptor",
    "InvalidValue",
    "LocationKind",
    "ManagedModel",
    "Message",
    "Middleware",
    "MiddlewareSpec",
    "Model",
    "ModelError",
    "ModelInfo",
    "ModelProviderSpec",
    "Pipeline",
    "PluginError",
    "PluginLoadWarning",
    "PolicyViolation",
    "Provider",
    "ProviderError",
    "Registry",
    "ReplyConstraint",
    "RequestMetadata",
    "RetryPolicy",
    "Role",
    "RoutedModel",
    "SchemaError",
    "StreamEvent",
    "StructuredMode",
    "SyncStream",
    "TextDelta",
    "Throttled",
    "Timeout",
    "Tokenizer",
    "TokenizerSpec",
    "ToolCall",
    "ToolCallEvent",
    "Unavailable",
    "Usage",
    "UsageEvent",
    "UsageSource",
    "get_registry",
    "hookimpl",
    "messages_from_openai",
    "messages_to_openai",
    "reply_constraint",
]

# Names resolve on first access so `import byom_sdk` costs almost nothing: pydantic and the
# contract load when the application first touches them, plugins when a model is built.
_LAZY: dict[str, str] = {
    "API_VERSION": "._specs",
    "AsyncStream": "._streams",
    "Attestation": "._types",
    "AuditError": "._errors",
    "AuditSinkSpec": "._specs",
    "BatchRunnerSpec": "._specs",
    "AuthError": "._errors",
    "BadRequest": "._errors",
    "Boundary": "._types",
    "ByomError": "._errors",
    "CallContext": "._middleware",
    "Capabilities": "._types",
    "CapabilityNotSupported": "._errors",
    "ChatTemplate": "._tokenizer",
    "Client": "._client",
    "ConfigError": "._errors",
    "InvalidValue": "._errors",
    "ConfigPath": "._config",
    "DetectorSpec": "._specs",
    "EmbedRequest": "._types",
    "EmbedResponse": "._types",
    "FinishEvent": "._types",
    "FinishReason": "._types",
    "GenerateParams": "._requests",
    "GenerateRequest": "._types",
    "GenerateResponse": "._types",
    "HFTokenizer": "._tokenizer",
    "Interceptor": "._middleware",
    "LocationKind": "._types",
    "ManagedModel": "._facade",
    "Message": "._types",
    "Middleware": "._middleware",
    "MiddlewareSpec": "._specs",
    "Model": "._model",
    "ModelError": "._errors",
    "ModelInfo": "._types",
    "ModelProviderSpec": "._specs",
    "Pipeline": "._pipeline",
    "PluginError": "._errors",
    "PluginLoadWarning": "._plugins",
    "PolicyViolation": "._errors",
    "Provider": "._provider",
    "ProviderError": "._errors",
    "Registry": "._plugins",
    "ReplyConstraint": "._structured",
    "RequestMetadata": "._types",
    "RetryPolicy": "._retry",
    "Role": "._types",
    "RoutedModel": ".routing",
    "SchemaError": "._errors",
    "StreamEvent": "._types",
    "StructuredMode": "._types",
    "SyncStream": "._streams",
    "TextDelta": "._types",
    "Throttled": "._errors",
    "Timeout": "._errors",
    "Tokenizer": "._tokenizer",
    "TokenizerSpec": "._specs",
    "ToolCall": "._types",
    "ToolCallEvent": "._types",
    "Unavailable": "._errors",
    "Usage": "._types",
    "UsageEvent": "._types",
    "UsageSource": "._types",
    "get_registry": "._plugins",
    "hookimpl": "._hookspecs",
    "messages_from_openai": "._openai",
    "messages_to_openai": "._openai",
    "reply_constraint": "._structured",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    if name == "__version__":
        from ._plugins import core_version

        return core_version()
    raise AttributeError(f"module 'byom_sdk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
