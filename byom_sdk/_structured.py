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
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import BadRequest, SchemaError
from ._types import GenerateRequest, Message, ToolCall, well_formed

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


def parse_json(text: str, *, search: bool = True) -> Any:
    """The JSON value in a model's answer: the whole text, a fenced block, or the first
    object or array in it (models wrap JSON in prose and fences when only asked to);
    with ``search=False``, the whole text only.

    Only JSON is read: ``NaN``/``Infinity``, numbers too large for a float, integers beyond
    Python's digit limit and objects with a duplicate key are refused, not read as Python
    values another JSON reader would disagree with. Lone surrogates (``"\\ud800"``) become
    U+FFFD, as in the answer's text: the value must still be encodable as UTF-8.

    :raises ValueError: when no JSON value can be read.
    """
    try:
        value = _parse_json(text.strip()) if search else _loads(text)
        return _well_formed(value) if _SURROGATE_ESCAPE.search(text) else value
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


class _Refused(Exception):
    """Valid for Python's ``json`` but not JSON: stops the search for a JSON value, since a
    later candidate in the answer is not what the model meant."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {literal[:20]}{'…' if len(literal) > 20 else ''} is too large for a float")
    return value


def _int(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # Python's limit on integer digits (4300 by default)
        raise _Refused(f"an integer of {len(literal)} digits is too long") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        # Readers disagree on which duplicate wins: the app's could see another object
        # than the one validated here.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {_short(key)} appears twice in one object")
            seen.add(key)
    return value


_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant, object_pairs_hook=_object)
_OPENER = re.compile(r"[\[{]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _loads(text: str) -> Any:
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _parse_json(candidate: str) -> Any:
    try:
        return _loads(candidate)
    except ValueError:
        pass
    fenced = _FENCE.search(candidate)
    if fenced:
        try:
            return _loads(fenced.group(1))
        except ValueError:
            pass
    # The first object or array in prose. An opener inside a span that already parsed as
    # JSON before failing is not tried again: retrying each one made an answer of nested,
    # unclosed arrays quadratic (seconds for a megabyte).
    start = 0
    for match in _OPENER.finditer(candidate):
        index = match.start()
        if index < start:
            continue
        try:
            return _DECODER.raw_decode(candidate, index)[0]
        except json.JSONDecodeError as exc:
            start = max(index + 1, exc.pos)
    raise ValueError("the answer holds no JSON value")


def _well_formed(value: Any) -> Any:
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    if isinstance(value, dict):
        return {well_formed(key): _well_formed(item) for key, item in value.items()}
    return value


def _short(value: Any, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 1]}…"


def check_schema(schema: Any, field: str) -> None:
    """Refuse a JSON schema the validator cannot use (an unknown type, a bad keyword value,
    a pattern that is no regex, a ``$ref`` to nowhere, a value that is not JSON) before any
    request is sent. Each distinct schema is checked once per process: checking one against
    the metaschema costs most of a millisecond, and applications send the same few schemas
    on every call.

    :raises BadRequest: naming ``field``.
    """
    if not isinstance(schema, (Mapping, bool)):
        problem: str | None = f"a schema is an object, not {type(schema).__name__}"
    else:
        try:
            # No default=str and no NaN: the schema goes to servers as JSON, and a NaN bound
            # makes every comparison false, so any number would pass.
            problem = _schema_problem(json.dumps(schema, sort_keys=True, allow_nan=False))
        except RecursionError:
            problem = "it is nested too deeply"
        except (TypeError, ValueError) as exc:
            problem = f"it is not JSON: {exc}"
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
    # Embedded resources ("$id") move the base URI: their refs are left to the validator.
    return None if '"$id"' in canonical else _ref_problem(schema)


#: keywords whose values are data, not schemas: a "$ref" inside them is no reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
#: keywords whose values map names to schemas: a property may be called "const".
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def _subschemas(schema: Any, depth: int = 0, names: bool = False) -> Iterator[Mapping[str, Any]]:
    """Every object in ``schema`` but those inside data keywords (bounded in depth).
    ``names``: the keys are property or definition names, every value a schema."""
    if depth > 64:
        return
    if isinstance(schema, Mapping):
        if not names:
            yield schema
        for key, value in schema.items():
            if names or key not in _DATA_KEYWORDS:
                yield from _subschemas(value, depth + 1, not names and key in _NAME_MAPS)
    elif isinstance(schema, list):
        for value in schema:
            yield from _subschemas(value, depth + 1)


def _ref_problem(schema: Any) -> str | None:
    """A local ``$ref`` that resolves to nothing: found at validation time otherwise, after
    the model was paid for an answer that cannot be checked."""
    if not isinstance(schema, Mapping):
        return None
    refs = [sub["$ref"] for sub in _subschemas(schema) if str(sub.get("$ref", "")).startswith("#")]
    if not refs:
        return None
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    resolver = Registry().with_resource("", DRAFT202012.create_resource(dict(schema))).resolver()
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return f"$ref {ref!r} points to nothing in the schema"
    return None


def _patterns(schema: Any) -> Iterator[str]:
    for sub in _subschemas(schema):
        if isinstance(sub.get("pattern"), str):
            yield sub["pattern"]
        if isinstance(sub.get("patternProperties"), Mapping):
            yield from (key for key in sub["patternProperties"] if isinstance(key, str))


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


_MAX_PROBLEMS = 50


def _path_key(error: Any) -> list[str]:
    return [str(p) for p in error.absolute_path]


#: answers nested deeper than this are refused when validating them overflows the stack
#: (jsonschema recurses several frames per level of a recursive schema).
_DEEP = 32


def validate(
    value: Any, schema: Mapping[str, Any], *, field: str = "response_format", formats: bool = True
) -> list[str]:
    """What is wrong with ``value`` against ``schema`` (empty when it is valid). Each
    problem names the path in the value and never quotes the value itself: answers hold
    personal data, and these messages end up in logs and in the repair round.

    :param field: the request field the schema came from, named when it is unusable.
    :param formats: assert ``format`` (``email``, ``date``, ``uuid``…), as constrained
        decoders and OpenAI's strict mode do; off when a pydantic class judges its own.
    :raises BadRequest: the schema itself cannot be used (an unresolvable ``$ref``, a
        ``$ref`` cycle…).
    """
    import jsonschema

    try:
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        checker = validator_cls.FORMAT_CHECKER if formats else None
        validator = validator_cls(schema, format_checker=checker)
        # The first problems say enough; all of a huge answer's would cost seconds and memory.
        errors = sorted(itertools.islice(validator.iter_errors(value), _MAX_PROBLEMS), key=_path_key)
    except RecursionError:
        depth = _depth(value)
        if depth > _DEEP:  # the answer's fault, not the schema's
            return [f"(root): the answer is nested too deeply to validate ({depth} levels)"]
        raise _unusable(field, "RecursionError: a $ref cycle that consumes no input") from None
    except (jsonschema.SchemaError, re.error, TypeError, LookupError) as exc:
        raise _unusable(field, f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # jsonschema's referencing errors have no public base class
        if type(exc).__module__.split(".")[0] not in ("jsonschema", "referencing"):
            raise
        raise _unusable(field, f"{type(exc).__name__}: {exc}") from None
    problems = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{where}: {_without_value(error.message, error.instance)}")
    return problems


def _unusable(field: str, why: str) -> BadRequest:
    return BadRequest(
        f"invalid request: the schema in {field} cannot be used to validate the answer: {why[:300]}",
        code="InvalidRequest",
        details={"field": field},
    )


def _depth(value: Any) -> int:
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            level.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


_KINDS = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}


def _without_value(message: str, instance: Any) -> str:
    """jsonschema's message with the offending value replaced by its kind."""
    shown = repr(instance)
    if shown not in message:
        return message
    kind = "null" if instance is None else _KINDS.get(type(instance), "the value")
    if isinstance(instance, (str, list)):
        kind = f"{kind} of length {len(instance)}"
    elif isinstance(instance, dict):
        kind = f"an object with {len(instance)} keys"
    return message.replace(shown, kind, 1)


def parsed_value(text: str, schema: Mapping[str, Any], model_cls: Any = None) -> Any:
    """The validated object in ``text``.

    :raises SchemaError: with the raw text and the problems in its details.
    """
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise SchemaError(f"the answer is not JSON: {exc}", details={"raw_text": text, "errors": [str(exc)]}) from None
    problems = validate(value, schema, formats=model_cls is None)
    if problems:
        raise SchemaError(
            f"the answer does not follow the schema: {problems[0]}"
            + (
                f" (and {len(problems) - 1}{'+' if len(problems) >= _MAX_PROBLEMS else ''} more)"
                if len(problems) > 1
                else ""
            ),
            details={"raw_text": text, "errors": problems},
        )
    if model_cls is not None:
        from pydantic import ValidationError

        try:
            # JSON mode, as the answer is JSON: a strict model takes "2024-01-02" for a
            # date, a UUID or an enum there, and refuses it from Python objects.
            return model_cls.model_validate_json(json.dumps(value, ensure_ascii=False))
        except ValidationError as exc:
            problems = [f"{'/'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
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
    options: list[dict[str, Any]] = []
    for tool in tools:
        function = _function(tool)
        name = function.get("name")
        if isinstance(choice, Mapping) and _function(choice).get("name") not in (None, name):
            continue
        at = f"/properties/{EMULATED_TOOL_KEY}/items" + ("" if len(tools) == 1 else f"/anyOf/{len(options)}")
        parameters = function.get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": name},
                    "arguments": _rebased(parameters, f"{at}/properties/arguments"),
                },
                "required": ["name", "arguments"],
            }
        )
    call = options[0] if len(options) == 1 else {"anyOf": options}
    calls: dict[str, Any] = {"type": "array", "items": call, "minItems": 1}
    if max_calls is not None:
        calls["maxItems"] = max_calls
    return {"type": "object", "properties": {EMULATED_TOOL_KEY: calls}, "required": [EMULATED_TOOL_KEY]}


def _rebased(schema: Any, pointer: str, depth: int = 0, names: bool = False) -> Any:
    """``schema`` moved to ``pointer`` in a larger schema: its local ``$ref``s (``#/$defs/X``,
    as pydantic writes nested models) would resolve against the new root and find nothing,
    so they are prefixed with where it now lives. A (sub)schema with its own ``$id`` is a
    resource of its own, where ``#`` still means itself: it stays as it is."""
    if depth > 64 or (isinstance(schema, Mapping) and "$id" in schema and not names):
        return schema
    if isinstance(schema, Mapping):
        out = {}
        for key, value in schema.items():
            if names:
                out[key] = _rebased(value, pointer, depth + 1)
            elif key == "$ref" and isinstance(value, str) and (value == "#" or value.startswith("#/")):
                out[key] = f"#{pointer}{value[1:]}"
            elif key in _DATA_KEYWORDS:
                out[key] = value
            else:
                out[key] = _rebased(value, pointer, depth + 1, key in _NAME_MAPS)
        return out
    if isinstance(schema, list):
        return [_rebased(value, pointer, depth + 1) for value in schema]
    return schema


def parse_tool_calls(text: str, tools: Sequence[Mapping[str, Any]] = ()) -> tuple[ToolCall, ...] | None:
    """The tool calls in an emulated answer, or ``None`` when it answers in plain text.
    Whether each call fits its tool is for ``check_tool_calls`` (the structured step), as
    for the calls of a native server.

    :raises SchemaError: a reply in the call format that does not follow it.
    """
    try:
        value = parse_json(text)
    except ValueError:
        return None
    if not isinstance(value, Mapping) or EMULATED_TOOL_KEY not in value:
        return None
    # The envelope first, then each call against its own tool: one anyOf over every tool
    # would only say "not valid under any of the given schemas".
    envelope = {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
            "required": ["name", "arguments"],
        },
    }
    problems = [f"{EMULATED_TOOL_KEY}/{p}" for p in validate(value[EMULATED_TOOL_KEY], envelope, field="tools")]
    if problems:
        raise SchemaError(
            f"the tool call does not follow the reply format: {problems[0]}",
            details={"raw_text": text, "errors": problems},
        )
    calls = tuple(
        ToolCall(id=f"call_{index}", name=call["name"], arguments=json.dumps(call["arguments"], ensure_ascii=False))
        for index, call in enumerate(value[EMULATED_TOOL_KEY])
    )
    return calls


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
            calls = [{"name": c.name, "arguments": _arguments(c.arguments)} for c in message.tool_calls]
            out.append(Message(role="assistant", content=json.dumps({EMULATED_TOOL_KEY: calls}, ensure_ascii=False)))
        else:
            out.append(message)
    return out


def _arguments(text: str) -> Any:
    """A history call's arguments for the transcript: the app may replay a call whose
    arguments were never JSON (a model's slip it recorded); the text goes as it is."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


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
