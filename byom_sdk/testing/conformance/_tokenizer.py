"""Tokenizer checks — on a tokenizer alone, or on a model's own ``tokenizer`` — and usage
compared with the tokenizer."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar

import pytest

from ..._tokenizer import Tokenizer
from ..._types import Message
from ._core import Conformance, check, plugin_label, require_capability
from ._subject import ModelSubject, collect

if TYPE_CHECKING:
    from ..._provider import Provider

__all__ = ["TokenizerChecks", "TokenizerConformance", "UsageChecks"]


class UsageChecks(ModelSubject):
    """``usage`` counted with the model's tokenizer agrees with that tokenizer."""

    @check("usage.tokenizer_counts")
    def test_usage_tokenizer_counts(self, byom_model: Provider) -> None:
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

    @check("usage.server_counts")
    def test_usage_server_counts(self, byom_model: Provider) -> None:
        """Usage labelled ``source="server"`` agrees with the model's tokenizer, when it has one.

        Input and output counts are within ``usage_tolerance`` tokens plus
        ``server_usage_tolerance`` (relative) of the tokenizer's counts of the prompt (or
        rendered chat) and of the text; generated and streamed. A guess labelled
        ``"server"`` (characters / 4, words, the ``max_tokens`` asked for) is the finding.
        Fix: say ``"server"`` only for counts the endpoint returned; otherwise count with
        the tokenizer (``"tokenizer"``) or use ``Usage.estimate`` (``"estimate"``).
        """
        require_capability(byom_model, "generate", any_of=("generate", "chat"))
        tokenizer = self.tokenizer_for(byom_model)
        if tokenizer is None:
            pytest.skip(f"{plugin_label(byom_model)}: model has no tokenizer to compare server usage with")
        limit = max(1, min(4, self.max_tokens // 4))
        streams = byom_model.info.capabilities.stream
        problems: list[str] = []
        seen_server = False
        for cut in (self.max_tokens, limit):
            request = self.reference(byom_model, max_tokens=cut)
            reply = byom_model.generate(request)
            answers = [("generate", reply.usage, reply.text)]
            if streams:
                result = collect(byom_model.stream(request))
                if result.usage is not None:
                    answers.append(("stream", result.usage, result.text))
            prompt_count = tokenizer.count(self.prompt_text(byom_model, request))
            for how, usage, text in answers:
                if usage.source != "server":
                    continue
                seen_server = True
                text_count = tokenizer.count(text)
                sides = (("input", usage.input_tokens, prompt_count), ("output", usage.output_tokens, text_count))
                for side, got, want in sides:
                    slack = self.usage_tolerance + self.server_usage_tolerance * want
                    if abs(got - want) > slack:
                        problems.append(f"{how} max_tokens={cut}: {side}_tokens={got}, tokenizer counts {want}")
        if not seen_server:
            pytest.skip(f"{plugin_label(byom_model)}: usage is not labelled 'server'")
        assert not problems, (
            f"{plugin_label(byom_model)} usage labelled 'server' disagrees with the model's tokenizer: "
            + "; ".join(problems[:4])
        )


class TokenizerChecks(Conformance):
    """The ``tokenizer.*`` checks, run on ``byom_tokenizer``: the subject's
    ``make_tokenizer()`` — or, in :class:`ModelConformance`, the model's ``tokenizer``
    (skipped with a reason when the model has none).

    :cvar sample_texts: texts for round-trip and count checks.
    :cvar lossless: ``False`` for tokenizers that normalise (lower-casing WordPiece);
        ``tokenizer.roundtrip`` then checks that a second round trip changes nothing.
        ``None`` (default): lossless, except for the tokenizer of a model that only embeds.
    """

    sample_texts: ClassVar[tuple[str, ...]] = (
        "Hello, world!",
        "  leading and trailing spaces  ",
        "Zürich \u2013 naïve café, 東京, emoji 🎉",
        "line one\nline two\ttabbed",
        "Numbers 12345 and symbols #@$%^&*()",
        # decomposed accents (NFD, as macOS file names and some editors write them): a
        # decoder that normalises to NFC changes the caller's text (2.8)
        "Cafe\u0301 re\u0301sume\u0301 n\u0303",
    )
    lossless: ClassVar[bool | None] = None

    def reference_encode(self, text: str) -> list[int] | None:
        """Oracle: the ids the reference implementation produces, or ``None`` (skip)."""
        return None

    def _lossless(self, request: pytest.FixtureRequest) -> bool:
        if self.lossless is not None:
            return self.lossless
        if isinstance(self, ModelSubject):
            caps = request.getfixturevalue("byom_model").info.capabilities
            return bool(caps.generate or caps.chat)
        return True

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
    def test_tokenizer_roundtrip(self, byom_tokenizer: Tokenizer, request: pytest.FixtureRequest) -> None:
        """``decode(encode(text)) == text`` (or, for ``lossless = False``, is stable).

        Fix: decode without cleaning up spaces; keep byte-fallback tokens for non-ASCII.
        """
        lossless = self._lossless(request)
        problems = []
        for text in self.sample_texts:
            once = byom_tokenizer.decode(byom_tokenizer.encode(text))
            target = text if lossless else once
            again = once if lossless else byom_tokenizer.decode(byom_tokenizer.encode(once))
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
        """The chat template renders every message's content — the system message included —
        and the generation prompt is appended only when asked.

        With ``add_generation_prompt=True`` the rendering only appends to the one without.
        When the two are equal (templates like Mistral's have no generation prompt), a
        conversation ending with an assistant turn must not be rendered with a new
        assistant turn opened after it. Fix: load ``chat_template`` from
        ``tokenizer_config.json`` or fall back to ChatML; pass ``add_generation_prompt``
        through; keep system messages (fold them into the first user turn if the format
        has no system role).
        """
        messages = [
            Message(role="system", content="SYSTEM-MARKER"),
            Message(role="user", content="USER-MARKER"),
        ]
        with_prompt = byom_tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        without = byom_tokenizer.apply_chat_template(messages, add_generation_prompt=False)
        assert isinstance(with_prompt, str)
        assert "USER-MARKER" in with_prompt, "user content missing from the rendered chat"
        assert "SYSTEM-MARKER" in with_prompt, f"the system message is missing from the rendered chat {with_prompt!r}"
        assert with_prompt.startswith(without), "add_generation_prompt must only append"
        if with_prompt != without:
            return
        answered = [*messages, Message(role="assistant", content="ASSISTANT-MARKER")]
        closed = byom_tokenizer.apply_chat_template(answered, add_generation_prompt=False)
        after_answer = closed[closed.rfind("ASSISTANT-MARKER") + len("ASSISTANT-MARKER") :]
        after_user = with_prompt[with_prompt.rfind("USER-MARKER") + len("USER-MARKER") :]
        opened = after_user.strip() and after_answer.rstrip().endswith(after_user.strip())
        assert not (opened and _names_assistant(after_user)), (
            f"add_generation_prompt=False is ignored: a conversation ending with the assistant's answer is "
            f"rendered with a new assistant turn opened after it ({after_answer!r})"
        )

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


class TokenizerConformance(TokenizerChecks):
    """Checks for a :class:`~byom_sdk.Tokenizer` on its own (a ``byom_tokenizers`` plugin).

    Subclass and implement :meth:`make_tokenizer`::

        class TestMyTokenizer(TokenizerConformance):
            def make_tokenizer(self):
                return MyTokenizer.from_file("tests/data/tokenizer.json")

    Optional: a ``reference_encode(text)`` oracle, ``sample_texts``, ``lossless``.
    """

    def make_tokenizer(self) -> Tokenizer:
        """Build the tokenizer under test (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_tokenizer(self) -> Tokenizer")


def _names_assistant(text: str) -> bool:
    """Whether ``text`` (what follows a turn's content) opens an assistant turn by name."""
    lowered = text.lower()
    return "assistant" in lowered or "model" in lowered
