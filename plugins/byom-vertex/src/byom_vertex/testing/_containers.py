"""Container personalities of the local Vertex server: what a vLLM, TGI, OpenAI, TEI or
Google-embeddings container answers, computed by any byom ``Model``.

Each personality takes the bodies Vertex hands the container (``predict`` instances,
raw JSON) and answers in that container's wire format, including its streaming framing
(OpenAI SSE with ``data: `` and ``[DONE]``; TGI SSE with ``data:`` and no space).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from byom_sdk import FinishEvent, Model, TextDelta, UsageEvent, messages_from_openai

__all__ = [
    "CONTAINERS",
    "BadBody",
    "Container",
    "GoogleEmbeddingsContainer",
    "OpenAIContainer",
    "TEIContainer",
    "TGIContainer",
    "VLLMContainer",
]


def _messages(items: Any) -> Any:
    try:
        return messages_from_openai(items)
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadBody(f"invalid messages: {exc}") from None


class BadBody(ValueError):
    """The body is not what this container accepts (answered as 400 INVALID_ARGUMENT)."""


def _int(value: Any) -> int | None:
    # predict instances travel as protobuf Struct: every number is a double.
    return None if value is None else int(value)


def _kwargs(params: Mapping[str, Any], *, max_key: str = "max_tokens") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if params.get(max_key) is not None:
        out["max_tokens"] = _int(params[max_key])
    if params.get("temperature") is not None:
        out["temperature"] = float(params["temperature"])
    elif params.get("do_sample") is False:
        out["temperature"] = 0.0
    if params.get("top_p") is not None:
        out["top_p"] = float(params["top_p"])
    top_k = params.get("top_k")
    if top_k is not None and int(top_k) > 0:
        out["top_k"] = int(top_k)
    stop = params.get("stop") or params.get("stop_sequences")
    if stop:
        out["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("seed") is not None:
        out["seed"] = int(params["seed"])
    return out


def _sse(obj: Any, *, space: bool = True) -> bytes:
    return (("data: " if space else "data:") + json.dumps(obj) + "\n\n").encode()


class Container:
    """Base personality backed by ``model``. Subclasses override what their image serves."""

    name = "container"

    def __init__(self, model: Model) -> None:
        self.model = model

    @property
    def model_id(self) -> str:
        return self.model.info.id

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        raise BadBody(f"{self.name} container does not serve :predict")

    def raw(self, body: Any) -> Any:
        raise BadBody(f"{self.name} container does not serve :rawPredict")

    def stream(self, body: Any) -> Iterator[bytes]:
        raise BadBody(f"{self.name} container does not serve :streamRawPredict")

    def server_streaming(self, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Tensor streaming: ``inputs[0].stringVal[0]`` is the prompt, optional
        ``parameters.structVal.max_tokens.intVal[0]``; one STRING tensor per token."""
        try:
            prompt = body["inputs"][0]["stringVal"][0]
        except (KeyError, IndexError, TypeError):
            raise BadBody("serverStreamingPredict needs inputs[0].stringVal[0] (the prompt)") from None
        kwargs: dict[str, Any] = {}
        limit = (((body.get("parameters") or {}).get("structVal") or {}).get("max_tokens") or {}).get("intVal")
        if limit:
            kwargs["max_tokens"] = int(limit[0])
        finish = "stop"
        for event in self.model.stream(prompt, **kwargs):
            if isinstance(event, TextDelta):
                yield {"outputs": [{"dtype": "STRING", "stringVal": [event.text]}]}
            elif isinstance(event, FinishEvent):
                finish = event.finish_reason
        yield {
            "outputs": [],
            "parameters": {"structVal": {"finish_reason": {"dtype": "STRING", "stringVal": [finish]}}},
        }

    # OpenAI-shaped helpers shared by vLLM, TGI and OpenAI servers ---------------------------

    def _chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not messages:
            raise BadBody("chat request without messages")
        reply = self.model.generate(_messages(messages), **_kwargs(body))
        return {
            "id": f"chatcmpl-{int(time.time() * 1000)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": reply.usage.input_tokens,
                "completion_tokens": reply.usage.output_tokens,
                "total_tokens": reply.usage.total_tokens,
            },
        }

    def _completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        reply = self.model.generate(str(body["prompt"]), **_kwargs(body))
        return {
            "id": "cmpl-1",
            "object": "text_completion",
            "model": body.get("model") or self.model_id,
            "choices": [{"index": 0, "text": reply.text, "finish_reason": reply.finish_reason}],
            "usage": {
                "prompt_tokens": reply.usage.input_tokens,
                "completion_tokens": reply.usage.output_tokens,
                "total_tokens": reply.usage.total_tokens,
            },
        }

    def _openai_stream(self, body: Mapping[str, Any]) -> Iterator[bytes]:
        chat = body.get("messages") is not None
        if not chat and body.get("prompt") is None:
            raise BadBody("stream request needs 'messages' or 'prompt'")
        source: Any = _messages(body["messages"]) if chat else str(body["prompt"])
        kind = "chat.completion.chunk" if chat else "text_completion"
        model = body.get("model") or self.model_id

        def chunk(text: str | None, finish: str | None = None) -> dict[str, Any]:
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if chat:
                choice["delta"] = {"content": text} if text is not None else {}
            else:
                choice["text"] = text or ""
            return {"id": "stream-1", "object": kind, "model": model, "choices": [choice]}

        if chat:
            yield _sse(
                {
                    "id": "stream-1",
                    "object": kind,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}],
                }
            )
        for event in self.model.stream(source, **_kwargs(body)):
            if isinstance(event, TextDelta):
                yield _sse(chunk(event.text))
            elif isinstance(event, UsageEvent):
                usage = event.usage
            elif isinstance(event, FinishEvent):
                yield _sse(chunk(None, event.finish_reason))
                if (body.get("stream_options") or {}).get("include_usage"):
                    yield _sse(
                        {
                            "id": "stream-1",
                            "object": kind,
                            "model": model,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": usage.input_tokens,
                                "completion_tokens": usage.output_tokens,
                                "total_tokens": usage.total_tokens,
                            },
                        }
                    )
        yield b"data: [DONE]\n\n"


class VLLMContainer(Container):
    """Google's Model Garden vLLM image."""

    name = "vllm"

    def __init__(self, model: Model, *, chat_predictions: str = "list") -> None:
        super().__init__(model)
        self.chat_predictions = chat_predictions

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        predictions: list[Any] = []
        for instance in body.get("instances") or ():
            if instance.get("@requestFormat") == "chatCompletions":
                completion = self._chat(instance)
                if self.chat_predictions == "dict":
                    return {"predictions": completion}
                predictions.append(completion)
                continue
            if "prompt" not in instance:
                raise BadBody("vLLM instance needs 'prompt' (or '@requestFormat': 'chatCompletions')")
            prompt = str(instance["prompt"])
            text = self.model.generate(prompt, **_kwargs(instance)).text
            predictions.append(text if instance.get("raw_response") else f"Prompt:\n{prompt}\nOutput:\n{text}")
        return {"predictions": predictions}

    def raw(self, body: Any) -> Any:
        if "instances" in body:  # the predict body sent through rawPredict
            return self.predict(body)
        return self._chat(body) if "messages" in body else self._completion(body)

    def stream(self, body: Any) -> Iterator[bytes]:
        return self._openai_stream(body)


class OpenAIContainer(VLLMContainer):
    """An OpenAI-compatible server (vLLM / TGI ``/v1/chat/completions``) behind raw calls."""

    name = "openai"

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        raise BadBody("the OpenAI server answers rawPredict / streamRawPredict only")


class TGIContainer(Container):
    """Hugging Face TGI with the ``google`` feature (predictions are strings)."""

    name = "tgi"

    def _generate(self, instance: Mapping[str, Any]) -> Any:
        return self.model.generate(
            str(instance["inputs"]), **_kwargs(instance.get("parameters") or {}, max_key="max_new_tokens")
        )

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        predictions: list[Any] = []
        for instance in body.get("instances") or ():
            if "messages" in instance:
                predictions.append(self._chat(instance)["choices"][0]["message"]["content"])
            elif "inputs" in instance:
                predictions.append(self._generate(instance).text)
            else:
                raise BadBody("TGI instance needs 'inputs' or 'messages'")
        return {"predictions": predictions}

    def raw(self, body: Any) -> Any:
        if "messages" in body:
            return self._chat(body)
        return [{"generated_text": self._generate(body).text}]

    def stream(self, body: Any) -> Iterator[bytes]:
        if "messages" in body:
            yield from self._openai_stream(body)
            return
        if "inputs" not in body:
            raise BadBody("TGI stream needs 'inputs' or 'messages'")
        params = body.get("parameters") or {}
        pieces: list[str] = []
        index = 0
        for event in self.model.stream(str(body["inputs"]), **_kwargs(params, max_key="max_new_tokens")):
            if isinstance(event, TextDelta):
                if pieces:  # TGI sends the previous token once it knows it is not the last
                    yield _sse(self._token(index, pieces[-1]), space=False)
                    index += 1
                pieces.append(event.text)
            elif isinstance(event, FinishEvent):
                last = pieces[-1] if pieces else ""
                reason = "length" if event.finish_reason == "length" else "eos_token"
                final = self._token(index, last)
                final["generated_text"] = "".join(pieces)
                final["details"] = {"finish_reason": reason, "generated_tokens": len(pieces), "seed": None}
                yield _sse(final, space=False)

    @staticmethod
    def _token(index: int, text: str) -> dict[str, Any]:
        return {
            "index": index,
            "token": {"id": index, "text": text, "logprob": -0.1, "special": False},
            "generated_text": None,
            "details": None,
        }


class TEIContainer(Container):
    """Hugging Face TEI on Vertex: each prediction is a list of vectors."""

    name = "tei"

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        predictions = []
        for instance in body.get("instances") or ():
            inputs = instance.get("inputs")
            if inputs is None:
                raise BadBody("TEI instance needs 'inputs'")
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            reply = self.model.embed(texts, normalize=instance.get("normalize"))
            predictions.append([list(v) for v in reply.vectors])
        return {"predictions": predictions}


class GoogleEmbeddingsContainer(Container):
    """Google text-embedding models (``content`` → ``embeddings.values``)."""

    name = "google-embeddings"

    def predict(self, body: Mapping[str, Any]) -> dict[str, Any]:
        predictions = []
        for instance in body.get("instances") or ():
            if "content" not in instance:
                raise BadBody("embedding instance needs 'content'")
            reply = self.model.embed(str(instance["content"]))
            tokens = reply.usage.input_tokens if reply.usage else 0
            predictions.append(
                {
                    "embeddings": {
                        "values": list(reply.vectors[0]),
                        "statistics": {"token_count": tokens, "truncated": False},
                    }
                }
            )
        return {"predictions": predictions}


CONTAINERS: dict[str, type[Container]] = {
    "vllm": VLLMContainer,
    "tgi": TGIContainer,
    "openai": OpenAIContainer,
    "tei": TEIContainer,
    "google-embeddings": GoogleEmbeddingsContainer,
}
