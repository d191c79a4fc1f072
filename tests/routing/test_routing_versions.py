"""ModelInfo.version as each provider sets it from the setting that pins the version.
Models are built only (endpoints on a closed loopback port): nothing is sent."""

from __future__ import annotations

import importlib.util

import pytest

from byom_sdk import Client, Registry

LOOPBACK = "127.0.0.1:9"  # the discard port: a model is built, never called


def _needs(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"needs {module}")


CASES = [
    pytest.param(
        {
            "provider": "sagemaker",
            "endpoint_name": "support",
            "region": "eu-west-1",
            "endpoint_url": f"http://{LOOPBACK}",
            "credentials": {"access_key_id": "AKIDLOCALTEST", "secret_access_key": "local-test-secret"},
            "codec": "tgi",
            "target_variant": "v2",
        },
        "v2",
        id="sagemaker-variant",
        marks=_needs("byom_sagemaker"),
    ),
    pytest.param(
        {
            "provider": "sagemaker",
            "endpoint_name": "support",
            "region": "eu-west-1",
            "endpoint_url": f"http://{LOOPBACK}",
            "credentials": {"access_key_id": "AKIDLOCALTEST", "secret_access_key": "local-test-secret"},
            "codec": "tgi",
            "inference_component": "support-ic-3",
        },
        "support-ic-3",
        id="sagemaker-inference-component",
        marks=_needs("byom_sagemaker"),
    ),
    pytest.param(
        {
            "provider": "vertex",
            "project": "acme",
            "location": "europe-west4",
            "endpoint_id": "1234",
            "api_endpoint": LOOPBACK,
            "insecure": True,
            "credentials": {"kind": "anonymous"},
            "deployed_model_id": "5678",
        },
        "5678",
        id="vertex-deployed-model",
        marks=_needs("byom_vertex"),
    ),
    pytest.param(
        {"provider": "openai-compat", "base_url": f"http://{LOOPBACK}/v1", "model": "llama-3.1-8b-ft-2"},
        "llama-3.1-8b-ft-2",
        id="openai-compat-model",
        marks=_needs("byom_openai_compat"),
    ),
    pytest.param(
        {"provider": "azureml", "endpoint_url": f"http://{LOOPBACK}", "deployment": "blue", "api_key_env": "AML_KEY"},
        "blue",
        id="azureml-deployment",
        marks=_needs("byom_azureml"),
    ),
]


@pytest.mark.parametrize(("config", "version"), CASES)
def test_each_provider_reports_the_version_it_pins(config, version, monkeypatch):
    monkeypatch.setenv("AML_KEY", "test-key")
    with Client(models={"m": config}, policy={"audit": {"sink": "memory"}}, registry=Registry()) as client:
        assert client.model("m").info.version == version


def test_vertex_deployed_model_ids_are_numeric():
    pytest.importorskip("byom_vertex")
    from byom_sdk import ConfigError

    config = dict(CASES[2].values[0], deployed_model_id="projects/acme/deployedModels/1")
    with pytest.raises(ConfigError, match="deployed_model_id"):
        Client(models={"m": config}, policy={"audit": {"sink": "memory"}}, registry=Registry())
