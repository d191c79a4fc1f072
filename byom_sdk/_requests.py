"""The caller's arguments validated into requests.

Every public call (``generate``, ``stream``, ``embed`` and their async twins, on a
``Client`` model or a provider used directly) builds its request here, so bad input is
one typed error everywhere: :class:`~byom_sdk.BadRequest` naming the field, never a raw
pydantic ``ValidationError`` or a ``UnicodeEncodeError`` from deep inside a client library.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict, TypeVar

from pydantic import TypeAdapter, ValidationError

from ._errors import BadRequest
from ._types import EmbedRequest, GenerateRequest, Message, MessageInput, RequestMetadata
from ._validation import describe_validation_error

T = TypeVar("T")

__all__ = ["GenerateParams", "bad_request", "build_embed_request", "build_generate_request", "check_params"]

_messages_adapter: TypeAdapter[tuple[Message, ...]] | None = None


class GenerateParams(TypedDict, total=False):
    """Keyword parameters of ``generate`` / ``stream`` and their async twins."""

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    stop: str | Sequence[str] | None
    seed: int | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    response_format: Mapping[str, Any] | type[Any] | None
    metadata: RequestMetadata | Mapping[str, Any] | None
    extra: Mapping[str, Any] | None


def bad_request(error: ValidationError, *, prefix: str = "") -> BadRequest:
    """One ``BadRequest`` for a validation failure, naming the first field at fault."""
    field, message = describe_validation_error(error, prefix=prefix)
    return BadRequest(f"invalid request: {message}", code="InvalidRequest", details={"field": field or None})


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse keyword parameters ``generate`` does not take, naming them (a misspelled
    ``max_token`` would otherwise surface as a TypeError from deep inside the SDK).

    :raises BadRequest: ``details["field"]`` is the unknown name.
    """
    unknown = [name for name in params if name not in GenerateParams.__annotations__]
    if unknown:
        import difflib

        name = unknown[0]
        close = difflib.get_close_matches(name, GenerateParams.__annotations__, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        known = ", ".join(GenerateParams.__annotations__)
        raise BadRequest(
            f"invalid request: {hint}unknown parameter '{name}' (generate takes {known}; "
            "provider-specific options go in extra={...})",
            code="InvalidRequest",
            details={"field": name},
        )


def _validate_messages(value: Any) -> tuple[Message, ...]:
    global _messages_adapter
    if _messages_adapter is None:  # built on first use: keeps `import byom_sdk` light
        _messages_adapter = TypeAdapter(tuple[Message, ...])
    return _messages_adapter.validate_python(value)


def _field(name: str, convert: Callable[[], T]) -> T:
    """``convert()``, with a wrong shape reported as a BadRequest naming ``name``."""
    try:
        return convert()
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"invalid request: {name}: {exc}", code="InvalidRequest", details={"field": name}) from None


def _json_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(dict(extra))
    json.dumps(copied, allow_nan=False)  # it goes on the wire: JSON, or the caller's error
    return copied


def _tool_dicts(tools: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    if isinstance(tools, (str, bytes, Mapping)):
        raise TypeError("a list of tool definitions is expected, not a single " + type(tools).__name__)
    return tuple(copy.deepcopy(dict(tool)) for tool in tools)


def _response_format_dict(response_format: Mapping[str, Any] | type[Any]) -> dict[str, Any]:
    if isinstance(response_format, type):  # a pydantic class: the façade normalises it first
        from ._structured import normalize_response_format

        response_format = normalize_response_format(response_format)[0]
    return copy.deepcopy(dict(response_format))


def build_generate_request(
    input: MessageInput | GenerateRequest,
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | type[Any] | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> GenerateRequest:
    """Validate the caller's arguments into a :class:`GenerateRequest`.

    ``input`` is a prompt string, a list of messages (``Message`` or dicts) or a ready
    request. ``extra`` is deep-copied, so nothing downstream can change the caller's dicts.

    :raises BadRequest: naming the field (``messages.0.content``, ``temperature``…).
    """
    if isinstance(input, GenerateRequest):
        return input
    fields: dict[str, Any] = {}
    try:
        if isinstance(input, str):
            fields["prompt"] = input
        elif isinstance(input, (list, tuple)):
            fields["messages"] = _validate_messages(input)
        else:
            raise BadRequest(
                f"invalid request: input must be a prompt string or a list of messages, not {type(input).__name__}",
                code="InvalidRequest",
                details={"field": "input"},
            )
        if max_tokens is not None:
            fields["max_tokens"] = max_tokens
        if temperature is not None:
            fields["temperature"] = temperature
        if top_p is not None:
            fields["top_p"] = top_p
        if top_k is not None:
            fields["top_k"] = top_k
        if stop is not None:
            fields["stop"] = _field("stop", lambda: (stop,) if isinstance(stop, str) else tuple(stop))
        if seed is not None:
            fields["seed"] = seed
        if tools:
            fields["tools"] = _field("tools", lambda: _tool_dicts(tools))
        if tool_choice is not None:
            fields["tool_choice"] = _field(
                "tool_choice",
                lambda: copy.deepcopy(tool_choice if isinstance(tool_choice, str) else dict(tool_choice)),
            )
        if response_format is not None:
            fields["response_format"] = _field("response_format", lambda: _response_format_dict(response_format))
        if metadata is not None:
            fields["metadata"] = metadata
        if extra:
            fields["extra"] = _field("extra", lambda: _json_extra(extra))
        request = GenerateRequest.model_validate(fields)  # pydantic's error, read into a BadRequest below
        if request.tools or request.response_format:
            # A schema the validator cannot use is the caller's error, found before the call.
            from ._structured import check_request_schemas

            check_request_schemas(request)
        return request
    except ValidationError as exc:
        raise bad_request(
            exc, prefix="messages" if "messages" not in fields and "prompt" not in fields else ""
        ) from None
    except TypeError as exc:  # e.g. tools=[1]: not a mapping
        raise BadRequest(f"invalid request: {exc}", code="InvalidRequest") from None


def build_embed_request(
    texts: str | Sequence[str] | EmbedRequest,
    *,
    normalize: bool | None = None,
    metadata: RequestMetadata | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> EmbedRequest:
    """Validate the caller's arguments into an :class:`EmbedRequest`.

    :raises BadRequest: naming the field (``texts.2``…).
    """
    if isinstance(texts, EmbedRequest):
        return texts
    try:
        fields: dict[str, Any] = {"texts": (texts,) if isinstance(texts, str) else tuple(texts)}
        if normalize is not None:
            fields["normalize"] = normalize
        if metadata is not None:
            fields["metadata"] = metadata
        if extra:
            fields["extra"] = _field("extra", lambda: _json_extra(extra))  # it goes on the wire too
        return EmbedRequest.model_validate(fields)
    except ValidationError as exc:
        raise bad_request(exc) from None
    except TypeError as exc:
        raise BadRequest(f"invalid request: {exc}", code="InvalidRequest") from None
