"""Embeddings from encoder graphs (layout D), pooled the way sentence-transformers does.

Pooling comes from ``1_Pooling/config.json`` (mean by default); vectors are L2-normalised when
``modules.json`` lists ``sentence_transformers.models.Normalize`` or the caller asks. Texts
are batched by length so padding stays small; ``token_type_ids`` get zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

from ._layout import Layout

if TYPE_CHECKING:
    import numpy as np
    import onnxruntime
    import tokenizers

__all__ = ["Encoder", "Pooling"]


@dataclass(frozen=True)
class Pooling:
    """How token vectors become one sentence vector."""

    mode: str = "mean"
    normalize: bool = False
    include_prompt: bool = True

    @classmethod
    def from_layout(cls, layout: Layout) -> Pooling:
        pooling = layout.read_json("1_Pooling/config.json")
        mode = "mean"
        for key, name in (
            ("pooling_mode_cls_token", "cls"),
            ("pooling_mode_max_tokens", "max"),
            ("pooling_mode_lasttoken", "lasttoken"),
            ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
            ("pooling_mode_mean_tokens", "mean"),
        ):
            if pooling.get(key):
                mode = name
        normalize = False
        modules_file = layout.folder / "modules.json"
        if modules_file.is_file():
            import json

            try:
                modules = json.loads(modules_file.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ConfigError(f"{modules_file}: invalid JSON: {exc}", field="path") from None
            if not isinstance(modules, list):
                raise ConfigError(f"{modules_file}: must be a list of modules", field="path")
            normalize = any(str(m.get("type", "")).endswith("models.Normalize") for m in modules if isinstance(m, dict))
        return cls(mode=mode, normalize=normalize)


class Encoder:
    """Runs an encoder session and pools its output.

    :param max_length: tokens per text (longer texts are truncated, as sentence-transformers does).
    :param batch_size: texts per session call.
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: tokenizers.Tokenizer,
        pooling: Pooling,
        *,
        max_length: int = 512,
        batch_size: int = 32,
    ) -> None:
        self.session = session
        self.pooling = pooling
        self.batch_size = batch_size
        self._inputs = {i.name for i in session.get_inputs()}
        outputs = [o.name for o in session.get_outputs()]
        self._sentence_output = "sentence_embedding" if "sentence_embedding" in outputs else None
        self._token_output = next((n for n in ("last_hidden_state", "token_embeddings") if n in outputs), outputs[0])
        self.dimension = int(
            session.get_outputs()[outputs.index(self._sentence_output or self._token_output)].shape[-1]
        )
        # A truncating copy: the model's own tokenizer (``OnnxModel.tokenizer``) must keep
        # counting every token, so an app can tell that a text is over max_length.
        import tokenizers

        self.tokenizer = tokenizers.Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()

    def _batch(self, texts: list[str]) -> tuple[np.ndarray, int]:
        import numpy as np

        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds: dict[str, Any] = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feeds["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        wanted = [self._sentence_output] if self._sentence_output else [self._token_output]
        (out,) = self.session.run(wanted, feeds)
        tokens = int(mask.sum())
        if self._sentence_output:
            return np.asarray(out, np.float32), tokens
        return self._pool(np.asarray(out, np.float32), mask), tokens

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import numpy as np

        m = mask[..., None].astype(np.float32)
        mode = self.pooling.mode
        pooled: np.ndarray
        if mode == "cls":
            pooled = hidden[:, 0]
        elif mode == "max":
            pooled = np.where(m > 0, hidden, -1e9).max(axis=1)
        elif mode == "lasttoken":
            pooled = hidden[np.arange(hidden.shape[0]), mask.sum(axis=1) - 1]
        else:
            counts = np.clip(m.sum(axis=1), 1e-9, None)
            pooled = (hidden * m).sum(axis=1) / (np.sqrt(counts) if mode == "mean_sqrt_len" else counts)
        return pooled

    def embed(
        self, texts: list[str], *, normalize: bool | None = None, deadline: float | None = None
    ) -> tuple[np.ndarray, int, bool]:
        """Vectors ``(len(texts), dim)`` in input order, tokens counted, and whether normalised.

        :param deadline: a ``time.monotonic()`` instant checked before each batch.
        """
        import time

        import numpy as np

        from byom_sdk import Timeout

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        tokens = 0
        for start in range(0, len(order), self.batch_size):
            if deadline is not None and time.monotonic() > deadline:
                raise Timeout("embedding passed its deadline", provider="onnx")
            chunk = order[start : start + self.batch_size]
            out, used = self._batch([texts[i] for i in chunk])
            vectors[chunk] = out
            tokens += used
        unit = self.pooling.normalize if normalize is None else normalize
        if unit:
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors, tokens, unit
