"""Both directions, proved: byom serves a model as a SageMaker / Vertex container, the
local SageMaker runtime and Vertex prediction servers forward to it as the cloud services
would, and the real clients — boto3, google-cloud-aiplatform's GAPIC client, and byom's own
SageMaker and Vertex plugins — call it.

- With a deterministic model, byom's conformance suite gives the same result through
  ``plugin → local cloud server → byom serve → model`` as on the model in process.
- With the real SmolLM2 (local ONNX), a few short greedy generations and streams read the
  same text and token counts every way round as in process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serve_helpers import POLICY, audited_calls

import byom_sdk
from byom_sdk.serve import ServerThread, create_app
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import run_conformance

boto3 = pytest.importorskip("boto3")
byom_sagemaker = pytest.importorskip("byom_sagemaker")
byom_vertex = pytest.importorskip("byom_vertex")
from byom_sagemaker import SageMakerConfig, SageMakerModel  # noqa: E402
from byom_sagemaker.testing import LocalSageMakerServer  # noqa: E402
from byom_vertex.testing import LocalVertexServer  # noqa: E402

VERTEX_ENV = {"AIP_HEALTH_ROUTE": "/health", "AIP_PREDICT_ROUTE": "/v1/endpoints/7/deployedModels/1:predict"}


def _statuses(report: Path) -> dict[str, str]:
    data = json.loads(report.read_text(encoding="utf-8"))
    return {check["id"]: check["status"] for subject in data["subjects"] for check in subject["checks"]}


#: checks whose outcome follows the capabilities a model declares, which a codec decides
#: for a remote model (TGI declares no chat or tools), and the tokenizer, which does not
#: travel over the wire: not comparable between a model in process and the same model remote.
CAPABILITY_BOUND = (
    "capabilities.",
    "tokenizer.",
    "tools.",
    "structured.",
    "usage.tokenizer_counts",
    "suite.",
    "info.in_process",  # runs only for a model in this process: a remote one makes connections
    "embed.usage",  # compares with the model's tokenizer, which does not travel over the wire
    "wire.",  # reads the requests a remote model sends: a model in this process sends none
    "secrets.",  # runs only on a model holding a credential: a remote one does, one in process not
    "isolation.import",  # loads a plugin's entry point: ScriptedModel lives in byom_sdk and has none
)
#: compares the process's threads around a model's life: the local cloud servers' worker
#: pools start threads on demand while a check runs, which it would count against the model.
HARNESS_BOUND = ("close.releases_threads",)


def _embedding(check: str) -> bool:
    return check.startswith("embed.") or check == "async.embed"


# Checks of where a remote client connects: an in-process model has no destination to check.
REMOTE_ONLY = ("info.boundary_host",)


def _comparable(statuses: dict[str, str], *, embedding: bool) -> dict[str, str]:
    return {
        i: s
        for i, s in statuses.items()
        if not i.startswith(CAPABILITY_BOUND) and i not in REMOTE_ONLY and _embedding(i) == embedding
    }


def _conformance(factory, report: Path, name: str) -> dict[str, str]:
    run_conformance(factory, report_path=report, name=name, pytest_args=["-q", "-p", "no:randomly"])
    return _statuses(report)


def test_the_conformance_result_is_the_same_through_serve(make_client, tmp_path):
    served = make_client({"bot": ScriptedModel()})
    app = create_app(served, profile=["sagemaker", "vertex"], environ=VERTEX_ENV)
    with ServerThread(app) as container, LocalSageMakerServer(region="eu-west-1", part_size=11) as runtime:
        for codec in ("tgi", "tei"):
            runtime.add_endpoint(f"bot-{codec}", codec, container_url=container.url)
        with LocalVertexServer(
            codec="vllm", container_url=container.url, predict_route=VERTEX_ENV["AIP_PREDICT_ROUTE"], chunk_size=13
        ) as vertex:
            local = _conformance(ScriptedModel, tmp_path / "local.json", "in-process")

            def sagemaker(codec, **overrides):
                config = runtime.model_config(f"bot-{codec}", **overrides)
                config.pop("provider")
                return lambda: SageMakerModel(SageMakerConfig(**config))

            tgi = _conformance(sagemaker("tgi"), tmp_path / "tgi.json", "sagemaker-tgi")
            tei = _conformance(sagemaker("tei", embedding_dimension=8), tmp_path / "tei.json", "sagemaker-tei")
            vllm = _conformance(lambda: vertex.vertex_model(transport="grpc"), tmp_path / "vllm.json", "vertex-vllm")
    # Every check a remote model can run ends as it does in process, failures included.
    assert _comparable(tgi, embedding=False) == _comparable(local, embedding=False)
    assert _comparable(tei, embedding=True) == _comparable(local, embedding=True)
    assert _comparable(vllm, embedding=False) == _comparable(local, embedding=False)
    # What the SageMaker client sent (read off the sockets; the local runtime's forward to
    # the container goes elsewhere and is not the call): every wire check passes.
    wire = {i: s for i, s in tgi.items() if i.startswith("wire.")}
    assert wire.pop("wire.tool_choice") == "skipped"  # the TGI codec declares no tools
    assert set(wire.values()) == {"passed"}, wire  # the suite may grow wire checks: all must pass
    assert {"wire.one_request", "wire.messages", "wire.parameters", "wire.extra", "wire.metadata"} <= set(wire)
    assert tgi["info.boundary_host"] == "passed"  # the SageMaker client connects where its boundary says
    ran = _comparable(tgi, embedding=False)
    assert sum(s == "passed" for s in ran.values()) >= 20 and ran["stream.matches_generate"] == "passed"
    assert sum(s == "passed" for s in _comparable(tei, embedding=True).values()) >= 4
    assert {c["tags"]["surface"] for c in audited_calls(served)} == {"sagemaker", "vertex"}


def test_container_failures_reach_callers_as_each_platform_reports_them(make_client):
    overloaded = ScriptedModel(failures=[byom_sdk.Throttled("busy", provider="scripted")] * 2)
    served = make_client({"bot": overloaded}, retry={"max_attempts": 1})
    app = create_app(served, profile=["sagemaker", "vertex"], environ=VERTEX_ENV)
    with ServerThread(app) as container, LocalSageMakerServer(region="eu-west-1") as runtime:
        runtime.add_endpoint("bot", "tgi", container_url=container.url)
        with LocalVertexServer(
            codec="vllm", container_url=container.url, predict_route=VERTEX_ENV["AIP_PREDICT_ROUTE"]
        ) as vertex:
            models = {"sm": runtime.model_config("bot"), "vx": vertex.model_config(transport="grpc")}
            with byom_sdk.Client(models=models, policy=POLICY, retry={"max_attempts": 1}) as caller:
                # SageMaker: the container's 429 comes back as a ModelError with its status.
                with pytest.raises(byom_sdk.ModelError) as sagemaker:
                    caller.model("sm").generate("x")
                assert sagemaker.value.details["original_status_code"] == 429 and sagemaker.value.retryable
                with pytest.raises(byom_sdk.Throttled):  # Vertex: RESOURCE_EXHAUSTED
                    caller.model("vx").generate("x")
            raw = boto3.client(
                "sagemaker-runtime",
                endpoint_url=runtime.url,
                region_name="eu-west-1",
                aws_access_key_id="AKIDLOCAL",
                aws_secret_access_key="local",
            )
            with pytest.raises(raw.exceptions.ModelError) as refused:  # a body no codec sends
                raw.invoke_endpoint(EndpointName="bot", Body=b'{"question": 1}', ContentType="application/json")
            raw.close()
    assert refused.value.response["OriginalStatusCode"] == 422
    assert json.loads(refused.value.response["OriginalMessage"])["error_type"] == "validation"


def test_tools_and_structured_output_round_trip(make_client):
    """byom's plugins send tools and schemas in each container's own form (OpenAI fields,
    TGI grammar); the served model answers them and the caller gets parsed results."""
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    served = make_client(
        {"bot": ScriptedModel(['{"title": "Printer"}', '{"tool_calls": [{"name": "lookup", "arguments": {}}]}'])}
    )
    app = create_app(served, profile="sagemaker")
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    with ServerThread(app) as container, LocalSageMakerServer(region="eu-west-1") as runtime:
        runtime.add_endpoint("tgi", "tgi", container_url=container.url)
        runtime.add_endpoint("chat", "openai", container_url=container.url)
        models = {"tgi": runtime.model_config("tgi"), "chat": runtime.model_config("chat")}
        with byom_sdk.Client(models=models, policy=POLICY) as caller:
            shaped = caller.model("tgi").generate("ticket 4711", response_format=schema)
            assert shaped.parsed == {"title": "Printer"}
            called = caller.model("chat").generate([{"role": "user", "content": "look it up"}], tools=[tool])
            assert [c.name for c in called.tool_calls] == ["lookup"] and called.finish_reason == "tool_calls"


# -- the real SmolLM2 ---------------------------------------------------------------------------

PROMPT = "The capital of France is"
CHAT = [{"role": "user", "content": "What is the capital of France?"}]
TOKENS = 6


@pytest.fixture(scope="module")
def smol(smollm2_config):
    """SmolLM2 served as a SageMaker and Vertex container behind the two local cloud servers."""
    served = byom_sdk.Client(models={"smol": smollm2_config}, policy=POLICY)
    container = ServerThread(create_app(served, profile=["sagemaker", "vertex"], environ=VERTEX_ENV)).start()
    runtime = LocalSageMakerServer(region="eu-west-1", part_size=9).start()
    runtime.add_endpoint("smol", "tgi", container_url=container.url)
    runtime.add_endpoint("smol-chat", "openai", container_url=container.url)
    vertex = LocalVertexServer(
        codec="vllm", container_url=container.url, predict_route=VERTEX_ENV["AIP_PREDICT_ROUTE"], chunk_size=17
    ).start()
    model = served.model("smol")
    expected = {
        "prompt": model.generate(PROMPT, max_tokens=TOKENS, temperature=0.0),
        "chat": model.generate(CHAT, max_tokens=TOKENS, temperature=0.0),
    }
    try:
        yield served, runtime, vertex, expected
    finally:
        vertex.stop()
        runtime.stop()
        container.stop()
        served.close()


def _text(events) -> str:
    return "".join(e.text for e in events if isinstance(e, byom_sdk.TextDelta))


@pytest.mark.slow
def test_smollm2_through_the_sagemaker_runtime(smol):
    served, runtime, _, expected = smol
    prompt, chat = expected["prompt"], expected["chat"]
    assert prompt.text and prompt.usage.output_tokens == TOKENS
    runtime_client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=runtime.url,
        region_name="eu-west-1",
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="local",
    )
    body = json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": TOKENS, "do_sample": False}})
    answer = runtime_client.invoke_endpoint(EndpointName="smol", Body=body, ContentType="application/json")
    [item] = json.loads(answer["Body"].read())
    assert item["generated_text"] == prompt.text
    assert item["details"]["generated_tokens"] == prompt.usage.output_tokens
    assert item["details"]["input_length"] == prompt.usage.input_tokens
    stream_body = json.dumps(
        {"inputs": PROMPT, "parameters": {"max_new_tokens": TOKENS, "do_sample": False}, "stream": True}
    )
    streamed = runtime_client.invoke_endpoint_with_response_stream(
        EndpointName="smol", Body=stream_body, ContentType="application/json"
    )
    assert streamed["ContentType"].startswith("text/event-stream")
    raw = b"".join(event["PayloadPart"]["Bytes"] for event in streamed["Body"]).decode()
    records = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]
    assert records[-1]["generated_text"] == prompt.text
    runtime_client.close()

    with byom_sdk.Client(
        models={"tgi": runtime.model_config("smol"), "chat": runtime.model_config("smol-chat")}, policy=POLICY
    ) as caller:
        remote = caller.model("tgi").generate(PROMPT, max_tokens=TOKENS, temperature=0.0)
        assert (remote.text, remote.finish_reason) == (prompt.text, prompt.finish_reason)
        assert (remote.usage.input_tokens, remote.usage.output_tokens) == (
            prompt.usage.input_tokens,
            prompt.usage.output_tokens,
        )
        assert _text(caller.model("tgi").stream(PROMPT, max_tokens=TOKENS, temperature=0.0)) == prompt.text
        remote_chat = caller.model("chat").generate(CHAT, max_tokens=TOKENS, temperature=0.0)
        assert remote_chat.text == chat.text and remote_chat.usage.output_tokens == chat.usage.output_tokens
    surfaces = [c["tags"].get("surface") for c in audited_calls(served) if c["outcome"] == "ok"]
    assert surfaces.count("sagemaker") == 5


@pytest.mark.slow
def test_smollm2_through_the_vertex_prediction_service(smol):
    import grpc
    from google.api import httpbody_pb2
    from google.cloud import aiplatform_v1
    from google.cloud.aiplatform_v1.services.prediction_service.transports import PredictionServiceGrpcTransport
    from google.protobuf import json_format, struct_pb2

    served, _, vertex, expected = smol
    prompt, chat = expected["prompt"], expected["chat"]
    channel = grpc.insecure_channel(vertex.grpc_target)
    try:
        gapic = aiplatform_v1.PredictionServiceClient(transport=PredictionServiceGrpcTransport(channel=channel))
        instance = {"prompt": PROMPT, "max_tokens": TOKENS, "temperature": 0.0, "raw_response": True}
        answer = gapic.predict(
            endpoint=vertex.resource, instances=[json_format.ParseDict(instance, struct_pb2.Value())]
        )
        assert list(answer.predictions) == [prompt.text]
        body = {"model": "", "messages": CHAT, "max_tokens": TOKENS, "temperature": 0.0, "stream": True}
        parts = gapic.stream_raw_predict(
            request={
                "endpoint": vertex.resource,
                "http_body": httpbody_pb2.HttpBody(content_type="application/json", data=json.dumps(body).encode()),
            }
        )
        sse = b"".join(part.data for part in parts).decode()
        chunks = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == chat.text
        assert sse.rstrip().endswith("data: [DONE]")
    finally:
        channel.close()

    with byom_sdk.Client(models={"vertex": vertex.model_config(transport="grpc")}, policy=POLICY) as caller:
        model = caller.model("vertex")
        assert model.generate(PROMPT, max_tokens=TOKENS, temperature=0.0).text == prompt.text
        assert _text(model.stream(CHAT, max_tokens=TOKENS, temperature=0.0)) == chat.text
    surfaces = [c["tags"].get("surface") for c in audited_calls(served) if c["outcome"] == "ok"]
    assert surfaces.count("vertex") == 4
