"""The shared harness of the wire-shape providers: a loopback server that answers any body
shape (JSON, form, multipart, chunked, gzip; plain or TLS), a base Provider whose subclasses
only build the request body, and tokenizers with real chat templates.

Nothing here defines ``received_requests()``: the wire.* checks read the requests off the
sockets, as they do for a third-party harness that keeps no log.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from byom_sdk import (
    Boundary,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    Provider,
    StreamEvent,
    TextDelta,
    Usage,
)
from byom_sdk._tokenizer import ChatTemplate
from byom_sdk.testing import WhitespaceTokenizer

#: the dimension of the server's embeddings.
DIM = 8

# ---------------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    """Answers generate, stream, embed and token requests whatever their body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _drain_body(self) -> None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
        else:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, answer: Any) -> None:
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in ({"delta": "ok "}, {"delta": "done"}, {"finish": "stop", "in": 5, "out": 2}):
            data = json.dumps(line).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        self._drain_body()
        path, _, query = self.path.partition("?")
        if path.endswith("/token"):
            self._send({"access_token": "tok-123", "expires_in": 3600})
        elif "embed" in path:
            count = int(urllib.parse.parse_qs(query).get("n", ["1"])[0])
            self._send({"vectors": [[1.0] + [0.0] * (DIM - 1)] * count, "tokens": 3})
        elif "stream" in path:
            self._send_stream()
        else:
            self._send({"text": "ok done", "finish": "stop", "in": 5, "out": 2})


class _HTTPD(ThreadingHTTPServer):
    """A threading server that stays quiet about clients that hang up."""

    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, *args: Any) -> None:
        pass


def self_signed_certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 and its key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


class Server:
    """A loopback server on its own thread; ``tls`` serves HTTPS with a fresh certificate."""

    def __init__(self, *, tls: bool = False) -> None:
        self.httpd = _HTTPD(("127.0.0.1", 0), _Handler)
        self.scheme = "http"
        #: what a client verifies the server with: the default, or a context trusting the certificate.
        self.verify: ssl.SSLContext | bool = True
        if tls:
            cert, key = self_signed_certificate()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as folder:
                cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
                cert_path.write_bytes(cert)
                key_path.write_bytes(key)
                context.load_cert_chain(cert_path, key_path)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
            self.verify = ssl.create_default_context(cadata=cert.decode())
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="wire-shapes-server"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


_servers: dict[bool, Server] = {}


def server(*, tls: bool = False) -> Server:
    """The session's plain or TLS server, started on first use."""
    if tls not in _servers:
        _servers[tls] = Server(tls=tls)
    return _servers[tls]


def stop_servers() -> None:
    """Stops every server started by :func:`server`."""
    while _servers:
        _servers.popitem()[1].stop()


# ---------------------------------------------------------------------------------- tokenizers

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)


class TemplateTokenizer(WhitespaceTokenizer):
    """Whitespace tokens, a real chat template, BOS/EOS like an HF tokenizer."""

    def __init__(
        self, template: str | None = None, *, bos: str = "", eos: str = "", specials: dict[str, int] | None = None
    ) -> None:
        super().__init__()
        self.template = ChatTemplate(template) if template else ChatTemplate()
        self.bos, self.eos = bos, eos
        self.special_tokens = dict(specials or {})
        self.eos_token_ids = (self.special_tokens[eos],) if eos in self.special_tokens else ()

    def apply_chat_template(self, messages: Any, *, add_generation_prompt: bool = True) -> str:
        return self.template.render(
            messages, add_generation_prompt=add_generation_prompt, bos_token=self.bos, eos_token=self.eos
        )


def llama3_tokenizer() -> TemplateTokenizer:
    """Llama-3's template: BOS on the first turn, header tokens, trimmed contents."""
    specials = {"<|begin_of_text|>": 1, "<|eot_id|>": 2, "<|start_header_id|>": 3, "<|end_header_id|>": 4}
    return TemplateTokenizer(LLAMA3, bos="<|begin_of_text|>", eos="<|eot_id|>", specials=specials)


def phi3_tokenizer() -> TemplateTokenizer:
    """Phi-3's template: role tags, ``<|end|>`` after each turn."""
    specials = {"<s>": 1, "<|endoftext|>": 32000, "<|system|>": 3, "<|user|>": 4, "<|assistant|>": 5, "<|end|>": 6}
    return TemplateTokenizer(PHI3, bos="<s>", eos="<|endoftext|>", specials=specials)


def chatml_tokenizer() -> TemplateTokenizer:
    """The default ChatML template."""
    return TemplateTokenizer(eos="<|im_end|>", specials={"<|im_start|>": 1, "<|im_end|>": 2})


# ---------------------------------------------------------------------------------- provider


class Base(Provider):
    """A provider of the loopback server: subclasses build the body (``body``, ``embed_body``),
    ``encode`` turns it into client keyword arguments (JSON by default)."""

    name = "wire-shape"
    #: the client of the sync side, "httpx" or "requests"; the async side uses httpx.
    sync_client = "httpx"
    embeds = True
    seed = False
    gen_path = "/v1/generate"
    stream_path = "/v1/stream"
    embed_path = "/v1/embed"

    def __init__(self, base_url: str, *, tokenizer: Any = None, verify: ssl.SSLContext | bool = True) -> None:
        self.base_url = base_url
        self.verify = verify
        self._tokenizer = tokenizer
        if self.sync_client == "httpx":
            self._client: Any = httpx.Client(base_url=base_url, timeout=10.0, verify=verify)
        else:
            import requests

            self._client = requests.Session()
            self._client.verify = verify
        self._info = ModelInfo(
            id="wire-shape",
            provider=self.name,
            capabilities=Capabilities(
                generate=True,
                chat=True,
                stream=True,
                embed=self.embeds,
                async_native=True,
                seed=self.seed,
                max_context=8192,
            ),
            boundary=Boundary(
                provider=self.name,
                location_kind="customer-cloud",
                region="eu-west-1",
                endpoint=base_url,
                tls=base_url.startswith("https"),
                network_path="loopback",
            ),
            embedding_dimension=DIM if self.embeds else None,
            embedding_normalized=True,
        )

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    # -- what subclasses override ------------------------------------------------------

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        raise NotImplementedError

    def embed_body(self, request: EmbedRequest) -> Any:
        return {**request.extra, "texts": list(request.texts)}

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        return {"json": body}

    def headers(self, request: GenerateRequest | EmbedRequest) -> dict[str, str]:
        return {}

    def before_call(self) -> dict[str, str]:
        """Headers from a step before each sync call (a token fetch)."""
        return {}

    async def abefore_call(self, client: httpx.AsyncClient) -> dict[str, str]:
        """Headers from a step before each async call (a token fetch)."""
        return {}

    def gen_target(self, request: GenerateRequest, *, stream: bool) -> str:
        return self.stream_path if stream else self.gen_path

    # -- plumbing ------------------------------------------------------------------------

    def _post(self, path: str, kwargs: dict[str, Any], headers: dict[str, str]) -> Any:
        headers = {**headers, **kwargs.pop("headers", {}), **self.before_call()}
        if self.sync_client == "httpx":
            response = self._client.post(path, headers=headers, **kwargs)
        else:
            response = self._client.post(self.base_url + path, headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def _stream_lines(self, path: str, kwargs: dict[str, Any], headers: dict[str, str]) -> Iterator[dict[str, Any]]:
        headers = {**headers, **kwargs.pop("headers", {}), **self.before_call()}
        if self.sync_client == "httpx":
            opened = self._client.stream("POST", path, headers=headers, **kwargs)
        else:
            opened = self._client.post(self.base_url + path, headers=headers, timeout=10, stream=True, **kwargs)
        with opened as response:
            response.raise_for_status()
            yield from (json.loads(line) for line in response.iter_lines() if line)

    @staticmethod
    def _events(lines: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> Iterator[StreamEvent]:
        for line in lines:
            if "delta" in line:
                yield TextDelta(text=line["delta"])
            else:
                usage = Usage(input_tokens=line["in"], output_tokens=line["out"], source="server")
                yield FinishEvent(finish_reason=line["finish"], usage=usage)

    @staticmethod
    def _response(data: dict[str, Any]) -> GenerateResponse:
        usage = Usage(input_tokens=data["in"], output_tokens=data["out"], source="server")
        return GenerateResponse(text=data["text"], finish_reason=data["finish"], model="wire-shape", usage=usage)

    @staticmethod
    def _embed_response(vectors: list[list[float]], tokens: int) -> EmbedResponse:
        usage = Usage(input_tokens=tokens, output_tokens=0, source="server")
        return EmbedResponse(vectors=tuple(tuple(v) for v in vectors), model="wire-shape", normalized=True, usage=usage)

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        kwargs = self.encode(self.body(request, stream=False))
        return self._response(self._post(self.gen_target(request, stream=False), kwargs, self.headers(request)))

    def handle_stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        kwargs = self.encode(self.body(request, stream=True))
        yield from self._events(
            self._stream_lines(self.gen_target(request, stream=True), kwargs, self.headers(request))
        )

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        kwargs = self.encode(self.embed_body(request))
        data = self._post(f"{self.embed_path}?n={len(request.texts)}", kwargs, self.headers(request))
        return self._embed_response(data["vectors"], data["tokens"])

    def _aclient(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10.0, verify=self.verify)

    async def _akwargs(
        self, client: httpx.AsyncClient, body: Any, request: GenerateRequest | EmbedRequest
    ) -> dict[str, Any]:
        kwargs = self.encode(body, aio=True)
        kwargs["headers"] = {**self.headers(request), **kwargs.pop("headers", {}), **await self.abefore_call(client)}
        return kwargs

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        async with self._aclient() as client:
            kwargs = await self._akwargs(client, self.body(request, stream=False), request)
            response = await client.post(self.gen_target(request, stream=False), **kwargs)
            response.raise_for_status()
            return self._response(response.json())

    async def ahandle_stream(self, request: GenerateRequest) -> AsyncIterator[StreamEvent]:  # type: ignore[override]
        async with self._aclient() as client:
            kwargs = await self._akwargs(client, self.body(request, stream=True), request)
            async with client.stream("POST", self.gen_target(request, stream=True), **kwargs) as response:
                response.raise_for_status()
                lines = [json.loads(line) async for line in response.aiter_lines() if line]
        for event in self._events(lines):
            yield event

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        async with self._aclient() as client:
            kwargs = await self._akwargs(client, self.embed_body(request), request)
            response = await client.post(f"{self.embed_path}?n={len(request.texts)}", **kwargs)
            response.raise_for_status()
            data = response.json()
        return self._embed_response(data["vectors"], data["tokens"])

    def close(self) -> None:
        self._client.close()
        super().close()


def sampling(request: GenerateRequest, names: dict[str, str]) -> dict[str, Any]:
    """The request's sampling fields that are set, under the API's names."""
    return {key: getattr(request, field) for field, key in names.items() if getattr(request, field) is not None}
