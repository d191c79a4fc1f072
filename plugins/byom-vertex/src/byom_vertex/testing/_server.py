"""``LocalVertexServer``: a Vertex AI prediction service on 127.0.0.1 for offline tests.

It speaks both wire protocols the GAPIC clients use:

- gRPC ``google.cloud.aiplatform.v1.PredictionService`` (Predict, RawPredict,
  StreamRawPredict, ServerStreamingPredict) and ``EndpointService/GetEndpoint``, served by
  generic handlers that (de)serialise with aiplatform's own proto classes;
- REST ``:predict``, ``:rawPredict``, ``:streamRawPredict``, ``:serverStreamingPredict``
  and ``GET`` of the endpoint. Raw calls accept both the container's own body (what curl
  and the real service use) and the GAPIC REST form that wraps bodies as HttpBody JSON
  (``{"httpBody": {"contentType", "data": base64}}``), answering in the same form.

Faults are injected per request (throttling, 503, 500, deadlines, auth, error bodies,
mid-stream aborts, delays) and every request is logged for assertions.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from byom_sdk import Model

from ._containers import CONTAINERS, BadBody, Container

__all__ = ["FAULTS", "Fault", "LocalVertexServer", "LoggedRequest"]

FaultKind = Literal[
    "throttled",
    "unavailable",
    "internal",
    "deadline",
    "bad_request",
    "unauthenticated",
    "permission_denied",
    "not_found",
    "error_body",
    "abort",
    "delay",
]
#: fault kind → (gRPC status name, HTTP status)
FAULTS: dict[str, tuple[str, int]] = {
    "throttled": ("RESOURCE_EXHAUSTED", 429),
    "unavailable": ("UNAVAILABLE", 503),
    "internal": ("INTERNAL", 500),
    "deadline": ("DEADLINE_EXCEEDED", 504),
    "bad_request": ("INVALID_ARGUMENT", 400),
    "unauthenticated": ("UNAUTHENTICATED", 401),
    "permission_denied": ("PERMISSION_DENIED", 403),
    "not_found": ("NOT_FOUND", 404),
}
_HTTP_STATUS_NAME = {status: name for name, status in FAULTS.values()}
_PATH = re.compile(
    r"^/v1/(projects/[^/]+/locations/[^/]+/endpoints/[^/:]+)(?::(predict|rawPredict|streamRawPredict|serverStreamingPredict))?$"
)


@dataclass
class Fault:
    """One injected fault.

    :param kind: what happens (see :data:`FAULTS`; ``error_body`` answers 200 with an error
        object in the body; ``abort`` breaks a stream after ``after_chunks`` chunks;
        ``delay`` sleeps ``seconds`` then answers normally).
    :param times: how many matching requests it applies to.
    :param method: only requests to this RPC (``"predict"``, ``"rawPredict"``…); ``None``: any.
    :param status: HTTP status reported inside an ``error_body`` (default 429).
    """

    kind: FaultKind
    times: int = 1
    method: str | None = None
    after_chunks: int = 1
    seconds: float = 0.0
    status: int = 429
    message: str | None = None

    def describe(self) -> str:
        return self.message or f"injected {self.kind} fault"


@dataclass
class LoggedRequest:
    """A request as the server received it."""

    transport: Literal["grpc", "rest"]
    method: str
    endpoint: str
    body: Any
    #: header / metadata names lower-cased (gRPC metadata already is)
    headers: dict[str, str]
    peer: str
    fault: str | None = None
    #: REST only: the body came wrapped as HttpBody JSON (GAPIC REST raw calls)
    wrapped: bool = False
    at: float = field(default_factory=time.monotonic)


class _Abort(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class LocalVertexServer:
    """A local Vertex prediction service (gRPC and REST) backed by a byom ``Model``.

    :param model: computes the answers (default: ``byom_sdk.testing.ScriptedModel()``).
    :param codec: the container personality: ``vllm``, ``tgi``, ``openai``, ``tei``,
        ``google-embeddings``; or pass ``container`` for your own.
    :param endpoint_resource: Endpoint fields (JSON names) merged into what GetEndpoint
        returns, e.g. ``{"dedicatedEndpointEnabled": True}``.
    :param chunk_size: re-cut streamed bytes into chunks of this many bytes (``None``:
        one chunk per container write); ``chunker`` gives full control.
    :param container_url: forward every call to a real container (e.g. ``byom serve
        --profile vertex``) at its ``predict_route``, as Vertex does; ``codec`` then only
        names the codec clients should use.

    Use it as a context manager::

        with LocalVertexServer(codec="vllm") as server:
            client = byom_sdk.Client(models={"m": server.model_config()})
    """

    def __init__(
        self,
        model: Model | None = None,
        *,
        codec: str = "vllm",
        container: Container | None = None,
        project: str = "test-project",
        location: str = "us-central1",
        endpoint_id: str = "1234567890",
        endpoint_resource: dict[str, Any] | None = None,
        chunk_size: int | None = None,
        chunker: Callable[[bytes], list[bytes]] | None = None,
        grpc: bool = True,
        rest: bool = True,
        container_url: str | None = None,
        predict_route: str = "/predict",
    ) -> None:
        if model is None:
            from byom_sdk.testing import ScriptedModel

            model = ScriptedModel()
        self.model = model
        self.codec = codec
        if container_url is not None:
            from ._forward import ForwardingContainer

            container = ForwardingContainer(container_url, predict_route=predict_route)
        if container is None:
            if codec not in CONTAINERS:
                raise ValueError(f"no container personality for codec {codec!r}; pass container=")
            container = CONTAINERS[codec](model)
        self.container = container
        self.project, self.location, self.endpoint_id = project, location, endpoint_id
        self.resource = f"projects/{project}/locations/{location}/endpoints/{endpoint_id}"
        self.endpoint_resource = dict(endpoint_resource or {})
        self.chunk_size = chunk_size
        self.chunker = chunker
        self.requests: list[LoggedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._want_grpc, self._want_rest = grpc, rest
        self._grpc_server: Any = None
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self.grpc_port: int | None = None
        self.rest_port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LocalVertexServer:
        if self._want_grpc:
            self._start_grpc()
        if self._want_rest:
            self._start_rest()
        return self

    def stop(self) -> None:
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None).wait(5)
            self._grpc_server = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join(5)
            self._http_thread = None

    def __enter__(self) -> LocalVertexServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    # -- what tests use -----------------------------------------------------------------

    def inject(self, kind: FaultKind, *, times: int = 1, method: str | None = None, **options: Any) -> Fault:
        """Queue a fault for the next ``times`` matching requests."""
        if kind not in FAULTS and kind not in ("error_body", "abort", "delay"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind=kind, times=times, method=method, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget logged requests and pending faults."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    def count(self, method: str | None = None) -> int:
        """How many requests reached the server (for ``method`` only, when given)."""
        return sum(1 for r in self.requests if method is None or r.method == method)

    def model_config(self, *, transport: Literal["grpc", "rest"] = "grpc", **overrides: Any) -> dict[str, Any]:
        """A ``provider = "vertex"`` model entry for ``byom_sdk.Client(models=...)``."""
        config: dict[str, Any] = {
            "provider": "vertex",
            "project": self.project,
            "location": self.location,
            "endpoint_id": self.endpoint_id,
            "transport": transport,
            "codec": self.codec if self.codec in CONTAINERS else "custom",
            "api_endpoint": self.grpc_target if transport == "grpc" else self.rest_url,
            "insecure": True,
            "credentials": {"kind": "anonymous"},
        }
        if self.codec in ("tei", "google-embeddings"):
            config["embedding_dimension"] = self.model.info.embedding_dimension
        config.update(overrides)
        return config

    def vertex_model(self, *, transport: Literal["grpc", "rest"] = "grpc", **overrides: Any) -> Any:
        """A ``VertexModel`` connected to this server (no Client, no retries)."""
        from .._config import VertexConfig
        from .._model import VertexModel

        options = self.model_config(transport=transport, **overrides)
        options.pop("provider")
        codec = options.pop("codec_instance", None)
        return VertexModel(VertexConfig.model_validate(options), codec=codec)

    # -- shared request handling ---------------------------------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method is None or fault.method == method:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _begin(
        self,
        transport: Literal["grpc", "rest"],
        method: str,
        endpoint: str,
        body: Any,
        headers: dict[str, str],
        peer: str,
        *,
        wrapped: bool = False,
    ) -> Fault | None:
        fault = self._take_fault(method)
        with self._lock:
            self.requests.append(
                LoggedRequest(transport, method, endpoint, body, headers, peer, fault.kind if fault else None, wrapped)
            )
        if endpoint != self.resource:
            raise _Abort("NOT_FOUND", 404, f"Endpoint `{endpoint}` not found.")
        if fault is None:
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return None
        if fault.kind in FAULTS:
            code, status = FAULTS[fault.kind]
            raise _Abort(code, status, fault.describe())
        return fault  # error_body / abort: the handler acts on it

    def _error_body(self, fault: Fault) -> dict[str, Any]:
        status = fault.status
        return {
            "error": {"code": status, "message": fault.describe(), "status": _HTTP_STATUS_NAME.get(status, "UNKNOWN")}
        }

    def _predict(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        if fault is not None and fault.kind == "error_body":
            result: dict[str, Any] = {"predictions": [self._error_body(fault)]}
        else:
            try:
                result = self.container.predict(body)
            except BadBody as exc:
                raise _Abort("INVALID_ARGUMENT", 400, str(exc)) from None
        return {
            **result,
            "deployedModelId": "1",
            "model": f"projects/{self.project}/locations/"
            f"{self.location}/models/{self.container.model_id.replace('/', '-')}",
        }

    def _raw(self, body: Any, fault: Fault | None) -> bytes:
        if fault is not None and fault.kind == "error_body":
            return json.dumps(self._error_body(fault)).encode()
        try:
            return json.dumps(self.container.raw(body)).encode()
        except BadBody as exc:
            raise _Abort("INVALID_ARGUMENT", 400, str(exc)) from None

    def _chunks(self, body: Any, fault: Fault | None) -> Iterator[bytes]:
        """The container's stream, re-cut as configured; an ``abort`` fault raises after
        ``after_chunks`` chunks; an ``error_body`` fault sends an error event first."""
        if fault is not None and fault.kind == "error_body":
            yield f"data: {json.dumps(self._error_body(fault))}\n\n".encode()
            return
        try:
            pieces = iter(self.container.stream(body))
            first = next(pieces, None)
        except BadBody as exc:
            raise _Abort("INVALID_ARGUMENT", 400, str(exc)) from None
        writes: Iterator[bytes] = itertools.chain([] if first is None else [first], pieces)
        if self.chunker is not None or self.chunk_size:
            joined = b"".join(writes)
            if self.chunker is not None:
                writes = iter(self.chunker(joined))
            else:
                size = self.chunk_size or 1
                writes = iter([joined[i : i + size] for i in range(0, len(joined), size)])
        for sent, chunk in enumerate(writes):
            if fault is not None and fault.kind == "abort" and sent >= fault.after_chunks:
                raise _Abort("UNAVAILABLE", 503, fault.describe())
            yield chunk

    def _outputs(self, body: dict[str, Any], fault: Fault | None) -> Iterator[dict[str, Any]]:
        try:
            outputs = list(self.container.server_streaming(body))
        except BadBody as exc:
            raise _Abort("INVALID_ARGUMENT", 400, str(exc)) from None
        for sent, item in enumerate(outputs):
            if fault is not None and fault.kind == "abort" and sent >= fault.after_chunks:
                raise _Abort("UNAVAILABLE", 503, fault.describe())
            yield item

    def endpoint_json(self) -> dict[str, Any]:
        """The Endpoint resource GetEndpoint returns (JSON field names)."""
        resource: dict[str, Any] = {
            "name": self.resource,
            "displayName": f"local-{self.codec}",
            "deployedModels": [
                {
                    "id": "1",
                    "model": f"projects/{self.project}/locations/{self.location}/models/1",
                    "displayName": self.container.model_id,
                    "disableContainerLogging": True,
                }
            ],
            "trafficSplit": {"1": 100},
            "createTime": "2026-01-01T00:00:00Z",
            "predictRequestResponseLoggingConfig": {"enabled": False},
        }
        resource.update(self.endpoint_resource)
        return resource

    # -- gRPC ----------------------------------------------------------------------------

    def _start_grpc(self) -> None:
        import grpc
        from google.api import httpbody_pb2
        from google.cloud.aiplatform_v1.types import endpoint as endpoint_types
        from google.cloud.aiplatform_v1.types import endpoint_service as es
        from google.cloud.aiplatform_v1.types import prediction_service as ps
        from google.protobuf import json_format

        from .._gapic import _fill, to_python

        def context_info(context: Any) -> tuple[dict[str, str], str]:
            headers = {k: v if isinstance(v, str) else repr(v) for k, v in context.invocation_metadata()}
            return headers, context.peer()

        def fail(context: Any, error: _Abort) -> None:
            context.abort(getattr(grpc.StatusCode, error.code), error.message)

        def predict(request: Any, context: Any) -> Any:
            pb = request._pb
            body: dict[str, Any] = {"instances": [to_python(v) for v in pb.instances]}
            if pb.HasField("parameters"):
                body["parameters"] = to_python(pb.parameters)
            try:
                fault = self._begin("grpc", "predict", pb.endpoint, body, *context_info(context))
                result = self._predict(body, fault)
            except _Abort as error:
                fail(context, error)
            out = ps.PredictResponse.pb()(deployed_model_id=result["deployedModelId"], model=result["model"])
            predictions = result["predictions"]
            for prediction in predictions if isinstance(predictions, list) else [predictions]:
                _fill(out.predictions.add(), prediction)
            return ps.PredictResponse.wrap(out)

        def raw_body(pb: Any) -> Any:
            try:
                return json.loads(pb.http_body.data or b"null")
            except ValueError:
                return pb.http_body.data

        def raw_predict(request: Any, context: Any) -> Any:
            pb = request._pb
            body = raw_body(pb)
            try:
                fault = self._begin("grpc", "rawPredict", pb.endpoint, body, *context_info(context))
                data = self._raw(body, fault)
            except _Abort as error:
                fail(context, error)
            return httpbody_pb2.HttpBody(content_type="application/json", data=data)

        def stream_raw_predict(request: Any, context: Any) -> Iterator[Any]:
            pb = request._pb
            body = raw_body(pb)
            try:
                fault = self._begin("grpc", "streamRawPredict", pb.endpoint, body, *context_info(context))
                for chunk in self._chunks(body, fault):
                    yield httpbody_pb2.HttpBody(content_type="text/event-stream", data=chunk)
            except _Abort as error:
                fail(context, error)

        def server_streaming_predict(request: Any, context: Any) -> Iterator[Any]:
            pb = request._pb
            body = json_format.MessageToDict(pb)
            try:
                fault = self._begin("grpc", "serverStreamingPredict", pb.endpoint, body, *context_info(context))
                for item in self._outputs(body, fault):
                    out = ps.StreamingPredictResponse.pb()()
                    json_format.ParseDict(item, out)
                    yield ps.StreamingPredictResponse.wrap(out)
            except _Abort as error:
                fail(context, error)

        def get_endpoint(request: Any, context: Any) -> Any:
            try:
                self._begin("grpc", "GetEndpoint", request.name, None, *context_info(context))
            except _Abort as error:
                fail(context, error)
            out = endpoint_types.Endpoint.pb()()
            json_format.ParseDict(self.endpoint_json(), out)
            return endpoint_types.Endpoint.wrap(out)

        httpbody_out = httpbody_pb2.HttpBody.SerializeToString
        prediction = grpc.method_handlers_generic_handler(
            "google.cloud.aiplatform.v1.PredictionService",
            {
                "Predict": grpc.unary_unary_rpc_method_handler(
                    predict,
                    request_deserializer=ps.PredictRequest.deserialize,
                    response_serializer=ps.PredictResponse.serialize,
                ),
                "RawPredict": grpc.unary_unary_rpc_method_handler(
                    raw_predict, request_deserializer=ps.RawPredictRequest.deserialize, response_serializer=httpbody_out
                ),
                "StreamRawPredict": grpc.unary_stream_rpc_method_handler(
                    stream_raw_predict,
                    request_deserializer=ps.StreamRawPredictRequest.deserialize,
                    response_serializer=httpbody_out,
                ),
                "ServerStreamingPredict": grpc.unary_stream_rpc_method_handler(
                    server_streaming_predict,
                    request_deserializer=ps.StreamingPredictRequest.deserialize,
                    response_serializer=ps.StreamingPredictResponse.serialize,
                ),
            },
        )
        endpoints = grpc.method_handlers_generic_handler(
            "google.cloud.aiplatform.v1.EndpointService",
            {
                "GetEndpoint": grpc.unary_unary_rpc_method_handler(
                    get_endpoint,
                    request_deserializer=es.GetEndpointRequest.deserialize,
                    response_serializer=endpoint_types.Endpoint.serialize,
                ),
            },
        )
        server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="local-vertex-grpc"))
        server.add_generic_rpc_handlers((prediction, endpoints))
        self.grpc_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc_server = server

    # -- REST ----------------------------------------------------------------------------

    def _start_rest(self) -> None:
        http = _HTTPServer(("127.0.0.1", 0), _Handler)
        http.vertex = self
        self.rest_port = http.server_address[1]
        # A short poll interval: stop() waits up to one interval for serve_forever to notice.
        thread = threading.Thread(
            target=http.serve_forever, kwargs={"poll_interval": 0.05}, name="local-vertex-rest", daemon=True
        )
        thread.start()
        self._http, self._http_thread = http, thread


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    vertex: LocalVertexServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # the client closed a stream it had read to [DONE]: normal
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output clean; the request log has everything

    # -- plumbing --------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error: _Abort) -> None:
        self._json(error.status, {"error": {"code": error.status, "message": error.message, "status": error.code}})

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Vertex-AI-Deployed-Model-Id", "1")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _break(self) -> None:
        # A mid-stream failure over HTTP: the connection drops without the final chunk.
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        vertex = self.server.vertex
        match = _PATH.match(self.path.split("?", 1)[0])
        if not match or match.group(2):
            self._error(_Abort("NOT_FOUND", 404, f"no route for GET {self.path}"))
            return
        try:
            vertex._begin(
                "rest",
                "GetEndpoint",
                match.group(1),
                None,
                {k.lower(): v for k, v in self.headers.items()},
                self.client_address[0],
            )
        except _Abort as error:
            self._error(error)
            return
        self._json(200, vertex.endpoint_json())

    def do_POST(self) -> None:
        vertex = self.server.vertex
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        match = _PATH.match(self.path.split("?", 1)[0])
        if not match or not match.group(2):
            self._error(_Abort("NOT_FOUND", 404, f"no route for POST {self.path}"))
            return
        endpoint, method = match.group(1), match.group(2)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._error(_Abort("INVALID_ARGUMENT", 400, "body is not JSON"))
            return
        wrapped = isinstance(body, dict) and "httpBody" in body
        if wrapped:  # GAPIC REST: {"httpBody": {"contentType", "data": base64}}
            inner = base64.b64decode(body["httpBody"].get("data") or b"")
            body = json.loads(inner or b"null")
        headers = {k.lower(): v for k, v in self.headers.items()}
        peer = self.client_address[0]
        try:
            fault = vertex._begin("rest", method, endpoint, body, headers, peer, wrapped=wrapped)
            if method == "predict":
                self._json(200, vertex._predict(body, fault), {"X-Vertex-AI-Deployed-Model-Id": "1"})
            elif method == "rawPredict":
                data = vertex._raw(body, fault)
                if wrapped:
                    self._json(200, {"contentType": "application/json", "data": base64.b64encode(data).decode()})
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("X-Vertex-AI-Deployed-Model-Id", "1")
                    self.send_header("X-Vertex-AI-Model", vertex.container.model_id)
                    self.end_headers()
                    self.wfile.write(data)
            elif method == "streamRawPredict":
                self._stream(vertex._chunks(body, fault), wrapped)
            else:
                self._stream_json(json.dumps(o).encode() for o in vertex._outputs(body, fault))
        except _Abort as error:
            self._error(error)

    def _stream(self, chunks: Iterator[bytes], wrapped: bool) -> None:
        if not wrapped:
            started = False
            try:
                for chunk in chunks:
                    if not started:
                        self._start_chunked("text/event-stream")
                        started = True
                    self._chunk(chunk)
            except _Abort as error:
                if not started:
                    self._error(error)
                else:
                    self._break()
                return
            if not started:
                self._start_chunked("text/event-stream")
            self.wfile.write(b"0\r\n\r\n")
            return
        self._stream_json(
            json.dumps({"contentType": "text/event-stream", "data": base64.b64encode(c).decode()}).encode()
            for c in chunks
        )

    def _stream_json(self, objects: Iterator[bytes]) -> None:
        """A streamed JSON array, the framing GAPIC REST server-streaming expects."""
        started = False
        try:
            for index, data in enumerate(objects):
                if not started:
                    self._start_chunked("application/json")
                    started = True
                self._chunk((b"[" if index == 0 else b",") + data)
        except _Abort as error:
            if not started:
                self._error(error)
            else:
                self._break()
            return
        if not started:
            self._start_chunked("application/json")
            self._chunk(b"[")
        self._chunk(b"]")
        self.wfile.write(b"0\r\n\r\n")
