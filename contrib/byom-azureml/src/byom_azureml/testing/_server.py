"""``LocalAzureMLServer``: an Azure ML managed online endpoint on 127.0.0.1.

It serves what a managed online endpoint serves: the OpenAI-style chat route
``/v1/chat/completions`` (JSON, or SSE in chunked transfer encoding ending with ``[DONE]``,
with usage when ``stream_options.include_usage`` is set) and a scoring script's ``/score``
(``{"input_data": {"input_string": [...], "parameters": {...}}}`` → ``[{"0": text}]``). It
checks ``Authorization: Bearer <key>`` like the endpoint (401 without, 403 with a key it does
not know), routes ``azureml-model-deployment`` to a known deployment (404 otherwise), and logs
every request. Answers come from a byom provider (an echoing ``ScriptedModel`` by default).

Faults are chosen by a path prefix, ``/fault/<name>/...`` (:meth:`fault_url`), with the
statuses and bodies the service sends: see :data:`FAULTS`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from byom_sdk import ByomError, GenerateRequest, Provider, messages_from_openai
from byom_sdk.testing import ScriptedModel

__all__ = ["FAULTS", "LocalAzureMLServer", "LoggedRequest"]

#: fault name → (status, headers, body); ``slow`` sleeps past the client's read timeout.
FAULTS: dict[str, tuple[int, dict[str, str], dict[str, Any]]] = {
    "throttled": (429, {"Retry-After": "2"}, {"message": "Too many requests; retry later"}),
    "unavailable": (503, {"Retry-After": "1"}, {"message": "Service unavailable: no healthy upstream"}),
    "auth": (401, {}, {"message": "Invalid authentication credentials"}),
    "forbidden": (403, {}, {"message": "Forbidden: the key has no access to this deployment"}),
    "request_timeout": (408, {}, {"message": "Request timed out after 90 s of scoring"}),
    "model_error": (424, {}, {"message": "The model's scoring script failed: CUDA out of memory"}),
    "bad_request": (400, {}, {"message": "input_data is required"}),
}


@dataclass
class LoggedRequest:
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.log.append(LoggedRequest(self.path, headers, body))
        path = self.path
        if path.startswith("/fault/"):
            _, _, name, path = path.split("/", 3)
            path = "/" + path
            if name == "slow":
                time.sleep(self.server.slow_seconds)
            elif name == "disconnect":
                self.close_connection = True
                return
            else:
                status, extra, error = FAULTS[name]
                self._json(status, error, extra)
                return
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            self._json(401, {"message": "Missing authorization header"})
            return
        if auth.removeprefix("Bearer ") != self.server.key:
            self._json(403, {"message": "Key not authorized for this endpoint"})
            return
        deployment = headers.get("azureml-model-deployment")
        if deployment is not None and deployment not in self.server.deployments:
            self._json(404, {"message": f"deployment '{deployment}' not found"})
            return
        try:
            if path == "/score":
                self._score(body)
            elif path == "/v1/chat/completions":
                self._chat(body)
            else:
                self._json(404, {"message": f"no route {path}"})
        except ByomError as exc:
            self._json(424, {"message": str(exc)})

    def _score(self, body: Any) -> None:
        data = body.get("input_data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("input_string"):
            self._json(400, {"message": "input_data.input_string is required"})
            return
        params = data.get("parameters") or {}
        request = GenerateRequest(prompt=data["input_string"][0], max_tokens=params.get("max_new_tokens"))
        self._json(200, [{"0": self.server.model.generate(request).text}])

    def _chat(self, body: dict[str, Any]) -> None:
        request = GenerateRequest(
            messages=messages_from_openai(body["messages"]),
            max_tokens=body.get("max_tokens"),
            temperature=body.get("temperature"),
            stop=tuple(body["stop"]) if isinstance(body.get("stop"), list) else body.get("stop") or (),
            tools=tuple(body.get("tools") or ()),
        )
        model = self.server.model
        if not body.get("stream"):
            reply = model.generate(request)
            counts = {"prompt_tokens": reply.usage.input_tokens, "completion_tokens": reply.usage.output_tokens}
            message = {"role": "assistant", "content": reply.text}
            choice = {"index": 0, "message": message, "finish_reason": reply.finish_reason}
            self._json(200, {"object": "chat.completion", "choices": [choice], "usage": counts})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        usage: dict[str, int] | None = None
        for event in model.stream(request):
            delta: dict[str, Any] = {}
            reason = None
            if event.type == "text":
                delta = {"content": event.text}
            elif event.type == "finish":
                reason = event.finish_reason
                if event.usage is not None:
                    usage = {"prompt_tokens": event.usage.input_tokens, "completion_tokens": event.usage.output_tokens}
            else:
                continue
            chunk = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if usage is not None and (body.get("stream_options") or {}).get("include_usage"):
            self._chunk(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # concurrent clients connect at once; the default backlog of 5 resets them

    def __init__(self, model: Provider, key: str, deployments: tuple[str, ...], slow_seconds: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model = model
        self.key = key
        self.deployments = deployments
        self.slow_seconds = slow_seconds
        self.log: list[LoggedRequest] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up first (a timeout scenario): expected, not a server bug
        super().handle_error(request, client_address)


class LocalAzureMLServer:
    """A managed online endpoint on 127.0.0.1 (use as a context manager).

    :param model: answers requests (an echoing ``ScriptedModel`` by default).
    :param key: the endpoint key clients must send as ``Authorization: Bearer``.
    :param deployments: deployment names ``azureml-model-deployment`` may pick.
    :param slow_seconds: how long the ``slow`` fault waits before answering.
    """

    def __init__(
        self,
        model: Provider | None = None,
        *,
        key: str = "aml-test-key",
        deployments: tuple[str, ...] = ("blue", "green"),
        slow_seconds: float = 2.0,
    ) -> None:
        self._server = _Server(model or ScriptedModel(), key, deployments, slow_seconds)
        self._thread = threading.Thread(target=self._server.serve_forever, name="azureml-server", daemon=True)
        self.key = key

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fault_url(self, fault: str) -> str:
        """The endpoint root whose every call fails with ``fault`` (see :data:`FAULTS`,
        plus ``slow`` and ``disconnect``)."""
        return f"{self.url}/fault/{fault}"

    @property
    def requests(self) -> list[LoggedRequest]:
        return self._server.log

    def __enter__(self) -> LocalAzureMLServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
