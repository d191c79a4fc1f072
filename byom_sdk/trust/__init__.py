"""The trust boundary: residency gate, reversible masking, scoring, tamper-evident audit.

Every model a :class:`~byom_sdk.Client` hands out runs through this pipeline (see the
trust guide, docs/trust.md)::

    client = Client(models=..., policy={"allowed_regions": ["eu-*"],
                                        "masking": {"mode": "placeholder"}})

Names resolve lazily so ``import byom_sdk.trust`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._errors import AuditError
    from ._audit import (
        AuditEntry,
        AuditKeyring,
        AuditSink,
        Checkpoint,
        MemoryAuditSink,
        SqliteAuditSink,
        SqliteSinkConfig,
        VerifyResult,
        load_keyring,
        read_audit,
        verify_audit,
    )
    from ._detectors import BUILTIN_ENTITIES, BuiltinDetector, Detector, Span
    from ._gate import Decision, check_boundary
    from ._masking import Masker, StreamDemasker
    from ._policy import (
        AuditPolicy,
        MaskingPolicy,
        ScoreRule,
        ScoringPolicy,
        TelemetryPolicy,
        TrustPolicy,
        VaultPolicy,
    )
    from ._record import calls_of
    from ._runtime import TrustRuntime
    from ._scoring import HeuristicScorer, Scorer
    from ._vault import Vault, VaultStore

__all__ = [
    "BUILTIN_ENTITIES",
    "AuditEntry",
    "AuditError",
    "AuditKeyring",
    "AuditPolicy",
    "AuditSink",
    "BuiltinDetector",
    "Checkpoint",
    "Decision",
    "Detector",
    "HeuristicScorer",
    "Masker",
    "MaskingPolicy",
    "MemoryAuditSink",
    "ScoreRule",
    "Scorer",
    "ScoringPolicy",
    "Span",
    "SqliteAuditSink",
    "SqliteSinkConfig",
    "StreamDemasker",
    "TelemetryPolicy",
    "TrustPolicy",
    "TrustRuntime",
    "Vault",
    "VaultPolicy",
    "VaultStore",
    "VerifyResult",
    "calls_of",
    "check_boundary",
    "load_keyring",
    "read_audit",
    "verify_audit",
]

_LAZY: dict[str, str] = {
    "AuditEntry": "._audit",
    "calls_of": "._record",
    "AuditKeyring": "._audit",
    "Checkpoint": "._audit",
    "load_keyring": "._audit",
    "AuditSink": "._audit",
    "MemoryAuditSink": "._audit",
    "SqliteAuditSink": "._audit",
    "SqliteSinkConfig": "._audit",
    "VerifyResult": "._audit",
    "read_audit": "._audit",
    "verify_audit": "._audit",
    "BUILTIN_ENTITIES": "._detectors",
    "BuiltinDetector": "._detectors",
    "Detector": "._detectors",
    "Span": "._detectors",
    "Decision": "._gate",
    "check_boundary": "._gate",
    "Masker": "._masking",
    "StreamDemasker": "._masking",
    "AuditPolicy": "._policy",
    "MaskingPolicy": "._policy",
    "ScoreRule": "._policy",
    "ScoringPolicy": "._policy",
    "TelemetryPolicy": "._policy",
    "TrustPolicy": "._policy",
    "VaultPolicy": "._policy",
    "AuditError": ".._errors",
    "TrustRuntime": "._runtime",
    "HeuristicScorer": "._scoring",
    "Scorer": "._scoring",
    "Vault": "._vault",
    "VaultStore": "._vault",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'byom_sdk.trust' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
