"""The byom conformance suite: does a plugin honour the byom-sdk contract?

Enable the pytest plugin in your tests' root ``conftest.py`` and subclass a suite class::

    # conftest.py
    pytest_plugins = ["byom_sdk.testing.plugin"]

    # test_myplugin_conformance.py
    from byom_sdk.testing.conformance import ModelConformance

    class TestMyModel(ModelConformance):
        def make_model(self):
            return MyModel(...)

- :class:`ModelConformance`: generation, streaming, async (parity, event loop,
  cancellation), embeddings, undeclared capabilities, the caller's request, bad input,
  tools, usage, the model's tokenizer, errors and timeouts on every operation,
  concurrency and ``close()``.
- :class:`TokenizerConformance`: a tokenizer on its own.
- :class:`BoundaryConformance`: the declared boundary against the config it came from.

Every check has a stable id (``generate.usage``) used by ``expected_failures`` and by the
JSON report (``--byom-conformance-report=PATH``); see :func:`all_checks`.
:func:`run_conformance` runs the suite outside a test tree (``byom conformance ALIAS``),
with the fault scenarios and known limitations a plugin declares in its
:class:`ConformanceProfile`.
This package imports pytest; ``import byom_sdk.testing`` does not.
"""

from __future__ import annotations

try:
    import pytest as _pytest  # noqa: F401 - only to name the extra when it is missing
except ModuleNotFoundError as missing:
    raise ImportError(
        "byom_sdk.testing.conformance runs on pytest, which is not installed: pip install 'byom-sdk[conformance]'"
    ) from missing

from ._boundary import BoundaryConformance
from ._core import FAULTS, SUITE_VERSION, CheckInfo, Conformance, all_checks, check, require_capability
from ._faults import EXPECTED_ERRORS
from ._model import ModelConformance
from ._profile import ConformanceProfile, conformance_profile, register_profile
from ._runner import run_conformance
from ._tokenizer import TokenizerConformance

__all__ = [
    "EXPECTED_ERRORS",
    "FAULTS",
    "SUITE_VERSION",
    "BoundaryConformance",
    "CheckInfo",
    "Conformance",
    "ConformanceProfile",
    "ModelConformance",
    "TokenizerConformance",
    "all_checks",
    "check",
    "conformance_profile",
    "register_profile",
    "require_capability",
    "run_conformance",
]
