"""The template passes the conformance suite; undeclared capabilities are skipped with a reason."""

from byom_template import EchoModel

from byom_sdk.testing.conformance import ModelConformance


class TestEchoConformance(ModelConformance):
    def make_model(self):
        return EchoModel()
