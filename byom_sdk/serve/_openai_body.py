"""Reading OpenAI-shaped request bodies: messages (tool-call histories checked), sampling
parameters, ``tools`` / ``tool_choice`` / ``response_format``, and the parameters byom's
contract has no use for (accepted only at their no-op value, see ``_NO_OP``). Shared by the
OpenAI and Open Connector routes and the container routes' OpenAI-shaped bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from byom_sdk import (
    Message,
    messages_from_openai,
)

from .._validation import describe_validation_error
from ._calls import (
    ServeError,
    Where,
    at,
    invalid,
    opt_bool,
    opt_dict,
    opt_float,
    opt_int,
    opt_stop,
)

__all__ = [
    "OpenAIRequest",
    "check_max_tokens",
    "end_user",
    "parse_messages",
    "read_openai",
    "refuse_unknown",
    "response_format",
    "sampling",
    "structured",
]


# -- parsing --------------------------------------------------------------------------------

#: OpenAI parameters the contract cannot honour: accepted at their no-op values (clients
#: send those: ``logprobs: false``, ``frequency_penalty: 0``, ``logit_bias: {}``), refused
#: with a 400 naming them otherwise. ``None`` (null) is always the no-op.
_NO_OP: dict[str, tuple[tuple[Any, ...], str]] = {
    "logprobs": ((False,), "token log-probabilities are not part of byom's contract"),
    "top_logprobs": ((0,), "token log-probabilities are not part of byom's contract"),
    "logit_bias": (({},), "token biases are not part of byom's contract"),
    "frequency_penalty": ((0,), "repetition penalties are not part of byom's contract"),
    "presence_penalty": ((0,), "repetition penalties are not part of byom's contract"),
    "functions": (([],), "legacy function calling is not supported; send 'tools'"),
    "function_call": (("none",), "legacy function calling is not supported; send 'tool_choice'"),
    "audio": ((), "audio output is not supported"),
    "prediction": ((), "predicted outputs are not supported"),
    "modalities": ((["text"],), "only the 'text' modality is supported"),
    "parallel_tool_calls": ((True,), "a model may answer with several tool calls; it cannot be told not to"),
    "store": ((False,), "completions are not stored for later retrieval (the audit log records calls)"),
    "metadata": (({},), "stored-completion metadata is not supported (send tags as X- headers)"),
    "service_tier": (("auto", "default"), "there is one service tier"),
    "reasoning_effort": ((), "reasoning effort is not part of byom's contract"),
    "verbosity": (("medium",), "verbosity is not part of byom's contract"),
    "web_search_options": ((), "web search is not supported"),
    "echo": ((False,), "echoing the prompt is not supported"),
    "suffix": (("",), "insertion (suffix) is not supported"),
    "best_of": ((1,), "server-side best-of is not supported; send n"),
}

#: what each OpenAI route reads (the ones above included): anything else is refused, as
#: OpenAI refuses an unrecognized request argument, rather than silently dropped.
_COMMON = {"model", "max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "n", "stream", "stream_options"}
_COMMON |= {"user", "logprobs", "logit_bias", "frequency_penalty", "presence_penalty"}
_CHAT_PARAMETERS = frozenset(
    _COMMON
    | {"messages", "max_completion_tokens", "tools", "tool_choice", "response_format", "parallel_tool_calls"}
    | {"top_logprobs", "functions", "function_call", "audio", "prediction", "modalities", "store", "metadata"}
    | {"service_tier", "reasoning_effort", "verbosity", "web_search_options", "safety_identifier"}
    | {"prompt_cache_key"}
)
_COMPLETION_PARAMETERS = frozenset(_COMMON | {"prompt", "echo", "suffix", "best_of"})
_EMBEDDING_PARAMETERS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})
#: the largest max_tokens passed on when the model declares no limit (int32: what
#: inference servers parse it into).
_MAX_TOKENS_CEILING = 2**31 - 1


def refuse_unknown(body: Mapping[str, Any], known: frozenset[str]) -> None:
    """A 400 naming the first parameter the route does not read."""
    for key in body:
        if key not in known:
            raise ServeError(
                400,
                f"unrecognized request argument supplied: '{key}'",
                param=key,
                code="unknown_parameter",
            )


def _refuse_unsupported(body: Mapping[str, Any], *, where: Where = "") -> None:
    for key, value in body.items():  # a body has a handful of keys; _NO_OP has twenty
        entry = _NO_OP.get(key)
        if entry is None:
            continue
        defaults, why = entry
        if value is None or any(type(value) is type(d) and value == d for d in defaults):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0 and 0 in defaults:
            continue  # 0.0 for 0
        allowed = " or ".join(json.dumps(d) for d in (None, *defaults))
        field = at(where, key)
        raise ServeError(
            400,
            f"'{field}' is not supported: {why} (accepted: {allowed})",
            param=field,
            code="unsupported_parameter",
        )


def end_user(body: Mapping[str, Any], *, where: Where = "") -> dict[str, str]:
    """OpenAI's ``user`` (or ``safety_identifier``) as the audit's ``end_user`` tag."""
    tags: dict[str, str] = {}
    for key in ("user", "safety_identifier"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            field = at(where, key)
            raise invalid(field, f"'{field}' must be a string, got {type(value).__name__}")
        if value and "end_user" not in tags:
            tags["end_user"] = value[:128]
    key = "prompt_cache_key"
    if body.get(key) is not None and not isinstance(body.get(key), str):
        field = at(where, key)
        raise invalid(field, f"'{field}' must be a string")
    return tags


def check_max_tokens(wanted: int | None, model: Any, param: str) -> None:
    """``wanted`` output tokens (read from the field ``param``) within the model's declared
    output limit, else within int32 (what inference servers parse it into). Every route's
    sampling reader calls it, so no route passes an unbounded value to a model."""
    if wanted is None:
        return
    declared = getattr(getattr(getattr(model, "info", None), "capabilities", None), "max_output_tokens", None)
    limit = declared if isinstance(declared, int) else _MAX_TOKENS_CEILING
    if wanted > limit:
        whose = "the model's output limit" if isinstance(declared, int) else "the largest accepted value"
        raise invalid(param, f"'{param}' must be at most {limit} ({whose}), got {wanted}")


def _tool_calls_in(value: Any, where: str) -> None:
    """An assistant message's ``tool_calls`` in OpenAI's shape, or a 400 naming the field."""
    if not isinstance(value, list):
        raise invalid(where, f"'{where}' must be a list of tool calls")
    for index, call in enumerate(value):
        here = f"{where}.{index}"
        if not isinstance(call, dict):
            raise invalid(here, f"'{here}' must be an object: {{id, type: 'function', function: {{name, arguments}}}}")
        if call.get("type", "function") != "function":
            raise invalid(f"{here}.type", f"'{here}.type' must be 'function'")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise invalid(f"{here}.id", f"'{here}.id' must be a non-empty string")
        function = call.get("function")
        if not isinstance(function, dict):
            raise invalid(f"{here}.function", f"'{here}.function' must be an object with 'name' and 'arguments'")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{here}.function.name", f"'{here}.function.name' must be a non-empty string")
        arguments = function.get("arguments")
        field = f"{here}.function.arguments"
        if arguments is None:
            continue
        if not isinstance(arguments, str):
            raise invalid(field, f"'{field}' must be a string holding a JSON object, got {type(arguments).__name__}")
        if not arguments.strip():
            continue
        try:
            parsed = json.loads(arguments)
        except ValueError as exc:
            raise invalid(field, f"'{field}' is not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise invalid(field, f"'{field}' must hold a JSON object, got {type(parsed).__name__}")


#: OpenAI's pattern for a message's ``name`` (used with ``fullmatch``).
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def parse_messages(value: Any, *, connector: bool = False, where: str = "messages") -> tuple[Message, ...]:
    """OpenAI chat messages → the contract's, refusing what would be silently lost or
    break later: every field a 400 names is ``where.<index>.<field>``."""
    if not isinstance(value, list) or not value:
        raise invalid(where, f"'{where}' must be a non-empty list of messages")
    roles = ("system", "user", "assistant") if connector else ("system", "user", "assistant", "tool")
    items: list[Mapping[str, Any]] = []
    for index, item in enumerate(value):
        here = f"{where}.{index}"
        if not isinstance(item, dict):
            raise invalid(here, f"'{here}' must be an object with 'role' and 'content'")
        role = item.get("role")
        if role == "developer" and not connector:  # OpenAI's newer name for system
            item = {**item, "role": "system"}
            role = "system"
        if role not in roles:
            raise invalid(f"{here}.role", f"'{here}.role' must be one of {', '.join(roles)}, got {role!r}")
        content = item.get("content")
        if connector and not isinstance(content, str):
            raise invalid(f"{here}.content", f"'{here}.content' must be a string")
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                    raise invalid(
                        f"{here}.content.{part_index}", "only text content parts are supported (no images or audio)"
                    )
        elif content is not None and not isinstance(content, str):
            raise invalid(f"{here}.content", f"'{here}.content' must be a string or a list of text parts")
        name = item.get("name")
        if name is not None and not (isinstance(name, str) and _NAME.fullmatch(name)):
            # OpenAI's own rule for a participant's name. Free text here would reach the
            # model (and OpenAI-wire providers) beside the masked content.
            field = f"{here}.name"
            raise invalid(field, f"'{field}' must be 1 to 64 letters, digits, '_' or '-' (^[a-zA-Z0-9_-]{{1,64}}$)")
        if role == "tool":
            call_id = item.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid(
                    f"{here}.tool_call_id",
                    f"'{here}.tool_call_id' is required: the id of the assistant's tool call this result answers",
                )
        tool_calls = item.get("tool_calls")
        if tool_calls is not None:
            if role != "assistant":
                raise invalid(f"{here}.tool_calls", f"'{here}.tool_calls' is only allowed on assistant messages")
            _tool_calls_in(tool_calls, f"{here}.tool_calls")
        items.append(item)
    try:
        return messages_from_openai(items)
    except ValidationError as exc:
        _, message = describe_validation_error(exc)
        raise invalid(where, f"invalid messages: {message}") from None
    except (ValueError, TypeError) as exc:
        raise invalid(where, f"invalid messages: {exc}") from None


def sampling(body: Mapping[str, Any], model: Any, *, where: Where = "") -> dict[str, Any]:
    """``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop``, ``seed`` of an
    OpenAI body as ``generate`` keywords, ``max_tokens`` within ``model``'s limit."""
    params: dict[str, Any] = {}
    # Both are read, so a malformed one is refused even when the other is set.
    completion_tokens = opt_int(body, "max_completion_tokens", low=1, where=where)
    legacy_tokens = opt_int(body, "max_tokens", low=1, where=where)
    max_tokens = legacy_tokens if completion_tokens is None else completion_tokens
    key = "max_tokens" if completion_tokens is None else "max_completion_tokens"
    check_max_tokens(max_tokens, model, at(where, key))
    values = {
        "max_tokens": max_tokens,
        "temperature": opt_float(body, "temperature", low=0.0, high=2.0, where=where),
        "top_p": opt_float(body, "top_p", low=0.0, high=1.0, low_open=True, where=where),
        "top_k": opt_int(body, "top_k", low=0, where=where),
        "stop": opt_stop(body, "stop", where=where),
        "seed": opt_int(body, "seed", where=where),
    }
    for key, value in values.items():
        if value is not None:
            params[key] = value
    if params.get("top_k") == 0:  # 0 means "no top-k" (vLLM, TGI); the contract says it by omission
        del params["top_k"]
    return params


_TOOL_CHOICES = ("auto", "none", "required")


def response_format(value: Any, *, param: str = "response_format") -> dict[str, Any] | None:
    """OpenAI's ``response_format`` (or TGI's ``{"type": "json", "value": schema}``) in the
    contract's shape; ``{"type": "text"}`` asks for nothing."""
    if value is None or value == {"type": "text"}:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in ("json_object", "json_schema"):
        return dict(value)
    if kind == "json" and isinstance(value.get("value"), dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": value["value"]}}
    raise invalid(param, f'\'{param}\' must be {{"type": "text" | "json_object" | "json_schema"}}')


def structured(body: Mapping[str, Any], *, where: Where = "") -> dict[str, Any]:
    """``tools``, ``tool_choice`` and ``response_format`` of an OpenAI body as ``generate``
    keywords."""
    out: dict[str, Any] = {}
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            field = at(where, "tools")
            raise invalid(field, f"'{field}' must be a list of tool objects")
        if tools:
            out["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None:
        if not (choice in _TOOL_CHOICES or (isinstance(choice, dict) and choice.get("type") == "function")):
            field = at(where, "tool_choice")
            raise invalid(field, f"'{field}' must be auto, none, required or a {{type: function}} object")
        out["tool_choice"] = choice
    answer_format = response_format(body.get("response_format"), param=at(where, "response_format"))
    if answer_format is not None:
        out["response_format"] = answer_format
    return out


def _model_name(body: Mapping[str, Any]) -> str:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise invalid("model", "'model' is required: the alias of a served model (see GET /v1/models)")
    return name


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    return body


def _prompt(body: Mapping[str, Any], where: Where) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        field = at(where, "prompt")
        raise invalid(field, f"'{field}' must be a string (token arrays and batches are not supported)")
    return prompt


@dataclass(frozen=True)
class OpenAIRequest:
    """What an OpenAI chat or completions body asks for, checked."""

    #: the messages (chat) or the prompt (completions).
    source: tuple[Message, ...] | str
    #: ``generate`` keywords: sampling, tools, response format.
    params: dict[str, Any]
    #: how many choices; each is its own audited call.
    n: int
    stream: bool
    include_usage: bool
    #: the audit tags the body sets (``end_user``).
    tags: dict[str, str]


def read_openai(
    body: Mapping[str, Any], model: Any, *, chat: bool, max_n: int, tool_calls: bool, where: Where = ""
) -> OpenAIRequest:
    """An OpenAI chat (``chat``) or completions body, wherever it arrives (``/v1``, a
    container body, a Vertex instance at ``where``): one reading, so every route honours
    or refuses the same fields. ``tool_calls`` says whether the answer's shape can carry
    tool calls; where it cannot (a text completion, a text prediction) ``tools`` is a 400
    rather than an answer that silently drops them."""
    _refuse_unsupported(body, where=where)
    params = {**sampling(body, model, where=where), **structured(body, where=where)}
    if not tool_calls:
        for key in ("tools", "tool_choice"):
            if key in params:
                field = at(where, key)
                raise ServeError(
                    400,
                    f"'{field}' is not supported here: this answer is text and cannot carry tool calls "
                    "(ask for a chat completion: 'messages' in the body, or on Vertex an instance with "
                    "'@requestFormat': 'chatCompletions')",
                    param=field,
                    code="unsupported_parameter",
                )
    source: tuple[Message, ...] | str = (
        parse_messages(body.get("messages"), where=at(where, "messages")) if chat else _prompt(body, where)
    )
    tags = end_user(body, where=where)
    n = opt_int(body, "n", low=1, high=max_n, where=where) or 1
    stream = opt_bool(body, "stream", where=where) or False
    if stream and n > 1:
        field = at(where, "n")
        raise invalid(field, f"'{field}' must be 1 when streaming")
    options = opt_dict(body, "stream_options", where=where)
    include_usage = opt_bool(options, "include_usage", where=at(where, "stream_options")) or False
    return OpenAIRequest(source=source, params=params, n=n, stream=stream, include_usage=include_usage, tags=tags)
