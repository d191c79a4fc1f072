"""Test helpers for applications and plugin authors.

- :class:`ScriptedModel`: a deterministic test double honouring the whole contract.
- :func:`isolated_registry`: a fresh plugin registry for one test.

The conformance suite for plugin authors lives in ``byom_sdk.testing.conformance`` and is
enabled with ``pytest_plugins = ["byom_sdk.testing.plugin"]``.
"""

from __future__ import annotations

import sys as _sys

# Under pytest, have the conformance suite's assertions rewritten for detailed messages.
# Only when pytest is already running: applications importing ScriptedModel never pay
# for importing pytest, and pytest need not be installed.
if "pytest" in _sys.modules:
    _sys.modules["pytest"].register_assert_rewrite("byom_sdk.testing.conformance")

from .._plugins import isolated_registry
from ._scripted import ScriptedModel, ScriptedModelConfig, WhitespaceTokenizer

__all__ = [
    "ScriptedModel",
    "ScriptedModelConfig",
    "WhitespaceTokenizer",
    "isolated_registry",
]
