"""CORRECT providers for real API shapes: each sends every message, parameter, extra and
nothing of the metadata, in its own body format; no wire.* check may fail on them."""

from __future__ import annotations

import gzip
import json
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from byom_sdk import EmbedRequest, EmbedResponse, GenerateRequest, GenerateResponse

from ._harness import Base, sampling

# -- Anthropic Messages API -----------------------------------------------------------------


class Anthropic(Base):
    """Anthropic Messages: the system prompt in a top-level ``system`` field, no embeddings."""

    name = "anthropic-like"
    embeds = False
    gen_path = "/v1/messages"
    stream_path = "/v1/messages/stream"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = request.as_messages()
        system = "".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {"model": "claude", "max_tokens": request.max_tokens or 1024}
        if system:
            body["system"] = system
        body["messages"] = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        body.update(sampling(request, {"temperature": "temperature", "top_p": "top_p"}))
        if stream:
            body["stream"] = True
        return {**body, **request.extra}


class AnthropicBlocks(Anthropic):
    """Anthropic Messages as its SDK sends them: system and contents as lists of text blocks."""

    name = "anthropic-blocks"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        if "system" in body:
            body["system"] = [{"type": "text", "text": body["system"]}]
        body["messages"] = [
            {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in body["messages"]
        ]
        return body


# -- Gemini / Vertex generateContent --------------------------------------------------------


class Gemini(Base):
    """Gemini generateContent: ``contents`` of parts, roles user/model, a ``systemInstruction``."""

    name = "gemini-like"
    ROLES = {"user": "user", "assistant": "model"}
    #: the role of ``systemInstruction`` (the google-genai SDK sends "user"), or none.
    system_role: str | None = None

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = request.as_messages()
        body: dict[str, Any] = {
            "contents": [
                {"role": self.ROLES[m.role], "parts": [{"text": m.content}]} for m in messages if m.role != "system"
            ],
        }
        system = [m.content for m in messages if m.role == "system"]
        if system:
            instruction: dict[str, Any] = {"parts": [{"text": text} for text in system]}
            if self.system_role:
                instruction = {"role": self.system_role, **instruction}
            body["systemInstruction"] = instruction
        body["generationConfig"] = sampling(
            request, {"max_tokens": "maxOutputTokens", "temperature": "temperature", "top_p": "topP", "seed": "seed"}
        )
        return {**body, **request.extra}

    def gen_target(self, request: GenerateRequest, *, stream: bool) -> str:
        return "/v1/models/gemini:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")

    def embed_body(self, request: EmbedRequest) -> Any:
        requests = [{"model": "models/emb", "content": {"parts": [{"text": text}]}} for text in request.texts]
        return {"requests": requests, **request.extra}


class GeminiGenAI(Gemini):
    """Gemini as the google-genai SDK sends it: ``systemInstruction`` with role "user"."""

    name = "gemini-genai-sdk"
    system_role = "user"


class CountTokensFirst(Gemini):
    """Gemini calling countTokens before each generate (a preflight for a precise ContextOverflow)."""

    name = "gemini-counttokens"

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        self._post(
            "/v1/models/gemini:countTokens", {"json": {"contents": self.body(request, stream=False)["contents"]}}, {}
        )
        return super().handle_generate(request)


# -- a raw prompt rendered client side (TGI "inputs") ---------------------------------------


class TGI(Base):
    """Text Generation Inference: the chat rendered by the tokenizer's template into ``inputs``."""

    name = "tgi-like"
    gen_path = "/generate"
    stream_path = "/generate_stream"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        if request.messages is not None:
            inputs = self.tokenizer.apply_chat_template(request.as_messages(), add_generation_prompt=True)
        else:
            inputs = request.prompt
        names = {"max_tokens": "max_new_tokens", "temperature": "temperature", "top_p": "top_p", "seed": "seed"}
        parameters = {**sampling(request, names), "details": True}
        return {"inputs": inputs, "parameters": {**parameters, **request.extra}, "stream": stream}


class TGIBosToServer(TGI):
    """TGI with the Llama-3 template, leaving the BOS to the server's tokenizer."""

    name = "tgi-nobos"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        body["inputs"] = body["inputs"].removeprefix("<|begin_of_text|>")
        return body


# -- Cohere v1 chat -------------------------------------------------------------------------


class Cohere(Base):
    """Cohere v1 chat: ``chat_history`` of USER/CHATBOT turns, the last turn as ``message``."""

    name = "cohere-like"
    ROLES = {"user": "USER", "assistant": "CHATBOT", "system": "SYSTEM"}
    message_first = False

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = request.as_messages()
        history = [{"role": self.ROLES[m.role], "message": m.content} for m in messages[:-1] if m.role != "system"]
        parts: list[tuple[str, Any]] = [("chat_history", history), ("message", messages[-1].content)]
        if self.message_first:
            parts.reverse()
        body: dict[str, Any] = dict(parts)
        system = "".join(m.content for m in messages if m.role == "system")
        if system:
            body["preamble"] = system
        names = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "p", "seed": "seed"}
        body.update(sampling(request, names))
        body["stream"] = stream
        return {**body, **request.extra}

    def embed_body(self, request: EmbedRequest) -> Any:
        return {"texts": list(request.texts), "input_type": "search_document", **request.extra}


class CohereMessageFirst(Cohere):
    """Cohere v1 chat with the body keys in the order of Cohere's docs (``message`` first)."""

    name = "cohere-message-first"
    message_first = True


# -- OpenAI chat completions and its transport variants ---------------------------------------


class OpenAI(Base):
    """OpenAI chat completions: ``messages`` of role/content, sampling at the top level."""

    name = "openai-like"
    gen_path = "/v1/chat/completions"
    stream_path = "/v1/chat/completions/stream"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = [{"role": m.role, "content": m.content} for m in request.as_messages()]
        names = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "seed": "seed"}
        return {"model": "m", "messages": messages, **sampling(request, names), "stream": stream, **request.extra}

    def embed_body(self, request: EmbedRequest) -> Any:
        return {"model": "e", "input": list(request.texts), **request.extra}


class OpenAISeed(OpenAI):
    """OpenAI chat completions declaring seed support."""

    name = "openai-seed"
    seed = True


class OpenAIRequests(OpenAI):
    """OpenAI chat completions whose sync side uses ``requests`` (the async side httpx)."""

    name = "openai-requests"
    sync_client = "requests"


class OpenAIRequestsSyncOnly(OpenAIRequests):
    """OpenAI over ``requests`` with no native async side: the SDK runs the sync side in threads."""

    name = "openai-requests-synconly"

    def __init__(self, base_url: str, *, tokenizer: Any = None, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(base_url, tokenizer=tokenizer, verify=verify)
        self.native = frozenset({"generate", "stream", "embed"})


class FormEncoded(Base):
    """A legacy API taking form fields; the chat goes as a JSON-encoded ``messages`` field."""

    name = "form-encoded"

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = [{"role": m.role, "content": m.content} for m in request.as_messages()]
        fields = {"messages": json.dumps(messages, ensure_ascii=False)}
        names = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p"}
        fields.update({key: str(value) for key, value in sampling(request, names).items()})
        fields.update({key: json.dumps(value) for key, value in request.extra.items()})
        return fields

    def embed_body(self, request: EmbedRequest) -> Any:
        extra = {key: json.dumps(value) for key, value in request.extra.items()}
        return {"texts": json.dumps(list(request.texts), ensure_ascii=False), **extra}

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        return {"data": body}


class ChunkedJSON(OpenAI):
    """OpenAI JSON sent as a chunked body (an iterator of pieces, as streaming uploaders do)."""

    name = "chunked-json"

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        pieces = [data[i : i + 64] for i in range(0, len(data), 64)]

        def chunks() -> Iterator[bytes]:
            yield from pieces

        async def achunks() -> AsyncIterator[bytes]:
            for piece in pieces:
                yield piece

        headers = {"Content-Type": "application/json"}
        if self.sync_client == "requests" and not aio:
            return {"data": chunks(), "headers": headers}
        return {"content": achunks() if aio else chunks(), "headers": headers}


class ChunkedJSONRequests(ChunkedJSON):
    """The chunked OpenAI body sent by ``requests`` on the sync side."""

    name = "chunked-json-requests"
    sync_client = "requests"


class GzipJSON(OpenAI):
    """OpenAI JSON gzip-compressed, with ``Content-Encoding: gzip`` (large prompts)."""

    name = "gzip-json"

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return {"content": gzip.compress(json.dumps(body).encode()), "headers": headers}


class QueryParams(OpenAI):
    """Sampling parameters in the query string (some REST APIs), the messages in JSON."""

    name = "query-params"
    NAMES = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p"}

    def gen_target(self, request: GenerateRequest, *, stream: bool) -> str:
        query = urllib.parse.urlencode(sampling(request, self.NAMES))
        return super().gen_target(request, stream=stream) + "?" + query

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        body = super().body(request, stream=stream)
        for key in self.NAMES.values():
            body.pop(key, None)
        return body


class Multipart(OpenAI):
    """OpenAI fields sent as multipart/form-data (as upload APIs take them)."""

    name = "multipart"

    def encode(self, body: Any, *, aio: bool = False) -> dict[str, Any]:
        files = {k: (None, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in body.items()}
        return {"files": files}


class TokenAuth(OpenAI):
    """OpenAI behind an OAuth token fetched from the same server before each call."""

    name = "token-auth"

    def before_call(self) -> dict[str, str]:
        form = {"grant_type": "client_credentials", "client_id": "wire-shapes"}
        if self.sync_client == "httpx":
            response = self._client.post("/token", data=form)
        else:
            response = self._client.post(self.base_url + "/token", data=form, timeout=10)
        return {"Authorization": "Bearer " + response.json()["access_token"]}

    async def abefore_call(self, client: httpx.AsyncClient) -> dict[str, str]:
        response = await client.post("/token", json={"grant_type": "client_credentials", "client_id": "wire-shapes"})
        return {"Authorization": "Bearer " + response.json()["access_token"]}


class TokenAuthRequests(TokenAuth):
    """The token-authenticated OpenAI provider with ``requests`` on the sync side."""

    name = "token-auth-requests"
    sync_client = "requests"


class SingleTextEmbed(OpenAI):
    """An embeddings API taking one text per request (Ollama's /api/embeddings): one request a text."""

    name = "single-text-embed"

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        bodies = [{"model": "e", "prompt": text, **request.extra} for text in request.texts]
        vectors = [self._post(f"{self.embed_path}?n=1", {"json": body}, {})["vectors"][0] for body in bodies]
        return self._embed_response(vectors, 3)

    async def ahandle_embed(self, request: EmbedRequest) -> EmbedResponse:
        vectors = []
        async with self._aclient() as client:
            for text in request.texts:
                response = await client.post(
                    f"{self.embed_path}?n=1", json={"model": "e", "prompt": text, **request.extra}
                )
                vectors.append(response.json()["vectors"][0])
        return self._embed_response(vectors, 3)


class LangServeTyped(OpenAI):
    """LangServe: LangChain-serialised messages (``type`` human/ai/system), options under ``config``."""

    name = "langserve-typed"
    TYPES = {"system": "system", "user": "human", "assistant": "ai"}

    def body(self, request: GenerateRequest, *, stream: bool) -> Any:
        messages = [{"type": self.TYPES[m.role], "content": m.content} for m in request.as_messages()]
        config = sampling(request, {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p"})
        return {"input": {"messages": messages}, "config": {"configurable": {**config, **request.extra}}}
