"""Grammar-constrained decoding: tool calls and schema'd answers that are valid by construction.

The engine is llguidance (MIT, no runtime dependencies, a 3 MB wheel). It was chosen by
measurement against xgrammar and outlines-core on SmolLM2's 49,152-token vocabulary
(``bench/grammar_engines.py``; the decision is written up in docs/local-models.md): about
1 ms to compile a schema and 30-60 µs per token for the mask, where outlines-core needs
0.1-1 s of index building per schema and xgrammar needs torch.

Per step the model's logits for tokens the grammar forbids become ``-inf`` before sampling,
and the sampled token advances the matcher; once the grammar is complete only the end token
remains allowed, so the reply ends exactly where the JSON does. What a reply may be comes
from :func:`byom_sdk.reply_constraint`: a tool call in the SDK's ``{"tool_calls": [...]}``
form, an answer following ``response_format``, and, when tools are optional and no schema
was asked for, plain text that does not start with ``{``.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from byom_sdk import BadRequest, GenerateRequest, ModelError, reply_constraint

if TYPE_CHECKING:
    import numpy as np
    from llguidance._lib import JsonCompileOptions

__all__ = ["GrammarCompiler", "TokenConstraint", "grammar_of"]

#: JSON without optional whitespace: fewer tokens, and nothing for a small model to ramble in.
_JSON_OPTIONS: JsonCompileOptions = {"whitespace_flexible": False}
#: plain text for ``tool_choice="auto"``: anything that does not open a JSON object.
_PROSE = r"/[^{\s][^\x00]*/"


def _closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to others, as OpenAI's
    strict mode does. JSON Schema leaves them open by default, and a small model told the
    tool's schema happily invents keys that copy it; the answer stays valid for the original
    schema (closing only narrows it)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed(value) if key in _NESTED else value for key, value in schema.items()}
    if "properties" in out:
        out["properties"] = {name: _closed(value) for name, value in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    for key in ("$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _closed(value) for name, value in out[key].items()}
    return out


_NESTED = frozenset({"items", "prefixItems", "anyOf", "oneOf", "allOf", "not", "if", "then", "else"})


def grammar_of(request: GenerateRequest) -> str | None:
    """The llguidance grammar for ``request``'s reply, or None when it is unconstrained.

    :raises BadRequest: a schema llguidance cannot compile (naming ``response_format`` or
        ``tools``).
    """
    import llguidance

    # One call per reply unless asked, as TGI does: a small model left free to continue the
    # array repeats the same call until max_tokens. extra={"parallel_tool_calls": True} lifts it.
    parallel = bool(request.extra.get("parallel_tool_calls", False))
    constraint = reply_constraint(request, parallel_tool_calls=parallel)
    if constraint is None:
        return None
    field = "tools" if constraint.tool_call is not None else "response_format"
    schemas = [_closed(schema) for schema in constraint.schemas]
    try:
        if not schemas:
            return str(llguidance.LLMatcher.grammar_from_lark(f"start: prose\nprose: {_PROSE}"))
        if len(schemas) == 1 and not constraint.free_text:
            return str(llguidance.LLMatcher.grammar_from_json_schema(schemas[0], defaults=_JSON_OPTIONS))
        rules = [f"json{i}" for i in range(len(schemas))]
        lines = [f"start: {' | '.join([*rules, *(['prose'] if constraint.free_text else [])])}"]
        for rule, schema in zip(rules, schemas, strict=True):
            lines.append(f"{rule}: %json {json.dumps({**schema, 'x-guidance': _JSON_OPTIONS})}")
        if constraint.free_text:
            lines.append(f"prose: {_PROSE}")
        return str(llguidance.LLMatcher.grammar_from_lark("\n".join(lines)))
    except (ValueError, TypeError, RuntimeError) as exc:
        raise BadRequest(f"{field}: the schema cannot be turned into a grammar: {exc}", provider="onnx") from None


class TokenConstraint:
    """One call's matcher: masks logits, then follows the sampled tokens."""

    def __init__(self, matcher: Any, vocab: int, label: str) -> None:
        import llguidance.numpy as llnp

        self._matcher = matcher
        self._label = label
        self._vocab = vocab
        self._bitmask = llnp.allocate_token_bitmask(1, vocab)
        self._fill = llnp.fill_next_token_bitmask

    def allowed(self) -> np.ndarray:
        """Which token ids may come next, as a boolean vector of the tokenizer's vocabulary."""
        import numpy as np

        self._fill(self._matcher, self._bitmask, 0)
        bits = np.unpackbits(self._bitmask.view(np.uint8), bitorder="little")
        return bits[: self._vocab].view(np.bool_)

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` with every token the grammar forbids at ``-inf`` (a new array)."""
        import numpy as np

        allowed = self.allowed()
        width = logits.shape[-1]
        if width > self._vocab:  # padded embedding rows have no token: never allowed
            allowed = np.concatenate([allowed, np.zeros(width - self._vocab, dtype=np.bool_)])
        return np.where(allowed[:width], logits, np.float32(-np.inf)).astype(np.float32, copy=False)

    def consume(self, token: int) -> None:
        """Advance past a sampled token (which the mask allowed)."""
        if not self._matcher.consume_token(token):
            raise ModelError(
                f"model '{self._label}': the grammar rejected token {token}: {self._matcher.get_error()}",
                provider="onnx",
            )

    @property
    def complete(self) -> bool:
        """The reply so far is a whole sentence of the grammar."""
        return bool(self._matcher.is_accepting())


class GrammarCompiler:
    """Per model: the llguidance view of its tokenizer (built once, about 0.5 s for a 49k BPE
    vocabulary, on the first constrained call) and a matcher per constrained call.

    :param tokenizer: the model's ``tokenizers.Tokenizer``.
    :param eos_ids: the model's end tokens; the grammar allows them once the reply is complete.
    """

    def __init__(self, tokenizer: Any, eos_ids: frozenset[int], label: str) -> None:
        self._tokenizer = tokenizer
        self._eos = sorted(eos_ids)
        self._label = label
        self._ll: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, str] = {}

    def _ll_tokenizer(self) -> Any:
        with self._lock:
            if self._ll is None:
                try:
                    import llguidance
                except ImportError:
                    raise ModelError(
                        "constrained decoding needs llguidance (pip install llguidance)", provider="onnx"
                    ) from None
                if not self._eos:
                    raise ModelError(f"model '{self._label}' declares no end token to end a reply", provider="onnx")
                self._ll = llguidance.LLTokenizer(self._tokenizer.to_str(), eos_token=self._eos)
            return self._ll

    def constraint_for(self, request: GenerateRequest) -> TokenConstraint | None:
        """A fresh constraint for ``request``, or None when its reply is unconstrained."""
        import llguidance

        key = json.dumps([request.response_format, request.tools, request.tool_choice], sort_keys=True, default=str)
        grammar = self._grammars.get(key) or grammar_of(request)
        if grammar is None:
            return None
        if len(self._grammars) < 256:  # schemas repeat across calls; arbitrary ones must not pile up
            self._grammars[key] = grammar
        tokenizer = self._ll_tokenizer()
        matcher = llguidance.LLMatcher(tokenizer, grammar)
        if matcher.is_error():
            raise BadRequest(f"response_format/tools: {matcher.get_error()}", provider="onnx")
        return TokenConstraint(matcher, tokenizer.vocab_size, self._label)
