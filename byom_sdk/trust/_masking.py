"""Masking on the way out, de-masking on the way back (full responses and streams).

What is masked: prompt text, every message's content (all roles, tool results
included) and ``name``, tool-call arguments (the JSON is parsed and every string value is
masked, so a value is masked whether it is the whole string or inside it), and ``stop``
strings (with the same placeholders, so a stop string still matches the masked text the
model writes). What is not: tool *definitions* (``tools``: schemas written by the
application) and the provider passthrough ``extra``; keep PII out of those.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from .._errors import PluginError, PolicyViolation
from .._types import GenerateRequest, Message, ToolCall
from ._detectors import BUILTIN_ENTITIES, Detector, Span, resolve_overlaps
from ._vault import PLACEHOLDER_PATTERN, Vault

__all__ = [
    "Masker",
    "StreamDemasker",
    "count_unrestored",
    "demask_answer",
    "demask_text",
    "demask_tool_call",
    "drop_cut_placeholder",
]

Mode = Literal["placeholder", "redact", "refuse", "pseudonym"]

# Leftovers that look like a placeholder the vault could not restore: unknown ones, and
# ones the model mangled: case changed (<email_7F3A9C>), spaces inside (< EMAIL_7f3a9c >,
# <EMAIL _7f3a9c>), the digest cut short (<EMAIL_7f3a), a bracket dropped (EMAIL_7f3a9c>),
# or both brackets dropped (EMAIL_7f3a9c, only for the built-in type labels: a bare
# SOME_NAME_c0ffee in prose is too likely to be an identifier). Restored values are gone
# by the time this runs, so whatever still matches was not restored.
_LABELS = "|".join(sorted(BUILTIN_ENTITIES, key=len, reverse=True))
_LEFTOVER = re.compile(
    r"<[ \t]*[A-Za-z][A-Za-z0-9_]{0,40}?[ \t]*_[ \t]*[0-9a-fA-F]{2,64}[ \t]*>?"
    r"|(?<![<\w])[A-Za-z][A-Za-z0-9_]{0,40}?[ \t]*_[ \t]*[0-9a-fA-F]{4,64}[ \t]*>"
    rf"|(?<![<\w])(?i:{_LABELS})_[0-9a-fA-F]{{6,64}}(?![\w>])"
)


#: what placeholders ("<EMAIL_…>") and redactions ("[EMAIL]") add that names cannot hold.
_NAME_BRACKETS = re.compile(r"[<>\[\]]")


class Masker:
    """Finds entities with the configured detectors and replaces them.

    :param detectors: PII detectors, run in order; their spans are merged.
    :param entities: entity types to act on (``None``: all that the detectors report).
    :param thresholds: per-entity minimum score.
    :param default_threshold: minimum score for entities without their own threshold.
    :param mode: ``placeholder``, ``redact``, ``refuse`` or ``pseudonym`` (placeholders from
        the vault given, a :class:`~byom_sdk.trust._vault.PseudonymVault`).
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        *,
        entities: Iterable[str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        default_threshold: float = 0.5,
        mode: Mode = "placeholder",
    ) -> None:
        self.detectors = tuple(detectors)
        self.entities = frozenset(entities) if entities is not None else None
        self.thresholds = dict(thresholds or {})
        self.default_threshold = default_threshold
        self.mode = mode

    def find(self, text: str) -> list[Span]:
        """Spans above their thresholds, overlaps resolved across detectors."""
        if not text:
            return []
        found: list[Span] = []
        keep = found.append
        entities, thresholds, default = self.entities, self.thresholds, self.default_threshold
        size = len(text)
        for detector in self.detectors:
            try:
                spans = list(detector.find(text))
            except Exception as exc:
                name = getattr(detector, "name", type(detector).__name__)
                raise PluginError(
                    f"detector '{name}' failed, the call was not sent: {type(exc).__name__}: {exc}", plugin=name
                ) from exc
            # Spans are named tuples: unpacking them costs less than their attributes.
            for span in spans:
                start, end, entity, score, _ = span
                if (
                    (entities is None or entity in entities)
                    and not score < (thresholds.get(entity, default) if thresholds else default)
                    and 0 <= start < end <= size
                ):
                    keep(span)
        return resolve_overlaps(found) if len(found) > 1 else found

    def mask_text(self, text: str, vault: Vault | None, counts: Counter[str], *, mode: Mode | None = None) -> str:
        """``text`` with every found entity replaced; ``counts`` gets one per entity."""
        spans = self.find(text)
        if not spans:
            return text
        mode = mode or self.mode
        counts.update([span[2] for span in spans])  # the entities; Counter's C loop, not += per span
        if mode == "refuse":
            raise _Refused(sorted({s.entity for s in spans}))
        parts: list[str] = []
        append = parts.append
        pos = 0
        if mode in ("placeholder", "pseudonym") and vault is not None:
            placeholder = vault.placeholder
            for start, end, entity, _, _ in spans:
                append(text[pos:start])
                append(placeholder(entity, text[start:end]))
                pos = end
        else:
            for start, end, entity, _, _ in spans:
                append(text[pos:start])
                append(f"[{entity}]")
                pos = end
        append(text[pos:])
        return "".join(parts)

    def _mask_json(self, value: Any, vault: Vault | None, counts: Counter[str]) -> Any:
        if isinstance(value, str):
            return self.mask_text(value, vault, counts)
        if isinstance(value, list):
            return [self._mask_json(v, vault, counts) for v in value]
        if isinstance(value, dict):
            # Keys leave too ({"ann@example.com": ...} is as personal as a value).
            return {self.mask_text(k, vault, counts): self._mask_json(v, vault, counts) for k, v in value.items()}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # A card or phone number written as a JSON number: masked, it becomes the
            # placeholder string (nothing of the number may leave).
            # An integral float is read as its digits: "4111111111111111.0" hides the card
            # from a detector that wants the number to end there.
            text = str(int(value)) if isinstance(value, float) and value.is_integer() else json.dumps(value)
            masked = self.mask_text(text, vault, counts)
            return masked if masked != text else value
        return value

    def mask_arguments(self, arguments: str, vault: Vault | None, counts: Counter[str]) -> str:
        """Tool-call arguments: string values of the JSON masked; plain text if not JSON."""
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return self.mask_text(arguments, vault, counts)
        masked = self._mask_json(parsed, vault, counts)
        if masked == parsed:
            return arguments
        return json.dumps(masked, ensure_ascii=False)

    def mask_request(self, request: GenerateRequest, vault: Vault | None, counts: Counter[str]) -> GenerateRequest:
        """The request with its prompt, message contents and names, tool-call arguments and
        stop strings masked."""
        changed: dict[str, Any] = {}
        if request.stop:
            stop = tuple(self.mask_text(text, vault, counts) for text in request.stop)
            if stop != request.stop:
                changed["stop"] = stop
        if request.prompt is not None:
            masked = self.mask_text(request.prompt, vault, counts)
            if masked != request.prompt:
                changed["prompt"] = masked
            return request.model_copy(update=changed) if changed else request
        messages: list[Message] = []
        messages_changed = False
        for message in request.messages or ():
            update: dict[str, Any] = {}
            content = self.mask_text(message.content, vault, counts)
            if content != message.content:
                update["content"] = content
            if message.name:
                name = self.mask_text(message.name, vault, counts)
                if name != message.name:
                    # A name is an identifier (OpenAI's ^[a-zA-Z0-9_-]{1,64}$): "EMAIL_7f3a9c",
                    # not "<EMAIL_7f3a9c>", which such an endpoint refuses.
                    update["name"] = _NAME_BRACKETS.sub("", name)
            if message.tool_calls:
                calls = tuple(
                    call.model_copy(update={"arguments": self.mask_arguments(call.arguments, vault, counts)})
                    for call in message.tool_calls
                )
                if calls != message.tool_calls:
                    update["tool_calls"] = calls
            if update:
                messages_changed = True
                message = message.model_copy(update=update)
            messages.append(message)
        if messages_changed:
            changed["messages"] = tuple(messages)
        return request.model_copy(update=changed) if changed else request


class _Refused(Exception):
    def __init__(self, entities: list[str]) -> None:
        super().__init__(", ".join(entities))
        self.entities = entities


def refused_violation(error: _Refused, alias: str) -> PolicyViolation:
    return PolicyViolation(
        f"model '{alias}': the request contains {', '.join(error.entities)} and the masking mode is 'refuse'",
        rule="masking.refuse",
        model=alias,
    )


def demask_text(text: str, vault: Vault) -> tuple[str, int]:
    """``text`` with this vault's placeholders restored, and how many were restored."""
    if "<" not in text or not len(vault):
        return text, 0
    restored = 0

    def swap(match: Any) -> str:
        nonlocal restored
        value = vault.value(match.group(0))
        if value is None:
            return str(match.group(0))
        restored += 1
        return value

    return PLACEHOLDER_PATTERN.sub(swap, text), restored


def demask_answer(text: str, vault: Vault) -> tuple[str, int]:
    """An answer's text restored: like :func:`demask_text`, but when the vault holds a value
    that JSON must escape (a quote, a backslash, a PEM key's newlines) and the answer is
    JSON (it opens with ``{``, ``[`` or a code fence: a structured answer, an emulated
    tool call), a value inside a string literal is restored escaped, so the JSON stays
    valid and is validated as the application will read it."""
    if not vault.json_unsafe:  # the usual vault: nothing to escape, no JSON scan
        return demask_text(text, vault)
    return _JsonRestorer().restore(text, vault)


#: what moves a JSON scanner between inside and outside a string literal (an escape pair
#: first, so that an escaped quote is skipped; a backslash ending a delta escapes the first
#: character of the next one), and the placeholders it restores.
_JSON_TOKEN = re.compile(r'\\.|\\\Z|"|' + PLACEHOLDER_PATTERN.pattern, re.DOTALL)


class _JsonRestorer:
    """Restores placeholders in JSON text fed in order, in one or many pieces: a value
    inside a string literal is written with JSON's escapes, one outside as it is.

    ``json_mode`` ``None`` decides on the first text that is not white space. The scan runs
    over the masked text, whose placeholders hold no quote or backslash, so a restored
    value never moves the scanner."""

    __slots__ = ("in_string", "json_mode", "skip_first")

    def __init__(self, *, json_mode: bool | None = None) -> None:
        self.json_mode = json_mode
        self.in_string = False
        self.skip_first = False

    def restore(self, text: str, vault: Vault) -> tuple[str, int]:
        if self.json_mode is None:
            start = text.lstrip()[:1]
            if not start:
                return text, 0  # white space only: nothing to restore, nothing decided
            self.json_mode = start in "{[`"
        if not self.json_mode:
            return demask_text(text, vault)
        parts: list[str] = []
        pos = 0
        restored = 0
        begin = 0
        if self.skip_first and text:
            self.skip_first, begin = False, 1  # escaped by the backslash ending the last piece
        for match in _JSON_TOKEN.finditer(text, begin):
            token = match.group(0)
            if token == '"':
                self.in_string = not self.in_string
            elif token[0] == "\\":
                self.skip_first = len(token) == 1
            else:
                value = vault.value(token)
                if value is None:
                    continue
                parts.append(text[pos : match.start()])
                parts.append(json.dumps(value, ensure_ascii=False)[1:-1] if self.in_string else value)
                pos = match.end()
                restored += 1
        if not restored:
            return text, 0
        parts.append(text[pos:])
        return "".join(parts), restored


#: the end of an answer cut inside a placeholder's digest (a bare "<EMAIL_" is kept: the
#: stream's held prefix before a finish is pinned by test_held_prefix_is_flushed_before_finish).
_CUT = re.compile(r"<[A-Z][A-Z0-9_]{0,40}_[0-9a-f]{1,63}\Z")


def drop_cut_placeholder(text: str, vault: Vault) -> tuple[str, bool]:
    """``text`` without a placeholder cut short at its very end (an answer stopped by
    ``max_tokens`` mid-placeholder): a half placeholder restores to nothing, and shown to
    the application it reads as data. Only the start of a placeholder this vault issued,
    with some of its digest, is dropped; ``a <`` or ``<EMAIL_`` stay."""
    cut = text.rfind("<")
    if cut == -1 or not _CUT.match(text, cut) or not vault.could_start(text[cut:]):
        return text, False
    return text[:cut], True


def count_unrestored(text: str) -> int:
    """Placeholder-like leftovers in restored text: unknown to the vault, or mangled by
    the model (case, inner spaces, truncation, missing brackets). Each counts once."""
    if "_" not in text:
        return 0
    return sum(1 for _ in _LEFTOVER.finditer(text))


def _demask_json(value: Any, vault: Vault) -> tuple[Any, int]:
    if isinstance(value, str):
        return demask_text(value, vault)
    if isinstance(value, list):
        total = 0
        out = []
        for item in value:
            restored, n = _demask_json(item, vault)
            out.append(restored)
            total += n
        return out, total
    if isinstance(value, dict):
        total = 0
        result = {}
        for key, item in value.items():
            key, k = demask_text(key, vault)  # keys are masked on the way out, so restored
            restored, n = _demask_json(item, vault)
            result[key] = restored
            total += n + k
        return result, total
    return value, 0


def demask_tool_call(call: ToolCall, vault: Vault) -> tuple[ToolCall, int]:
    """A tool call with placeholders in its JSON string values restored (the JSON is
    re-encoded so restored values are escaped correctly). A placeholder written with
    JSON's escapes (``\\u003cEMAIL_…\\u003e``, as Go's encoder writes ``<``) is restored too;
    arguments that are not valid JSON get their values escaped for the string each sits in."""
    arguments = call.arguments
    if "<" not in arguments and "\\u003" not in arguments:
        return call, 0
    try:
        parsed = json.loads(arguments)
    except ValueError:
        text, n = _JsonRestorer(json_mode=True).restore(arguments, vault)
    else:
        restored, n = _demask_json(parsed, vault)
        text = json.dumps(restored, ensure_ascii=False) if n else call.arguments
    return (call.model_copy(update={"arguments": text}) if n else call), n


class StreamDemasker:
    """Restores placeholders in a stream of text deltas.

    It holds back only a suffix that is still a proper prefix of a placeholder this
    vault issued (checked by binary search over the vault's sorted placeholders), so text
    that cannot start a placeholder is passed on at once and the time to first token is
    kept. Works on ``str``: multi-byte characters are whole code points by the time a
    provider yields a delta. Values JSON must escape are escaped inside a JSON answer's
    string literals, as :func:`demask_answer` does.
    """

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held = ""
        self.restored = 0
        #: placeholders dropped because the answer was cut inside them.
        self.cut = 0
        self._json = _JsonRestorer() if vault.json_unsafe else None

    def feed(self, text: str) -> str:
        """Text that is safe to emit now (possibly empty)."""
        pending = self._held + text if self._held else text
        cut = pending.rfind("<")
        if cut != -1 and ">" not in pending[cut:] and self.vault.could_start(pending[cut:]):
            self._held = pending[cut:]
            pending = pending[:cut]
        else:
            self._held = ""
        if self._json is not None:
            out, n = self._json.restore(pending, self.vault)
        else:
            out, n = demask_text(pending, self.vault)
        self.restored += n
        return out

    @property
    def holding(self) -> bool:
        """True while the start of a placeholder is held back."""
        return bool(self._held)

    def flush(self, *, truncated: bool = False) -> str:
        """Whatever is still held back (at the end of the stream or before a non-text
        event; a held prefix that never completed is not a placeholder). ``truncated``:
        the answer was cut by ``max_tokens``, so a held placeholder start is dropped (see
        :func:`drop_cut_placeholder`)."""
        held, self._held = self._held, ""
        if truncated and held:
            held, dropped = drop_cut_placeholder(held, self.vault)
            self.cut += dropped
        return held
