"""The scoring-script payload of Azure ML text-generation deployments: ``{"input_data":
{"input_string": [prompt], "parameters": {...}}}`` → the text, as the curated scoring scripts
answer it (``[{"0": text}]``, ``["text"]``, ``{"output": text}``, ``[{"generated_text": text}]``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from byom_sdk import GenerateRequest
from byom_sdk.wire import Codec, Decoded, prompt_text, sampling

__all__ = ["ScoringCodec"]

# The curated scripts pass these to the Hugging Face pipeline, which takes top_k too.
_NAMES = {
    "max_tokens": "max_new_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "do_sample": "do_sample",
}


class ScoringCodec(Codec):
    name = "azureml-scoring"
    generates = True
    stop_sequences = False

    def encode_generate(self, request: GenerateRequest, *, stream: bool) -> dict[str, Any]:
        parameters = {**sampling(request, _NAMES, zero_temperature=False), **request.extra}
        return {"input_data": {"input_string": [prompt_text(request)], "parameters": parameters}}

    def decode_generate(self, body: Any) -> Decoded:
        if isinstance(body, str) and body[:1] in "[{":  # a script returning json.dumps(...)
            with contextlib.suppress(ValueError):
                body = json.loads(body)
        item = self.first(self.checked(body), "a generation")
        if isinstance(item, list) and item:  # an HF pipeline given a list: [[{...}]]
            item = item[0]
        if isinstance(item, Mapping):
            item = next((item[k] for k in ("0", "output", "generated_text") if k in item), None)
        if not isinstance(item, str):
            raise ValueError(f"no generated text in {str(body)[:120]}")
        return Decoded(text=item)
