"""Azure ML specifics over real sockets: auth, the deployment header, the scoring payload,
the service's error statuses, and the host's region."""

from __future__ import annotations

import pytest
from byom_azureml import AzureMLConfig, AzureMLModel

import byom_sdk
from byom_sdk import AuthError, ConfigError, ModelError, Throttled, Timeout, Unavailable

HELLO = [{"role": "user", "content": "hello there"}]


def model(url, **overrides):
    return AzureMLModel(AzureMLConfig(endpoint_url=url, region="westeurope", **overrides))


def test_chat_and_stream_with_the_key_and_deployment_header(aml_server):
    with model(aml_server.url, deployment="blue") as m:
        assert m.generate(HELLO).text == "echo: hello there"
        events = list(m.stream(HELLO))
    assert "".join(e.text for e in events if e.type == "text") == "echo: hello there"
    assert events[-1].usage.source == "server"
    sent = aml_server.requests[-1]
    assert sent.headers["authorization"] == "Bearer aml-test-key"
    assert sent.headers["azureml-model-deployment"] == "blue"
    assert sent.body["stream"] is True and sent.body["stream_options"] == {"include_usage": True}


def test_scoring_payload(aml_server):
    with model(aml_server.url, api="scoring") as m:
        assert m.generate("summarise this", max_tokens=5, temperature=0.0).text == "echo: summarise this"
        assert not m.info.capabilities.stream
    assert aml_server.requests[-1].body == {
        "input_data": {"input_string": ["summarise this"], "parameters": {"max_new_tokens": 5, "do_sample": False}}
    }


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        ("throttled", Throttled, True),
        ("unavailable", Unavailable, True),
        ("auth", AuthError, False),
        ("forbidden", AuthError, False),
        ("request_timeout", Timeout, False),
        ("model_error", ModelError, False),
    ],
)
def test_service_errors_map_to_the_error_tree(aml_server, fault, error, retryable):
    with model(aml_server.fault_url(fault)) as m, pytest.raises(error) as info:
        m.generate(HELLO)
    assert info.value.retryable is retryable and info.value.provider == "azureml"
    assert info.value.status_code is not None
    if fault in ("throttled", "unavailable"):
        assert info.value.retry_after in (1.0, 2.0)  # Retry-After carried into retry_after


def test_a_wrong_key_and_an_unknown_deployment(aml_server, monkeypatch):
    monkeypatch.setenv("AZUREML_API_KEY", "stolen")
    with model(aml_server.url) as m, pytest.raises(AuthError):
        m.generate(HELLO)
    monkeypatch.setenv("AZUREML_API_KEY", aml_server.key)
    with model(aml_server.url, deployment="purple") as m, pytest.raises(byom_sdk.BadRequest, match="purple"):
        m.generate(HELLO)


def test_a_missing_key_is_a_config_error_naming_the_variable(monkeypatch):
    monkeypatch.delenv("AZUREML_API_KEY")
    with pytest.raises(ConfigError, match="AZUREML_API_KEY"):
        model("https://bot.westeurope.inference.ml.azure.com")


def test_the_host_decides_the_region():
    with model("https://bot.westeurope.inference.ml.azure.com") as m:
        boundary = m.info.boundary
    assert (boundary.region, boundary.region_source, boundary.location_kind) == (
        "westeurope",
        "destination",
        "customer-cloud",
    )
    policy = {"allowed_jurisdictions": ["EU"], "audit": {"sink": "memory"}}
    uk = {"provider": "azureml", "endpoint_url": "https://bot.uksouth.inference.ml.azure.com", "region": "uksouth"}
    with byom_sdk.Client(models={"uk": uk}, policy=policy) as client, pytest.raises(byom_sdk.PolicyViolation):
        client.model("uk").generate(HELLO)


def test_through_a_client_with_retries(aml_server):
    config = {"provider": "azureml", "endpoint_url": aml_server.fault_url("throttled"), "region": "westeurope"}
    retry = {"max_attempts": 2, "initial_backoff": 0.0, "max_backoff": 0.01, "jitter": False}
    policy = {"allow_loopback": True, "audit": {"sink": "memory"}}
    with byom_sdk.Client(models={"m": config}, policy=policy, retry=retry) as client, pytest.raises(Throttled) as info:
        client.model("m").generate(HELLO)
    assert info.value.attempts == 2


@pytest.mark.parametrize(
    "body",
    [
        [{"0": "Paris is the capital."}],
        '[{"0": "Paris is the capital."}]',  # a scoring script returning json.dumps(...)
        [[{"generated_text": "Paris is the capital."}]],  # an HF pipeline given a list
        {"output": "Paris is the capital."},
    ],
)
def test_the_scoring_answers_scripts_give(body):
    from byom_azureml._codecs import ScoringCodec

    assert ScoringCodec().decode_generate(body).text == "Paris is the capital."


@pytest.mark.parametrize(
    ("api", "suffix", "route"),
    [
        ("scoring", "/score", "/score"),  # the studio's "REST endpoint"
        ("openai", "/score", "/v1/chat/completions"),
        ("openai", "/v1", "/v1/chat/completions"),
        ("openai", "/v1/chat/completions/", "/v1/chat/completions"),
    ],
)
def test_a_pasted_route_in_endpoint_url_is_not_sent_twice(aml_server, api, suffix, route):
    """endpoint_url copied with its route (``.../score``) still calls ``/score``, not ``/score/score``."""
    with model(aml_server.url + suffix, api=api) as m:
        assert m.generate("hello there").text == "echo: hello there"
        assert m.info.boundary.endpoint == aml_server.url
    assert aml_server.requests[-1].path == route


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://bot.westeurope.inference.ml.azure.com/?api-version=1", "query"),
        ("https://bot.westeurope.inference.ml.azure.com/#x", "fragment"),
        ("https://al:pw@bot.westeurope.inference.ml.azure.com", "api_key_env"),
    ],
)
def test_a_query_or_userinfo_in_endpoint_url_is_refused(url, message):
    """A query would land before the route (``/?q=1/score``); userinfo would show in the id,
    description and errors. Both are config errors, not a garbled request."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        AzureMLConfig(endpoint_url=url)


@pytest.mark.parametrize("written", ["aml-test-key\n", " aml-test-key ", "Bearer aml-test-key"])
def test_a_key_with_a_newline_or_its_scheme_is_sent_bare(aml_server, monkeypatch, written):
    """A key from a mounted secret ends in a newline; one copied from the studio may carry
    "Bearer ": the endpoint gets "Bearer <key>" either way (httpx refuses a newline outright)."""
    monkeypatch.setenv("AZUREML_API_KEY", written)
    with model(aml_server.url) as m:
        assert m.generate(HELLO).text == "echo: hello there"
    assert aml_server.requests[-1].headers["authorization"] == "Bearer aml-test-key"
    monkeypatch.setenv("AZUREML_API_KEY", " \n")
    with pytest.raises(ConfigError, match="AZUREML_API_KEY"):
        model(aml_server.url)


def test_the_model_id_is_the_endpoint_name():
    with model("https://support-bot.westeurope.inference.ml.azure.com/score") as m:
        assert m.info.id == "support-bot"
