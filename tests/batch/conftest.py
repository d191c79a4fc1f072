from __future__ import annotations

import pytest

from ._helpers import AUDIT_KEY, PSEUDONYM_KEY


@pytest.fixture(autouse=True)
def batch_keys(monkeypatch):
    """The audit key (so every chain is MACed and verifies completely) and the pseudonym key."""
    monkeypatch.setenv("BYOM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("BYOM_PSEUDONYM_KEY", PSEUDONYM_KEY)
