"""The byom conformance suite against Vertex models talking to the local server: vLLM
(generate, chat, stream) over gRPC and REST, and TEI (embeddings) over gRPC."""

from __future__ import annotations

from typing import ClassVar

from byom_vertex.testing import LocalVertexServer

from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance

# conformance fault → (server fault kind, options)
_FAULTS = {
    "throttled": ("throttled", {}),
    "unavailable": ("unavailable", {}),
    "bad_request": ("bad_request", {}),
    "timeout": ("deadline", {}),
    "model_error": ("error_body", {"status": 424}),
}


class _VertexSuite(ModelConformance):
    codec: ClassVar[str] = "vllm"
    transport: ClassVar[str] = "grpc"
    # make_model starts a local server per model; its gRPC worker threads are the harness's.
    harness_threads = ("local-vertex-grpc",)
    _servers: ClassVar[list[LocalVertexServer]] = []
    _main: ClassVar[list[LocalVertexServer]] = []  # the servers behind make_model

    @classmethod
    def setup_class(cls) -> None:
        cls._servers, cls._main = [], []

    @classmethod
    def teardown_class(cls) -> None:
        while cls._servers:
            cls._servers.pop().stop()

    def _server(self) -> LocalVertexServer:
        server = LocalVertexServer(ScriptedModel(embedding_dimension=32), codec=self.codec).start()
        type(self)._servers.append(server)
        return server

    def make_model(self):
        server = self._server()
        type(self)._main.append(server)
        return server.vertex_model(transport=self.transport)

    def received_requests(self):
        # Oldest first across every make_model() server: lifecycle checks build models of
        # their own, and a list per server would put newer requests before older ones.
        logged = [r for server in self._main for r in server.requests if "predict" in r.method.lower()]
        return [r.body for r in sorted(logged, key=lambda r: r.at)]

    def make_faulty_model(self, fault):
        kind, options = _FAULTS[fault]
        server = self._server()
        server.inject(kind, times=1_000, **options)
        return server.vertex_model(transport=self.transport)


class TestVertexVLLMGrpcConformance(_VertexSuite):
    codec = "vllm"
    transport = "grpc"


class TestVertexVLLMRestConformance(_VertexSuite):
    codec = "vllm"
    transport = "rest"


class TestVertexTEIGrpcConformance(_VertexSuite):
    codec = "tei"
    transport = "grpc"
