"""Checks of embeddings and of the refusal of undeclared capabilities."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from ..._errors import CapabilityNotSupported
from ..._provider import Provider
from ..._types import EmbedResponse
from ._core import check, plugin_label, require_capability
from ._subject import ModelSubject, vectors_close

__all__ = ["CapabilityChecks", "EmbedChecks"]


class EmbedChecks(ModelSubject):
    """Embeddings: shape, declared dimension, determinism, normalisation."""

    def _embed(self, model: Provider, texts: list[str]) -> EmbedResponse:
        require_capability(model, "embed")
        response = model.embed(texts)
        assert isinstance(response, EmbedResponse), f"embed() returned {type(response).__name__}"
        return response

    @check("embed.dimension")
    def test_embed_dimension(self, byom_model: Provider) -> None:
        """One finite vector per text, in order, each of ``info.embedding_dimension`` floats.

        Fix: declare the real dimension in ``ModelInfo`` and return vectors in input order.
        """
        texts = list(self.embed_texts)
        response = self._embed(byom_model, texts)
        declared = byom_model.info.embedding_dimension
        assert len(response.vectors) == len(texts), f"{len(texts)} texts gave {len(response.vectors)} vectors"
        for index, vector in enumerate(response.vectors):
            assert len(vector) == declared, f"vector {index} has dimension {len(vector)}, declared {declared}"
            assert all(math.isfinite(v) for v in vector), f"vector {index} has non-finite values"
        single = self._embed(byom_model, [texts[-1]])
        assert len(single.vectors) == 1

    @check("embed.deterministic")
    def test_embed_deterministic(self, byom_model: Provider) -> None:
        """The same text gives the same vector: twice in a row, and alone or at its position
        in a batch.

        Fix: disable dropout / use inference mode; pad batches with an attention mask so
        batch neighbours do not change a text's vector; return vectors in input order (sort
        by the provider's ``index``).
        """
        texts = list(self.embed_texts)
        first = self._embed(byom_model, texts)
        second = self._embed(byom_model, texts)
        assert vectors_close(first.vectors, second.vectors, 1e-5), "embedding the same texts twice differs"
        for index, text in enumerate(texts):
            alone = self._embed(byom_model, [text])
            assert vectors_close(alone.vectors, first.vectors[index : index + 1], 1e-4), (
                f"text {index}'s vector alone differs from its vector at position {index} of the batch "
                "(batch order lost, or neighbours change it)"
            )

    @check("embed.distinct")
    def test_embed_distinct(self, byom_model: Provider) -> None:
        """Different texts give different vectors (no constant or truncated-to-empty output).

        Fix: pool over the real token states and read the right output tensor.
        """
        response = self._embed(byom_model, list(self.embed_texts))
        vectors = response.vectors
        for i in range(len(vectors)):
            for j in range(i + 1, len(vectors)):
                assert not vectors_close(vectors[i : i + 1], vectors[j : j + 1], 1e-6), (
                    f"texts {i} and {j} have the same vector"
                )

    @check("embed.normalized")
    def test_embed_normalized(self, byom_model: Provider) -> None:
        """When the model declares normalised embeddings, every vector has unit length.

        Applies if ``info.embedding_normalized`` or the response says ``normalized=True``.
        Fix: L2-normalise, or stop declaring it.
        """
        response = self._embed(byom_model, list(self.embed_texts))
        if not (byom_model.info.embedding_normalized or response.normalized):
            pytest.skip(f"{plugin_label(byom_model)}: embeddings not declared normalised")
        for index, vector in enumerate(response.vectors):
            norm = math.sqrt(sum(v * v for v in vector))
            assert math.isclose(norm, 1.0, abs_tol=1e-3), f"vector {index} has norm {norm:.4f}, declared unit"


class CapabilityChecks(ModelSubject):
    """Calling a capability the model did not declare raises ``CapabilityNotSupported``."""

    def _calls(self, model: Provider) -> dict[str, Callable[[], object]]:
        caps = model.info.capabilities
        prompt = self.prompts[0]
        messages = [{"role": "user", "content": prompt}]
        calls: dict[str, Callable[[], object]] = {}
        if not (caps.generate or caps.chat):
            calls["generate"] = lambda: model.generate(messages, max_tokens=4)
            calls["agenerate"] = lambda: asyncio.run(model.agenerate(messages, max_tokens=4))
        elif not caps.generate:
            calls["generate (plain prompt)"] = lambda: model.generate(prompt, max_tokens=4)
        elif not caps.chat and model.tokenizer is None:
            calls["chat"] = lambda: model.generate(messages, max_tokens=4)
        if not caps.stream:
            calls["stream"] = lambda: list(model.stream(messages, max_tokens=4))

            async def drain() -> None:
                async for _ in model.astream(messages, max_tokens=4):
                    pass

            calls["astream"] = lambda: asyncio.run(drain())
        if not caps.embed:
            calls["embed"] = lambda: model.embed(["hello"])
            calls["aembed"] = lambda: asyncio.run(model.aembed(["hello"]))
        if (caps.generate or caps.chat) and not caps.stop_sequences:
            calls["stop_sequences"] = lambda: model.generate(messages, max_tokens=4, stop=["."])
        return calls

    @check("capabilities.undeclared")
    def test_capabilities_undeclared(self, byom_model: Provider) -> None:
        """Every undeclared capability is refused with ``CapabilityNotSupported``.

        An undeclared capability that silently works is a failure too: applications and
        the trust policy plan on the declared set. Fix: do not override the public methods
        (``generate``, ``stream``, ``embed``...) — implement the ``handle_*`` hooks (or, API
        1, the underscore hooks) and let the core check capabilities — or declare it.
        """
        calls = self._calls(byom_model)
        if not calls:
            pytest.skip(f"{plugin_label(byom_model)}: declares every capability; nothing to refuse")
        problems = []
        for name, call in calls.items():
            try:
                call()
            except CapabilityNotSupported:
                continue
            except Exception as exc:  # noqa: BLE001 - any other outcome is the finding.
                problems.append(f"{name}: raised {type(exc).__module__}.{type(exc).__name__}: {exc}")
            else:
                problems.append(f"{name}: not declared but silently worked")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)
