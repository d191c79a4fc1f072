"""The template passes the conformance suite; checks needing scenarios it does not offer
(faults, a slow endpoint) and capabilities it does not declare are skipped with a reason."""

from byom_template import EchoProvider

from byom_sdk.testing.conformance import ModelConformance


class TestEchoConformance(ModelConformance):
    def make_model(self):
        return EchoProvider()
