"""Structured output and tool calls: one reading of schemas, outputs and tool calls.

``response_format`` arrives as a pydantic model class, a bare JSON schema, or OpenAI's
shape; it is normalised to OpenAI's shape (what native servers take) and validated output
becomes ``GenerateResponse.parsed``. Models that declare no native or constrained mechanism
are *emulated*: the schema (or the tools and the reply format for a call) goes into a
system message, the answer is parsed and validated here, and a failed answer gets one
repair round before :class:`~byom_sdk.SchemaError`. Validation uses ``jsonschema``
(Draft 2020-12), imported on first use.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import BadRequest, SchemaError
from ._types import GenerateRequest, Message, ToolCall

__all__ = [
    "EMULATED_TOOL_KEY",
    "ReplyConstraint",
    "emulate",
    "normalize_response_format",
    "parse_json",
    "parse_tool_calls",
    "plain_messages",
    "repair_request",
    "reply_constraint",
    "schema_of",
    "tool_schema",
    "validate",
]

#: the key an emulated model answers with when it calls tools.
EMULATED_TOOL_KEY = "tool_calls"

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def normalize_response_format(value: Any) -> tuple[dict[str, Any], Any]:
    """``value`` in OpenAI's shape, and the pydantic class to build ``parsed`` with (or None).

    :raises BadRequest: naming ``response_format`` for anything else.
    """
    from pydantic import BaseModel

    if isinstance(value, type) and issubclass(value, BaseModel):
        schema = value.model_json_schema()
        return {"type": "json_schema", "json_schema": {"name": value.__name__, "schema": schema, "strict": True}}, value
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "json_object":
            return {"type": "json_object"}, None
        if kind == "json_schema":
            inner = value.get("json_schema")
            if not isinstance(inner, Mapping) or not isinstance(inner.get("schema"), Mapping):
                raise BadRequest(
                    "invalid request: response_format.json_schema.schema must be a JSON schema object",
                    code="InvalidRequest",
                    details={"field": "response_format"},
                )
            return {"type": "json_schema", "json_schema": {"name": "response", **dict(inner)}}, None
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": dict(value)}}, None
    raise BadRequest(
        f"invalid request: response_format must be a pydantic model class or a JSON schema, not {type(value).__name__}",
        code="InvalidRequest",
        details={"field": "response_format"},
    )


def schema_of(response_format: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema a normalised ``response_format`` asks for (``{"type": "object"}``
    for ``json_object``)."""
    if not response_format:
        return None
    if response_format.get("type") == "json_object":
        return {"type": "object"}
    inner = response_format.get("json_schema") or {}
    schema = inner.get("schema")
    return dict(schema) if isinstance(schema, Mapping) else None


def parse_json(text: str) -> Any:
    """The JSON value in a model's answer: the whole text, a fenced block, or the first
    object or array in it (models wrap JSON in prose and fences when only asked to).

    :raises ValueError: when no JSON value can be read.
    """
    try:
        return _parse_json(text.strip())
    except RecursionError:
        raise ValueError("the answer's JSON is nested too deeply") from None


def _parse_json(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    fenced = _FENCE.search(candidate)
    if fenced:
        try:
            return json.loads(fenced.group(1))
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for index, char in enumerate(candidate):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(candidate, index)
                return value
            except ValueError:
                continue
    raise ValueError("the answer holds no JSON value")


def check_schema(schema: Any, field: str) -> None:
    """Refuse a JSON schema the validator cannot use (an unknown type, a bad keyword value,
    a pattern that is no regex) before any request is sent. Each distinct schema is checked
    once per process: checking one against the metaschema costs most of a millisecond, and
    applications send the same few schemas on every call.

    :raises BadRequest: naming ``field``.
    """
    if not isinstance(schema, (Mapping, bool)):
        problem: str | None = f"a schema is an object, not {type(schema).__name__}"
    else:
        try:
            problem = _schema_problem(json.dumps(schema, sort_keys=True, default=str))
        except RecursionError:
            problem = "it is nested too deeply"
    if problem is not None:
        raise BadRequest(
            f"invalid request: {field} is not a usable JSON schema: {problem}",
            code="InvalidRequest",
            details={"field": field},
        )


@functools.lru_cache(maxsize=256)
def _schema_problem(canonical: str) -> str | None:
    """What makes the schema (canonical JSON) unusable, or ``None``."""
    import jsonschema

    schema = json.loads(canonical)
    try:
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{where + ': ' if where else ''}{exc.message}"
    except RecursionError:
        return "it is nested too deeply"
    for pattern in _patterns(schema):
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"pattern {pattern!r} is not a regular expression: {exc}"
    return None


def _patterns(schema: Any, depth: int = 0) -> Iterator[str]:
    if depth > 64:
        return
    if isinstance(schema, Mapping):
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            yield pattern
        properties = schema.get("patternProperties")
        if isinstance(properties, Mapping):
            yield from (key for key in properties if isinstance(key, str))
        for value in schema.values():
            yield from _patterns(value, depth + 1)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value, depth + 1)


def check_request_schemas(request: GenerateRequest) -> None:
    """:func:`check_schema` on the request's ``response_format`` and tool parameters."""
    if request.response_format:
        schema = schema_of(request.response_format)
        if schema is not None:
            check_schema(schema, "response_format")
    for index, tool in enumerate(request.tools or ()):
        parameters = _function(tool).get("parameters")
        if parameters is not None:
            check_schema(parameters, f"tools.{index}.parameters")


def validate(value: Any, schema: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``value`` against ``schema`` (empty when it is valid).

    :raises BadRequest: the schema itself cannot be used (an unresolvable ``$ref``…).
    """
    import jsonschema

    try:
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = validator_cls(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    except (jsonschema.SchemaError, re.error, TypeError, LookupError, RecursionError) as exc:
        raise BadRequest(
            f"invalid request: the schema cannot be used to validate the answer: {type(exc).__name__}: {exc}",
            code="InvalidRequest",
            details={"field": "response_format"},
        ) from None
    except Exception as exc:  # jsonschema's referencing errors have no public base class
        if type(exc).__module__.split(".")[0] not in ("jsonschema", "referencing"):
            raise
        raise BadRequest(
            f"invalid request: the schema cannot be used to validate the answer: {exc}",
            code="InvalidRequest",
            details={"field": "response_format"},
        ) from None
    problems = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {error.message}")
    return problems


def parsed_value(text: str, schema: Mapping[str, Any], model_cls: Any = None) -> Any:
    """The validated object in ``text``.

    :raises SchemaError: with the raw text and the problems in its details.
    """
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise SchemaError(f"the answer is not JSON: {exc}", details={"raw_text": text, "errors": [str(exc)]}) from None
    problems = validate(value, schema)
    if problems:
        raise SchemaError(
            f"the answer does not follow the schema: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            details={"raw_text": text, "errors": problems},
        )
    if model_cls is not None:
        from pydantic import ValidationError

        try:
            return model_cls.model_validate(value)
        except ValidationError as exc:
            problems = [f"{'/'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            raise SchemaError(
                f"the answer does not fit {model_cls.__name__}: {problems[0]}",
                details={"raw_text": text, "errors": problems},
            ) from None
    return value


# -- tools ---------------------------------------------------------------------------------------


def _function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function", tool)
    return function if isinstance(function, Mapping) else {}


def tool_schema(
    tools: Sequence[Mapping[str, Any]], choice: Any = None, *, max_calls: int | None = None
) -> dict[str, Any]:
    """The JSON schema of a reply that calls the request's tools (for grammars and
    emulation): ``{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}``, at most
    ``max_calls`` calls when given."""
    options = []
    for tool in tools:
        function = _function(tool)
        name = function.get("name")
        if isinstance(choice, Mapping) and _function(choice).get("name") not in (None, name):
            continue
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": name},
                    "arguments": dict(function.get("parameters") or {"type": "object"}),
                },
                "required": ["name", "arguments"],
            }
        )
    call = options[0] if len(options) == 1 else {"anyOf": options}
    calls: dict[str, Any] = {"type": "array", "items": call, "minItems": 1}
    if max_calls is not None:
        calls["maxItems"] = max_calls
    return {"type": "object", "properties": {EMULATED_TOOL_KEY: calls}, "required": [EMULATED_TOOL_KEY]}


def parse_tool_calls(text: str, tools: Sequence[Mapping[str, Any]]) -> tuple[ToolCall, ...] | None:
    """The tool calls in an emulated answer, or ``None`` when it answers in plain text.

    :raises SchemaError: a call to an unknown tool, or arguments that break its schema.
    """
    try:
        value = parse_json(text)
    except ValueError:
        return None
    if not isinstance(value, Mapping) or EMULATED_TOOL_KEY not in value:
        return None
    problems = validate(value, tool_schema(tools))
    if problems:
        raise SchemaError(
            f"the tool call does not follow the tools' schemas: {problems[0]}",
            details={"raw_text": text, "errors": problems},
        )
    return tuple(
        ToolCall(
            id=f"call_{index}", name=str(call["name"]), arguments=json.dumps(call["arguments"], ensure_ascii=False)
        )
        for index, call in enumerate(value[EMULATED_TOOL_KEY])
    )


# -- grammars ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyConstraint:
    """What a reply may be, for providers that constrain decoding with a grammar.

    :param tool_call: schema of a reply that calls tools (``{"tool_calls": [...]}``, the
        form the SDK parses tool calls from), or None when no tool may be called.
    :param answer: schema an answer must follow (the request's ``response_format``), or None.
    :param free_text: an answer may be plain text (tools are optional and no schema was asked).
    """

    tool_call: dict[str, Any] | None
    answer: dict[str, Any] | None
    free_text: bool

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """The JSON alternatives, tool call first."""
        return [s for s in (self.tool_call, self.answer) if s is not None]


def reply_constraint(request: GenerateRequest, *, parallel_tool_calls: bool = True) -> ReplyConstraint | None:
    """The constraint a grammar-constrained provider applies to ``request``'s reply, or
    None when the reply is unconstrained (no tools to call and no ``response_format``).

    ``tool_choice="required"`` or a named tool leaves only the call; ``"auto"`` allows the
    call or an answer; ``"none"`` with tools offered allows an answer only (text that is not
    a call: a small model shown its earlier calls tends to repeat them).
    ``parallel_tool_calls=False`` allows one call per reply.
    """
    wants_tools = bool(request.tools) and request.tool_choice != "none"
    answer = schema_of(request.response_format)
    if not request.tools and answer is None:
        return None
    must_call = wants_tools and (request.tool_choice == "required" or isinstance(request.tool_choice, Mapping))
    return ReplyConstraint(
        tool_call=tool_schema(request.tools, request.tool_choice, max_calls=None if parallel_tool_calls else 1)
        if wants_tools
        else None,
        answer=None if must_call else answer,
        free_text=not must_call and answer is None,
    )


# -- emulation --------------------------------------------------------------------------------


def _instructions(request: GenerateRequest) -> str:
    parts = []
    if request.tools and request.tool_choice != "none":
        described = [
            {"name": _function(t).get("name"), "description": _function(t).get("description", ""),
             "parameters": _function(t).get("parameters") or {"type": "object"}}
            for t in request.tools
        ]  # fmt: skip
        must = request.tool_choice == "required" or isinstance(request.tool_choice, Mapping)
        parts.append(
            "You can call these tools:\n"
            + json.dumps(described, ensure_ascii=False)
            + f'\nTo call tools, reply with only this JSON: {{"{EMULATED_TOOL_KEY}": [{{"name": <tool name>, '
            '"arguments": {<arguments following the tool\'s parameters>}}]}. '
            + ("You must call a tool." if must else "Otherwise answer normally.")
        )
    schema = schema_of(request.response_format)
    if schema is not None:
        parts.append(
            "Reply with only a JSON value, no prose and no code fence, that follows this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False)
        )
    return "\n\n".join(parts)


def plain_messages(messages: Sequence[Message]) -> list[Message]:
    """Tool calls and tool results as text, for models with no notion of either."""
    out = []
    names: dict[str, str] = {}
    for message in messages:
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", "the tool")
            out.append(Message(role="user", content=f"{name} returned: {message.content}"))
        elif message.tool_calls:
            names.update({c.id: c.name for c in message.tool_calls})
            calls = [{"name": c.name, "arguments": json.loads(c.arguments or "{}")} for c in message.tool_calls]
            out.append(Message(role="assistant", content=json.dumps({EMULATED_TOOL_KEY: calls}, ensure_ascii=False)))
        else:
            out.append(message)
    return out


def emulate(
    request: GenerateRequest, *, tools: str | None, schema: str | None, as_prompt: bool = False
) -> GenerateRequest:
    """``request`` for a model that cannot serve its tools or schema natively.

    :param tools: ``"emulated"``: the tools become instructions and are removed from the
        request; ``"constrained"``: instructions too, but the tools stay (the server's
        grammar constrains the reply to a call, the instructions tell the model what the
        tools are for); ``None``: untouched.
    :param schema: ``"emulated"``: the schema becomes instructions and ``response_format``
        is removed; ``"constrained"``: instructions too, ``response_format`` stays (the
        provider's grammar enforces it; the instructions tell the model what to fill in);
        ``None``: untouched.

    :param as_prompt: the model reads a plain prompt and has no chat template: the
        instructions go in front of the prompt instead of into a system message.

    Tool traffic in the history (assistant calls, tool results) becomes text for models
    that have no notion of either.
    """
    emulated = request.model_copy(
        update={
            "tools": () if tools == "emulated" else request.tools,
            "tool_choice": None if tools == "emulated" else request.tool_choice,
            "response_format": None if schema == "emulated" else request.response_format,
        }
    )
    view = request.model_copy(
        update={"tools": request.tools if tools else (), "response_format": request.response_format if schema else None}
    )
    text = _instructions(view)
    if not text:
        return emulated
    if as_prompt:
        if request.prompt is not None:
            return emulated.model_copy(update={"prompt": f"{text}\n\n{request.prompt}"})
        # No chat template to render messages with: a plain transcript the model can follow.
        lines = [f"{m.role.capitalize()}: {m.content}" for m in plain_messages(request.as_messages())]
        prompt = "\n\n".join([text, *lines, "Assistant:"])
        return emulated.model_copy(update={"prompt": prompt, "messages": None})
    messages = plain_messages(request.as_messages())
    if messages and messages[0].role == "system":
        messages[0] = Message(role="system", content=f"{messages[0].content}\n\n{text}")
    else:
        messages.insert(0, Message(role="system", content=text))
    return emulated.model_copy(update={"messages": tuple(messages), "prompt": None})


def repair_request(request: GenerateRequest, answer: str, error: SchemaError) -> GenerateRequest:
    """The one repair round: the invalid answer and what was wrong, then a request to fix it."""
    problems = "; ".join(error.details.get("errors") or [error.message])
    messages = [
        *request.as_messages(),
        Message(role="assistant", content=answer),
        Message(
            role="user", content=f"That reply was not valid ({problems}). Reply again with only the corrected JSON."
        ),
    ]
    return request.model_copy(update={"messages": tuple(messages), "prompt": None})
