"""``OpenAICompatServer``: the OpenAI-compatible wire protocol over ``http.server``.

It speaks what vLLM / llama.cpp server / Ollama speak: ``/v1/chat/completions``,
``/v1/completions`` and ``/v1/embeddings`` with JSON bodies, SSE streaming in chunked
transfer encoding ending with ``data: [DONE]``, usage in the last chunk when
``stream_options.include_usage`` is set, and OpenAI-style error bodies. Answers come
from a byom ``Model`` (a ``ScriptedModel`` unless given), so it is deterministic.

Fault scenarios are chosen by a path prefix, ``/fault/<name>/v1/...``, so a faulty model
is just a model whose ``base_url`` is :meth:`OpenAICompatServer.fault_url`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from byom_sdk import ByomError, GenerateRequest, Model, ProviderError, messages_from_openai
from byom_sdk.testing import ScriptedModel

__all__ = ["FAULT_SCENARIOS", "OpenAICompatServer"]

#: name → what the server does
FAULT_SCENARIOS = {
    "throttled": "429 with Retry-After: 1 and an OpenAI rate_limit_exceeded body",
    "unavailable": "503 with an OpenAI server_error body",
    "bad_request": "400 with an OpenAI invalid_request_error body naming 'messages'",
    "auth": "401 with an OpenAI invalid_api_key body",
    "model_error": "424 with a TGI-style generation error body",
    "timeout": "sleeps `timeout_delay` seconds before answering (longer than the client read timeout)",
    "stream_error": "streams one delta, then an in-stream error chunk",
    "disconnect": "closes the connection without answering",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -----------------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str, code: str | None = None, **extra: str) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": code, "param": None}}, extra)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()

    def _sse(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {text}\n\n".encode())

    # -- routing ------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/v1/models"):
            self._send_json(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model"}]})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        # Servers route on the path and ignore a query they do not know (Azure OpenAI's
        # ?api-version= reaches vLLM behind a gateway too); the query is logged for tests.
        path, _, query = self.path.partition("?")
        fault = None
        if path.startswith("/fault/"):
            _, _, rest = path.partition("/fault/")
            fault, _, path = rest.partition("/")
            path = "/" + path
        with self.server.lock:
            self.server.received.append((fault, raw))
            self.server.queries.append(query)
        if self.server.api_key and self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._error(400, "body is not JSON", "invalid_request_error")
        if fault is not None and fault != "stream_error":
            return self._fault(fault)
        route = path.rstrip("/")
        try:
            if route.endswith("/v1/chat/completions"):
                return self._generate(body, chat=True, fault=fault)
            if route.endswith("/v1/completions"):
                return self._generate(body, chat=False, fault=fault)
            if route.endswith("/v1/embeddings"):
                return self._embeddings(body)
        except ProviderError as exc:
            return self._error(exc.status_code or 500, exc.message, "server_error")
        except (ByomError, ValueError) as exc:
            return self._error(400, str(exc), "invalid_request_error")
        return self._error(404, f"no route {self.path}", "not_found")

    def _fault(self, fault: str) -> None:
        if fault == "throttled":
            return self._error(429, "Rate limit reached", "requests", "rate_limit_exceeded", **{"Retry-After": "1"})
        if fault == "unavailable":
            return self._error(503, "The server is overloaded or not ready yet.", "server_error")
        if fault == "bad_request":
            return self._error(400, "'messages' must contain at least one message", "invalid_request_error")
        if fault == "auth":
            return self._error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        if fault == "model_error":
            return self._send_json(
                424, {"error": "CUDA error: device-side assert triggered", "error_type": "generation"}
            )
        if fault == "timeout":
            time.sleep(self.server.timeout_delay)
            return self._error(503, "too late", "server_error")
        if fault == "disconnect":
            self.close_connection = True
            self.connection.close()
            return None
        return self._error(404, f"unknown fault scenario {fault!r}", "not_found")

    # -- generation ---------------------------------------------------------------------

    def _request(self, body: dict[str, Any], chat: bool) -> GenerateRequest:
        fields: dict[str, Any] = {}
        if chat:
            fields["messages"] = messages_from_openai(body.get("messages") or ())
        else:
            prompt = body.get("prompt", "")
            fields["prompt"] = prompt if isinstance(prompt, str) else "".join(prompt)
        for key in ("max_tokens", "temperature", "top_p", "top_k", "seed"):
            if body.get(key) is not None:
                fields[key] = body[key]
        stop = body.get("stop")
        if stop:
            fields["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        if body.get("tools"):
            fields["tools"] = tuple(body["tools"])
            fields["tool_choice"] = body.get("tool_choice")
        if isinstance(body.get("response_format"), dict):
            fields["response_format"] = body["response_format"]
        return GenerateRequest(**fields)

    def _generate(self, body: dict[str, Any], *, chat: bool, fault: str | None) -> None:
        model = self.server.model
        request = self._request(body, chat)
        created = int(time.time())
        ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:12]}"
        obj = "chat.completion" if chat else "text_completion"
        name = body.get("model") or self.server.model_name
        if not body.get("stream"):
            reply = model.generate(request)
            choice: dict[str, Any] = {"index": 0, "finish_reason": reply.finish_reason, "logprobs": None}
            if chat:
                choice["message"] = {"role": "assistant", "content": reply.text}
                if reply.tool_calls:
                    choice["message"]["tool_calls"] = [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in reply.tool_calls
                    ]
            else:
                choice["text"] = reply.text
            usage = {
                "prompt_tokens": reply.usage.input_tokens,
                "completion_tokens": reply.usage.output_tokens,
                "total_tokens": reply.usage.total_tokens,
            }
            return self._send_json(
                200,
                {
                    "id": ident,
                    "object": obj,
                    "created": created,
                    "model": name,
                    "choices": [choice],
                    "usage": usage,
                },
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk_obj = "chat.completion.chunk" if chat else "text_completion"

        def chunk(choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": ident,
                "object": chunk_obj,
                "created": created,
                "model": name,
                "choices": [choice] if choice else [],
            }
            if usage is not None:
                out["usage"] = usage
            return out

        if chat:
            self._sse(chunk({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}))
        sent = 0
        for event in model.stream(request):
            if event.type == "text":
                delta = {"content": event.text} if chat else None
                self._sse(
                    chunk(
                        {"index": 0, "delta": delta, "finish_reason": None}
                        if chat
                        else {"index": 0, "text": event.text, "finish_reason": None}
                    )
                )
                sent += 1
                if fault == "stream_error":
                    self._sse({"error": {"message": "generation failed mid-stream", "type": "server_error"}})
                    break
            elif event.type == "tool_call" and chat:
                # As vLLM streams them: id, type and name first, then the arguments in pieces.
                call = event.tool_call
                index = sent
                head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name}}
                self._sse(chunk({"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}))
                half = len(call.arguments) // 2
                for piece in (call.arguments[:half], call.arguments[half:]):
                    fragment = {"index": index, "function": {"arguments": piece}}
                    self._sse(chunk({"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": None}))
                sent += 1
            elif event.type == "finish":
                final = (
                    {"index": 0, "delta": {}, "finish_reason": event.finish_reason}
                    if chat
                    else {"index": 0, "text": "", "finish_reason": event.finish_reason}
                )
                self._sse(chunk(final))
                if include_usage and event.usage is not None:
                    self._sse(
                        chunk(
                            None,
                            {
                                "prompt_tokens": event.usage.input_tokens,
                                "completion_tokens": event.usage.output_tokens,
                                "total_tokens": event.usage.total_tokens,
                            },
                        )
                    )
        self._sse("[DONE]")
        self._chunk(b"")

    def _embeddings(self, body: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        if not texts:
            return self._error(400, "'input' must not be empty", "invalid_request_error")
        reply = self.server.model.embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(reply.vectors)]
        tokens = reply.usage.input_tokens if reply.usage else 0
        return self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.server.model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets bursts of concurrent connections; real
    # inference servers accept far more.
    request_queue_size = 128
    model: Model
    model_name: str
    api_key: str | None
    timeout_delay: float
    received: list[tuple[str | None, bytes]]
    queries: list[str]
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up first (a timeout scenario): expected, not a server bug
        super().handle_error(request, client_address)


class OpenAICompatServer:
    """An OpenAI-compatible server on 127.0.0.1, serving ``model``.

    :param model: the byom model answering requests (default: ``ScriptedModel(structured=True)``).
    :param model_name: the model id it reports.
    :param api_key: if set, requests must send ``Authorization: Bearer <api_key>``.
    :param timeout_delay: how long the ``timeout`` scenario stalls.
    """

    def __init__(
        self,
        model: Model | None = None,
        *,
        model_name: str = "scripted",
        api_key: str | None = None,
        timeout_delay: float = 2.0,
        port: int = 0,
    ) -> None:
        # By default a server with structured outputs, as vLLM, SGLang and llama.cpp are.
        self.model = model or ScriptedModel(structured=True)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.model = self.model
        self._server.model_name = model_name
        self._server.api_key = api_key
        self._server.timeout_delay = timeout_delay
        self._server.received = []
        self._server.queries = []
        self._server.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def received(self, fault: str | None = None) -> list[bytes]:
        """The bodies of the POST requests received so far (on ``fault``'s scenario, or
        on the plain routes), oldest first."""
        with self._server.lock:
            return [body for scenario, body in self._server.received if scenario == fault]

    def queries(self) -> list[str]:
        """The query strings (without ``?``) of the POST requests received so far, oldest first."""
        with self._server.lock:
            return list(self._server.queries)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fault_url(self, fault: str) -> str:
        """A ``base_url`` whose every request gets the named :data:`FAULT_SCENARIOS` answer."""
        if fault not in FAULT_SCENARIOS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULT_SCENARIOS)}")
        return f"http://127.0.0.1:{self.port}/fault/{fault}/v1"

    def start(self) -> OpenAICompatServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="openai-compat-test-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OpenAICompatServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
