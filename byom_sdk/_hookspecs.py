"""The hooks a byom plugin may implement.

A plugin is a module (or object) registered under the ``byom`` entry-point group whose
functions are marked with :data:`byom_sdk.hookimpl`. Every hook returns an iterable of
frozen spec objects; the loader validates them and the core composes them once, so
nothing goes through pluggy on the per-call or per-token path. Example::

    # my_plugin.py, with in pyproject.toml:  [project.entry-points.byom] mine = "my_plugin"
    import byom_sdk

    @byom_sdk.hookimpl
    def byom_model_providers():
        return [byom_sdk.ModelProviderSpec(name="echo", factory=EchoModel.from_config,
                                           config_schema=EchoConfig)]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._specs import AuditSinkSpec, BatchRunnerSpec, DetectorSpec, MiddlewareSpec, ModelProviderSpec, TokenizerSpec

__all__ = ["hookimpl", "hookspec"]

PROJECT = "byom"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin function as a byom hook implementation.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def byom_model_providers() -> Iterable[ModelProviderSpec]:
    """Model providers this plugin offers.

    :returns: :class:`~byom_sdk.ModelProviderSpec` objects, one per ``provider`` name.

    Example::

        @hookimpl
        def byom_model_providers():
            return [ModelProviderSpec(name="sagemaker", factory=SageMakerModel,
                                      config_schema=SageMakerConfig)]
    """
    raise NotImplementedError


@hookspec
def byom_tokenizers() -> Iterable[TokenizerSpec]:
    """Tokenizer kinds this plugin offers (``tokenizer = {kind = "..."}`` in byom.toml).

    Example::

        @hookimpl
        def byom_tokenizers():
            return [TokenizerSpec(name="sentencepiece", factory=SPTokenizer.from_config,
                                  config_schema=SPConfig)]
    """
    raise NotImplementedError


@hookspec
def byom_detectors() -> Iterable[DetectorSpec]:
    """Trust-layer detectors: PII finders (``kinds=("pii",)``) or scorers (``("score",)``).

    Example::

        @hookimpl
        def byom_detectors():
            return [DetectorSpec(name="employee-id", factory=EmployeeIdDetector)]
    """
    raise NotImplementedError


@hookspec
def byom_audit_sinks() -> Iterable[AuditSinkSpec]:
    """Audit sinks selectable with ``[trust.audit] sink = "..."``.

    Example::

        @hookimpl
        def byom_audit_sinks():
            return [AuditSinkSpec(name="postgres", factory=PostgresSink,
                                  config_schema=PostgresSinkConfig)]
    """
    raise NotImplementedError


@hookspec
def byom_middleware() -> Iterable[MiddlewareSpec]:
    """Middleware composed once per model; its interceptors run on every call.

    Example::

        @hookimpl
        def byom_middleware():
            return [MiddlewareSpec(name="latency-log", factory=LatencyLog, order=10)]
    """
    raise NotImplementedError


@hookspec
def byom_batch_runners() -> Iterable[BatchRunnerSpec]:
    """Cloud batch runners selectable with ``byom batch run --runner NAME``.

    Example::

        @hookimpl
        def byom_batch_runners():
            return [BatchRunnerSpec(name="sagemaker-transform", provider="sagemaker",
                                    factory=build_transform_backend)]
    """
    raise NotImplementedError


@hookspec
def byom_cli_commands() -> Iterable[Any]:
    """Extra ``click`` commands for the ``byom`` CLI (e.g. ``byom convert``).

    Example::

        @hookimpl
        def byom_cli_commands():
            return [convert_command]
    """
    raise NotImplementedError
