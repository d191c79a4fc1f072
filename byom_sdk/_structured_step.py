"""The structured-output step: answers checked against the requested schema or tools.

It sits just outside the masking step, so it reads answers with placeholders restored:
what it validates, parses into ``GenerateResponse.parsed`` or puts in a ``SchemaError`` is
what the application would have seen. For emulated tools it turns a JSON reply into tool
calls (holding a stream's text back until it knows which one it is). It opens for calls
that asked for a schema or tools only, so other calls pay nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import SchemaError
from ._middleware import CallContext, Interceptor
from ._structured import parse_json, parse_tool_calls, parsed_value, validate
from ._types import FinishEvent, GenerateResponse, StreamEvent, TextDelta, ToolCall, ToolCallEvent

__all__ = ["STATE_KEY", "StructuredPlan", "StructuredStep"]

STATE_KEY = "byom_sdk.structured"


@dataclass(frozen=True)
class StructuredPlan:
    """What one call asked for, decided by the façade before the pipeline runs.

    :param schema: the JSON schema the answer must follow (None: no response_format).
    :param model_cls: the pydantic class ``parsed`` is built with, when one was given.
    :param tools: the request's tool definitions (their parameters validate arguments).
    :param tools_in_text: tool calls may come back as a JSON reply to parse (emulated, or
        constrained by a grammar on the server), not as the protocol's own tool calls.
    :param emulated: the SDK emulates the schema or the tools (a failed answer gets one
        repair round).
    :param must_call: the answer must be a tool call (``tool_choice="required"``), or a call
        of this tool (a named ``tool_choice``); text alone is a ``SchemaError``.
    """

    schema: Mapping[str, Any] | None = None
    model_cls: Any = None
    tools: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    tools_in_text: bool = False
    emulated: bool = False
    #: ``tool_choice`` asked for a call: ``True`` (``"required"``) or the tool's name.
    must_call: bool | str = False


class StructuredStep:
    """Opens a checker for calls that carry a :class:`StructuredPlan`."""

    def open(self, call: CallContext) -> Interceptor | None:
        plan = call.state.get(STATE_KEY)
        if plan is None or call.operation == "embed":
            return None
        return _StructuredCall(plan)


def _check_arguments(calls: Sequence[ToolCall], tools: Sequence[Mapping[str, Any]], text: str) -> None:
    """Each call names an offered tool, and its arguments are one strict JSON object (no
    NaN, no duplicate key, nothing after it) that follows the tool's parameters."""
    offered: dict[Any, tuple[int, Any]] = {}
    for index, tool in enumerate(tools):
        function = tool.get("function", tool)
        if isinstance(function, Mapping):
            offered.setdefault(function.get("name"), (index, function.get("parameters") or {"type": "object"}))
    for call in calls:
        if call.name not in offered:
            raise SchemaError(
                f"the model called tool '{call.name[:60]}', which the request does not offer",
                details={"raw_text": text or call.arguments, "errors": [f"unknown tool {call.name!r}"]},
            )
        index, parameters = offered[call.name]
        try:
            arguments = parse_json(call.arguments or "{}", search=False)
        except ValueError as exc:
            raise SchemaError(
                f"the arguments of tool call '{call.name}' are not JSON: {exc}",
                details={"raw_text": call.arguments, "errors": [str(exc)]},
            ) from None
        # Named by the tool's index: an unusable schema is the request's tools.N.parameters.
        problems = validate(arguments, parameters, field=f"tools.{index}.parameters")
        if problems:
            raise SchemaError(
                f"the arguments of tool call '{call.name}' do not follow its schema: {problems[0]}",
                details={"raw_text": call.arguments, "errors": problems},
            )


def _check_choice(calls: Sequence[ToolCall], must_call: bool | str, text: str) -> None:
    """The answer honours ``tool_choice``: a call when one was required, of the named tool."""
    if not calls:
        wanted = f"a call of tool '{must_call}'" if isinstance(must_call, str) else "a tool call"
        raise SchemaError(
            f"tool_choice asked for {wanted}, and the model answered with text",
            details={"raw_text": text, "errors": [f"expected {wanted}"]},
        )
    if isinstance(must_call, str):
        other = next((call.name for call in calls if call.name != must_call), None)
        if other is not None:
            raise SchemaError(
                f"tool_choice asked for tool '{must_call}', and the model called '{other}'",
                details={"raw_text": text, "errors": [f"expected a call of {must_call!r}, got {other!r}"]},
            )


class _StructuredCall(Interceptor):
    any_thread = True

    def __init__(self, plan: StructuredPlan) -> None:
        self.plan = plan
        self.text: list[str] = []
        self.held: list[StreamEvent] | None = [] if plan.tools_in_text else None
        self.calls: list[ToolCall] = []

    def _settle(self, text: str, calls: Sequence[ToolCall]) -> tuple[str, tuple[ToolCall, ...], Any]:
        """(text, tool calls, parsed) of a whole answer."""
        plan = self.plan
        if plan.tools_in_text and not calls:
            found = parse_tool_calls(text, plan.tools)
            if found is not None:
                calls, text = found, ""
        if plan.must_call:
            _check_choice(calls, plan.must_call, text)
        if calls:
            _check_arguments(calls, plan.tools, text)
            return text, tuple(calls), None
        if plan.schema is not None:
            return text, (), parsed_value(text, plan.schema, plan.model_cls)
        return text, (), None

    def on_response(self, response: GenerateResponse) -> GenerateResponse:
        text, calls, parsed = self._settle(response.text, response.tool_calls)
        update: dict[str, Any] = {"parsed": parsed}
        if calls != response.tool_calls:
            update.update(text=text, tool_calls=calls, finish_reason="tool_calls")
        return response.model_copy(update=update)

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if isinstance(event, TextDelta):
            self.text.append(event.text)
            if self.held is not None:
                self.held.append(event)
                return ()
            return (event,)
        if isinstance(event, ToolCallEvent):
            # Checked before the app sees it, as a unary reply's calls are: a stream must not
            # hand over a call to run and only then say its arguments were invalid.
            _check_arguments([event.tool_call], self.plan.tools, "")
            if isinstance(self.plan.must_call, str):
                _check_choice([event.tool_call], self.plan.must_call, "")
            self.calls.append(event.tool_call)
            return (event,)
        if not isinstance(event, FinishEvent):
            if self.held is not None:
                self.held.append(event)
                return ()
            return (event,)
        _, calls, _ = self._settle("".join(self.text), self.calls)
        held, self.held = self.held or [], None
        if calls and not self.calls:  # an emulated call: the text was the call, not an answer
            out: list[StreamEvent] = [e for e in held if not isinstance(e, TextDelta)]
            out.extend(ToolCallEvent(tool_call=call) for call in calls)
            out.append(FinishEvent(finish_reason="tool_calls", usage=event.usage))
            return out
        return (*held, event)
