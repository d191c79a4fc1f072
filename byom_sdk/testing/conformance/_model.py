"""``ModelConformance``: every check a model provider must pass, in one class."""

from __future__ import annotations

from ._embed import CapabilityChecks, EmbedChecks
from ._faults import ErrorChecks
from ._generate import GenerateChecks, InfoChecks
from ._lifecycle import ConcurrencyChecks, LifecycleChecks
from ._stream import AsyncChecks, StreamChecks
from ._tokenizer import UsageChecks

__all__ = ["ModelConformance"]


class ModelConformance(
    InfoChecks,
    GenerateChecks,
    StreamChecks,
    AsyncChecks,
    EmbedChecks,
    CapabilityChecks,
    UsageChecks,
    ErrorChecks,
    ConcurrencyChecks,
    LifecycleChecks,
):
    """The conformance suite for a model provider plugin.

    Subclass it in your plugin's tests and build your model::

        # tests/conftest.py
        pytest_plugins = ["byom_sdk.testing.plugin"]

        # tests/test_myplugin_conformance.py
        from byom_sdk.testing.conformance import ModelConformance

        class TestMyModel(ModelConformance):
            def make_model(self):
                return MyModel(MyConfig(endpoint="http://127.0.0.1:8080"))

            def make_faulty_model(self, fault):           # optional
                return MyModel(MyConfig(endpoint=scenario_url(fault)))

            expected_failures = {"stream.stop": "server ignores stop while streaming (#12)"}

    Capabilities are read from the model at runtime: checks of undeclared capabilities
    are skipped with a reason naming the plugin and capability, and
    ``capabilities.undeclared`` checks that they are refused. One model is built per class
    (``make_model``) and closed at the end; lifecycle checks build their own.
    """
