"""Checks of embeddings and of the refusal of undeclared capabilities."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from ..._errors import BadRequest, CapabilityNotSupported
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

    @check("embed.batch")
    def test_embed_batch(self, byom_model: Provider) -> None:
        """A large batch (``embed_batch_size`` texts, 64) gives one vector per text, in order,
        from ``embed`` and from ``aembed``.

        Servers cap the texts per call (16, 32, 96...); the provider must split a larger
        batch itself and join the answers, never send the first chunk and return fewer
        vectors. The first and the last text's vectors equal their vectors alone. Fix:
        send batches of the server's limit and concatenate the vectors in input order.
        """
        base = list(self.embed_texts)
        texts = [f"{base[i % len(base)]} (#{i})" for i in range(self.embed_batch_size)]
        response = self._embed(byom_model, texts)
        assert len(response.vectors) == len(texts), (
            f"{plugin_label(byom_model)}: a batch of {len(texts)} texts gave {len(response.vectors)} vectors"
        )
        # 2.8: the async path splits its batches too (async.embed compares only a few texts).
        aresponse = asyncio.run(byom_model.aembed(texts))
        assert len(aresponse.vectors) == len(texts) and vectors_close(aresponse.vectors, response.vectors, 1e-3), (
            f"{plugin_label(byom_model)}: aembed of a batch of {len(texts)} texts gave {len(aresponse.vectors)} "
            "vectors, not embed's in the same order (does the async path send the first chunk only?)"
        )
        for index in (0, len(texts) - 1):
            alone = self._embed(byom_model, [texts[index]])
            assert vectors_close(alone.vectors, response.vectors[index : index + 1], 1e-3), (
                f"text {index} of the batch of {len(texts)} has another vector than alone (order lost when splitting?)"
            )

    @check("embed.empty_text")
    def test_embed_empty_text(self, byom_model: Provider) -> None:
        """An empty or whitespace-only text gets one finite vector of the declared dimension
        — or a ``BadRequest``; never NaN or infinity returned as an answer.

        Mean pooling over zero tokens divides 0 by 0, and a NaN vector poisons every
        similarity computed with it. Fix: guard the pooling (clamp the mask sum, as
        sentence-transformers does) or refuse such texts with ``BadRequest``.
        """
        require_capability(byom_model, "embed")
        declared = byom_model.info.embedding_dimension
        problems = []
        for text in ("", " \n\t "):
            try:
                response = byom_model.embed([text])
            except BadRequest:
                continue
            if len(response.vectors) != 1:
                problems.append(f"{text!r} gave {len(response.vectors)} vectors")
                continue
            vector = response.vectors[0]
            if len(vector) != declared:
                problems.append(f"{text!r} gave a vector of dimension {len(vector)}, declared {declared}")
            if not all(math.isfinite(v) for v in vector):
                problems.append(f"{text!r} gave non-finite values {list(vector[:3])}...")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)

    @check("embed.repeated_text")
    def test_embed_repeated_text(self, byom_model: Provider) -> None:
        """A batch that repeats a text (``[a, b, a]``) gets one vector per text — three —
        and the repeated text the same vector both times.

        A provider that drops duplicates to save tokens must expand the answer back to the
        caller's texts; otherwise the batch gets fewer vectors (or the later ones shifted).
        Fix: embed every text as given, or map the unique texts' vectors back to every
        position.
        """
        require_capability(byom_model, "embed")
        texts = list(self.embed_texts[:2])
        if len(texts) < 2 or texts[0] == texts[1]:
            texts = [self.embed_texts[0], f"{self.embed_texts[0]} (again, differently)"]
        batch = [texts[0], texts[1], texts[0]]
        label = plugin_label(byom_model)
        try:
            response = byom_model.embed(batch)
        except Exception as exc:  # any failure of a valid batch is the finding
            raise AssertionError(
                f"{label}: a batch repeating a text ({batch!r}) raised {type(exc).__name__}: {exc}"
            ) from exc
        vectors = response.vectors
        assert len(vectors) == len(batch), f"{label}: {len(batch)} texts, one repeated, gave {len(vectors)} vectors"
        assert vectors_close(vectors[0:1], vectors[2:3], 1e-4), (
            f"{label}: the text repeated at positions 0 and 2 of {batch!r} got different vectors"
        )

    @check("embed.long_text")
    def test_embed_long_text(self, byom_model: Provider) -> None:
        """One long text (about 4,000 characters) gets one finite vector of the declared
        dimension — or a ``BadRequest`` when it exceeds the model's limit.

        A provider that splits long texts into chunks must pool the chunks' vectors into
        one (a mean), never join them (``sum(vectors, ())`` concatenates) nor return one
        vector per chunk. Fix: truncate to the model's window, pool chunk vectors
        element-wise, or refuse the text with ``BadRequest``.
        """
        require_capability(byom_model, "embed")
        declared = byom_model.info.embedding_dimension
        words = " ".join(self.embed_texts).split()
        text = ""
        index = 0
        while len(text) < 4000:
            text += words[index % len(words)] + " "
            index += 1
        text = text.strip()
        label = plugin_label(byom_model)
        try:
            response = byom_model.embed([text])
        except BadRequest:
            return
        vectors = response.vectors
        assert len(vectors) == 1, f"{label}: one text of {len(text)} characters gave {len(vectors)} vectors"
        assert len(vectors[0]) == declared, (
            f"{label}: a text of {len(text)} characters gave a vector of dimension {len(vectors[0])}, "
            f"declared {declared}: chunk vectors joined instead of pooled?"
        )
        assert all(math.isfinite(v) for v in vectors[0]), f"{label}: the long text's vector has non-finite values"

    @check("embed.usage")
    def test_embed_usage(self, byom_model: Provider) -> None:
        """Embedding usage counts the texts' tokens: with an exact source (``server`` /
        ``tokenizer``) and a tokenizer, ``input_tokens`` is within ``usage_tolerance`` per
        text (special tokens) — plus ``server_usage_tolerance`` for "server" — of the
        tokenizer's count of the texts.

        Fix: report the tokens the server counted or count each text with the model's
        tokenizer (``source="tokenizer"``); never the number of texts or characters. Without
        a count, use ``Usage.estimate`` (``source="estimate"``).
        """
        texts = list(self.embed_texts)
        response = self._embed(byom_model, texts)
        tokenizer = self.tokenizer_for(byom_model)
        if tokenizer is None:
            pytest.skip(f"{plugin_label(byom_model)}: model has no tokenizer to compare embedding usage with")
        usage = response.usage
        if usage is None or usage.source not in ("server", "tokenizer"):
            pytest.skip(f"{plugin_label(byom_model)}: embedding usage is not exact ({usage!r})")
        want = sum(tokenizer.count(text) for text in texts)
        slack: float = self.usage_tolerance * len(texts)
        if usage.source == "server":
            slack += self.server_usage_tolerance * want
        assert abs(usage.input_tokens - want) <= slack, (
            f"{plugin_label(byom_model)}: embedding usage.input_tokens={usage.input_tokens} "
            f"(source {usage.source!r}) for {len(texts)} texts the tokenizer counts {want} tokens"
        )


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
