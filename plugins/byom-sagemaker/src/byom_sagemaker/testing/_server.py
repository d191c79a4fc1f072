"""``LocalSageMakerServer``: the SageMaker Runtime API on 127.0.0.1, for offline tests.

It speaks the real wire protocol (so the real boto3 client is what gets tested):
``POST /endpoints/{name}/invocations`` and ``/invocations-response-stream`` with AWS
event-stream framing over chunked transfer, the ``X-Amzn-SageMaker-*`` headers, error
bodies with ``x-amzn-ErrorType``, and optional SigV4 verification with ``botocore.auth``.
Behind each endpoint sits a container personality backed by any byom Model. Faults are
injected per call, and every request is logged for assertions::

    with LocalSageMakerServer() as server:
        server.add_endpoint("chat", codec="tgi")
        server.inject("throttle", times=2)
        client = byom_sdk.Client(models={"bot": server.model_config("chat")})
        client.model("bot").generate("hi")
        assert len(server.requests) == 3
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from byom_sdk import Model

from ._eventstream import encode_exception, encode_payload_part
from ._personalities import ContainerFailure, Personality, personality_for

__all__ = ["Endpoint", "Fault", "FaultKind", "LocalSageMakerServer", "LoggedRequest"]

FaultKind = Literal[
    "throttle",
    "too_many_requests",
    "not_ready",
    "model_error",
    "unavailable",
    "internal_failure",
    "validation",
    "dependency_failure",
    "access_denied",
    "model_stream_error",
    "internal_stream_failure",
    "delay",
]

#: pre-response faults: (HTTP status, x-amzn-ErrorType, default message)
_HTTP_FAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "too_many_requests": (429, "429", "Too Many Requests"),
    "not_ready": (429, "ModelNotReadyException", "Model is not ready yet; loading"),
    "model_error": (424, "ModelError", "Received server error from primary with message"),
    "unavailable": (503, "ServiceUnavailable", "Service Unavailable"),
    "internal_failure": (500, "InternalFailure", "An internal failure occurred"),
    "validation": (400, "ValidationError", "Invalid request"),
    "dependency_failure": (530, "InternalDependencyException", "Internal dependency failed"),
    "access_denied": (403, "AccessDeniedException", "not authorized to perform: sagemaker:InvokeEndpoint"),
}
_STREAM_FAULTS = frozenset({"model_stream_error", "internal_stream_failure"})
_ROUTE = re.compile(r"^/endpoints/([^/?]+)/(invocations|invocations-response-stream)$")
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)
ACCOUNT = "123456789012"


@dataclass
class Fault:
    """A queued failure.

    :param kind: what to do (see :data:`FaultKind`).
    :param times: how many calls it applies to.
    :param endpoint: only calls to this endpoint (None: any endpoint).
    :param original_status: the container status a ``model_error`` reports.
    :param after_parts: PayloadParts sent before a mid-stream fault.
    :param seconds: the pause of a ``delay`` (the call then proceeds normally).
    :param retry_after: a ``Retry-After`` header value for HTTP faults.
    :param message: overrides the default error message.
    """

    kind: FaultKind
    times: int = 1
    endpoint: str | None = None
    original_status: int = 500
    after_parts: int = 1
    seconds: float = 0.0
    retry_after: float | None = None
    message: str | None = None


@dataclass
class LoggedRequest:
    """One request as the server received it (header names lower-case)."""

    method: str
    path: str
    endpoint: str | None
    operation: str
    headers: dict[str, str]
    body: bytes
    client: str
    signature: Literal["valid", "invalid", "unchecked"] = "unchecked"
    status: int = 0
    fault: str | None = None
    received: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Endpoint:
    """One endpoint: a personality and the byom Model behind it.

    :param inference_components: when set, calls must name one of these components
        (``InferenceComponentName``) and it picks the model.
    :param variants: production variants a ``TargetVariant`` may name.
    """

    name: str
    personality: Personality
    model: Model
    inference_components: dict[str, Model] | None = None
    variants: tuple[str, ...] = ("AllTraffic",)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many concurrent clients connect at once; the default backlog is 5
    app: LocalSageMakerServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; keep them for assertions instead.
        import sys

        self.app.errors.append(sys.exc_info()[1] or RuntimeError("unknown handler error"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 60  # idle keep-alive connections end on their own

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.server.app._handle(self)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._send(200, b"", {"Content-Type": "text/plain"})
        else:
            self._send(404, b'{"message": "not found"}', {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalSageMakerServer:
    """A SageMaker Runtime server on ``127.0.0.1`` (ephemeral port) for tests.

    :param region: the region the server claims to be (used for SigV4 checks).
    :param credentials: access key → secret key; when given, every request's SigV4
        signature is verified and bad ones get 403 ``InvalidSignatureException``.
    :param part_size: split container output into PayloadParts of at most this many
        bytes (small values exercise the client's buffering); None keeps each chunk whole.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        part_size: int | None = None,
    ) -> None:
        self.region = region
        self.credentials = dict(credentials) if credentials is not None else None
        self.part_size = part_size
        self.endpoints: dict[str, Endpoint] = {}
        self._faults: list[Fault] = []
        #: exceptions raised inside the server (a personality bug, a socket torn down mid-reply).
        self.errors: list[BaseException] = []
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- setup ----------------------------------------------------------------------------

    def add_endpoint(
        self,
        name: str,
        codec: str | Personality = "tgi",
        model: Model | None = None,
        *,
        inference_components: Mapping[str, Model] | None = None,
        variants: tuple[str, ...] = ("AllTraffic",),
        container_url: str | None = None,
        **options: Any,
    ) -> Endpoint:
        """Serve an endpoint. ``codec`` names a built-in personality (options as keywords)
        or is a :class:`Personality`; ``model`` defaults to a ``ScriptedModel`` echo.

        With ``container_url`` the endpoint forwards every call to a real container's
        ``/invocations`` (e.g. ``byom serve --profile sagemaker``) instead, and ``codec``
        only names the codec clients should use for it.
        """
        if model is None:
            from byom_sdk.testing import ScriptedModel

            model = ScriptedModel(model_id=name)
        if container_url is not None:
            from ._forward import ForwardingPersonality

            codec = ForwardingPersonality(container_url, codec=codec if isinstance(codec, str) else codec.name)
        personality = codec if isinstance(codec, Personality) else personality_for(codec, **options)
        endpoint = Endpoint(
            name, personality, model, dict(inference_components) if inference_components else None, tuple(variants)
        )
        with self._lock:
            self.endpoints[name] = endpoint
        return endpoint

    def inject(self, kind: FaultKind, *, times: int = 1, endpoint: str | None = None, **params: Any) -> Fault:
        """Queue a fault for the next ``times`` matching calls (see :class:`Fault`)."""
        if kind not in _HTTP_FAULTS and kind not in _STREAM_FAULTS and kind != "delay":
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(kind=kind, times=times, endpoint=endpoint, **params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget queued faults and the request log."""
        with self._lock:
            self._faults.clear()
            self._log.clear()

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def requests_for(self, endpoint: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalSageMakerServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-sagemaker", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # unblock handler threads waiting on keep-alive reads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> LocalSageMakerServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: pass it as ``endpoint_url``."""
        if self._httpd is None:
            raise RuntimeError("LocalSageMakerServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def model_config(self, endpoint: str, *, codec: str | None = None, **overrides: Any) -> dict[str, Any]:
        """A ``[models.ALIAS]`` mapping for ``byom_sdk.Client`` pointing at this server."""
        served = self.endpoints[endpoint].personality
        config: dict[str, Any] = {
            "provider": "sagemaker",
            "endpoint_name": endpoint,
            "region": self.region,
            "codec": codec or served.name,
            "endpoint_url": self.url,
            "credentials": self.static_credentials(),
        }
        config.update(overrides)
        return config

    def static_credentials(self) -> dict[str, str]:
        """Static keys this server accepts (the first configured pair, or test keys)."""
        if self.credentials:
            key, secret = next(iter(self.credentials.items()))
            return {"access_key_id": key, "secret_access_key": secret}
        return {"access_key_id": "AKIDLOCALTEST", "secret_access_key": "local-test-secret"}

    # -- request handling -------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _take_fault(self, endpoint: str, streaming: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.endpoint not in (None, endpoint):
                    continue
                if fault.kind in _STREAM_FAULTS and not streaming:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _verify(
        self, handler: _Handler, headers: Mapping[str, str], body: bytes
    ) -> tuple[Literal["valid", "invalid"], str | None]:
        """("valid" | "invalid", error code)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        assert self.credentials is not None
        match = _AUTH.match(headers.get("authorization", ""))
        if match is None:
            return "invalid", "MissingAuthenticationTokenException"
        secret = self.credentials.get(match["key"])
        if secret is None:
            return "invalid", "UnrecognizedClientException"
        signed = match["signed"].split(";")
        request = AWSRequest(
            method=handler.command,
            url=f"http://{headers.get('host', '')}{handler.path}",
            data=body,
            headers={name: headers[name] for name in signed if name in headers},
        )
        request.context["timestamp"] = headers.get("x-amz-date", "")
        auth = SigV4Auth(Credentials(match["key"], secret), match["service"], self.region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        ok = hmac.compare_digest(expected, match["signature"]) and match["region"] == self.region
        return ("valid", None) if ok else ("invalid", "InvalidSignatureException")

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        route = _ROUTE.match(handler.path)
        entry = LoggedRequest(
            method=handler.command,
            path=handler.path,
            endpoint=route[1] if route else None,
            operation=("invoke_stream" if route[2].endswith("stream") else "invoke") if route else "unknown",
            headers=headers,
            body=body,
            client=handler.client_address[0],
        )
        with self._lock:
            self._log.append(entry)
        try:
            self._respond(handler, entry, route)
        except OSError:
            entry.status = entry.status or 499  # the client gave up (e.g. its read timeout)
            handler.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a broken personality must not kill the server.
            self.errors.append(exc)
            if entry.status:  # headers already sent: all we can do is drop the connection
                handler.close_connection = True
                return
            self._error(handler, entry, 500, "InternalFailure", f"local server error: {exc!r}")

    def _error(
        self,
        handler: _Handler,
        entry: LoggedRequest,
        status: int,
        code: str,
        message: str,
        extra: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        entry.status = status
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        handler._send(status, json.dumps({"message": message, **(extra or {})}).encode(), headers)

    def _respond(self, handler: _Handler, entry: LoggedRequest, route: re.Match[str] | None) -> None:
        if self.credentials is not None:
            entry.signature, code = self._verify(handler, entry.headers, entry.body)
            if code is not None:
                messages = {
                    "InvalidSignatureException": "The request signature we calculated does not match the signature "
                    "you provided.",
                    "UnrecognizedClientException": "The security token included in the request is invalid.",
                    "MissingAuthenticationTokenException": "Missing Authentication Token",
                }
                self._error(handler, entry, 403, code, messages[code])
                return
        if route is None:
            self._error(handler, entry, 404, "UnknownOperationException", f"no route for {handler.path}")
            return
        with self._lock:
            endpoint = self.endpoints.get(route[1])
        if endpoint is None:
            self._error(handler, entry, 400, "ValidationError", f"Endpoint {route[1]} of account {ACCOUNT} not found.")
            return
        model = endpoint.model
        component = entry.header("x-amzn-sagemaker-inference-component")
        if endpoint.inference_components is not None:
            if component is None:
                self._error(
                    handler,
                    entry,
                    400,
                    "ValidationError",
                    "Inference Component Name header is required for endpoints to which you plan to deploy "
                    "inference components. Please include Inference Component Name header or consider "
                    "using SageMaker models.",
                )
                return
            if component not in endpoint.inference_components:
                self._error(
                    handler,
                    entry,
                    400,
                    "ValidationError",
                    f"Inference component {component} not found on endpoint {endpoint.name}.",
                )
                return
            model = endpoint.inference_components[component]
        variant = entry.header("x-amzn-sagemaker-target-variant")
        if variant is not None and variant not in endpoint.variants:
            self._error(
                handler,
                entry,
                400,
                "ValidationError",
                f"Target variant {variant} not found for endpoint {endpoint.name}.",
            )
            return
        streaming = entry.operation == "invoke_stream"
        fault = self._take_fault(endpoint.name, streaming)
        if fault is not None and fault.kind == "delay":
            entry.fault = "delay"
            time.sleep(fault.seconds)
            fault = self._take_fault(endpoint.name, streaming)
        if fault is not None and fault.kind in _HTTP_FAULTS:
            entry.fault = fault.kind
            status, code, message = _HTTP_FAULTS[fault.kind]
            extra = None
            if fault.kind == "model_error":
                original = json.dumps({"error": fault.message or "container failed", "error_type": "generation"})
                message = f'Received server error ({fault.original_status}) from primary with message "{original}"'
                extra = {
                    "OriginalStatusCode": fault.original_status,
                    "OriginalMessage": original,
                    "LogStreamArn": self._log_group(endpoint.name),
                }
            self._error(handler, entry, status, code, fault.message or message, extra, fault.retry_after)
            return
        if streaming:
            self._stream(handler, entry, endpoint, model, fault)
        else:
            self._invoke(handler, entry, endpoint, model)

    def _log_group(self, endpoint: str) -> str:
        return f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{endpoint}"

    def _container_error(
        self, handler: _Handler, entry: LoggedRequest, endpoint: Endpoint, failure: ContainerFailure
    ) -> None:
        original = json.dumps(failure.body)
        kind = "client" if failure.status < 500 else "server"
        self._error(
            handler,
            entry,
            424,
            "ModelError",
            f'Received {kind} error ({failure.status}) from primary with message "{original}". See '
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/ for more information.",
            {
                "OriginalStatusCode": failure.status,
                "OriginalMessage": original,
                "LogStreamArn": self._log_group(endpoint.name),
            },
        )

    def _invoke(self, handler: _Handler, entry: LoggedRequest, endpoint: Endpoint, model: Model) -> None:
        try:
            payload, content_type = endpoint.personality.invoke(model, entry.body, entry.headers)
        except ContainerFailure as failure:
            self._container_error(handler, entry, endpoint, failure)
            return
        entry.status = 200
        headers = {
            "Content-Type": content_type,
            "x-Amzn-Invoked-Production-Variant": endpoint.variants[0],
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        attributes = entry.header("x-amzn-sagemaker-custom-attributes")
        if attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        handler._send(200, payload, headers)

    def _parts(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        size = self.part_size
        for chunk in chunks:
            if not size:
                yield chunk
                continue
            for start in range(0, len(chunk), size):
                yield chunk[start : start + size]

    def _stream(
        self, handler: _Handler, entry: LoggedRequest, endpoint: Endpoint, model: Model, fault: Fault | None
    ) -> None:
        chunks = endpoint.personality.stream(model, entry.body, entry.headers)
        try:
            first = next(chunks, None)  # a container failing before any output is a plain ModelError
        except ContainerFailure as failure:
            self._container_error(handler, entry, endpoint, failure)
            return
        entry.status = 200
        # A forwarded container says its content type only once it has answered.
        content_type = getattr(chunks, "content_type", None) or endpoint.personality.stream_content_type
        handler.send_response(200)
        handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
        handler.send_header("X-Amzn-SageMaker-Content-Type", content_type)
        handler.send_header("x-Amzn-Invoked-Production-Variant", endpoint.variants[0])
        handler.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def write(frame: bytes) -> None:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))

        def all_chunks() -> Iterator[bytes]:
            if first is not None:
                yield first
            yield from chunks

        try:
            self._write_parts(write, all_chunks(), entry, fault)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:  # a forwarded stream holds a connection to the container
                close()
        handler.wfile.write(b"0\r\n\r\n")

    def _write_parts(self, write: Any, chunks: Iterator[bytes], entry: LoggedRequest, fault: Fault | None) -> None:
        sent = 0
        try:
            for part in self._parts(chunks):
                if fault is not None and sent >= fault.after_parts:
                    break
                write(encode_payload_part(part))
                sent += 1
        except ContainerFailure as failure:
            write(encode_exception("ModelStreamError", json.dumps(failure.body), error_code="StreamBroken"))
            entry.fault = "container_failure"
        else:
            if fault is not None:
                entry.fault = fault.kind
                if fault.kind == "model_stream_error":
                    write(
                        encode_exception(
                            "ModelStreamError",
                            fault.message or "Model stream broke",
                            error_code="ModelInvocationTimeExceeded",
                        )
                    )
                else:
                    write(encode_exception("InternalStreamFailure", fault.message or "Internal stream failure"))
