from __future__ import annotations

from pathlib import Path

import pytest

from byom_sdk import Client, GenerateRequest
from byom_sdk.testing import ScriptedModel, isolated_registry


@pytest.fixture
def registry():
    with isolated_registry() as reg:
        yield reg


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def make_client(registry, audit_path):
    """Client factory writing its audit log to a temp file; closes every client built."""
    clients: list[Client] = []

    def build(models, policy=None, **kwargs):
        policy = dict(policy or {})
        audit = dict(policy.get("audit", {}))
        audit.setdefault("path", str(audit_path))
        policy["audit"] = audit
        client = Client(models=models, policy=policy, registry=registry, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def round_trip():
    """``run(prompt) -> (what the endpoint received, what the application got back)``
    through a Client with trust on and an echoing model."""

    def run(prompt: str) -> tuple[str, str]:
        backend = ScriptedModel()  # echoes the prompt it received
        with Client(models={"m": backend}, trust="on", policy={"audit": {"sink": "memory"}}) as client:
            answer = client.model("m").generate(prompt).text
        request = backend.requests[-1]
        assert isinstance(request, GenerateRequest)
        return request.as_messages()[-1].content, answer

    return run


@pytest.fixture(scope="session")
def otel_exporter():
    """One in-memory exporter on the process's OpenTelemetry SDK tracer provider, installed
    once (the global provider can be set only once per process)."""
    otel_sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if isinstance(current, otel_sdk.TracerProvider):
        current.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider = otel_sdk.TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(otel_exporter):
    otel_exporter.clear()
    yield otel_exporter
    otel_exporter.clear()
