"""``ModelConformance``: every check a model provider must pass, in one class."""

from __future__ import annotations

from ._async import AsyncChecks
from ._concurrency import ConcurrencyChecks
from ._contract import RequestChecks
from ._embed import CapabilityChecks, EmbedChecks
from ._faults import ErrorChecks, TimeoutChecks
from ._generate import GenerateChecks, InfoChecks
from ._import import ImportChecks
from ._instances import InstanceChecks
from ._isolation import IsolationChecks
from ._lifecycle import LifecycleChecks
from ._secrets import SecretChecks
from ._stream import StreamChecks
from ._tokenizer import TokenizerChecks, UsageChecks
from ._wire import WireChecks

__all__ = ["ModelConformance"]


class ModelConformance(
    # Checks added after suite 2.4 come first here, so that they run last: the earlier
    # checks keep the order (and the first build of ``byom_model``) harnesses were written against.
    InstanceChecks,
    ImportChecks,
    IsolationChecks,
    SecretChecks,
    InfoChecks,
    GenerateChecks,
    StreamChecks,
    AsyncChecks,
    EmbedChecks,
    CapabilityChecks,
    RequestChecks,
    WireChecks,
    UsageChecks,
    TokenizerChecks,
    ErrorChecks,
    TimeoutChecks,
    ConcurrencyChecks,
    LifecycleChecks,
):
    """The conformance suite for a model provider plugin.

    Subclass it in your plugin's tests and build your provider::

        # tests/conftest.py
        pytest_plugins = ["byom_sdk.testing.plugin"]

        # tests/test_myplugin_conformance.py
        from byom_sdk.testing.conformance import ModelConformance

        class TestMyModel(ModelConformance):
            def make_model(self):
                return MyProvider(MyConfig(endpoint=SERVER.url))

            # optional scenarios: each enables checks that are skipped without it
            def make_faulty_model(self, fault):           # errors.*
                return MyProvider(MyConfig(endpoint=SERVER.fault_url(fault), timeout=0.3))

            def make_slow_model(self):                    # timeout.request
                return MyProvider(MyConfig(endpoint=SERVER.slow_url(self.slow_seconds)))

            def received_requests(self):                  # wire.*: the bodies the endpoint got
                return [r.body for r in SERVER.requests]

            def tool_request(self, model):                # tools.call (when tools is declared)
                return GenerateRequest(messages=[...], tools=[WEATHER_TOOL])

            throttled_retry_after = 7                     # errors.retry_after
            expected_failures = {"stream.stop": "server ignores stop while streaming (#12)"}

    Capabilities are read from the provider at runtime: checks of undeclared capabilities
    are skipped with a reason naming the plugin and capability, and
    ``capabilities.undeclared`` checks that they are refused. One provider is built per
    class (``make_model``) and closed at the end; lifecycle and fault checks build their
    own. The ``tokenizer.*`` checks run on the provider's ``tokenizer`` (or
    ``make_tokenizer()``), skipped when it has none.
    """
