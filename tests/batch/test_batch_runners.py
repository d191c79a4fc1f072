"""Cloud batch runners come from plugins (the ``byom_batch_runners`` hook): the shipped
ones register that way, a third-party one is found by name, and a job names its runner's
options table with either spelling."""

from __future__ import annotations

import byom_sagemaker._plugin
import pytest
from byom_sagemaker._config import SageMakerConfig
from byom_sagemaker.testing import LocalSageMakerServer
from pydantic import BaseModel, ConfigDict

from byom_sdk import BatchRunnerSpec, Client, ConfigError, get_registry, hookimpl
from byom_sdk.batch import BatchJob
from byom_sdk.testing import isolated_registry

from ._helpers import POLICY, write_jsonl


def test_the_shipped_cloud_runners_are_registered_by_their_plugins():
    registry = get_registry().load()
    runners = {name: registry.plugins[plugin].distribution for plugin in registry.plugins for name in
               registry.plugins[plugin].batch_runners}  # fmt: skip
    assert runners == {"sagemaker-transform": "byom-sagemaker", "vertex-batch": "byom-vertex"}
    assert registry.batch_runner("sagemaker-transform").provider == "sagemaker"
    assert registry.batch_runner("vertex-batch").provider == "vertex"


@pytest.mark.parametrize("key", ["sagemaker_transform", "sagemaker-transform"])
def test_a_runner_table_is_found_under_either_spelling(tmp_path, key):
    values = {"input": "in.jsonl", "output": "o.jsonl", "model": "bot", "runner": "sagemaker-transform"}
    job = BatchJob.build({**values, key: {"bucket": "b"}})
    assert job.runner_options() == {"bucket": "b"}


def test_an_unknown_runner_or_table_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError) as caught:
        BatchJob.build({"input": "i", "output": "o", "model": "bot", "runner": "emr-batch"})
    assert caught.value.field == "runner"
    assert "known: local, ray, sagemaker-transform, vertex-batch" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        BatchJob.build({"input": "i", "output": "o", "model": "bot", "emr_batch": {"x": 1}})
    assert caught.value.field == "emr_batch"


def test_a_missing_shipped_runner_names_the_package_that_brings_it():
    with isolated_registry(builtins=True), pytest.raises(ConfigError) as caught:
        BatchJob.build({"input": "i", "output": "o", "model": "bot", "runner": "vertex-batch"})
    assert "vertex-batch comes with byom-vertex" in str(caught.value)


class _Sentinel(Exception):
    pass


def test_a_third_party_runner_gets_the_model_options_its_table_and_the_job_id(tmp_path):
    calls = []

    def build(model, options, *, job_id):
        calls.append((model, options, job_id))
        raise _Sentinel

    class AcmeOptions(BaseModel):
        model_config = ConfigDict(extra="forbid")
        queue: str

    class AcmeBatch:
        @hookimpl
        def byom_batch_runners(self):
            return [BatchRunnerSpec(name="acme-batch", provider="sagemaker", factory=build, config_schema=AcmeOptions)]

    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi"}])
    with LocalSageMakerServer(region="eu-west-1") as server, isolated_registry() as registry:
        server.add_endpoint("echo", "tgi")
        registry.register(byom_sagemaker._plugin, name="sagemaker")
        registry.register(AcmeBatch(), name="acme")
        policy = {**POLICY, "audit": {"path": str(tmp_path / "audit.sqlite")}}
        with Client(models={"bot": server.model_config("echo")}, policy=policy) as client, pytest.raises(_Sentinel):
            client.batch(source, tmp_path / "o.jsonl", model="bot", runner="acme-batch", acme_batch={"queue": "q1"})
    [(model, options, job_id)] = calls
    assert isinstance(model, SageMakerConfig) and model.endpoint_name == "echo"
    assert options == AcmeOptions(queue="q1") and job_id


def test_a_runner_table_is_validated_by_the_runner_schema_naming_the_field(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "prompt": "hi"}])
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        policy = {**POLICY, "audit": {"path": str(tmp_path / "audit.sqlite")}}
        table = {"bucket": "batch", "instance_count": 0}
        client = Client(models={"bot": server.model_config("echo")}, policy=policy)
        with client, pytest.raises(ConfigError) as caught:
            client.batch(source, tmp_path / "o", model="bot", runner="sagemaker-transform", sagemaker_transform=table)
    assert caught.value.field == "sagemaker_transform.instance_count"
