from __future__ import annotations

from pathlib import Path

import pytest

from byom_sdk import Client
from byom_sdk.testing import isolated_registry


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
