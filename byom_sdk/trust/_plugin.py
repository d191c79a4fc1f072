"""The trust layer's built-in plugin: detectors, scorers, audit sinks and ``byom audit``.

Loading this module imports only the spec types; detectors compile their patterns on
first use and the CLI (click) is imported only when the CLI asks for its commands.
"""

from __future__ import annotations

from typing import Any

from .._hookspecs import hookimpl
from .._specs import AuditSinkSpec, DetectorSpec


def _builtin_detector() -> Any:
    from ._detectors import BuiltinDetector

    return BuiltinDetector()


def _injection() -> Any:
    from ._scoring import injection_scorer

    return injection_scorer()


def _toxicity() -> Any:
    from ._scoring import toxicity_scorer

    return toxicity_scorer()


def _sqlite_sink(config: Any) -> Any:
    from ._audit import SqliteAuditSink

    return SqliteAuditSink(config)


def _memory_sink(config: Any) -> Any:
    from ._audit import MemoryAuditSink

    return MemoryAuditSink(config)


@hookimpl
def byom_detectors() -> list[DetectorSpec]:
    return [
        DetectorSpec(
            name="builtin",
            factory=_builtin_detector,
            kinds=("pii",),
            description="emails, phones, cards (Luhn), SSN, IBAN (mod-97), IPs, cloud keys and tokens",
        ),
        DetectorSpec(
            name="injection-heuristic",
            factory=_injection,
            kinds=("score",),
            description="prompt-injection phrase heuristics (category 'injection')",
        ),
        DetectorSpec(
            name="toxicity-heuristic",
            factory=_toxicity,
            kinds=("score",),
            description="toxicity lexicon heuristics (category 'toxicity')",
        ),
    ]


@hookimpl
def byom_audit_sinks() -> list[AuditSinkSpec]:
    from ._audit import SqliteSinkConfig

    return [
        AuditSinkSpec(
            name="sqlite",
            factory=_sqlite_sink,
            config_schema=SqliteSinkConfig,
            description="hash-chained, MACed SQLite file with a checkpoint (safe across threads and processes)",
        ),
        AuditSinkSpec(name="memory", factory=_memory_sink, description="the same chain, in memory (tests)"),
    ]


@hookimpl
def byom_cli_commands() -> list[Any]:
    from ._cli import audit

    return [audit]
