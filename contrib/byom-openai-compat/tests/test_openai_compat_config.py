"""How users really write the config: keys from the environment, Azure OpenAI's query,
credentials in the URL, headers next to api_key. Each over a real loopback socket."""

import pytest
from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel
from byom_openai_compat.testing import OpenAICompatServer
from pydantic import ValidationError

import byom_sdk
from byom_sdk import Unavailable

HELLO = [{"role": "user", "content": "hello there"}]


def test_an_unset_optional_key_sends_no_authorization(openai_server, monkeypatch):
    """The documented api_key = "${VLLM_API_KEY:-}" with the variable unset is no key at all,
    not an "Authorization: Bearer " header httpx refuses on every call."""
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    config = {
        "provider": "openai-compat",
        "base_url": openai_server.base_url,
        "model": "scripted",
        "api_key": "${VLLM_API_KEY:-}",
    }
    with byom_sdk.Client(models={"local": config}, trust="off") as client:
        assert client.model("local").generate(HELLO).text == "echo: hello there"
    assert OpenAICompatConfig(base_url=openai_server.base_url, model="m", api_key="  ").api_key is None


@pytest.mark.parametrize("written", ["sekret\n", "  sekret ", "Bearer sekret", "bearer  sekret\n"])
def test_a_key_with_a_newline_or_its_scheme_is_sent_bare(written):
    """A key read from a secret file ends in a newline; one copied from a portal may start
    with "Bearer ": the server gets "Bearer sekret" either way."""
    with OpenAICompatServer(api_key="sekret") as server:
        config = OpenAICompatConfig(base_url=server.base_url, model="scripted", api_key=written)
        with OpenAICompatModel(config) as model:
            assert model.generate(HELLO).text == "echo: hello there"


def test_api_key_and_an_authorization_header_are_refused_together():
    """Header names are case-insensitive: both would send two Authorization headers."""
    with pytest.raises(ValidationError, match="not both"):
        OpenAICompatConfig(
            base_url="http://127.0.0.1:8000/v1", model="m", api_key="a", headers={"authorization": "Bearer b"}
        )
    # Another header (Azure's api-key, a gateway's) next to api_key is fine.
    OpenAICompatConfig(base_url="http://127.0.0.1:8000/v1", model="m", api_key="a", headers={"api-key": "b"})


def test_a_query_in_base_url_follows_every_route(openai_server):
    """Azure OpenAI needs ?api-version= on each call: it goes after the route, not before."""
    base = openai_server.base_url + "/?api-version=2024-10-21"
    config = OpenAICompatConfig(base_url=base, model="scripted", embedding_dimension=8)
    assert config.base_url == openai_server.base_url + "?api-version=2024-10-21"
    with OpenAICompatModel(config) as model:
        assert model.generate(HELLO).text == "echo: hello there"
        assert "".join(e.text for e in model.stream(HELLO) if e.type == "text") == "echo: hello there"
        assert len(model.embed(["a"]).vectors) == 1
    assert openai_server.queries()[-3:] == ["api-version=2024-10-21"] * 3
    assert model.info.boundary.endpoint == base.replace("/?", "?")
    # Any other query (a key, most likely) or a fragment is still refused.
    for refused in ("?api-version=1&key=sk-x", "#x"):
        with pytest.raises(ValidationError, match="no query or fragment"):
            OpenAICompatConfig(base_url=openai_server.base_url + refused, model="m")


def test_userinfo_in_base_url_is_never_shown():
    """user:password@ in base_url is sent as Basic auth; the description, error messages and
    repr show the URL redacted."""
    config = OpenAICompatConfig(base_url="http://alice:s3cret@127.0.0.1:9/v1", model="m", connect_timeout=0.5)
    with OpenAICompatModel(config) as model:
        shown = [model.info.description or "", model.where, repr(model)]
        with pytest.raises(Unavailable) as info:
            model.generate(HELLO)
    shown.append(str(info.value))
    assert all("s3cret" not in text and "alice" not in text for text in shown), shown
