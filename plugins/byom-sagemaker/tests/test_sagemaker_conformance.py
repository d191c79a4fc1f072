"""The byom conformance suite against SageMaker models talking to the local server:
TGI (generate + stream), OpenAI-style chat, and TEI (embeddings)."""

from __future__ import annotations

from typing import Any, ClassVar

from byom_sagemaker import SageMakerConfig, SageMakerModel
from byom_sagemaker.testing import LocalSageMakerServer

from byom_sdk import GenerateRequest, Message
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import BoundaryConformance, ModelConformance

# conformance fault → (server fault, its options, model config overrides)
_FAULTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "throttled": ("throttle", {}, {}),
    "unavailable": ("unavailable", {}, {}),
    "bad_request": ("validation", {}, {}),
    "timeout": ("delay", {"seconds": 0.6}, {"read_timeout": 0.2}),
    "model_error": ("model_error", {"original_status": 500}, {}),
}


class _SageMakerSuite(ModelConformance):
    codec: ClassVar[str] = "tgi"
    _servers: ClassVar[dict[str | None, LocalSageMakerServer]] = {}

    @classmethod
    def setup_class(cls) -> None:
        # One server per fault, started up front: their threads belong to the harness, not to
        # the models under test (close.releases_threads compares thread sets around a model).
        cls._servers = {}
        for fault in (None, *_FAULTS):
            server = LocalSageMakerServer(region="eu-west-1", part_size=11).start()
            # The scripted double calls the offered tool and follows response_format / a TGI
            # grammar, as vLLM, TGI and the TGI Messages API do.
            backing = ScriptedModel(embedding_dimension=32, tools=cls.codec == "openai", structured=True)
            server.add_endpoint("conformance", cls.codec, backing)
            cls._servers[fault] = server

    @classmethod
    def teardown_class(cls) -> None:
        while cls._servers:
            cls._servers.popitem()[1].stop()

    def _model(self, fault: str | None = None) -> SageMakerModel:
        server = self._servers[fault]
        overrides: dict[str, Any] = {"embedding_dimension": 32} if self.codec == "tei" else {}
        if fault is not None:
            kind, options, fault_overrides = _FAULTS[fault]
            overrides.update(fault_overrides)
            server.clear()
            server.inject(kind, times=1_000, **options)  # type: ignore[arg-type]
        config = server.model_config("conformance", **overrides)
        config.pop("provider")
        return SageMakerModel(SageMakerConfig(**config))

    def make_model(self) -> SageMakerModel:
        return self._model()

    def make_faulty_model(self, fault: str) -> SageMakerModel:
        return self._model(fault)

    def received_requests(self) -> list[bytes]:
        return [r.body for r in self._servers[None].requests_for("conformance")]


class TestSageMakerTGIConformance(_SageMakerSuite):
    codec = "tgi"
    preview = True  # the preview group passes too (close.releases_threads)


class TestSageMakerOpenAIConformance(_SageMakerSuite):
    codec = "openai"

    def tool_request(self, model: SageMakerModel) -> GenerateRequest:
        weather = {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                    "required": ["city", "days"],
                },
            },
        }
        return GenerateRequest(
            messages=[Message(role="user", content="Weather in Lisbon?")], tools=(weather,), tool_choice="required"
        )


class TestSageMakerTEIConformance(_SageMakerSuite):
    codec = "tei"
    preview = True


class TestSageMakerBoundaryConformance(BoundaryConformance):
    def make_model(self) -> SageMakerModel:
        return SageMakerModel(
            SageMakerConfig(
                endpoint_name="support-llm",
                region="eu-central-1",
                codec="tgi",
                inference_component="ic-1",
                credentials={"access_key_id": "AKIDX", "secret_access_key": "x"},
            )
        )

    def expected_boundary(self) -> dict[str, Any]:
        return {
            "provider": "sagemaker",
            "location_kind": "customer-cloud",
            "region": "eu-central-1",
            "endpoint": "https://runtime.sagemaker.eu-central-1.amazonaws.com/endpoints/support-llm",
            "tls": True,
            "network_path": "aws-public-endpoint",
            "retention": None,
        }
