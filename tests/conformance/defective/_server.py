"""A small inference server on 127.0.0.1 for the defective plugins: real HTTP, real faults.

Two wire formats share one backend (``ScriptedModel``, so answers are deterministic and
counted with the whitespace tokenizer the providers expose):

- the *echo API* for httpx providers: ``POST /{scenario}/generate`` (JSON, or NDJSON
  lines when ``"stream": true``) and ``POST /{scenario}/embed``;
- SageMaker's ``InvokeEndpoint`` for botocore providers:
  ``POST /endpoints/{scenario}/invocations``, errors in botocore's rest-json shape.

Scenarios: ``ok``, the conformance faults (``throttled`` with ``Retry-After``,
``unavailable``, ``bad_request``, ``timeout``, ``model_error``, ``auth``), ``slow``
(stalls ``slow_seconds`` before answering and again after a stream's first line) and
``broken`` (drops the connection after a stream's first line, or halfway through a unary
body). ``hits[scenario]`` counts the requests each scenario received.
Embeddings come back in reverse order with their ``index``, as OpenAI-style servers may.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from byom_sdk import EmbedRequest, GenerateRequest
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing._scripted import _smallest_instance

RETRY_AFTER = 7
#: scenario → (HTTP status, echo-API error code, SageMaker error type)
ERRORS = {
    "throttled": (429, "rate_limited", "ThrottlingException"),
    "unavailable": (503, "overloaded", "ServiceUnavailable"),
    "bad_request": (422, "invalid_request", "ValidationError"),
    "model_error": (424, "model_failed", "ModelError"),
    "auth": (401, "invalid_api_key", "UnrecognizedClientException"),
}


class EchoServer:
    """Start with ``with EchoServer() as server:`` or ``start()`` / ``stop()``."""

    def __init__(self, *, slow_seconds: float = 0.4, stall_seconds: float = 3.0) -> None:
        self.slow_seconds = slow_seconds
        self.stall_seconds = stall_seconds
        self.backend = ScriptedModel(embedding_dimension=8)
        self.hits: Counter[str] = Counter()
        #: scenario → the request bodies it received, parsed.
        self.bodies: dict[str, list[Any]] = {}
        self._hits_lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, scenario: str = "ok") -> str:
        return f"http://127.0.0.1:{self.port}/{scenario}"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EchoServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="echo-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread = None

    def requests(self, scenario: str) -> int:
        """How many requests ``scenario`` has received."""
        with self._hits_lock:
            return self.hits[scenario]

    def received(self, scenario: str) -> list[Any]:
        """The bodies ``scenario`` has received, oldest first."""
        with self._hits_lock:
            return list(self.bodies.get(scenario, ()))

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers --------------------------------------------------------------------------

    def generate_events(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The answer as stream lines; the unary answer is built from the same lines."""
        fields: dict[str, Any] = {"temperature": 0.0}
        if "messages" in body:
            fields["messages"] = body["messages"]
        else:
            fields["prompt"] = body.get("prompt", "")
        if body.get("max_tokens"):
            fields["max_tokens"] = body["max_tokens"]
        if body.get("stop"):
            fields["stop"] = tuple(body["stop"])
        request = GenerateRequest(**fields)
        if body.get("tools") and body.get("tool_choice") != "none":
            tool = body["tools"][0]
            name = tool.get("function", tool).get("name", "tool")
            usage = {"input_tokens": self.backend.tokenizer.count(_rendered(self.backend, request)), "output_tokens": 6}
            call = {"id": "call_1", "name": name, "arguments": json.dumps({"city": "Paris"})}
            return [{"tool_call": call}, {"finish_reason": "tool_calls", "usage": usage}]
        answer_format = body.get("response_format")
        if isinstance(answer_format, dict) and answer_format.get("type") == "json_schema":
            # A server with structured outputs: the smallest instance its schema accepts.
            text = json.dumps(_smallest_instance(answer_format["json_schema"]["schema"]))
            usage = {"input_tokens": self.backend.tokenizer.count(_rendered(self.backend, request)), "output_tokens": 4}
            return [{"delta": text}, {"finish_reason": "stop", "usage": usage}]
        events = list(self.backend._stream(request))
        lines: list[dict[str, Any]] = [{"delta": e.text} for e in events if e.type == "text"]
        finish = events[-1]
        assert finish.type == "finish" and finish.usage is not None
        usage = {"input_tokens": finish.usage.input_tokens, "output_tokens": finish.usage.output_tokens}
        lines.append({"finish_reason": finish.finish_reason, "usage": usage})
        return lines

    def embed(self, texts: list[str]) -> dict[str, Any]:
        response = self.backend._embed(EmbedRequest(texts=tuple(texts)))
        data = [{"index": i, "embedding": list(v)} for i, v in enumerate(response.vectors)]
        tokens = sum(self.backend.tokenizer.count(t) for t in texts)
        return {"data": data[::-1], "usage": {"input_tokens": tokens}}


def _rendered(backend: ScriptedModel, request: GenerateRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return backend.tokenizer.apply_chat_template(request.as_messages())


def unary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    text = "".join(line.get("delta", "") for line in lines)
    calls = [line["tool_call"] for line in lines if "tool_call" in line]
    return {"text": text, "tool_calls": calls, **lines[-1]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Concurrency checks open a dozen connections at once; the default backlog of 5 would
    # reset some of them.
    request_queue_size = 128
    app: EchoServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout) leaves a broken pipe behind; expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        parts = self.path.strip("/").split("/")
        sagemaker = parts[0] == "endpoints"
        scenario = parts[1] if sagemaker else parts[0]
        with app._hits_lock:
            app.hits[scenario] += 1
            app.bodies.setdefault(scenario, []).append(body)
        if scenario == "timeout":
            time.sleep(app.stall_seconds)
        if scenario in ERRORS:
            self._error(scenario, sagemaker)
            return
        if scenario == "slow":
            time.sleep(app.slow_seconds)
        if "texts" in body:
            self._send(200, json.dumps(app.embed(body["texts"])).encode())
            return
        lines = app.generate_events(body)
        if not body.get("stream"):
            answer = json.dumps(unary(lines)).encode()
            if scenario == "broken":  # announce the whole body, send half of it, hang up
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer[: len(answer) // 2])
                return
            self._send(200, answer)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, line in enumerate(lines):
            if index == 1 and scenario == "slow":
                time.sleep(app.slow_seconds)
            if index == 1 and scenario == "broken":  # no terminating chunk: the body is cut
                self.close_connection = True
                return
            data = json.dumps(line).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _error(self, scenario: str, sagemaker: bool) -> None:
        status, code, aws_type = ERRORS[scenario]
        headers = {"Retry-After": str(RETRY_AFTER)} if scenario == "throttled" else {}
        if sagemaker:
            # botocore's rest-json parser reads the type from this header; SageMaker sends
            # throttling as 400 ThrottlingException.
            status = 400 if scenario == "throttled" else status
            headers["x-amzn-ErrorType"] = f"{aws_type}:http://internal.amazon.com/"
            body = {"message": f"{scenario} scenario"}
        else:
            body = {"error": {"code": code, "message": f"{scenario} scenario"}}
        self._send(status, json.dumps(body).encode(), headers)
