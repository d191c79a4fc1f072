"""byom-openai-compat passes the byom conformance suite against the loopback server."""

import pytest
from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel

from byom_sdk.testing.conformance import BoundaryConformance, ModelConformance

_SERVER = {}


@pytest.fixture(scope="module", autouse=True)
def _server(openai_server):
    # make_model() takes no fixtures; hand it the session's servers through the module.
    from byom_openai_compat.testing import OpenAICompatServer

    from byom_sdk.testing import ScriptedModel

    _SERVER["url"] = openai_server
    with OpenAICompatServer(ScriptedModel(structured=True, tools=True)) as tools:
        _SERVER["tools"] = tools
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


_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class TestToolsConformance(ModelConformance):
    """A server with OpenAI tool calls (as vLLM and llama.cpp's are), the model configured
    with ``tools = true``: tools.call, tools.choice_none and wire.tool_choice run too."""

    def make_model(self):
        return OpenAICompatModel(_config(_SERVER["tools"].base_url, tools=True))

    def received_requests(self):
        return _SERVER["tools"].received()

    def tool_request(self, model):
        from byom_sdk import GenerateRequest, Message

        return GenerateRequest(
            messages=(Message(role="user", content="What is the weather in Paris?"),), tools=(_WEATHER,), max_tokens=16
        )
