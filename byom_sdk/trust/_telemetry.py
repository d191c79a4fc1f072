"""OpenTelemetry spans with the GenAI semantic conventions (``gen_ai.*``).

``opentelemetry-api`` is optional: it is imported the first time a span would be started
and, when it is missing, every call here is a no-op. Content (messages) is never put on
a span unless the policy opts in, and then only the *masked* text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._types import ModelInfo
from ._gate import is_loopback

__all__ = ["SpanHandle", "start_span"]

_tracer: Any = None
_checked = False
_trace_api: Any = None
_proxy_type: Any = None

_OPERATIONS = {"generate": "chat", "stream": "chat", "embed": "embeddings"}


def _get_tracer() -> Any:
    global _tracer, _checked, _trace_api, _proxy_type
    if not _checked:
        _checked = True
        try:
            from opentelemetry import trace
        except ImportError:
            _tracer = None
        else:
            _trace_api = trace
            _proxy_type = getattr(trace, "ProxyTracerProvider", None)
            _tracer = trace.get_tracer("byom_sdk.trust")
    if _tracer is not None and _proxy_type is not None and isinstance(_trace_api.get_tracer_provider(), _proxy_type):
        # No SDK installed a tracer provider yet: every span would be a no-op, skip it.
        # (Checked per call, since an application may set its provider after importing us.)
        return None
    return _tracer


class SpanHandle:
    """A started span (or nothing, when OpenTelemetry is absent)."""

    def __init__(self, span: Any) -> None:
        self._span = span

    @property
    def active(self) -> bool:
        return self._span is not None

    def set(self, name: str, value: Any) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(name, value)

    def set_many(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            self.set(name, value)

    def set_messages(self, name: str, messages: Sequence[Mapping[str, Any]]) -> None:
        self.set(name, json.dumps(list(messages), ensure_ascii=False))

    def end(self, error: BaseException | None = None) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()


def _server_address(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
    return parts.hostname


def start_span(alias: str, operation: str, info: ModelInfo, *, enabled: bool) -> SpanHandle:
    """Start the call's span: ``"{operation} {model}"``, kind CLIENT (INTERNAL for
    in-process models), with the request attributes known up front."""
    if not enabled:
        return SpanHandle(None)
    tracer = _get_tracer()
    if tracer is None:
        return SpanHandle(None)
    from opentelemetry.trace import SpanKind

    op = _OPERATIONS.get(operation, operation)
    boundary = info.boundary
    kind = SpanKind.INTERNAL if boundary.location_kind == "process" else SpanKind.CLIENT
    span = tracer.start_span(f"{op} {info.id}", kind=kind)
    if not span.is_recording():
        # No SDK / sampler dropped it: skip building attributes nobody will read.
        span.end()
        return SpanHandle(None)
    handle = SpanHandle(span)
    address = _server_address(boundary.endpoint)
    handle.set_many(
        {
            "gen_ai.operation.name": op,
            "gen_ai.provider.name": info.provider,
            "gen_ai.request.model": info.id,
            "server.address": address,
            "byom.model.alias": alias,
            "byom.boundary.location_kind": boundary.location_kind,
            "byom.boundary.region": boundary.region,
            "byom.boundary.loopback": is_loopback(boundary.endpoint) if boundary.endpoint else None,
        }
    )
    return handle
