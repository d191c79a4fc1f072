"""Tokenizer checks: the ``Tokenizer`` protocol on its own, and usage counted with it."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar

import pytest

from ..._tokenizer import Tokenizer
from ..._types import Message
from ._core import Conformance, check, plugin_label, require_capability
from ._subject import ModelSubject

if TYPE_CHECKING:
    from ..._model import Model

__all__ = ["TokenizerConformance", "UsageChecks"]


class UsageChecks(ModelSubject):
    """``usage`` counted with the model's tokenizer agrees with that tokenizer."""

    @check("usage.tokenizer_counts")
    def test_usage_tokenizer_counts(self, byom_model: Model) -> None:
        """With ``usage.source == "tokenizer"``, input and output counts match the tokenizer.

        Input tokens match the tokenizer's count of the prompt (or rendered chat); output
        tokens match the count of the generated text, within ``usage_tolerance`` (special
        tokens, re-tokenisation). Fix: count with the same tokenizer the model uses, over
        the text actually sent, or report ``source="estimate"``.
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        tokenizer = self.tokenizer_for(byom_model)
        if tokenizer is None:
            pytest.skip(f"{plugin_label(byom_model)}: model has no tokenizer to compare usage with")
        limit = max(1, min(4, self.max_tokens // 4))
        problems = []
        for cut in (None, limit):
            request = self.reference(byom_model, max_tokens=cut or self.max_tokens)
            reply = byom_model.generate(request)
            if reply.usage.source != "tokenizer":
                pytest.skip(f"{plugin_label(byom_model)}: usage.source is {reply.usage.source!r}, not 'tokenizer'")
            prompt_count = tokenizer.count(self.prompt_text(byom_model, request))
            text_count = tokenizer.count(reply.text)
            tol = self.usage_tolerance
            if abs(reply.usage.input_tokens - prompt_count) > tol:
                problems.append(f"input_tokens={reply.usage.input_tokens}, tokenizer counts {prompt_count}")
            if abs(reply.usage.output_tokens - text_count) > max(tol, text_count // 10):
                problems.append(f"output_tokens={reply.usage.output_tokens}, tokenizer counts {text_count}")
        assert not problems, f"{plugin_label(byom_model)} usage disagrees with its tokenizer: " + "; ".join(problems)


class TokenizerConformance(Conformance):
    """Checks for a :class:`~byom_sdk.Tokenizer` (a ``byom_tokenizers`` plugin or a model's).

    Subclass and implement :meth:`make_tokenizer`::

        class TestMyTokenizer(TokenizerConformance):
            def make_tokenizer(self):
                return MyTokenizer.from_file("tests/data/tokenizer.json")

    :cvar sample_texts: texts for round-trip and count checks.
    :cvar lossless: ``False`` for tokenizers that normalise (lower-casing WordPiece);
        ``tokenizer.roundtrip`` then checks that a second round trip changes nothing.
    """

    sample_texts: ClassVar[tuple[str, ...]] = (
        "Hello, world!",
        "  leading and trailing spaces  ",
        "Zürich \u2013 naïve café, 東京, emoji 🎉",
        "line one\nline two\ttabbed",
        "Numbers 12345 and symbols #@$%^&*()",
    )
    lossless: ClassVar[bool] = True

    def make_tokenizer(self) -> Tokenizer:
        """Build the tokenizer under test (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_tokenizer(self) -> Tokenizer")

    def reference_encode(self, text: str) -> list[int] | None:
        """Oracle: the ids the reference implementation produces, or ``None`` (skip)."""
        return None

    @check("tokenizer.protocol")
    def test_tokenizer_protocol(self, byom_tokenizer: Tokenizer) -> None:
        """The object implements the ``Tokenizer`` protocol with the right types.

        ``encode`` gives ints, ``count`` an int, ``special_tokens`` maps str → int and
        ``eos_token_ids`` is a tuple of ints. Fix the method signatures/return types.
        """
        assert isinstance(byom_tokenizer, Tokenizer), f"{type(byom_tokenizer).__name__} lacks Tokenizer methods"
        ids = byom_tokenizer.encode(self.sample_texts[0])
        assert isinstance(ids, list) and ids and all(isinstance(i, int) for i in ids), f"encode gave {ids!r}"
        assert isinstance(byom_tokenizer.count(self.sample_texts[0]), int)
        assert byom_tokenizer.count("") == 0, "count('') must be 0"
        special = byom_tokenizer.special_tokens
        assert isinstance(special, Mapping) and all(
            isinstance(k, str) and isinstance(v, int) for k, v in special.items()
        ), "special_tokens must map str to int"
        eos = byom_tokenizer.eos_token_ids
        assert isinstance(eos, tuple) and all(isinstance(i, int) for i in eos), "eos_token_ids must be ints"

    @check("tokenizer.roundtrip")
    def test_tokenizer_roundtrip(self, byom_tokenizer: Tokenizer) -> None:
        """``decode(encode(text)) == text`` (or, for ``lossless = False``, is stable).

        Fix: decode without cleaning up spaces; keep byte-fallback tokens for non-ASCII.
        """
        problems = []
        for text in self.sample_texts:
            once = byom_tokenizer.decode(byom_tokenizer.encode(text))
            target = text if self.lossless else once
            again = once if self.lossless else byom_tokenizer.decode(byom_tokenizer.encode(once))
            if again != target:
                problems.append(f"{text!r} -> {again!r}")
        assert not problems, "round trip changed text: " + "; ".join(problems)

    @check("tokenizer.count")
    def test_tokenizer_count(self, byom_tokenizer: Tokenizer) -> None:
        """``count(text)`` equals ``len(encode(text))`` and is deterministic.

        Fix: count with the same pipeline as ``encode`` (without special tokens).
        """
        for text in self.sample_texts:
            ids = byom_tokenizer.encode(text)
            assert byom_tokenizer.count(text) == len(ids), f"count({text!r}) != len(encode)"
            assert byom_tokenizer.encode(text) == ids, f"encode({text!r}) is not deterministic"

    @check("tokenizer.chat_template")
    def test_tokenizer_chat_template(self, byom_tokenizer: Tokenizer) -> None:
        """The chat template renders every message's content, and the generation prompt is
        appended only when asked.

        Fix: load ``chat_template`` from ``tokenizer_config.json`` or fall back to ChatML.
        """
        messages = [
            Message(role="system", content="SYSTEM-MARKER"),
            Message(role="user", content="USER-MARKER"),
        ]
        with_prompt = byom_tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        without = byom_tokenizer.apply_chat_template(messages, add_generation_prompt=False)
        assert isinstance(with_prompt, str)
        assert "USER-MARKER" in with_prompt, "user content missing from the rendered chat"
        assert with_prompt.startswith(without), "add_generation_prompt must only append"

    @check("tokenizer.threads")
    def test_tokenizer_threads(self, byom_tokenizer: Tokenizer) -> None:
        """Encoding from several threads gives the same ids as encoding alone.

        Fix: guard mutable caches with a lock.
        """
        texts = list(self.sample_texts) * 4
        alone = [byom_tokenizer.encode(t) for t in texts]
        with ThreadPoolExecutor(max_workers=8) as pool:
            together = list(pool.map(byom_tokenizer.encode, texts))
        assert together == alone, "concurrent encode() gave different ids"

    @check("tokenizer.reference")
    def test_tokenizer_reference(self, byom_tokenizer: Tokenizer) -> None:
        """The ids match the reference implementation (``reference_encode`` oracle).

        Fix: load the exact vocabulary/merges and normaliser of the reference.
        """
        expected = [self.reference_encode(t) for t in self.sample_texts]
        if all(e is None for e in expected):
            pytest.skip(f"{type(self).__name__}.reference_encode offers no oracle")
        for text, ids in zip(self.sample_texts, expected, strict=True):
            if ids is not None:
                assert byom_tokenizer.encode(text) == ids, f"ids for {text!r} differ from the reference"
