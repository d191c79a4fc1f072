"""Config validation, plugin registration and import hygiene."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import byom_sagemaker._plugin as plugin
import pytest
from byom_sagemaker import SageMakerConfig
from pydantic import ValidationError

from byom_sdk import Client, ConfigError
from byom_sdk.testing import isolated_registry

BASE = {"provider": "sagemaker", "endpoint_name": "ep", "region": "eu-west-1", "codec": "tgi"}


def client_error(**changes) -> str:
    models = {"m": {k: v for k, v in {**BASE, **changes}.items() if v is not None}}
    with isolated_registry(plugin), pytest.raises(ConfigError) as info:
        Client(models=models)
    return str(info.value)


def test_region_is_required_and_named():
    message = client_error(region=None)
    assert "model 'm'" in message and "region" in message


def test_codec_is_required_never_guessed():
    assert "codec" in client_error(codec=None)


def test_unknown_keys_are_refused_by_name():
    assert "endpoint" in client_error(endpiont_name="x") or "endpiont_name" in client_error(endpiont_name="x")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"region": "Europe"}, "not an AWS region"),
        ({"endpoint_name": "bad_name!"}, "not a SageMaker endpoint name"),
        ({"endpoint_url": "127.0.0.1:8080"}, "http(s) URL"),
        ({"endpoint_url": "https://evil.example\\@runtime.sagemaker.eu-west-1.amazonaws.com"}, "with no user info"),
        ({"endpoint_url": "https://runtime.sagemaker.us%2Deast%2D1.amazonaws.com"}, "does not name a valid host"),
        ({"endpoint_url": "https://runtime.sagemaker.eu-west-1.amazonaws.com?x=1"}, "with no user info, query"),
        ({"codec": "custom"}, "codec_class"),
        ({"codec_class": "a.b:C"}, "only used with codec = 'custom'"),
        ({"custom_attributes": "caf\u00e9"}, "visible ASCII"),
        ({"credentials": {"access_key_id": "AKID"}}, "both 'access_key_id' and 'secret_access_key'"),
        ({"credentials": {"profile": "p", "access_key_id": "a", "secret_access_key": "s"}}, "either 'profile'"),
        ({"credentials": {"role_arn": "not-an-arn"}}, "role_arn"),
        ({"read_timeout": 0}, "read_timeout"),
    ],
)
def test_invalid_values_name_the_field(changes, fragment):
    assert fragment in client_error(**changes)


def test_secrets_do_not_show_in_repr():
    config = SageMakerConfig(
        **{k: v for k, v in BASE.items() if k != "provider"},
        credentials={"access_key_id": "AKID", "secret_access_key": "very-secret"},
    )
    assert "very-secret" not in repr(config)
    assert config.credentials.kind == "static"


def test_config_is_frozen_and_extra_forbidden():
    config = SageMakerConfig(endpoint_name="ep", region="eu-west-1", codec="tei")
    with pytest.raises(ValidationError):
        config.region = "us-east-1"  # type: ignore[misc]


def test_entry_point_is_declared():
    found = {ep.name: ep.value for ep in entry_points(group="byom")}
    assert found.get("sagemaker") == "byom_sagemaker._plugin"


def test_loading_the_entry_point_module_does_not_import_boto3():
    code = (
        "import sys, byom_sagemaker._plugin as p\n"
        "specs = p.byom_model_providers()\n"
        "assert specs[0].name == 'sagemaker'\n"
        "heavy = sorted(m for m in ('boto3', 'botocore', 'urllib3') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("codec", "options", "caps"),
    [
        ("tgi", {}, {"generate": True, "chat": False, "stream": True, "embed": False, "stop_sequences": True}),
        ("openai", {}, {"generate": True, "chat": True, "stream": True, "embed": False}),
        ("jumpstart", {"variant": "llama-chat"}, {"chat": True, "stream": True, "stop_sequences": False}),
        ("jumpstart", {"variant": "text2text"}, {"chat": False, "stream": False}),
        ("tei", {}, {"generate": False, "stream": False, "embed": True}),
    ],
)
def test_capabilities_follow_the_codec(codec, options, caps):
    from byom_sagemaker import SageMakerModel

    config = SageMakerConfig(
        endpoint_name="ep",
        region="eu-west-1",
        codec=codec,
        codec_options=options,
        credentials={"access_key_id": "AKID", "secret_access_key": "x"},
    )
    with SageMakerModel(config) as model:
        declared = model.info.capabilities
        assert declared.async_native is False  # async goes through the core's thread bridge
        for name, value in caps.items():
            assert getattr(declared, name) is value, name


def test_messages_to_a_prompt_codec_need_a_chat_template(server, make_model, make_client):
    from byom_sdk import CapabilityNotSupported

    server.add_endpoint("ep", "tgi")
    with pytest.raises(CapabilityNotSupported, match="chat"):
        make_model("ep").generate([{"role": "user", "content": "hi"}])


def test_the_network_guard_refuses_non_loopback_addresses():
    import socket

    with socket.socket() as sock, pytest.raises(AssertionError, match=r"only 127.0.0.1"):
        sock.connect(("10.1.2.3", 443))


def test_an_invalid_endpoint_url_from_the_environment_is_a_config_error_naming_its_sources(monkeypatch):
    # botocore refuses it with a bare ValueError when the client is built.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "runtime.sagemaker.eu-west-1.amazonaws.com")
    with isolated_registry(plugin), Client(models={"m": dict(BASE)}) as client, pytest.raises(ConfigError) as caught:
        client.model("m")
    message = str(caught.value)
    assert "model 'm'" in message and "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME" in message
    assert "not a valid endpoint URL" in message
