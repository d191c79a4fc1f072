"""byom-openai-compat passes the byom conformance suite against the loopback server."""

import pytest
from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel

from byom_sdk.testing.conformance import BoundaryConformance, ModelConformance

_SERVER = {}


@pytest.fixture(scope="module", autouse=True)
def _server(openai_server):
    # make_model() takes no fixtures; hand it the session's server through the module.
    _SERVER["url"] = openai_server
    yield


def _config(base_url, **overrides):
    fields = {
        "base_url": base_url,
        "model": "scripted",
        "embedding_dimension": 8,
        "embedding_normalized": True,
        "max_context": 4096,
        "region": "eu-west-1",
        "timeout": 10.0,
        # As deployed: a key on every request (secrets.* look for it in reprs, errors and logs).
        "api_key": "sk-byom-conformance-0123456789abcdef",
    }
    fields.update(overrides)
    return OpenAICompatConfig(**fields)


class TestChatConformance(ModelConformance):
    """The chat route (/v1/chat/completions), streaming with include_usage, embeddings."""

    api = "chat"

    def make_model(self):
        return OpenAICompatModel(_config(_SERVER["url"].base_url, api=self.api))

    def make_faulty_model(self, fault):
        server = _SERVER["url"]
        # A read timeout well under the server's stall, so the timeout fault is quick.
        return OpenAICompatModel(_config(server.fault_url(fault), api=self.api, timeout=0.3))

    def received_requests(self):
        return _SERVER["url"].received()


class TestCompletionsConformance(TestChatConformance):
    """The plain-prompt route (/v1/completions)."""

    api = "completions"


class TestBoundary(BoundaryConformance):
    def make_model(self):
        return OpenAICompatModel(
            OpenAICompatConfig(
                base_url="https://llm.internal.example/v1", model="m", region="eu-west-1", retention="none"
            )
        )

    def expected_boundary(self):
        return {
            "provider": "openai-compat",
            # Derived from the host: a private DNS name is third-party unless a policy trusts it.
            "location_kind": "third-party",
            "region": "eu-west-1",
            "endpoint": "https://llm.internal.example/v1",
            "tls": True,
            "retention": "none",
        }
