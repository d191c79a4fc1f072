"""byom-azureml passes the byom conformance suite against the loopback endpoint."""

import pytest
from byom_azureml import AzureMLConfig, AzureMLModel

from byom_sdk.testing.conformance import ModelConformance

_SERVER = {}


@pytest.fixture(scope="module", autouse=True)
def _server(aml_server, monkeypatch_module):
    _SERVER["server"] = aml_server
    yield


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("AZUREML_API_KEY", "aml-test-key")  # make_model runs outside the function fixtures
    yield mp
    mp.undo()


class TestOpenAIRoute(ModelConformance):
    api = "openai"

    def config(self, url, **overrides):
        return AzureMLConfig(endpoint_url=url, api=self.api, region="westeurope", max_context=4096, **overrides)

    def make_model(self):
        return AzureMLModel(self.config(_SERVER["server"].url))

    def make_faulty_model(self, fault):
        names = {"throttled": "throttled", "unavailable": "unavailable", "bad_request": "bad_request",
                 "timeout": "slow", "model_error": "model_error", "auth": "auth"}  # fmt: skip
        if fault not in names:
            return None
        return AzureMLModel(self.config(_SERVER["server"].fault_url(names[fault]), timeout=0.3))

    def received_requests(self):
        return [r.body for r in _SERVER["server"].requests if not r.path.startswith("/fault/")]


class TestScoringRoute(TestOpenAIRoute):
    api = "scoring"
    # A scoring script answers with the text only: no finish reason to tell a cut answer.
    expected_failures = {
        "generate.max_tokens": "the /score payload carries no finish reason, so a cut answer reads as 'stop'",
        "generate.finish_reason": "the /score payload carries no finish reason, so a cut answer reads as 'stop'",
    }
