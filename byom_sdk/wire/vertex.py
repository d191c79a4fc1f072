"""The Vertex AI instances/predictions family.

``predict`` bodies are ``{"instances": [...], "parameters"?: {...}}`` and answers
``{"predictions": [...]}``; raw routes (``rawPredict``, ``streamRawPredict``) carry the
container's own body. Each codec names the PredictionService RPC per operation:

=====================  ===========  ====================  =======
codec                  generate     stream                embed
=====================  ===========  ====================  =======
``vllm``               predict      stream_raw_predict    -
``tgi``                predict      stream_raw_predict    -
``openai``             raw_predict  stream_raw_predict    -
``tei``                -            -                     predict
``google-embeddings``  -            -                     predict
=====================  ===========  ====================  =======

The bodies inside are the shared protocols: a TGI instance is TGI's request, a chat
instance OpenAI's; streams are decoded by the same record decoders as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from .._structured import schema_of
from .._types import EmbedRequest, GenerateRequest, Usage
from ._codec import Chunk, Codec, Decoded, Embedded, parse_vectors, sampling
from .hf import TGI, tgi_chunk
from .openai import OpenAIChat

__all__ = [
    "VERTEX_CODECS",
    "GenerateRpc",
    "StreamRpc",
    "VertexCodec",
    "VertexGoogleEmbeddings",
    "VertexOpenAI",
    "VertexTEI",
    "VertexTGI",
    "VertexVLLM",
    "predictions",
]

GenerateRpc = Literal["predict", "raw_predict"]
StreamRpc = Literal["stream_raw_predict", "server_streaming_predict"]

_OPENAI_NAMES = {
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "seed": "seed",
    "stop": "stop",
}


def predictions(body: Any) -> list[Any]:
    """``predictions`` as a list (endpoints answer with a list, some with one object)."""
    if not isinstance(body, Mapping) or "predictions" not in body:
        raise ValueError("the answer has no 'predictions'")
    found = body["predictions"]
    return found if isinstance(found, list) else [found]


class VertexCodec(Codec):
    """A codec that also names the Vertex RPC of each operation (``None``: unsupported).

    :param options: the model's ``codec_options``.
    """

    generate_rpc: ClassVar[GenerateRpc | None] = None
    stream_rpc: ClassVar[StreamRpc | None] = None
    embed_rpc: ClassVar[GenerateRpc | None] = None

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})


class VertexVLLM(VertexCodec):
    """Model Garden vLLM: ``predict`` with ``instances[{prompt, max_tokens, …,
    raw_response: true}]``, chat as ``"@requestFormat": "chatCompletions"``; streams through
    ``streamRawPredict`` with an OpenAI body.

    Options: ``raw_response`` (default true; false answers "Prompt:…Output:…", which is
    stripped), ``model`` (the OpenAI ``model`` of streamed bodies, default ""),
    ``use_raw_predict`` (send the instances through rawPredict, for endpoints whose
    ``predictions`` is a single object).
    """

    name = "vllm"
    generate_rpc = "predict"
    stream_rpc = "stream_raw_predict"
    generates = True
    chat = True
    streams = True
    # Its container always ends a stream (a finish reason and [DONE], or TGI's details event):
    # one without that end was cut, or was never a stream (an empty 200, [], null).
    require_end = True
    seed = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        if self.options.get("use_raw_predict"):
            # rawPredict answers with the container's JSON, whose `predictions` may be a
            # single object (which PredictResponse cannot carry).
            self.generate_rpc = "raw_predict"  # type: ignore[misc,assignment]  # per-instance override of a class constant
        self._stream = OpenAIChat(model=str(self.options.get("model", "")))

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if stream:
            body: dict[str, Any] = {"model": self.options.get("model", ""), "stream": True}
            body["stream_options"] = {"include_usage": True}
            body.update(sampling(request, _OPENAI_NAMES))
            if request.messages is not None:
                body["messages"] = self._stream.encode_generate(request, stream=False)["messages"]
            else:
                body["prompt"] = request.prompt
            body.update(request.extra)
            return body
        instance = sampling(request, _OPENAI_NAMES)
        if request.messages is not None:
            instance["@requestFormat"] = "chatCompletions"
            instance["messages"] = self._stream.encode_generate(request, stream=False)["messages"]
        else:
            instance["prompt"] = request.prompt
            instance["raw_response"] = bool(self.options.get("raw_response", True))
        instance.update(request.extra)
        return {"instances": [instance]}

    def decode_generate(self, body: Any) -> Decoded:
        found = predictions(self.checked(body))
        first = found[0] if found else ""
        if isinstance(first, Mapping):
            return self._stream.decode_generate(first)
        if isinstance(first, list) and first and isinstance(first[0], str):
            first = first[0]
        text = str(first)
        if not self.options.get("raw_response", True) and "\nOutput:\n" in text:
            text = text.split("\nOutput:\n", 1)[1]
        return Decoded(text=text)

    def decode_chunk(self, record: Any) -> Chunk | None:
        return self._stream.decode_chunk(record)


class VertexTGI(VertexCodec):
    """Hugging Face TGI on Vertex: ``predict`` with ``instances[{inputs, parameters}]``
    (messages: an OpenAI chat instance) answered by plain strings; streams TGI's native SSE
    (prompts) or OpenAI chunks (messages) through ``streamRawPredict``.

    Options: ``model`` (the OpenAI ``model`` field of chat bodies).
    """

    name = "tgi"
    generate_rpc = "predict"
    stream_rpc = "stream_raw_predict"
    generates = True
    chat = True
    streams = True
    require_end = True  # as VertexVLLM's
    seed = True
    tools_mode = "constrained"
    structured_output = "native"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._tgi = TGI()
        # TGI's Messages API rejects top_k.
        self._chat = OpenAIChat(model=self.options.get("model") or None, include_usage=True, top_k=False)

    def _body(self, request: GenerateRequest, stream: bool) -> dict[str, Any]:
        if request.messages is None:
            return self._tgi.encode_generate(request, stream=stream)
        body = self._chat.encode_generate(request, stream=stream)
        schema = schema_of(request.response_format)
        if schema is not None:  # TGI's Messages API: {"type": "json", "value": S}, not OpenAI's nesting
            body["response_format"] = {"type": "json", "value": schema}
        return body

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        if stream:
            return self._body(request, True)
        instance = self._body(request, False)
        instance.pop("stream", None)
        return {"instances": [instance]}

    def decode_generate(self, body: Any) -> Decoded:
        found = predictions(self.checked(body))
        first = found[0] if found else ""
        if isinstance(first, Mapping) and "choices" in first:
            return self._chat.decode_generate(first)
        return self._tgi.decode_generate(first)

    def decode_chunk(self, record: Any) -> Chunk | None:
        return tgi_chunk(record)


class VertexOpenAI(VertexCodec):
    """OpenAI chat completions through ``rawPredict`` / ``streamRawPredict`` (vLLM or TGI
    OpenAI servers). A plain prompt is sent as one user message. Options: ``model``."""

    name = "openai"
    generate_rpc = "raw_predict"
    stream_rpc = "stream_raw_predict"
    generates = True
    chat = True
    streams = True
    require_end = True  # as VertexVLLM's
    tools = True
    tools_mode = "native"
    structured_output = "native"
    seed = True

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        # vLLM takes top_k; TGI's OpenAI route refuses it with its own 422 (a BadRequest).
        self._chat = OpenAIChat(model=str(self.options.get("model", "")))

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        return self._chat.encode_generate(request, stream=stream)

    def decode_generate(self, body: Any) -> Decoded:
        return self._chat.decode_generate(body)

    def decode_chunk(self, record: Any) -> Chunk | None:
        return self._chat.decode_chunk(record)


class VertexTEI(VertexCodec):
    """Hugging Face TEI on Vertex: ``instances[{inputs}]`` → ``predictions[[[f32]]]``."""

    name = "tei"
    embed_rpc = "predict"
    embeds = True

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        instances = []
        for text in request.texts:
            instance: dict[str, Any] = {"inputs": text}
            if request.normalize is not None:
                instance["normalize"] = request.normalize
            instance.update(request.extra)
            instances.append(instance)
        return {"instances": instances}

    def decode_embed(self, body: Any) -> Embedded:
        vectors: list[list[float]] = []
        for prediction in predictions(self.checked(body)):
            vectors.extend(parse_vectors(prediction))
        return Embedded(vectors=vectors)


class VertexGoogleEmbeddings(VertexCodec):
    """Google text embeddings: ``instances[{content, task_type?}]`` →
    ``predictions[{embeddings: {values, statistics: {token_count}}}]``.

    Options: ``task_type`` (e.g. ``RETRIEVAL_DOCUMENT``), ``auto_truncate``,
    ``output_dimensionality``.
    """

    name = "google-embeddings"
    embed_rpc = "predict"
    embeds = True

    def encode_embed(self, request: EmbedRequest) -> dict[str, Any]:
        task = self.options.get("task_type")
        instances = [{"content": t, **({"task_type": task} if task else {})} for t in request.texts]
        parameters: dict[str, Any] = {}
        if "auto_truncate" in self.options:
            parameters["autoTruncate"] = bool(self.options["auto_truncate"])
        if "output_dimensionality" in self.options:
            parameters["outputDimensionality"] = int(self.options["output_dimensionality"])
        parameters.update(request.extra)
        return {"instances": instances, **({"parameters": parameters} if parameters else {})}

    def decode_embed(self, body: Any) -> Embedded:
        vectors: list[list[float]] = []
        tokens = 0
        counted = True
        for prediction in predictions(self.checked(body)):
            embeddings = prediction.get("embeddings") if isinstance(prediction, Mapping) else None
            if not isinstance(embeddings, Mapping) or "values" not in embeddings:
                raise ValueError("a prediction has no embeddings.values")
            vectors.append([float(v) for v in embeddings["values"]])
            count = (embeddings.get("statistics") or {}).get("token_count")
            if count is None:
                counted = False
            else:
                tokens += int(count)
        usage = Usage(input_tokens=tokens, output_tokens=0, source="server") if counted and vectors else None
        return Embedded(vectors=vectors, usage=usage)


VERTEX_CODECS: dict[str, type[VertexCodec]] = {
    codec.name: codec for codec in (VertexVLLM, VertexTGI, VertexOpenAI, VertexTEI, VertexGoogleEmbeddings)
}
