"""Config validation, plugin registration, lazy imports, boundary reporting and
verification, custom codecs and credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from byom_vertex import VertexConfig
from byom_vertex.testing import Container, LocalVertexServer

import byom_sdk
from byom_sdk.testing import ScriptedModel

BASE = {"project": "p", "location": "europe-west4", "endpoint_id": "42"}


def _client(models, **kw):
    kw.setdefault("policy", {"allow_loopback": True})  # local servers are on 127.0.0.1
    return byom_sdk.Client(models=models, **kw)


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"location": None}, "location", "Field required"),
        ({"location": "Mars"}, "location", "not a Vertex AI location"),
        ({"endpoint_id": "projects/p/locations/l/endpoints/1"}, "endpoint_id", "bare endpoint id"),
        ({"transport": "http2"}, "transport", ""),
        ({"codec": "custom"}, "", "codec_options.class"),
        ({"insecure": True, "api_endpoint": "vertex.example.com:443"}, "", "loopback"),
        ({"api_endpoint": "http://10.0.0.1:8080"}, "", "loopback"),
        ({"credentials": {"kind": "service-account"}}, "credentials", "credentials.file"),
        ({"surprise": 1}, "surprise", ""),
        # Every api_endpoint the Google clients could read as another host than the gate:
        (
            {"transport": "rest", "api_endpoint": "https://127.0.0.1:9\\@europe-west4-aiplatform.googleapis.com"},
            "api_endpoint",
            "host[:port] only",
        ),
        (
            {"transport": "rest", "api_endpoint": "grpcs://europe-west4-aiplatform.googleapis.com"},
            "api_endpoint",
            "scheme 'grpcs' is not accepted",
        ),
        (
            {"api_endpoint": "dns://europe-west4-aiplatform.googleapis.com/127.0.0.1:50000"},
            "api_endpoint",
            "scheme 'dns' is not accepted",
        ),
        ({"api_endpoint": "evil.example@europe-west4-aiplatform.googleapis.com"}, "api_endpoint", "no user info"),
        ({"api_endpoint": "https://europe-west4-aiplatform.googleapis.com"}, "", "gRPC takes host[:port]"),
        ({"transport": "rest", "api_endpoint": "HTTP://europe-west4-aiplatform.googleapis.com"}, "", "loopback"),
        (
            {"dedicated_endpoint_dns": "https://1.europe-west4-55.prediction.vertexai.goog"},
            "dedicated_endpoint_dns",
            "host[:port] (no scheme)",
        ),
    ],
)
def test_bad_config_names_the_alias_and_field(change, field, message):
    options = {"provider": "vertex", **BASE, **change}
    options = {k: v for k, v in options.items() if v is not None}
    with pytest.raises(byom_sdk.ConfigError) as caught:
        _client({"bot": options})
    text = str(caught.value)
    assert "model 'bot'" in text and "vertex" in text
    assert field in text and message in text


def test_global_location_is_reported_as_region_global():
    config = VertexConfig(**{**BASE, "location": "global"})
    from byom_vertex._boundary import base_boundary

    boundary = base_boundary(config)
    assert boundary.region == "global"
    assert boundary.endpoint == "grpcs://aiplatform.googleapis.com/projects/p/locations/global/endpoints/42"
    assert boundary.tls is True and boundary.retention is None
    assert boundary.location_kind == "customer-cloud" and boundary.provider == "vertex"


def test_dedicated_endpoint_dns_is_where_calls_go():
    dns = "42.europe-west4-123.prediction.vertexai.goog"
    config = VertexConfig(**BASE, dedicated_endpoint_dns=dns, transport="rest")
    from byom_vertex._boundary import base_boundary

    boundary = base_boundary(config)
    assert boundary.endpoint == f"https://{dns}/v1/projects/p/locations/europe-west4/endpoints/42"
    assert boundary.network_path == "dedicated-endpoint"


def test_plugin_is_registered_by_entry_point():
    registry = byom_sdk.get_registry().load()
    spec = registry.providers["vertex"]
    assert spec.config_schema is VertexConfig
    assert registry.plugins["vertex"].distribution == "byom-vertex"


def test_importing_byom_sdk_and_the_plugin_loads_no_google_library():
    code = textwrap.dedent("""
        import sys, json
        before = set(sys.modules)
        import byom_sdk
        import byom_vertex, byom_vertex._plugin
        byom_sdk.get_registry().load()
        spec = byom_sdk.get_registry().providers["vertex"]
        heavy = sorted(m for m in set(sys.modules) - before
                       if m.startswith(("google", "grpc", "proto", "requests")))
        print(json.dumps(heavy))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_building_a_model_does_not_import_google_until_the_first_call():
    code = textwrap.dedent("""
        import sys, byom_sdk
        client = byom_sdk.Client(models={"m": {"provider": "vertex", "project": "p",
            "location": "us-central1", "endpoint_id": "1", "credentials": {"kind": "anonymous"}}})
        model = client.model("m")
        assert model.info.boundary.region == "us-central1"
        print(any(m.startswith(("google.cloud.aiplatform", "grpc", "google.api_core")) for m in sys.modules))
        print("google.cloud.aiplatform" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_calls_never_import_the_high_level_sdk():
    code = textwrap.dedent("""
        import sys
        from byom_vertex.testing import LocalVertexServer
        with LocalVertexServer() as server:
            with server.vertex_model() as model:
                model.generate("hi")
        print("google.cloud.aiplatform" in sys.modules, "vertexai" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- boundary verification ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_verify_boundary_records_attestations(transport):
    with LocalVertexServer(
        endpoint_resource={
            "dedicatedEndpointEnabled": True,
            "dedicatedEndpointDns": "1.us-central1-9.prediction.vertexai.goog",
        }
    ) as s:
        with _client({"m": s.model_config(transport=transport, verify_boundary=True)}) as client:
            boundary = client.model("m").info.boundary
        assert s.count("GetEndpoint") == 1
    assert boundary.retention == "none"  # request-response logging verified off
    assert boundary.attestation("vertex.request_response_logging").ok
    assert boundary.attestation("vertex.request_response_logging").value == "disabled"
    assert boundary.attestation("vertex.endpoint.region").ok
    assert boundary.attestation("vertex.endpoint.dedicated").value == "1.us-central1-9.prediction.vertexai.goog"
    assert boundary.attestation("vertex.container_logging").ok
    assert not boundary.attestation("vertex.endpoint.private_service_connect").ok
    assert all(a.source == "vertex:EndpointService.GetEndpoint" for a in boundary.attestations)
    assert boundary.network_path == "loopback"


def test_logging_on_keeps_retention_unknown_and_psc_is_reported():
    resource = {
        "predictRequestResponseLoggingConfig": {
            "enabled": True,
            "samplingRate": 0.5,
            "bigqueryDestination": {"outputUri": "bq://p.d.t"},
        },
        "privateServiceConnectConfig": {"enablePrivateServiceConnect": True},
        "deployedModels": [
            {"id": "7", "model": "projects/p/locations/us-central1/models/7", "disableContainerLogging": False}
        ],
    }
    with LocalVertexServer(endpoint_resource=resource) as s, s.vertex_model(verify_boundary=True) as model:
        boundary = model.info.boundary
    assert boundary.retention is None
    logging = boundary.attestation("vertex.request_response_logging")
    assert not logging.ok and logging.value == "enabled (sampling_rate=0.5, bigquery=bq://p.d.t)"
    assert boundary.attestation("vertex.endpoint.private_service_connect").ok
    assert boundary.attestation("vertex.container_logging").value == "enabled on 7"


def test_verify_boundary_failure_is_a_typed_error_naming_the_endpoint():
    with LocalVertexServer() as s:
        s.inject("permission_denied", method="GetEndpoint")
        with pytest.raises(byom_sdk.AuthError, match="GetEndpoint") as caught:
            s.vertex_model(verify_boundary=True)
    assert s.resource in str(caught.value)


# -- custom codec --------------------------------------------------------------------------------


class _EchoTensorContainer(Container):
    """A team's own container: {"text"} instances, {"output"} predictions, tensor streaming."""

    name = "team"

    def predict(self, body):
        return {"predictions": [{"output": self.model.generate(i["text"]).text} for i in body["instances"]]}


def test_custom_codec_from_an_import_path(tmp_path, monkeypatch):
    (tmp_path / "team_codec.py").write_text(
        textwrap.dedent("""
        from byom_sdk.wire import Chunk, Decoded
        from byom_vertex import Codec

        class TeamCodec(Codec):
            name = "team"
            generate_rpc = "predict"
            stream_rpc = "server_streaming_predict"
            generates = True
            streams = True

            def encode_generate(self, request, *, stream):
                if not stream:
                    return {"instances": [{"text": request.prompt}], "parameters": {"lang": self.options["lang"]}}
                params = {}
                if request.max_tokens:
                    params = {"structVal": {"max_tokens": {"dtype": "INT32", "intVal": [request.max_tokens]}}}
                return {"inputs": [{"dtype": "STRING", "stringVal": [request.prompt]}], "parameters": params}

            def decode_generate(self, body):
                return Decoded(text=body["predictions"][0]["output"])

            def decode_chunk(self, item):
                text = "".join(t for tensor in item.get("outputs", []) for t in tensor.get("stringVal", []))
                reason = item.get("parameters", {}).get("structVal", {}).get("finish_reason")
                return Chunk(text=text, finish_reason=reason["stringVal"][0] if reason else None)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    container = _EchoTensorContainer(ScriptedModel(["alpha beta gamma delta"]))
    with LocalVertexServer(container=container, codec="team") as s:
        for transport in ("grpc", "rest"):
            s.clear()
            config = s.model_config(
                transport=transport, codec="custom", codec_options={"class": "team_codec:TeamCodec", "lang": "de"}
            )
            with _client({"m": config}) as client:
                model = client.model("m")
                assert model.info.capabilities.stream and not model.info.capabilities.chat
                assert model.generate("go").text == "alpha beta gamma delta"
                assert s.requests[-1].body["parameters"] == {"lang": "de"}
                events = list(model.stream("go", max_tokens=2))
            assert [e.text for e in events if isinstance(e, byom_sdk.TextDelta)] == ["alpha", " beta"]
            assert events[-1].finish_reason == "length"
            assert s.requests[-1].method == "serverStreamingPredict"


def test_custom_codec_that_cannot_be_loaded_is_a_config_error():
    config = {
        "provider": "vertex",
        **BASE,
        "codec": "custom",
        "codec_options": {"class": "no_such_mod:Codec"},
        "credentials": {"kind": "anonymous"},
    }
    with _client({"m": config}) as client, pytest.raises(byom_sdk.ConfigError, match=r"codec_options\.class"):
        client.model("m")


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["vllm", "openai"])  # GAPIC REST predict; raw REST via AuthorizedSession
def test_token_refresh_over_rest_never_bakes_a_token(codec):
    """A credentials object is handed to the client, which refreshes it when it expires:
    every request carries the then-current token."""
    import datetime

    from google.auth import credentials as ga_credentials

    class Rotating(ga_credentials.Credentials):
        def __init__(self):
            super().__init__()
            self.refreshes = 0

        def refresh(self, request):
            self.refreshes += 1
            self.token = f"token-{self.refreshes}"
            self.expiry = datetime.datetime.utcnow() + datetime.timedelta(hours=1)

    creds = Rotating()
    with LocalVertexServer(codec=codec) as s:
        config = VertexConfig.model_validate(
            {k: v for k, v in s.model_config(transport="rest").items() if k != "provider"}
        )
        from byom_vertex import VertexModel

        with VertexModel(config, credentials=creds) as model:
            chat = [{"role": "user", "content": "hi"}]
            model.generate(chat)
            creds.expiry = datetime.datetime.utcnow() - datetime.timedelta(seconds=1)  # token expired
            model.generate(chat)
            list(model.stream(chat))
    tokens = [r.headers.get("authorization") for r in s.requests]
    assert tokens == ["Bearer token-1", "Bearer token-2", "Bearer token-2"]
    assert creds.refreshes == 2


def test_missing_service_account_file_is_a_config_error(tmp_path):
    config = {
        "provider": "vertex",
        **BASE,
        "credentials": {"kind": "service-account", "file": "missing.json"},
        "transport": "rest",
    }
    with _client({"m": config}, config_dir=tmp_path) as client:
        model = client.model("m")
        with pytest.raises(byom_sdk.ConfigError, match=r"missing\.json"):
            model.generate("hi")
